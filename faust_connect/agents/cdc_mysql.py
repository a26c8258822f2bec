"""Change data capture from MySQL/MariaDB's binlog, shaped like Debezium's MySQL connector.

The task first takes a consistent snapshot of the captured tables (``snapshot.mode``) without
locks: ``START TRANSACTION WITH CONSISTENT SNAPSHOT`` and, in the same session, ``SHOW STATUS
LIKE 'binlog_snapshot_%'`` give the binlog position the snapshot stands at; the rows become ``r``
events and the binlog is then read from exactly that position (mysql-replication's
``BinLogStreamReader``), so nothing is read twice or missed. Inserts, updates and deletes become
``c``/``u``/``d`` events on ``<topic.prefix>.<database>.<table>`` (an update of the primary key
becomes a delete, its tombstone and a create, as Debezium does); DDL statements go to the schema
change topic ``<topic.prefix>`` with Debezium's ``SchemaChangeKey``/``SchemaChangeValue``.

Offsets have Debezium's MySQL shape: partition ``{"server": <topic.prefix>}``, offset ``{file,
pos, gtids, event, row, ts_sec, server_id}`` (``snapshot: true`` while a snapshot runs, so a
restart mid-snapshot takes it again). ``file``/``pos`` is always a transaction boundary (where the
transaction began); ``event``/``row`` count the row events and rows of that transaction already
delivered, which a restart skips: resuming a binlog *inside* a transaction would silently lose
rows (the table maps before it are not sent again).

Column types follow Debezium's mapping (``adaptive_time_microseconds``, ``bigint.unsigned.
handling.mode=long``): TINYINT → int8 (unsigned int16; BOOLEAN is TINYINT(1), so int8 too, as in
Debezium's snapshots), SMALLINT → int16 (unsigned int32), MEDIUMINT → int32, INT → int32
(unsigned int64), BIGINT → int64, FLOAT/DOUBLE → float32/float64, DECIMAL per
``decimal.handling.mode``, strings → string, binary and BLOB → bytes, DATE → ``Date``, TIME →
``MicroTime``, DATETIME → ``Timestamp`` (fsp ≤ 3) or ``MicroTimestamp``, TIMESTAMP →
``ZonedTimestamp``, YEAR → ``Year``, JSON → ``Json``, ENUM/SET → ``Enum``/``EnumSet`` with their
``allowed`` values, BIT(1) → boolean, BIT(n) → ``Bits``. The server must log ROW events with full
images and full metadata (``binlog_format=ROW``, ``binlog_row_image=FULL``,
``binlog_row_metadata=FULL``); the task refuses to start otherwise and says which to change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import pymysql  # type: ignore[import-untyped]  # PyMySQL ships no type hints
from pydantic import Field

from faust_connect.agents.debezium import (
    MYSQL_SOURCE,
    VERSION,
    CdcConfig,
    Debezium,
    Filters,
    TableSchema,
    ThreadedReader,
    change_records,
    heartbeat_record,
    table_schema,
    zoned_timestamp,
)
from faust_connect.config import CommaList, parse_config
from faust_connect.connector import SourceConnector, SourceTask, own_keys
from faust_connect.data import (
    BOOLEAN,
    BYTES,
    FLOAT32,
    FLOAT64,
    INT8,
    INT16,
    INT32,
    INT64,
    OPTIONAL_STRING,
    STRING,
    Schema,
    Struct,
    Type,
    array_schema,
    decimal_schema,
    struct_schema,
)
from faust_connect.exceptions import ConfigIssue, ConnectError
from faust_connect.records import SourceRecord

__all__ = ["Column", "MySqlConnector", "MySqlTask", "column_schema", "value_converter"]

log = logging.getLogger(__name__)

SnapshotMode = Literal[
    "initial", "initial_only", "no_data", "schema_only", "never", "when_needed", "always"
]
SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
#: The server settings without which the binlog cannot give correct events.
REQUIRED = {"binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL"}
#: Server errors after which reading again from the last position may work.
TRANSIENT = frozenset({1053, 1927, 2002, 2003, 2006, 2013})
EPOCH = dt.datetime(1970, 1, 1)
EPOCH_DAY = dt.date(1970, 1, 1)


# -- column types ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Column:
    """One column, as the binlog's table map or ``information_schema`` describes it."""

    name: str
    #: MySQL's type name, lower case: tinyint … bigint, float, double, decimal, char, varchar,
    #: text, binary, varbinary, blob, enum, set, json, date, time, datetime, timestamp, year,
    #: bit, geometry.
    kind: str
    nullable: bool = True
    unsigned: bool = False
    #: DECIMAL precision.
    precision: int = 0
    #: DECIMAL scale, or the fractional-second digits of TIME/DATETIME/TIMESTAMP.
    scale: int = 0
    #: BIT width, or BINARY(n)'s n.
    length: int = 0
    #: ENUM/SET values.
    values: tuple[str, ...] = ()


def column_schema(column: Column, decimal_mode: str = "precise") -> Schema:
    """Debezium's Connect schema for ``column``."""
    kind, optional = column.kind, column.nullable
    schema: Schema
    if kind in _INTS:
        schema = _INTS[kind][column.unsigned]
    elif kind == "float":
        schema = FLOAT32
    elif kind == "double":
        schema = FLOAT64
    elif kind == "decimal":
        if decimal_mode == "double":
            schema = FLOAT64
        elif decimal_mode == "string":
            schema = STRING
        else:
            precision = {"connect.decimal.precision": str(column.precision)}
            return decimal_schema(column.scale, optional=optional, parameters=precision)
    elif kind in _SEMANTIC:
        type_, name = _SEMANTIC[kind]
        return Debezium.schema(type_, name, optional=optional)
    elif kind == "datetime":
        name = Debezium.TIMESTAMP if column.scale <= 3 else Debezium.MICRO_TIMESTAMP
        return Debezium.schema(Type.INT64, name, optional=optional)
    elif kind == "bit" and column.length > 1:
        params = {"length": str(column.length)}
        return Debezium.schema(Type.BYTES, Debezium.BITS, optional=optional, parameters=params)
    elif kind == "bit":
        schema = BOOLEAN
    elif kind in ("enum", "set"):
        name = Debezium.ENUM if kind == "enum" else Debezium.ENUM_SET
        params = {"allowed": ",".join(column.values)}
        return Debezium.schema(Type.STRING, name, optional=optional, parameters=params)
    elif kind in ("char", "varchar", "text"):
        schema = STRING
    else:  # binary, varbinary, blob, geometry (as its raw bytes)
        schema = BYTES
    return schema.replace(optional=True) if optional else schema


