"""Records: frozen, copied with replace (never mutated), headers immutable."""

from __future__ import annotations

import dataclasses

import pytest

from faust_connect.data import INT32, struct_schema
from faust_connect.records import Headers, SinkRecord, SourceRecord


def test_replace_copies_every_field_and_changes_only_the_given_ones() -> None:
    schema = struct_schema([("id", INT32)])
    record = SinkRecord(
        topic="t", value={"a": 1}, value_schema=schema, offset=5, headers=Headers().add("h", 1)
    )
    changed = record.replace(topic="u", partition=3)
    assert changed == dataclasses.replace(record, topic="u", partition=3)
    assert type(changed) is SinkRecord and record.topic == "t"
    source = SourceRecord(topic="s", source_partition={"f": 1}, source_offset={"p": 2})
    assert source.replace(value=9) == dataclasses.replace(source, value=9)


def test_replace_refuses_unknown_fields_and_records_are_frozen() -> None:
    record = SinkRecord(topic="t")
    with pytest.raises(TypeError, match="no field 'nope'"):
        record.replace(nope=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.topic = "x"  # type: ignore[misc]


def test_headers_are_immutable_and_last_wins() -> None:
    headers = Headers().add("a", 1).add("b", 2).add("a", 3)
    assert headers.last("a").value == 3  # type: ignore[union-attr]
    assert [h.value for h in headers.all("a")] == [1, 3]
    assert [h.key for h in headers.without("a")] == ["b"]
    assert len(headers.with_only("a", 4).all("a")) == 1
    assert len(headers) == 3


def test_a_sink_connector_gets_tasks_max_tasks_by_default() -> None:
    from faust_connect.agents.connectors.file import (
        FileStreamSinkConnector,
        FileStreamSourceConnector,
    )

    config = {"name": "s", "connector.class": "FileStreamSink", "topics": "t", "file": "/tmp/x"}
    assert len(FileStreamSinkConnector(config).task_configs(3)) == 3
    source = {"name": "f", "connector.class": "FileStreamSource", "topic": "t", "file": "/tmp/x"}
    assert len(FileStreamSourceConnector(source).task_configs(3)) == 1  # one file, one reader


def test_with_part_replaces_the_key_or_the_value_and_its_schema() -> None:
    record = SinkRecord(topic="t", key="k", value=1, value_schema=INT32, offset=5)
    value = record.with_part("value", None, {"a": 1})
    key = record.with_part("key", INT32, 7)
    assert value == dataclasses.replace(record, value_schema=None, value={"a": 1})
    assert key == dataclasses.replace(record, key_schema=INT32, key=7)
    assert record.value == 1 and record.key == "k"  # the original is unchanged
