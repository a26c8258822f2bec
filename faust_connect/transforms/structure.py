"""Transforms that reshape a key or value: ExtractField, HoistField, Flatten, SetSchemaMetadata.

>>> from faust_connect.records import SourceRecord
>>> Flatten().apply(SourceRecord(topic="t", value={"a": {"b": 1}, "c": 2})).value
{'a.b': 1, 'c': 2}
>>> HoistField(field="line").apply(SourceRecord(topic="t", value="hello")).value
{'line': 'hello'}
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationInfo, field_validator

from faust_connect.data import Schema, Struct, Type, struct_schema
from faust_connect.records import ConnectRecord
from faust_connect.transforms._util import (
    NULL_DEFAULT_DOC,
    SchemaCache,
    StructMapTransform,
    TargetConfig,
    Values,
    describe,
    field_values,
    filled_values,
    part_of,
    rebuild_struct_schema,
    struct_values,
)
from faust_connect.transforms.base import Transform

__all__ = ["ExtractField", "Flatten", "HoistField", "SetSchemaMetadata", "parse_field_path"]

#: A struct's values, flattened.
Flattener = Callable[[Sequence[Any]], list[Any]]
R = TypeVar("R", bound=ConnectRecord)


def parse_field_path(path: str) -> tuple[str, ...]:
    """Kafka's ``field.syntax.version=V2`` path: dot-separated, `` `a.b` `` quotes a dotted name.

    Inside backticks a backslash escapes a backtick.

    >>> parse_field_path("a.`b.c`.d")
    ('a', 'b.c', 'd')
    """
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(path):
        char = path[i]
        if quoted:
            if char == "\\" and i + 1 < len(path) and path[i + 1] == "`":
                current.append("`")
                i += 1
            elif char == "`":
                quoted = False
            else:
                current.append(char)
        elif char == "`" and not current:
            quoted = True
        elif char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    if quoted:
        raise ValueError(f"unterminated backtick in field path {path!r}")
    parts.append("".join(current))
    if any(not p for p in parts):
        raise ValueError(f"empty field name in field path {path!r}")
    return tuple(parts)


# -- ExtractField -----------------------------------------------------------------------------


class ExtractFieldConfig(TargetConfig):
    """Keys of ExtractField."""

    field: str = Field(description="The field to extract (a nested path with V2).", min_length=1)
    field_syntax_version: Literal["V1", "V2"] = Field(
        "V1", description="V1: the field name as is; V2: dotted paths with backtick quoting."
    )
    replace_null_with_default: bool = Field(True, description=NULL_DEFAULT_DOC)

    @field_validator("field_syntax_version", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("field_syntax_version")
    @classmethod
    def _check_path(cls, version: str, info: ValidationInfo) -> str:
        field = info.data.get("field")
        if version == "V2" and field:
            parse_field_path(field)
        return version


class ExtractField(Transform):
    """Replace the key or value with one of its fields; a null key/value stays null."""

    Config = ExtractFieldConfig
    config: ExtractFieldConfig

    def configure(self) -> None:
        c = self.config
        self._path = parse_field_path(c.field) if c.field_syntax_version == "V2" else (c.field,)
        self._schemas: SchemaCache[Schema, Schema] = SchemaCache()

    def apply(self, record: R) -> R | None:
        """The record with its key or value replaced by the field's value."""
        target = self.config.target
        schema, value = part_of(record, target)
        if schema is None:
            if value is None:
                return record.with_part(target, None, None)
            for name in self._path:
                if not isinstance(value, Mapping):
                    raise self.fail(
                        f"schemaless field extraction needs a map, not {describe(value)}"
                    )
                value = value.get(name)
                if value is None:
                    break
            return record.with_part(target, None, value)
        field_schema = self._schemas.get_or(schema, self._field_schema)
        if value is not None and not isinstance(value, Struct):
            raise self.fail(f"field extraction needs a struct, not {describe(value)}")
        for name in self._path:
            if value is None:
                break
            value = struct_values(value, self.config.replace_null_with_default)[name]
        return record.with_part(target, field_schema, value)

    def _field_schema(self, schema: Schema) -> Schema:
        current = schema
        for name in self._path:
            field = current.field(name) if current.type is Type.STRUCT else None
            if field is None:
                raise self.fail(f"unknown field {self.config.field!r}")
            current = field.schema
        return current


