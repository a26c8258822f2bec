"""Helpers the built-in transforms share: the key/value target, schema caches, struct access."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from pydantic import Field

from faust_connect.config import PluginConfig
from faust_connect.data import Schema, Struct, Type, struct_schema
from faust_connect.records import ConnectRecord

__all__ = [
    "SchemaCache",
    "Target",
    "TargetConfig",
    "field_values",
    "filled_values",
    "part_of",
    "rebuild_struct_schema",
    "struct_values",
    "with_part",
]

R = TypeVar("R", bound=ConnectRecord)

#: Which part of a record a transform works on (Kafka's ``$Key`` / ``$Value`` classes).
Target = Literal["key", "value"]


class TargetConfig(PluginConfig):
    """Config of a transform with Kafka's ``$Key``/``$Value`` variants."""

    target: Target = Field(
        "value",
        description="The record part to transform: key or value (the $Key/$Value class names "
        "set it).",
    )


def part_of(record: ConnectRecord, target: Target) -> tuple[Schema | None, Any]:
    """The (schema, value) of the record's key or value."""
    if target == "value":
        return record.value_schema, record.value
    return record.key_schema, record.key


def with_part(record: R, target: Target, schema: Schema | None, value: Any) -> R:
    """A copy of ``record`` with its key or value (and schema) replaced."""
    if target == "value":
        return record.replace(value_schema=schema, value=value)
    return record.replace(key_schema=schema, key=value)


K = TypeVar("K")
V = TypeVar("V")


class SchemaCache(dict[K, V]):
    """Derived schemas by input schema; cleared when it grows past ``size`` (Kafka: 16)."""

    def __init__(self, size: int = 64) -> None:
        super().__init__()
        self.size = size
        # The last key and its value: a stream of records mostly repeats one schema object,
        # and an identity check is cheaper than hashing it.
        self._last: tuple[K, V] | None = None

    def get_or(self, key: K, build: Callable[[K], V]) -> V:
        """The cached value for ``key``, building and storing it on a miss."""
        last = self._last
        if last is not None and last[0] is key:
            return last[1]
        try:
            value = self[key]
        except KeyError:
            if len(self) >= self.size:
                self.clear()
            value = self[key] = build(key)
        self._last = (key, value)
        return value

    def clear(self) -> None:
        """Forget every entry."""
        super().clear()
        self._last = None


def field_values(struct: Struct, replace_null_with_default: bool = True) -> Sequence[Any]:
    """A struct's values in field order; null fields become their default unless told otherwise."""
    return filled_values(struct.schema, struct.values(), replace_null_with_default)


def filled_values(
    schema: Schema, values: Sequence[Any], replace_null_with_default: bool = True
) -> Sequence[Any]:
    """Struct values of ``schema`` in field order, null fields as their default (if told so)."""
    if replace_null_with_default and None in values:
        fields = schema.fields
        return [v if v is not None else fields[i].schema.default for i, v in enumerate(values)]
    return values


def struct_values(struct: Struct, replace_null_with_default: bool = True) -> dict[str, Any]:
    """A struct's fields as a dict; null fields become their default unless told otherwise."""
    out: dict[str, Any] = {}
    for field, value in zip(struct.schema.fields, struct.values(), strict=True):
        if value is None and replace_null_with_default:
            value = field.schema.default
        out[field.name] = value
    return out


def rebuild_struct_schema(schema: Schema, fields: Iterable[tuple[str, Schema]]) -> Schema:
    """A struct schema with the name, version, doc, parameters and optionality of ``schema``."""
    return struct_schema(
        list(fields),
        name=schema.name,
        version=schema.version,
        doc=schema.doc,
        parameters=schema.parameters,
        optional=schema.optional,
    )


def is_struct_schema(schema: Schema | None) -> bool:
    """Whether ``schema`` is a struct schema."""
    return schema is not None and schema.type is Type.STRUCT


def as_map(value: Any) -> Mapping[str, Any] | None:
    """``value`` if it is a mapping, else None."""
    return value if isinstance(value, Mapping) else None
