"""Avro schemas → Connect schemas, as Confluent's ``AvroData.toConnectSchema`` reads them.

The reverse of :func:`faust_connect.codecs.avro.schema.to_avro`, plus what other Avro writers
produce: enums (a STRING with Confluent's enum parameters), fixed (BYTES with
``connect.fixed.size``), records without ``connect.*`` properties (named by their full name)
and ``[null, T]`` unions in either order. Other unions are not supported. Record and field docs
become Confluent's ``io.confluent.connect.avro.record.doc`` / ``.field.doc.<name>`` parameters.

>>> from_avro({"type": "int", "connect.type": "int16"})
Schema(int16)
"""

from __future__ import annotations

import re
from typing import Any

from faust_connect.codecs.avro.schema import (
    DEFAULT_NAME,
    ENUM,
    FIELD_DOC,
    NAMESPACE,
    PRECISION,
    PRIMITIVES,
    RECORD_DOC,
    AvroSchemaError,
    to_avro,
)
from faust_connect.codecs.avro.values import default_from_json
from faust_connect.data import (
    BYTES,
    DATE,
    INT8,
    INT16,
    INT32,
    STRING,
    TIME,
    TIMESTAMP,
    Schema,
    Type,
    array_schema,
    decimal_schema,
    map_schema,
    struct_schema,
)

__all__ = ["from_avro"]

#: (Avro type, logicalType) → Connect's Date, Time or Timestamp: to_avro's mapping reversed.
_LOGICAL: dict[tuple[str, str], Schema] = {
    (avro["type"], avro["logicalType"]): schema
    for schema, avro in ((s, to_avro(s)) for s in (DATE, TIME, TIMESTAMP))
}


def from_avro(node: Any) -> Schema:
    """The Connect schema for a parsed Avro schema."""
    return _FromAvro().convert(node, "")


