"""Kafka Connect's data model: schemas, structs and the logical types.

A :class:`Schema` describes a value: one of Connect's types, whether it may be null, a default,
and optionally a name, version, doc and parameters. Arrays and maps have element schemas; structs
have ordered :class:`Field` s. Schemas are immutable and hashable, so derived schemas can be cached
per input schema.

Values in Python: INT8..INT64 ``int``, FLOAT32/64 ``float``, BOOLEAN ``bool``, STRING ``str``,
BYTES ``bytes``, ARRAY ``list``, MAP ``dict``, STRUCT :class:`Struct`; the logical types
Decimal ``decimal.Decimal``, Date ``datetime.date``, Time ``datetime.time`` and Timestamp
``datetime.datetime`` (UTC).

>>> schema = struct_schema([("id", INT32), ("name", OPTIONAL_STRING)], name="user")
>>> Struct(schema, {"id": 1}).get("name") is None
True
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from faust_connect.exceptions import DataError

__all__ = [
    "BOOLEAN",
    "BYTES",
    "DATE",
    "FLOAT32",
    "FLOAT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "OPTIONAL_BOOLEAN",
    "OPTIONAL_BYTES",
    "OPTIONAL_FLOAT32",
    "OPTIONAL_FLOAT64",
    "OPTIONAL_INT8",
    "OPTIONAL_INT16",
    "OPTIONAL_INT32",
    "OPTIONAL_INT64",
    "OPTIONAL_STRING",
    "STRING",
    "TIME",
    "TIMESTAMP",
    "Field",
    "Logical",
    "Schema",
    "Struct",
    "Type",
    "array_schema",
    "decimal_schema",
    "map_schema",
    "struct_schema",
    "validate_value",
]


class Type(enum.StrEnum):
    """Connect's schema types (values are the lower-case Java names)."""

    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    BOOLEAN = "boolean"
    STRING = "string"
    BYTES = "bytes"
    ARRAY = "array"
    MAP = "map"
    STRUCT = "struct"

    @property
    def is_primitive(self) -> bool:
        """True for every type but ARRAY, MAP and STRUCT."""
        return self not in (Type.ARRAY, Type.MAP, Type.STRUCT)


class Logical:
    """Names of the logical types (schema name; version 1)."""

    DECIMAL = "org.apache.kafka.connect.data.Decimal"
    DATE = "org.apache.kafka.connect.data.Date"
    TIME = "org.apache.kafka.connect.data.Time"
    TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"
    #: The parameter holding a Decimal's scale.
    SCALE = "scale"


_INT_RANGES = {
    Type.INT8: (-(2**7), 2**7 - 1),
    Type.INT16: (-(2**15), 2**15 - 1),
    Type.INT32: (-(2**31), 2**31 - 1),
    Type.INT64: (-(2**63), 2**63 - 1),
}


class Field:
    """One field of a struct schema."""

    __slots__ = ("index", "name", "schema")

    def __init__(self, name: str, index: int, schema: Schema) -> None:
        self.name = name
        self.index = index
        self.schema = schema

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Field)
            and self.name == other.name
            and self.index == other.index
            and self.schema == other.schema
        )

    def __hash__(self) -> int:
        return hash((self.name, self.index, self.schema))

    def __repr__(self) -> str:
        return f"Field({self.name!r}, {self.index}, {self.schema!r})"


