"""Converters registered as Faust codecs."""

from __future__ import annotations

import pytest
from faust.serializers import codecs

import faust_connect.codecs  # noqa: F401  (registers the codecs)
from faust_connect.codecs import CodecError, SchemaRegistry, register_avro_codec
from faust_connect.data import INT32, OPTIONAL_STRING, Struct, struct_schema

SCHEMA = struct_schema([("id", INT32), ("name", OPTIONAL_STRING)], name="shop.Order")


def test_connect_json() -> None:
    value = Struct(SCHEMA, id=1, name="x")
    data = codecs.dumps("connect-json", value)
    assert data.startswith(b'{"schema":{"type":"struct"')
    assert codecs.loads("connect-json", data) == value


def test_connect_json_plain_and_chains() -> None:
    assert codecs.dumps("connect-json-plain", {"a": [1]}) == b'{"a":[1]}'
    assert codecs.loads("connect-json-plain", b'{"a":[1]}') == {"a": [1]}
    chained = codecs.dumps("connect-json-plain|binary", {"a": 1})
    assert codecs.loads("connect-json-plain|binary", chained) == {"a": 1}


def test_connect_string_and_bytes() -> None:
    assert codecs.dumps("connect-string", "héllo") == "héllo".encode()
    assert codecs.loads("connect-string", b"hi") == "hi"
    assert codecs.loads("connect-bytes", codecs.dumps("connect-bytes", b"\x00")) == b"\x00"


def test_connect_avro_with_registry() -> None:
    registry = SchemaRegistry()
    register_avro_codec(registry)
    value = Struct(SCHEMA, id=2, name=None)
    data = codecs.dumps("connect-avro", value)
    assert data[:1] == b"\x00"
    assert registry.subjects() == ["shop.Order"]
    assert codecs.loads("connect-avro", data).values() == (2, None)


def test_codec_errors_are_conversion_errors() -> None:
    with pytest.raises(CodecError, match="JsonConverter"):
        codecs.loads("connect-json", b"{nope")


def test_builtin_codecs_survive_chaining() -> None:
    # Faust clones a codec when it is chained (type(codec)(children=..., **kwargs)).
    from faust_connect.codecs.faust_codecs import BUILTIN_CODECS

    for name in BUILTIN_CODECS:
        codec = codecs.get_codec(name)
        value = "x" if name != "connect-bytes" else b"x"
        assert codec.loads(codec.dumps(value))
        chained = codec | codecs.get_codec("binary")
        assert type(chained) is type(codec)
        assert chained.loads(chained.dumps(value)) == codec.loads(codec.dumps(value))


def test_null_round_trips_as_empty() -> None:
    assert codecs.dumps("connect-json-plain", None) == b""
    assert codecs.loads("connect-json", b"") is None
