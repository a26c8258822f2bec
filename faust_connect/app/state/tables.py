"""Connect state in Faust tables with changelog topics: configs, source offsets, statuses.

Each table is a GlobalTable (every worker holds all of it and recovers it from the changelog at
start) whose changelog topic is the Kafka Connect internal topic named by the worker settings.
Keys and values are stored as raw bytes in Kafka Connect's formats where it has one:

- offsets (``offset.storage.topic``): key ``["<connector>",{<source partition>}]``, value
  ``{<source offset>}`` (JSON; a null value deletes), as Kafka Connect writes them;
- statuses (``status.storage.topic``): keys ``status-connector-<n>`` / ``status-task-<n>-<i>``,
  values ``{"state","trace","worker_id","generation"}``;
- configs (``config.storage.topic``, one partition): key ``connector-<n>``, value one JSON
  document with the connector's config, target state, task configs and restart counters, so a
  connector's state changes in one write.

Start-up: Faust recovers a table by feeding every changelog record through its consumer and
recovery loop one event at a time (tens of seconds for 100,000 stored offsets). Before Faust's
consumer starts, :func:`preload` reads the internal topics to their ends with one plain
``getmany`` loop and applies them in bulk; each table then reports the last offset it applied
as its persisted offset, so Faust's recovery starts there and only reads what came after.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import faust
import orjson
from aiokafka.structs import ConsumerRecord, TopicPartition
from faust.types import TP

from faust_connect.agents.runtime.offsets import offset_key, parse_offset_key
from faust_connect.app.settings import WorkerSettings
from faust_connect.exceptions import BadRequest

if TYPE_CHECKING:
    from faust_connect.app.clients import Clients

__all__ = [
    "ConfigStore",
    "ConnectorState",
    "OffsetStore",
    "StateTable",
    "StatusStore",
    "TaskStatus",
    "preload",
]

logger = logging.getLogger(__name__)

#: How long :func:`preload` may take before it leaves the rest to Faust's recovery.
PRELOAD_TIMEOUT = 120.0

TargetState = Literal["STARTED", "PAUSED", "STOPPED"]
State = Literal["UNASSIGNED", "RUNNING", "PAUSED", "STOPPED", "FAILED", "RESTARTING", "DESTROYED"]


class StateTable(faust.GlobalTable):
    """A GlobalTable whose changelog is a Kafka Connect internal topic named in the settings.

    Faust's partition assignor finds a global table's changelog by the table's *default*
    changelog name (``<app>-<table>-changelog``), even when a ``changelog_topic`` is given,
    and stalls the group when that topic does not exist. The name is answered here instead.
    """

    def __init__(self, *args: Any, state_topic: str, **kwargs: Any) -> None:
        self.state_topic = state_topic
        #: This worker's writes not yet seen back on the changelog (None: a delete).
        self._pending: dict[bytes, bytes | None] = {}
        #: The last changelog offset applied, per partition (what Faust resumes after).
        self._applied: dict[TP, int] = {}
        super().__init__(*args, **kwargs)

    def _changelog_topic_name(self) -> str:
        return self.state_topic

    # Read your own writes. A global table keeps consuming its changelog, including the echoes
    # of this worker's earlier writes; applied after a newer local write, an echo would bring an
    # old value back for a moment. So a key written here ignores the changelog until its own
    # latest write comes back; from then on the changelog (other workers' later writes) rules.

    def on_key_set(self, key: Any, value: Any) -> None:
        self._pending[key] = value
        super().on_key_set(key, value)

    def on_key_del(self, key: Any) -> None:
        self._pending[key] = None
        super().on_key_del(key)

    def persisted_offset(self, tp: TP) -> int | None:
        """The last changelog offset applied here: Faust's recovery reads on from there.

        The in-memory store would say None (read the changelog from its start). The data this
        table holds is exactly the changelog up to this offset, whether it came from
        :func:`preload` or from Faust's own consumer, so reading on from it is complete.
        """
        return self._applied.get(tp)

    def load(self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply changelog records of one partition, in offset order (see :func:`preload`)."""
        if records:
            self.apply_changelog_batch([_Change(tp, r) for r in records])

    def apply_changelog_batch(self, batch: Iterable[Any]) -> None:
        if not isinstance(batch, list):
            batch = list(batch)
        applied = self._applied
        for event in batch:
            message = event.message
            applied[message.tp] = message.offset
        pending = self._pending
        if pending:
            fresh = []
            for event in batch:
                key = event.message.key
                if key in pending:
                    if pending[key] == event.message.value:
                        del pending[key]  # our latest write is back: the log is current
                    continue
                fresh.append(event)
            batch = fresh
        super().apply_changelog_batch(batch)


