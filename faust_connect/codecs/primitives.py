"""Kafka's simple converters: String, ByteArray and the fixed-width numbers and boolean.

The number converters write what Kafka's serializers write: big-endian Short (2 bytes),
Integer (4), Long (8), Float (4, IEEE 754) and Double (8); Boolean is one byte, 0 or 1. A null
value is a null message both ways, and reads give the optional schema of the type.

>>> IntegerConverter().from_connect("t", None, 258)
b'\\x00\\x00\\x01\\x02'
>>> StringConverter().to_connect("t", b"hi")
(Schema(string, optional), 'hi')
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field, field_validator

from faust_connect.codecs.base import Columns, Converter, SchemaAndValue
from faust_connect.config import PluginConfig
from faust_connect.data import (
    OPTIONAL_BOOLEAN,
    OPTIONAL_BYTES,
    OPTIONAL_FLOAT32,
    OPTIONAL_FLOAT64,
    OPTIONAL_INT16,
    OPTIONAL_INT32,
    OPTIONAL_INT64,
    OPTIONAL_STRING,
    Schema,
    Type,
)
from faust_connect.records import Headers

__all__ = [
    "BooleanConverter",
    "ByteArrayConverter",
    "DoubleConverter",
    "FloatConverter",
    "IntegerConverter",
    "LongConverter",
    "NumberConverter",
    "ShortConverter",
    "StringConverter",
    "StringConverterConfig",
]


class StringConverterConfig(PluginConfig):
    """Options of the StringConverter."""

    converter_encoding: str = Field("UTF8", description="The character encoding of strings.")

    @field_validator("converter_encoding")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value


class StringConverter(Converter):
    """Kafka's ``StringConverter``: ``str(value)`` out, an OPTIONAL_STRING in."""

    Config = StringConverterConfig
    name = "StringConverter"
    config: StringConverterConfig

    def from_connect(
        self, topic: str, schema: Schema | None, value: Any, headers: Headers | None = None
    ) -> bytes | None:
        """The value's text in the configured encoding (booleans as Java writes them)."""
        if value is None:
            return None
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        try:
            return text.encode(self.config.converter_encoding)
        except UnicodeError as exc:
            raise self.error(f"cannot encode string: {exc}") from exc

    def to_connect(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        """``(OPTIONAL_STRING, text)``."""
        if data is None:
            return OPTIONAL_STRING, None
        try:
            return OPTIONAL_STRING, bytes(data).decode(self.config.converter_encoding)
        except UnicodeError as exc:
            raise self.error(f"cannot decode string: {exc}") from exc

    def to_connect_columns(self, topic: str, datas: Sequence[bytes | None]) -> Columns:
        """OPTIONAL_STRING for each and the decoded texts."""
        encoding = self.config.converter_encoding
        try:
            values = [None if d is None else str(d, encoding) for d in datas]
        except UnicodeError as exc:
            raise self.error(f"cannot decode string: {exc}") from exc
        return [OPTIONAL_STRING] * len(values), values


class ByteArrayConverter(Converter):
    """Kafka's ``ByteArrayConverter``: bytes pass through unchanged."""

    name = "ByteArrayConverter"

    def from_connect(
        self, topic: str, schema: Schema | None, value: Any, headers: Headers | None = None
    ) -> bytes | None:
        """The bytes themselves; the schema, if any, must be BYTES."""
        if schema is not None and schema.type is not Type.BYTES:
            raise self.error(f"Invalid schema type for ByteArrayConverter: {schema.type.name}")
        if value is None:
            return None
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise self.error(
                f"ByteArrayConverter is not compatible with objects of type {type(value).__name__}"
            )
        return bytes(value)

    def to_connect(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        """``(OPTIONAL_BYTES, data)``."""
        return OPTIONAL_BYTES, None if data is None else bytes(data)

    def to_connect_many(self, topic: str, datas: Sequence[bytes | None]) -> list[SchemaAndValue]:
        """``(OPTIONAL_BYTES, data)`` of each; fetched data is already bytes, kept as it is."""
        return [
            (OPTIONAL_BYTES, data if data is None or type(data) is bytes else bytes(data))
            for data in datas
        ]

    def to_connect_columns(self, topic: str, datas: Sequence[bytes | None]) -> Columns:
        """OPTIONAL_BYTES for each and the data itself (fetched data is already bytes)."""
        values = [d if d is None or type(d) is bytes else bytes(d) for d in datas]
        return [OPTIONAL_BYTES] * len(values), values


class NumberConverter(Converter):
    """Base of the fixed-width converters: a ``struct`` format and the schema read back."""

    #: The ``struct`` format of one value (big-endian).
    format: ClassVar[str]
    #: The schema values are read with.
    schema: ClassVar[Schema]
    #: The Python types accepted on write.
    accepts: ClassVar[tuple[type, ...]] = (int,)

    def from_connect(
        self, topic: str, schema: Schema | None, value: Any, headers: Headers | None = None
    ) -> bytes | None:
        """The value packed as Kafka's serializer for this type packs it."""
        if value is None:
            return None
        if not isinstance(value, self.accepts) or (
            isinstance(value, bool) and bool not in self.accepts
        ):
            raise self.error(
                f"Failed to serialize to {self.schema.type} (was {type(value).__name__})"
            )
        try:
            return struct.pack(self.format, value)
        except (struct.error, OverflowError) as exc:
            raise self.error(f"Failed to serialize {value!r} to {self.schema.type}: {exc}") from exc

    def to_connect(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        """``(optional schema of the type, value)``."""
        if data is None:
            return self.schema, None
        size = struct.calcsize(self.format)
        if len(data) != size:
            raise self.error(
                f"Size of data received by {self.name} is not {size} (was {len(data)})"
            )
        return self.schema, struct.unpack(self.format, data)[0]


class ShortConverter(NumberConverter):
    """Kafka's ``ShortConverter`` (INT16, 2 bytes)."""

    name = "ShortConverter"
    format = ">h"
    schema = OPTIONAL_INT16


class IntegerConverter(NumberConverter):
    """Kafka's ``IntegerConverter`` (INT32, 4 bytes)."""

    name = "IntegerConverter"
    format = ">i"
    schema = OPTIONAL_INT32


class LongConverter(NumberConverter):
    """Kafka's ``LongConverter`` (INT64, 8 bytes)."""

    name = "LongConverter"
    format = ">q"
    schema = OPTIONAL_INT64


class FloatConverter(NumberConverter):
    """Kafka's ``FloatConverter`` (FLOAT32, 4 bytes IEEE 754)."""

    name = "FloatConverter"
    format = ">f"
    schema = OPTIONAL_FLOAT32
    accepts = (float, int)


class DoubleConverter(NumberConverter):
    """Kafka's ``DoubleConverter`` (FLOAT64, 8 bytes IEEE 754)."""

    name = "DoubleConverter"
    format = ">d"
    schema = OPTIONAL_FLOAT64
    accepts = (float, int)


class BooleanConverter(NumberConverter):
    """Kafka's ``BooleanConverter``: one byte, 1 for true and 0 for false."""

    name = "BooleanConverter"
    format = ">?"
    schema = OPTIONAL_BOOLEAN
    accepts = (bool,)

    def to_connect(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        """``(OPTIONAL_BOOLEAN, value)``; a byte other than 0 or 1 is an error."""
        if data is not None and len(data) == 1 and data[0] > 1:
            raise self.error(f"Unexpected byte {data[0]:#04x} for a boolean (want 0 or 1)")
        return super().to_connect(topic, data, headers)
