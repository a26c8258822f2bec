"""The converter registry, converter_from_config and CodecError."""

from __future__ import annotations

import pytest

from faust_connect.codecs import (
    CodecError,
    Converter,
    JsonConverter,
    SchemaRegistry,
    SimpleHeaderConverter,
    StringConverter,
    converter_from_config,
    converters,
)
from faust_connect.codecs.avro.converter import AvroConverter
from faust_connect.codecs.avro.plain import PlainAvroConverter
from faust_connect.codecs.primitives import (
    BooleanConverter,
    ByteArrayConverter,
    DoubleConverter,
    FloatConverter,
    IntegerConverter,
    LongConverter,
    ShortConverter,
)
from faust_connect.exceptions import ConfigError, ConversionError, DataError


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("org.apache.kafka.connect.json.JsonConverter", JsonConverter),
        ("JsonConverter", JsonConverter),
        ("json", JsonConverter),
        ("org.apache.kafka.connect.storage.StringConverter", StringConverter),
        ("string", StringConverter),
        ("org.apache.kafka.connect.converters.ByteArrayConverter", ByteArrayConverter),
        ("bytes", ByteArrayConverter),
        ("org.apache.kafka.connect.converters.IntegerConverter", IntegerConverter),
        ("org.apache.kafka.connect.converters.LongConverter", LongConverter),
        ("org.apache.kafka.connect.converters.ShortConverter", ShortConverter),
        ("org.apache.kafka.connect.converters.FloatConverter", FloatConverter),
        ("org.apache.kafka.connect.converters.DoubleConverter", DoubleConverter),
        ("org.apache.kafka.connect.converters.BooleanConverter", BooleanConverter),
        ("org.apache.kafka.connect.storage.SimpleHeaderConverter", SimpleHeaderConverter),
        ("io.confluent.connect.avro.AvroConverter", AvroConverter),
        ("avro", AvroConverter),
        ("avro-plain", PlainAvroConverter),
    ],
)
def test_registry_names(name: str, cls: type[Converter]) -> None:
    assert converters.get(name) is cls


def test_from_config_uses_prefix_and_is_key() -> None:
    conv = converter_from_config(
        {
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false",
            "value.converter": "string",
        },
        "key.converter",
        {},
    )
    assert isinstance(conv, JsonConverter)
    assert conv.is_key and conv.schemas_enable is False


def test_connector_converter_replaces_worker_one_as_a_whole() -> None:
    worker = {
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    }
    # no converter in the connector config: the worker's class and options
    inherited = converter_from_config({}, "value.converter", worker)
    assert isinstance(inherited, JsonConverter) and inherited.schemas_enable is False
    assert not inherited.is_key
    # the connector names its own: only its own options apply (Kafka does not merge)
    own = converter_from_config({"value.converter": "json"}, "value.converter", worker)
    assert isinstance(own, JsonConverter) and own.schemas_enable is True


def test_header_converter_defaults_to_simple() -> None:
    assert isinstance(converter_from_config({}, "header.converter", {}), SimpleHeaderConverter)


def test_bad_options_name_full_keys() -> None:
    with pytest.raises(ConfigError) as info:
        converter_from_config(
            {
                "value.converter": "json",
                "value.converter.schemas.enable": "nope",
                "value.converter.bogus": "1",
            },
            "value.converter",
            {},
        )
    keys = {issue.key for issue in info.value.issues}
    assert keys == {"value.converter.schemas.enable", "value.converter.bogus"}


def test_missing_and_unknown_class() -> None:
    with pytest.raises(ConfigError) as info:
        converter_from_config({}, "value.converter", {})
    assert info.value.issues[0].key == "value.converter"
    with pytest.raises(ConfigError, match="JsonConvertr") as info:
        converter_from_config({"key.converter": "JsonConvertr"}, "key.converter", {})
    assert "did you mean" in str(info.value)


def test_avro_needs_url_or_client() -> None:
    with pytest.raises(ConfigError) as info:
        converter_from_config({"value.converter": "avro"}, "value.converter", {})
    assert info.value.issues[0].key == "value.converter.schema.registry.url"
    conv = converter_from_config(
        {"value.converter": "avro"}, "value.converter", {}, schema_registry=SchemaRegistry()
    )
    assert isinstance(conv, AvroConverter)


def test_codec_error_context() -> None:
    err = CodecError("JsonConverter", "malformed JSON")
    assert isinstance(err, ConversionError) and isinstance(err, DataError)
    assert str(err) == "JsonConverter: malformed JSON"
    full = err.with_context(topic="t", partition=2, offset=7, stage="VALUE_CONVERTER")
    assert str(full) == (
        "JsonConverter: malformed JSON (stage VALUE_CONVERTER, topic t, partition 2, offset 7)"
    )
    assert (full.converter, full.reason, full.topic, full.partition, full.offset) == (
        "JsonConverter",
        "malformed JSON",
        "t",
        2,
        7,
    )
    assert err.topic is None  # the original is unchanged


def test_converter_rejects_foreign_config_model() -> None:
    with pytest.raises(TypeError):
        StringConverter(JsonConverter().config)


def test_to_connect_many_is_to_connect_of_each_in_order() -> None:
    datas = [b'{"a":1}', None, b'"x"', bytearray(b"[2]")]
    for converter in (
        ByteArrayConverter(),
        StringConverter(),
        JsonConverter({"schemas.enable": False}),
    ):
        assert converter.to_connect_many("t", datas) == [
            converter.to_connect("t", d) for d in datas
        ]
    fetched = [b"k", None]
    many = ByteArrayConverter().to_connect_many("t", fetched)
    assert many[0][1] is fetched[0] and many[1][1] is None  # fetched bytes kept as they are
