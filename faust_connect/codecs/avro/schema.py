"""Connect schemas ↔ Avro schemas, as Confluent's ``AvroData`` maps them.

To Avro: INT8/INT16 are ``int`` with ``"connect.type"``; an optional schema is
``["null", T]`` (``[T, "null"]`` when it has a default); an unnamed struct is a record
``io.confluent.connect.avro.ConnectDefault`` (then ``ConnectDefault2``, ...); Connect's doc,
version, parameters, default and name travel as ``connect.doc``, ``connect.version``,
``connect.parameters``, ``connect.default`` and ``connect.name``; Decimal is ``bytes`` with the
``decimal`` logical type (precision from ``connect.decimal.precision``, else 64); Date, Time and
Timestamp are ``date``, ``time-millis`` and ``timestamp-millis``; a map whose keys are not
strings is an array of ``io.confluent.connect.avro.MapEntry`` key/value records.

The reverse mapping is :func:`faust_connect.codecs.avro.read.from_avro`.

>>> from faust_connect.data import INT8
>>> to_avro(INT8)
{'type': 'int', 'connect.type': 'int8'}
"""

from __future__ import annotations

import re
from typing import Any

from faust_connect.codecs import logical as lg
from faust_connect.codecs.avro.values import default_to_json
from faust_connect.data import (
    BOOLEAN,
    BYTES,
    FLOAT32,
    FLOAT64,
    INT32,
    INT64,
    STRING,
    Logical,
    Schema,
    Type,
    struct_schema,
)

__all__ = [
    "DEFAULT_NAME",
    "ENUM",
    "FIELD_DOC",
    "NAMESPACE",
    "PRECISION",
    "PRIMITIVES",
    "RECORD_DOC",
    "AvroSchemaError",
    "to_avro",
]

NAMESPACE = "io.confluent.connect.avro"
DEFAULT_NAME = re.compile(re.escape(NAMESPACE) + r"\.ConnectDefault\d*")
PRECISION = "connect.decimal.precision"
RECORD_DOC = NAMESPACE + ".record.doc"
FIELD_DOC = NAMESPACE + ".field.doc."
ENUM = NAMESPACE + ".Enum"
_BASE = {
    Type.INT8: "int",
    Type.INT16: "int",
    Type.INT32: "int",
    Type.INT64: "long",
    Type.FLOAT32: "float",
    Type.FLOAT64: "double",
    Type.BOOLEAN: "boolean",
    Type.STRING: "string",
    Type.BYTES: "bytes",
}
_LOGICAL = {
    Logical.DATE: "date",
    Logical.TIME: "time-millis",
    Logical.TIMESTAMP: "timestamp-millis",
}
PRIMITIVES = {
    "int": INT32,
    "long": INT64,
    "float": FLOAT32,
    "double": FLOAT64,
    "boolean": BOOLEAN,
    "string": STRING,
    "bytes": BYTES,
}


class AvroSchemaError(ValueError):
    """A schema that cannot be mapped (the converter wraps it in a CodecError)."""


def to_avro(schema: Schema) -> Any:
    """The Avro schema (parsed JSON: str, dict or list) Confluent's AvroData writes."""
    return _ToAvro().convert(schema)


class _ToAvro:
    def __init__(self) -> None:
        self.defaults = 0
        self.entries = 0
        self.maps: dict[Schema, str] = {}
        self.seen: dict[Schema, str] = {}

    def convert(self, schema: Schema) -> Any:
        if schema.optional:
            if schema.type is Type.STRUCT:
                return ["null", self.convert(schema.replace(optional=False, default=None))]
            base = self._decorate(schema, self._base(schema))
            return [base, "null"] if schema.default is not None else ["null", base]
        if schema in self.seen:  # a named type already defined: refer to it by name
            return self.seen[schema]
        return self._decorate(schema, self._base(schema))

    def _base(self, schema: Schema) -> Any:
        kind = schema.type
        if kind in _BASE:
            node: dict[str, Any] = {"type": _BASE[kind]}
            if schema.name == Logical.DECIMAL:
                node["scale"] = lg.decimal_scale(schema)
                node["precision"] = int(schema.parameters.get(PRECISION, 64))
            return node
        if kind is Type.ARRAY:
            assert schema.value_schema is not None
            return {"type": "array", "items": self.convert(schema.value_schema)}
        assert schema.value_schema is not None or kind is Type.STRUCT
        if kind is Type.MAP:
            assert schema.key_schema is not None and schema.value_schema is not None
            if schema.key_schema.type is Type.STRING and not schema.key_schema.optional:
                return {"type": "map", "values": self.convert(schema.value_schema)}
            if schema in self.maps:  # the same map again: refer to its entry record
                return {"type": "array", "items": self.maps[schema]}
            name = schema.name
            if name is None:
                # Confluent names every entry record MapEntry, which fails on a second, different
                # map; later ones here are MapEntry2, ... marked as entries.
                self.entries += 1
                name = f"{NAMESPACE}.MapEntry" + (str(self.entries) if self.entries > 1 else "")
            entry = struct_schema(
                [("key", schema.key_schema), ("value", schema.value_schema)], name=name
            )
            internal = "MapEntry" if name != f"{NAMESPACE}.MapEntry" else None
            record = self._record(entry, internal=internal)
            self.maps[schema] = self.seen[entry]
            return {"type": "array", "items": record}
        return self._record(schema)

    def _record(self, schema: Schema, internal: str | None = None) -> Any:
        if schema in self.seen:
            return self.seen[schema]
        if schema.name:
            namespace, _, name = schema.name.rpartition(".")
        else:
            self.defaults += 1
            namespace, name = (
                NAMESPACE,
                "ConnectDefault" + (str(self.defaults) if self.defaults > 1 else ""),
            )
        node: dict[str, Any] = {"type": "record", "name": name}
        if namespace:
            node["namespace"] = namespace
        if schema.parameters.get(RECORD_DOC):
            node["doc"] = schema.parameters[RECORD_DOC]
        self.seen[schema] = f"{namespace}.{name}" if namespace else name
        fields = []
        for field in schema.fields:
            entry: dict[str, Any] = {"name": field.name, "type": self.convert(field.schema)}
            doc = schema.parameters.get(FIELD_DOC + field.name)
            if doc is not None:
                entry["doc"] = doc
            if field.schema.default is not None:
                entry["default"] = default_to_json(field.schema, field.schema.default)
            elif field.schema.optional:
                entry["default"] = None
            fields.append(entry)
        node["fields"] = fields
        if internal:
            node["connect.internal.type"] = internal
        return node

    def _decorate(self, schema: Schema, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        if schema.doc is not None:
            node["connect.doc"] = schema.doc
        if schema.version is not None:
            node["connect.version"] = schema.version
        if schema.parameters:
            node["connect.parameters"] = dict(schema.parameters)
        if schema.default is not None:
            node["connect.default"] = default_to_json(schema, schema.default)
        if schema.name is not None and node.get("connect.internal.type") is None:
            node["connect.name"] = schema.name
        if schema.type in (Type.INT8, Type.INT16):
            node["connect.type"] = str(schema.type)
        if schema.name in _LOGICAL:
            node["logicalType"] = _LOGICAL[schema.name]
        elif schema.name == Logical.DECIMAL:
            node["logicalType"] = "decimal"
        if len(node) == 1 and node["type"] in PRIMITIVES:
            return node["type"]
        return node
