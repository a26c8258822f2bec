"""Kafka's ``Values``: Connect values as text and back, with type inference on read.

:func:`to_text` writes strings as they are, booleans as ``true``/``false``, bytes as base64,
Date/Time/Timestamp in ISO-8601 (``2024-01-02``, ``10:11:12.345Z``,
``2024-01-02T10:11:12.345Z``), and lists, maps and structs as ``[a,b]`` / ``{"k":v}`` with
strings inside them quoted. :func:`parse_text` infers a schema: ``null``, booleans, integers
as the smallest of INT8..INT64 that holds them (``1.0`` is INT8 1, as in Kafka), other numbers
as FLOAT32 (FLOAT64 if out of its range; Decimal past INT64), the ISO-8601 forms above, and
arrays/maps whose elements agree on a type. Anything else is a STRING holding the text.

>>> parse_text("300")
(Schema(int16), 300)
>>> to_text(None, [1, "a"])
'[1,"a"]'
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import re
from collections.abc import Mapping
from typing import Any

from faust_connect.codecs import logical as lg
from faust_connect.data import (
    BOOLEAN,
    DATE,
    FLOAT32,
    FLOAT64,
    INT8,
    INT16,
    INT32,
    INT64,
    STRING,
    TIME,
    TIMESTAMP,
    Schema,
    Struct,
    Type,
    array_schema,
    decimal_schema,
    map_schema,
)

__all__ = ["parse_text", "to_text"]

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}:\d{2}\.\d{3}Z")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|[\[\]{},:]|[^\s\[\]{},:"]+)')
_FLOAT32_MAX = 3.4028234663852886e38
_INTS = ((INT8, 2**7), (INT16, 2**15), (INT32, 2**31), (INT64, 2**63))


class _Unparsable(ValueError):
    pass


def to_text(schema: Schema | None, value: Any) -> str | None:
    """The text Kafka's ``Values.convertToString`` writes for ``value`` (None stays None)."""
    if value is None:
        return None
    return _append(schema, value, embedded=False)


def _append(schema: Schema | None, value: Any, *, embedded: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if not embedded:
            return value
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (bytes, bytearray, memoryview)):
        text = base64.b64encode(value).decode("ascii")
        return f'"{text}"' if embedded else text
    if isinstance(value, (int, float, decimal.Decimal)):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + _millis(value) + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S.") + _millis(value) + "Z"
    item = schema.value_schema if schema is not None else None
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_append(item, v, embedded=True) for v in value) + "]"
    if isinstance(value, Mapping):
        key = schema.key_schema if schema is not None else None
        entries = (
            _append(key, k, embedded=True) + ":" + _append(item, v, embedded=True)
            for k, v in value.items()
        )
        return "{" + ",".join(entries) + "}"
    if isinstance(value, Struct):
        fields = (
            _append(None, f.name, embedded=True) + ":" + _append(f.schema, v, embedded=True)
            for f, v in zip(value.schema.fields, value.values(), strict=True)
        )
        return "{" + ",".join(fields) + "}"
    raise TypeError(f"cannot write a {type(value).__name__} as a header value")


def _millis(value: dt.time | dt.datetime) -> str:
    return f"{value.microsecond // 1000:03d}"


def parse_text(text: str) -> tuple[Schema | None, Any]:
    """Infer ``(schema, value)`` from text as Kafka's ``Values.parseString`` does."""
    if text == "":
        return STRING, ""
    stripped = text.strip()
    if stripped == "null":
        return None, None
    if stripped in ("true", "false"):
        return BOOLEAN, stripped == "true"
    if stripped[:1] in ("[", "{"):
        try:
            tokens = _tokenize(stripped)
            parsed, end = _parse_embedded(tokens, 0)
            if end == len(tokens):
                return parsed
        except (_Unparsable, IndexError):
            pass
        return STRING, text
    scalar = _scalar(stripped)
    return scalar if scalar is not None else (STRING, text)


