"""ExtractField, HoistField, Flatten and SetSchemaMetadata."""

from __future__ import annotations

from typing import Any

import pytest

from faust_connect.data import (
    INT32,
    INT64,
    OPTIONAL_STRING,
    STRING,
    Schema,
    Struct,
    array_schema,
    map_schema,
    struct_schema,
)
from faust_connect.exceptions import ConfigError, TransformError
from faust_connect.records import SourceRecord
from faust_connect.transforms import ExtractField, Flatten, HoistField, SetSchemaMetadata
from faust_connect.transforms.structure import parse_field_path

from .helpers import USER, src, user

NAME = struct_schema(
    [("first", STRING), ("middle", OPTIONAL_STRING), ("last", STRING)], name="name", optional=True
)
CONTENT = struct_schema([("id", INT32), ("name", NAME)], name="content")
DOC = struct_schema([("content", CONTENT), ("tags", array_schema(STRING))], name="doc")


def doc(name: Struct | None) -> Struct:
    return Struct(DOC, content=Struct(CONTENT, id=42, name=name), tags=["x"])


WONG = Struct(NAME, first="David", middle=None, last="Wong")

# -- ExtractField -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "value", "expected"),
    [
        ({"field": "id"}, {"id": 42, "name": "x"}, 42),
        ({"field": "missing"}, {"id": 42}, None),
        ({"field": "a.b"}, {"a.b": 1, "a": {"b": 2}}, 1),
        ({"field": "a.b", "field.syntax.version": "V2"}, {"a.b": 1, "a": {"b": 2}}, 2),
        ({"field": "`a.b`", "field.syntax.version": "v2"}, {"a.b": 1, "a": {"b": 2}}, 1),
        ({"field": "a.b.c", "field.syntax.version": "V2"}, {"a": {"b": None}}, None),
        ({"field": "id"}, None, None),
    ],
)
def test_extract_field_schemaless(settings: dict[str, str], value: Any, expected: Any) -> None:
    out = ExtractField.from_config(settings).apply(src(value))
    assert out is not None and out.value == expected and out.value_schema is None


def test_extract_field_with_schema() -> None:
    out = ExtractField(field="name").apply(src(user(), schema=USER))
    assert out is not None and out.value == "ann" and out.value_schema == STRING


def test_extract_nested_field_with_schema_v2() -> None:
    t = ExtractField(field="content.name.first", field_syntax_version="V2")
    out = t.apply(src(doc(WONG), schema=DOC))
    assert out is not None and out.value == "David" and out.value_schema == STRING
    empty = t.apply(src(doc(None), schema=DOC))
    assert empty is not None and empty.value is None and empty.value_schema == STRING


def test_extract_field_from_key_and_null_value_with_schema() -> None:
    out = ExtractField(target="key", field="id").apply(
        SourceRecord(topic="t", key=user(), key_schema=USER)
    )
    assert out is not None and out.key == 1 and out.key_schema == INT32
    null = ExtractField(field="id").apply(src(None, schema=USER.as_optional()))
    assert null is not None and null.value is None and null.value_schema == INT32


@pytest.mark.parametrize(
    ("record", "field"),
    [(src(user(), schema=USER), "nope"), (src("text"), "a"), (src(1, schema=INT32), "a")],
)
def test_extract_field_failures(record: SourceRecord, field: str) -> None:
    with pytest.raises(TransformError, match="ExtractField"):
        ExtractField(field=field).apply(record)


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("a", ("a",)),
        ("a.b", ("a", "b")),
        ("`a.b`.c", ("a.b", "c")),
        ("`a\\`b`", ("a`b",)),
        ("a`b", ("a`b",)),
    ],
)
def test_parse_field_path(path: str, parts: tuple[str, ...]) -> None:
    assert parse_field_path(path) == parts


@pytest.mark.parametrize("path", ["a..b", "`a", ".a"])
def test_bad_v2_paths_are_config_issues(path: str) -> None:
    with pytest.raises(ConfigError) as info:
        ExtractField.from_config({"field": path, "field.syntax.version": "V2"})
    assert [i.key for i in info.value.issues] == ["field.syntax.version"]


# -- HoistField -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["foo", 1, None, {"a": 1}])
def test_hoist_schemaless(value: Any) -> None:
    out = HoistField(field="line").apply(src(value))
    assert out is not None and out.value == {"line": value}


def test_hoist_with_schema_and_key() -> None:
    out = HoistField(field="line").apply(src("foo", schema=STRING))
    assert out is not None and out.value_schema == struct_schema([("line", STRING)])
    assert out.value.get("line") == "foo"
    keyed = HoistField(target="key", field="k").apply(
        SourceRecord(topic="t", key=5, key_schema=INT64, value="v")
    )
    assert keyed is not None and keyed.key.as_dict() == {"k": 5} and keyed.value == "v"
    with pytest.raises(TransformError, match="required"):
        HoistField(field="line").apply(src(None, schema=STRING))


# -- Flatten ----------------------------------------------------------------------------------


def test_flatten_schemaless_confluent_example() -> None:
    value = {"content": {"id": 42, "name": {"first": "David", "middle": None, "last": "Wong"}}}
    out = Flatten().apply(src(value))
    assert out is not None
    assert out.value == {
        "content.id": 42,
        "content.name.first": "David",
        "content.name.middle": None,
        "content.name.last": "Wong",
    }


