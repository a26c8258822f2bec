"""Cast: field specs and whole values, schemaless and with schemas."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest

from faust_connect.data import (
    BOOLEAN,
    BYTES,
    FLOAT64,
    INT8,
    INT32,
    INT64,
    OPTIONAL_FLOAT64,
    OPTIONAL_INT32,
    OPTIONAL_STRING,
    STRING,
    Schema,
    Struct,
    Type,
    struct_schema,
)
from faust_connect.exceptions import ConfigError, TransformError
from faust_connect.records import SourceRecord
from faust_connect.transforms import Cast
from faust_connect.transforms.cast import cast_value

from .helpers import src


@pytest.mark.parametrize(
    ("value", "to", "expected"),
    [
        ("42", Type.INT32, 42),
        (" -7 ", Type.INT8, -7),
        (3.9, Type.INT64, 3),
        (-3.9, Type.INT16, -3),
        (True, Type.INT8, 1),
        (300, Type.INT8, 44),  # Java narrowing wraps
        (2**31, Type.INT32, -(2**31)),
        (decimal.Decimal("12.5"), Type.INT32, 12),
        (1, Type.FLOAT64, 1.0),
        ("2.5", Type.FLOAT32, 2.5),
        (0.1, Type.FLOAT32, 0.10000000149011612),
        (0, Type.BOOLEAN, False),
        (2, Type.BOOLEAN, True),
        (2**40, Type.BOOLEAN, True),
        (2.5, Type.BOOLEAN, True),
        # what Kafka 4.1's Cast answers: a number is its longValue() != 0 ...
        (0.5, Type.BOOLEAN, False),
        (-0.9, Type.BOOLEAN, False),
        (1.0, Type.BOOLEAN, True),
        (float("nan"), Type.BOOLEAN, False),
        (float("inf"), Type.BOOLEAN, True),
        (decimal.Decimal("0.7"), Type.BOOLEAN, False),
        (decimal.Decimal(2**64), Type.BOOLEAN, False),  # BigDecimal.longValue: low 64 bits
        # ... and a string Boolean.parseBoolean: true only for "true" in any case
        ("TRUE", Type.BOOLEAN, True),
        ("true", Type.BOOLEAN, True),
        ("false", Type.BOOLEAN, False),
        ("1", Type.BOOLEAN, False),
        ("-2", Type.BOOLEAN, False),
        ("300", Type.BOOLEAN, False),
        ("0", Type.BOOLEAN, False),
        (" true", Type.BOOLEAN, False),
        ("yes", Type.BOOLEAN, False),
        (True, Type.STRING, "true"),
        (12, Type.STRING, "12"),
        (1.5, Type.STRING, "1.5"),
        (b"\x00\x01", Type.STRING, "AAE="),
        (decimal.Decimal("1.50"), Type.STRING, "1.50"),
        (
            dt.datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=dt.UTC),
            Type.STRING,
            "2024-01-02T03:04:05.006Z",
        ),
        (None, Type.INT32, None),
    ],
)
def test_cast_value(value: Any, to: Type, expected: Any) -> None:
    result = cast_value(value, to)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "to"),
    [
        ("x", Type.INT32),
        ("128", Type.INT8),
        (b"1", Type.INT32),
        ([1], Type.STRING),
        ([1], Type.BOOLEAN),
    ],
)
def test_cast_value_failures(value: Any, to: Type) -> None:
    with pytest.raises((ValueError, TypeError)):
        cast_value(value, to)


def test_cast_fields_schemaless_confluent_example() -> None:
    # Confluent's docs: spec=ID:string,score:float64
    t = Cast.from_config({"spec": "ID:string,score:float64"})
    out = t.apply(src({"ID": 46920, "score": 4761, "other": "x"}))
    assert out is not None and out.value == {"ID": "46920", "score": 4761.0, "other": "x"}


def test_cast_whole_value() -> None:
    out = Cast(spec=("int64",)).apply(src("123"))
    assert out is not None and out.value == 123 and out.value_schema is None
    typed = Cast(spec=("string",)).apply(src(5, schema=OPTIONAL_INT32))
    assert typed is not None and typed.value == "5" and typed.value_schema == OPTIONAL_STRING
    keyed = Cast(target="key", spec=("int32",)).apply(
        SourceRecord(topic="t", key="7", key_schema=STRING)
    )
    assert keyed is not None and keyed.key == 7 and keyed.key_schema == INT32


def test_cast_fields_with_schema() -> None:
    schema = struct_schema(
        [
            ("a", INT64),
            ("b", Schema(Type.STRING, optional=True, default="1.5")),
            ("c", BOOLEAN),
            ("d", BYTES),
        ],
        name="rec",
    )
    value = Struct.trusted(schema, [2**40, None, True, b"\xff"])
    out = Cast(spec=("a:int8", "b:float64", "c:int32", "d:string")).apply(src(value, schema=schema))
    assert out is not None and out.value_schema is not None
    got = {f.name: f.schema for f in out.value_schema.fields}
    assert got == {
        "a": INT8,
        "b": Schema(Type.FLOAT64, optional=True, default=1.5),
        "c": INT32,
        "d": STRING,
    }
    assert out.value.values() == (0, 1.5, 1, "/w==")
    assert out.value_schema.name == "rec"


def test_cast_failures() -> None:
    schema = struct_schema([("raw", BYTES), ("s", STRING)])
    with pytest.raises(TransformError, match="bytes"):
        Cast(spec=("raw:int32",)).apply(src(Struct(schema, raw=b"1", s="x"), schema=schema))
    with pytest.raises(TransformError, match=r"^Cast: "):
        Cast(spec=("s:int32",)).apply(src(Struct(schema, raw=b"1", s="x"), schema=schema))
    with pytest.raises(TransformError, match="needs a map"):
        Cast(spec=("a:int32",)).apply(src([1]))
    nested = struct_schema([("inner", struct_schema([("x", INT32)]))])
    with pytest.raises(TransformError, match="does not support"):
        Cast(spec=("inner:string",)).apply(
            src(None, schema=nested).replace(value=Struct.trusted(nested, [None]))
        )
    with pytest.raises(TransformError):
        Cast(spec=("float64",)).apply(src({"a": 1}))


def test_cast_passes_tombstones() -> None:
    record = src(None, schema=OPTIONAL_FLOAT64)
    assert Cast(spec=("int32",)).apply(record) is record


@pytest.mark.parametrize("spec", ["a:int128", "int32,a:int8", ":int32", "float", ""])
def test_cast_spec_issues(spec: str) -> None:
    with pytest.raises(ConfigError) as info:
        Cast.from_config({"spec": spec}, prefix="transforms.c.")
    assert [i.key for i in info.value.issues] == ["transforms.c.spec"]


def test_cast_schema_derived_once() -> None:
    t = Cast(spec=("x:string",))
    schema = struct_schema([("x", FLOAT64)])
    a = t.apply(src(Struct(schema, x=1.0), schema=schema))
    b = t.apply(src(Struct(schema, x=2.0), schema=schema))
    assert a is not None and b is not None and a.value_schema is b.value_schema
