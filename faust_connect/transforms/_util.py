"""What the built-in transforms share: the key/value target, the struct-or-map skeleton
(:class:`StructMapTransform`), schema caches, struct access."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, Field

from faust_connect.config import PluginConfig
from faust_connect.data import Schema, Struct, struct_schema
from faust_connect.records import ConnectRecord
from faust_connect.transforms.base import PartTransform, StructValuesFn

__all__ = [
    "NULL_DEFAULT_DOC",
    "SchemaCache",
    "StructMapTransform",
    "Target",
    "TargetConfig",
    "Values",
    "describe",
    "field_values",
    "filled_values",
    "parsed_by",
    "part_of",
    "rebuild_struct_schema",
    "struct_values",
]

#: A struct's values, in the order of its schema's fields.
Values = Sequence[Any]
#: The description of every ``replace.null.with.default`` key.
NULL_DEFAULT_DOC = "Use a field's default value when the field is null (Kafka 4.0)."

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


def describe(value: Any) -> str:
    """How errors name the kind of a value: ``null`` or its type's name."""
    return "null" if value is None else type(value).__name__


def parsed_by(parse: Callable[[str], object]) -> AfterValidator:
    """A config validator: a string that ``parse`` accepts (its ValueError names the problem).

    ``pattern: Annotated[str, parsed_by(java_regex)]`` checks the key once, at config time.
    """

    def check(text: str) -> str:
        parse(text)
        return text

    return AfterValidator(check)


class StructMapTransform(PartTransform):
    """The skeleton of the field-level transforms: a struct with a schema, a map without one.

    A null key/value passes unchanged; any other value that is not a map (without a schema) or
    a Struct (with one) fails, naming :attr:`action`. Subclasses implement :meth:`on_map` and
    :meth:`on_values`; the latter is also the values path a Chain's run of stages takes.
    """

    #: The operation as errors name it: "field insertion" gives "field insertion needs a struct".
    action: ClassVar[str]

    def apply_part(
        self, record: ConnectRecord, schema: Schema | None, value: Any
    ) -> tuple[Schema | None, Any]:
        """The part changed by :meth:`on_map` or :meth:`on_values`; null stays null."""
        if value is None:
            return schema, value
        if schema is None:
            if not isinstance(value, Mapping):
                raise self.fail(f"schemaless {self.action} needs a map, not {describe(value)}")
            return None, self.on_map(record, value)
        if not isinstance(value, Struct):
            raise self.fail(f"{self.action} needs a struct, not {describe(value)}")
        new_schema, values = self.on_values(record, schema, value.values(), value.schema)
        return new_schema, Struct.trusted(new_schema, values)

    def values_path(self) -> StructValuesFn | None:
        """:meth:`on_values` (see PartTransform)."""
        return self.on_values

    @abstractmethod
    def on_map(self, record: ConnectRecord, value: Mapping[str, Any]) -> dict[str, Any]:
        """The new map for a schemaless part (a copy; ``value`` is never mutated)."""

    @abstractmethod
    def on_values(
        self, record: ConnectRecord, schema: Schema, values: Values, fields: Schema | None = None
    ) -> tuple[Schema, list[Any]]:
        """The new struct schema and values, given the part's schema and a struct's values.

        ``values`` follow ``fields``, the struct's own schema, which None means is ``schema``
        (as in a Chain's run); :meth:`filled` reads them.
        """

    def filled(
        self, schema: Schema, values: Values, fields: Schema | None
    ) -> tuple[Schema, Values]:
        """The schema ``values`` follow, and the values with nulls as their field's default
        (unless the config's ``replace_null_with_default`` says otherwise)."""
        fields = schema if fields is None else fields
        return fields, filled_values(fields, values, self.config.replace_null_with_default)


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