_INTS = {
    "tinyint": {False: INT8, True: INT16},
    "smallint": {False: INT16, True: INT32},
    "mediumint": {False: INT32, True: INT32},
    "int": {False: INT32, True: INT64},
    "bigint": {False: INT64, True: INT64},
}
_SEMANTIC = {
    "date": (Type.INT32, Debezium.DATE),
    "time": (Type.INT64, Debezium.MICRO_TIME),
    "timestamp": (Type.STRING, Debezium.ZONED_TIMESTAMP),
    "year": (Type.INT32, Debezium.YEAR),
    "json": (Type.STRING, Debezium.JSON),
}

Convert = Callable[[Any], Any]


def value_converter(column: Column, decimal_mode: str = "precise") -> Convert | None:
    """The function from a driver value (binlog or snapshot) to the Connect value; None when
    the value passes as it is. Both readers' shapes are accepted: BIT as a bit string (binlog)
    or big-endian bytes (snapshot), SET as a Python set or comma text."""
    kind = column.kind
    if kind == "bigint" and column.unsigned:
        return lambda v: v - 2**64 if v >= 2**63 else v  # Java's long, as Debezium's "long"
    if kind == "decimal":
        if decimal_mode == "double":
            return float
        return _plain_decimal if decimal_mode == "string" else None
    if kind == "date":
        return _days
    if kind == "time":
        return _micros_of_day
    if kind == "datetime":
        unit = dt.timedelta(milliseconds=1) if column.scale <= 3 else dt.timedelta(microseconds=1)
        return lambda v: (v - EPOCH) // unit if isinstance(v, dt.datetime) else None
    if kind == "timestamp":
        return lambda v: zoned_timestamp(v) if isinstance(v, dt.datetime) else None
    if kind == "bit":
        if column.length <= 1:
            return lambda v: _bits(v) != 0
        size = (column.length + 7) // 8
        return lambda v: _bits(v).to_bytes(size, "little")
    if kind == "set":
        order = {value: i for i, value in enumerate(column.values)}
        return lambda v: ",".join(sorted(_members(v), key=lambda m: order.get(m, len(order))))
    if kind == "json":
        return lambda v: v if isinstance(v, str) else json.dumps(_text_keys(v))
    if kind == "binary" and column.length:
        return lambda v: bytes(v).ljust(column.length, b"\0")  # the binlog strips the padding
    return None


def _plain_decimal(value: decimal.Decimal) -> str:
    return format(value, "f")


def _days(value: Any) -> int | None:
    return (value - EPOCH_DAY).days if isinstance(value, dt.date) else None


def _micros_of_day(value: Any) -> int | None:
    if not isinstance(value, dt.timedelta):
        return None
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds


def _bits(value: str | bytes | int) -> int:
    if isinstance(value, str):
        return int(value or "0", 2)
    if isinstance(value, bytes):
        return int.from_bytes(value, "big")
    return int(value)


def _members(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from (m for m in value.split(",") if m)
    else:
        yield from value


def _text_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_text(k): _text_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text_keys(v) for v in value]
    return _text(value)


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


# Binlog column type codes (mysql-replication's FIELD_TYPE) → MySQL type names.
_BINLOG_KINDS = {
    1: "tinyint", 2: "smallint", 3: "int", 4: "float", 5: "double", 7: "timestamp",
    8: "bigint", 9: "mediumint", 10: "date", 11: "time", 12: "datetime", 13: "year",
    14: "date", 16: "bit", 17: "timestamp", 18: "datetime", 19: "time", 245: "json",
    246: "decimal", 247: "enum", 248: "set", 255: "geometry",
}  # fmt: skip
# String-ish codes by (code, binary charset?): VARCHAR/VAR_STRING, STRING (CHAR), BLOB.
_BINLOG_STRINGS = {
    (15, False): "varchar", (15, True): "varbinary", (253, False): "varchar",
    (253, True): "varbinary", (254, False): "char", (254, True): "binary",
    (252, False): "text", (252, True): "blob",
}  # fmt: skip


