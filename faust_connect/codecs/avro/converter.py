"""Confluent's AvroConverter (registry + wire format) and a plain Avro converter, on fastavro.

Wire format: byte 0 is ``0x00``, bytes 1-4 the schema id (big-endian), then Avro binary.
The subject a schema is registered under comes from the subject name strategy
(:mod:`faust_connect.codecs.registry.subjects`); with ``auto.register.schemas`` (default) a new schema is
registered, with ``use.latest.version`` the subject's latest schema is used, otherwise the
schema must already be registered. Every registry answer is cached, so only the first record
of a new schema reaches the registry. Avro without a registry or header is
:class:`~faust_connect.codecs.avro.plain.PlainAvroConverter`. Pass ``schema_registry=`` (e.g. the worker's embedded
:class:`~faust_connect.codecs.registry.logic.SchemaRegistry`) to avoid HTTP entirely.

>>> from faust_connect.codecs.registry.logic import SchemaRegistry
>>> from faust_connect.data import STRING
>>> conv = AvroConverter({"schema.registry.url": "unused"}, schema_registry=SchemaRegistry())
>>> conv.from_connect("t", STRING, "hi")
b'\\x00\\x00\\x00\\x00\\x01\\x04hi'
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple, Self

import fastavro
import orjson
from fastavro.schema import SchemaParseException
from pydantic import Field

from faust_connect.codecs.avro import values as avro_values
from faust_connect.codecs.avro.read import from_avro
from faust_connect.codecs.avro.schema import AvroSchemaError, to_avro
from faust_connect.codecs.base import Converter, SchemaAndValue
from faust_connect.codecs.registry.client import (
    CachingClient,
    HttpSchemaRegistryClient,
    SchemaRegistryClient,
)
from faust_connect.codecs.registry.logic import SchemaRegistryError
from faust_connect.codecs.registry.subjects import TOPIC_NAME_STRATEGY, StrategyName, subject_name
from faust_connect.config import CommaList, Password, PluginConfig, parse_config
from faust_connect.data import Schema, Struct, Type, validate_value
from faust_connect.exceptions import ConfigError, ConfigIssue, DataError
from faust_connect.records import Headers

__all__ = ["AvroConverter", "AvroConverterConfig", "CompiledSchema", "compile_schema"]

MAGIC = b"\x00"


class CompiledSchema(NamedTuple):
    """A schema in every form a converter needs: Connect, Avro text, fastavro's, converters."""

    connect: Schema
    text: str
    parsed: Any
    write: avro_values.Convert
    read: avro_values.Convert
    record_name: str | None


def compile_schema(connect: Schema | None, avro: Any = None) -> CompiledSchema:
    """Both schemas, fastavro's parsed form and the value converters."""
    if avro is None:
        assert connect is not None
        avro = to_avro(connect)
    if connect is None:
        connect = from_avro(avro)
    try:
        parsed = fastavro.parse_schema(_without_logical(avro))
    except (SchemaParseException, ValueError, TypeError, KeyError) as exc:
        raise AvroSchemaError(f"invalid Avro schema: {exc}") from exc
    record = avro if isinstance(avro, dict) and avro.get("type") == "record" else None
    name = None
    if record is not None:
        space, short = record.get("namespace"), str(record["name"])
        name = f"{space}.{short}" if space and "." not in short else short
    return CompiledSchema(
        connect,
        orjson.dumps(avro).decode(),
        parsed,
        avro_values.writer(connect),
        avro_values.reader(connect),
        name,
    )


def _without_logical(node: Any) -> Any:
    """A copy without ``logicalType``: fastavro then reads and writes the raw ints and bytes,
    and the converters apply Connect's logical types themselves (unknown ones stay raw)."""
    if isinstance(node, list):
        return [_without_logical(branch) for branch in node]
    if not isinstance(node, dict):
        return node
    out = {k: v for k, v in node.items() if k != "logicalType"}
    for key in ("type", "items", "values"):
        if isinstance(out.get(key), (dict, list)):
            out[key] = _without_logical(out[key])
    if isinstance(out.get("fields"), list):
        out["fields"] = [{**f, "type": _without_logical(f.get("type"))} for f in out["fields"]]
    return out


class AvroConverterConfig(PluginConfig):
    """Options of Confluent's AvroConverter (the ones faust-connect honours or accepts)."""

    schema_registry_url: CommaList = Field((), description="Schema registry URLs.")
    auto_register_schemas: bool = Field(True, description="Register new schemas.")
    use_latest_version: bool = Field(False, description="Write with the subject's latest schema.")
    key_subject_name_strategy: StrategyName = Field(
        TOPIC_NAME_STRATEGY, description="Key subjects."
    )
    value_subject_name_strategy: StrategyName = Field(
        TOPIC_NAME_STRATEGY, description="Value subjects."
    )
    basic_auth_credentials_source: Literal["URL", "USER_INFO"] = Field(
        "URL", description="Where registry credentials come from."
    )
    basic_auth_user_info: Password | None = Field(None, description="user:password.")
    schemas_cache_config: int = Field(1000, ge=1, description="Schemas cached per converter.")
    connect_meta_data: bool = Field(True, description="Accepted; connect.* props are always kept.")
    enhanced_avro_schema_support: bool = Field(False, description="Accepted; not used.")


