"""Cast: change the type of fields, or of the whole key or value.

``spec`` is either one type for the whole key/value (``int32``) or ``field:type`` pairs
(``f:int32,g:string``). Types: int8, int16, int32, int64, float32, float64, boolean, string.
Integers narrow the way Java does (wrapping); bytes cast only to string (base64).

>>> from faust_connect.records import SourceRecord
>>> Cast(spec=("f:int32", "g:string")).apply(
...     SourceRecord(topic="t", value={"f": "42", "g": 1.5, "h": True})).value
{'f': 42, 'g': '1.5', 'h': True}
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import struct
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import Field, field_validator

from faust_connect.config import CommaList
from faust_connect.data import Schema, Type
from faust_connect.records import ConnectRecord
from faust_connect.transforms._util import (
    NULL_DEFAULT_DOC,
    SchemaCache,
    StructMapTransform,
    TargetConfig,
    Values,
    rebuild_struct_schema,
)
from faust_connect.transforms.base import StructValuesFn

__all__ = ["Cast", "cast_value"]

_TARGETS = {
    t.value: t
    for t in (
        Type.INT8,
        Type.INT16,
        Type.INT32,
        Type.INT64,
        Type.FLOAT32,
        Type.FLOAT64,
        Type.BOOLEAN,
        Type.STRING,
    )
}
_CASTABLE = {*_TARGETS.values(), Type.BYTES}


def _wrap(number: int, bits: int) -> int:
    """Java's narrowing conversion: keep the low ``bits`` bits, two's complement."""
    mask = (1 << bits) - 1
    number &= mask
    return number - (1 << bits) if number >> (bits - 1) else number


def _to_int(value: Any, bits: int) -> int:
    if isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            number = int(float(text))
        if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
            raise ValueError(f"{value!r} is out of range for int{bits}")
        return number
    if isinstance(value, (int, float, decimal.Decimal)):
        return _wrap(int(value), bits)
    raise TypeError(f"cannot cast {type(value).__name__} to int{bits}")


def _to_float(value: Any, single: bool) -> float:
    if isinstance(value, (bool, int, float, decimal.Decimal)):
        number = float(value)
    elif isinstance(value, str):
        number = float(value.strip())
    else:
        raise TypeError(f"cannot cast {type(value).__name__} to a float")
    if single:
        number = float(struct.unpack("f", struct.pack("f", number))[0])
    return number


def _to_bool(value: Any) -> bool:
    """Kafka's rules: a string is true only if it is ``true`` in any case (Java's
    ``Boolean.parseBoolean``: ``"1"``, ``" true"`` and ``"yes"`` are false); a number is true
    if its Java ``longValue()`` is not 0 (a float is truncated: 0.5 is false, NaN false)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    if isinstance(value, float):
        return abs(value) >= 1  # truncated toward zero (saturating), NaN to 0
    if isinstance(value, (int, decimal.Decimal)):
        return _wrap(int(value), 64) != 0  # BigDecimal.longValue keeps the low 64 bits
    raise TypeError(f"cannot cast {type(value).__name__} to boolean")


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.datetime):
        when: dt.datetime = value.astimezone(dt.UTC) if value.tzinfo else value
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, (dt.date, int, float, str, decimal.Decimal)):
        return str(value)
    raise TypeError(f"cannot cast {type(value).__name__} to string")


_CASTERS: dict[Type, Callable[[Any], Any]] = {
    Type.INT8: lambda v: _to_int(v, 8),
    Type.INT16: lambda v: _to_int(v, 16),
    Type.INT32: lambda v: _to_int(v, 32),
    Type.INT64: lambda v: _to_int(v, 64),
    Type.FLOAT32: lambda v: _to_float(v, True),
    Type.FLOAT64: lambda v: _to_float(v, False),
    Type.BOOLEAN: _to_bool,
    Type.STRING: _to_string,
}


