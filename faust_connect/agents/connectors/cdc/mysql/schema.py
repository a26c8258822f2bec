"""MySQL/MariaDB column types as Debezium's MySQL connector maps them, for
:mod:`faust_connect.agents.connectors.cdc.mysql.connector`: the columns a binlog table map or ``information_schema``
describes, their Connect schemas and value converters, and the schemas of the schema change
topic.

Column types follow Debezium's mapping (``adaptive_time_microseconds``, ``bigint.unsigned.
handling.mode=long``): TINYINT → int8 (unsigned int16; BOOLEAN is TINYINT(1), so int8 too, as in
Debezium's snapshots), SMALLINT → int16 (unsigned int32), MEDIUMINT → int32, INT → int32
(unsigned int64), BIGINT → int64, FLOAT/DOUBLE → float32/float64, DECIMAL per
``decimal.handling.mode``, strings → string, binary and BLOB → bytes, DATE → ``Date``, TIME →
``MicroTime``, DATETIME → ``Timestamp`` (fsp ≤ 3) or ``MicroTimestamp``, TIMESTAMP →
``ZonedTimestamp``, YEAR → ``Year``, JSON → ``Json``, ENUM/SET → ``Enum``/``EnumSet`` with their
``allowed`` values, BIT(1) → boolean, BIT(n) → ``Bits``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from faust_connect.agents.connectors.cdc.debezium import (
    MYSQL_SOURCE,
    Debezium,
    TableSchema,
    epoch_days,
    epoch_micros,
    micros_of_day,
    zoned_timestamp,
)
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
    Type,
    array_schema,
    decimal_schema,
    struct_schema,
)

__all__ = [
    "Column",
    "Convert",
    "MySqlTable",
    "binlog_columns",
    "column_schema",
    "schema_change_schemas",
    "schema_columns",
    "source_schema",
    "value_converter",
]


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
        if column.scale <= 3:
            return lambda v: epoch_micros(v) // 1000 if isinstance(v, dt.datetime) else None
        return lambda v: epoch_micros(v) if isinstance(v, dt.datetime) else None
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
        return lambda v: _bytes(v).ljust(column.length, b"\0")  # the binlog strips the padding
    if kind in ("binary", "varbinary", "blob", "geometry"):
        return _bytes
    return None


def _bytes(value: bytes | str) -> bytes:
    """A binary column's bytes: the binlog reader hands an empty one over as ``""``."""
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)


def _plain_decimal(value: decimal.Decimal) -> str:
    return format(value, "f")


def _days(value: Any) -> int | None:
    return epoch_days(value) if isinstance(value, dt.date) else None


def _micros_of_day(value: Any) -> int | None:
    return micros_of_day(value) if isinstance(value, dt.timedelta) else None


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


@dataclasses.dataclass
class MySqlTable:
    """A captured table: its event schemas and how to convert each kept column's value."""

    schema: TableSchema
    convert: list[tuple[str, Convert | None]]
    #: The kept columns' names, and their places.
    names: list[str] = dataclasses.field(init=False)
    places: dict[str, int] = dataclasses.field(init=False)
    #: Per converted column: its place and the converter.
    converters: list[tuple[int, Convert]] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.names = [name for name, _ in self.convert]
        self.places = {name: i for i, name in enumerate(self.names)}
        self.converters = [(i, fn) for i, (_, fn) in enumerate(self.convert) if fn is not None]

    def row(self, raw: Mapping[str, Any], nones: Mapping[str, str]) -> dict[str, Any]:
        """Column name → Connect value, from a binlog or snapshot row (``nones``: the binlog's
        reasons for None values; an empty SET is None with reason ``empty set``)."""
        out = {}
        for name, fn in self.convert:
            value = raw.get(name)
            if value is None:
                out[name] = "" if nones.get(name) == "empty set" else None
            else:
                out[name] = value if fn is None else fn(value)
        return out

    def values(self, raw: Mapping[str, Any], nones: Mapping[str, str]) -> list[Any]:
        """As :meth:`row`, the values in the order of the events' value fields."""
        out = [raw.get(name) for name in self.names]
        for i, fn in self.converters:
            value = out[i]
            if value is not None:
                out[i] = fn(value)
        for name, why in nones.items():
            place = self.places.get(name)
            if why == "empty set" and place is not None and out[place] is None:
                out[place] = ""
        return out


# -- events besides rows --------------------------------------------------------------------


def source_schema(connector: str) -> Schema:
    """The ``source`` block of ``connector``'s events (``mysql`` or ``mariadb``)."""
    if connector == "mysql":
        return MYSQL_SOURCE
    return MYSQL_SOURCE.replace(name=f"io.debezium.connector.{connector}.Source")


def schema_change_schemas(connector: str, source: Schema) -> tuple[Schema, Schema]:
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