# -- HoistField -------------------------------------------------------------------------------


class HoistFieldConfig(TargetConfig):
    """Keys of HoistField."""

    field: str = Field(description="Name of the single field of the resulting struct or map.")


class HoistField(Transform):
    """Wrap the key or value in a struct (or map) with one field."""

    Config = HoistFieldConfig
    config: HoistFieldConfig

    def configure(self) -> None:
        self._schemas: SchemaCache[Schema, Schema] = SchemaCache()

    def apply(self, record: R) -> R | None:
        """The record with its key or value wrapped as ``{field: value}``."""
        target = self.config.target
        schema, value = part_of(record, target)
        if schema is None:
            return record.with_part(target, None, {self.config.field: value})
        new_schema = self._schemas.get_or(schema, lambda s: struct_schema([(self.config.field, s)]))
        if value is None and not schema.optional and schema.default is None:
            raise self.fail(f"null for the required field {self.config.field!r}")
        return record.with_part(target, new_schema, Struct.trusted(new_schema, [value]))


# -- Flatten ----------------------------------------------------------------------------------


class FlattenConfig(TargetConfig):
    """Keys of Flatten."""

    delimiter: str = Field(".", description="Joins a nested field's name to its parent's.")


class Flatten(StructMapTransform):
    """Flatten nested structs (or maps) into top-level fields named ``parent.child``.

    Arrays (and, with a schema, maps) are kept as they are. Fields under an optional struct
    become optional.
    """

    Config = FlattenConfig
    config: FlattenConfig
    action = "flattening"

    def configure(self) -> None:
        self._schemas: SchemaCache[Schema, Schema] = SchemaCache()
        self._flatteners: SchemaCache[Schema, tuple[Schema, Flattener]] = SchemaCache()

    def on_map(self, record: ConnectRecord, value: Mapping[str, Any]) -> dict[str, Any]:
        """The map flattened."""
        flat: dict[str, Any] = {}
        self._flatten_map(value, "", flat)
        return flat

    def on_values(
        self, record: ConnectRecord, schema: Schema, values: Values, fields: Schema | None = None
    ) -> tuple[Schema, list[Any]]:
        """The struct flattened."""
        if fields is None or fields is schema:
            new_schema, flatten = self._flatteners.get_or(schema, self._compile)
            return new_schema, flatten(values)
        new_schema = self._schemas.get_or(schema, self._flat_schema)
        out: list[Any] = []
        self._flatten_values(schema, filled_values(fields, values), out)
        return new_schema, out

    def _slow(self, schema: Schema, values: Sequence[Any]) -> list[Any]:
        """The flattened values of a struct of ``schema``, walking the schema."""
        out: list[Any] = []
        self._flatten_values(schema, filled_values(schema, values), out)
        return out

    def _compile(self, schema: Schema) -> tuple[Schema, Flattener]:
        """The flat schema, and a function flattening the values of a struct of ``schema``
        generated for it: values unpacked, nulls replaced by their defaults, a nested struct's
        values unpacked in place (a nested struct of another schema takes :meth:`_slow`)."""
        namespace: dict[str, Any] = {"slow": self._slow, "schema": schema}
        lines = ["def flatten(v):"]
        count = itertools.count()

        def unpack(struct: Schema, source: str, indent: str) -> list[str]:
            names = [f"x{next(count)}" for _ in struct.fields]
            if not names:
                return []
            lines.append(f"{indent}{', '.join(names)}, = {source}")
            leaves: list[str] = []
            for name, field in zip(names, struct.fields, strict=True):
                inner = field.schema
                if inner.default is not None:
                    namespace[f"d_{name}"] = inner.default
                    lines.append(f"{indent}if {name} is None:")
                    lines.append(f"{indent}    {name} = d_{name}")
                if inner.type is not Type.STRUCT:
                    leaves.append(name)
                    continue
                namespace[f"s_{name}"] = inner
                lines.append(f"{indent}if {name} is not None:")
                lines.append(f"{indent}    if {name}.schema is not s_{name}:")
                lines.append(f"{indent}        return slow(schema, v)")
                nested = unpack(inner, f"{name}.values()", indent + "    ")
                if nested:
                    lines.append(f"{indent}else:")
                    lines.append(f"{indent}    {' = '.join(nested)} = None")
                leaves.extend(nested)
            return leaves

        leaves = unpack(schema, "v", "    ")
        lines.append(f"    return [{', '.join(leaves)}]")
        source = "\n".join(lines) + "\n"
        exec(compile(source, "<faust_connect.transforms generated flatten>", "exec"), namespace)
        flatten: Flattener = namespace["flatten"]
        return self._flat_schema(schema), flatten

    def _flatten_map(self, value: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
        for key, item in value.items():
            name = f"{prefix}{key}"
            if isinstance(item, Mapping):
                self._flatten_map(item, name + self.config.delimiter, out)
            else:
                out[name] = item

    def _flatten_values(self, schema: Schema, current: Sequence[Any], out: list[Any]) -> None:
        for field, item in zip(schema.fields, current, strict=True):
            if field.schema.type is Type.STRUCT:
                if item is None:
                    self._flatten_values(field.schema, [None] * len(field.schema.fields), out)
                else:
                    self._flatten_values(field.schema, field_values(item), out)
            else:
                out.append(item)

    def _flat_schema(self, schema: Schema) -> Schema:
        fields: list[tuple[str, Schema]] = []
        self._flat_fields(schema, "", False, fields)
        return rebuild_struct_schema(schema, fields)

    def _flat_fields(
        self, schema: Schema, prefix: str, optional: bool, out: list[tuple[str, Schema]]
    ) -> None:
        for field in schema.fields:
            name = prefix + field.name
            child_optional = optional or field.schema.optional
            if field.schema.type is Type.STRUCT:
                self._flat_fields(field.schema, name + self.config.delimiter, child_optional, out)
            else:
                out.append((name, field.schema.as_optional() if child_optional else field.schema))


# -- SetSchemaMetadata ------------------------------------------------------------------------


class SetSchemaMetadataConfig(TargetConfig):
    """Keys of SetSchemaMetadata; at least one of schema.name and schema.version."""

    schema_name: str | None = Field(None, description="Schema name to set.")
    schema_version: int | None = Field(
        None, description="Schema version to set.", validate_default=True
    )
    replace_null_with_default: bool = Field(True, description=NULL_DEFAULT_DOC)

    @field_validator("schema_version")
    @classmethod
    def _one_of(cls, version: int | None, info: ValidationInfo) -> int | None:
        if version is None and not info.data.get("schema_name") and "schema_name" in info.data:
            raise ValueError("neither schema.name nor schema.version is configured")
        return version


class SetSchemaMetadata(Transform):
    """Set the name and/or version of the key or value schema, which must be a struct's.

    As in Kafka 4.1, a record without a schema fails unless its key/value is null too (it
    passes unchanged), and every schema but a STRUCT fails, a null value's too: Kafka copies
    the schema's fields, and ``ConnectSchema.fields()`` throws for the other types.
    """

    Config = SetSchemaMetadataConfig
    config: SetSchemaMetadataConfig

    def configure(self) -> None:
        changes: dict[str, Any] = {}
        if self.config.schema_name is not None:
            changes["name"] = self.config.schema_name
        if self.config.schema_version is not None:
            changes["version"] = self.config.schema_version
        self._changes = changes
        self._schemas: SchemaCache[Schema, Schema] = SchemaCache()

    def apply(self, record: R) -> R | None:
        """The record with its key or value schema renamed/re-versioned."""
        target = self.config.target
        schema, value = part_of(record, target)
        if schema is None:
            if value is None:
                return record
            raise self.fail(f"updating schema metadata needs a {target} schema")
        if schema.type is not Type.STRUCT:
            raise self.fail(
                f"Cannot list fields on non-struct type ({target} schema {schema.type.name})"
            )
        new_schema = self._schemas.get_or(schema, lambda s: s.replace(**self._changes))
        if isinstance(value, Struct) and value.schema == schema:
            values = field_values(value, self.config.replace_null_with_default)
            value = Struct.trusted(new_schema, values)
        return record.with_part(target, new_schema, value)
