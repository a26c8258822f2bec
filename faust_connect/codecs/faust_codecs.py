"""Converters as Faust codecs, so Faust topics and agents can use Connect's formats.

Found by Faust through the ``faust.codecs`` entry points this package declares, so any Faust
app can name them without importing anything (they need no topic or registry):

=========================  ===================================================
``connect-json``           JsonConverter with schemas (the envelope)
``connect-json-plain``     JsonConverter with ``schemas.enable=false``
``connect-string``         StringConverter (UTF-8)
``connect-bytes``          ByteArrayConverter
=========================  ===================================================

``connect-avro`` needs a registry client, so the app registers it at start with
:func:`register_avro_codec`. A codec sees no topic; the Avro codec therefore defaults to
RecordNameStrategy (or give it a ``topic``).

Writing, a :class:`~faust_connect.data.Struct` carries its schema; any other value is written
without one. Reading gives the value only (a Struct when the data has a struct schema)::

    topic = app.topic("orders", value_serializer="connect-json")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faust.serializers import codecs
from faust.types.codecs import CodecT

from faust_connect.codecs.base import Converter
from faust_connect.codecs.json.converter import JsonConverter
from faust_connect.codecs.primitives import ByteArrayConverter, StringConverter
from faust_connect.codecs.registry.client import SchemaRegistryClient
from faust_connect.data import Struct

__all__ = [
    "BUILTIN_CODECS",
    "ConverterCodec",
    "register_avro_codec",
    "register_builtin_codecs",
]


class ConverterCodec(codecs.Codec):
    """A Faust codec doing one converter's work (``topic`` is passed to the converter)."""

    def __init__(
        self,
        children: tuple[CodecT, ...] | None = None,
        *,
        converter: Converter,
        topic: str = "",
    ) -> None:
        super().__init__(children, converter=converter, topic=topic)
        self.converter = converter
        self.topic = topic

    def _dumps(self, obj: Any) -> bytes:
        # A codec must return bytes: a null (a Connect tombstone) becomes b"", read back as None.
        schema = obj.schema if isinstance(obj, Struct) else None
        data = self.converter.from_connect(self.topic, schema, obj)
        return b"" if data is None else data

    def _loads(self, s: bytes) -> Any:
        if not s:
            return None
        return self.converter.to_connect(self.topic, s)[1]


#: The converters :func:`register_builtin_codecs` registers as codecs, by codec name.
BUILTIN_CODECS: dict[str, Callable[[], Converter]] = {
    "connect-json": JsonConverter,
    "connect-json-plain": lambda: JsonConverter({"schemas.enable": False}),
    "connect-string": StringConverter,
    "connect-bytes": ByteArrayConverter,
}


class _Builtin(ConverterCodec):
    """A built-in codec as Faust's entry points make it: no arguments."""

    new_converter: Callable[[], Converter]

    def __init__(self, children: tuple[CodecT, ...] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("converter", type(self).new_converter())
        super().__init__(children, **kwargs)


class ConnectJsonCodec(_Builtin):
    """``connect-json``."""

    new_converter = staticmethod(BUILTIN_CODECS["connect-json"])


class ConnectJsonPlainCodec(_Builtin):
    """``connect-json-plain``."""

    new_converter = staticmethod(BUILTIN_CODECS["connect-json-plain"])


class ConnectStringCodec(_Builtin):
    """``connect-string``."""

    new_converter = staticmethod(BUILTIN_CODECS["connect-string"])


class ConnectBytesCodec(_Builtin):
    """``connect-bytes``."""

    new_converter = staticmethod(BUILTIN_CODECS["connect-bytes"])


def register_builtin_codecs() -> None:
    """Register the context-free converters as Faust codecs (idempotent)."""
    for name, new_converter in BUILTIN_CODECS.items():
        codecs.register(name, ConverterCodec(converter=new_converter()))


def register_avro_codec(
    schema_registry: SchemaRegistryClient,
    *,
    name: str = "connect-avro",
    topic: str = "",
    subject_name_strategy: str = "RecordNameStrategy",
    is_key: bool = False,
) -> ConverterCodec:
    """Register an Avro (Confluent wire format) codec backed by ``schema_registry``."""
    from faust_connect.codecs.avro.converter import AvroConverter

    option = "key.subject.name.strategy" if is_key else "value.subject.name.strategy"
    converter = AvroConverter(
        {"schema.registry.url": "in-process", option: subject_name_strategy},
        is_key=is_key,
        schema_registry=schema_registry,
    )
    codec = ConverterCodec(converter=converter, topic=topic)
    codecs.register(name, codec)
    return codec
