"""JsonConverter: byte-exact vectors against Kafka's output, round trips and errors."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings

from faust_connect.codecs import CodecError, JsonConverter
from faust_connect.data import (
    BOOLEAN,
    BYTES,
    DATE,
    FLOAT32,
    FLOAT64,
    INT8,
    INT16,
    INT32,
    INT64,
    OPTIONAL_STRING,
    STRING,
    TIME,
    TIMESTAMP,
    Schema,
    Struct,
    Type,
    array_schema,
    decimal_schema,
    map_schema,
    struct_schema,
)
from faust_connect.exceptions import ConfigError, ConversionError

from .codec_strategies import plain_json, schema_and_value

AMOUNT = struct_schema([("id", INT32), ("amt", decimal_schema(2, optional=True))])
# Kafka's JsonConverter writes a struct's "fields" before "optional" (Jackson keeps insertion
# order and asJsonSchema adds "optional" after the type-specific keys).
AMOUNT_BYTES = (
    b'{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},'
    b'{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal",'
    b'"version":1,"parameters":{"scale":"2"},"field":"amt"}],"optional":false},'
    b'"payload":{"id":1,"amt":"AOE="}}'
)
# The same message as the reference document prints it ("optional" before "fields").
REFERENCE_EXAMPLE = (
    b'{"schema":{"type":"struct","optional":false,"fields":[{"type":"int32","optional":false,'
    b'"field":"id"},{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal",'
    b'"version":1,"parameters":{"scale":"2"},"field":"amt"}]},"payload":{"id":1,"amt":"AOE="}}'
)


def conv(**options: str) -> JsonConverter:
    return JsonConverter(options)


def test_reference_example_bytes_exact() -> None:
    value = Struct(AMOUNT, id=1, amt=decimal.Decimal("2.25"))
    assert conv().from_connect("t", AMOUNT, value) == AMOUNT_BYTES


def test_reference_example_as_printed_reads_back() -> None:
    schema, value = conv().to_connect("t", REFERENCE_EXAMPLE)
    assert schema == AMOUNT
    assert value == Struct(AMOUNT, id=1, amt=decimal.Decimal("2.25"))
    assert conv().from_connect("t", schema, value) == AMOUNT_BYTES


PRIMITIVES: list[tuple[Schema, Any, bytes, bytes]] = [
    (INT8, 12, b'{"type":"int8","optional":false}', b"12"),
    (INT16, -300, b'{"type":"int16","optional":false}', b"-300"),
    (INT32, 2**31 - 1, b'{"type":"int32","optional":false}', b"2147483647"),
    (INT64, -(2**63), b'{"type":"int64","optional":false}', b"-9223372036854775808"),
    (FLOAT32, 1.5, b'{"type":"float","optional":false}', b"1.5"),
    (FLOAT64, 0.1, b'{"type":"double","optional":false}', b"0.1"),
    (BOOLEAN, True, b'{"type":"boolean","optional":false}', b"true"),
    (STRING, "h\u00e9\n", b'{"type":"string","optional":false}', '"h\u00e9\\n"'.encode()),
    (BYTES, b"\x00\x01\xff", b'{"type":"bytes","optional":false}', b'"AAH/"'),
    (OPTIONAL_STRING, None, b'{"type":"string","optional":true}', b"null"),
    (
        DATE,
        dt.date(2024, 1, 2),
        b'{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1}',
        b"19724",
    ),
    (
        TIME,
        dt.time(0, 0, 1, 500_000),
        b'{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1}',
        b"1500",
    ),
    (
        TIMESTAMP,
        dt.datetime(2024, 1, 2, 0, 0, 0, 1000, tzinfo=dt.UTC),
        b'{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1}',
        b"1704153600001",
    ),
    (
        decimal_schema(1),
        decimal.Decimal("-0.1"),
        b'{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal",'
        b'"version":1,"parameters":{"scale":"1"}}',
        b'"/w=="',
    ),
    (
        array_schema(INT32, optional=True),
        [1, 2],
        b'{"type":"array","items":{"type":"int32","optional":false},"optional":true}',
        b"[1,2]",
    ),
    (
        map_schema(STRING, INT64),
        {"a": 1},
        b'{"type":"map","keys":{"type":"string","optional":false},'
        b'"values":{"type":"int64","optional":false},"optional":false}',
        b'{"a":1}',
    ),
    (
        map_schema(INT32, BOOLEAN),
        {1: True, 2: False},
        b'{"type":"map","keys":{"type":"int32","optional":false},'
        b'"values":{"type":"boolean","optional":false},"optional":false}',
        b"[[1,true],[2,false]]",
    ),
    (
        Schema(Type.STRING, name="n", version=3, doc="d", parameters={"p": "v"}, default="x"),
        "y",
        b'{"type":"string","optional":false,"name":"n","version":3,"doc":"d",'
        b'"parameters":{"p":"v"},"default":"x"}',
        b'"y"',
    ),
]


@pytest.mark.parametrize(("schema", "value", "schema_json", "payload"), PRIMITIVES)
def test_vectors(schema: Schema, value: Any, schema_json: bytes, payload: bytes) -> None:
    data = conv().from_connect("t", schema, value)
    assert data == b'{"schema":' + schema_json + b',"payload":' + payload + b"}"
    assert conv().to_connect("t", data) == (schema, value)
    assert conv(**{"schemas.enable": "false"}).from_connect("t", schema, value) == payload


def test_struct_with_nested_and_name() -> None:
    inner = struct_schema([("x", INT8)], name="Inner", optional=True)
    outer = struct_schema([("in", inner), ("tags", array_schema(STRING))], name="Outer", version=2)
    value = Struct(outer, {"in": Struct(inner, x=1), "tags": ["a"]})
    data = conv().from_connect("t", outer, value)
    assert data == (
        b'{"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"int8",'
        b'"optional":false,"field":"x"}],"optional":true,"name":"Inner","field":"in"},'
        b'{"type":"array","items":{"type":"string","optional":false},"optional":false,'
        b'"field":"tags"}],"optional":false,"name":"Outer","version":2},'
        b'"payload":{"in":{"x":1},"tags":["a"]}}'
    )
    assert conv().to_connect("t", data) == (outer, value)


def test_ints_in_float_fields_are_written_as_floats() -> None:
    schema = struct_schema(
        [("f", FLOAT64), ("g", Schema(Type.FLOAT32, optional=True)), ("l", array_schema(FLOAT64))]
    )
    value = Struct(schema, f=1, g=None, l=[2, 2.5])
    assert conv(**{"schemas.enable": "false"}).from_connect("t", schema, value) == (
        b'{"f":1.0,"g":null,"l":[2.0,2.5]}'
    )
    assert conv(**{"schemas.enable": "false"}).from_connect("t", FLOAT32, 3) == b"3.0"


@pytest.mark.parametrize(
    ("value", "java"),
    [
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (0.001, "0.001"),
        (9999999.5, "9999999.5"),
        (1e7, "1.0E7"),
        (12345678.9, "1.23456789E7"),
        (1700000000.123, "1.700000000123E9"),
        (1e20, "1.0E20"),
        (0.0001, "1.0E-4"),
        (-1.5e-5, "-1.5E-5"),
        (1.7976931348623157e308, "1.7976931348623157E308"),
    ],
)
def test_doubles_are_written_as_java_does(value: float, java: str) -> None:
    schema = struct_schema([("d", FLOAT64), ("l", array_schema(FLOAT64))])
    data = conv(**{"schemas.enable": "false"}).from_connect(
        "t", schema, Struct(schema, d=value, l=[value])
    )
    assert data == f'{{"d":{java},"l":[{java}]}}'.encode()
    assert conv(**{"schemas.enable": "false"}).from_connect("t", FLOAT64, value) == java.encode()
    back = conv(**{"schemas.enable": "false"}).to_connect("t", java.encode())[1]
    assert back == value


def test_decimal_numeric() -> None:
    c = conv(**{"decimal.format": "numeric"})
    schema = decimal_schema(3)
    data = c.from_connect("t", schema, decimal.Decimal("12345678901234567890.123"))
    assert data.endswith(b'"payload":12345678901234567890.123}')
    # a float payload is read with every digit kept
    assert c.to_connect("t", data) == (schema, decimal.Decimal("12345678901234567890.123"))
    # and a BASE64 reader accepts both forms, as Kafka's does
    assert conv().to_connect("t", data)[1] == decimal.Decimal("12345678901234567890.123")


def test_defaults_replace_null() -> None:
    schema = struct_schema([("f", Schema(Type.STRING, optional=True, default="dflt"))])
    null_payload = (
        b'{"schema":{"type":"struct","fields":[{"type":"string","optional":true,'
        b'"default":"dflt","field":"f"}],"optional":false},"payload":{"f":null}}'
    )
    assert conv().to_connect("t", null_payload)[1] == Struct(schema, f="dflt")
    keep = conv(**{"replace.null.with.default": "false"}).to_connect("t", null_payload)[1]
    assert keep.values() == (None,)
    assert conv().from_connect("t", schema.fields[0].schema, None).endswith(b'"payload":"dflt"}')
    assert (
        conv(**{"replace.null.with.default": "false"})
        .from_connect("t", schema.fields[0].schema, None)
        .endswith(b'"payload":null}')
    )


def test_tombstones() -> None:
    for c in (conv(), conv(**{"schemas.enable": "false"})):
        assert c.from_connect("t", None, None) is None
        assert c.to_connect("t", None) == (None, None)
    assert conv(**{"schemas.enable": "false"}).to_connect("t", b"") == (None, None)


def test_schemaless_envelope_and_inference() -> None:
    assert conv().from_connect("t", None, {"a": [1, 2.5]}) == (
        b'{"schema":null,"payload":{"a":[1,2.5]}}'
    )
    assert conv().to_connect("t", b'{"schema":null,"payload":{"a":[1,2.5]}}') == (
        None,
        {"a": [1, 2.5]},
    )
    plain = conv(**{"schemas.enable": "false"})
    assert plain.from_connect("t", None, {1: b"\x01"}) == b'[[1,"AQ=="]]'
    schema, value = plain.to_connect("t", b'{"n":1,"f":1.0,"s":"x","l":[true,null]}')
    assert schema is None
    assert value == {"n": 1, "f": 1.0, "s": "x", "l": [True, None]}
    assert type(value["n"]) is int and type(value["f"]) is float


def test_characters_beyond_the_bmp_are_escaped_surrogate_pairs() -> None:
    """Jackson writes U+1F600 as ``\\uD83D\\uDE00`` (upper-case hex); orjson its UTF-8 bytes.
    Other non-ASCII text stays raw UTF-8, as on Kafka."""
    text = "gr\u00fc\u00dfe \u2713 \U0001f600\U0010ffff"
    escaped = 'gr\u00fc\u00dfe \u2713 \\uD83D\\uDE00\\uDBFF\\uDFFF"'.encode()
    assert conv().from_connect("t", STRING, text) == (
        b'{"schema":{"type":"string","optional":false},"payload":"' + escaped + b"}"
    )
    plain = conv(**{"schemas.enable": "false"})
    assert plain.from_connect("t", STRING, text) == b'"' + escaped
    assert plain.from_connect("t", None, {"\U0001f600": [text]}) == (
        b'{"\\uD83D\\uDE00":["' + escaped + b"]}"
    )
    name = struct_schema([("f", STRING)], name="n\U0001f600")
    data = conv().from_connect("t", name, Struct(name, f="x"))
    assert b'"name":"n\\uD83D\\uDE00"' in data and b"\xf0" not in data
    assert conv().to_connect("t", data) == (name, Struct(name, f="x"))
    assert plain.to_connect("t", plain.from_connect("t", STRING, text)) == (None, text)


def test_hot_path_reuses_compiled_schema() -> None:
    c = conv()
    value = Struct(AMOUNT, id=1, amt=None)
    data = c.from_connect("t", AMOUNT, value)
    assert c.to_connect("t", data) == (AMOUNT, value)
    assert len(c._in) == 1 and len(c._out) == 1
    assert c._last_prefix and data.startswith(c._last_prefix)
    # the fast path still rejects what the full parse would reject
    with pytest.raises(ConversionError, match="may not contain additional fields"):
        c.to_connect("t", data[:-1] + b',"extra":1}')
    assert c.to_connect("t", data[:-1] + b" }") == (AMOUNT, value)


def test_cache_is_bounded() -> None:
    c = conv(**{"schemas.cache.size": "2"})
    for n in range(5):
        schema = struct_schema([(f"f{n}", INT32)])
        c.to_connect("t", c.from_connect("t", schema, Struct(schema, {f"f{n}": n})))
    assert len(c._out) == 2 and len(c._in) == 2


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "serialization error"),
        (b'{"schema":null}', 'requires "schema" and "payload"'),
        (b'{"schema":null,"payload":1,"x":2}', "may not contain additional fields"),
        (b"[1]", 'requires "schema" and "payload"'),
        (b"", 'requires "schema" and "payload"'),
        (b'{"schema":{"type":"nope"},"payload":1}', "Unknown schema type: nope"),
        (b'{"schema":{"optional":true},"payload":1}', "Schema must contain 'type' field"),
        (b'{"schema":{"type":"array"},"payload":[]}', "did not specify the element type"),
        (b'{"schema":{"type":"int32"},"payload":null}', "Invalid null value for required INT32"),
        (b'{"schema":{"type":"int8"},"payload":300}', "Invalid value for INT8"),
        (b'{"schema":{"type":"string"},"payload":1}', "Invalid value for STRING"),
        (b'{"schema":{"type":"bytes"},"payload":"!!"}', "Invalid bytes field"),
        (
            b'{"schema":{"type":"struct","fields":[{"type":"int32","field":"a"}]},"payload":{}}',
            "Invalid null value for required INT32",
        ),
        (
            b'{"schema":{"type":"map","keys":{"type":"int32"},"values":{"type":"int32"}},'
            b'"payload":{"1":2}}',
            "non-string fields should be encoded as JSON array",
        ),
    ],
)
def test_bad_input(data: bytes, reason: str) -> None:
    with pytest.raises(CodecError, match=reason) as info:
        conv().to_connect("t", data)
    assert info.value.converter == "JsonConverter"
    assert str(info.value).startswith("JsonConverter: ")


@pytest.mark.parametrize(
    ("schema", "value", "reason"),
    [
        (INT32, "1", "does not fit int32"),
        (INT8, 1000, "out of range"),
        (STRING, None, "null value for field that is required"),
        (AMOUNT, Struct(struct_schema([("id", INT32)]), id=1), "Mismatching schema"),
        (decimal_schema(1), decimal.Decimal("0.25"), "does not fit scale 1"),
    ],
)
def test_bad_values(schema: Schema, value: Any, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        conv().from_connect("t", schema, value)


def test_schemaless_unsupported_type() -> None:
    with pytest.raises(CodecError, match="not JSON serializable: object"):
        conv().from_connect("t", None, object())


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError) as info:
        conv(**{"schemas.enable": "maybe", "decimal.format": "HEX", "nope": "1"})
    assert {i.key for i in info.value.issues} == {"schemas.enable", "decimal.format", "nope"}


@settings(max_examples=150, deadline=None)
@given(schema_and_value())
def test_round_trip_with_schemas(case: tuple[Schema, Any]) -> None:
    schema, value = case
    c = conv()
    data = c.from_connect("t", schema, value)
    assert data is not None
    assert c.to_connect("t", data) == (schema, value)
    assert c.to_connect("t", data) == (schema, value)  # again, on the fast path
    assert JsonConverter().to_connect("t", data) == (schema, value)  # a fresh reader
    orjson.loads(data)  # always valid JSON


@settings(max_examples=100, deadline=None)
@given(schema_and_value())
def test_round_trip_numeric_decimals(case: tuple[Schema, Any]) -> None:
    schema, value = case
    c = conv(**{"decimal.format": "NUMERIC"})
    data = c.from_connect("t", schema, value)
    assert data is not None
    assert c.to_connect("t", data) == (schema, value)


@settings(max_examples=150, deadline=None)
@given(plain_json())
def test_round_trip_schemaless(value: Any) -> None:
    c = conv(**{"schemas.enable": "false"})
    data = c.from_connect("t", None, value)
    if value is None:
        assert data is None
        return
    assert c.to_connect("t", data) == (None, value)
    enveloped = conv()
    assert enveloped.to_connect("t", enveloped.from_connect("t", None, value)) == (None, value)


def test_to_connect_many_reads_a_batch_as_to_connect_does_each() -> None:
    schema = struct_schema([("id", INT32), ("name", OPTIONAL_STRING)])
    writer = JsonConverter()
    good = [writer.from_connect("t", schema, Struct(schema, id=i, name=f"n{i}")) for i in range(3)]
    other = writer.from_connect("t", STRING, "s")
    assert all(d is not None for d in good) and other is not None
    datas: list[bytes | None] = [
        good[0],
        None,
        good[1],
        other,
        good[2],
        b'{"schema":null,"payload":5}',
    ]
    assert JsonConverter().to_connect_many("t", datas) == [
        JsonConverter().to_connect("t", d) for d in datas
    ]
    # a payload that does not fit the cached schema is reported as to_connect reports it
    bad = good[0][: good[0].index(b'"payload":')] + b'"payload":{"id":"x","name":null}}'
    with pytest.raises(CodecError) as many:
        JsonConverter().to_connect_many("t", [good[0], bad])
    with pytest.raises(CodecError) as one:
        reader = JsonConverter()
        reader.to_connect("t", good[0])
        reader.to_connect("t", bad)
    assert str(many.value) == str(one.value)
