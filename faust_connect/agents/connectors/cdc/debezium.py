"""Debezium's change events, shared by the change-data-capture sources.

A change to a row of table ``t`` in schema (PostgreSQL) or database (MySQL/MariaDB) ``s`` becomes
a record on topic ``<topic.prefix>.<s>.<t>``. Its key is a struct of the primary-key columns
(schema ``<topic>.Key``); its value is Debezium's envelope (schema ``<topic>.Envelope``)::

    {before, after, source, transaction, op, ts_ms, ts_us, ts_ns}

``op`` is ``r`` (a snapshot read), ``c``, ``u``, ``d`` or ``t`` (truncate); ``before`` and
``after`` are ``<topic>.Value`` structs of the row; ``source`` says where the change came from,
in each connector's own shape (:data:`POSTGRES_SOURCE`, :data:`MYSQL_SOURCE`). With
``tombstones.on.delete`` a record with the same key and a null value follows each delete, so a
compacted topic forgets the row. The schemas are Connect schemas, so the JSON and Avro converters
render them as Debezium's would, and ``ExtractNewRecordState`` flattens them.

The database drivers block, so each source reads its change stream in a thread
(:class:`ThreadedReader`) and the task's ``poll`` takes what has arrived in batches.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

from pydantic import Field, SecretStr

from faust_connect import __version__
from faust_connect.config import CommaList, Password, PluginConfig
from faust_connect.data import (
    INT32,
    INT64,
    OPTIONAL_STRING,
    STRING,
    Schema,
    Struct,
    Type,
    struct_schema,
)
from faust_connect.exceptions import ConfigIssue
from faust_connect.records import SourceRecord

__all__ = [
    "MYSQL_SOURCE",
    "POSTGRES_SOURCE",
    "CdcConfig",
    "Debezium",
    "Filters",
    "Heartbeat",
    "Op",
    "Row",
    "Selector",
    "TableSchema",
    "ThreadedReader",
    "change_records",
    "epoch_days",
    "epoch_micros",
    "heartbeat_record",
    "micros_of_day",
    "regex_issues",
    "source_fields",
    "source_struct",
    "table_schema",
    "wait_stopped",
    "zoned_timestamp",
]

#: What a change was: snapshot read, create, update, delete, truncate.
Op = Literal["r", "c", "u", "d", "t"]
#: The ``source.version`` of our events (Debezium writes its own release there).
VERSION = f"faust-connect-{__version__}"


class Debezium:
    """Names of Debezium's semantic types (schema names, version 1)."""

    DATE = "io.debezium.time.Date"  # int32 days since the epoch
    TIME = "io.debezium.time.Time"  # int32 ms of the day
    MICRO_TIME = "io.debezium.time.MicroTime"  # int64 µs of the day
    TIMESTAMP = "io.debezium.time.Timestamp"  # int64 ms since the epoch, no zone
    MICRO_TIMESTAMP = "io.debezium.time.MicroTimestamp"  # int64 µs since the epoch, no zone
    ZONED_TIMESTAMP = "io.debezium.time.ZonedTimestamp"  # ISO-8601 string with offset
    ZONED_TIME = "io.debezium.time.ZonedTime"  # ISO-8601 time string with offset
    YEAR = "io.debezium.time.Year"  # int32
    JSON = "io.debezium.data.Json"  # string
    UUID = "io.debezium.data.Uuid"  # string
    XML = "io.debezium.data.Xml"  # string
    ENUM = "io.debezium.data.Enum"  # string; parameter ``allowed``
    ENUM_SET = "io.debezium.data.EnumSet"  # string; parameter ``allowed``
    BITS = "io.debezium.data.Bits"  # bytes; parameter ``length``
    VARIABLE_SCALE_DECIMAL = "io.debezium.data.VariableScaleDecimal"  # struct {scale, value}

    @staticmethod
    def schema(
        type_: Type,
        name: str,
        *,
        optional: bool = True,
        parameters: Mapping[str, str] | None = None,
    ) -> Schema:
        """A column schema of one of Debezium's semantic types."""
        return Schema(type_, name=name, version=1, optional=optional, parameters=parameters)


