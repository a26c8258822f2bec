"""Connect values ↔ the Python values fastavro reads and writes, compiled once per schema.

Written values are what Confluent's AvroData puts in a record: Decimal as its unscaled
two's-complement bytes, Date as days, Time and Timestamp as milliseconds, structs as dicts in
field order, maps with non-string keys as lists of ``{"key", "value"}`` records. The converters
hand fastavro schemas without ``logicalType``, so read values arrive in the same raw form and
are rebuilt into Connect values here (Decimal, date, time, datetime, structs, maps).

Each direction, and each direction of Avro's JSON defaults, is a
:class:`~faust_connect.codecs.visitor.SchemaVisitor`: only the leaves are written here.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from typing import Any

from faust_connect.codecs import logical as lg
from faust_connect.codecs.visitor import SchemaVisitor
from faust_connect.data import Schema, Struct, Type

__all__ = ["default_from_json", "default_to_json", "reader", "writer"]

#: A compiled conversion of one (possibly null) value.
Convert = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def writer(schema: Schema) -> Convert:
    """Connect value → fastavro datum, for values of ``schema``."""
    return _or_null(_WRITER.visit(schema))


def reader(schema: Schema) -> Convert:
    """fastavro datum → Connect value of ``schema``."""
    return _or_null(_READER.visit(schema))


def _or_null(convert: Convert) -> Convert:
    """``convert`` that passes None through (``_same`` stays itself: nothing to do)."""
    if convert is _same:
        return _same
    return lambda v: None if v is None else convert(v)


class _Writer(SchemaVisitor[Convert]):
    """The leaves of :func:`writer` (``_same`` where the Connect value is the datum)."""

    def on_decimal(self, schema: Schema, scale: int) -> Convert:
        return lambda v: lg.decimal_to_bytes(v, scale)

    def on_date(self, schema: Schema) -> Convert:
        return lg.date_to_days

    def on_time(self, schema: Schema) -> Convert:
        return lg.time_to_millis

    def on_timestamp(self, schema: Schema) -> Convert:
        return lg.timestamp_to_millis

    def on_primitive(self, schema: Schema) -> Convert:
        return _same

    def on_bytes(self, schema: Schema) -> Convert:
        return bytes

    def on_array(self, schema: Schema, items: Schema) -> Convert:
        item = writer(items)
        return list if item is _same else (lambda v: [item(x) for x in v])

    def on_map(self, schema: Schema, keys: Schema, values: Schema) -> Convert:
        key, value = writer(keys), writer(values)
        if keys.type is Type.STRING and not keys.optional:
            return lambda m: {k: value(v) for k, v in m.items()}
        return lambda m: [{"key": key(k), "value": value(v)} for k, v in m.items()]

    def on_struct(self, schema: Schema) -> Convert:
        names = tuple(f.name for f in schema.fields)
        special = tuple(
            (f.name, convert) for f in schema.fields if (convert := writer(f.schema)) is not _same
        )

        def write_struct(struct: Struct) -> dict[str, Any]:
            out = dict(zip(names, struct.values(), strict=True))
            for name, convert in special:
                out[name] = convert(out[name])
            return out

        return write_struct


class _Reader(SchemaVisitor[Convert]):
    """The leaves of :func:`reader` (a logical value fastavro already built passes as it is)."""

    def on_decimal(self, schema: Schema, scale: int) -> Convert:
        return lambda v: v if isinstance(v, decimal.Decimal) else lg.bytes_to_decimal(v, scale)

    def on_date(self, schema: Schema) -> Convert:
        return lambda v: v if isinstance(v, dt.date) else lg.days_to_date(v)

    def on_time(self, schema: Schema) -> Convert:
        return lambda v: v if isinstance(v, dt.time) else lg.millis_to_time(v)

    def on_timestamp(self, schema: Schema) -> Convert:
        return lambda v: v if isinstance(v, dt.datetime) else lg.millis_to_timestamp(v)

    def on_primitive(self, schema: Schema) -> Convert:
        return _same

    def on_array(self, schema: Schema, items: Schema) -> Convert:
        item = reader(items)
        return _same if item is _same else (lambda v: [item(x) for x in v])

    def on_map(self, schema: Schema, keys: Schema, values: Schema) -> Convert:
        key, value = reader(keys), reader(values)
        if keys.type is Type.STRING and not keys.optional:
            return lambda m: {k: value(v) for k, v in m.items()}
        return lambda m: {key(e["key"]): value(e["value"]) for e in m}

    def on_struct(self, schema: Schema) -> Convert:
        names = tuple(f.name for f in schema.fields)
        special = tuple(
            (i, convert)
            for i, f in enumerate(schema.fields)
            if (convert := reader(f.schema)) is not _same
        )
        trusted = Struct.trusted

        def read_struct(record: dict[str, Any]) -> Struct:
            values = [record.get(name) for name in names]
            for i, convert in special:
                values[i] = convert(values[i])
            return trusted(schema, values)

        return read_struct


_WRITER = _Writer()
_READER = _Reader()


def default_to_json(schema: Schema, value: Any) -> Any:
    """A Connect default as an Avro JSON default (bytes as ISO-8859-1 text)."""
    return _DefaultToJson(value).visit(schema)


def default_from_json(schema: Schema, value: Any) -> Any:
    """An Avro JSON default as a Connect value of ``schema``."""
    if value is None:
        return None
    return _DefaultFromJson(value).visit(schema)


class _Default(SchemaVisitor[Any]):
    """One default value, converted (a visitor per value: defaults are few and small)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def on_primitive(self, schema: Schema) -> Any:
        return self.value


