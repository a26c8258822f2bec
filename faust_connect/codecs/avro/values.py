"""Connect values ↔ the Python values fastavro reads and writes, compiled once per schema.

Written values are what Confluent's AvroData puts in a record: Decimal as its unscaled
two's-complement bytes, Date as days, Time and Timestamp as milliseconds, structs as dicts in
field order, maps with non-string keys as lists of ``{"key", "value"}`` records. The converters
hand fastavro schemas without ``logicalType``, so read values arrive in the same raw form and
are rebuilt into Connect values here (Decimal, date, time, datetime, structs, maps).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from typing import Any

from faust_connect.codecs import logical as lg
from faust_connect.data import Logical, Schema, Struct, Type

__all__ = ["default_from_json", "default_to_json", "reader", "writer"]

#: A compiled conversion of one (possibly null) value.
Convert = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def writer(schema: Schema) -> Convert:
    """Connect value → fastavro datum, for values of ``schema``."""
    convert = _writer(schema)
    if convert is _same:
        return _same
    return lambda v: None if v is None else convert(v)


def _writer(schema: Schema) -> Convert:
    name = schema.name
    if name == Logical.DECIMAL:
        scale = lg.decimal_scale(schema)
        return lambda v: lg.decimal_to_bytes(v, scale)
    if name == Logical.DATE:
        return lg.date_to_days
    if name == Logical.TIME:
        return lg.time_to_millis
    if name == Logical.TIMESTAMP:
        return lg.timestamp_to_millis
    kind = schema.type
    if kind is Type.BYTES:
        return bytes
    if kind is Type.ARRAY:
        assert schema.value_schema is not None
        item = writer(schema.value_schema)
        return list if item is _same else (lambda v: [item(x) for x in v])
    if kind is Type.MAP:
        assert schema.key_schema is not None and schema.value_schema is not None
        key, value = writer(schema.key_schema), writer(schema.value_schema)
        if schema.key_schema.type is Type.STRING and not schema.key_schema.optional:
            return lambda m: {k: value(v) for k, v in m.items()}
        return lambda m: [{"key": key(k), "value": value(v)} for k, v in m.items()]
    if kind is Type.STRUCT:
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
    return _same


def reader(schema: Schema) -> Convert:
    """fastavro datum → Connect value of ``schema``."""
    convert = _reader(schema)
    if convert is _same:
        return _same
    return lambda v: None if v is None else convert(v)


def _reader(schema: Schema) -> Convert:
    name = schema.name
    if name == Logical.DECIMAL:
        scale = lg.decimal_scale(schema)
        return lambda v: v if isinstance(v, decimal.Decimal) else lg.bytes_to_decimal(v, scale)
    if name == Logical.DATE:
        return lambda v: v if isinstance(v, dt.date) else lg.days_to_date(v)
    if name == Logical.TIME:
        return lambda v: v if isinstance(v, dt.time) else lg.millis_to_time(v)
    if name == Logical.TIMESTAMP:
        return lambda v: v if isinstance(v, dt.datetime) else lg.millis_to_timestamp(v)
    kind = schema.type
    if kind is Type.ARRAY:
        assert schema.value_schema is not None
        item = reader(schema.value_schema)
        return _same if item is _same else (lambda v: [item(x) for x in v])
    if kind is Type.MAP:
        assert schema.key_schema is not None and schema.value_schema is not None
        key, value = reader(schema.key_schema), reader(schema.value_schema)
        if (
            isinstance(schema.key_schema, Schema)
            and schema.key_schema.type is Type.STRING
            and not schema.key_schema.optional
        ):
            return lambda m: {k: value(v) for k, v in m.items()}
        return lambda m: {key(e["key"]): value(e["value"]) for e in m}
    if kind is Type.STRUCT:
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
    return _same


def default_to_json(schema: Schema, value: Any) -> Any:
    """A Connect default as an Avro JSON default (bytes as ISO-8859-1 text)."""
    name = schema.name
    if name == Logical.DECIMAL:
        return lg.decimal_to_bytes(value, lg.decimal_scale(schema)).decode("latin-1")
    if name == Logical.DATE:
        return lg.date_to_days(value)
    if name == Logical.TIME:
        return lg.time_to_millis(value)
    if name == Logical.TIMESTAMP:
        return lg.timestamp_to_millis(value)
    kind = schema.type
    if kind is Type.BYTES:
        return bytes(value).decode("latin-1")
    if kind is Type.ARRAY:
        assert schema.value_schema is not None
        return [default_to_json(schema.value_schema, v) for v in value]
    if kind is Type.MAP:
        assert schema.key_schema is not None and schema.value_schema is not None
        if schema.key_schema.type is Type.STRING:
            return {k: default_to_json(schema.value_schema, v) for k, v in value.items()}
        return [
            {
                "key": default_to_json(schema.key_schema, k),
                "value": default_to_json(schema.value_schema, v),
            }
            for k, v in value.items()
        ]
    if kind is Type.STRUCT:
        return {
            f.name: None if v is None else default_to_json(f.schema, v)
            for f, v in zip(schema.fields, value.values(), strict=True)
        }
    return value


def default_from_json(schema: Schema, value: Any) -> Any:
    """An Avro JSON default as a Connect value of ``schema``."""
    if value is None:
        return None
    name = schema.name
    if name == Logical.DECIMAL:
        return lg.bytes_to_decimal(value.encode("latin-1"), lg.decimal_scale(schema))
    if name == Logical.DATE:
        return lg.days_to_date(value)
    if name == Logical.TIME:
        return lg.millis_to_time(value)
    if name == Logical.TIMESTAMP:
        return lg.millis_to_timestamp(value)
    kind = schema.type
    if kind is Type.BYTES:
        return str(value).encode("latin-1")
    if kind in (Type.FLOAT32, Type.FLOAT64):
        return float(value)
    if kind is Type.ARRAY:
        assert schema.value_schema is not None
        return [default_from_json(schema.value_schema, v) for v in value]
    if kind is Type.MAP:
        assert schema.key_schema is not None and schema.value_schema is not None
        pairs = (
            value.items() if isinstance(value, dict) else ((e["key"], e["value"]) for e in value)
        )
        return {
            default_from_json(schema.key_schema, k): default_from_json(schema.value_schema, v)
            for k, v in pairs
        }
    if kind is Type.STRUCT:
        return Struct(
            schema, {f.name: default_from_json(f.schema, value.get(f.name)) for f in schema.fields}
        )
    return value