class _FromAvro:
    def __init__(self) -> None:
        self.named: dict[str, Schema] = {}
        self.entries: dict[str, Schema] = {}  # map-entry record name → its map schema

    def convert(self, node: Any, namespace: str, field_default: Any = None) -> Schema:
        schema = self._convert(node, namespace)
        if field_default is not None and schema.default is None:
            schema = schema.replace(default=default_from_json(schema, field_default))
        return schema

    def _convert(self, node: Any, namespace: str) -> Schema:
        if isinstance(node, list):
            return self._union(node, namespace)
        if isinstance(node, str):
            if node in PRIMITIVES:
                return PRIMITIVES[node]
            full = node if "." in node or not namespace else f"{namespace}.{node}"
            found = self.named.get(full) or self.named.get(node)
            if found is None:
                raise AvroSchemaError(f"unknown Avro type {node!r}")
            return found
        if not isinstance(node, dict):
            raise AvroSchemaError(f"not an Avro schema: {node!r}")
        kind = node.get("type")
        if isinstance(kind, (list, dict)) or (isinstance(kind, str) and len(node) == 1):
            return self._convert(kind, namespace)
        schema = self._base(node, str(kind), namespace)
        return self._decorate(node, schema)

    def _union(self, branches: list[Any], namespace: str) -> Schema:
        others = [b for b in branches if b != "null" and b != {"type": "null"}]
        if len(others) == 1:
            inner = self.convert(others[0], namespace)
            return inner.as_optional() if len(others) != len(branches) else inner
        raise AvroSchemaError(f"Avro unions other than [null, T] are not supported: {branches!r}")

    def _base(self, node: dict[str, Any], kind: str, namespace: str) -> Schema:
        logical = node.get("logicalType")
        if isinstance(logical, str) and (kind, logical) in _LOGICAL:
            return _LOGICAL[kind, logical]
        if kind == "int":
            connect_type = node.get("connect.type")
            if connect_type is None:
                return INT32
            if connect_type not in ("int8", "int16"):
                raise AvroSchemaError(f"unknown connect.type {connect_type!r} for an Avro int")
            return INT8 if connect_type == "int8" else INT16
        if kind in ("bytes", "fixed"):
            params = {"connect.fixed.size": str(node["size"])} if kind == "fixed" else {}
            if kind == "fixed":
                self._name(node, namespace)
            if logical == "decimal":
                precision = node.get("precision")
                if precision is not None and precision != 64:
                    params[PRECISION] = str(precision)
                return decimal_schema(int(node.get("scale", 0)), parameters=params)
            return BYTES.replace(parameters=params) if params else BYTES
        if kind in PRIMITIVES:
            return PRIMITIVES[kind]
        if kind == "array":
            items = node.get("items")
            entry = self._map_entry(items, namespace)
            if entry is not None:
                return entry
            return array_schema(self.convert(items, namespace))
        if kind == "map":
            return map_schema(STRING, self.convert(node.get("values"), namespace))
        if kind == "enum":
            full = self._name(node, namespace)
            params = {ENUM: full, **{f"{ENUM}.{s}": s for s in node.get("symbols", ())}}
            return STRING.replace(parameters=params)
        if kind in ("record", "error"):
            return self._record(node, namespace)
        raise AvroSchemaError(f"unsupported Avro type {kind!r}")

    def _name(self, node: dict[str, Any], namespace: str) -> str:
        name = str(node.get("name", ""))
        if "." in name:
            return name
        space = node.get("namespace", namespace) or ""
        return f"{space}.{name}" if space else name

    def _map_entry(self, items: Any, namespace: str) -> Schema | None:
        if isinstance(items, str):
            full = items if "." in items or not namespace else f"{namespace}.{items}"
            return self.entries.get(full) or self.entries.get(items)
        if not isinstance(items, dict) or items.get("type") != "record":
            return None
        full = self._name(items, namespace)
        if full != f"{NAMESPACE}.MapEntry" and items.get("connect.internal.type") != "MapEntry":
            return None
        fields = {f["name"]: f for f in items.get("fields", ())}
        if set(fields) != {"key", "value"}:
            raise AvroSchemaError("map encoded as array of key-value pairs has bad entries")
        space = full.rpartition(".")[0]
        schema = map_schema(
            self.convert(fields["key"]["type"], space), self.convert(fields["value"]["type"], space)
        )
        if full != f"{NAMESPACE}.MapEntry" and not re.fullmatch(
            re.escape(NAMESPACE) + r"\.MapEntry\d+", full
        ):
            schema = schema.replace(name=full)
        self.entries[full] = schema
        return schema

    def _record(self, node: dict[str, Any], namespace: str) -> Schema:
        full = self._name(node, namespace)
        space = full.rpartition(".")[0]
        params: dict[str, str] = {}
        if node.get("doc") is not None:
            params[RECORD_DOC] = str(node["doc"])
        fields = []
        for field in node.get("fields", ()):
            if field.get("doc") is not None:
                params[FIELD_DOC + field["name"]] = str(field["doc"])
            fields.append((field["name"], self.convert(field["type"], space, field.get("default"))))
        name = None if DEFAULT_NAME.fullmatch(full) else full
        schema = struct_schema(fields, name=name, parameters=params)
        self.named[full] = schema
        return schema

    def _decorate(self, node: dict[str, Any], schema: Schema) -> Schema:
        changes: dict[str, Any] = {}
        if isinstance(node.get("connect.doc"), str):
            changes["doc"] = node["connect.doc"]
        version = node.get("connect.version")
        if version is not None:
            if not isinstance(version, int):
                raise AvroSchemaError(f"Invalid Connect version found: {version!r}")
            changes["version"] = version
        params = node.get("connect.parameters")
        if params is not None:
            if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
                raise AvroSchemaError("Expected schema parameters to be a map of strings")
            changes["parameters"] = {**schema.parameters, **params}
        if isinstance(node.get("connect.name"), str):
            changes["name"] = node["connect.name"]
        if changes:
            schema = schema.replace(**changes)
            if schema.type is Type.STRUCT and schema.name:
                self.named[self._name(node, "")] = schema
        default = node.get("connect.default")
        if default is not None:
            schema = schema.replace(default=default_from_json(schema, default))
        return schema