class _DefaultToJson(_Default):
    """A Connect default's Avro JSON form."""

    def on_decimal(self, schema: Schema, scale: int) -> Any:
        return lg.decimal_to_bytes(self.value, scale).decode("latin-1")

    def on_date(self, schema: Schema) -> Any:
        return lg.date_to_days(self.value)

    def on_time(self, schema: Schema) -> Any:
        return lg.time_to_millis(self.value)

    def on_timestamp(self, schema: Schema) -> Any:
        return lg.timestamp_to_millis(self.value)

    def on_bytes(self, schema: Schema) -> Any:
        return bytes(self.value).decode("latin-1")

    def on_array(self, schema: Schema, items: Schema) -> Any:
        return [default_to_json(items, v) for v in self.value]

    def on_map(self, schema: Schema, keys: Schema, values: Schema) -> Any:
        if keys.type is Type.STRING:
            return {k: default_to_json(values, v) for k, v in self.value.items()}
        return [
            {"key": default_to_json(keys, k), "value": default_to_json(values, v)}
            for k, v in self.value.items()
        ]

    def on_struct(self, schema: Schema) -> Any:
        return {
            f.name: None if v is None else default_to_json(f.schema, v)
            for f, v in zip(schema.fields, self.value.values(), strict=True)
        }


class _DefaultFromJson(_Default):
    """A non-null Avro JSON default as a Connect value."""

    def on_decimal(self, schema: Schema, scale: int) -> Any:
        return lg.bytes_to_decimal(self.value.encode("latin-1"), scale)

    def on_date(self, schema: Schema) -> Any:
        return lg.days_to_date(self.value)

    def on_time(self, schema: Schema) -> Any:
        return lg.millis_to_time(self.value)

    def on_timestamp(self, schema: Schema) -> Any:
        return lg.millis_to_timestamp(self.value)

    def on_bytes(self, schema: Schema) -> Any:
        return str(self.value).encode("latin-1")

    def on_float(self, schema: Schema) -> Any:
        return float(self.value)

    def on_array(self, schema: Schema, items: Schema) -> Any:
        return [default_from_json(items, v) for v in self.value]

    def on_map(self, schema: Schema, keys: Schema, values: Schema) -> Any:
        value = self.value
        pairs = (
            value.items() if isinstance(value, dict) else ((e["key"], e["value"]) for e in value)
        )
        return {default_from_json(keys, k): default_from_json(values, v) for k, v in pairs}

    def on_struct(self, schema: Schema) -> Any:
        value = self.value
        return Struct(
            schema, {f.name: default_from_json(f.schema, value.get(f.name)) for f in schema.fields}
        )
