"""Kafka's JsonConverter on orjson, byte-compatible with what Kafka writes.

With ``schemas.enable=true`` (the default) every message is the envelope
``{"schema":<schema or null>,"payload":<value>}`` and nothing else; with ``false`` it is the
bare value, read back without a schema (integers as INT64, floats as FLOAT64, objects as maps).

>>> from faust_connect.data import INT32, Struct, decimal_schema, struct_schema
>>> import decimal
>>> schema = struct_schema([("id", INT32), ("amt", decimal_schema(2, optional=True))])
>>> JsonConverter().from_connect("t", schema, Struct(schema, id=1, amt=decimal.Decimal("2.25")))
b'{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"amt"}],"optional":false},"payload":{"id":1,"amt":"AOE="}}'

Hot path: the schema's JSON text, its encoder and decoder are built once per schema and kept
in caches of ``schemas.cache.size`` entries; reading an envelope whose schema text matches
the last one seen parses only the payload.
"""

from __future__ import annotations

import base64
import decimal
import json as stdlib_json
import re
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import orjson
from pydantic import Field, field_validator

from faust_connect.codecs.base import Converter, SchemaAndValue
from faust_connect.codecs.json.decode import Decode, InexactDecimal, JsonDecoder
from faust_connect.codecs.json.encode import Encode, JsonEncoder
from faust_connect.codecs.json.schema import SchemaJsonError, schema_from_json, schema_to_json
from faust_connect.config import PluginConfig
from faust_connect.data import Schema, Struct, validate_value
from faust_connect.exceptions import DataError
from faust_connect.records import Headers

__all__ = ["JsonConverter", "JsonConverterConfig"]

