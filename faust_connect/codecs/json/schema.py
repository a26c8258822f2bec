"""Connect schemas as the JsonConverter writes them, and back.

The keys come in the order Kafka's ``JsonConverter.asJsonSchema`` puts them in (Jackson keeps
insertion order): ``type``; then ``items`` (array), ``keys``/``values`` (map) or ``fields``
(struct); then ``optional``, ``name``, ``version``, ``doc``, ``parameters``, ``default``. Each
struct field is its schema followed by ``"field": <name>``. Type names are Kafka's:
FLOAT32 is ``"float"`` and FLOAT64 ``"double"``.

>>> from faust_connect.data import INT32
>>> schema_to_json(INT32, lambda s, v: v)
{'type': 'int32', 'optional': False}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faust_connect.data import Schema, Type, array_schema, map_schema, struct_schema

__all__ = ["JSON_TYPE_NAMES", "SchemaJsonError", "schema_from_json", "schema_to_json"]

#: Connect type → the JsonConverter's type name.
JSON_TYPE_NAMES: dict[Type, str] = {
    Type.INT8: "int8",
    Type.INT16: "int16",
    Type.INT32: "int32",
    Type.INT64: "int64",
    Type.FLOAT32: "float",
    Type.FLOAT64: "double",
    Type.BOOLEAN: "boolean",
    Type.STRING: "string",
    Type.BYTES: "bytes",
    Type.ARRAY: "array",
    Type.MAP: "map",
    Type.STRUCT: "struct",
}
_TYPES_BY_NAME = {name: kind for kind, name in JSON_TYPE_NAMES.items()}

#: ``(schema, value) -> JSON value``: how a default value is written.
EncodeDefault = Callable[[Schema, Any], Any]
#: ``(schema, JSON value) -> Connect value``: how a default value is read.
DecodeDefault = Callable[[Schema, Any], Any]


class SchemaJsonError(ValueError):
    """A JSON schema the JsonConverter cannot read; the message is Kafka's."""


def schema_to_json(schema: Schema, encode_default: EncodeDefault) -> dict[str, Any]:
    """The JSON form of ``schema`` (a fresh dict, in Kafka's key order)."""
    node: dict[str, Any] = {"type": JSON_TYPE_NAMES[schema.type]}
    kind = schema.type
    if kind is Type.ARRAY:
        assert schema.value_schema is not None
        node["items"] = schema_to_json(schema.value_schema, encode_default)
    elif kind is Type.MAP:
        assert schema.key_schema is not None and schema.value_schema is not None
        node["keys"] = schema_to_json(schema.key_schema, encode_default)
        node["values"] = schema_to_json(schema.value_schema, encode_default)
    elif kind is Type.STRUCT:
        fields = []
        for field in schema.fields:
            field_node = schema_to_json(field.schema, encode_default)
            field_node["field"] = field.name
            fields.append(field_node)
        node["fields"] = fields
    node["optional"] = schema.optional
    if schema.name is not None:
        node["name"] = schema.name
    if schema.version is not None:
        node["version"] = schema.version
    if schema.doc is not None:
        node["doc"] = schema.doc
    if schema.parameters:
        node["parameters"] = dict(schema.parameters)
    if schema.default is not None:
        node["default"] = encode_default(schema, schema.default)
    return node


def schema_from_json(node: Any, decode_default: DecodeDefault) -> Schema | None:
    """The Connect schema a JSON schema describes (None for JSON null)."""
    if node is None:
        return None
    if not isinstance(node, dict):
        raise SchemaJsonError("Schema must contain 'type' field")
    type_name = node.get("type")
    if not isinstance(type_name, str):
        raise SchemaJsonError("Schema must contain 'type' field")
    kind = _TYPES_BY_NAME.get(type_name)
    if kind is None:
        raise SchemaJsonError(f"Unknown schema type: {type_name}")
    attrs = _attributes(node)
    if kind is Type.ARRAY:
        items = node.get("items")
        if items is None:
            raise SchemaJsonError("Array schema did not specify the element type")
        schema = array_schema(_required(schema_from_json(items, decode_default)), **attrs)
    elif kind is Type.MAP:
        if "keys" not in node:
            raise SchemaJsonError("Map schema did not specify the key type")
        if "values" not in node:
            raise SchemaJsonError("Map schema did not specify the value type")
        schema = map_schema(
            _required(schema_from_json(node["keys"], decode_default)),
            _required(schema_from_json(node["values"], decode_default)),
            **attrs,
        )
    elif kind is Type.STRUCT:
        fields = node.get("fields")
        if not isinstance(fields, list):
            raise SchemaJsonError('Struct schema\'s "fields" argument is not an array.')
        built = []
        for field in fields:
            name = field.get("field") if isinstance(field, dict) else None
            if not isinstance(name, str):
                raise SchemaJsonError("Struct schema's field name not specified properly")
            built.append((name, _required(schema_from_json(field, decode_default))))
        schema = struct_schema(built, **attrs)
    else:
        schema = Schema(kind, **attrs)
    if node.get("default") is not None:
        schema = schema.replace(default=decode_default(schema, node["default"]))
    return schema


def _attributes(node: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {"optional": node.get("optional") is True}
    name = node.get("name")
    if isinstance(name, str):
        attrs["name"] = name
    version = node.get("version")
    if isinstance(version, int) and not isinstance(version, bool):
        attrs["version"] = version
    doc = node.get("doc")
    if isinstance(doc, str):
        attrs["doc"] = doc
    params = node.get("parameters")
    if isinstance(params, dict):
        if not all(isinstance(v, str) for v in params.values()):
            raise SchemaJsonError("Schema parameters must have string values.")
        attrs["parameters"] = params
    return attrs


def _required(schema: Schema | None) -> Schema:
    if schema is None:
        raise SchemaJsonError("a nested schema may not be null")
    return schema
