"""AvroConverter: schema mapping, wire format, strategies, round trips and errors."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import re
from typing import Any

import fastavro
import orjson
import pytest
from hypothesis import given, settings

from faust_connect.codecs import CodecError, SchemaRegistry
from faust_connect.codecs.avro.converter import AvroConverter
from faust_connect.codecs.avro.plain import PlainAvroConverter
from faust_connect.codecs.avro.read import from_avro
from faust_connect.codecs.avro.schema import to_avro
from faust_connect.data import (
    DATE,
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
from faust_connect.exceptions import ConfigError

from .codec_strategies import schema_and_value

CD = "io.confluent.connect.avro"


def conv(registry: SchemaRegistry | None = None, **options: Any) -> AvroConverter:
    return AvroConverter(
        {"schema.registry.url": "http://unused", **options},
        schema_registry=registry if registry is not None else SchemaRegistry(),
    )


SCHEMAS: list[tuple[Schema, Any]] = [
    (INT8, {"type": "int", "connect.type": "int8"}),
    (INT16, {"type": "int", "connect.type": "int16"}),
    (INT32, "int"),
    (INT64, "long"),
    (OPTIONAL_STRING, ["null", "string"]),
    (
        Schema(Type.STRING, optional=True, default="x"),
        [{"type": "string", "connect.default": "x"}, "null"],
    ),
    (
        decimal_schema(2),
        {
            "type": "bytes",
            "scale": 2,
            "precision": 64,
            "connect.version": 1,
            "connect.parameters": {"scale": "2"},
            "connect.name": "org.apache.kafka.connect.data.Decimal",
            "logicalType": "decimal",
        },
    ),
    (
        DATE,
        {
            "type": "int",
            "connect.version": 1,
            "connect.name": "org.apache.kafka.connect.data.Date",
            "logicalType": "date",
        },
    ),
    (
        TIME,
        {
            "type": "int",
            "connect.version": 1,
            "connect.name": "org.apache.kafka.connect.data.Time",
            "logicalType": "time-millis",
        },
    ),
    (
        TIMESTAMP,
        {
            "type": "long",
            "connect.version": 1,
            "connect.name": "org.apache.kafka.connect.data.Timestamp",
            "logicalType": "timestamp-millis",
        },
    ),
    (map_schema(STRING, INT32), {"type": "map", "values": "int"}),
    (
        map_schema(INT32, STRING),
        {
            "type": "array",
            "items": {
                "type": "record",
                "name": "MapEntry",
                "namespace": CD,
                "fields": [{"name": "key", "type": "int"}, {"name": "value", "type": "string"}],
            },
        },
    ),
    (
        struct_schema([("id", INT32), ("note", OPTIONAL_STRING)]),
        {
            "type": "record",
            "name": "ConnectDefault",
            "namespace": CD,
            "fields": [
                {"name": "id", "type": "int"},
                {"name": "note", "type": ["null", "string"], "default": None},
            ],
        },
    ),
    (
        struct_schema([("a", INT32)], name="shop.Order", version=2, doc="an order"),
        {
            "type": "record",
            "name": "Order",
            "namespace": "shop",
            "fields": [{"name": "a", "type": "int"}],
            "connect.doc": "an order",
            "connect.version": 2,
            "connect.name": "shop.Order",
        },
    ),
]


@pytest.mark.parametrize(("schema", "avro"), SCHEMAS)
def test_schema_mapping(schema: Schema, avro: Any) -> None:
    assert to_avro(schema) == avro
    assert from_avro(avro) == schema


def test_wire_format_and_ids() -> None:
    registry = SchemaRegistry()
    c = conv(registry)
    schema = struct_schema([("id", INT32)], name="shop.Order")
    data = c.from_connect("orders", schema, Struct(schema, id=7))
    assert data is not None
    assert data[:5] == b"\x00\x00\x00\x00\x01"
    assert fastavro.schemaless_reader(
        io.BytesIO(data[5:]), fastavro.parse_schema(to_avro(schema))
    ) == {"id": 7}
    assert registry.subjects() == ["orders-value"]
    # the same schema on another topic gets the same id
    other = c.from_connect("other", schema, Struct(schema, id=8))
    assert other is not None and other[:5] == data[:5]
    read_schema, value = c.to_connect("orders", data)
    assert read_schema == schema.replace(version=1)  # the registry version, as Confluent does
    assert value == Struct(read_schema, id=7)


def test_tombstones() -> None:
    c = conv()
    assert c.from_connect("t", OPTIONAL_STRING, None) is None
    assert c.from_connect("t", None, None) is None
    assert c.to_connect("t", None) == (None, None)


@pytest.mark.parametrize(
    ("option", "strategy", "subject"),
    [
        ("value.subject.name.strategy", "TopicNameStrategy", "orders-value"),
        (
            "value.subject.name.strategy",
            "io.confluent.kafka.serializers.subject.RecordNameStrategy",
            "shop.Order",
        ),
        ("value.subject.name.strategy", "topic_record", "orders-shop.Order"),
    ],
)
def test_subject_strategies(option: str, strategy: str, subject: str) -> None:
    registry = SchemaRegistry()
    c = conv(registry, **{option: strategy})
    schema = struct_schema([("id", INT32)], name="shop.Order")
    c.from_connect("orders", schema, Struct(schema, id=1))
    assert registry.subjects() == [subject]


def test_key_converter_uses_key_strategy() -> None:
    registry = SchemaRegistry()
    c = AvroConverter(
        {"schema.registry.url": "x", "key.subject.name.strategy": "record"},
        is_key=True,
        schema_registry=registry,
    )
    key = struct_schema([("id", INT32)], name="shop.Key")
    c.from_connect("orders", key, Struct(key, id=1))
    assert registry.subjects() == ["shop.Key"]
    # a string is not a record: RecordNameStrategy cannot name it
    with pytest.raises(CodecError, match="needs a record"):
        c.from_connect("orders", STRING, "k")


def test_bad_strategy_is_config_error() -> None:
    with pytest.raises(ConfigError, match=re.escape("value.subject.name.strategy")):
        conv(**{"value.subject.name.strategy": "Nope"})


def test_no_auto_register_requires_registered_schema() -> None:
    registry = SchemaRegistry()
    c = conv(registry, **{"auto.register.schemas": "false"})
    with pytest.raises(CodecError, match="40401"):
        c.from_connect("t", STRING, "x")
    schema_id = registry.register("t-value", orjson.dumps(to_avro(STRING)).decode())
    data = c.from_connect("t", STRING, "x")
    assert data is not None and int.from_bytes(data[1:5], "big") == schema_id


def test_use_latest_version() -> None:
    registry = SchemaRegistry()
    latest = struct_schema([("id", INT64), ("name", OPTIONAL_STRING)])
    latest_id = registry.register("t-value", orjson.dumps(to_avro(latest)).decode())
    c = conv(registry, **{"use.latest.version": "true", "auto.register.schemas": "false"})
    data = c.from_connect("t", latest, Struct(latest, id=1))
    assert data is not None and int.from_bytes(data[1:5], "big") == latest_id


def test_registry_calls_are_cached() -> None:
    class Counting(SchemaRegistry):
        calls = 0

        def register(self, subject: str, schema: str, schema_type: str = "AVRO") -> int:
            Counting.calls += 1
            return super().register(subject, schema, schema_type)

        def get_schema(self, schema_id: int) -> str:
            Counting.calls += 1
            return super().get_schema(schema_id)

    registry = Counting()
    writer, reader = conv(registry), conv(registry)
    for n in range(50):
        assert reader.to_connect("t", writer.from_connect("t", INT64, n)) == (INT64, n)
    assert Counting.calls == 2  # one register (writer), one get_schema (reader)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x01\x00\x00\x00\x01\x02", "Unknown magic byte"),
        (b"\x00\x00", "Unknown magic byte"),
        (b"\x00\x00\x00\x00\x63\x02", "Error retrieving Avro schema for id 99"),
    ],
)
def test_bad_input(data: bytes, reason: str) -> None:
    with pytest.raises(CodecError, match=reason) as info:
        conv().to_connect("t", data)
    assert info.value.converter == "AvroConverter"


def test_truncated_payload() -> None:
    c = conv()
    data = c.from_connect("t", STRING, "hello")
    assert data is not None
    with pytest.raises(CodecError, match="cannot read Avro data"):
        c.to_connect("t", data[:-2])


def test_value_that_does_not_fit() -> None:
    with pytest.raises(CodecError, match="out of range"):
        conv().from_connect("t", INT8, 1000)
    with pytest.raises(CodecError, match="needs a schema"):
        conv().from_connect("t", None, 1)


def test_incompatible_schema_is_rejected() -> None:
    registry = SchemaRegistry()
    c = conv(registry)
    v1 = struct_schema([("id", INT32)])
    c.from_connect("t", v1, Struct(v1, id=1))
    v2 = struct_schema([("id", INT32), ("name", STRING)])  # new required field, no default
    with pytest.raises(CodecError, match=r"error 409"):
        c.from_connect("t", v2, Struct(v2, id=1, name="x"))


def test_plain_avro() -> None:
    schema_text = orjson.dumps(
        {"type": "record", "name": "P", "fields": [{"name": "x", "type": "double"}]}
    ).decode()
    c = PlainAvroConverter({"avro.schema": schema_text})
    value = Struct(c.schema, x=1.5)
    data = c.from_connect("t", c.schema, value)
    assert data == b"\x00\x00\x00\x00\x00\x00\xf8\x3f"
    assert c.to_connect("t", data) == (struct_schema([("x", FLOAT64)], name="P"), value)
    with pytest.raises(ConfigError, match=re.escape("avro.schema")):
        PlainAvroConverter({"avro.schema": "{"})


def test_logical_values() -> None:
    schema = struct_schema(
        [
            ("d", DATE),
            ("t", TIME),
            ("ts", TIMESTAMP),
            ("amt", decimal_schema(3)),
            ("m", map_schema(INT16, array_schema(OPTIONAL_STRING))),
        ],
        name="L",
    )
    value = Struct(
        schema,
        d=dt.date(1969, 12, 31),
        t=dt.time(23, 59, 59, 999000),
        ts=dt.datetime(1960, 1, 1, 0, 0, 0, 1000, tzinfo=dt.UTC),
        amt=decimal.Decimal("-12.345"),
        m={-1: ["a", None]},
    )
    c = conv()
    back_schema, back = c.to_connect("t", c.from_connect("t", schema, value))
    assert back == Struct(back_schema, dict(value.items()))


@settings(max_examples=150, deadline=None)
@given(schema_and_value(float32_exact=True))
def test_round_trip(case: tuple[Schema, Any]) -> None:
    schema, value = case
    c = conv()
    data = c.from_connect("t", schema, value)
    assert data is not None and data[0] == 0
    read_schema, read_value = c.to_connect("t", data)
    assert read_schema == schema.replace(version=1)
    assert read_value == Struct(read_schema, dict(value.items()))
    assert from_avro(to_avro(schema)) == schema


def test_reads_foreign_schemas() -> None:
    """Data from other Avro writers: enums, fixed, docs, defaults, unknown logical types."""
    registry = SchemaRegistry()
    foreign = {
        "type": "record",
        "name": "Event",
        "namespace": "ext",
        "doc": "an event",
        "fields": [
            {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
            {"name": "hash", "type": {"type": "fixed", "name": "H", "size": 2}},
            {"name": "n", "type": "int", "default": 5, "doc": "a number"},
            {"name": "micros", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "s", "type": {"type": "string", "avro.java.string": "String"}},
            {"name": "u", "type": ["string", "null"]},
        ],
    }
    schema_id = registry.register("events-value", orjson.dumps(foreign).decode())
    out = io.BytesIO()
    fastavro.schemaless_writer(
        out,
        fastavro.parse_schema(foreign),
        {"kind": "B", "hash": b"\x01\x02", "n": 7, "micros": 1, "s": "x", "u": None},
    )
    data = b"\x00" + schema_id.to_bytes(4, "big") + out.getvalue()
    schema, value = conv(registry).to_connect("events", data)
    assert schema.name == "ext.Event" and schema.version == 1
    assert schema.parameters == {
        "io.confluent.connect.avro.record.doc": "an event",
        "io.confluent.connect.avro.field.doc.n": "a number",
    }
    kind = schema.field("kind")
    assert kind is not None and kind.schema.type is Type.STRING
    assert kind.schema.parameters["io.confluent.connect.avro.Enum"] == "ext.Kind"
    n = schema.field("n")
    assert n is not None and n.schema.default == 5
    assert value.values() == ("B", b"\x01\x02", 7, 1, "x", None)


def test_unsupported_union_is_a_codec_error() -> None:
    registry = SchemaRegistry()
    schema_id = registry.register("t-value", '["int", "string"]')
    with pytest.raises(CodecError, match="unions"):
        conv(registry).to_connect("t", b"\x00" + schema_id.to_bytes(4, "big") + b"\x00\x02")


def test_defaults_travel_both_ways() -> None:
    schema = struct_schema(
        [
            ("s", Schema(Type.STRING, optional=True, default="x")),
            ("n", Schema(Type.INT64, default=7)),
            ("b", Schema(Type.BYTES, default=b"\x00\xff")),
        ],
        name="D",
    )
    avro = to_avro(schema)
    fields = {f["name"]: f for f in avro["fields"]}
    assert fields["s"]["default"] == "x"
    assert fields["s"]["type"] == [{"type": "string", "connect.default": "x"}, "null"]
    assert fields["n"]["default"] == 7
    assert fields["b"]["default"] == "\x00\xff"  # Avro's ISO-8859-1 text form
    assert from_avro(avro) == schema
    c = conv()
    value = Struct(schema, {})
    assert c.to_connect("t", c.from_connect("t", schema, value))[1].values() == (
        "x",
        7,
        b"\x00\xff",
    )
