"""Header transforms: DropHeaders, HeaderFrom, InsertHeader.

>>> from faust_connect.records import SourceRecord
>>> r = InsertHeader(header="origin", value_literal="42").apply(SourceRecord(topic="t"))
>>> h = r.headers.last("origin"); (h.value, h.schema.type.value)
(42, 'int8')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypeVar

from pydantic import Field, ValidationInfo, field_validator

from faust_connect.codecs.values import parse_text
from faust_connect.config import CommaList, PluginConfig
from faust_connect.data import Schema, Struct
from faust_connect.records import ConnectRecord, Header, Headers
from faust_connect.transforms._util import (
    NULL_DEFAULT_DOC,
    SchemaCache,
    TargetConfig,
    describe,
    part_of,
    rebuild_struct_schema,
    struct_values,
)
from faust_connect.transforms.base import Transform

__all__ = ["DropHeaders", "HeaderFrom", "InsertHeader"]

R = TypeVar("R", bound=ConnectRecord)

# -- DropHeaders ------------------------------------------------------------------------------


class DropHeadersConfig(PluginConfig):
    """Keys of DropHeaders."""

    headers: CommaList = Field(description="Names of the headers to remove.", min_length=1)


class DropHeaders(Transform):
    """Remove every header with one of the configured names."""

    Config = DropHeadersConfig
    config: DropHeadersConfig

    def configure(self) -> None:
        self._names = frozenset(self.config.headers)

    def apply(self, record: R) -> R | None:
        """The record without those headers."""
        names = self._names
        if not any(h.key in names for h in record.headers):
            return record
        return record.replace(headers=Headers(h for h in record.headers if h.key not in names))


# -- HeaderFrom -------------------------------------------------------------------------------


class HeaderFromConfig(TargetConfig):
    """Keys of HeaderFrom."""

    fields: CommaList = Field(description="Fields to copy or move into headers.", min_length=1)
    headers: CommaList = Field(description="Header names, one per field, in the same order.")
    operation: Literal["move", "copy"] = Field(
        description="move removes the fields from the key/value; copy keeps them."
    )
    replace_null_with_default: bool = Field(True, description=NULL_DEFAULT_DOC)

    @field_validator("headers")
    @classmethod
    def _same_length(cls, headers: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        fields = info.data.get("fields")
        if fields is not None and len(fields) != len(headers):
            raise ValueError(
                f"'fields' has {len(fields)} entries and 'headers' {len(headers)}; they must match"
            )
        return headers


class HeaderFrom(Transform):
    """Copy or move fields of the key or value into headers (with the field's schema)."""

    Config = HeaderFromConfig
    config: HeaderFromConfig

    def configure(self) -> None:
        self._pairs = list(zip(self.config.fields, self.config.headers, strict=True))
        self._move = self.config.operation == "move"
        self._schemas: SchemaCache[Schema, Schema] = SchemaCache()

    def apply(self, record: R) -> R | None:
        """The record with the new headers (and, for move, without the fields)."""
        target = self.config.target
        schema, value = part_of(record, target)
        if value is None:
            return record
        added: list[Header] = []
        if schema is None:
            if not isinstance(value, Mapping):
                raise self.fail(f"schemaless header copy needs a map, not {describe(value)}")
            for field, header in self._pairs:
                added.append(Header(header, value.get(field)))
            if self._move:
                moved = set(self.config.fields)
                value = {k: v for k, v in value.items() if k not in moved}
        else:
            if not isinstance(value, Struct):
                raise self.fail(f"header copy needs a struct, not {describe(value)}")
            current = struct_values(value, self.config.replace_null_with_default)
            for field, header in self._pairs:
                field_def = schema.field(field)
                if field_def is None:
                    raise self.fail(f"{field!r} is not a field of the {target} schema")
                added.append(Header(header, current[field], field_def.schema))
            if self._move:
                schema = self._schemas.get_or(schema, self._without_fields)
                value = Struct.trusted(schema, [current[f.name] for f in schema.fields])
        record = record.replace(headers=Headers((*record.headers, *added)))
        return record.with_part(target, schema, value)

    def _without_fields(self, schema: Schema) -> Schema:
        moved = set(self.config.fields)
        return rebuild_struct_schema(
            schema, [(f.name, f.schema) for f in schema.fields if f.name not in moved]
        )


# -- InsertHeader -----------------------------------------------------------------------------


class InsertHeaderConfig(PluginConfig):
    """Keys of InsertHeader."""

    header: str = Field(description="Name of the header to add.", min_length=1)
    value_literal: str = Field(
        description="The header's value, parsed as Kafka's Values.parseString reads text."
    )


class InsertHeader(Transform):
    """Add a header with a literal value, its schema inferred as Kafka's ``Values.parseString``
    infers it: ``true``/``false``, the smallest integer type, FLOAT32, dates, ``[1, 2]`` an array,
    ``{"k": 1}`` a map, ``null`` no value; anything else the text as a STRING."""

    Config = InsertHeaderConfig
    config: InsertHeaderConfig

    def configure(self) -> None:
        schema, value = parse_text(self.config.value_literal)
        self._header = Header(self.config.header, value, schema)

    def apply(self, record: R) -> R | None:
        """The record with the header appended."""
        return record.replace(headers=Headers((*record.headers, self._header)))
