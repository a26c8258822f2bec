"""Connect values → the plain values orjson writes, compiled once per schema.

:class:`JsonEncoder` builds, for a schema, an encoder: a function from a non-null Connect value
to a JSON-ready value. It is built once and cached by the converter, so the per-record work is
only the walk over the value. An encoder of ``None`` means "already JSON-ready" (ints, floats,
booleans, strings), so a struct of such fields becomes one dict display with no call per field.
The walk over the schema is :class:`~faust_connect.codecs.visitor.SchemaVisitor`'s; the
encoder supplies its ``on_*`` leaves.

Encoding follows Kafka's JsonConverter: bytes → base64 text, Decimal → base64 of the unscaled
bytes or (``decimal.format=NUMERIC``) a JSON number, Date/Time/Timestamp → ints, maps with
string keys → objects and others → ``[[k, v], ...]``, structs → objects in field order.
"""

from __future__ import annotations

import base64
import decimal
from collections.abc import Callable
from typing import Any

import orjson

from faust_connect.codecs import logical as lg
from faust_connect.codecs.visitor import SchemaVisitor
from faust_connect.data import Schema, Type

__all__ = [
    "Encode",
    "JsonEncoder",
    "ValueJsonError",
    "compile_function",
    "java_double",
    "json_type",
]

#: A compiled encoder: a non-null Connect value → a JSON-ready value.
Encode = Callable[[Any], Any]


class ValueJsonError(ValueError):
    """A value that does not fit its schema (the converter wraps it in a CodecError)."""


class JsonEncoder(SchemaVisitor[Encode | None]):
    """Compiles per-schema encoders for one converter's settings (the ``on_*`` leaves)."""

    def __init__(self, *, decimal_numeric: bool = False, replace_null_with_default: bool = True):
        self.decimal_numeric = decimal_numeric
        self.replace_null_with_default = replace_null_with_default

    def encode_null(self, schema: Schema) -> Any:
        """What a null value of ``schema`` becomes (its default, or null); error if required."""
        if schema.default is not None and self.replace_null_with_default:
            return self.encode_value(schema, schema.default)
        if schema.optional:
            return None
        raise ValueJsonError(
            "Conversion error: null value for field that is required and has no default value"
        )

    def encode_value(self, schema: Schema, value: Any) -> Any:
        """Encode one value of ``schema`` (uncompiled; for defaults and one-offs)."""
        if value is None:
            return self.encode_null(schema)
        encode = self.encoder(schema)
        return value if encode is None else encode(value)

    def encoder(self, schema: Schema) -> Encode | None:
        """The encoder of non-null ``schema`` values; None if they are already JSON-ready."""
        return self.visit(schema)

    def on_decimal(self, schema: Schema, scale: int) -> Encode | None:
        if self.decimal_numeric:
            return _numeric_decimal
        return lambda v: _b64(lg.decimal_to_bytes(v, scale))

    def on_date(self, schema: Schema) -> Encode | None:
        return lg.date_to_days

    def on_time(self, schema: Schema) -> Encode | None:
        return lg.time_to_millis

    def on_timestamp(self, schema: Schema) -> Encode | None:
        return lg.timestamp_to_millis

    def on_primitive(self, schema: Schema) -> Encode | None:
        return None

    def on_bytes(self, schema: Schema) -> Encode | None:
        return _b64

    def on_float(self, schema: Schema) -> Encode | None:
        return _as_float  # written as Java's Double.toString writes them

    def on_array(self, schema: Schema, items: Schema) -> Encode | None:
        item = self._item(items)
        if item is None:
            return list
        if item is _as_float:
            return lambda v: [
                x
                if type(x) is float and (_LOW <= x < _HIGH or -_HIGH < x <= -_LOW)
                else _as_float(x)
                for x in v
            ]
        return lambda v: [item(x) for x in v]

    def on_map(self, schema: Schema, keys: Schema, values: Schema) -> Encode | None:
        item = self._item(values)
        if keys.type is Type.STRING:
            if item is None:
                return dict
            return lambda m: {k: item(v) for k, v in m.items()}
        key: Encode = self._item(keys) or _same
        value: Encode = item or _same
        return lambda m: [[key(k), value(v)] for k, v in m.items()]

    def _item(self, schema: Schema) -> Encode | None:
        """An encoder that also handles null (as an array element or map value)."""
        encode = self.encoder(schema)
        null = (
            self.encode_null(schema)
            if schema.default is not None and self.replace_null_with_default
            else None
        )
        if null is None and (encode is None or encode is _as_float):
            return encode  # both pass null through
        inner = encode or (lambda v: v)
        return lambda v: null if v is None else inner(v)

    def on_struct(self, schema: Schema) -> Encode | None:
        # Generated code: one dict display per struct, calls only for fields that need them.
        # Only indexes appear in the source; names and helpers are bound in the namespace.
        namespace: dict[str, Any] = {}
        items = []
        for i, field in enumerate(schema.fields):
            namespace[f"k{i}"] = field.name
            encode = self.encoder(field.schema)
            default = field.schema.default is not None and self.replace_null_with_default
            if default:
                namespace[f"n{i}"] = self.encode_null(field.schema)
            null = f"n{i}" if default else "None"
            if encode is _as_float and not default:
                plain = f"(1e-3 <= x{i} < 1e7 or -1e7 < x{i} <= -1e-3)"
                items.append(f"k{i}: x{i} if type(x{i}) is float and {plain} else f(x{i})")
                namespace["f"] = _as_float
            elif encode is None:
                items.append(
                    f"k{i}: x{i} if x{i} is not None else {null}" if default else f"k{i}: x{i}"
                )
            else:
                namespace[f"e{i}"] = encode
                items.append(f"k{i}: e{i}(x{i}) if x{i} is not None else {null}")
        unpack = "".join(f"x{i}, " for i in range(len(schema.fields)))
        source = (
            "def encode(struct):\n"
            f"    ({unpack}) = struct.values()\n"
            f"    return {{{', '.join(items)}}}\n"
        )
        return compile_function(source, namespace, "encode")


