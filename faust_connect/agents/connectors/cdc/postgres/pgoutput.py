"""PostgreSQL's logical replication messages (pgoutput, protocol version 1) and its column
types as Debezium maps them, for :mod:`faust_connect.agents.connectors.cdc.postgres.connector`.

:func:`decode` turns one message into a small dataclass; pgoutput sends column values as text
(each type's output function), which :func:`column_type` parses per type OID and modifier into
the Connect value of Debezium's PostgreSQL mapping (adaptive time precision). A snapshot reads
columns as ``::text`` so both paths share the parsers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import re
import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from faust_connect.agents.connectors.cdc.debezium import (
    POSTGRES_SOURCE,
    Debezium,
    TableSchema,
    epoch_days,
    epoch_micros,
    table_schema,
    zoned_timestamp,
)
from faust_connect.data import (
    BYTES,
    INT32,
    Logical,
    Schema,
    Struct,
    Type,
    decimal_schema,
    struct_schema,
)
from faust_connect.exceptions import ConnectError

__all__ = [
    "UNAVAILABLE",
    "UNCHANGED",
    "Begin",
    "CapturedTable",
    "Change",
    "Column",
    "Commit",
    "Message",
    "Relation",
    "Truncate",
    "captured_table",
    "column_type",
    "decode",
    "format_lsn",
    "parse_lsn",
]

# -- pgoutput messages (protocol version 1) ----------------------------------------------------

#: A value pgoutput left out: an unchanged TOASTed column of an update.
UNCHANGED = object()
#: Debezium's text for a value the database did not send.
UNAVAILABLE = "__debezium_unavailable_value"
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in µs since 1970-01-01
_I16, _I32, _I64, _U32 = struct.Struct("!h"), struct.Struct("!i"), struct.Struct("!q"), "!I"


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a Relation message."""

    name: str
    type_oid: int
    typmod: int
    key: bool


@dataclasses.dataclass(frozen=True)
class Relation:
    """'R': a table's columns as the following changes carry them."""

    id: int
    schema: str
    name: str
    replica_identity: str
    columns: tuple[Column, ...]


@dataclasses.dataclass(frozen=True)
class Begin:
    """'B': a transaction starts (commit LSN, commit time in µs since 1970, xid)."""

    commit_lsn: int
    commit_us: int
    xid: int


@dataclasses.dataclass(frozen=True)
class Commit:
    """'C': the transaction ends; ``end_lsn`` is just past its commit record."""

    commit_lsn: int
    end_lsn: int
    commit_us: int


@dataclasses.dataclass(frozen=True)
class Change:
    """'I', 'U' or 'D' as op c/u/d; ``old`` is the key ('K') or whole old row ('O') if sent."""

    op: Literal["c", "u", "d"]
    relation: int
    old: tuple[Any, ...] | None
    new: tuple[Any, ...] | None
    old_is_key: bool = False


@dataclasses.dataclass(frozen=True)
class Truncate:
    """'T': tables truncated."""

    relations: tuple[int, ...]


Message = Begin | Commit | Relation | Change | Truncate


def decode(data: bytes) -> Message | None:
    """One pgoutput message; None for the kinds the source has no use for (Origin, Type, ...)."""
    kind = data[0]
    if kind == 0x42:  # B
        lsn, ts, xid = struct.unpack_from("!qqI", data, 1)
        return Begin(lsn, ts + PG_EPOCH_US, xid)
    if kind == 0x43:  # C
        _flags, lsn, end, ts = struct.unpack_from("!bqqq", data, 1)
        return Commit(lsn, end, ts + PG_EPOCH_US)
    if kind == 0x49:  # I
        (rel,) = struct.unpack_from(_U32, data, 1)
        new, _ = _tuple(data, 6)  # 'N' at 5
        return Change("c", rel, None, new)
    if kind == 0x55:  # U
        (rel,) = struct.unpack_from(_U32, data, 1)
        pos, old, is_key = 5, None, False
        if data[pos] in (0x4B, 0x4F):  # K, O
            is_key = data[pos] == 0x4B
            old, pos = _tuple(data, pos + 1)
        new, _ = _tuple(data, pos + 1)  # 'N'
        return Change("u", rel, old, new, is_key)
    if kind == 0x44:  # D
        (rel,) = struct.unpack_from(_U32, data, 1)
        old, _ = _tuple(data, 6)
        return Change("d", rel, old, None, data[5] == 0x4B)
    if kind == 0x52:  # R
        (rel,) = struct.unpack_from(_U32, data, 1)
        schema, pos = _cstring(data, 5)
        name, pos = _cstring(data, pos)
        identity = chr(data[pos])
        (count,) = _I16.unpack_from(data, pos + 1)
        pos += 3
        columns = []
        for _ in range(count):
            flags = data[pos]
            column, pos = _cstring(data, pos + 1)
            oid, typmod = struct.unpack_from("!Ii", data, pos)
            pos += 8
            columns.append(Column(column, oid, typmod, bool(flags & 1)))
        return Relation(rel, schema or "pg_catalog", name, identity, tuple(columns))
    if kind == 0x54:  # T
        (count,) = struct.unpack_from(_U32, data, 1)
        return Truncate(struct.unpack_from(f"!{count}I", data, 6))
    return None


