"""DropHeaders, HeaderFrom, InsertHeader."""

from __future__ import annotations

from typing import Any

import pytest

from faust_connect.codecs import SimpleHeaderConverter
from faust_connect.data import (
    BOOLEAN,
    FLOAT32,
    INT8,
    INT16,
    INT32,
    INT64,
    STRING,
    Schema,
    array_schema,
    map_schema,
)
from faust_connect.exceptions import ConfigError, TransformError
from faust_connect.records import Header, Headers
from faust_connect.transforms import DropHeaders, HeaderFrom, InsertHeader

from .helpers import USER, headers, src, user


def test_drop_headers() -> None:
    record = src(
        1, headers=Headers([Header("a", 1), Header("b", 2), Header("a", 3), Header("c", 4)])
    )
    out = DropHeaders.from_config({"headers": "a,c"}).apply(record)
    assert out is not None and list(out.headers) == [Header("b", 2)]
    untouched = src(1, headers=headers(x=1))
    assert DropHeaders(headers=("a",)).apply(untouched) is untouched


@pytest.mark.parametrize("operation", ["move", "copy"])
def test_header_from_schemaless(operation: str) -> None:
    t = HeaderFrom.from_config(
        {"fields": "id,name", "headers": "h_id,h_name", "operation": operation}
    )
    out = t.apply(src({"id": 1, "name": "ann", "x": 0}, headers=headers(old=True)))
    assert out is not None
    assert list(out.headers) == [Header("old", True), Header("h_id", 1), Header("h_name", "ann")]
    expected = {"x": 0} if operation == "move" else {"id": 1, "name": "ann", "x": 0}
    assert out.value == expected


@pytest.mark.parametrize("operation", ["move", "copy"])
def test_header_from_with_schema(operation: str) -> None:
    t = HeaderFrom(fields=("name", "visits"), headers=("n", "v"), operation=operation)
    out = t.apply(src(user(), schema=USER))
    assert out is not None and out.value_schema is not None
    assert list(out.headers) == [Header("n", "ann", STRING), Header("v", 7, INT64)]
    names = [f.name for f in out.value_schema.fields]
    assert names == (["id", "email"] if operation == "move" else ["id", "name", "email", "visits"])
    assert out.value.get("id") == 1 and out.value_schema.name == "user"


def test_header_from_key_and_failures() -> None:
    out = HeaderFrom(target="key", fields=("k",), headers=("hk",), operation="copy").apply(
        src("v", key={"k": 9})
    )
    assert out is not None and out.headers.last("hk") == Header("hk", 9)
    with pytest.raises(TransformError, match="'nope'"):
        HeaderFrom(fields=("nope",), headers=("h",), operation="copy").apply(
            src(user(), schema=USER)
        )


@pytest.mark.parametrize(
    ("settings", "keys"),
    [
        ({"fields": "a,b", "headers": "x", "operation": "copy"}, ["headers"]),
        ({"fields": "a", "headers": "x", "operation": "steal"}, ["operation"]),
        ({"headers": "x"}, ["fields", "operation"]),
    ],
)
def test_header_from_config_issues(settings: dict[str, str], keys: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        HeaderFrom.from_config(settings)
    assert sorted(i.key for i in info.value.issues) == keys


@pytest.mark.parametrize(
    ("literal", "schema", "value"),
    [  # what Kafka 4.1's Values.parseString answers for each
        ("42", INT8, 42),
        ("300", INT16, 300),
        ("70000", INT32, 70000),
        ("5000000000", INT64, 5_000_000_000),
        ("-1", INT8, -1),
        (" 42 ", INT8, 42),
        ("1.0", INT8, 1),
        ("1.5", FLOAT32, 1.5),
        ("true", BOOLEAN, True),
        ("FALSE", STRING, "FALSE"),
        ("hello world", STRING, "hello world"),
        ("[1, 2]", array_schema(INT8), [1, 2]),
        ('{"a": 1}', map_schema(STRING, INT8), {"a": 1}),
        ("null", None, None),
    ],
)
def test_insert_header_parses_the_literal_as_kafka_values(
    literal: str, schema: Schema | None, value: Any
) -> None:
    t = InsertHeader.from_config({"header": "h", "value.literal": literal})
    out = t.apply(src(1))
    assert out is not None
    assert out.headers.last("h") == Header("h", value, schema)


def test_insert_header_array_literal_is_written_as_kafka_writes_it() -> None:
    t = InsertHeader.from_config({"header": "a", "value.literal": "[1, 2]"})
    out = t.apply(src(1))
    assert out is not None
    header = out.headers.last("a")
    assert header is not None
    assert SimpleHeaderConverter().from_connect("t", header.schema, header.value) == b"[1,2]"


def test_insert_header_appends() -> None:
    t = InsertHeader.from_config({"header": "origin", "value.literal": "us-east"})
    out = t.apply(src(1, headers=headers(origin="old")))
    assert out is not None
    assert [h.value for h in out.headers.all("origin")] == ["old", "us-east"]
    assert out.headers.last("origin") == Header("origin", "us-east", STRING)


def test_insert_header_requires_keys() -> None:
    with pytest.raises(ConfigError) as info:
        InsertHeader.from_config({}, prefix="transforms.h.")
    assert sorted(i.key for i in info.value.issues) == [
        "transforms.h.header",
        "transforms.h.value.literal",
    ]
