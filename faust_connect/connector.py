"""The connector author API, in Kafka Connect's shape.

A *connector* declares its config keys, checks them, and splits the work into task configs; its
*tasks* do the work. A source task polls records from the outside world; a sink task receives
batches of records from Kafka and writes them out::

    class LinesConfig(PluginConfig):
        file: str = Field(description="File to read.")
        topic: str = Field(description="Topic to write to.")

    class LinesTask(SourceTask):
        Config = LinesConfig  # parsed into self.settings

        async def start(self) -> None:
            stored = self.context.offset({"file": self.settings.file})
            self.position = stored["position"] if stored else 0

        async def poll(self) -> Sequence[SourceRecord]:
            ...  # return records; an empty list means "nothing now"

    class LinesSource(SourceConnector):
        Config = LinesConfig  # the keys config/validate checks and lists
        task_class = LinesTask

The runtime (``faust_connect.agents``) runs tasks as Faust timers and agents; nothing here
depends on it.
"""

from __future__ import annotations

import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from aiokafka.structs import TopicPartition

from faust_connect.config import PluginConfig, config_issues, parse_config
from faust_connect.exceptions import ConfigIssue
from faust_connect.records import SinkRecord, SourceRecord
from faust_connect.registry import Registry

__all__ = [
    "Connector",
    "ConnectorContext",
    "ConnectorType",
    "ExactlyOnceSupport",
    "SinkConnector",
    "SinkTask",
    "SinkTaskContext",
    "SourceConnector",
    "SourceTask",
    "SourceTaskContext",
    "TopicPartition",
    "TransactionContext",
    "connectors",
    "parse_own",
]

ConnectorType = Literal["source", "sink"]
C = TypeVar("C", bound=PluginConfig)


class ConnectorContext(Protocol):
    """What a running connector can ask of the runtime."""

    connector: str
    logger: logging.Logger

    def raise_error(self, error: BaseException) -> None:
        """Fail the connector (not its tasks): its status says FAILED with ``error``'s trace
        until it is restarted (``POST /connectors/{name}/restart``)."""