class AvroConverter(Converter):
    """``io.confluent.connect.avro.AvroConverter``: Confluent wire format with a registry."""

    Config = AvroConverterConfig
    name = "AvroConverter"
    config: AvroConverterConfig

    def __init__(
        self,
        config: PluginConfig | Mapping[str, Any] | None = None,
        *,
        is_key: bool = False,
        schema_registry: SchemaRegistryClient | None = None,
    ) -> None:
        super().__init__(config, is_key=is_key)
        cfg = self.config
        if schema_registry is None:
            schema_registry = self._http_client(cfg)
        self.registry = (
            schema_registry
            if isinstance(schema_registry, CachingClient)
            else CachingClient(schema_registry)
        )
        self.strategy = cfg.key_subject_name_strategy if is_key else cfg.value_subject_name_strategy
        self._by_schema: dict[Schema, CompiledSchema] = {}
        self._by_id: dict[int, CompiledSchema] = {}
        self._ids: dict[tuple[str, Schema], tuple[int, CompiledSchema]] = {}

    @classmethod
    def from_config(
        cls,
        options: Mapping[str, Any],
        *,
        is_key: bool = False,
        prefix: str = "",
        schema_registry: SchemaRegistryClient | None = None,
    ) -> Self:
        """Build from raw options; a registry URL is required unless a client is given."""
        config = parse_config(cls.Config, options, prefix=prefix)
        assert isinstance(config, AvroConverterConfig)
        if schema_registry is None and not config.schema_registry_url:
            raise ConfigError(
                [ConfigIssue(prefix + "schema.registry.url", "Missing required configuration.")]
            )
        return cls(config, is_key=is_key, schema_registry=schema_registry)

    @staticmethod
    def _http_client(cfg: AvroConverterConfig) -> HttpSchemaRegistryClient:
        if not cfg.schema_registry_url:
            raise ConfigError(
                [ConfigIssue("schema.registry.url", "Missing required configuration.")]
            )
        user_info = None
        urls = list(cfg.schema_registry_url)
        if cfg.basic_auth_credentials_source == "USER_INFO" and cfg.basic_auth_user_info:
            user_info = cfg.basic_auth_user_info.get_secret_value()
        else:
            netloc = urls[0].partition("//")[2].split("/", 1)[0]
            if "@" in netloc:
                user_info = netloc.rpartition("@")[0]
                urls = [u.replace(user_info + "@", "", 1) for u in urls]
        return HttpSchemaRegistryClient(urls, user_info=user_info)

    def _limit(self, cache: dict[Any, Any]) -> None:
        if len(cache) > self.config.schemas_cache_config:
            del cache[next(iter(cache))]

    def from_connect(
        self, topic: str, schema: Schema | None, value: Any, headers: Headers | None = None
    ) -> bytes | None:
        """Magic byte, schema id, Avro binary; a null value is a tombstone."""
        if value is None and (schema is None or schema.default is None):
            return None
        if schema is None:
            raise self.error("AvroConverter needs a schema to write a value")
        try:
            if type(value) is not Struct or value.schema != schema:
                validate_value(schema, value)
            schema_id, compiled = self._writer_schema(topic, schema)
            if value is None:
                value = schema.default
            out = io.BytesIO()
            out.write(MAGIC + schema_id.to_bytes(4, "big"))
            fastavro.schemaless_writer(out, compiled.parsed, compiled.write(value))
        except SchemaRegistryError as exc:
            raise self.error(f"schema registry: {exc.message} (error {exc.error_code})") from exc
        except (AvroSchemaError, DataError, ValueError, TypeError, KeyError) as exc:
            raise self.error(f"cannot convert value to Avro: {exc}") from exc
        return out.getvalue()

    def _writer_schema(self, topic: str, schema: Schema) -> tuple[int, CompiledSchema]:
        compiled = self._by_schema.get(schema)
        if compiled is None:
            compiled = self._by_schema[schema] = compile_schema(schema)
            self._limit(self._by_schema)
        subject = subject_name(self.strategy, topic, self.is_key, compiled.record_name)
        found = self._ids.get((subject, schema))
        if found is not None:
            return found
        cfg = self.config
        if cfg.use_latest_version:
            latest = self.registry.get_latest(subject)
            found = latest.id, compile_schema(schema, orjson.loads(latest.schema))
        elif cfg.auto_register_schemas:
            found = self.registry.register(subject, compiled.text), compiled
        else:
            found = self.registry.lookup(subject, compiled.text).id, compiled
        self._ids[(subject, schema)] = found
        self._limit(self._ids)
        return found

    def to_connect(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        """The schema the id names (with the registry version) and the decoded value."""
        if data is None:
            return None, None
        if len(data) < 5 or data[0] != 0:
            raise self.error("Unknown magic byte!")
        schema_id = int.from_bytes(data[1:5], "big")
        compiled = self._by_id.get(schema_id)
        try:
            if compiled is None:
                compiled = self._by_id[schema_id] = self._reader_schema(topic, schema_id)
                self._limit(self._by_id)
            datum = fastavro.schemaless_reader(io.BytesIO(data[5:]), compiled.parsed, None)
            return compiled.connect, compiled.read(datum)
        except SchemaRegistryError as exc:
            raise self.error(
                f"Error retrieving Avro schema for id {schema_id}: {exc.message}"
            ) from exc
        except (AvroSchemaError, DataError, ValueError, TypeError, KeyError, EOFError) as exc:
            raise self.error(f"cannot read Avro data for schema id {schema_id}: {exc!r}") from exc

    def _reader_schema(self, topic: str, schema_id: int) -> CompiledSchema:
        text = self.registry.get_schema(schema_id)
        compiled = compile_schema(None, orjson.loads(text))
        connect = compiled.connect
        if connect.version is None and connect.type is Type.STRUCT:
            # as Confluent's converter does: the registry version becomes the schema version
            subject = subject_name(self.strategy, topic, self.is_key, compiled.record_name)
            try:
                version = self.registry.lookup(subject, text).version
            except SchemaRegistryError:
                return compiled
            connect = connect.replace(version=version)
            compiled = compiled._replace(connect=connect, read=avro_values.reader(connect))
        return compiled
