"""InsertField, ReplaceField, MaskField and ValueToKey, with and without schemas."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest

from faust_connect.data import (
    INT32,
    INT64,
    OPTIONAL_INT32,
    OPTIONAL_INT64,
    OPTIONAL_STRING,
    STRING,
    TIMESTAMP,
    Struct,
    struct_schema,
)
from faust_connect.exceptions import ConfigError, TransformError
from faust_connect.records import SourceRecord
from faust_connect.transforms import InsertField, MaskField, ReplaceField, ValueToKey

from .helpers import USER, sink, src, user

# -- InsertField ------------------------------------------------------------------------------


def test_insert_static_field_kafka_docs_example() -> None:
    # Confluent's docs: static.field=MessageSource, static.value=Kafka Connect framework
    t = InsertField.from_config(
        {"static.field": "MessageSource", "static.value": "Kafka Connect framework"}
    )
    out = t.apply(src({"id": 1}))
    assert out is not None
    assert out.value == {"id": 1, "MessageSource": "Kafka Connect framework"}


def test_insert_metadata_schemaless_on_sink_record() -> None:
    t = InsertField(
        topic_field="topic", partition_field="part", offset_field="off", timestamp_field="ts"
    )
    out = t.apply(sink({"a": 1}, topic="orders"))
    assert out is not None
    assert out.value == {
        "a": 1,
        "topic": "orders",
        "part": 3,
        "off": 42,
        "ts": 1_700_000_000_000,
    }


def test_insert_metadata_with_schema() -> None:
    t = InsertField(
        topic_field="topic!",
        partition_field="part",
        offset_field="off?",
        timestamp_field="ts",
        static_field="src",
        static_value="db",
    )
    out = t.apply(sink(user(), schema=USER))
    assert out is not None and out.value_schema is not None
    schema = out.value_schema
    assert schema.name == "user" and schema.version == 1
    assert [(f.name, f.schema) for f in schema.fields[4:]] == [
        ("topic", STRING),
        ("part", OPTIONAL_INT32),
        ("off", OPTIONAL_INT64),
        ("ts", TIMESTAMP.as_optional()),
        ("src", OPTIONAL_STRING),
    ]
    assert out.value.get("ts") == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)
    assert out.value.get("off") == 42 and out.value.get("src") == "db"
    assert out.value.get("name") == "ann"
    # derived once per input schema
    again = t.apply(sink(user(id=2), schema=USER))
    assert again is not None and again.value_schema is schema


def test_insert_into_key() -> None:
    t = InsertField(target="key", topic_field="topic")
    out = t.apply(SourceRecord(topic="t", key={"id": 1}, value="v"))
    assert out is not None and out.key == {"id": 1, "topic": "t"} and out.value == "v"


@pytest.mark.parametrize(
    ("record", "settings", "message"),
    [
        (src({"a": 1}), {"offset_field": "off"}, "sink record"),
        (src([1]), {"topic_field": "t"}, "needs a map"),
        (src({"a": 1}, timestamp=None), {"timestamp_field": "ts!"}, "required field 'ts'"),
        (src("x", schema=STRING), {"topic_field": "t"}, "needs a struct"),
    ],
)
def test_insert_field_failures(record: Any, settings: dict[str, str], message: str) -> None:
    with pytest.raises(TransformError, match=message):
        InsertField(**settings).apply(record)


def test_insert_passes_tombstones() -> None:
    record = src(None)
    assert InsertField(topic_field="t").apply(record) is record


# -- ReplaceField -----------------------------------------------------------------------------

REPLACE_CASES = [
    # (settings, input, expected) -- Confluent's docs examples first
    ({"exclude": "c2"}, {"c1": 1, "c2": 2, "c3": 3}, {"c1": 1, "c3": 3}),
    ({"include": "c1,c2"}, {"c1": 1, "c2": 2, "c3": 3}, {"c1": 1, "c2": 2}),
    ({"renames": "foo:c1,bar:c2"}, {"foo": 1, "bar": 2, "baz": 3}, {"c1": 1, "c2": 2, "baz": 3}),
    ({"include": "a,b", "exclude": "b"}, {"a": 1, "b": 2, "c": 3}, {"a": 1}),
    ({"blacklist": "a"}, {"a": 1, "b": 2}, {"b": 2}),
    ({"whitelist": "a"}, {"a": 1, "b": 2}, {"a": 1}),
    ({"include": "a", "renames": "a:z"}, {"a": 1, "b": 2}, {"z": 1}),
]


@pytest.mark.parametrize(("settings", "value", "expected"), REPLACE_CASES)
def test_replace_field_schemaless(
    settings: dict[str, str], value: dict[str, int], expected: dict[str, int]
) -> None:
    out = ReplaceField.from_config(settings).apply(src(value))
    assert out is not None and out.value == expected


@pytest.mark.parametrize(("settings", "value", "expected"), REPLACE_CASES)
def test_replace_field_with_schema(
    settings: dict[str, str], value: dict[str, int], expected: dict[str, int]
) -> None:
    schema = struct_schema([(k, INT32) for k in value], name="rec")
    out = ReplaceField.from_config(settings).apply(src(Struct(schema, value), schema=schema))
    assert out is not None and out.value_schema is not None
    assert out.value.as_dict() == expected
    assert [f.name for f in out.value_schema.fields] == list(expected)
    assert out.value_schema.name == "rec"


def test_replace_field_in_key_with_null_default() -> None:
    schema = struct_schema([("a", INT32.replace(optional=True, default=5)), ("b", INT32)])
    key = Struct.trusted(schema, [None, 2])
    out = ReplaceField(target="key", renames=("a:x",)).apply(
        SourceRecord(topic="t", key=key, key_schema=schema)
    )
    assert out is not None and out.key.as_dict() == {"x": 5, "b": 2}
    kept = ReplaceField(target="key", renames=("a:x",), replace_null_with_default=False).apply(
        SourceRecord(topic="t", key=key, key_schema=schema)
    )
    assert kept is not None and kept.key.values() == (None, 2)


def test_replace_field_rejects_bad_renames() -> None:
    with pytest.raises(ConfigError) as info:
        ReplaceField.from_config({"renames": "a:b,c"}, prefix="transforms.r.")
    assert [i.key for i in info.value.issues] == ["transforms.r.renames"]


# -- MaskField --------------------------------------------------------------------------------

MASK_VALUE = {
    "i": 42,
    "f": 1.5,
    "b": True,
    "s": "secret",
    "d": decimal.Decimal("9.99"),
    "ts": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    "day": dt.date(2024, 1, 1),
    "l": [1, 2],
    "m": {"k": 1},
    "n": None,
    "keep": "visible",
}


def test_mask_empty_values_schemaless() -> None:
    fields = tuple(k for k in MASK_VALUE if k != "keep")
    out = MaskField(fields=fields).apply(src(MASK_VALUE))
    assert out is not None
    assert out.value == {
        "i": 0,
        "f": 0.0,
        "b": False,
        "s": "",
        "d": decimal.Decimal(0),
        "ts": dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        "day": dt.date(1970, 1, 1),
        "l": [],
        "m": {},
        "n": None,
        "keep": "visible",
    }
    assert MASK_VALUE["s"] == "secret"


@pytest.mark.parametrize(
    ("value", "replacement", "expected"),
    [
        ("secret", "****", "****"),
        (42, "-1", -1),
        (1.5, "9.5", 9.5),
        (decimal.Decimal(1), "2.5", decimal.Decimal("2.5")),
    ],
)
def test_mask_with_replacement(value: Any, replacement: str, expected: Any) -> None:
    out = MaskField(fields=("x",), replacement=replacement).apply(src({"x": value}))
    assert out is not None and out.value == {"x": expected}


@pytest.mark.parametrize(("value", "replacement"), [(True, "x"), ([1], "x"), (42, "nope")])
def test_mask_with_unusable_replacement_fails(value: Any, replacement: str) -> None:
    with pytest.raises(TransformError, match="MaskField"):
        MaskField(fields=("x",), replacement=replacement).apply(src({"x": value}))


def test_mask_with_schema() -> None:
    out = MaskField(fields=("name", "visits", "email")).apply(src(user(email=None), schema=USER))
    assert out is not None and out.value_schema is USER
    assert out.value.as_dict() == {"id": 1, "name": "", "email": None, "visits": 0}


def test_mask_with_schema_checks_int_range() -> None:
    schema = struct_schema([("small", INT32)])
    t = MaskField(fields=("small",), replacement="99999999999")
    with pytest.raises(TransformError, match="out of range"):
        t.apply(src(Struct(schema, small=1), schema=schema))


def test_mask_missing_fields_like_kafka() -> None:
    out = MaskField(fields=("nope",)).apply(src(user(), schema=USER))
    assert out is not None and out.value == user()
    added = MaskField(fields=("a", "nope")).apply(src({"a": "x"}))
    assert added is not None and added.value == {"a": "", "nope": None}


def test_mask_needs_fields() -> None:
    with pytest.raises(ConfigError) as info:
        MaskField.from_config({"fields": ""})
    assert [i.key for i in info.value.issues] == ["fields"]


# -- ValueToKey -------------------------------------------------------------------------------


def test_value_to_key_schemaless() -> None:
    # Confluent's example: fields=userId,city,state
    value = {"userId": 7, "city": "Oslo", "state": "O", "other": 1}
    out = ValueToKey.from_config({"fields": "userId,city,state"}).apply(src(value))
    assert out is not None
    assert out.key == {"userId": 7, "city": "Oslo", "state": "O"} and out.value is value


def test_value_to_key_with_schema() -> None:
    out = ValueToKey(fields=("visits", "id")).apply(src(user(), schema=USER))
    assert out is not None and out.key_schema is not None
    assert [(f.name, f.schema) for f in out.key_schema.fields] == [("visits", INT64), ("id", INT32)]
    assert out.key.as_dict() == {"visits": 7, "id": 1}


@pytest.mark.parametrize("record", [src(user(), schema=USER), src(None), src("text")])
def test_value_to_key_failures(record: SourceRecord) -> None:
    t = ValueToKey(fields=("missing",)) if record.value_schema else ValueToKey(fields=("id",))
    with pytest.raises(TransformError, match="ValueToKey"):
        t.apply(record)


def test_insert_timestamp_of_each_record_in_a_row() -> None:
    t = InsertField(timestamp_field="ts")
    stamps = [1_700_000_000_000, 1_700_000_000_000, 1_700_000_000_001, 0]
    outs = [t.apply(sink(user(), schema=USER, timestamp=ts)) for ts in stamps]
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert [o.value.get("ts") for o in outs if o is not None] == [
        epoch + dt.timedelta(milliseconds=ts) for ts in stamps
    ]
