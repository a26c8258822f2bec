"""Test doubles: an in-memory source and sink, and a harness that runs a task without a broker.

:class:`TaskHarness` runs one task of a connector through the same record path a worker uses
(:class:`~faust_connect.agents.runtime.pipeline.Pipeline`: converters, the transform chain and
the error policy with retries, tolerance and the dead letter queue), with Kafka's bytes kept in
lists instead of topics::

    from faust_connect.testing import MemorySink, TaskHarness

    harness = TaskHarness(MemorySink, {"name": "s", "topics": "t", "transforms": "..."})
    await harness.start()
    await harness.deliver("t", [(b"key", b'{"a": 1}')])
    assert MemorySink.received["s"][0].value == {"a": 1}
    assert harness.dead_letters.records == []

What the harness leaves out is Kafka itself: partition choice, acknowledgements, offset commits
and consumer groups are the runners' (:mod:`faust_connect.agents.runtime`), tested on a broker.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from aiokafka.structs import ConsumerRecord, TopicPartition

from faust_connect.agents.runtime.error_policy import Raw
from faust_connect.agents.runtime.pipeline import Messages, Pipeline, raw_of
from faust_connect.agents.runtime.task_metrics import TaskMetrics
from faust_connect.config import ConnectorConfig, parse_config
from faust_connect.connector import (
    SinkConnector,
    SinkTask,
    SourceConnector,
    SourceTask,
    connectors,
)
from faust_connect.records import SinkRecord, SourceRecord

__all__ = [
    "MemoryDeadLetters",
    "MemorySink",
    "MemorySource",
    "Produced",
    "TaskHarness",
]

#: The worker's default converters (Kafka Connect's: JSON with schemas).
DEFAULT_CONVERTERS = {
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
}


# -- the in-memory connectors -----------------------------------------------------------------


class MemorySourceTask(SourceTask):
    """Polls what :meth:`MemorySource.queue` queued for its connector."""

    async def poll(self) -> Sequence[SourceRecord]:
        pending = MemorySource.pending[self.context.connector]
        out = list(pending)
        pending.clear()
        return out


class MemorySource(SourceConnector):
    """A source whose records come from the test: ``MemorySource.queue("name", records)``."""

    task_class = MemorySourceTask
    pending: ClassVar[defaultdict[str, deque[SourceRecord]]] = defaultdict(deque)

    @classmethod
    def queue(cls, connector: str, records: Iterable[SourceRecord]) -> None:
        """Records the named connector's task returns on its next poll."""
        cls.pending[connector].extend(records)


class MemorySinkTask(SinkTask):
    """Keeps every record put in :attr:`MemorySink.received`; flush moves them to ``flushed``."""

    async def put(self, records: Sequence[SinkRecord]) -> None:
        MemorySink.received[self.context.connector].extend(records)

    async def flush(self, offsets: Mapping[TopicPartition, int]) -> None:
        MemorySink.flushed[self.context.connector] = dict(offsets)


class MemorySink(SinkConnector):
    """A sink that keeps what it is given, by connector name (``MemorySink.received[name]``)."""

    task_class = MemorySinkTask
    received: ClassVar[defaultdict[str, list[SinkRecord]]] = defaultdict(list)
    flushed: ClassVar[dict[str, dict[TopicPartition, int]]] = {}


# -- the harness ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Produced:
    """A record as a worker would hand it to its producer."""

    topic: str
    partition: int | None
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    timestamp: int | None


class MemoryDeadLetters:
    """The dead letter queue in a list: ``(topic, raw record, headers)``."""

    def __init__(self) -> None:
        self.records: list[tuple[str, Raw, list[tuple[str, bytes]]]] = []

    async def send(self, topic: str, raw: Raw, headers: list[tuple[str, bytes]]) -> None:
        self.records.append((topic, raw, headers))

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None


