"""Parsed JSON → Connect values, compiled once per schema.

:class:`JsonDecoder` builds, for a schema, a decoder: a function from what orjson parsed (maybe
None) to the Connect value, checking types as it goes. Struct and array decoders are generated
code with an inline type check per field or element; a field's full decoder runs only when that
check fails (a null, a default, a conversion such as base64 or a logical type, or an error).
The walk over the schema is :class:`~faust_connect.codecs.visitor.SchemaVisitor`'s; the
decoder supplies its ``on_*`` leaves.

A Decimal written as a JSON number (``decimal.format=NUMERIC``) may have more digits than a
float holds, so finding a float where a Decimal belongs raises :class:`InexactDecimal`: the
converter then parses the message again with every number kept as ``decimal.Decimal``.
"""

from __future__ import annotations

import base64
import binascii
import decimal
from typing import Any

from faust_connect.codecs import logical as lg
from faust_connect.codecs.json.encode import Encode, ValueJsonError, compile_function, json_type
from faust_connect.codecs.visitor import SchemaVisitor
from faust_connect.data import Schema, Struct, Type

__all__ = ["Decode", "InexactDecimal", "JsonDecoder"]

#: A compiled decoder: a parsed JSON value (maybe None) → a Connect value.
Decode = Encode

_INT_RANGES = {
    Type.INT8: (-(2**7), 2**7 - 1),
    Type.INT16: (-(2**15), 2**15 - 1),
    Type.INT32: (-(2**31), 2**31 - 1),
    Type.INT64: (-(2**63), 2**63 - 1),
}


class InexactDecimal(Exception):
    """A Decimal arrived as a JSON float: parse again keeping every digit."""


class JsonDecoder(SchemaVisitor[Decode]):
    """Compiles per-schema decoders for one converter's settings (the ``on_*`` leaves)."""

    def __init__(self, *, replace_null_with_default: bool = True):
        self.replace_null_with_default = replace_null_with_default

    def decoder(self, schema: Schema) -> Decode:
        """The decoder of ``schema`` values: parsed JSON (maybe None) → Connect value."""
        if schema.type is Type.STRUCT:  # null handling inside the generated code
            if schema.default is not None and self.replace_null_with_default:
                return self._struct_decoder(schema, "default")
            return self._struct_decoder(schema, "optional" if schema.optional else "required")
        inner = self.visit(schema)
        if schema.default is not None and self.replace_null_with_default:
            default = schema.default
            return lambda v: default if v is None else inner(v)
        if schema.optional:
            return lambda v: None if v is None else inner(v)
        kind = str(schema.type).upper()

        def required(v: Any) -> Any:
            if v is None:
                raise ValueJsonError(f"Invalid null value for required {kind} field")
            return inner(v)

        return required

    def on_decimal(self, schema: Schema, scale: int) -> Decode:
        return lambda v: _decimal_from_json(v, scale)

    def on_date(self, schema: Schema) -> Decode:
        return self._logical(schema, lg.days_to_date)

    def on_time(self, schema: Schema) -> Decode:
        return self._logical(schema, lg.millis_to_time)

    def on_timestamp(self, schema: Schema) -> Decode:
        return self._logical(schema, lg.millis_to_timestamp)

    def _logical(self, schema: Schema, convert: Decode) -> Decode:
        """The Connect type's checks, then ``convert`` of the wire value."""
        check = self.visit(schema.replace(name=None, version=None))
        return lambda v: convert(check(v))

    def on_int(self, schema: Schema) -> Decode:
        kind = schema.type
        low, high = _INT_RANGES[kind]
        return lambda v: v if type(v) is int and low <= v <= high else _bad(kind, v)

    def on_float(self, schema: Schema) -> Decode:
        return _float_from_json

    def on_boolean(self, schema: Schema) -> Decode:
        kind = schema.type
        return lambda v: v if type(v) is bool else _bad(kind, v)

    def on_string(self, schema: Schema) -> Decode:
        kind = schema.type
        return lambda v: v if type(v) is str else _bad(kind, v)

    def on_bytes(self, schema: Schema) -> Decode:
        return _bytes_from_json

    def on_array(self, schema: Schema, items: Schema) -> Decode:
        check = self._fast_check(items, "x")
        namespace: dict[str, Any] = {"d": self.decoder(items), "bad": _bad}
        item = f"x if {check} else d(x)" if check else "d(x)"
        source = (
            "def decode(v):\n"
            "    if type(v) is not list:\n"
            "        bad('ARRAY', v)\n"
            f"    return [{item} for x in v]\n"
        )
        return compile_function(source, namespace, "decode")

    def _fast_check(self, schema: Schema, var: str) -> str | None:
        """Inline Python that is true when a parsed value needs no decoding at all."""
        check = _FAST_CHECKS.get(schema.type) if schema.name is None else None
        if check is None:
            return None
        check = check.format(x=var)
        if schema.optional and (schema.default is None or not self.replace_null_with_default):
            return f"{var} is None or {check}"
        return check

    def on_map(self, schema: Schema, keys: Schema, values: Schema) -> Decode:
        value = self.decoder(values)
        if keys.type is Type.STRING:

            def object_map(v: Any) -> dict[Any, Any]:
                if type(v) is not dict:
                    raise ValueJsonError(
                        "Maps with string fields should be encoded as JSON objects, but found "
                        + json_type(v)
                    )
                return {k: value(x) for k, x in v.items()}

            return object_map
        key = self.decoder(keys)

        def pairs_map(v: Any) -> dict[Any, Any]:
            if type(v) is not list:
                raise ValueJsonError(
                    "Maps with non-string fields should be encoded as JSON array of tuples, "
                    "but found " + json_type(v)
                )
            out = {}
            for entry in v:
                if type(entry) is not list or len(entry) != 2:
                    raise ValueJsonError(f"Found invalid map entry instead of a pair: {entry!r}")
                out[key(entry[0])] = value(entry[1])
            return out

        return pairs_map

    def on_struct(self, schema: Schema) -> Decode:
        return self._struct_decoder(schema)

    def _struct_decoder(self, schema: Schema, null: str = "") -> Decode:
        # Generated code: an inline type check per field; the field's full decoder runs only
        # when that check fails (null, a default, a conversion or an error). ``null`` says what
        # a null becomes: the schema's "default", None ("optional"), an error ("required"),
        # or (empty) no special case. The Struct is built through its slots (as
        # Struct.trusted does, one call less).
        namespace: dict[str, Any] = {
            "schema": schema,
            "default": schema.default,
            "new": object.__new__,
            "Struct": Struct,
            "set_schema": getattr(Struct, "schema").__set__,  # noqa: B009 - the slot itself
            "set_values": getattr(Struct, "_values").__set__,  # noqa: B009 - the slot itself
            "bad": _bad_struct,
            "null": _null_struct,
        }
        on_null = {
            "default": ["        if v is None:", "            return default"],
            "optional": ["        if v is None:", "            return None"],
            "required": ["        if v is None:", "            null()"],
        }.get(null, [])
        lines = [
            "def decode(v):",
            "    if type(v) is not dict:",
            *on_null,
            "        bad(v)",
            "    get = v.get",
        ]
        for i, field in enumerate(schema.fields):
            namespace[f"k{i}"] = field.name
            namespace[f"d{i}"] = self.decoder(field.schema)
            lines.append(f"    x{i} = get(k{i})")
            check = self._fast_check(field.schema, f"x{i}")
            if check is None:
                lines.append(f"    x{i} = d{i}(x{i})")
            else:
                lines.append(f"    if not ({check}):")
                lines.append(f"        x{i} = d{i}(x{i})")
        unpack = "".join(f"x{i}, " for i in range(len(schema.fields)))
        lines.append("    o = new(Struct)")
        lines.append("    set_schema(o, schema)")
        lines.append(f"    set_values(o, ({unpack}))")
        lines.append("    return o")
        return compile_function("\n".join(lines) + "\n", namespace, "decode")


