"""One walk over a Connect schema, shared by the per-schema compilers.

:meth:`SchemaVisitor.visit` is the one place that dispatches on a schema: a schema named after
one of Connect's logical types (Decimal, Date, Time, Timestamp) goes to that type's leaf
whatever its Connect type, any other to the leaf of its Connect type. The compilers (the JSON
encoder and decoder, the Avro writer and reader, the Avro defaults) subclass it and supply the
leaves. A leaf that needs a child's result visits the child itself, because how a child is
wrapped (null handling, defaults, an inline fast path) is the compiler's own business.

The walk runs when a compiler builds its function for a schema, not per record: what a leaf
returns (a closure, generated code) is what runs per record.

>>> class Names(SchemaVisitor[str]):
...     def on_decimal(self, schema, scale): return f"decimal({scale})"
...     def on_date(self, schema): return "date"
...     def on_time(self, schema): return "time"
...     def on_timestamp(self, schema): return "timestamp"
...     def on_primitive(self, schema): return str(schema.type)
...     def on_array(self, schema, items): return f"[{self.visit(items)}]"
...     def on_map(self, schema, keys, values): return f"{{{self.visit(keys)}: {self.visit(values)}}}"
...     def on_struct(self, schema): return ", ".join(self.visit(f.schema) for f in schema.fields)
>>> from faust_connect.data import DATE, STRING, map_schema
>>> Names().visit(map_schema(STRING, DATE))
'{string: date}'
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from faust_connect.codecs import logical as lg
from faust_connect.data import Logical, Schema, Type

__all__ = ["SchemaVisitor"]

R = TypeVar("R")


class SchemaVisitor(ABC, Generic[R]):
    """Dispatches a Connect schema to the leaf of its logical type or of its Connect type.

    The integer, float, boolean, string and bytes leaves default to :meth:`on_primitive`:
    override that, the ones a compiler treats apart, or all of them.
    """

    def visit(self, schema: Schema) -> R:
        """What this compiler makes of ``schema``."""
        name = schema.name
        if name is not None:
            if name == Logical.DECIMAL:
                return self.on_decimal(schema, lg.decimal_scale(schema))
            if name == Logical.DATE:
                return self.on_date(schema)
            if name == Logical.TIME:
                return self.on_time(schema)
            if name == Logical.TIMESTAMP:
                return self.on_timestamp(schema)
        kind = schema.type
        if kind is Type.STRUCT:
            return self.on_struct(schema)
        if kind is Type.ARRAY:
            assert schema.value_schema is not None  # an array schema has its items' schema
            return self.on_array(schema, schema.value_schema)
        if kind is Type.MAP:
            assert schema.key_schema is not None and schema.value_schema is not None
            return self.on_map(schema, schema.key_schema, schema.value_schema)
        if kind is Type.BYTES:
            return self.on_bytes(schema)
        if kind is Type.STRING:
            return self.on_string(schema)
        if kind is Type.BOOLEAN:
            return self.on_boolean(schema)
        if kind is Type.FLOAT32 or kind is Type.FLOAT64:
            return self.on_float(schema)
        return self.on_int(schema)

    @abstractmethod
    def on_decimal(self, schema: Schema, scale: int) -> R:
        """A Decimal of ``scale`` (the schema's ``scale`` parameter)."""

    @abstractmethod
    def on_date(self, schema: Schema) -> R:
        """A Date (days since the epoch on the wire)."""

    @abstractmethod
    def on_time(self, schema: Schema) -> R:
        """A Time (milliseconds since midnight on the wire)."""

    @abstractmethod
    def on_timestamp(self, schema: Schema) -> R:
        """A Timestamp (milliseconds since the epoch on the wire)."""

    def on_primitive(self, schema: Schema) -> R:
        """Any primitive type whose own leaf is not overridden."""
        raise NotImplementedError(f"{type(self).__name__} has no leaf for {schema.type}")

    def on_int(self, schema: Schema) -> R:
        """INT8, INT16, INT32 or INT64."""
        return self.on_primitive(schema)

    def on_float(self, schema: Schema) -> R:
        """FLOAT32 or FLOAT64."""
        return self.on_primitive(schema)

    def on_boolean(self, schema: Schema) -> R:
        """BOOLEAN."""
        return self.on_primitive(schema)

    def on_string(self, schema: Schema) -> R:
        """STRING."""
        return self.on_primitive(schema)

    def on_bytes(self, schema: Schema) -> R:
        """BYTES."""
        return self.on_primitive(schema)

    @abstractmethod
    def on_array(self, schema: Schema, items: Schema) -> R:
        """An ARRAY of ``items``."""

    @abstractmethod
    def on_map(self, schema: Schema, keys: Schema, values: Schema) -> R:
        """A MAP from ``keys`` to ``values``."""

    @abstractmethod
    def on_struct(self, schema: Schema) -> R:
        """A STRUCT (its fields are ``schema.fields``)."""
