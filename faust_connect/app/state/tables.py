"""Connect state in Faust tables with changelog topics: configs, source offsets, statuses.

Each table is a GlobalTable (every worker holds all of it and recovers it from the changelog at
start) whose changelog topic is the Kafka Connect internal topic named by the worker settings.
Keys and values are stored as raw bytes in Kafka Connect's formats where it has one:

- offsets (``offset.storage.topic``): key ``["<connector>",{<source partition>}]``, value
  ``{<source offset>}`` (JSON; a null value deletes), as Kafka Connect writes them;
- statuses (``status.storage.topic``): keys ``status-connector-<n>`` / ``status-task-<n>-<i>``,
  values ``{"state","trace","worker_id","generation"}``, ``generation`` being the writer's group
  generation: a late write from an older generation never replaces a newer one's (see
  :class:`StatusTable`);
- configs (``config.storage.topic``, one partition): key ``connector-<n>``, value one JSON
  document with the connector's config, target state, task configs and restart counters, so a
  connector's state changes in one write. A config write returns once Kafka has acknowledged it
  and this worker's table holds it (:meth:`ConfigStore.put`).

Start-up: Faust recovers a table by feeding every changelog record through its consumer and
recovery loop one event at a time (tens of seconds for 100,000 stored offsets). Before Faust's
consumer starts, :func:`preload` reads the internal topics to their ends with one plain
``getmany`` loop and applies them in bulk; each table then reports the last offset it applied
as its persisted offset, so Faust's recovery starts there and only reads what came after.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import faust
import orjson
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition
from faust.types import TP

from faust_connect.agents.runtime.offsets import offset_key, parse_offset_key
from faust_connect.app.settings import WorkerSettings
from faust_connect.exceptions import BadRequest, ConnectError

if TYPE_CHECKING:
    from faust_connect.app.clients import Clients

__all__ = [
    "ConfigStore",
    "ConnectorState",
    "OffsetStore",
    "StateTable",
    "StatusStore",
    "StatusTable",
    "TaskStatus",
    "follow",
    "preload",
]

logger = logging.getLogger(__name__)

#: How long :func:`preload` may take before it leaves the rest to Faust's recovery.
PRELOAD_TIMEOUT = 120.0
#: How long a config write waits for Kafka's acknowledgement (Kafka Connect's request timeout).
WRITE_TIMEOUT = 90.0

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
        # Two readers feed this table (Faust's changelog reader and :func:`follow`): a record
        # is applied once, in offset order per partition, by whichever sees it first.
        applied = self._applied
        new = []
        for event in batch:
            message = event.message
            if message.offset > applied.get(message.tp, -1):
                applied[message.tp] = message.offset
                new.append(event)
        batch = new
        pending = self._pending
        fresh = []
        for event in batch:
            key = event.message.key
            if key in pending:
                if pending[key] == event.message.value:
                    del pending[key]  # our latest write is back: the log is current
                continue
            if self.admit(key, event.message.value):
                fresh.append(event)
        super().apply_changelog_batch(fresh)

    def admit(self, key: bytes, value: bytes | None) -> bool:
        """Whether a changelog record (not this worker's own write) replaces the stored value."""
        return True

    def apply_acked(self, tp: TP, offset: int, key: bytes, value: bytes | None) -> None:
        """Apply this worker's write that Kafka acknowledged at ``offset`` of ``tp``.

        The record is read back from the acknowledgement rather than from Faust's changelog
        reader, which can miss a record written while its recovery switches to standby reading
        (seen on real Kafka: the echo never came until the next rebalance). Until the echo
        comes, older changelog records of the key are ignored (see ``on_key_set``).
        """
        if self._applied.get(tp, -1) >= offset:
            return  # the reader was quicker: the table already holds it
        self._pending[key] = value
        if value is None:
            if key in self.data:
                del self.data[key]
        else:
            self.data[key] = value


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
    tps = await clients.partitions(by_topic)
    await consumer.start()
    loaded = 0
    try:
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


async def follow(tables: Sequence[StateTable], clients: Clients) -> None:
    """Tail the tables' changelogs with a consumer of our own, for as long as the worker runs.

    Faust's changelog reader of a global table has been seen (on real Kafka, when several
    workers join at once) to stop delivering records written while its recovery switched to
    standby reading, until the next rebalance: a worker then never saw a connector created
    elsewhere. This reader applies whatever Faust's has not (a record is applied once, see
    ``StateTable.apply_changelog_batch``), so every worker sees every write within a fetch.
    """
    by_topic = {table.state_topic: table for table in tables}
    consumer = clients.consumer(enable_auto_commit=False)
    tps = await clients.partitions(by_topic)
    if not tps:
        return
    await consumer.start()
    try:
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, by_topic[tp.topic]._applied.get(TP(tp.topic, tp.partition), -1) + 1)
        while True:
            fetched = await consumer.getmany(timeout_ms=1000)
            for tp, records in fetched.items():
                by_topic[tp.topic].load(tp, records)
    finally:
        await consumer.stop()