def _cstring(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(0, pos)
    return data[pos:end].decode(), end + 1


def _tuple(data: bytes, pos: int) -> tuple[tuple[Any, ...], int]:
    """TupleData: a value per column, as text, None (null) or UNCHANGED."""
    (count,) = _I16.unpack_from(data, pos)
    pos += 2
    values: list[Any] = []
    append = values.append
    for _ in range(count):
        kind = data[pos]
        if kind == 0x74:  # t: text
            (size,) = _I32.unpack_from(data, pos + 1)
            start = pos + 5
            pos = start + size
            append(data[start:pos].decode())
        elif kind == 0x6E:  # n: null
            append(None)
            pos += 1
        elif kind == 0x75:  # u: unchanged TOAST
            append(UNCHANGED)
            pos += 1
        else:
            raise ConnectError(f"pgoutput: unexpected tuple value kind {chr(kind)!r}")
    return tuple(values), pos


def parse_lsn(text: str) -> int:
    """``'16/B374D848'`` as a number."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def format_lsn(lsn: int) -> str:
    """A number as ``'16/B374D848'``."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


# -- types: text → Connect values, per type OID ------------------------------------------------

Parse = Callable[[str], Any]
#: IntervalStyle ``postgres``: each part signed where signs are mixed (``-3 mons +2 days``,
#: ``1 day -02:00:00``).
_INTERVAL = re.compile(
    r"(?:([+-]?\d+) years? ?)?(?:([+-]?\d+) mons? ?)?(?:([+-]?\d+) days? ?)?"
    r"(?:([+-]?)(\d+):(\d+):(\d+)(?:\.(\d+))?)?$"
)


def _date(text: str) -> int | None:
    if not text[0].isdigit() or text.endswith("BC"):
        return None  # infinity, or a date Debezium cannot show either
    return epoch_days(dt.date.fromisoformat(text))


def _micro_time(text: str) -> int:
    hours, minutes, seconds = text.split(":")
    return (int(hours) * 3600 + int(minutes) * 60) * 1_000_000 + round(float(seconds) * 1e6)


def _milli_time(text: str) -> int:
    return _micro_time(text) // 1000


def _timestamp_us(text: str) -> int | None:
    if not text[0].isdigit() or text.endswith("BC"):
        return None
    return epoch_micros(dt.datetime.fromisoformat(text))


def _timestamp_ms(text: str) -> int | None:
    micros = _timestamp_us(text)
    return None if micros is None else micros // 1000


def _zoned_timestamp(text: str) -> str | None:
    if not text[0].isdigit() or text.endswith("BC"):
        return None
    return zoned_timestamp(dt.datetime.fromisoformat(text), micros_always=True)


def _zoned_time(text: str) -> str:
    value = dt.time.fromisoformat(text)
    offset = value.utcoffset() or dt.timedelta()
    day = dt.datetime.combine(dt.date(2000, 1, 3), value.replace(tzinfo=None)) - offset
    return zoned_timestamp(day).partition("T")[2]


def _interval(text: str) -> int:
    """Debezium's MicroDuration: months count 365.25/12 days."""
    match = _INTERVAL.match(text)
    if match is None:
        raise ConnectError(f"unreadable interval {text!r} (IntervalStyle must be postgres)")
    years, months, days, sign, hours, minutes, seconds, fraction = match.groups()
    total_days = int(days or 0) + (int(months or 0) + int(years or 0) * 12) * 365.25 / 12
    clock = int(hours or 0) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)
    micros = int((fraction or "0").ljust(6, "0")[:6])
    clock_us = clock * 1_000_000 + micros
    return int(total_days * 86_400_000_000) + (-clock_us if sign == "-" else clock_us)