class _Change:
    """A fetched changelog record in the shape of the Faust event the store applies."""

    __slots__ = ("key", "offset", "partition", "tp", "value")

    def __init__(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> None:
        self.tp = TP(tp.topic, tp.partition)
        self.partition = tp.partition
        self.offset = record.offset
        self.key = record.key
        self.value = record.value

    @property
    def message(self) -> _Change:
        return self


async def preload(
    tables: Sequence[StateTable],
    clients: Clients,
    *,
    read_committed: bool = False,
    timeout: float = PRELOAD_TIMEOUT,
    **options: Any,
) -> int:
    """Read the tables' changelogs to their ends and apply them in bulk; returns the records.

    Call before Faust's consumer starts. Topics that do not exist yet are skipped (and never
    created here). The end of a partition is its end offset when the read starts, or the fetch
    high watermark once a fetch has seen it (``read_committed``: the end offset only, the last
    stable offset). What is still missing after ``timeout`` is left to Faust's recovery, which
    resumes after the last record applied.
    """
    by_topic = {table.state_topic: table for table in tables}
    consumer = clients.consumer(
        enable_auto_commit=False,
        isolation_level="read_committed" if read_committed else "read_uncommitted",
        **options,
    )
    # All topics' metadata (asking for one could auto-create it); a consumer's own metadata
    # holds only the topics it was asked about.
    metadata = clients.metadata()
    await metadata.bootstrap()
    try:
        cluster = await metadata.fetch_all_metadata()
    finally:
        await metadata.close()
    await consumer.start()
    loaded = 0
    try:
        tps = [
            TopicPartition(topic, p)
            for topic in sorted(by_topic)
            for p in sorted(cluster.partitions_for_topic(topic) or ())
        ]
        if not tps:
            return 0
        consumer.assign(tps)
        starts = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        left = {tp for tp in tps if ends[tp] > starts[tp]}
        if not left:
            return 0
        await consumer.seek_to_beginning(*left)
        consumer.pause(*(set(tps) - left))
        deadline = time.monotonic() + timeout
        while left:
            if time.monotonic() > deadline:
                logger.warning("state preload timed out; Faust's recovery reads the rest")
                break
            fetched = await consumer.getmany(*left, timeout_ms=200)
            for tp, records in fetched.items():
                by_topic[tp.topic].load(tp, records)
                loaded += len(records)
            for tp in list(left):
                end = ends[tp]
                highwater = None if read_committed else consumer.highwater(tp)
                if highwater is not None:
                    end = max(end, highwater)
                if await consumer.position(tp) >= end:
                    left.discard(tp)
                    consumer.pause(tp)
    finally:
        await consumer.stop()
    return loaded


def _table(app: faust.App, name: str, topic: str, partitions: int, replicas: int) -> Any:
    changelog = app.topic(
        topic,
        partitions=partitions,
        replicas=max(replicas, 1),
        compacting=True,
        deleting=False,
        internal=True,
        key_serializer="raw",
        value_serializer="raw",
    )
    table = StateTable(
        app,
        name=name,
        state_topic=topic,
        beacon=app.tables.beacon,
        partitions=partitions,
        # Apply changes from other workers as they come. With a larger recovery buffer Faust
        # stops reading a global table's changelog after recovery (its GlobalTable warning),
        # and other workers' writes would only show after the next rebalance.
        recovery_buffer_size=1,
        standby_buffer_size=1,
        is_global=True,
        changelog_topic=changelog,
        use_partitioner=True,
        key_type=bytes,
        value_type=bytes,
        help=f"Kafka Connect state kept in {topic}",
    )
    return app.tables.add(table)


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


# -- configs ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ConnectorState:
    """Everything stored about one connector."""

    name: str
    config: dict[str, str]
    target: TargetState = "STARTED"
    #: Task configs; empty until the connector has been started (and when STOPPED).
    tasks: tuple[dict[str, str], ...] = ()
    #: Bumped on every config change: tasks of an older generation restart.
    generation: int = 0
    #: Bumped by a connector restart request.
    restart: int = 0
    #: Bumped per task by a task restart request (task id -> counter).
    task_restarts: dict[int, int] = dataclasses.field(default_factory=dict)

    def to_json(self) -> bytes:
        """The stored form."""
        return _json(
            {
                "properties": self.config,
                "target": self.target,
                "tasks": list(self.tasks),
                "generation": self.generation,
                "restart": self.restart,
                "task_restarts": {str(k): v for k, v in self.task_restarts.items()},
            }
        )

    @classmethod
    def from_json(cls, name: str, data: bytes) -> ConnectorState:
        """Read the stored form."""
        doc = orjson.loads(data)
        return cls(
            name=name,
            config=doc["properties"],
            target=doc["target"],
            tasks=tuple(doc["tasks"]),
            generation=doc["generation"],
            restart=doc.get("restart", 0),
            task_restarts={int(k): v for k, v in doc.get("task_restarts", {}).items()},
        )

    def replace(self, **changes: Any) -> ConnectorState:
        """A changed copy."""
        return dataclasses.replace(self, **changes)


#: The largest connector record the config topic takes: Kafka's default ``max.request.size`` and
#: ``message.max.bytes`` are 1 MiB, and the record's key and batch framing need room too.
MAX_CONFIG_RECORD = 1_000_000


class ConfigStore:
    """Connector configs and target states."""

    PREFIX = b"connector-"

    def __init__(self, app: faust.App, settings: WorkerSettings) -> None:
        self.table = _table(
            app,
            "connect-configs",
            settings.topic("config"),
            1,
            settings.config_storage_replication_factor,
        )
        #: Decoded states by key, with the stored bytes they came from (the runtime reads every
        #: connector's state several times a second; it changes far more rarely).
        self._decoded: dict[bytes, tuple[bytes, ConnectorState]] = {}

    def get(self, name: str) -> ConnectorState | None:
        """The connector's state, or None if there is no such connector."""
        key = self.PREFIX + name.encode()
        data = self.table.get(key)
        if data is None:
            self._decoded.pop(key, None)
            return None
        cached = self._decoded.get(key)
        if cached is not None and cached[0] == data:
            return cached[1]
        state = ConnectorState.from_json(name, data)
        self._decoded[key] = (data, state)
        return state

    def put(self, state: ConnectorState) -> None:
        """Store (create or replace) a connector; BadRequest if the topic cannot take it.

        Checked here, before anything is stored: a record larger than the config topic takes
        would fail in the producer after the request that made it was answered.
        """
        data = state.to_json()
        if len(data) > MAX_CONFIG_RECORD:
            raise BadRequest(
                f"Connector {state.name} is too large to store: its config and task configs "
                f"take {len(data):,} bytes, the config topic takes records of up to "
                f"{MAX_CONFIG_RECORD:,} bytes"
            )
        self.table[self.PREFIX + state.name.encode()] = data

    def delete(self, name: str) -> None:
        """Forget a connector (its offsets stay, as in Kafka Connect)."""
        key = self.PREFIX + name.encode()
        if key in self.table:
            del self.table[key]

    def names(self) -> list[str]:
        """Every connector's name, sorted."""
        n = len(self.PREFIX)
        return sorted(k[n:].decode() for k in self.table.keys() if k.startswith(self.PREFIX))

    def all(self) -> Iterator[ConnectorState]:
        """Every connector's state."""
        for name in self.names():
            state = self.get(name)
            if state is not None:
                yield state


# -- source offsets ---------------------------------------------------------------------------


class OffsetStore:
    """Source offsets keyed by connector and source partition."""

    def __init__(self, app: faust.App, settings: WorkerSettings) -> None:
        self.table = _table(
            app,
            "connect-offsets",
            settings.topic("offset"),
            settings.offset_storage_partitions,
            settings.offset_storage_replication_factor,
        )

    def get(self, connector: str, partition: Mapping[str, Any]) -> dict[str, Any] | None:
        """The stored offset of one source partition, or None."""
        data = self.table.get(offset_key(connector, partition))
        return None if data is None else dict(orjson.loads(data))

    def put(self, connector: str, offsets: Mapping[bytes, Mapping[str, Any] | None]) -> None:
        """Store offsets by key (see :func:`offset_key`); a None offset deletes that partition."""
        for key, offset in offsets.items():
            if offset is None:
                if key in self.table:
                    del self.table[key]
            else:
                self.table[key] = _json(dict(offset))

    def of(self, connector: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every ``(source partition, offset)`` of a connector."""
        out = []
        for key, value in self.table.items():
            name, partition = parse_offset_key(key)
            if name == connector and value is not None:
                out.append((partition, orjson.loads(value)))
        return out


# -- statuses ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TaskStatus:
    """The status of a connector (``task`` is None) or of one of its tasks."""

    state: State
    worker_id: str
    trace: str = ""
    generation: int = 0

    def to_json(self) -> bytes:
        """Kafka Connect's status value."""
        return _json(
            {
                "state": self.state,
                "trace": self.trace or None,
                "worker_id": self.worker_id,
                "generation": self.generation,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> TaskStatus:
        """Read Kafka Connect's status value."""
        doc = orjson.loads(data)
        return cls(doc["state"], doc["worker_id"], doc.get("trace") or "", doc.get("generation", 0))


class StatusStore:
    """Connector and task statuses, written by the worker that runs them."""

    def __init__(self, app: faust.App, settings: WorkerSettings) -> None:
        self.table = _table(
            app,
            "connect-status",
            settings.topic("status"),
            settings.status_storage_partitions,
            settings.status_storage_replication_factor,
        )

    @staticmethod
    def _key(connector: str, task: int | None) -> bytes:
        if task is None:
            return f"status-connector-{connector}".encode()
        return f"status-task-{connector}-{task}".encode()

    def get(self, connector: str, task: int | None = None) -> TaskStatus | None:
        """The status of a connector, or of one of its tasks."""
        data = self.table.get(self._key(connector, task))
        return None if data is None else TaskStatus.from_json(data)

    def put(self, connector: str, task: int | None, status: TaskStatus) -> None:
        """Record a status (only when it changed, to keep the topic small)."""
        key = self._key(connector, task)
        data = status.to_json()
        if self.table.get(key) != data:
            self.table[key] = data

    def delete(self, connector: str, task: int | None = None) -> None:
        """Forget a status."""
        key = self._key(connector, task)
        if key in self.table:
            del self.table[key]

    # -- topic tracking: Kafka Connect's status-topic-<topic>:connector-<name> records -------

    @staticmethod
    def _topic_key(connector: str, topic: str) -> bytes:
        return f"status-topic-{topic}:connector-{connector}".encode()

    def track_topic(self, connector: str, task: int, topic: str) -> None:
        """Record that a connector used a topic (once per topic)."""
        key = self._topic_key(connector, topic)
        if key not in self.table:
            now = int(time.time() * 1000)
            value = {
                "topic": {
                    "name": topic,
                    "connector": connector,
                    "task": task,
                    "discoverTimestamp": now,
                }
            }
            self.table[key] = _json(value)

    def topics(self, connector: str) -> list[str]:
        """The topics a connector has used since it was created or its topics were reset."""
        suffix = f":connector-{connector}".encode()
        prefix = b"status-topic-"
        return sorted(
            k[len(prefix) : -len(suffix)].decode()
            for k in self.table.keys()
            if k.startswith(prefix) and k.endswith(suffix)
        )

    def reset_topics(self, connector: str) -> None:
        """Forget the topics a connector has used."""
        for topic in self.topics(connector):
            del self.table[self._topic_key(connector, topic)]