_FAST_CHECKS = {
    Type.INT8: "type({x}) is int and -128 <= {x} <= 127",
    Type.INT16: "type({x}) is int and -32768 <= {x} <= 32767",
    Type.INT32: "type({x}) is int and -2147483648 <= {x} <= 2147483647",
    Type.INT64: "type({x}) is int and -9223372036854775808 <= {x} <= 9223372036854775807",
    Type.FLOAT32: "type({x}) is float",
    Type.FLOAT64: "type({x}) is float",
    Type.BOOLEAN: "type({x}) is bool",
    Type.STRING: "type({x}) is str",
}


def _null_struct() -> None:
    raise ValueJsonError("Invalid null value for required STRUCT field")


def _bad_struct(value: Any) -> None:
    raise ValueJsonError("Structs should be encoded as JSON objects, but found " + json_type(value))


def _decimal_from_json(value: Any, scale: int) -> decimal.Decimal:
    kind = type(value)
    if kind is str:
        return lg.bytes_to_decimal(_bytes_from_json(value), scale)
    if kind is int:
        return decimal.Decimal(value)
    if kind is decimal.Decimal:
        return value  # type: ignore[no-any-return]  # checked just above
    if kind is float:
        raise InexactDecimal
    raise ValueJsonError(
        "Invalid type for Decimal, underlying representation should be numeric or bytes but "
        f"was {json_type(value)}"
    )


def _float_from_json(value: Any) -> float:
    kind = type(value)
    if kind is float:
        return value  # type: ignore[no-any-return]  # checked just above
    if kind is int or kind is decimal.Decimal:
        return float(value)
    raise ValueJsonError(f"Invalid value for FLOAT: {json_type(value)} {value!r}")


def _bytes_from_json(value: Any) -> bytes:
    if type(value) is not str:
        raise ValueJsonError(f"Invalid value for BYTES: {json_type(value)} {value!r}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueJsonError("Invalid bytes field") from None


def _bad(kind: Type | str, value: Any) -> Any:
    raise ValueJsonError(f"Invalid value for {str(kind).upper()}: {json_type(value)} {value!r}")