def test_flatten_schemaless_delimiter_and_lists() -> None:
    out = Flatten(delimiter="_").apply(src({"a": {"b": [1, {"c": 2}]}, "d": {}}))
    assert out is not None and out.value == {"a_b": [1, {"c": 2}]}


def test_flatten_with_schema() -> None:
    out = Flatten().apply(src(doc(WONG), schema=DOC))
    assert out is not None and out.value_schema is not None
    fields = {f.name: f.schema for f in out.value_schema.fields}
    assert list(fields) == [
        "content.id",
        "content.name.first",
        "content.name.middle",
        "content.name.last",
        "tags",
    ]
    assert fields["content.id"] == INT32
    assert fields["content.name.first"] == OPTIONAL_STRING  # its parent is optional
    assert fields["tags"] == array_schema(STRING)
    assert out.value_schema.name == "doc"
    assert out.value.get("content.name.last") == "Wong"
    nulls = Flatten().apply(src(doc(None), schema=DOC))
    assert nulls is not None and nulls.value.get("content.name.first") is None


def test_flatten_keeps_maps_with_schema() -> None:
    schema = struct_schema([("m", map_schema(STRING, INT32))])
    out = Flatten().apply(src(Struct(schema, m={"a": 1}), schema=schema))
    assert out is not None and out.value == Struct(schema, m={"a": 1})


def test_flatten_name_clash_fails() -> None:
    inner = struct_schema([("b", INT32)])
    schema = struct_schema([("a", inner), ("a.b", INT32)])
    value = Struct(schema, {"a": Struct(inner, b=1), "a.b": 2})
    with pytest.raises(Exception, match="duplicate"):
        Flatten().apply(src(value, schema=schema))


# -- SetSchemaMetadata ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "name", "version"),
    [
        ({"schema.name": "com.example.User"}, "com.example.User", 1),
        ({"schema.version": "3"}, "user", 3),
        ({"schema.name": "n", "schema.version": "2"}, "n", 2),
    ],
)
def test_set_schema_metadata(settings: dict[str, str], name: str, version: int) -> None:
    out = SetSchemaMetadata.from_config(settings).apply(src(user(), schema=USER))
    assert out is not None and out.value_schema is not None
    assert (out.value_schema.name, out.value_schema.version) == (name, version)
    assert out.value.schema is out.value_schema
    assert out.value.as_dict() == user().as_dict()


@pytest.mark.parametrize(
    ("schema", "key"),
    [
        (INT32, 1),
        (OPTIONAL_STRING, "x"),
        (OPTIONAL_STRING, None),
        (array_schema(INT32), [1]),
        (map_schema(STRING, INT32), {"a": 1}),
    ],
)
def test_set_schema_metadata_fails_on_a_non_struct_schema(schema: Schema, key: Any) -> None:
    """Kafka 4.1 fails every record whose schema is not a struct's, a null value's too."""
    t = SetSchemaMetadata(target="key", schema_name="k")
    with pytest.raises(TransformError, match="Cannot list fields on non-struct type"):
        t.apply(SourceRecord(topic="t", key=key, key_schema=schema))


def test_set_schema_metadata_needs_schema_and_a_setting() -> None:
    with pytest.raises(TransformError, match="needs a value schema"):
        SetSchemaMetadata(schema_name="x").apply(src({"a": 1}))
    tombstone = src(None)
    assert SetSchemaMetadata(schema_name="x").apply(tombstone) is tombstone
    with pytest.raises(ConfigError) as info:
        SetSchemaMetadata.from_config({}, prefix="transforms.s.")
    assert [i.key for i in info.value.issues] == ["transforms.s.schema.version"]


def test_set_schema_metadata_on_a_null_struct() -> None:
    out = SetSchemaMetadata(schema_name="n").apply(src(None, schema=USER))
    assert out is not None and out.value is None and out.value_schema is not None
    assert out.value_schema.name == "n"


def test_flatten_generated_path_matches_the_schema_walk() -> None:
    deep = struct_schema([("z", Schema("int32", default=7)), ("w", OPTIONAL_STRING)], optional=True)
    inner = struct_schema([("a", INT32), ("deep", deep), ("b", OPTIONAL_STRING)], optional=True)
    empty = struct_schema([], optional=True)
    top = struct_schema(
        [("id", INT32), ("n", inner), ("s", Schema("string", default="d")), ("e", empty)]
    )
    equal_inner = struct_schema(
        [("a", INT32), ("deep", deep), ("b", OPTIONAL_STRING)], optional=True
    )
    flatten = Flatten(delimiter="_")
    rows = [
        [1, Struct.trusted(inner, [2, Struct.trusted(deep, [None, "w"]), None]), None, None],
        [1, None, "x", Struct.trusted(empty, [])],
        [1, Struct.trusted(inner, [2, None, "b"]), None, None],
        [1, Struct.trusted(equal_inner, [2, None, "b"]), None, None],  # another schema object
    ]
    expected = [
        [1, 2, 7, "w", None, "d"],
        [1, None, None, None, None, "x"],
        [1, 2, None, None, "b", "d"],
        [1, 2, None, None, "b", "d"],
    ]
    for row, want in zip(rows, expected, strict=True):
        record = src(Struct.trusted(top, row), schema=top)
        out = flatten.apply(record)
        assert out is not None
        assert [f.name for f in out.value_schema.fields] == [
            "id",
            "n_a",
            "n_deep_z",
            "n_deep_w",
            "n_b",
            "s",
        ]
        assert list(out.value.values()) == want
        assert flatten._slow(top, row) == want
