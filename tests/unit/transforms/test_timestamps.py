"""TimestampConverter and the SimpleDateFormat translation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from faust_connect.data import (
    DATE,
    INT64,
    OPTIONAL_STRING,
    STRING,
    TIME,
    TIMESTAMP,
    Schema,
    Struct,
    struct_schema,
)
from faust_connect.exceptions import ConfigError, TransformError
from faust_connect.transforms import TimestampConverter
from faust_connect.transforms.dateformat import DateFormat

from .helpers import src

WHEN = dt.datetime(2017, 1, 31, 15, 4, 5, 678000, tzinfo=dt.UTC)
MILLIS = 1_485_875_045_678

# -- SimpleDateFormat -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("yyyyMMdd", "20170131"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2017-01-31T15:04:05.678Z"),
        ("yyyy-MM-dd HH:mm:ss.SSS", "2017-01-31 15:04:05.678"),
        ("dd MMM yy hh:mm a", "31 Jan 17 03:04 PM"),
        ("EEEE, MMMM d, yyyy", "Tuesday, January 31, 2017"),
        ("EEE, d MMM yyyy HH:mm:ss Z", "Tue, 31 Jan 2017 15:04:05 +0000"),
        ("'at' HH 'o''clock' z", "at 15 o'clock UTC"),
        ("yyyy.DDD", "2017.031"),
        ("yyyy.D", "2017.31"),
        ("k:K:h", "15:3:3"),
    ],
)
def test_date_format(pattern: str, text: str) -> None:
    fmt = DateFormat(pattern)
    assert fmt.format(WHEN) == text
    parsed = fmt.parse(text)
    assert fmt.format(parsed) == text


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        (
            "yyyy-MM-dd HH:mm:ssXXX",
            "2020-01-01 10:00:00+02:00",
            dt.datetime(2020, 1, 1, 8, tzinfo=dt.UTC),
        ),
        (
            "yyyy-MM-dd HH:mm Z",
            "2020-01-01 10:00 -0130",
            dt.datetime(2020, 1, 1, 11, 30, tzinfo=dt.UTC),
        ),
        ("yyyy-M-d", "2020-3-7", dt.datetime(2020, 3, 7, tzinfo=dt.UTC)),
        ("hh:mm a", "12:30 AM", dt.datetime(1970, 1, 1, 0, 30, tzinfo=dt.UTC)),
    ],
)
def test_date_parse(pattern: str, text: str, expected: dt.datetime) -> None:
    assert DateFormat(pattern).parse(text) == expected


@pytest.mark.parametrize("pattern", ["yyyy-bb", "'open"])
def test_bad_patterns(pattern: str) -> None:
    with pytest.raises(ValueError):
        DateFormat(pattern)


def test_parse_mismatch() -> None:
    with pytest.raises(ValueError, match="does not match"):
        DateFormat("yyyy-MM-dd").parse("31/01/2017")


# -- TimestampConverter -----------------------------------------------------------------------

FMT = "yyyy-MM-dd HH:mm:ss.SSS"


@pytest.mark.parametrize(
    ("settings", "value", "expected"),
    [
        ({"target.type": "string", "format": FMT}, MILLIS, "2017-01-31 15:04:05.678"),
        ({"target.type": "unix"}, WHEN, MILLIS),
        ({"target.type": "unix", "format": FMT}, "2017-01-31 15:04:05.678", MILLIS),
        ({"target.type": "Timestamp"}, MILLIS, WHEN),
        ({"target.type": "Date"}, MILLIS, dt.date(2017, 1, 31)),
        ({"target.type": "Time"}, MILLIS, dt.time(15, 4, 5, 678000)),
        ({"target.type": "unix", "unix.precision": "seconds"}, WHEN, MILLIS // 1000),
        ({"target.type": "unix", "unix.precision": "microseconds"}, WHEN, MILLIS * 1000),
        ({"target.type": "unix", "unix.precision": "nanoseconds"}, WHEN, MILLIS * 1_000_000),
        (
            {"target.type": "Timestamp", "unix.precision": "seconds"},
            1_485_875_045,
            WHEN.replace(microsecond=0),
        ),
        (
            {"target.type": "Timestamp", "unix.precision": "nanoseconds"},
            MILLIS * 1_000_000 + 999,
            WHEN,
        ),
        ({"target.type": "unix"}, dt.date(1970, 1, 2), 86_400_000),
        ({"target.type": "unix"}, dt.time(0, 0, 1), 1000),
        ({"target.type": "string", "format": "yyyy"}, None, None),
    ],
)
def test_convert_whole_value_schemaless(
    settings: dict[str, str], value: Any, expected: Any
) -> None:
    out = TimestampConverter.from_config(settings).apply(src(value))
    assert out is not None and out.value == expected and out.value_schema is None


@pytest.mark.parametrize(
    ("schema", "value", "target", "out_schema", "expected"),
    [
        (TIMESTAMP, WHEN, "unix", INT64, MILLIS),
        (INT64, MILLIS, "Timestamp", TIMESTAMP, WHEN),
        (STRING, "2017-01-31 15:04:05.678", "Date", DATE, dt.date(2017, 1, 31)),
        (DATE, dt.date(2017, 1, 31), "string", STRING, "2017-01-31 00:00:00.000"),
        (TIME, dt.time(15, 4), "unix", INT64, 54_240_000),
        (TIMESTAMP.as_optional(), None, "string", OPTIONAL_STRING, None),
    ],
)
def test_convert_whole_value_with_schema(
    schema: Schema, value: Any, target: str, out_schema: Schema, expected: Any
) -> None:
    t = TimestampConverter(target_type=target, format=FMT)
    out = t.apply(src(value, schema=schema))
    assert out is not None and out.value_schema == out_schema and out.value == expected


def test_convert_field_with_schema() -> None:
    schema = struct_schema([("id", INT64), ("ts", TIMESTAMP.as_optional())], name="event")
    t = TimestampConverter(field="ts", target_type="string", format="yyyy-MM-dd")
    out = t.apply(src(Struct(schema, id=1, ts=WHEN), schema=schema))
    assert out is not None and out.value_schema is not None
    assert out.value_schema.field("ts").schema == OPTIONAL_STRING  # type: ignore[union-attr]
    assert out.value.as_dict() == {"id": 1, "ts": "2017-01-31"}
    assert out.value_schema.name == "event"
    empty = t.apply(src(Struct(schema, id=2), schema=schema))
    assert empty is not None and empty.value.get("ts") is None


def test_convert_field_schemaless_and_key() -> None:
    t = TimestampConverter(field="ts", target_type="Timestamp")
    out = t.apply(src({"ts": MILLIS, "x": 1}))
    assert out is not None and out.value == {"ts": WHEN, "x": 1}
    keyed = TimestampConverter(target="key", field="ts", target_type="unix").apply(
        src("v", key={"ts": WHEN})
    )
    assert keyed is not None and keyed.key == {"ts": MILLIS}


@pytest.mark.parametrize(
    ("settings", "record", "message"),
    [
        ({"target_type": "unix"}, src("2017-01-31"), "needs the format"),
        ({"target_type": "unix", "format": "yyyy"}, src("x17"), "does not match"),
        ({"target_type": "unix"}, src(1.5, schema=Schema("float64")), "not a timestamp"),
        (
            {"target_type": "unix", "field": "nope"},
            src(Struct(struct_schema([("a", INT64)]), a=1), schema=struct_schema([("a", INT64)])),
            "'nope'",
        ),
    ],
)
def test_convert_failures(settings: dict[str, str], record: Any, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        TimestampConverter(**settings).apply(record)


@pytest.mark.parametrize(
    ("settings", "keys"),
    [
        ({"target.type": "string"}, ["format"]),
        ({"target.type": "json"}, ["target.type"]),
        ({"target.type": "unix", "unix.precision": "days"}, ["unix.precision"]),
        ({"target.type": "unix", "format": "yyyy-bb"}, ["format"]),
        ({}, ["target.type"]),
    ],
)
def test_config_issues(settings: dict[str, str], keys: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        TimestampConverter.from_config(settings)
    assert sorted(i.key for i in info.value.issues) == keys