# -- config ---------------------------------------------------------------------------------


class CdcConfig(PluginConfig):
    """The keys both change-data-capture sources take, with Debezium's names and defaults."""

    topic_prefix: str = Field(
        description="Logical name of the server: the prefix of every topic.", min_length=1
    )
    database_hostname: str = Field(description="Database host.", min_length=1)
    database_user: str = Field(description="Database user.", min_length=1)
    database_password: Password = Field(SecretStr(""), description="Database password.")
    table_include_list: CommaList = Field(
        (), description="Regexes of `<schema>.<table>` to capture (all when empty)."
    )
    table_exclude_list: CommaList = Field((), description="Regexes of tables not to capture.")
    column_include_list: CommaList = Field(
        (), description="Regexes of `<schema>.<table>.<column>` to include (all when empty)."
    )
    column_exclude_list: CommaList = Field((), description="Regexes of columns to leave out.")
    tombstones_on_delete: bool = Field(
        True, description="Follow each delete with a tombstone (a null value with the same key)."
    )
    heartbeat_interval_ms: int = Field(
        0,
        ge=0,
        description="Emit a heartbeat to __debezium-heartbeat.<prefix> this often (0: off).",
    )
    decimal_handling_mode: Literal["precise", "double", "string"] = Field(
        "precise", description="DECIMAL/NUMERIC as Connect Decimal, float or string."
    )
    max_batch_size: int = Field(2048, ge=1, description="Changes per poll, at most.")
    max_queue_size: int = Field(8192, ge=1, description="Changes read ahead of the producer.")
    poll_interval_ms: int = Field(500, ge=1, description="Wait for new changes at most this long.")


def regex_issues(config: PluginConfig, keys: Iterable[str]) -> list[ConfigIssue]:
    """An issue per regex of the list settings ``keys`` (dotted names) that does not compile."""
    issues = []
    for key in keys:
        for pattern in getattr(config, key.replace(".", "_")):
            try:
                re.compile(pattern)
            except re.error as error:
                issues.append(ConfigIssue(key, f"bad regex {pattern!r}: {error}"))
    return issues


class Filters:
    """``table.include.list``/``.exclude.list`` and the column lists, as Debezium applies them:
    each regex must match the whole ``<schema>.<table>`` (or ``….<column>``), ignoring case."""

    def __init__(self, config: CdcConfig) -> None:
        self._tables = Selector(config.table_include_list, config.table_exclude_list)
        self._columns = Selector(config.column_include_list, config.column_exclude_list)

    def table(self, schema: str, table: str) -> bool:
        """Whether changes of ``schema.table`` are captured."""
        return self._tables(f"{schema}.{table}")

    def column(self, schema: str, table: str, column: str) -> bool:
        """Whether ``column`` of ``schema.table`` is in the events."""
        return self._columns(f"{schema}.{table}.{column}")


class Selector:
    """An include list (a name must match one regex) or else an exclude list (it must match
    none); whole names, ignoring case."""

    def __init__(self, include: Iterable[str], exclude: Iterable[str]) -> None:
        self._include = [re.compile(p, re.IGNORECASE) for p in include]
        self._exclude = [re.compile(p, re.IGNORECASE) for p in exclude]

    def __call__(self, name: str) -> bool:
        if self._include:
            return any(p.fullmatch(name) for p in self._include)
        return not any(p.fullmatch(name) for p in self._exclude)


# -- schemas --------------------------------------------------------------------------------

