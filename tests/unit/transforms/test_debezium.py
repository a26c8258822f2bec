"""Debezium's ExtractNewRecordState: envelopes, delete/tombstone modes, added fields and headers."""

from __future__ import annotations

from typing import Any

import pytest

from faust_connect.data import (
    INT32,
    INT64,
    OPTIONAL_INT64,
    OPTIONAL_STRING,
    STRING,
    Struct,
    struct_schema,
)
from faust_connect.exceptions import ConfigError, TransformError
from faust_connect.records import Header, SourceRecord
from faust_connect.transforms import ExtractNewRecordState

from .helpers import src

ROW = struct_schema(
    [("id", INT32), ("name", OPTIONAL_STRING)], name="db.public.users.Value", optional=True
)
SOURCE = struct_schema(
    [
        ("version", STRING),
        ("connector", STRING),
        ("ts_ms", INT64),
        ("db", STRING),
        ("schema", STRING),
        ("table", STRING),
        ("lsn", OPTIONAL_INT64),
    ],
    name="io.debezium.connector.postgresql.Source",
)
ENVELOPE = struct_schema(
    [
        ("before", ROW),
        ("after", ROW),
        ("source", SOURCE),
        ("op", STRING),
        ("ts_ms", OPTIONAL_INT64),
    ],
    name="db.public.users.Envelope",
)
SOURCE_VALUE = {
    "version": "2.7",
    "connector": "postgresql",
    "ts_ms": 1000,
    "db": "shop",
    "schema": "public",
    "table": "users",
    "lsn": 555,
}
ANN = {"id": 1, "name": "ann"}
ANNA = {"id": 1, "name": "anna"}


def event(
    op: str, before: dict[str, Any] | None, after: dict[str, Any] | None, *, schema: bool
) -> SourceRecord:
    body = {"before": before, "after": after, "source": SOURCE_VALUE, "op": op, "ts_ms": 2000}
    if not schema:
        return SourceRecord(topic="db.public.users", key={"id": 1}, value=body)
    value = Struct(
        ENVELOPE,
        before=None if before is None else Struct(ROW, before),
        after=None if after is None else Struct(ROW, after),
        source=Struct(SOURCE, SOURCE_VALUE),
        op=op,
        ts_ms=2000,
    )
    return SourceRecord(topic="db.public.users", key={"id": 1}, value=value, value_schema=ENVELOPE)


def plain(value: Any) -> Any:
    return value.as_dict() if isinstance(value, Struct) else value


@pytest.mark.parametrize("schema", [True, False], ids=["schema", "schemaless"])
@pytest.mark.parametrize(
    ("op", "before", "after"), [("c", None, ANN), ("r", None, ANN), ("u", ANN, ANNA)]
)
def test_rows_become_after(schema: bool, op: str, before: Any, after: Any) -> None:
    out = ExtractNewRecordState().apply(event(op, before, after, schema=schema))
    assert out is not None and plain(out.value) == after
    assert out.key == {"id": 1} and out.topic == "db.public.users"
    assert out.value_schema == (ROW if schema else None)


TOMBSTONE = SourceRecord(topic="db.public.users", key={"id": 1}, value=None)
# mode -> (delete result, tombstone kept?); "rewrite" = before image + __deleted
MODES = {
    "tombstone": ("drop", True),
    "drop": ("drop", False),
    "rewrite": ("rewrite", False),
    "rewrite-with-tombstone": ("rewrite", True),
    "delete-to-tombstone": ("tombstone", False),
}


@pytest.mark.parametrize("schema", [True, False], ids=["schema", "schemaless"])
@pytest.mark.parametrize("mode", list(MODES))
def test_delete_tombstone_handling_modes(schema: bool, mode: str) -> None:
    t = ExtractNewRecordState.from_config({"delete.tombstone.handling.mode": mode})
    deletes, keep_tombstones = MODES[mode]
    out = t.apply(event("d", ANN, None, schema=schema))
    if deletes == "drop":
        assert out is None
    elif deletes == "tombstone":
        assert out is not None and out.value is None and out.value_schema is None
        assert out.key == {"id": 1}
    else:
        assert out is not None and plain(out.value) == {**ANN, "__deleted": "true"}
        if schema:
            assert out.value_schema is not None
            assert out.value_schema.field("__deleted").schema == OPTIONAL_STRING  # type: ignore[union-attr]
    assert (t.apply(TOMBSTONE) is TOMBSTONE) is keep_tombstones
    created = t.apply(event("c", None, ANN, schema=schema))
    assert created is not None
    extra = {"__deleted": "false"} if deletes == "rewrite" else {}
    assert plain(created.value) == {**ANN, **extra}