class _Context:
    def __init__(self, harness: TaskHarness) -> None:
        self._harness = harness
        self.connector = harness.name
        self.task_id = 0
        self.logger = harness.logger

    def offset(self, partition: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return self._harness.offsets.get(_frozen(partition))

    def assignment(self) -> frozenset[TopicPartition]:
        return frozenset(self._harness.assigned)

    async def report(self, record: SinkRecord, error: BaseException) -> None:
        raw = raw_of(self._harness._current, record)
        await self._harness.errors.failed("TASK_PUT", error, raw=raw, record=record)


class TaskHarness:
    """Runs task 0 of a connector through converters, transforms and the error policy.

    ``offsets``: stored ``(source partition, offset)`` pairs the task starts from.
    """

    def __init__(
        self,
        connector: type[SourceConnector] | type[SinkConnector] | str,
        config: Mapping[str, str],
        *,
        converter_defaults: Mapping[str, str] = DEFAULT_CONVERTERS,
        offsets: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]] = (),
    ) -> None:
        plugin = connectors.get(connector) if isinstance(connector, str) else connector
        if not issubclass(plugin, (SourceConnector, SinkConnector)):
            raise TypeError(f"{plugin!r} is neither a SourceConnector nor a SinkConnector")
        self.plugin = plugin
        self.name = str(config.get("name", "harness"))
        self.config = {"name": self.name, "connector.class": plugin.__name__, **config}
        self.settings: ConnectorConfig = parse_config(ConnectorConfig, self.config)
        self.logger = logging.getLogger(f"faust_connect.task.{self.name}.0")
        self.metrics = TaskMetrics(self.name, 0, plugin.kind)
        self.dead_letters = MemoryDeadLetters()
        self.pipeline = Pipeline(
            self.config,
            self.settings,
            connector=self.name,
            task_id=0,
            metrics=self.metrics,
            logger=self.logger,
            dead_letters=self.dead_letters,
            converter_defaults=converter_defaults,
        )
        self.errors = self.pipeline.errors
        #: Source offsets (by frozen source partition), as the task stored them.
        self.offsets: dict[Any, Mapping[str, Any]] = {_frozen(p): o for p, o in offsets}
        self.assigned: list[TopicPartition] = []
        self._next_offset: dict[TopicPartition, int] = defaultdict(int)
        self._current: Messages = {}
        task_config = plugin(self.config).task_configs(1)[0]
        self.task: Any = plugin.task_class(task_config, _Context(self))

    async def start(self) -> None:
        """Start the task."""
        await self.task.start()

    async def stop(self) -> None:
        """Stop the task."""
        await self.task.stop()

    # -- sources --------------------------------------------------------------------------

    async def poll(self) -> list[Produced]:
        """One poll: what the worker would produce (failed records went to the policy); the
        polled records' offsets count as stored."""
        task: SourceTask = self.task
        records = await self.errors.retry("TASK_POLL", task.poll)
        self.metrics.polled += len(records)
        serialized = await self.pipeline.to_bytes(await self.pipeline.transform(records))
        out = [
            Produced(r.topic, r.partition, key, value, headers, r.timestamp)
            for r, key, value, headers in serialized
        ]
        self.metrics.produced += len(out)
        for record in records:
            if record.source_partition:
                self.offsets[_frozen(record.source_partition)] = record.source_offset
        await task.commit(records)
        return out

    # -- sinks ----------------------------------------------------------------------------

    async def deliver(
        self,
        topic: str,
        messages: Iterable[tuple[bytes | None, bytes | None] | tuple[Any, ...]],
        *,
        partition: int = 0,
    ) -> list[SinkRecord]:
        """Messages ``(key, value[, headers[, timestamp]])`` fetched from ``topic``: converted,
        transformed and put as one batch (``put`` retried as a worker retries it), as a worker
        hands it over (a lazy :class:`~faust_connect.records.SinkRecords` without transforms).
        Returns the records handed to ``put``, as a list."""
        tp = TopicPartition(topic, partition)
        if tp not in self.assigned:
            self.assigned.append(tp)
            await self.task.open(frozenset({tp}))
        fetched = []
        for item in messages:
            key, value = item[0], item[1]
            headers = list(item[2]) if len(item) > 2 else []
            timestamp = item[3] if len(item) > 3 else 0
            offset = self._next_offset[tp]
            self._next_offset[tp] = offset + 1
            fetched.append(
                ConsumerRecord(
                    topic,
                    partition,
                    offset,
                    timestamp,
                    0,
                    key,
                    value,
                    None,
                    len(key or b""),
                    len(value or b""),
                    headers,
                )
            )
        batch: Messages = {tp: fetched}
        self.metrics.consumed += len(fetched)
        records = await self.pipeline.sink_records(batch)
        task: SinkTask = self.task
        self._current = batch
        try:
            if records:
                await self.errors.retry(
                    "TASK_PUT", lambda: task.put(records), forever_by_default=True
                )
        finally:
            self._current = {}
        self.metrics.put += len(records)
        return list(records)

    async def flush(self) -> None:
        """Flush the task with the offsets delivered so far."""
        task: SinkTask = self.task
        await task.flush(dict(self._next_offset))


def _frozen(partition: Any) -> Any:
    if isinstance(partition, Mapping):
        return tuple(sorted(partition.items()))
    return partition