_SNAPSHOT = Schema(
    Type.STRING,
    name=Debezium.ENUM,
    version=1,
    optional=True,
    default="false",
    parameters={
        "allowed": "true,first,first_in_data_collection,last_in_data_collection,last,false,"
        "incremental"
    },
)
_OPTIONAL_INT64 = Schema(Type.INT64, optional=True)
_COMMON_SOURCE = [
    ("version", STRING),
    ("connector", STRING),
    ("name", STRING),
    ("ts_ms", INT64),
    ("snapshot", _SNAPSHOT),
    ("db", STRING),
    ("sequence", OPTIONAL_STRING),
    ("ts_us", _OPTIONAL_INT64),
    ("ts_ns", _OPTIONAL_INT64),
]
#: The ``source`` block of the PostgreSQL connector's events.
POSTGRES_SOURCE = struct_schema(
    [
        *_COMMON_SOURCE,
        ("schema", STRING),
        ("table", STRING),
        ("txId", _OPTIONAL_INT64),
        ("lsn", _OPTIONAL_INT64),
        ("xmin", _OPTIONAL_INT64),
        ("origin", OPTIONAL_STRING),  # logical replication origins: none here, null
        ("origin_lsn", _OPTIONAL_INT64),
    ],
    name="io.debezium.connector.postgresql.Source",
    version=1,
)
#: The ``source`` block of the MySQL connector's events (MariaDB's too).
MYSQL_SOURCE = struct_schema(
    [
        *_COMMON_SOURCE,
        ("table", OPTIONAL_STRING),
        ("server_id", INT64),
        ("gtid", OPTIONAL_STRING),
        ("file", STRING),
        ("pos", INT64),
        ("row", INT32),
        ("thread", _OPTIONAL_INT64),
        ("query", OPTIONAL_STRING),
    ],
    name="io.debezium.connector.mysql.Source",
    version=1,
)
_TRANSACTION = struct_schema(
    [("id", STRING), ("total_order", INT64), ("data_collection_order", INT64)],
    name="event.block",
    version=1,
    optional=True,
)


@dataclasses.dataclass(frozen=True)
class TableSchema:
    """The Connect schemas of one captured table's events."""

    topic: str
    #: The primary-key columns, in key order (empty: no key; records get a null key).
    key_columns: tuple[str, ...]
    #: ``<topic>.Key``, or None for a table without a primary key.
    key: Schema | None
    #: ``<topic>.Value``: every captured column, optional (it is null in ``before``/``after``).
    value: Schema
    #: ``<topic>.Envelope``.
    envelope: Schema
    #: The value's field names, in order.
    value_names: tuple[str, ...] = ()
    #: Where each key column stands among the value's fields.
    key_index: tuple[int, ...] = ()
    #: The envelope's ``source`` schema and its field names.
    source: Schema | None = None
    source_names: tuple[str, ...] = ()


def table_schema(
    topic: str,
    columns: Sequence[tuple[str, Schema]],
    key_columns: Sequence[str],
    source: Schema,
) -> TableSchema:
    """The key, value and envelope schemas of a table with ``columns`` (name, column schema)."""
    by_name = dict(columns)
    key = None
    if key_columns:
        key = struct_schema(
            [(c, by_name[c].replace(optional=False)) for c in key_columns], name=f"{topic}.Key"
        )
    value = struct_schema(columns, name=f"{topic}.Value", optional=True)
    envelope = struct_schema(
        [
            ("before", value),
            ("after", value),
            ("source", source),
            ("transaction", _TRANSACTION),
            ("op", STRING),
            ("ts_ms", _OPTIONAL_INT64),
            ("ts_us", _OPTIONAL_INT64),
            ("ts_ns", _OPTIONAL_INT64),
        ],
        name=f"{topic}.Envelope",
        version=2,
    )
    names = tuple(name for name, _ in columns)
    return TableSchema(
        topic,
        tuple(key_columns),
        key,
        value,
        envelope,
        value_names=names,
        key_index=tuple(names.index(c) for c in key_columns),
        source=source,
        source_names=tuple(f.name for f in source.fields),
    )


def source_struct(table: TableSchema, values: Sequence[Any]) -> Struct:
    """The ``source`` block of ``table``'s events from values in field order."""
    assert table.source is not None
    return Struct.trusted(table.source, values)


# -- records --------------------------------------------------------------------------------


#: A row: column name → Connect value, or the values of ``TableSchema.value``'s fields in order.
Row = Mapping[str, Any] | list[Any] | tuple[Any, ...]


