"""The sink runner: a dedicated consumer feeds a Faust agent with batches; put, flush, commit.

Each sink task has its own aiokafka consumer in the group ``connect-<connector>`` (so its
progress shows as that group's lag, as in Kafka Connect) with a *static* share of the topics'
partitions: task ``i`` of ``n`` takes every ``n``-th partition of the sorted list. The runtime
decides which worker runs which task, so no consumer group rebalance is needed per connector:
one paused or failed sink never stalls another, and a sink created at runtime on a new topic
starts at once.

The consumer loop converts and transforms each fetched batch and hands it to the task's Faust
agent (over an in-memory channel); the agent calls ``put`` (retrying a RetriableError with
backoff), and every ``offset.flush.interval.ms`` ``flush``; only then, and once every
dead-lettered record is acknowledged, are the batch's offsets committed. Fetching the next
batch overlaps with writing the previous one. A record that fails conversion or a transform,
or that ``put`` reports through the errant record reporter, is handled by ``errors.*``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition
from faust.channels import Channel
from mode.utils.queues import FlowControlEvent, ThrowableQueue

from faust_connect.agents.runtime.error_policy import ToleranceExceeded
from faust_connect.agents.runtime.pipeline import Messages, raw_of
from faust_connect.agents.runtime.runner import TaskRunner
from faust_connect.connector import SinkTask
from faust_connect.records import SinkRecord

__all__ = ["SinkRunner", "sink_group"]

#: How often the partitions of the topics are looked up again (new topics, more partitions).
REFRESH_SECONDS = 2.0
#: Batches converted ahead of the one being written.
CHANNEL_SIZE = 1


@dataclasses.dataclass
class _Batch:
    """One fetched batch on its way to ``put``."""

    #: What ``put`` gets (a lazy :class:`~faust_connect.records.SinkRecords` without transforms).
    records: Sequence[SinkRecord]
    #: Next offset per partition once this batch is written.
    positions: dict[TopicPartition, int]
    #: The raw messages, for the dead letter queue.
    messages: Messages
    fetched_at: float


class _Handoff(Channel[Any]):
    """The channel from a sink's consumer loop to its agent, with queues of its own.

    Faust's channel queues follow the app's flow control: while the worker's group rebalances
    a put blocks (so a stopping task could not hand over its final flush, and was cancelled
    without it) and on resume they are cleared (a batch waiting there would be dropped while
    later ones are committed past it). A hand-over must do neither.
    """

    @property
    def queue(self) -> ThrowableQueue[Any]:
        if self._queue is None:
            self._queue = ThrowableQueue(
                maxsize=self.maxsize, flow_control=FlowControlEvent(initially_suspended=False)
            )
        return self._queue


class _Flush:
    """A channel item asking the agent to flush and commit."""

    def __init__(self) -> None:
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class _Context:
    def __init__(self, runner: SinkRunner) -> None:
        self._runner = runner
        self.connector = runner.connector
        self.task_id = runner.task_id
        self.logger: logging.Logger = runner.logger

    def assignment(self) -> frozenset[TopicPartition]:
        return frozenset(self._runner.assigned)

    async def report(self, record: SinkRecord, error: BaseException) -> None:
        await self._runner.report_errant(record, error)


class SinkRunner(TaskRunner):
    """Runs one sink task."""

    kind = "sink"

    def __init__(
        self, *args: Any, task_class: type[SinkTask], task_count: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.task_class = task_class
        self.task_count = task_count
        self.topics = list(self.settings.topics)
        regex = self.settings.topics_regex
        self.pattern = re.compile(regex) if regex else None
        self.assigned: list[TopicPartition] = []
        self._written: dict[TopicPartition, int] = {}  # next offsets put but not yet committed
        self._agent_error: BaseException | None = None
        self._current: _Batch | None = None  # the batch being put (for the errant reporter)

    @property
    def group_id(self) -> str:
        """The consumer group holding this connector's progress."""
        return sink_group(self.connector, self.config)

    async def run(self) -> None:
        consumer = self.services.clients.consumer(
            config=self.config, group_id=self.group_id, enable_auto_commit=False
        )
        task = self.task_class(self.task_config, _Context(self))
        await consumer.start()
        await task.start()
        app = self.services.app
        channel: Any = _Handoff(app, maxsize=CHANNEL_SIZE)
        name = f"connect-sink-{self.connector}-{self.task_id}"

        async def writer(stream: AsyncIterator[Any]) -> None:
            async for item in stream:
                await self._write(item, task, consumer)

        agent = app.agent(channel, name=name)(writer)
        await agent.start()
        try:
            await self._consume(consumer, task, channel)
            final = _Flush()
            await channel.put(final)
            await final.done
            self._raise_agent_error()
        finally:
            await agent.stop()
            app.agents.pop(name, None)
            await self.errors.close()
            await task.close(frozenset(self.assigned))
            await task.stop()
            await consumer.stop()

    # -- the consumer loop ----------------------------------------------------------------

    async def _consume(self, consumer: AIOKafkaConsumer, task: SinkTask, channel: Any) -> None:
        refreshed = last_flush = 0.0
        interval = self.services.offset_flush_interval
        while not self.stopping:
            self._raise_agent_error()
            now = time.monotonic()
            if now - refreshed > REFRESH_SECONDS:
                await self._refresh(consumer, task)
                refreshed = now
            if self.paused:
                consumer.pause(*self.assigned)
                await self.wait_resumed()
                consumer.resume(*self.assigned)
                continue
            if not self.assigned:
                await self.sleep(0.2)
                continue
            messages = await consumer.getmany(timeout_ms=200)
            if self.stopping:
                break  # halted while fetching: not put nor committed; fetched again next run
            if messages:
                self.metrics.consumed += sum(len(b) for b in messages.values())
                batch, failure = await self._prepare_until_failure(messages)
                self._update_lag(consumer, batch.positions)
                await channel.put(batch)
                if failure is not None:
                    # Write and commit what came before the bad record, then fail: the
                    # committed offset then points exactly at it.
                    final = _Flush()
                    await channel.put(final)
                    await final.done
                    raise failure
            if self._written and now - last_flush >= interval:
                await channel.put(_Flush())
                last_flush = now
        self._raise_agent_error()

    def _raise_agent_error(self) -> None:
        if self._agent_error is not None:
            raise self._agent_error

    async def _refresh(self, consumer: AIOKafkaConsumer, task: SinkTask) -> None:
        try:
            everything = await self.services.topic_partitions(self.topics, self.pattern)
        except KafkaError as exc:  # the broker is briefly unreachable: keep what we have
            self.logger.warning("cannot look up partitions (will retry): %r", exc)
            return
        mine = everything[self.task_id :: self.task_count]
        if mine != self.assigned:
            added = frozenset(mine) - frozenset(self.assigned)
            consumer.assign(mine)
            self.assigned = mine
            for topic in sorted({tp.topic for tp in added}):
                self.services.track_topic(self.connector, self.task_id, topic)
            if added:
                await task.open(added)

    async def _prepare_until_failure(
        self, messages: Messages
    ) -> tuple[_Batch, ToleranceExceeded | None]:
        """Prepare a batch; if a record fails with tolerance ``none``, the records before it.

        Returns the batch and the failure to raise once that batch is written.
        """
        try:
            return await self._prepare(messages), None
        except ToleranceExceeded as failure:
            raw = failure.raw
            if raw is None or raw.offset is None or raw.partition is None:
                raise
            tp = TopicPartition(raw.topic, raw.partition)
            before = [m for m in messages.get(tp, ()) if m.offset < raw.offset]
            if not before:
                return _Batch([], {}, {}, time.monotonic()), failure
            batch, earlier = await self._prepare_until_failure({tp: before})
            return batch, earlier or failure

    async def _prepare(self, messages: Messages) -> _Batch:
        """Convert and transform a fetched batch; failed records go to the error policy."""
        fetched_at = time.monotonic()
        positions = {tp: batch[-1].offset + 1 for tp, batch in messages.items()}
        records = await self.pipeline.sink_records(messages)
        return _Batch(records, positions, messages, fetched_at)

    def _update_lag(
        self, consumer: AIOKafkaConsumer, positions: Mapping[TopicPartition, int]
    ) -> None:
        # From the last fetch response's high watermark: no extra request per batch.
        lag = 0
        for tp, position in positions.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                lag += max(highwater - position, 0)
        self.metrics.lag = lag

    # -- the agent ------------------------------------------------------------------------

    async def _write(self, item: Any, task: SinkTask, consumer: AIOKafkaConsumer) -> None:
        if self._agent_error is not None:
            if isinstance(item, _Flush):
                item.done.set_result(None)
            return
        try:
            if isinstance(item, _Flush):
                await self._flush(task, consumer)
                item.done.set_result(None)
                return
            batch: _Batch = item
            if batch.records:
                self._current = batch
                try:
                    await self.errors.retry(
                        "TASK_PUT",
                        lambda: task.put(batch.records),
                        forever_by_default=True,
                        stopping=lambda: self.stopping,
                    )
                finally:
                    self._current = None
            self._written.update(batch.positions)
            metrics = self.metrics
            metrics.put += len(batch.records)
            metrics.batches += 1
            metrics.batch_seconds = time.monotonic() - batch.fetched_at
        except Exception as exc:
            self._agent_error = exc
            if isinstance(item, _Flush):
                item.done.set_result(None)

    async def report_errant(self, record: SinkRecord, error: BaseException) -> None:
        """The errant record reporter: one bad record, without failing the batch."""
        raw = raw_of(self._current.messages, record) if self._current is not None else None
        await self.errors.failed("TASK_PUT", error, raw=raw, record=record)

    async def _flush(self, task: SinkTask, consumer: AIOKafkaConsumer) -> None:
        if not self._written:
            return
        written, self._written = self._written, {}
        await task.flush(written)
        await self.errors.flush()  # never commit past a record the DLQ has not acknowledged
        await consumer.commit(written)
        self.metrics.committed_at = time.time()


def sink_group(connector: str, config: Mapping[str, str]) -> str:
    """The consumer group holding a sink connector's progress (Kafka Connect's name)."""
    return config.get("consumer.override.group.id") or f"connect-{connector}"