def _table(
    app: faust.App,
    name: str,
    topic: str,
    partitions: int,
    replicas: int,
    cls: type[StateTable] = StateTable,
) -> Any:
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
    table = cls(
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
    """Connector configs and target states.

    Writes are durable before they return: :meth:`put` and :meth:`delete` send the record to the
    config topic, wait for Kafka's acknowledgement (``acks=all``), and apply the acknowledged
    record to this worker's table (:meth:`StateTable.apply_acked`), so an answer given after
    them holds after a kill -9 and reads agree with it. Nothing is changed here before Kafka has
    the record, so a write that fails leaves the table as it was.
    """

    PREFIX = b"connector-"

    def __init__(self, app: faust.App, settings: WorkerSettings) -> None:
        self.app = app
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

    async def put(self, state: ConnectorState, *, timeout: float = WRITE_TIMEOUT) -> None:
        """Store (create or replace) a connector; returns once Kafka has acknowledged it.

        BadRequest if the config topic cannot take a record this large (checked before anything
        is sent: the producer would refuse it); ConnectError (HTTP 500) if Kafka refuses the
        write or does not acknowledge it within ``timeout``.
        """
        data = state.to_json()
        if len(data) > MAX_CONFIG_RECORD:
            raise BadRequest(
                f"Connector {state.name} is too large to store: its config and task configs "
                f"take {len(data):,} bytes, the config topic takes records of up to "
                f"{MAX_CONFIG_RECORD:,} bytes"
            )
        await self._write(state.name, data, timeout)

    async def delete(self, name: str, *, timeout: float = WRITE_TIMEOUT) -> None:
        """Forget a connector (its offsets stay, as in Kafka Connect); durable as :meth:`put`."""
        if self.PREFIX + name.encode() in self.table:
            await self._write(name, None, timeout)

    async def _write(self, name: str, data: bytes | None, timeout: float) -> None:
        key = self.PREFIX + name.encode()
        try:
            metadata = await asyncio.wait_for(
                self.app.producer.send_and_wait(
                    self.table.state_topic, key, data, partition=0, timestamp=None, headers=None
                ),
                timeout,
            )
        except (KafkaError, TimeoutError) as exc:
            # Nothing was applied here. Only when the acknowledgement timed out may Kafka still
            # take the record; then the changelog decides, as for any write.
            raise ConnectError(
                f"Failed to write connector {name} to the config topic: {exc!r}"
            ) from exc
        tp = TP(metadata.topic, metadata.partition)
        self.table.apply_acked(tp, metadata.offset, key, data)

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


class StatusTable(StateTable):
    """The status table: a late write from an older group generation is not applied.

    Kafka Connect stamps every status with the writer's group generation. A worker that lost a
    task in a rebalance may still be writing about it (its "stopped" lands after the new owner's
    RUNNING); such a record, from another worker with an older generation than the stored
    value's, is dropped. The rule holds once this worker is in the group
    (:attr:`group_generation` set); before (while :func:`preload` reads the topic) the log's
    order rules, and the owner's rewrite of a value it saw dropped (:meth:`take_dropped`) makes
    the log's last record the right one for every reader.

    A stored generation newer than the group's present one (as this worker knows it) is from an
    earlier life of the group (its generations start again once it was empty and removed), or
    this worker lags; either way the incoming record is applied.
    """

    #: This worker's group generation, once it has an assignment.
    group_generation: int | None = None
    #: This worker's id.
    worker_id: str = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        #: Keys whose stored value (this worker's) outlived a stale record: to be written again.
        self.dropped: set[bytes] = set()
        super().__init__(*args, **kwargs)

    def admit(self, key: bytes, value: bytes | None) -> bool:
        """Drop a record from another worker of an older generation than the stored value's."""
        group = self.group_generation
        if group is None or value is None:
            return True
        current = self.data.get(key)
        if current is None:
            return True
        new, old = _stamp(value), _stamp(current)
        if new is None or old is None or new[0] == old[0]:
            return True
        if new[1] < old[1] <= group:
            logger.info(
                "status %s from %s (generation %d) is older than the stored one from %s "
                "(generation %d): not applied",
                key.decode(errors="replace"),
                new[0],
                new[1],
                old[0],
                old[1],
            )
            if old[0] == self.worker_id:
                self.dropped.add(key)
            return False
        return True


def _stamp(value: bytes) -> tuple[str, int] | None:
    """``(worker_id, generation)`` of a status value, or None if it has none."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("generation"), int):
        return None
    return str(doc.get("worker_id", "")), int(doc["generation"])


class StatusStore:
    """Connector and task statuses, written by the worker that runs them."""

    def __init__(self, app: faust.App, settings: WorkerSettings) -> None:
        self.table: StatusTable = _table(
            app,
            "connect-status",
            settings.topic("status"),
            settings.status_storage_partitions,
            settings.status_storage_replication_factor,
            cls=StatusTable,
        )
        self.table.worker_id = settings.worker_id

    @property
    def group_generation(self) -> int | None:
        """The group generation this worker writes and judges stale records by."""
        return self.table.group_generation

    @group_generation.setter
    def group_generation(self, generation: int | None) -> None:
        self.table.group_generation = generation

    @staticmethod
    def key(connector: str, task: int | None) -> bytes:
        """The status topic key of a connector (``task`` None) or of one of its tasks."""
        if task is None:
            return f"status-connector-{connector}".encode()
        return f"status-task-{connector}-{task}".encode()

    def get(self, connector: str, task: int | None = None) -> TaskStatus | None:
        """The status of a connector, or of one of its tasks."""
        data = self.table.get(self.key(connector, task))
        return None if data is None else TaskStatus.from_json(data)

    def put(self, connector: str, task: int | None, status: TaskStatus) -> None:
        """Record a status (only when it changed, to keep the topic small)."""
        key = self.key(connector, task)
        data = status.to_json()
        if self.table.get(key) != data:
            self.table[key] = data

    def put_safe(self, connector: str, task: int | None, status: TaskStatus) -> bool:
        """Record a status unless another worker's of a newer generation is stored (Kafka's
        ``putSafe``, used for "stopped"); returns whether it was written."""
        current = self.get(connector, task)
        if (
            current is not None
            and current.worker_id != status.worker_id
            and current.generation > status.generation
        ):
            return False
        self.put(connector, task, status)
        return True

    def take_dropped(self) -> set[bytes]:
        """Keys of this worker's statuses that outlived a stale record since the last call."""
        dropped, self.table.dropped = self.table.dropped, set()
        return dropped

    def rewrite(self, key: bytes) -> None:
        """Write this worker's stored status under ``key`` again (to be the log's last record)."""
        data = self.table.get(key)
        if data is not None and TaskStatus.from_json(data).worker_id == self.table.worker_id:
            self.table[key] = data

    def delete(self, connector: str, task: int | None = None) -> None:
        """Forget a status."""
        key = self.key(connector, task)
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
