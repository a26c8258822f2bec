"""Record builders shared by the transform tests."""

from __future__ import annotations

from typing import Any

from faust_connect.data import INT32, INT64, OPTIONAL_STRING, STRING, Schema, Struct, struct_schema
from faust_connect.records import Header, Headers, SinkRecord, SourceRecord

USER = struct_schema(
    [("id", INT32), ("name", STRING), ("email", OPTIONAL_STRING), ("visits", INT64)],
    name="user",
    version=1,
)


def user(**values: Any) -> Struct:
    """A USER struct with defaults for unspecified fields."""
    base = {"id": 1, "name": "ann", "email": "ann@example.com", "visits": 7}
    return Struct(USER, {**base, **values})


def src(value: Any = None, *, schema: Schema | None = None, **kw: Any) -> SourceRecord:
    """A source record on topic ``t`` (override with ``topic=``)."""
    kw.setdefault("topic", "t")
    return SourceRecord(value=value, value_schema=schema, **kw)


def sink(value: Any = None, *, schema: Schema | None = None, **kw: Any) -> SinkRecord:
    """A sink record on topic ``t``, partition 3, offset 42, timestamp 1700000000000."""
    kw.setdefault("topic", "t")
    kw.setdefault("partition", 3)
    kw.setdefault("offset", 42)
    kw.setdefault("timestamp", 1_700_000_000_000)
    return SinkRecord(value=value, value_schema=schema, **kw)


def headers(**items: Any) -> Headers:
    """Headers from keyword arguments, in order."""
    return Headers(Header(k, v) for k, v in items.items())