def _tokenize(text: str) -> list[str]:
    tokens = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos:].strip():
                raise _Unparsable(f"cannot read {text[pos:]!r}")
            break
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _scalar(token: str) -> tuple[Schema | None, Any] | None:
    if _TIMESTAMP.fullmatch(token):
        stamp = dt.datetime.strptime(token[:-1], "%Y-%m-%dT%H:%M:%S.%f")
        return TIMESTAMP, stamp.replace(tzinfo=dt.UTC)
    if _DATE.fullmatch(token):
        return DATE, dt.date.fromisoformat(token)
    if _TIME.fullmatch(token):
        return TIME, lg.millis_to_time(lg.time_to_millis(dt.time.fromisoformat(token[:-1])))
    if _NUMBER.fullmatch(token):
        return _number(decimal.Decimal(token))
    return None


def _number(value: decimal.Decimal) -> tuple[Schema, Any]:
    if value == value.to_integral_value():
        integral = int(value)
        for schema, bound in _INTS:
            if -bound <= integral < bound:
                return schema, integral
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # a parsed number is finite
    if exponent != 0:
        as_float = float(value)
        if abs(as_float) <= _FLOAT32_MAX:
            return FLOAT32, as_float
        if abs(as_float) != float("inf"):
            return FLOAT64, as_float
    scale = max(-exponent, 0)
    return decimal_schema(scale), value


def _parse_embedded(tokens: list[str], pos: int) -> tuple[tuple[Schema | None, Any], int]:
    token = tokens[pos]
    if token == "[":
        items: list[tuple[Schema | None, Any]] = []
        pos += 1
        while tokens[pos] != "]":
            item, pos = _parse_embedded(tokens, pos)
            items.append(item)
            pos = _past_comma(tokens, pos, "]", "array elements")
        schema = _common(items)
        values = [_widen(schema, v) for _, v in items]
        return (array_schema(schema) if schema else None, values), pos + 1
    if token == "{":
        keys: list[tuple[Schema | None, Any]] = []
        vals: list[tuple[Schema | None, Any]] = []
        pos += 1
        while tokens[pos] != "}":
            key, pos = _parse_embedded(tokens, pos)
            if key[1] is None or tokens[pos] != ":":
                raise _Unparsable("bad map entry")
            value, pos = _parse_embedded(tokens, pos + 1)
            keys.append(key)
            vals.append(value)
            pos = _past_comma(tokens, pos, "}", "map entries")
        ks, vs = _common(keys), _common(vals)
        out = {_widen(ks, k): _widen(vs, v) for (_, k), (_, v) in zip(keys, vals, strict=True)}
        return (map_schema(ks, vs) if ks and vs else None, out), pos + 1
    if token.startswith('"'):
        content = re.sub(r"\\(.)", r"\1", token[1:-1])
        scalar = _scalar(content) if _DATE.match(content) or _TIME.match(content) else None
        return (scalar or (STRING, content)), pos + 1
    if token in ("null", "true", "false"):
        return ((None, None) if token == "null" else (BOOLEAN, token == "true")), pos + 1
    scalar = _scalar(token)
    if scalar is None:
        raise _Unparsable(f"cannot parse embedded value {token!r}")
    return scalar, pos + 1


def _past_comma(tokens: list[str], pos: int, close: str, what: str) -> int:
    """The position after an element: past its ``,``, or at the ``close`` that ends the list."""
    if tokens[pos] == ",":
        return pos + 1
    if tokens[pos] != close:
        raise _Unparsable(f"{what} missing ','")
    return pos


def _common(items: list[tuple[Schema | None, Any]]) -> Schema | None:
    """The schema all parsed items fit (the widest number; optional if one is null), or None."""
    schemas = [s for s, _ in items]
    present = [s for s in schemas if s is not None]
    if not present:
        return None
    nullable = len(present) != len(schemas)
    first = present[0]
    if all(s == first for s in present):
        common = first
    elif all(s.type in (Type.INT8, Type.INT16, Type.INT32, Type.INT64) for s in present):
        common = max(present, key=lambda s: [t for t, _ in _INTS].index(s))
    elif all(
        s.name is None
        and s.type in (Type.INT8, Type.INT16, Type.INT32, Type.INT64, Type.FLOAT32, Type.FLOAT64)
        for s in present
    ):
        common = FLOAT64
    else:
        return None
    return common.as_optional() if nullable else common


def _widen(schema: Schema | None, value: Any) -> Any:
    if schema is not None and schema.type is Type.FLOAT64 and isinstance(value, int):
        return float(value)
    return value