def binlog_columns(table_map: Any, json_columns: frozenset[str]) -> list[Column]:
    """The columns a binlog TableMapEvent describes (it needs ``binlog_row_metadata=FULL``)."""
    out = []
    nulls = table_map.null_bitmask
    for i, col in enumerate(table_map.columns):
        binary = getattr(col, "character_set_name", None) == "binary"
        kind = _BINLOG_KINDS.get(col.type) or _BINLOG_STRINGS.get((col.type, binary), "blob")
        if kind == "text" and col.name in json_columns:
            kind = "json"  # MariaDB's JSON is LONGTEXT with a json_valid() check
        scale = col.decimals if kind == "decimal" else getattr(col, "fsp", 0) or 0
        length = getattr(col, "bits", 0) if kind == "bit" else 0
        if kind == "binary":
            length = col.max_length
        values = tuple(col.enum_values[1:]) if kind == "enum" else ()
        if kind == "set":
            values = tuple(col.set_values or ())
        out.append(
            Column(
                name=col.name,
                kind=kind,
                nullable=bool(nulls[i // 8] & (1 << (i % 8))),
                unsigned=bool(col.unsigned),
                precision=getattr(col, "precision", 0) if kind == "decimal" else 0,
                scale=scale,
                length=length,
                values=values,
            )
        )
    return out


_TEXT_KINDS = {"tinytext": "text", "mediumtext": "text", "longtext": "text"}
_BLOB_KINDS = {"tinyblob": "blob", "mediumblob": "blob", "longblob": "blob"}


def schema_columns(rows: Sequence[Mapping[str, Any]], json_columns: frozenset[str]) -> list[Column]:
    """The columns ``information_schema.COLUMNS`` rows describe (for snapshots)."""
    out = []
    for row in rows:
        data_type = str(row["DATA_TYPE"]).lower()
        column_type = str(row["COLUMN_TYPE"]).lower()
        kind = _TEXT_KINDS.get(data_type) or _BLOB_KINDS.get(data_type) or data_type
        if kind == "integer":
            kind = "int"
        if kind not in _SCHEMA_KINDS:
            kind = "geometry" if "geometry" in data_type or "point" in data_type else "blob"
        if row["COLUMN_NAME"] in json_columns:
            kind = "json"
        size = re.search(r"\((\d+)\)", column_type)
        values: tuple[str, ...] = ()
        if kind in ("enum", "set"):
            inner = column_type[column_type.index("(") + 1 : column_type.rindex(")")]
            values = tuple(v.replace("''", "'") for v in re.findall(r"'((?:[^']|'')*)'", inner))
        scale = row["NUMERIC_SCALE"] if kind == "decimal" else row["DATETIME_PRECISION"]
        out.append(
            Column(
                name=row["COLUMN_NAME"],
                kind=kind,
                nullable=row["IS_NULLABLE"] == "YES",
                unsigned="unsigned" in column_type,
                precision=int(row["NUMERIC_PRECISION"] or 0) if kind == "decimal" else 0,
                scale=int(scale or 0),
                length=int(size.group(1)) if size and kind in ("bit", "binary") else 0,
                values=values,
            )
        )
    return out


_SCHEMA_KINDS = frozenset(
    {*_INTS, *_SEMANTIC, "float", "double", "decimal", "datetime", "bit", "enum", "set"}
    | {"char", "varchar", "text", "binary", "varbinary", "blob"}
)


# -- events besides rows --------------------------------------------------------------------


def _source_schema(connector: str) -> Schema:
    if connector == "mysql":
        return MYSQL_SOURCE
    return MYSQL_SOURCE.replace(name=f"io.debezium.connector.{connector}.Source")


def _schema_change_schemas(connector: str, source: Schema) -> tuple[Schema, Schema]:
    """Debezium's SchemaChangeKey and SchemaChangeValue (``tableChanges`` stays empty)."""
    column = struct_schema(
        [
            ("name", STRING),
            ("jdbcType", INT32),
            ("nativeType", INT32.replace(optional=True)),
            ("typeName", STRING),
            ("typeExpression", OPTIONAL_STRING),
            ("charsetName", OPTIONAL_STRING),
            ("length", INT32.replace(optional=True)),
            ("scale", INT32.replace(optional=True)),
            ("position", INT32),
            ("optional", BOOLEAN.replace(optional=True)),
            ("autoIncremented", BOOLEAN.replace(optional=True)),
            ("generated", BOOLEAN.replace(optional=True)),
            ("comment", OPTIONAL_STRING),
            ("defaultValueExpression", OPTIONAL_STRING),
            ("enumValues", array_schema(STRING, optional=True)),
        ],
        name="io.debezium.connector.schema.Column",
        version=1,
    )
    table = struct_schema(
        [
            ("defaultCharsetName", OPTIONAL_STRING),
            ("primaryKeyColumnNames", array_schema(STRING, optional=True)),
            ("columns", array_schema(column)),
            ("comment", OPTIONAL_STRING),
        ],
        name="io.debezium.connector.schema.Table",
        version=1,
        optional=True,
    )
    change = struct_schema(
        [("type", STRING), ("id", STRING), ("table", table)],
        name="io.debezium.connector.schema.Change",
        version=1,
    )
    key = struct_schema(
        [("databaseName", STRING)],
        name=f"io.debezium.connector.{connector}.SchemaChangeKey",
        version=1,
    )
    value = struct_schema(
        [
            ("source", source),
            ("ts_ms", INT64),
            ("databaseName", OPTIONAL_STRING),
            ("schemaName", OPTIONAL_STRING),
            ("ddl", OPTIONAL_STRING),
            ("tableChanges", array_schema(change)),
        ],
        name=f"io.debezium.connector.{connector}.SchemaChangeValue",
        version=1,
    )
    return key, value


_NAME = r"(?:`(?:[^`]|``)+`|[\w$]+)"
_DDL = re.compile(
    r"^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE)\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?"
    r"(?:ONLINE\s+|IGNORE\s+)?(TABLE|DATABASE|SCHEMA)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"
    rf"({_NAME})(?:\s*\.\s*({_NAME}))?",
    re.IGNORECASE,
)


def unquote(name: str) -> str:
    """A MySQL identifier without its backquotes."""
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def ddl_target(ddl: str, current: str) -> tuple[str, str | None] | None:
    """``(database, table or None)`` a DDL statement changes; None if it is not table DDL."""
    match = _DDL.match(ddl)
    if match is None:
        return None
    _, what, first, second = match.groups()
    if what.upper() != "TABLE":
        return unquote(first), None
    if second is not None:
        return unquote(first), unquote(second)
    return current, unquote(first)


# -- positions ------------------------------------------------------------------------------


@dataclasses.dataclass
class Position:
    """Where to (re)start reading: a transaction boundary and what of the transaction that
    begins there has been delivered already."""

    file: str
    pos: int
    #: MariaDB GTIDs (``domain-server-seq``) or MySQL GTID sets completed before ``pos``.
    gtids: str = ""
    #: Row events of the transaction at ``pos`` already delivered, in full.
    event: int = 0
    #: Rows of the next row event already delivered.
    row: int = 0
    ts_sec: int = 0
    server_id: int = 0
    snapshot: bool = False

    def offset(self) -> dict[str, Any]:
        """Debezium's MySQL offset (keys with no value left out, as Debezium does)."""
        out: dict[str, Any] = {"file": self.file, "pos": self.pos}
        for key in ("gtids", "event", "row", "ts_sec", "server_id"):
            if value := getattr(self, key):
                out[key] = value
        if self.snapshot:
            out["snapshot"] = True
        return out

    @classmethod
    def from_offset(cls, offset: Mapping[str, Any]) -> Position:
        """The position a stored offset names."""
        return cls(
            file=str(offset["file"]),
            pos=int(offset["pos"]),
            gtids=str(offset.get("gtids") or ""),
            event=int(offset.get("event") or 0),
            row=int(offset.get("row") or 0),
            ts_sec=int(offset.get("ts_sec") or 0),
            server_id=int(offset.get("server_id") or 0),
            snapshot=offset.get("snapshot") in (True, "true", "TRUE", "True"),
        )


# -- the connector --------------------------------------------------------------------------


class MySqlTask(SourceTask):
    """Reads the snapshot and then the binlog in a thread; ``poll`` takes what has arrived."""

    async def start(self) -> None:
        config: Any = parse_config(
            MySqlConnector.Config, own_keys(MySqlConnector.Config, self.config)
        )
        flavour = (
            "mariadb" if "mariadb" in self.config.get("connector.class", "").lower() else "mysql"
        )
        partition = {"server": config.topic_prefix}
        stored = self.context.offset(partition)
        self._config = config
        self._capture = _Capture(config, flavour, partition, stored, self.context.logger)
        self._reader: ThreadedReader[SourceRecord] = ThreadedReader(
            self._capture.run, max_queue=config.max_queue_size, name=f"binlog-{config.topic_prefix}"
        )
        self._reader.start()

    async def poll(self) -> Sequence[SourceRecord]:
        """The records read since the last poll (waits up to ``poll.interval.ms``)."""
        c = self._config
        return await self._reader.take(c.max_batch_size, c.poll_interval_ms / 1000)

    async def stop(self) -> None:
        """Stop reading and close the connections."""
        if hasattr(self, "_reader"):
            await self._reader.stop()


class MySqlConnector(SourceConnector):
    """Streams row changes of MySQL/MariaDB tables from the binlog (Debezium's events)."""

    class Config(CdcConfig):
        database_port: int = Field(3306, ge=1, le=65535, description="Database port.")
        database_server_id: int = Field(
            ge=1,
            le=2**32 - 1,
            description="The replica id this connector reads the binlog as; unique per server.",
        )
        database_include_list: CommaList = Field(
            (), description="Regexes of databases to capture (all when empty)."
        )
        database_exclude_list: CommaList = Field((), description="Regexes of databases to skip.")
        snapshot_mode: SnapshotMode = Field(
            "initial",
            description="initial, initial_only, no_data (schema_only, never), when_needed, always.",
        )
        include_schema_changes: bool = Field(
            True, description="Write DDL statements to the topic named topic.prefix."
        )
        snapshot_fetch_size: int = Field(2000, ge=1, description="Rows fetched at a time.")

    task_class = MySqlTask

    @classmethod
    def validate(cls, config: Mapping[str, str]) -> list[ConfigIssue]:
        """Debezium's rules across keys, and regexes that compile."""
        issues = super().validate(config)
        if issues:
            return issues
        c: Any = parse_config(cls.Config, own_keys(cls.Config, config))
        for kind in ("database", "table", "column"):
            include, exclude = f"{kind}_include_list", f"{kind}_exclude_list"
            if getattr(c, include) and getattr(c, exclude):
                key = include.replace("_", ".")
                issues.append(ConfigIssue(key, f"give {key} or {exclude.replace('_', '.')}"))
            for attr in (include, exclude):
                for pattern in getattr(c, attr):
                    try:
                        re.compile(pattern)
                    except re.error as error:
                        issues.append(ConfigIssue(attr.replace("_", "."), f"{pattern}: {error}"))
        return issues

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """One task: a binlog is one ordered stream."""
        return [dict(self.raw)]


# -- reading --------------------------------------------------------------------------------


class _Lost(Exception):
    """The binlog connection dropped (mysql-replication would silently reconnect at the last
    event's position, inside a transaction; we reconnect from a boundary ourselves)."""


@dataclasses.dataclass
class _Table:
    schema: TableSchema
    convert: list[tuple[str, Convert | None]]


Emit = Callable[[SourceRecord], None]


class _Capture:
    """The blocking part: checks, snapshot, binlog, reconnects. Runs in the reader thread."""

    def __init__(
        self,
        config: Any,
        flavour: str,
        partition: dict[str, str],
        stored: Mapping[str, Any] | None,
        logger: logging.Logger,
    ) -> None:
        self.c = config
        self.flavour = flavour
        self.partition = partition
        self.stored = Position.from_offset(stored) if stored and "file" in stored else None
        self.log = logger
        self.filters = Filters(config)
        self.source_schema = _source_schema(flavour)
        self.change_key, self.change_value = _schema_change_schemas(flavour, self.source_schema)
        self.settings = {
            "host": config.database_hostname,
            "port": config.database_port,
            "user": config.database_user,
            "password": config.database_password.get_secret_value(),
            "charset": "utf8mb4",
            "connect_timeout": 10,
        }
        self._db_include = [re.compile(p, re.I) for p in config.database_include_list]
        self._db_exclude = [re.compile(p, re.I) for p in config.database_exclude_list]
        self._tables: dict[tuple[Any, ...], _Table] = {}
        self._json: dict[tuple[str, str], frozenset[str]] = {}
        self._meta: Any = None
        self._last_heartbeat = time.monotonic()

    # -- filters, connections, checks

    def database(self, name: str) -> bool:
        if name.lower() in SYSTEM_DATABASES:
            return False
        if self._db_include:
            return any(p.fullmatch(name) for p in self._db_include)
        return not any(p.fullmatch(name) for p in self._db_exclude)

    def captured(self, db: str, table: str) -> bool:
        return self.database(db) and self.filters.table(db, table)

    def connect(self, **extra: Any) -> Any:
        return pymysql.connect(**self.settings, **extra)

    def meta(self) -> Any:
        """A connection for metadata queries, reopened after a server restart."""
        if self._meta is not None:
            try:
                self._meta.ping(reconnect=True)
                return self._meta
            except pymysql.err.Error:
                self._meta = None
        self._meta = self.connect(autocommit=True, cursorclass=pymysql.cursors.DictCursor)
        return self._meta

    def check_server(self) -> None:
        """Refuse a server whose binlog cannot give correct events, naming what to change."""
        with self.meta().cursor() as cursor:
            cursor.execute(
                "SHOW GLOBAL VARIABLES WHERE Variable_name IN "
                "('log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata')"
            )
            found = {r["Variable_name"].lower(): str(r["Value"]).upper() for r in cursor}
        where = f"{self.c.database_hostname}:{self.c.database_port}"
        if found.get("log_bin") != "ON":
            raise ConnectError(
                f"{where} has no binary log (log_bin=OFF): start the server with --log-bin"
                " (and binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL)"
            )
        for name, want in REQUIRED.items():
            have = found.get(name, "missing (the server is too old: MariaDB 10.5+/MySQL 8.0.14+)")
            if have != want:
                raise ConnectError(
                    f"{where} cannot give correct change events: {name} is {have}; set"
                    f" {name}={want} (SET GLOBAL {name}='{want}' and in the server's config)"
                )

    def binlog_files(self) -> list[str]:
        with self.meta().cursor() as cursor:
            cursor.execute("SHOW BINARY LOGS")
            return [r["Log_name"] for r in cursor]

    def json_columns(self, db: str, table: str) -> frozenset[str]:
        """MariaDB's JSON columns: LONGTEXT with a ``json_valid(col)`` check."""
        key = (db, table)
        if key not in self._json:
            found: set[str] = set()
            if self.flavour == "mariadb" or "MariaDB" in self.meta().get_server_info():
                with self.meta().cursor() as cursor:
                    cursor.execute(
                        "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS"
                        " WHERE CONSTRAINT_SCHEMA = %s AND TABLE_NAME = %s",
                        (db, table),
                    )
                    for r in cursor:
                        match = re.fullmatch(r"json_valid\(`((?:[^`]|``)+)`\)", r["CHECK_CLAUSE"])
                        if match:
                            found.add(match.group(1).replace("``", "`"))
            self._json[key] = frozenset(found)
        return self._json[key]

    # -- the loop

    def run(self, emit: Emit, stopped: Callable[[], bool]) -> None:
        try:
            self.check_server()
            position = self.start_position(emit, stopped)
            if position is None:  # initial_only: the snapshot was all there is to do
                while not stopped():
                    time.sleep(0.2)
                return
            self.stream(position, emit, stopped)
        finally:
            if self._meta is not None:
                self._meta.close()

    def start_position(self, emit: Emit, stopped: Callable[[], bool]) -> Position | None:
        mode, stored = self.c.snapshot_mode, self.stored
        if stored is not None and not stored.snapshot and mode != "always":
            if stored.file not in self.binlog_files():
                if mode != "when_needed":
                    raise self.purged(stored, "it is no longer in SHOW BINARY LOGS")
                self.log.warning("binlog %s was purged: taking a new snapshot", stored.file)
                return self.snapshot(emit, stopped)
            return None if mode == "initial_only" else stored
        if mode in ("no_data", "schema_only", "never"):
            if stored is not None:
                return stored
            with self.meta().cursor() as cursor:
                cursor.execute("SHOW MASTER STATUS")
                row = cursor.fetchone()
            return Position(row["File"], int(row["Position"]))
        position = self.snapshot(emit, stopped)
        return None if mode == "initial_only" else position

    def purged(self, stored: Position, why: str) -> ConnectError:
        return ConnectError(
            f"the binlog position {stored.file}:{stored.pos} this connector stopped at is gone"
            f" from the server ({why}): changes made since are lost to it. Set"
            " snapshot.mode=when_needed to take a new snapshot and go on, or stop the"
            " connector, delete its offsets (DELETE /connectors/<name>/offsets) and resume it"
            " (a new snapshot)"
        )

    # -- snapshot

    def snapshot(self, emit: Emit, stopped: Callable[[], bool]) -> Position:
        conn = self.connect(cursorclass=pymysql.cursors.SSDictCursor)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SET SESSION time_zone = '+00:00'")
                cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                at = self._snapshot_start(cursor)
                cursor.execute(
                    "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES"
                    " WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME"
                )
                tables = [(r["TABLE_SCHEMA"], r["TABLE_NAME"]) for r in cursor.fetchall()]
                tables = [(db, t) for db, t in tables if self.captured(db, t)]
                self.log.info("snapshot of %d tables at %s:%d", len(tables), at.file, at.pos)
                # One record is held back, so the last one can say the snapshot is done.
                pending: Any = None
                first = True
                for db, name in tables:
                    table, ddl = self._snapshot_table(cursor, db, name, at)
                    for item in [ddl] if ddl is not None else []:
                        if pending is not None:
                            first = self._snapshot_row(pending, first, False, at, emit)
                        pending = item
                    cursor.execute(f"SELECT * FROM {_quote(db)}.{_quote(name)}")
                    start = True
                    while rows := cursor.fetchmany(self.c.snapshot_fetch_size):
                        if stopped():
                            return at
                        for raw in rows:
                            if pending is not None:
                                first = self._snapshot_row(pending, first, False, at, emit)
                            marker = "first_in_data_collection" if start else "true"
                            pending = (table, raw, {"db": db, "table": name}, marker)
                            start = False
                    if pending is not None and not start:
                        pending = (*pending[:3], "last_in_data_collection")
                if pending is not None:
                    self._snapshot_row(pending, first, True, at, emit)
                cursor.execute("COMMIT")
        finally:
            conn.close()
        self.log.info("snapshot done; streaming from %s:%d", at.file, at.pos)
        return dataclasses.replace(at, snapshot=False)

    def _snapshot_start(self, cursor: Any) -> Position:
        """The snapshot and its binlog position, taken together (MariaDB, Percona); MySQL
        needs a global read lock for the moment it takes to start the transaction."""
        cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        cursor.execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
        found = {r["Variable_name"]: r["Value"] for r in cursor.fetchall()}
        if "Binlog_snapshot_file" in found:
            file, pos = found["Binlog_snapshot_file"], int(found["Binlog_snapshot_position"])
        else:
            cursor.execute("ROLLBACK")
            cursor.execute("FLUSH TABLES WITH READ LOCK")
            try:
                cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                cursor.execute("SHOW MASTER STATUS")
                row = cursor.fetchone()
                file, pos = row["File"], int(row["Position"])
            finally:
                cursor.execute("UNLOCK TABLES")
        return Position(file, pos, ts_sec=int(time.time()), snapshot=True)

    def _snapshot_table(
        self, cursor: Any, db: str, name: str, at: Position
    ) -> tuple[_Table, SourceRecord | None]:
        """The table's schema, and its CREATE TABLE event for the schema change topic."""
        cursor.execute(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION,"
            " NUMERIC_SCALE, DATETIME_PRECISION FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (db, name),
        )
        rows = cursor.fetchall()
        cursor.execute(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = %s"
            " AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
            (db, name),
        )
        key = [r["COLUMN_NAME"] for r in cursor.fetchall()]
        table = self.table(db, name, schema_columns(rows, self.json_columns(db, name)), key)
        if self.c.include_schema_changes:
            cursor.execute(f"SHOW CREATE TABLE {_quote(db)}.{_quote(name)}")
            ddl = cursor.fetchall()[0]["Create Table"]
            source = self.source(db, name, at, snapshot="true", ts_ms=at.ts_sec * 1000)
            return table, self.schema_change(db, ddl, source, at.offset())
        return table, None

    def _snapshot_row(
        self, pending: Any, first: bool, last: bool, at: Position, emit: Emit
    ) -> bool:
        """Emit a held snapshot record (a row, or a table's DDL event); the last one's offset
        says the snapshot is complete. Returns whether the first row is still to come."""
        offset = dataclasses.replace(at, snapshot=not last).offset()
        if isinstance(pending, SourceRecord):
            emit(pending.replace(source_offset=offset))
            return first
        table, raw, where, marker = pending
        marker = "last" if last else "first" if first else marker
        now = time.time_ns()
        source = self.source(where["db"], where["table"], at, snapshot=marker, ts_ms=now // 10**6)
        row = self.convert(table, raw, {})
        for record in change_records(
            table.schema, "r", None, row, source, partition=self.partition, offset=offset
        ):
            emit(record)
        return False

    # -- tables and records

    def table(self, db: str, name: str, columns: list[Column], key: Sequence[str]) -> _Table:
        signature = (db, name, tuple(columns), tuple(key))
        found = self._tables.get(signature)
        if found is None:
            kept = [c for c in columns if c.name in key or self.filters.column(db, name, c.name)]
            mode = self.c.decimal_handling_mode
            schema = table_schema(
                f"{self.c.topic_prefix}.{db}.{name}",
                [(c.name, column_schema(c, mode)) for c in kept],
                list(key),
                self.source_schema,
            )
            convert = [(c.name, value_converter(c, mode)) for c in kept]
            found = self._tables[signature] = _Table(schema, convert)
        return found

    @staticmethod
    def convert(table: _Table, raw: Mapping[str, Any], nones: Mapping[str, str]) -> dict[str, Any]:
        out = {}
        for name, fn in table.convert:
            value = raw.get(name)
            if value is None:
                out[name] = "" if nones.get(name) == "empty set" else None
            else:
                out[name] = value if fn is None else fn(value)
        return out

    def source(
        self, db: str, table: str | None, at: Position, *, snapshot: str, ts_ms: int, **more: Any
    ) -> dict[str, Any]:
        return {
            "version": VERSION,
            "connector": self.flavour,
            "name": self.c.topic_prefix,
            "ts_ms": ts_ms,
            "ts_us": ts_ms * 1000,
            "ts_ns": ts_ms * 1_000_000,
            "snapshot": snapshot,
            "db": db,
            "table": table,
            "server_id": at.server_id,
            "file": at.file,
            "pos": at.pos,
            "row": 0,
            **more,
        }

    def schema_change(
        self, db: str, ddl: str, source: Mapping[str, Any], offset: Mapping[str, Any]
    ) -> SourceRecord:
        schema = self.source_schema
        value = Struct.trusted(
            self.change_value,
            [
                Struct.trusted(schema, [source.get(f.name) for f in schema.fields]),
                time.time_ns() // 1_000_000,
                db,
                None,
                ddl,
                [],
            ],
        )
        return SourceRecord(
            topic=self.c.topic_prefix,
            key=Struct.trusted(self.change_key, [db]),
            key_schema=self.change_key,
            value=value,
            value_schema=self.change_value,
            source_partition=self.partition,
            source_offset=offset,
        )

    # -- the binlog

    def stream(self, position: Position, emit: Emit, stopped: Callable[[], bool]) -> None:
        """Read the binlog from ``position``; after a lost connection, again from the last
        boundary plus what of its transaction was delivered."""
        delay = 0.5
        self.resume_at = position
        self.log.info(
            "reading the binlog from %s:%d (then skipping %d row events, %d rows)",
            position.file,
            position.pos,
            position.event,
            position.row,
        )
        while not stopped():
            try:
                self.check_server()
                _Stream(self, position).run(emit, stopped)
                return
            except pymysql.err.OperationalError as error:
                code = error.args[0] if error.args else 0
                if code == 1236:
                    if self.c.snapshot_mode != "when_needed":
                        raise self.purged(
                            position, f"server error 1236: {error.args[1]}"
                        ) from error
                    self.log.warning("binlog position gone (%s): taking a new snapshot", error)
                    position = self.snapshot(emit, stopped)
                    continue
                if code == 4052 or "same server" in str(error):
                    raise ConnectError(
                        f"another replica reads this server's binlog as server id"
                        f" {self.c.database_server_id}: give each connector its own"
                        f" database.server.id ({error})"
                    ) from error
                if code not in TRANSIENT:
                    raise
                self.log.warning("binlog connection lost (%s); reconnecting", error)
            except (_Lost, pymysql.err.InterfaceError) as error:
                self.log.warning("binlog connection lost (%s); reconnecting", error)
            position = self.resume_at
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and not stopped():
                time.sleep(0.05)
            delay = min(delay * 2, 5.0)

    resume_at: Position


class _Stream:
    """One binlog connection, read from a transaction boundary."""

    def __init__(self, capture: _Capture, start: Position) -> None:
        from pymysqlreplication import BinLogStreamReader
        from pymysqlreplication.event import (
            GtidEvent,
            HeartbeatLogEvent,
            MariadbGtidEvent,
            QueryEvent,
            RotateEvent,
            XidEvent,
        )
        from pymysqlreplication.row_event import (
            DeleteRowsEvent,
            TableMapEvent,
            UpdateRowsEvent,
            WriteRowsEvent,
        )

        self.cap = capture
        self.kinds: dict[type, Callable[[Any], None]] = {
            GtidEvent: self.on_gtid,
            MariadbGtidEvent: self.on_gtid,
            QueryEvent: self.on_query,
            XidEvent: self.on_commit,
            RotateEvent: self.on_rotate,
            TableMapEvent: self.on_table_map,
            WriteRowsEvent: self.on_rows,
            UpdateRowsEvent: self.on_rows,
            DeleteRowsEvent: self.on_rows,
            HeartbeatLogEvent: lambda event: None,
        }
        self.ops = {WriteRowsEvent: "c", UpdateRowsEvent: "u", DeleteRowsEvent: "d"}
        #: The last transaction boundary read, and what of the transaction after it is done.
        self.at = dataclasses.replace(start, snapshot=False)
        #: Row events / rows of the current transaction to skip (delivered before a restart).
        self.skip_events, self.skip_rows = start.event, start.row
        self.at.event = self.at.row = 0
        self.in_txn = False
        self.gtid: str | None = None
        self.thread: int | None = None
        self.gtids = _Gtids(start.gtids)
        self.maps: dict[int, Any] = {}
        self.tables: dict[int, _Table | None] = {}
        connections = 0

        def connect(**kwargs: Any) -> Any:
            nonlocal connections
            if kwargs.get("db") != "information_schema":
                connections += 1
                if connections > 1:
                    raise _Lost("the binlog connection dropped")
            return pymysql.connect(**kwargs)

        self.reader = BinLogStreamReader(
            connection_settings=dict(capture.settings),
            server_id=capture.c.database_server_id,
            resume_stream=True,
            blocking=True,
            log_file=start.file,
            log_pos=start.pos,
            only_events=list(self.kinds),
            slave_heartbeat=1,
            pymysql_wrapper=connect,
            enable_logging=False,
        )

    def run(self, emit: Emit, stopped: Callable[[], bool]) -> None:
        self.emit = emit
        heartbeat = self.cap.c.heartbeat_interval_ms / 1000
        try:
            while not stopped():
                event = self.reader.fetchone()
                if event is None:
                    raise _Lost("the server ended the binlog stream")
                self.kinds[type(event)](event)
                if heartbeat and not self.in_txn:
                    now = time.monotonic()
                    if now - self.cap._last_heartbeat >= heartbeat:
                        self.cap._last_heartbeat = now
                        offset = self.at.offset()
                        emit(heartbeat_record(self.cap.c.topic_prefix, self.cap.partition, offset))
        finally:
            self.reader.close()

    # -- transaction boundaries

    def begin(self) -> None:
        if not self.in_txn:
            self.in_txn = True
            self.at.event = self.at.row = 0

    def on_gtid(self, event: Any) -> None:
        self.begin()
        self.gtid = event.gtid

    def on_query(self, event: Any) -> None:
        query = event.query.strip() if isinstance(event.query, str) else event.query.decode()
        self.thread = event.slave_proxy_id
        word = query.split(None, 1)[0].upper() if query else ""
        if word == "BEGIN":
            self.begin()
            return
        if word in ("COMMIT", "ROLLBACK") and query.upper() in (word, word + ";"):
            self.on_commit(event)
            return
        schema = event.schema.decode() if isinstance(event.schema, bytes) else event.schema
        target = ddl_target(query, schema)
        if target is not None:
            self.on_ddl(event, query, *target)
            self.on_commit(event)  # a DDL commits implicitly
        elif not self.in_txn:
            self.on_commit(event)  # a statement of its own (GRANT, FLUSH ...): a boundary
        # else: SAVEPOINT and the like, inside a transaction

    def on_commit(self, event: Any) -> None:
        if self.gtid is not None:
            self.gtids.add(self.gtid)
        self.at.file = self.reader.log_file
        self.at.pos = event.packet.log_pos
        self.at.gtids = str(self.gtids)
        self.at.ts_sec = event.timestamp
        self.at.server_id = event.packet.server_id
        self.at.event = self.at.row = 0
        self.skip_events = self.skip_rows = 0
        self.in_txn = False
        self.gtid = None
        self.cap.resume_at = dataclasses.replace(self.at)

    def on_rotate(self, event: Any) -> None:
        if not self.in_txn:
            self.at.file, self.at.pos = event.next_binlog, event.position
            self.cap.resume_at = dataclasses.replace(self.at)

    # -- changes

    def on_table_map(self, event: Any) -> None:
        if not event.optional_metadata.column_name_list and event.column_count:
            raise ConnectError(
                f"the binlog has no column names for {event.schema}.{event.table}:"
                " binlog_row_metadata is not FULL; set binlog_row_metadata=FULL"
                " (SET GLOBAL binlog_row_metadata='FULL' and in the server's config)"
            )
        self.maps[event.table_id] = event
        self.tables.pop(event.table_id, None)

    def on_ddl(self, event: Any, ddl: str, db: str, table: str | None) -> None:
        cap = self.cap
        cap._json.clear()
        if not cap.c.include_schema_changes or not cap.database(db):
            return
        if table is not None and not cap.filters.table(db, table):
            return
        at = dataclasses.replace(self.at, pos=event.packet.log_pos - event.event_size)
        source = cap.source(
            db,
            table,
            at,
            snapshot="false",
            ts_ms=event.timestamp * 1000,
            server_id=event.packet.server_id,
            gtid=self.gtid,
            thread=self.thread,
        )
        end = dataclasses.replace(self.at, file=self.reader.log_file, pos=event.packet.log_pos)
        end.event = end.row = 0
        end.gtids = str(self.gtids.with_(self.gtid))
        self.emit(cap.schema_change(db, ddl, source, end.offset()))

    def on_rows(self, event: Any) -> None:
        self.begin()
        if self.skip_events:
            self.skip_events -= 1
            self.done_event()
            return
        skip, self.skip_rows = self.skip_rows, 0
        cap = self.cap
        db, name = event.schema, event.table
        if event.table_id in self.tables:
            table = self.tables[event.table_id]
        else:
            table = self.tables[event.table_id] = self.table(event.table_id, db, name)
        if table is None:
            self.done_event()
            return
        op = self.ops[type(event)]
        pos = event.packet.log_pos - event.event_size
        base = cap.source(
            db,
            name,
            self.at,
            snapshot="false",
            ts_ms=event.timestamp * 1000,
            server_id=event.packet.server_id,
            gtid=self.gtid,
            thread=self.thread,
            pos=pos,
        )
        base["file"] = self.reader.log_file
        tombstone = cap.c.tombstones_on_delete
        offset_base = self.at.offset()
        offset_base["ts_sec"] = event.timestamp
        for i, row in enumerate(event.rows):
            if i < skip:
                continue
            source = {**base, "row": i}
            offset = {**offset_base, "row": i + 1}
            if self.at.event:
                offset["event"] = self.at.event
            for record in self.records(table, op, row, source, offset, tombstone):
                self.emit(record)
        self.done_event()

    def done_event(self) -> None:
        self.at.event += 1
        self.cap.resume_at = dataclasses.replace(self.at)

    def table(self, table_id: int, db: str, name: str) -> _Table | None:
        """The captured table a table map describes; None when it is not captured."""
        cap = self.cap
        if not cap.captured(db, name):
            return None
        table_map = self.maps[table_id]
        columns = binlog_columns(table_map, cap.json_columns(db, name))
        meta = table_map.optional_metadata
        index = list(meta.simple_primary_key_list or ())
        if not index and meta.primary_keys_with_prefix:
            prefixed = meta.primary_keys_with_prefix
            index = list(prefixed.keys() if isinstance(prefixed, dict) else prefixed)
        return cap.table(db, name, columns, [columns[i].name for i in index])

    def records(
        self,
        table: _Table,
        op: str,
        row: Mapping[str, Any],
        source: dict[str, Any],
        offset: dict[str, Any],
        tombstone: bool,
    ) -> list[SourceRecord]:
        cap, part = self.cap, self.cap.partition
        if op == "u":
            before = cap.convert(table, row["before_values"], row["before_none_sources"])
            after = cap.convert(table, row["after_values"], row["after_none_sources"])
            keys = table.schema.key_columns
            if keys and any(before[k] != after[k] for k in keys):  # a new key: d, tombstone, c
                out = change_records(
                    table.schema, "d", before, None, source, partition=part, offset=offset,
                    tombstone=tombstone,
                )  # fmt: skip
                return out + change_records(
                    table.schema, "c", None, after, source, partition=part, offset=offset
                )
            return change_records(
                table.schema, "u", before, after, source, partition=part, offset=offset
            )
        values = cap.convert(table, row["values"], row["none_sources"])
        if op == "c":
            return change_records(
                table.schema, "c", None, values, source, partition=part, offset=offset
            )
        return change_records(
            table.schema, "d", values, None, source, partition=part, offset=offset,
            tombstone=tombstone,
        )  # fmt: skip


class _Gtids:
    """Completed GTIDs: MariaDB's last ``domain-server-seq`` per domain, or MySQL's
    ``uuid:1-n`` per source."""

    def __init__(self, text: str) -> None:
        self.last: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            self.add(part)

    def add(self, gtid: str) -> None:
        if ":" in gtid:  # MySQL uuid:n or uuid:1-n
            uuid, _, number = gtid.partition(":")
            self.last[uuid] = f"{uuid}:1-{number.rpartition('-')[2]}"
        else:
            self.last[gtid.split("-", 1)[0]] = gtid

    def with_(self, gtid: str | None) -> _Gtids:
        out = _Gtids(str(self))
        if gtid is not None:
            out.add(gtid)
        return out

    def __str__(self) -> str:
        return ",".join(self.last[k] for k in sorted(self.last))