def change_records(
    table: TableSchema,
    op: Op,
    before: Row | None,
    after: Row | None,
    source: Mapping[str, Any] | Struct,
    *,
    partition: Mapping[str, Any],
    offset: Mapping[str, Any],
    tombstone: bool = False,
    now_ns: int | None = None,
) -> list[SourceRecord]:
    """One change as records: the event, and a tombstone after a delete when asked.

    ``before``/``after`` map every column of ``table.value`` to its Connect value (or list the
    values in field order, the sources' fast path); ``source`` maps the fields of the
    connector's source schema (missing optional fields are null), or is the built struct.
    """
    ns = time.time_ns() if now_ns is None else now_ns
    row = after if after is not None else before
    key = None
    if table.key is not None and row is not None:
        if isinstance(row, list | tuple):  # builtin checks first: ABC checks are slow
            key = Struct.trusted(table.key, [row[i] for i in table.key_index])
        else:
            key = Struct.trusted(table.key, [row[c] for c in table.key_columns])
    if not isinstance(source, Struct):
        source = source_struct(table, [source.get(name) for name in table.source_names])
    value = Struct.trusted(
        table.envelope,
        [
            _row(table, before),
            _row(table, after),
            source,
            None,
            op,
            ns // 1_000_000,
            ns // 1_000,
            ns,
        ],
    )
    event = _build(
        topic=table.topic,
        key=key,
        key_schema=table.key,
        value=value,
        value_schema=table.envelope,
        source_partition=partition,
        source_offset=offset,
    )
    if op == "d" and tombstone:
        return [event, event.replace(value=None, value_schema=None)]
    return [event]


_build = SourceRecord.build


def _row(table: TableSchema, values: Row | None) -> Struct | None:
    if values is None:
        return None
    if isinstance(values, list | tuple):
        return Struct.trusted(table.value, values)
    return Struct.trusted(table.value, [values.get(name) for name in table.value_names])


_HEARTBEAT_KEY = struct_schema(
    [("serverName", STRING)], name="io.debezium.connector.common.ServerNameKey"
)
_HEARTBEAT_VALUE = struct_schema([("ts_ms", INT64)], name="io.debezium.connector.common.Heartbeat")


