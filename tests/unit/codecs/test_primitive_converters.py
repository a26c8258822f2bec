"""String, ByteArray, the number converters and SimpleHeaderConverter."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faust_connect.codecs import (
    BooleanConverter,
    ByteArrayConverter,
    CodecError,
    DoubleConverter,
    FloatConverter,
    IntegerConverter,
    LongConverter,
    ShortConverter,
    SimpleHeaderConverter,
    StringConverter,
)
from faust_connect.codecs.base import Converter
from faust_connect.data import (
    BOOLEAN,
    DATE,
    FLOAT32,
    FLOAT64,
    INT8,
    INT16,
    INT32,
    INT64,
    OPTIONAL_BOOLEAN,
    OPTIONAL_BYTES,
    OPTIONAL_FLOAT32,
    OPTIONAL_FLOAT64,
    OPTIONAL_INT16,
    OPTIONAL_INT32,
    OPTIONAL_INT64,
    OPTIONAL_STRING,
    STRING,
    TIME,
    TIMESTAMP,
    Schema,
    Struct,
    array_schema,
    decimal_schema,
    map_schema,
    struct_schema,
)
from faust_connect.exceptions import ConfigError

NUMBERS: list[tuple[Converter, Schema, Any, bytes]] = [
    (ShortConverter(), OPTIONAL_INT16, -2, b"\xff\xfe"),
    (IntegerConverter(), OPTIONAL_INT32, 258, b"\x00\x00\x01\x02"),
    (LongConverter(), OPTIONAL_INT64, 2**40, b"\x00\x00\x01\x00\x00\x00\x00\x00"),
    (FloatConverter(), OPTIONAL_FLOAT32, 1.5, b"\x3f\xc0\x00\x00"),
    (DoubleConverter(), OPTIONAL_FLOAT64, -2.0, b"\xc0\x00\x00\x00\x00\x00\x00\x00"),
    (BooleanConverter(), OPTIONAL_BOOLEAN, True, b"\x01"),
    (BooleanConverter(), OPTIONAL_BOOLEAN, False, b"\x00"),
]


@pytest.mark.parametrize(("conv", "schema", "value", "data"), NUMBERS)
def test_number_vectors(conv: Converter, schema: Schema, value: Any, data: bytes) -> None:
    assert conv.from_connect("t", schema, value) == data
    assert conv.to_connect("t", data) == (schema, value)
    assert conv.from_connect("t", schema, None) is None
    assert conv.to_connect("t", None) == (schema, None)


@pytest.mark.parametrize(
    ("conv", "value_or_data", "reason"),
    [
        (ShortConverter(), 2**15, "Failed to serialize"),
        (IntegerConverter(), "1", "Failed to serialize to int32"),
        (IntegerConverter(), True, "Failed to serialize"),
        (BooleanConverter(), 1, "Failed to serialize"),
        (FloatConverter(), 1e300, "Failed to serialize"),
    ],
)
def test_number_write_errors(conv: Converter, value_or_data: Any, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        conv.from_connect("t", None, value_or_data)


@pytest.mark.parametrize(
    ("conv", "data", "reason"),
    [
        (IntegerConverter(), b"\x00", "is not 4"),
        (LongConverter(), b"\x00" * 9, "is not 8"),
        (BooleanConverter(), b"\x02", "want 0 or 1"),
    ],
)
def test_number_read_errors(conv: Converter, data: bytes, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        conv.to_connect("t", data)


@given(st.integers(-(2**63), 2**63 - 1))
def test_long_round_trip(n: int) -> None:
    conv = LongConverter()
    data = conv.from_connect("t", None, n)
    assert data is not None and len(data) == 8
    assert conv.to_connect("t", data)[1] == n


@given(st.floats(width=32))
def test_float_round_trip(x: float) -> None:
    conv = FloatConverter()
    back = conv.to_connect("t", conv.from_connect("t", None, x))[1]
    assert back == x or (math.isnan(x) and math.isnan(back))


def test_string_converter() -> None:
    conv = StringConverter()
    assert conv.from_connect("t", STRING, "héllo") == "héllo".encode()
    assert conv.from_connect("t", None, 12) == b"12"
    assert conv.from_connect("t", None, True) == b"true"
    assert conv.from_connect("t", None, None) is None
    assert conv.to_connect("t", "héllo".encode()) == (OPTIONAL_STRING, "héllo")
    assert conv.to_connect("t", None) == (OPTIONAL_STRING, None)
    latin = StringConverter({"converter.encoding": "ISO-8859-1"})
    assert latin.from_connect("t", None, "é") == b"\xe9"
    assert latin.to_connect("t", b"\xe9")[1] == "é"
    with pytest.raises(CodecError, match="cannot decode"):
        conv.to_connect("t", b"\xff")
    with pytest.raises(ConfigError, match=re.escape("converter.encoding")):
        StringConverter({"converter.encoding": "no-such-codec"})


def test_byte_array_converter() -> None:
    conv = ByteArrayConverter()
    assert conv.from_connect("t", None, b"\x00\x01") == b"\x00\x01"
    assert conv.from_connect("t", OPTIONAL_BYTES, bytearray(b"x")) == b"x"
    assert conv.to_connect("t", b"ab") == (OPTIONAL_BYTES, b"ab")
    assert conv.to_connect("t", None) == (OPTIONAL_BYTES, None)
    with pytest.raises(CodecError, match="Invalid schema type for ByteArrayConverter: STRING"):
        conv.from_connect("t", STRING, b"x")
    with pytest.raises(CodecError, match="not compatible"):
        conv.from_connect("t", None, "text")


HEADER_READS: list[tuple[bytes, Schema | None, Any]] = [
    (b"", STRING, ""),
    (b"hello world", STRING, "hello world"),
    (b"true", BOOLEAN, True),
    (b"null", None, None),
    (b"1", INT8, 1),
    (b"300", INT16, 300),
    (b"70000", INT32, 70000),
    (b"5000000000", INT64, 5000000000),
    (b"1.0", INT8, 1),
    (b"1.5", FLOAT32, 1.5),
    (b"1e300", FLOAT64, 1e300),
    (b"123456789012345678901234", decimal_schema(0), decimal.Decimal("123456789012345678901234")),
    (b"2024-01-02", DATE, dt.date(2024, 1, 2)),
    (b"10:11:12.345Z", TIME, dt.time(10, 11, 12, 345000)),
    (
        b"2024-01-02T10:11:12.345Z",
        TIMESTAMP,
        dt.datetime(2024, 1, 2, 10, 11, 12, 345000, tzinfo=dt.UTC),
    ),
    (b"[1,2,300]", array_schema(INT16), [1, 2, 300]),
    (b'{"a":1,"b":true}', None, {"a": 1, "b": True}),
    (b'{"a":1,"b":2}', map_schema(STRING, INT8), {"a": 1, "b": 2}),
    (b"[1,2", STRING, "[1,2"),
    (b"{a:1}", STRING, "{a:1}"),
]


@pytest.mark.parametrize(("data", "schema", "value"), HEADER_READS)
def test_header_inference(data: bytes, schema: Schema | None, value: Any) -> None:
    got = SimpleHeaderConverter().to_connect_header("t", "h", data)
    assert got == (schema, value)
    if schema is not None:
        assert type(got[1]) is type(value)


def test_header_writes() -> None:
    conv = SimpleHeaderConverter()
    inner = struct_schema([("a", INT32), ("s", STRING)])
    cases: list[tuple[Schema | None, Any, bytes | None]] = [
        (STRING, "plain", b"plain"),
        (INT64, 5, b"5"),
        (FLOAT64, 1.5, b"1.5"),
        (BOOLEAN, False, b"false"),
        (None, None, None),
        (None, b"\x01\x02", b"AQI="),
        (DATE, dt.date(2024, 1, 2), b"2024-01-02"),
        (TIME, dt.time(1, 2, 3, 4000), b"01:02:03.004Z"),
        (None, ["a", 1, None], b'["a",1,null]'),
        (None, {"k": 'q"uote'}, b'{"k":"q\\"uote"}'),
        (inner, Struct(inner, a=1, s="x"), b'{"a":1,"s":"x"}'),
    ]
    for schema, value, expected in cases:
        assert conv.from_connect_header("t", "h", schema, value) == expected


@given(
    st.one_of(
        st.integers(-(2**63), 2**63 - 1),
        st.booleans(),
        st.lists(st.integers(-100, 100), min_size=1, max_size=5),
        st.dictionaries(
            st.from_regex(r"[a-z]{1,5}", fullmatch=True), st.integers(0, 100), min_size=1
        ),
    )
)
def test_header_round_trip(value: Any) -> None:
    conv = SimpleHeaderConverter()
    data = conv.from_connect_header("t", "h", None, value)
    assert conv.to_connect_header("t", "h", data)[1] == value


def test_header_rejects_non_utf8() -> None:
    with pytest.raises(CodecError, match="not UTF-8"):
        SimpleHeaderConverter().to_connect("t", b"\xff")
