"""Converters: Connect data ↔ bytes, as Kafka Connect's converters do, and as Faust codecs.

The context-free converters are Faust codecs (``connect-json``, ``connect-json-plain``,
``connect-string``, ``connect-bytes``), found by Faust through this package's ``faust.codecs``
entry points; see :mod:`faust_connect.codecs.faust_codecs` (imported, with Faust, only when
its names are used: this package imports without Faust). Converters are looked up by Kafka class name or short
name in :data:`converters`, or built from a connector config with :func:`converter_from_config`.
Avro (:mod:`faust_connect.codecs.avro.converter`) is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust_connect.codecs.base import (
    DEFAULT_HEADER_CONVERTER,
    Converter,
    SchemaAndValue,
    converter_from_config,
    converters,
)
from faust_connect.codecs.errors import CodecError
from faust_connect.codecs.headers import SimpleHeaderConverter
from faust_connect.codecs.json.converter import JsonConverter, JsonConverterConfig
from faust_connect.codecs.primitives import (
    BooleanConverter,
    ByteArrayConverter,
    DoubleConverter,
    FloatConverter,
    IntegerConverter,
    LongConverter,
    ShortConverter,
    StringConverter,
)
from faust_connect.codecs.registry.client import (
    CachingClient,
    HttpSchemaRegistryClient,
    SchemaRegistryClient,
)
from faust_connect.codecs.registry.logic import (
    RegisteredSchema,
    SchemaRegistry,
    SchemaRegistryError,
)

__all__ = [
    "DEFAULT_HEADER_CONVERTER",
    "BooleanConverter",
    "ByteArrayConverter",
    "CachingClient",
    "CodecError",
    "Converter",
    "ConverterCodec",
    "DoubleConverter",
    "FloatConverter",
    "HttpSchemaRegistryClient",
    "IntegerConverter",
    "JsonConverter",
    "JsonConverterConfig",
    "LongConverter",
    "RegisteredSchema",
    "SchemaAndValue",
    "SchemaRegistry",
    "SchemaRegistryClient",
    "SchemaRegistryError",
    "ShortConverter",
    "SimpleHeaderConverter",
    "StringConverter",
    "converter_from_config",
    "converters",
    "register_avro_codec",
    "register_builtin_codecs",
]

_FAUST = ("ConverterCodec", "register_avro_codec", "register_builtin_codecs")

if TYPE_CHECKING:
    from faust_connect.codecs.faust_codecs import (
        ConverterCodec,
        register_avro_codec,
        register_builtin_codecs,
    )


def __getattr__(name: str) -> Any:
    if name in _FAUST:  # Faust's side, imported on first use
        from faust_connect.codecs import faust_codecs

        return getattr(faust_codecs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
