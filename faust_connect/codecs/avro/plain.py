"""Plain Avro: binary Avro in one schema given in the config; no registry, no wire header.

>>> conv = PlainAvroConverter({"avro.schema": '{"type": "string"}'})
>>> conv.from_connect("t", None, "hi")
b'\\x04hi'
>>> conv.to_connect("t", b"\\x04hi")
(Schema(string), 'hi')
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import fastavro
import orjson
from pydantic import Field

from faust_connect.codecs.avro.converter import compile_schema
from faust_connect.codecs.avro.schema import AvroSchemaError
from faust_connect.codecs.base import Converter, SchemaAndValue
from faust_connect.config import PluginConfig
from faust_connect.data import Schema, validate_value
from faust_connect.exceptions import ConfigError, ConfigIssue, DataError
from faust_connect.records import Headers

__all__ = ["PlainAvroConverter", "PlainAvroConverterConfig"]


class PlainAvroConverterConfig(PluginConfig):
    """Options of the plain Avro converter."""

    avro_schema: str = Field(description="The Avro schema (JSON) every message is written with.")


class PlainAvroConverter(Converter):
    """Avro binary with one schema from config: no registry, no wire header."""

    Config = PlainAvroConverterConfig
    name = "PlainAvroConverter"
    config: PlainAvroConverterConfig

    def __init__(
        self, config: PluginConfig | Mapping[str, Any] | None = None, *, is_key: bool = False
    ) -> None:
        super().__init__(config, is_key=is_key)
        try:
            self.compiled = compile_schema(None, orjson.loads(self.config.avro_schema))
        except (orjson.JSONDecodeError, AvroSchemaError, DataError) as exc:
            raise ConfigError([ConfigIssue("avro.schema", f"invalid Avro schema: {exc}")]) from None
        self.schema = self.compiled.connect

    def from_connect(
        self, topic: str, schema: Schema | None, value: Any, headers: Headers | None = None
    ) -> bytes | None:
        """The value as Avro binary in the configured schema."""
        if value is None:
            return None
        try:
            validate_value(self.schema, value)
            out = io.BytesIO()
            fastavro.schemaless_writer(out, self.compiled.parsed, self.compiled.write(value))
        except (DataError, ValueError, TypeError, KeyError) as exc:
            raise self.error(f"cannot convert value to Avro: {exc}") from exc
        return out.getvalue()

    def to_connect(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        """``(configured schema, value)``."""
        if data is None:
            return None, None
        try:
            datum = fastavro.schemaless_reader(io.BytesIO(data), self.compiled.parsed, None)
            return self.schema, self.compiled.read(datum)
        except (DataError, ValueError, TypeError, KeyError, EOFError) as exc:
            raise self.error(f"cannot read Avro data: {exc!r}") from exc