def heartbeat_record(
    prefix: str, partition: Mapping[str, Any], offset: Mapping[str, Any]
) -> SourceRecord:
    """A record on ``__debezium-heartbeat.<prefix>``; it carries the current offset, so a quiet
    captured table does not hold the stored position back."""
    return SourceRecord(
        topic=f"__debezium-heartbeat.{prefix}",
        key=Struct.trusted(_HEARTBEAT_KEY, [prefix]),
        key_schema=_HEARTBEAT_KEY,
        value=Struct.trusted(_HEARTBEAT_VALUE, [time.time_ns() // 1_000_000]),
        value_schema=_HEARTBEAT_VALUE,
        source_partition=partition,
        source_offset=offset,
    )


def source_fields(
    connector: str, name: str, db: str, *, ts_us: int, snapshot: str
) -> dict[str, Any]:
    """The ``source`` fields every connector fills the same way (``ts_us``: when the change
    was made, in µs since the epoch)."""
    return {
        "version": VERSION,
        "connector": connector,
        "name": name,
        "ts_ms": ts_us // 1000,
        "ts_us": ts_us,
        "ts_ns": ts_us * 1000,
        "snapshot": snapshot,
        "db": db,
    }


class Heartbeat:
    """``heartbeat.interval.ms``: whether a heartbeat is due (reader thread, at a transaction
    boundary), and its record."""

    def __init__(self, config: CdcConfig, partition: Mapping[str, Any]) -> None:
        self.interval = config.heartbeat_interval_ms / 1000
        self.prefix = config.topic_prefix
        self.partition = partition
        self.last = time.monotonic()

    def due(self, now: float) -> bool:
        """True (and the clock restarted) when heartbeats are on and the interval has passed."""
        if self.interval and now - self.last >= self.interval:
            self.last = now
            return True
        return False

    def record(self, offset: Mapping[str, Any]) -> SourceRecord:
        """A heartbeat carrying ``offset``."""
        return heartbeat_record(self.prefix, self.partition, offset)


def wait_stopped(stopped: Callable[[], bool]) -> None:
    """Idle until ``stopped()`` (``snapshot.mode=initial_only``: nothing to stream)."""
    while not stopped():
        time.sleep(0.2)


# -- time -----------------------------------------------------------------------------------

EPOCH = dt.datetime(1970, 1, 1)
EPOCH_DAY = EPOCH.date().toordinal()
_MICROSECOND = dt.timedelta(microseconds=1)


def epoch_days(value: dt.date) -> int:
    """Debezium's Date: days since 1970-01-01."""
    return value.toordinal() - EPOCH_DAY


def epoch_micros(value: dt.datetime) -> int:
    """Debezium's MicroTimestamp: µs since 1970-01-01 of a zoneless date and time."""
    return (value - EPOCH) // _MICROSECOND


def micros_of_day(value: dt.timedelta) -> int:
    """Debezium's MicroTime: µs of a time of day (MySQL's TIME may exceed a day)."""
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds


def zoned_timestamp(value: dt.datetime, *, micros_always: bool = False) -> str:
    """Debezium's ZonedTimestamp text: ISO-8601 in UTC with ``Z``; the fraction has 0, 3, 6
    digits as needed (Java's ``ISO_OFFSET_DATE_TIME``, the MySQL connector's), or always six
    with ``micros_always`` (the PostgreSQL connector's: ``…T00:00:00.000000Z``)."""
    utc = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    micros = utc.microsecond
    if micros_always:
        text += f".{micros:06d}"
    elif micros % 1000 == 0 and micros:
        text += f".{micros // 1000:03d}"
    elif micros:
        text += f".{micros:06d}"
    return text + "Z"


# -- reading in a thread --------------------------------------------------------------------

T = TypeVar("T")


class ThreadedReader(Generic[T]):
    """Runs a blocking ``read(emit, stopped)`` loop in a thread; :meth:`take` gets batches.

    ``read`` calls ``emit(items)`` with a list of items at a time (one hand-over between the
    threads per list, not per item; it blocks while ``max_queue`` items wait) and should return
    soon after ``stopped()`` turns true. An exception in ``read`` is raised by the next
    :meth:`take`, after the items read before it.
    """

    def __init__(
        self,
        read: Callable[[Callable[[list[T]], None], Callable[[], bool]], None],
        *,
        max_queue: int,
        name: str,
    ) -> None:
        self._read = read
        self._max_queue = max_queue
        self._batches: collections.deque[list[T]] = collections.deque()
        self._queued = 0  # items in _batches
        self._room = threading.Condition()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._arrived = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Start reading (call from the event loop that will :meth:`take`)."""
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    def _run(self) -> None:
        try:
            self._read(self._emit, self._stop.is_set)
        except BaseException as exc:  # handed to the event loop by take()
            self._error = exc
        finally:
            self._wake()

    def _emit(self, items: list[T]) -> None:
        if not items:
            return
        with self._room:
            while self._queued >= self._max_queue:
                if self._stop.is_set():
                    return
                self._room.wait(0.1)
            was_empty = not self._batches
            self._batches.append(items)
            self._queued += len(items)
        if was_empty:  # the taker may be waiting on an empty queue
            self._wake()

    def _wake(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._arrived.set)

    def _get(self, max_items: int) -> list[T]:
        with self._room:
            if not self._batches:
                return []
            items = self._batches.popleft()
            if len(items) > max_items:  # hand over the rest next time
                self._batches.appendleft(items[max_items:])
                items = items[:max_items]
            while self._batches and len(items) + len(self._batches[0]) <= max_items:
                items = items + self._batches.popleft()
            self._queued -= len(items)
            self._room.notify()
        return items

    async def take(self, max_items: int, timeout: float) -> list[T]:
        """Up to ``max_items`` items; waits at most ``timeout`` seconds for the first."""
        deadline = time.monotonic() + timeout
        while True:
            self._arrived.clear()
            items = self._get(max_items)
            if items:
                return items
            if self._error is not None:
                raise self._error
            if not self._thread.is_alive() and not self._batches:
                raise RuntimeError(f"{self._thread.name} stopped reading")
            left = deadline - time.monotonic()
            if left <= 0:
                return items
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                pass

    async def stop(self, timeout: float = 10.0) -> None:
        """Ask ``read`` to return and wait for its thread."""
        self._stop.set()
        await asyncio.to_thread(self._thread.join, timeout)