def _bool(text: str) -> bool:
    return text[0] == "t"  # 't' from pgoutput, 'true' from a snapshot's ::text


def _bytea(text: str) -> bytes:
    if text.startswith("\\x"):
        return bytes.fromhex(text[2:])
    raise ConnectError("bytea not in hex form: set bytea_output=hex on the server")


def _decimal(text: str) -> decimal.Decimal | None:
    value = decimal.Decimal(text)
    return None if not value.is_finite() else value


def _float_or_none(text: str) -> float | None:
    value = decimal.Decimal(text)
    return None if value.is_nan() else float(value)


VARIABLE_SCALE_DECIMAL = struct_schema(
    [("scale", INT32), ("value", BYTES)],
    name=Debezium.VARIABLE_SCALE_DECIMAL,
    version=1,
    doc="Variable scaled decimal",
    optional=True,
)


def _variable_decimal(text: str) -> Struct | None:
    value = decimal.Decimal(text)
    if not value.is_finite():
        return None
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    unscaled = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    scale = max(-exponent, 0)
    if exponent > 0:
        unscaled *= 10**exponent
    size = max(1, (unscaled.bit_length() + 8) // 8)
    return Struct.trusted(VARIABLE_SCALE_DECIMAL, [scale, unscaled.to_bytes(size, signed=True)])


def _text(text: str) -> str:
    return text


#: Fixed mappings: OID → (schema type, semantic name, parse).
_SIMPLE: dict[int, tuple[Type, str | None, Parse]] = {
    16: (Type.BOOLEAN, None, _bool),
    17: (Type.BYTES, None, _bytea),
    18: (Type.STRING, None, _text),  # "char"
    19: (Type.STRING, None, _text),  # name
    20: (Type.INT64, None, int),
    21: (Type.INT16, None, int),
    23: (Type.INT32, None, int),
    25: (Type.STRING, None, _text),
    26: (Type.INT64, None, int),  # oid
    114: (Type.STRING, Debezium.JSON, _text),
    142: (Type.STRING, Debezium.XML, _text),
    700: (Type.FLOAT32, None, float),
    701: (Type.FLOAT64, None, float),
    1042: (Type.STRING, None, _text),  # bpchar
    1043: (Type.STRING, None, _text),  # varchar
    1082: (Type.INT32, Debezium.DATE, _date),
    1184: (Type.STRING, Debezium.ZONED_TIMESTAMP, _zoned_timestamp),
    1186: (Type.INT64, "io.debezium.time.MicroDuration", _interval),
    1266: (Type.STRING, Debezium.ZONED_TIME, _zoned_time),
    2950: (Type.STRING, Debezium.UUID, _text),
    3802: (Type.STRING, Debezium.JSON, _text),
}


def column_type(oid: int, typmod: int, *, optional: bool, decimals: str) -> tuple[Schema, Parse]:
    """The Connect schema of a column (Debezium's mapping, adaptive time precision) and the
    function that turns its text into the Connect value. Types without a mapping are text."""
    simple = _SIMPLE.get(oid)
    if simple is not None:
        kind, name, parse = simple
        version = 1 if name else None
        return Schema(kind, name=name, version=version, optional=optional), parse
    if oid in (1083, 1114):  # time, timestamp: ms below precision 4 (adaptive mode)
        precision = typmod if typmod >= 0 else 6
        if oid == 1083:
            if precision <= 3:
                return Debezium.schema(Type.INT32, Debezium.TIME, optional=optional), _milli_time
            return Debezium.schema(Type.INT64, Debezium.MICRO_TIME, optional=optional), _micro_time
        if precision <= 3:
            return (
                Debezium.schema(Type.INT64, Debezium.TIMESTAMP, optional=optional),
                _timestamp_ms,
            )
        return (
            Debezium.schema(Type.INT64, Debezium.MICRO_TIMESTAMP, optional=optional),
            _timestamp_us,
        )
    if oid == 1700:  # numeric
        if decimals == "double":
            return Schema(Type.FLOAT64, optional=optional), _float_or_none
        if decimals == "string":
            return Schema(Type.STRING, optional=optional), _text
        if typmod < 0:
            return VARIABLE_SCALE_DECIMAL.replace(optional=optional), _variable_decimal
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
        schema = decimal_schema(
            scale, optional=optional, parameters={"connect.decimal.precision": str(precision)}
        )
        return schema, _decimal
    return Schema(Type.STRING, optional=optional), _text


def _fallback(schema: Schema) -> Any:
    """Debezium's value for a NOT NULL column the server did not send (a key-only old row)."""
    if schema.name == Logical.DECIMAL:
        return decimal.Decimal(0)
    if schema.type == Type.STRUCT:
        return _variable_decimal("0")
    return {
        Type.BOOLEAN: False,
        Type.STRING: "",
        Type.BYTES: b"",
        Type.FLOAT32: 0.0,
        Type.FLOAT64: 0.0,
    }.get(schema.type, 0)


@dataclasses.dataclass(frozen=True)
class CapturedTable:
    """A captured table: its event schemas and how to read each column's text."""

    schema_name: str
    name: str
    events: TableSchema
    names: tuple[str, ...]
    parsers: tuple[Parse, ...]
    #: Per column: the value a NOT NULL column gets when the server sent nothing.
    fallbacks: tuple[Any, ...]
    #: Per column: the value of an unchanged TOASTed column the server left out.
    unchanged: tuple[Any, ...]
    #: Where each of the events' value fields stands among the columns (None: all, in order).
    kept: tuple[int, ...] | None = None

    def row(self, values: Sequence[Any], *, partial: bool = False) -> dict[str, Any]:
        """Column name → Connect value; ``partial``: a key-only row (others get fallbacks)."""
        out: dict[str, Any] = {}
        for name, parse, fallback, unchanged, text in zip(
            self.names, self.parsers, self.fallbacks, self.unchanged, values, strict=False
        ):
            if text is None:
                out[name] = fallback if partial else None
            elif text is UNCHANGED:
                out[name] = unchanged
            else:
                out[name] = parse(text)
        return out

    def values(self, texts: Sequence[Any], *, partial: bool = False) -> list[Any]:
        """The Connect values of the events' value fields, in order (as :meth:`row`)."""
        if len(texts) == len(self.parsers) and None not in texts and UNCHANGED not in texts:
            out = [parse(text) for parse, text in zip(self.parsers, texts, strict=True)]
        else:
            row = self.row(texts, partial=partial)
            out = [row.get(name) for name in self.names]
        kept = self.kept
        return out if kept is None else [out[i] for i in kept]


def captured_table(
    topic: str,
    schema_name: str,
    name: str,
    columns: Iterable[tuple[str, int, int]],
    not_null: set[str],
    key: Sequence[str],
    *,
    keep: Callable[[str], bool],
    decimals: str,
) -> CapturedTable:
    """Build a table from ``(name, type oid, typmod)`` columns, the NOT NULL column names, the
    primary key and a column filter (key columns are always kept)."""
    fields: list[tuple[str, Schema]] = []
    parsers: list[Parse] = []
    fallbacks: list[Any] = []
    unchanged: list[Any] = []
    names: list[str] = []
    for column, oid, typmod in columns:
        schema, parse = column_type(oid, typmod, optional=column not in not_null, decimals=decimals)
        names.append(column)
        parsers.append(parse)
        fallback = None if schema.optional else _fallback(schema)
        fallbacks.append(fallback)
        if schema.type == Type.STRING:
            unchanged.append(UNAVAILABLE)
        elif schema.type == Type.BYTES and schema.name is None:
            unchanged.append(UNAVAILABLE.encode())
        else:
            unchanged.append(fallback)
        if column in key or keep(column):
            fields.append((column, schema))
    events = table_schema(topic, fields, list(key), POSTGRES_SOURCE)
    kept = tuple(names.index(field) for field, _ in fields)
    return CapturedTable(
        schema_name,
        name,
        events,
        tuple(names),
        tuple(parsers),
        tuple(fallbacks),
        tuple(unchanged),
        kept=None if kept == tuple(range(len(names))) else kept,
    )