def cast_value(value: Any, to: Type) -> Any:
    """``value`` cast to the Connect type ``to`` (None stays None); ValueError/TypeError if not."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)) and to is not Type.STRING:
        raise TypeError(f"bytes cast only to string, not {to}")
    return _CASTERS[to](value)


def _check_source(schema: Schema, where: str) -> None:
    if schema.type not in _CASTABLE:
        raise TypeError(f"{where} has type {schema.type}, which Cast does not support")


class CastConfig(TargetConfig):
    """Keys of Cast."""

    spec: CommaList = Field(
        description="field:type pairs (f:int32,g:string), or one type for the whole key/value.",
        min_length=1,
    )
    replace_null_with_default: bool = Field(True, description=NULL_DEFAULT_DOC)

    @field_validator("spec")
    @classmethod
    def _check_spec(cls, spec: tuple[str, ...]) -> tuple[str, ...]:
        for item in spec:
            name, sep, kind = item.rpartition(":")
            if kind.strip().lower() not in _TARGETS:
                raise ValueError(
                    f"invalid type {kind.strip()!r} in {item!r}; expected one of {', '.join(_TARGETS)}"
                )
            if not sep and len(spec) > 1:
                raise ValueError("a whole-value type must be the only entry of spec")
            if sep and not name.strip():
                raise ValueError(f"missing field name in {item!r}")
        return spec


#: What a failed cast raises; Cast reports them as its TransformError.
_CAST_ERRORS = (ValueError, TypeError, decimal.InvalidOperation)


class Cast(StructMapTransform):
    """Cast fields (or the whole key/value) to other primitive types."""

    Config = CastConfig
    config: CastConfig
    action = "field casting"

    def configure(self) -> None:
        casts: dict[str, Type] = {}
        self._whole: Type | None = None
        for item in self.config.spec:
            name, sep, kind = item.rpartition(":")
            if sep:
                casts[name.strip()] = _TARGETS[kind.strip().lower()]
            else:
                self._whole = _TARGETS[kind.strip().lower()]
        self._casts = casts
        self._schemas: SchemaCache[Schema, Schema] = SchemaCache()
        self._types: SchemaCache[Schema, list[tuple[int, Type]]] = SchemaCache()

    def apply_part(
        self, record: ConnectRecord, schema: Schema | None, value: Any
    ) -> tuple[Schema | None, Any]:
        """The key or value (or its fields) cast."""
        if self._whole is None or value is None:
            return super().apply_part(record, schema, value)
        try:
            new_schema = None if schema is None else self._schemas.get_or(schema, self._cast_schema)
            return new_schema, cast_value(value, self._whole)
        except _CAST_ERRORS as exc:
            raise self.fail(str(exc)) from exc

    def values_path(self) -> StructValuesFn | None:
        """The struct case on values (see PartTransform); none when casting the whole part."""
        return None if self._whole is not None else self.on_values

    def on_map(self, record: ConnectRecord, value: Mapping[str, Any]) -> dict[str, Any]:
        """The map with its fields cast."""
        casts = self._casts
        try:
            return {k: cast_value(v, casts[k]) if k in casts else v for k, v in value.items()}
        except _CAST_ERRORS as exc:
            raise self.fail(str(exc)) from exc

    def on_values(
        self, record: ConnectRecord, schema: Schema, values: Values, fields: Schema | None = None
    ) -> tuple[Schema, list[Any]]:
        """The struct with its fields cast."""
        try:
            new_schema = self._schemas.get_or(schema, self._cast_schema)
            fields, filled = self.filled(schema, values, fields)
            if fields is schema:  # the output fields are the input's, in order
                if len(filled) != len(schema.fields):
                    raise ValueError(f"{len(filled)} values for {len(schema.fields)} fields")
                out = list(filled)
                for index, to in self._types.get_or(new_schema, self._cast_types):
                    out[index] = cast_value(out[index], to)
                return new_schema, out
            current = dict(zip((f.name for f in fields.fields), filled, strict=True))
            return new_schema, [
                cast_value(current[f.name], f.schema.type)
                if f.name in self._casts
                else current[f.name]
                for f in new_schema.fields
            ]
        except _CAST_ERRORS as exc:
            raise self.fail(str(exc)) from exc

    def _cast_types(self, new_schema: Schema) -> list[tuple[int, Type]]:
        """The output fields that are cast: their index and the type they are cast to."""
        return [(f.index, f.schema.type) for f in new_schema.fields if f.name in self._casts]

    def _cast_schema(self, schema: Schema) -> Schema:
        if self._whole is not None:
            _check_source(schema, f"the {self.config.target}")
            return _primitive(self._whole, schema)
        if schema.type is not Type.STRUCT:
            raise self.fail(f"field casting needs a struct schema, not {schema.type}")
        fields = []
        for field in schema.fields:
            to = self._casts.get(field.name)
            if to is None:
                fields.append((field.name, field.schema))
                continue
            _check_source(field.schema, f"field {field.name!r}")
            if (
                field.schema.type is Type.BYTES
                and field.schema.name is None
                and to is not Type.STRING
            ):
                raise self.fail(f"field {field.name!r}: bytes cast only to string")
            fields.append((field.name, _primitive(to, field.schema)))
        return rebuild_struct_schema(schema, fields)


def _primitive(to: Type, source: Schema) -> Schema:
    default = cast_value(source.default, to)
    return Schema(to, optional=source.optional, default=default)