class Schema:
    """An immutable Connect schema. Build with the module's constants and ``*_schema`` helpers."""

    __slots__ = (
        "_by_name",
        "_flat",
        "_hash",
        "_names",
        "default",
        "doc",
        "fields",
        "key_schema",
        "name",
        "optional",
        "parameters",
        "type",
        "value_schema",
        "version",
    )

    type: Type
    optional: bool
    default: Any
    name: str | None
    version: int | None
    doc: str | None
    parameters: Mapping[str, str]
    key_schema: Schema | None
    value_schema: Schema | None
    fields: tuple[Field, ...]
    _by_name: dict[str, Field]
    #: Field names in order, and whether no field is a struct, array or map (struct hot paths).
    _names: tuple[str, ...]
    _flat: bool
    _hash: int | None

    def __init__(
        self,
        type: Type | str,
        *,
        optional: bool = False,
        default: Any = None,
        name: str | None = None,
        version: int | None = None,
        doc: str | None = None,
        parameters: Mapping[str, str] | None = None,
        key_schema: Schema | None = None,
        value_schema: Schema | None = None,
        fields: Iterable[Field] = (),
    ) -> None:
        kind = Type(type)
        set_ = object.__setattr__
        set_(self, "type", kind)
        set_(self, "optional", optional)
        set_(self, "name", name)
        set_(self, "version", version)
        set_(self, "doc", doc)
        set_(self, "parameters", dict(parameters or {}))
        set_(self, "key_schema", key_schema)
        set_(self, "value_schema", value_schema)
        set_(self, "fields", tuple(fields))
        set_(self, "_by_name", {f.name: f for f in self.fields})
        set_(self, "_names", tuple(f.name for f in self.fields))
        set_(self, "_flat", all(f.schema.type.is_primitive for f in self.fields))
        set_(self, "_hash", None)
        if kind is Type.ARRAY and value_schema is None:
            raise DataError("an array schema needs a value schema")
        if kind is Type.MAP and (key_schema is None or value_schema is None):
            raise DataError("a map schema needs a key and a value schema")
        if kind is not Type.STRUCT and self.fields:
            raise DataError(f"a {kind} schema cannot have fields")
        if default is not None:
            validate_value(self, default, "default value")
        set_(self, "default", default)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Schema is immutable; use Schema.replace()")

    def replace(self, **changes: Any) -> Schema:
        """A copy with some attributes changed (``optional=True``, ``name=...``)."""
        attrs: dict[str, Any] = {
            "optional": self.optional,
            "default": self.default,
            "name": self.name,
            "version": self.version,
            "doc": self.doc,
            "parameters": self.parameters,
            "key_schema": self.key_schema,
            "value_schema": self.value_schema,
            "fields": self.fields,
        }
        attrs.update(changes)
        return Schema(self.type, **attrs)

    def as_optional(self) -> Schema:
        """This schema, allowing null."""
        return self if self.optional else self.replace(optional=True)

    def field(self, name: str) -> Field | None:
        """The struct field of that name, or None."""
        return self._by_name.get(name)

    def require_field(self, name: str) -> Field:
        """The struct field of that name; a DataError names the schema if there is none."""
        field = self._by_name.get(name)
        if field is None:
            raise DataError(
                f"{name!r} is not a valid field name of schema {self.name or self.type}"
            )
        return field

    def _key(self) -> tuple[Any, ...]:
        return (
            self.type,
            self.optional,
            self.name,
            self.version,
            self.doc,
            tuple(sorted(self.parameters.items())),
            self.key_schema,
            self.value_schema,
            self.fields,
        )

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Schema):
            return NotImplemented
        return self._key() == other._key() and _same(self.default, other.default)

    def __hash__(self) -> int:
        cached: int | None = self._hash
        if cached is None:
            cached = hash(self._key())
            object.__setattr__(self, "_hash", cached)
        return cached

    def __repr__(self) -> str:
        parts = [self.type.value]
        if self.name:
            parts.append(f"name={self.name!r}")
        if self.optional:
            parts.append("optional")
        if self.fields:
            parts.append("fields=[" + ", ".join(f.name for f in self.fields) + "]")
        return f"Schema({', '.join(parts)})"


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def struct_schema(
    fields: Iterable[tuple[str, Schema]] | Mapping[str, Schema],
    *,
    name: str | None = None,
    optional: bool = False,
    version: int | None = None,
    doc: str | None = None,
    parameters: Mapping[str, str] | None = None,
    default: Any = None,
) -> Schema:
    """A struct schema with fields in the given order."""
    items = fields.items() if isinstance(fields, Mapping) else fields
    built = []
    seen: set[str] = set()
    for index, (field_name, schema) in enumerate(items):
        if field_name in seen:
            raise DataError(f"duplicate field name {field_name!r} in struct schema")
        seen.add(field_name)
        built.append(Field(field_name, index, schema))
    return Schema(
        Type.STRUCT,
        fields=built,
        name=name,
        optional=optional,
        version=version,
        doc=doc,
        parameters=parameters,
        default=default,
    )