_ENVELOPE_ERROR = (
    'JsonConverter with schemas.enable requires "schema" and "payload" fields and may not '
    "contain additional fields. If you are trying to deserialize plain JSON data, set "
    "schemas.enable=false in your converter configuration."
)
_OPTS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_PREFIX = b'{"schema":'
#: A four-byte UTF-8 sequence: a character beyond the BMP (valid UTF-8 has no other 0xF0-0xF4).
_ASTRAL = re.compile(rb"[\xf0-\xf4][\x80-\xbf]{3}")
_MIDDLE = b',"payload":'
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class JsonConverterConfig(PluginConfig):
    """Options of the JsonConverter (Kafka's keys)."""

    schemas_enable: bool = Field(True, description="Include schemas within each message.")
    schemas_cache_size: int = Field(1000, ge=1, description="Schemas cached per direction.")
    decimal_format: Literal["BASE64", "NUMERIC"] = Field(
        "BASE64", description="How Decimal values are written: BASE64 bytes or a NUMERIC."
    )
    replace_null_with_default: bool = Field(
        True, description="Write (and read) a null as the schema's default, if it has one."
    )

    @field_validator("decimal_format", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class _Bounded(OrderedDict[K, V]):
    """A cache of at most ``size`` entries; the oldest goes first (no reordering on hits, which
    keeps lookups as cheap as a dict's)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: K, value: V) -> V:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class JsonConverter(Converter):
    """Kafka's ``org.apache.kafka.connect.json.JsonConverter`` (also a header converter)."""

    Config = JsonConverterConfig
    name = "JsonConverter"
    config: JsonConverterConfig

    def __init__(
        self, config: PluginConfig | Mapping[str, Any] | None = None, *, is_key: bool = False
    ) -> None:
        super().__init__(config, is_key=is_key)
        cfg = self.config
        self.schemas_enable = cfg.schemas_enable
        self.encoders = JsonEncoder(
            decimal_numeric=cfg.decimal_format == "NUMERIC",
            replace_null_with_default=cfg.replace_null_with_default,
        )
        self.decoders = JsonDecoder(replace_null_with_default=cfg.replace_null_with_default)
        size = cfg.schemas_cache_size
        self._out: _Bounded[Schema, tuple[bytes, Encode | None]] = _Bounded(size)
        self._in: _Bounded[bytes, tuple[Schema | None, Decode | None]] = _Bounded(size)
        self._last_prefix = b""
        self._last_in: tuple[Schema | None, Decode | None] = (None, None)

    # -- writing ---------------------------------------------------------------------------

    def from_connect(
        self, topic: str, schema: Schema | None, value: Any, headers: Headers | None = None
    ) -> bytes | None:
        """Serialize as Kafka does; ``(None, None)`` is a tombstone (None)."""
        if schema is None:
            if value is None:
                return None
            payload = self._schemaless(value)
            return _PREFIX + b"null" + _MIDDLE + payload + b"}" if self.schemas_enable else payload
        cached = self._out.get(schema)
        if cached is None:
            cached = self._out.remember(schema, self._compile_out(schema))
        schema_json, encode = cached
        try:
            if value is None:
                doc = self.encoders.encode_null(schema)
            else:
                if type(value) is Struct:
                    if value.schema is not schema and value.schema != schema:
                        raise DataError("Mismatching schema.")
                else:
                    validate_value(schema, value)
                doc = value if encode is None else encode(value)
            payload = orjson.dumps(doc, option=_OPTS)
        except (ValueError, TypeError, DataError, orjson.JSONEncodeError) as exc:
            raise self.error(f"cannot convert value to JSON: {exc}") from exc
        if not payload.isascii():
            payload = _escape_astral(payload)
        if not self.schemas_enable:
            return payload
        return schema_json + payload + b"}"

    def _compile_out(self, schema: Schema) -> tuple[bytes, Encode | None]:
        try:
            node = schema_to_json(schema, self.encoders.encode_value)
            encode = self.encoders.encoder(schema)
        except (ValueError, TypeError, DataError) as exc:
            raise self.error(f"cannot convert schema to JSON: {exc}") from exc
        return _PREFIX + _escape_astral(orjson.dumps(node)) + _MIDDLE, encode

    def _schemaless(self, value: Any) -> bytes:
        try:
            out = orjson.dumps(value, default=_schemaless_default, option=_OPTS)
        except orjson.JSONEncodeError as exc:
            if "must be str" not in str(exc):
                raise self.error(f"cannot convert value to JSON: {exc}") from exc
            try:  # a map with non-string keys: Kafka writes it as [[k, v], ...]
                out = orjson.dumps(_pairs(value), default=_schemaless_default, option=_OPTS)
            except orjson.JSONEncodeError as exc:
                raise self.error(f"cannot convert value to JSON: {exc}") from exc
        return out if out.isascii() else _escape_astral(out)

    # -- reading ---------------------------------------------------------------------------

    def to_connect(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        """Deserialize as Kafka does; None (a tombstone) gives ``(None, None)``."""
        if data is None:
            return None, None
        prefix = self._last_prefix
        if prefix and data.startswith(prefix) and data.endswith(b"}"):
            try:
                payload = orjson.loads(memoryview(data)[len(prefix) : -1])
            except orjson.JSONDecodeError:
                pass  # not a plain envelope after all; the full parse below says why
            else:
                schema, decode = self._last_in
                return schema, self._decode(data, schema, decode, payload)
        if not data.strip():
            if self.schemas_enable:
                raise self.error(_ENVELOPE_ERROR)
            return None, None
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise self.error(
                f"Converting byte[] to Kafka Connect data failed due to serialization error: {exc}"
            ) from exc
        if not self.schemas_enable:
            return None, doc
        if type(doc) is not dict or len(doc) != 2 or "schema" not in doc or "payload" not in doc:
            raise self.error(_ENVELOPE_ERROR)
        schema, decode = self._schema_in(doc["schema"], data)
        return schema, self._decode(data, schema, decode, doc["payload"])

    def to_connect_many(self, topic: str, datas: Sequence[bytes | None]) -> list[SchemaAndValue]:
        """:meth:`to_connect` of many messages, in one loop: an envelope whose schema text is
        the last one seen has only its payload parsed and decoded here; any other message (or
        one that fails here) goes through :meth:`to_connect`, which reads or reports it."""
        out: list[SchemaAndValue] = []
        append = out.append
        loads = orjson.loads
        prefix = self._last_prefix
        start = len(prefix)
        schema, decode = self._last_in
        for data in datas:
            if (
                prefix
                and data is not None
                and data.startswith(prefix)
                and data.endswith(b"}")
                and decode is not None
            ):
                try:
                    append((schema, decode(loads(memoryview(data)[start:-1]))))
                    continue
                except Exception:  # not silent: to_connect reads it again and says why
                    pass
            append(self.to_connect(topic, data))
            if self._last_prefix is not prefix:
                prefix = self._last_prefix
                start = len(prefix)
                schema, decode = self._last_in
        return out

    def _schema_in(self, node: Any, data: bytes) -> tuple[Schema | None, Decode | None]:
        key = orjson.dumps(node)
        cached = self._in.get(key)
        if cached is None:
            try:
                schema = schema_from_json(node, self._decode_default)
                decode = None if schema is None else self.decoders.decoder(schema)
            except (SchemaJsonError, ValueError, TypeError, DataError) as exc:
                raise self.error(f"invalid schema: {exc}") from exc
            cached = self._in.remember(key, (schema, decode))
        # remember where the payload starts, if the schema text is what orjson wrote
        prefix = _PREFIX + key + _MIDDLE
        if data.startswith(prefix):
            self._last_prefix, self._last_in = prefix, cached
        return cached

    def _decode_default(self, schema: Schema, node: Any) -> Any:
        return self.decoders.decoder(schema)(node)

    def _decode(self, data: bytes, schema: Schema | None, decode: Decode | None, doc: Any) -> Any:
        if decode is None:
            return doc
        try:
            return decode(doc)
        except InexactDecimal:
            exact = stdlib_json.loads(data, parse_float=decimal.Decimal)
            return self._decode(data, schema, decode, exact["payload"])
        except (ValueError, TypeError, OverflowError, DataError) as exc:
            raise self.error(f"value does not fit its schema: {exc}") from exc


def _escape_astral(text: bytes) -> bytes:
    """``text`` with each character beyond the BMP written as Jackson writes it: an escaped
    UTF-16 surrogate pair, ``\\uD83D\\uDE00`` for U+1F600 (orjson writes its four UTF-8 bytes).

    In JSON that orjson wrote such a character can only be inside a string, so the rewrite
    never changes what the text means.

    >>> _escape_astral("smile \U0001f600".encode())
    b'smile \\\\uD83D\\\\uDE00'
    """
    return _ASTRAL.sub(_surrogate_pair, text)


def _surrogate_pair(match: re.Match[bytes]) -> bytes:
    code = ord(match[0].decode()) - 0x10000
    return b"\\u%04X\\u%04X" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))


def _schemaless_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} does not have a corresponding schema type")


def _pairs(value: Any) -> Any:
    if isinstance(value, dict):
        if all(type(k) is str for k in value):
            return {k: _pairs(v) for k, v in value.items()}
        return [[_pairs(k), _pairs(v)] for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [_pairs(v) for v in value]
    return value