class SourceTaskContext(Protocol):
    """What a source task can ask of the runtime."""

    connector: str
    task_id: int
    logger: logging.Logger

    def offset(self, partition: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The last committed source offset of ``partition``, or None."""

    def transaction_context(self) -> TransactionContext | None:
        """Where the task ends transactions, with ``transaction.boundary=connector`` on an
        exactly-once worker; None otherwise."""


class TransactionContext(Protocol):
    """How a task ends its transactions itself (``transaction.boundary=connector``)."""

    def commit_transaction(self) -> None:
        """Commit the open transaction once the records polled so far are sent."""

    def abort_transaction(self) -> None:
        """Abort the open transaction (its records are never read by ``read_committed``
        consumers, and its offsets are not stored): the task resumes from the last commit."""


class SinkTaskContext(Protocol):
    """What a sink task can ask of the runtime."""

    connector: str
    task_id: int
    logger: logging.Logger

    def assignment(self) -> frozenset[TopicPartition]:
        """The Kafka partitions this task consumes now."""

    async def report(self, record: SinkRecord, error: BaseException) -> None:
        """Report one record that cannot be written (the errant record reporter).

        It goes to the dead letter queue (or fails the task, per ``errors.tolerance``);
        the rest of the batch carries on.
        """


class _Task:
    #: The task's keys (usually its connector's ``Config``), parsed into :attr:`settings`.
    Config: ClassVar[type[PluginConfig]] = PluginConfig

    def __init__(self, config: Mapping[str, str], context: Any) -> None:
        #: This task's config (string keys and values, as Kafka Connect passes them).
        self.config = config
        self.context = context

    @functools.cached_property
    def settings(self) -> Any:
        """The keys ``Config`` declares, parsed on first use (a subclass may annotate their
        type); a bad value raises ConfigError naming its key."""
        return parse_own(self.Config, self.config)

    async def start(self) -> None:
        """Called once before the first poll or put."""

    async def stop(self) -> None:
        """Called once at the end; release resources here."""


class SourceTask(_Task):
    """Reads from the outside world. Override :meth:`poll`."""

    context: SourceTaskContext

    @abstractmethod
    async def poll(self) -> Sequence[SourceRecord]:
        """The next records; an empty list when there is nothing now (the runtime backs off)."""

    async def commit(self, records: Sequence[SourceRecord]) -> None:
        """Called after the broker acknowledged ``records`` (Kafka's ``commitRecord``)."""

    async def offsets_stored(
        self, offsets: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]
    ) -> None:
        """Called once ``(source partition, offset)`` pairs are durably in the offsets topic
        (Kafka Connect's ``SourceTask.commit()``): a task may now confirm to its source system
        everything up to these offsets (a replication slot's LSN, say)."""


class SinkTask(_Task):
    """Writes to the outside world. Override :meth:`put`, and :meth:`flush` if you buffer."""

    context: SinkTaskContext

    @abstractmethod
    async def put(self, records: Sequence[SinkRecord]) -> None:
        """Write (or buffer) a batch. Raise RetriableError to have the same batch again later."""

    async def flush(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Make everything put so far durable; offsets are committed only after this returns."""

    async def open(self, partitions: frozenset[TopicPartition]) -> None:
        """Partitions were assigned to this task."""

    async def close(self, partitions: frozenset[TopicPartition]) -> None:
        """Partitions were taken away from this task (after a final flush)."""


class Connector(ABC):
    """A plugin that splits work into tasks. Subclass SourceConnector or SinkConnector."""

    #: ``"source"`` or ``"sink"`` (Kafka Connect's ``type``).
    kind: ClassVar[ConnectorType]
    #: The connector's own config keys (the runtime handles the common ones).
    Config: ClassVar[type[PluginConfig]] = PluginConfig
    #: Reported by ``/connector-plugins``.
    version: ClassVar[str] = "1.0.0"

    #: Set by the worker that runs the connector, before :meth:`start`.
    context: ConnectorContext

    def __init__(self, config: Mapping[str, str]) -> None:
        #: The whole connector config, as given.
        self.raw = dict(config)
        #: The connector's own keys, parsed.
        self.config: PluginConfig = parse_own(self.Config, config)

    async def start(self) -> None:
        """The connector runs on a worker (after it is created, restarted, reconfigured or
        moved); override to watch the outside system. An exception here, or one handed to
        ``self.context.raise_error`` later, fails the connector alone."""
        return None

    async def stop(self) -> None:
        """The connector stops on this worker (deleted, stopped, reconfigured or moving)."""
        return None

    @classmethod
    def validate(cls, config: Mapping[str, str]) -> list[ConfigIssue]:
        """Problems with the connector's own keys, then (when each is valid) :meth:`check`'s."""
        issues = config_issues(cls.Config, own_keys(cls.Config, config))
        return issues or cls.check(parse_own(cls.Config, config))

    @classmethod
    def check(cls, c: Any) -> list[ConfigIssue]:
        """Rules across keys, given the parsed ``Config`` (override; none by default)."""
        return []

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """One config per task, at most ``max_tasks``. By default one task with the full config."""
        return [dict(self.raw)]


#: What a source connector says of exactly-once delivery (Kafka's ``ExactlyOnceSupport``).
ExactlyOnceSupport = Literal["SUPPORTED", "UNSUPPORTED"]


class SourceConnector(Connector):
    """A connector whose tasks bring data into Kafka."""

    kind = "source"
    #: The task class.
    task_class: ClassVar[type[SourceTask]]

    def exactly_once_support(self) -> ExactlyOnceSupport | None:
        """Whether this config's records are delivered once when each poll's records and
        offsets are committed in one transaction (a task that resumes exactly at its stored
        offset): ``"SUPPORTED"``, ``"UNSUPPORTED"``, or None when the connector does not say
        (then ``exactly.once.support=required`` is refused)."""
        return None

    def can_define_transaction_boundaries(self) -> bool:
        """Whether its tasks can end transactions themselves (``transaction.boundary=connector``:
        see :class:`TransactionContext`)."""
        return False


class SinkConnector(Connector):
    """A connector whose tasks take data out of Kafka."""

    kind = "sink"
    #: The task class.
    task_class: ClassVar[type[SinkTask]]

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """``max_tasks`` copies of the config: the tasks share the topics' partitions."""
        return [dict(self.raw) for _ in range(max_tasks)]


def parse_own(model: type[C], config: Mapping[str, Any]) -> C:
    """``model``'s keys of a whole connector config, parsed (how a task reads its settings)."""
    return parse_config(model, own_keys(model, config))


def own_keys(model: type[PluginConfig], config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``config`` that ``model`` declares (Kafka Connect ignores the rest)."""
    known = {field.alias or name for name, field in model.model_fields.items()}
    known |= set(model.model_fields)
    return {k: v for k, v in config.items() if k in known}


#: Connector plugins by name; Kafka Connect's class names of the built-ins are aliases.
connectors: Registry[type[Connector]] = Registry(
    "connector", Connector, entry_point_group="faust_connect.connectors"
)

_FILE = "org.apache.kafka.connect.file"
for _name, _target, _aliases in [
    (
        "FileStreamSource",
        "connectors.file:FileStreamSourceConnector",
        (f"{_FILE}.FileStreamSourceConnector", "FileStreamSourceConnector"),
    ),
    (
        "FileStreamSink",
        "connectors.file:FileStreamSinkConnector",
        (f"{_FILE}.FileStreamSinkConnector", "FileStreamSinkConnector"),
    ),
    (
        "VerifiableSource",
        "connectors.verifiable:VerifiableSourceConnector",
        ("org.apache.kafka.connect.tools.VerifiableSourceConnector", "VerifiableSourceConnector"),
    ),
    (
        "VerifiableSink",
        "connectors.verifiable:VerifiableSinkConnector",
        ("org.apache.kafka.connect.tools.VerifiableSinkConnector", "VerifiableSinkConnector"),
    ),
    (
        "MockSource",
        "connectors.mock:MockSourceConnector",
        ("org.apache.kafka.connect.tools.MockSourceConnector", "MockSourceConnector"),
    ),
    (
        "MockSink",
        "connectors.mock:MockSinkConnector",
        ("org.apache.kafka.connect.tools.MockSinkConnector", "MockSinkConnector"),
    ),
    (
        "DatagenSource",
        "connectors.datagen:DatagenConnector",
        ("io.confluent.kafka.connect.datagen.DatagenConnector", "DatagenConnector", "datagen"),
    ),
    (
        "MirrorSource",
        "connectors.mirror.source:MirrorSourceConnector",
        ("org.apache.kafka.connect.mirror.MirrorSourceConnector", "MirrorSourceConnector"),
    ),
    (
        "MirrorCheckpoint",
        "connectors.mirror.checkpoint:MirrorCheckpointConnector",
        ("org.apache.kafka.connect.mirror.MirrorCheckpointConnector", "MirrorCheckpointConnector"),
    ),
    (
        "MirrorHeartbeat",
        "connectors.mirror.heartbeat:MirrorHeartbeatConnector",
        ("org.apache.kafka.connect.mirror.MirrorHeartbeatConnector", "MirrorHeartbeatConnector"),
    ),
    (
        "JdbcSource",
        "connectors.jdbc.source:JdbcSourceConnector",
        ("io.confluent.connect.jdbc.JdbcSourceConnector", "JdbcSourceConnector"),
    ),
    (
        "JdbcSink",
        "connectors.jdbc.sink:JdbcSinkConnector",
        ("io.confluent.connect.jdbc.JdbcSinkConnector", "JdbcSinkConnector"),
    ),
    (
        "PostgresCdcSource",
        "connectors.cdc.postgres.connector:PostgresConnector",
        ("io.debezium.connector.postgresql.PostgresConnector", "PostgresConnector"),
    ),
    (
        "MySqlCdcSource",
        "connectors.cdc.mysql.connector:MySqlConnector",
        (
            "io.debezium.connector.mysql.MySqlConnector",
            "MySqlConnector",
            "io.debezium.connector.mariadb.MariaDbConnector",
            "MariaDbConnector",
        ),
    ),
]:
    connectors.register(_name, f"faust_connect.agents.{_target}", aliases=_aliases)