def array_schema(value_schema: Schema, *, optional: bool = False, **attrs: Any) -> Schema:
    """An array schema of ``value_schema`` elements."""
    return Schema(Type.ARRAY, value_schema=value_schema, optional=optional, **attrs)


def map_schema(
    key_schema: Schema, value_schema: Schema, *, optional: bool = False, **attrs: Any
) -> Schema:
    """A map schema."""
    return Schema(
        Type.MAP, key_schema=key_schema, value_schema=value_schema, optional=optional, **attrs
    )


def decimal_schema(scale: int, *, optional: bool = False, **attrs: Any) -> Schema:
    """The Decimal logical type with that scale."""
    params = {Logical.SCALE: str(scale), **attrs.pop("parameters", {})}
    return Schema(
        Type.BYTES, name=Logical.DECIMAL, version=1, parameters=params, optional=optional, **attrs
    )


INT8 = Schema(Type.INT8)
INT16 = Schema(Type.INT16)
INT32 = Schema(Type.INT32)
INT64 = Schema(Type.INT64)
FLOAT32 = Schema(Type.FLOAT32)
FLOAT64 = Schema(Type.FLOAT64)
BOOLEAN = Schema(Type.BOOLEAN)
STRING = Schema(Type.STRING)
BYTES = Schema(Type.BYTES)
OPTIONAL_INT8 = Schema(Type.INT8, optional=True)
OPTIONAL_INT16 = Schema(Type.INT16, optional=True)
OPTIONAL_INT32 = Schema(Type.INT32, optional=True)
OPTIONAL_INT64 = Schema(Type.INT64, optional=True)
OPTIONAL_FLOAT32 = Schema(Type.FLOAT32, optional=True)
OPTIONAL_FLOAT64 = Schema(Type.FLOAT64, optional=True)
OPTIONAL_BOOLEAN = Schema(Type.BOOLEAN, optional=True)
OPTIONAL_STRING = Schema(Type.STRING, optional=True)
OPTIONAL_BYTES = Schema(Type.BYTES, optional=True)
DATE = Schema(Type.INT32, name=Logical.DATE, version=1)
TIME = Schema(Type.INT32, name=Logical.TIME, version=1)
TIMESTAMP = Schema(Type.INT64, name=Logical.TIMESTAMP, version=1)


# -- validation -------------------------------------------------------------------------------

_LOGICAL_PY: dict[str, tuple[type, ...]] = {
    Logical.DECIMAL: (decimal.Decimal,),
    Logical.DATE: (dt.date,),
    Logical.TIME: (dt.time,),
    Logical.TIMESTAMP: (dt.datetime,),
}

_PRIMITIVE_PY: dict[Type, tuple[type, ...]] = {
    Type.FLOAT32: (float, int),
    Type.FLOAT64: (float, int),
    Type.BOOLEAN: (bool,),
    Type.STRING: (str,),
    Type.BYTES: (bytes, bytearray, memoryview),
}


def validate_value(schema: Schema, value: Any, where: str = "value") -> None:
    """Raise a DataError naming ``where`` (a field path) if ``value`` does not fit ``schema``."""
    if value is None:
        if schema.optional or schema.default is not None:
            return
        raise DataError(f"{where}: null for a required {_describe(schema)} schema")
    logical = _LOGICAL_PY.get(schema.name or "")
    if logical is not None:
        # datetime is a subclass of date: a Date must not be given a datetime
        if isinstance(value, logical) and not (
            schema.name == Logical.DATE and isinstance(value, dt.datetime)
        ):
            return
        raise DataError(f"{where}: {type(value).__name__} does not fit logical type {schema.name}")
    kind = schema.type
    ok: bool
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        ok = type(value) is int or (isinstance(value, int) and not isinstance(value, bool))
        if ok and not low <= value <= high:
            raise DataError(f"{where}: {value} is out of range for {kind}")
    elif kind is Type.STRUCT:
        if not isinstance(value, Struct):
            ok = False
        elif value.schema != schema:
            raise DataError(f"{where}: struct schema does not match {_describe(schema)}")
        else:
            return
    elif kind is Type.ARRAY:
        ok = isinstance(value, (list, tuple))
        if ok:
            assert schema.value_schema is not None
            for i, item in enumerate(value):
                validate_value(schema.value_schema, item, f"{where}[{i}]")
    elif kind is Type.MAP:
        ok = isinstance(value, Mapping)
        if ok:
            assert schema.key_schema is not None and schema.value_schema is not None
            for k, v in value.items():
                validate_value(schema.key_schema, k, f"{where} key")
                validate_value(schema.value_schema, v, f"{where}[{k!r}]")
    else:
        ok = isinstance(value, _PRIMITIVE_PY[kind]) and not (
            kind in (Type.FLOAT32, Type.FLOAT64) and isinstance(value, bool)
        )
    if not ok:
        raise DataError(f"{where}: {type(value).__name__} does not fit {_describe(schema)}")