def compile_function(source: str, namespace: dict[str, Any], name: str) -> Callable[[Any], Any]:
    """Compile generated ``source`` and return its function ``name`` (names bound in namespace)."""
    exec(compile(source, f"<faust_connect.codecs generated {name}>", "exec"), namespace)
    function: Callable[[Any], Any] = namespace[name]
    return function


def json_type(value: Any) -> str:
    """Jackson's name for the JSON type of a parsed value (OBJECT, ARRAY, NUMBER, ...)."""
    names = {dict: "OBJECT", list: "ARRAY", str: "STRING", bool: "BOOLEAN", type(None): "NULL"}
    return names.get(type(value), "NUMBER")


def _b64(value: Any) -> str:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ValueJsonError(f"Invalid type for bytes type: {type(value).__name__}")
    return base64.b64encode(value).decode("ascii")


_LOW, _HIGH = 1e-3, 1e7


def _as_float(value: Any) -> Any:
    """A float field's value as Jackson writes a Java double (None stays None).

    Between 10^-3 and 10^7 that is what orjson writes too; outside, Java's ``Double.toString``
    uses its own scientific form (``1.0E7``, ``1.5E-5``), written here as raw JSON. Ints are
    written as doubles (``1.0``). NaN and infinities are left to orjson (it writes null).
    """
    if value is None:
        return None
    value = float(value)
    if _LOW <= abs(value) < _HIGH or value == 0.0 or value != value or abs(value) == _INF:
        return value
    return orjson.Fragment(java_double(value))


_INF = float("inf")


def java_double(value: float) -> str:
    """Java's ``Double.toString`` for a finite double (shortest digits, Java's layout)."""
    if value == 0.0:
        return "-0.0" if str(value).startswith("-") else "0.0"
    if _LOW <= abs(value) < _HIGH:
        text = repr(value)
        return text if "e" not in text else format(value, "f")
    sign, digits, exponent = decimal.Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)  # finite
    shown = "".join(map(str, digits)).rstrip("0") or "0"
    scientific = len(digits) - 1 + exponent
    return f"{'-' if sign else ''}{shown[0]}.{shown[1:] or '0'}E{scientific}"


def _same(value: Any) -> Any:
    return value


def _numeric_decimal(value: decimal.Decimal) -> orjson.Fragment:
    if not isinstance(value, decimal.Decimal) or not value.is_finite():
        raise ValueJsonError(f"Invalid value for Decimal: {value!r}")
    return orjson.Fragment(str(value))