@pytest.mark.parametrize(
    ("settings", "deletes", "keep_tombstones"),
    [
        ({"drop.tombstones": "true"}, "drop", False),
        ({"drop.tombstones": "false"}, "drop", True),
        ({"delete.handling.mode": "rewrite"}, "rewrite", False),
        ({"drop.tombstones": "false", "delete.handling.mode": "rewrite"}, "rewrite", True),
        ({"delete.handling.mode": "none"}, "tombstone", False),
        # the new key wins over the deprecated ones
        (
            {"delete.handling.mode": "rewrite", "delete.tombstone.handling.mode": "drop"},
            "drop",
            False,
        ),
    ],
)
def test_legacy_settings(settings: dict[str, str], deletes: str, keep_tombstones: bool) -> None:
    t = ExtractNewRecordState.from_config(settings)
    out = t.apply(event("d", ANN, None, schema=False))
    if deletes == "drop":
        assert out is None
    elif deletes == "tombstone":
        assert out is not None and out.value is None
    else:
        assert out is not None and out.value == {**ANN, "__deleted": "true"}
    assert (t.apply(TOMBSTONE) is not None) is keep_tombstones


def test_add_fields_with_schema() -> None:
    t = ExtractNewRecordState.from_config({"add.fields": "op,table,lsn,source.ts_ms,ts_ms"})
    out = t.apply(event("u", ANN, ANNA, schema=True))
    assert out is not None and out.value_schema is not None
    assert out.value.as_dict() == {
        **ANNA,
        "__op": "u",
        "__table": "users",
        "__lsn": 555,
        "__source_ts_ms": 1000,
        "__ts_ms": 2000,
    }
    fields = {f.name: f.schema for f in out.value_schema.fields}
    assert fields["__op"] == OPTIONAL_STRING and fields["__source_ts_ms"] == OPTIONAL_INT64
    assert fields["id"] == INT32 and out.value_schema.name == ROW.name


def test_add_fields_schemaless_with_prefix_and_rename() -> None:
    t = ExtractNewRecordState(add_fields=("op:operation", "source.db"), add_fields_prefix="meta_")
    out = t.apply(event("c", None, ANN, schema=False))
    assert out is not None and out.value == {**ANN, "meta_operation": "c", "meta_source_db": "shop"}


@pytest.mark.parametrize("schema", [True, False], ids=["schema", "schemaless"])
def test_add_headers(schema: bool) -> None:
    t = ExtractNewRecordState.from_config({"add.headers": "op,db", "add.headers.prefix": "dbz."})
    out = t.apply(event("c", None, ANN, schema=schema))
    assert out is not None and plain(out.value) == ANN
    assert [(h.key, h.value) for h in out.headers] == [("dbz.op", "c"), ("dbz.db", "shop")]
    if schema:
        assert out.headers.last("dbz.op") == Header("dbz.op", "c", OPTIONAL_STRING)


def test_rewrite_with_added_fields_on_delete() -> None:
    t = ExtractNewRecordState(delete_tombstone_handling_mode="rewrite", add_fields=("op",))
    out = t.apply(event("d", ANN, None, schema=True))
    assert out is not None
    assert out.value.as_dict() == {**ANN, "__op": "d", "__deleted": "true"}


def test_truncate_dropped_and_other_records_pass() -> None:
    t = ExtractNewRecordState()
    assert t.apply(event("t", None, None, schema=False)) is None
    heartbeat = src({"serverName": "db"}, topic="__debezium-heartbeat.db")
    assert t.apply(heartbeat) is heartbeat
    other = src(5, schema=INT32)
    assert t.apply(other) is other


def test_route_by_field() -> None:
    t = ExtractNewRecordState(route_by_field="name")
    out = t.apply(event("c", None, ANN, schema=True))
    assert out is not None and out.topic == "ann"


def test_unknown_added_field_with_schema_fails() -> None:
    t = ExtractNewRecordState(add_fields=("source.nope",), alias="unwrap")
    with pytest.raises(TransformError, match=r"^unwrap: .*'nope'"):
        t.apply(event("c", None, ANN, schema=True))


@pytest.mark.parametrize(
    ("settings", "keys"),
    [
        ({"delete.tombstone.handling.mode": "keep"}, ["delete.tombstone.handling.mode"]),
        ({"delete.handling.mode": "rewrite-with-tombstone"}, ["delete.handling.mode"]),
        ({"add.fields": "op:"}, ["add.fields"]),
        ({"add.headers": ".x", "drop.tombstones": "maybe"}, ["add.headers", "drop.tombstones"]),
    ],
)
def test_config_issues(settings: dict[str, str], keys: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        ExtractNewRecordState.from_config(settings)
    assert sorted(i.key for i in info.value.issues) == keys