def _describe(schema: Schema) -> str:
    return f"{schema.type} ({schema.name})" if schema.name else str(schema.type)


# -- structs ----------------------------------------------------------------------------------


class Struct:
    """An immutable struct value: a schema and one value per field.

    ``Struct(schema, {"a": 1})`` validates every field (types, and that required fields are set);
    ``struct.replace(a=2)`` gives a changed copy.
    """

    __slots__ = ("_values", "schema")

    schema: Schema
    _values: tuple[Any, ...]

    def __init__(
        self, schema: Schema, values: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if schema.type is not Type.STRUCT:
            raise DataError(f"a Struct needs a struct schema, not {schema.type}")
        given = dict(values or {}, **kwargs)
        unknown = set(given) - set(schema._by_name)
        if unknown:
            name = sorted(unknown)[0]
            raise DataError(
                f"{name!r} is not a valid field name of schema {schema.name or 'struct'}"
            )
        out = []
        for field in schema.fields:
            value = given.get(field.name)
            if value is None:
                value = field.schema.default
            validate_value(field.schema, value, f"field {field.name!r}")
            out.append(value)
        object.__setattr__(self, "schema", schema)
        object.__setattr__(self, "_values", tuple(out))

    @classmethod
    def trusted(cls, schema: Schema, values: Sequence[Any]) -> Struct:
        """Build from values in field order that the caller has already validated (hot paths)."""
        struct = _new(cls)
        _set_schema(struct, schema)  # the slots' own setters: cheaper than object.__setattr__
        _set_values(struct, tuple(values))
        return struct

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Struct is immutable; use Struct.replace()")

    def get(self, name: str) -> Any:
        """The value of a field (its default if null); DataError for an unknown field."""
        return self._values[self.schema.require_field(name).index]

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def values(self) -> tuple[Any, ...]:
        """Field values in field order."""
        return self._values

    def items(self) -> Iterator[tuple[str, Any]]:
        """``(field name, value)`` pairs in field order."""
        return zip(self.schema._names, self._values, strict=True)

    def as_dict(self) -> dict[str, Any]:
        """A plain dict, nested structs included."""
        schema = self.schema
        if schema._flat:  # no field can hold a struct: the values are already plain
            return dict(zip(schema._names, self._values, strict=True))
        return {k: _plain(v) for k, v in zip(schema._names, self._values, strict=True)}

    def replace(self, **changes: Any) -> Struct:
        """A copy with some fields changed (validated)."""
        return Struct(self.schema, dict(self.items(), **changes))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Struct):
            return NotImplemented
        return self.schema == other.schema and self._values == other._values

    def __hash__(self) -> int:
        return hash((self.schema, _hashable(self._values)))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.items())
        return f"Struct{{{inner}}}"


_new = object.__new__
_set_schema = getattr(Struct, "schema").__set__  # noqa: B009 - the slot descriptor itself
_set_values = getattr(Struct, "_values").__set__  # noqa: B009 - the slot descriptor itself


def _plain(value: Any) -> Any:
    if isinstance(value, Struct):
        return value.as_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((repr(k), _hashable(v)) for k, v in value.items()))
    return value
