"""The record path without a broker: converters, transforms and the error policy, through the
shipped test doubles (faust_connect.testing)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

import orjson
import pytest

from faust_connect.agents.runtime.error_policy import ToleranceExceeded
from faust_connect.app.plugins import connector_definitions
from faust_connect.config import ConnectorConfig
from faust_connect.connector import SinkConnector, SinkTask
from faust_connect.data import INT32, STRING, Struct, struct_schema
from faust_connect.exceptions import ConnectError, RetriableError
from faust_connect.records import SinkRecord, SourceRecord
from faust_connect.testing import MemorySink, MemorySource, TaskHarness

_names = itertools.count()
PLAIN_JSON = {
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
}
DLQ = {
    "errors.tolerance": "all",
    "errors.deadletterqueue.topic.name": "dlq",
    "errors.deadletterqueue.context.headers.enable": "true",
}
CAST = {
    "transforms": "cast",
    "transforms.cast.type": "org.apache.kafka.connect.transforms.Cast$Value",
    "transforms.cast.spec": "n:int32",
}


def _name() -> str:
    return f"c{next(_names)}"


def _sink(**config: str) -> TaskHarness:
    return TaskHarness(MemorySink, {"name": _name(), "topics": "in", **PLAIN_JSON, **config})


async def test_a_sink_gets_converted_transformed_records() -> None:
    harness = _sink(**CAST)
    await harness.start()
    put = await harness.deliver("in", [(b"k", b'{"n": "7"}'), (None, b'{"n": 8}')])
    assert [r.value for r in put] == [{"n": 7}, {"n": 8}]
    assert [r.key for r in put] == ["k", None]
    assert [(r.topic, r.partition, r.offset) for r in put] == [("in", 0, 0), ("in", 0, 1)]
    assert MemorySink.received[harness.name] == put
    await harness.flush()
    assert MemorySink.flushed[harness.name] == {("in", 0): 2}
    assert (harness.metrics.consumed, harness.metrics.put, harness.metrics.errors) == (2, 2, 0)


async def test_tolerance_all_dead_letters_the_raw_record_with_the_context_headers() -> None:
    harness = _sink(**DLQ)
    await harness.start()
    put = await harness.deliver(
        "in", [(b"a", b'{"ok": 1}'), (b"b", b"{not json", [("h", b"1")]), (b"c", b"2")]
    )
    assert [r.key for r in put] == ["a", "c"]
    [(topic, raw, headers)] = harness.dead_letters.records
    assert (topic, raw.key, raw.value, raw.offset) == ("dlq", b"b", b"{not json", 1)
    context = dict(headers)
    assert headers[0] == ("h", b"1")  # the record's own headers come first
    assert context["__connect.errors.stage"] == b"VALUE_CONVERTER"
    assert context["__connect.errors.class.name"] == b"JsonConverter"
    assert context["__connect.errors.topic"] == b"in"
    assert context["__connect.errors.offset"] == b"1"
    assert context["__connect.errors.connector.name"] == harness.name.encode()
    message = context["__connect.errors.exception.message"].decode()
    assert "JsonConverter" in message and "topic in" in message and "offset 1" in message
    assert (harness.metrics.errors, harness.metrics.dead_lettered) == (1, 1)


async def test_a_failing_transform_is_dead_lettered_at_its_stage() -> None:
    harness = _sink(**CAST, **DLQ)
    await harness.start()
    put = await harness.deliver("in", [(None, b'{"n": "x"}'), (None, b'{"n": "3"}')])
    assert [r.value for r in put] == [{"n": 3}]
    [(_, raw, headers)] = harness.dead_letters.records
    assert raw.value == b'{"n": "x"}' and raw.offset == 0
    assert dict(headers)["__connect.errors.stage"] == b"TRANSFORMATION"


async def test_tolerance_none_fails_on_the_first_bad_record_and_says_where() -> None:
    harness = _sink()
    await harness.start()
    with pytest.raises(ToleranceExceeded) as failure:
        await harness.deliver("in", [(None, b"1"), (None, b"[oops"), (None, b"{also bad")])
    assert failure.value.raw is not None and failure.value.raw.offset == 1
    assert "VALUE_CONVERTER failed for topic 'in' partition 0 offset 1" in str(failure.value)
    assert harness.dead_letters.records == []
    assert harness.metrics.errors == 1
    assert MemorySink.received[harness.name] == []


async def test_errors_are_logged_only_when_asked(caplog: pytest.LogCaptureFixture) -> None:
    quiet = _sink(**{"errors.tolerance": "all"})
    loud = _sink(**{"errors.tolerance": "all", "errors.log.enable": "true"})
    with caplog.at_level(logging.ERROR, logger="faust_connect.task"):
        for harness in (quiet, loud):
            await harness.start()
            await harness.deliver("in", [(None, b"{bad")])
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 1 and f"task {loud.name}-0" in logged[0]
    assert "'VALUE_CONVERTER' for topic 'in' partition 0 offset 0" in logged[0]


class _Flaky(SinkTask):
    failures = 2
    reported = 0

    async def put(self, records: Sequence[SinkRecord]) -> None:
        if _Flaky.failures:
            _Flaky.failures -= 1
            raise RetriableError("database busy", retry_after=0)
        for record in records:
            if record.value == {"bad": True}:
                await self.context.report(record, ValueError("cannot write bad"))


class FlakySink(SinkConnector):
    task_class = _Flaky


async def test_put_is_retried_and_the_errant_reporter_dead_letters_one_record() -> None:
    harness = TaskHarness(FlakySink, {"name": _name(), "topics": "in", **PLAIN_JSON, **DLQ})
    await harness.start()
    await harness.deliver("in", [(None, b'{"bad": false}'), (None, b'{"bad": true}')])
    assert harness.metrics.retries == 2
    [(_, raw, headers)] = harness.dead_letters.records
    assert raw.value == b'{"bad": true}' and raw.offset == 1
    assert dict(headers)["__connect.errors.stage"] == b"TASK_PUT"
    assert dict(headers)["__connect.errors.exception.message"] == b"cannot write bad"


_ROW = struct_schema([("id", INT32), ("name", STRING)], name="row")


async def test_a_source_record_becomes_the_bytes_a_worker_produces() -> None:
    name = _name()
    harness = TaskHarness(MemorySource, {"name": name, **CAST, "transforms.cast.spec": "id:string"})
    MemorySource.queue(
        name,
        [
            SourceRecord(
                topic="out",
                key="k1",
                key_schema=STRING,
                value=Struct(_ROW, {"id": 1, "name": "a"}),
                value_schema=_ROW,
                source_partition={"table": "t"},
                source_offset={"id": 1},
            )
        ],
    )
    await harness.start()
    [produced] = await harness.poll()
    assert produced.topic == "out"
    assert produced.key == b'{"schema":{"type":"string","optional":false},"payload":"k1"}'
    envelope = orjson.loads(produced.value or b"")
    assert envelope["payload"] == {"id": "1", "name": "a"}
    assert [f["type"] for f in envelope["schema"]["fields"]] == ["string", "string"]
    assert harness.offsets == {(("table", "t"),): {"id": 1}}
    assert await harness.poll() == []


async def test_a_source_record_its_converter_refuses_goes_to_the_dead_letter_queue() -> None:
    name = _name()
    harness = TaskHarness(MemorySource, {"name": name, **DLQ})
    good = SourceRecord(topic="out", value="fine", value_schema=STRING)
    bad = SourceRecord(topic="out", value=5, value_schema=STRING)  # not a string
    MemorySource.queue(name, [good, bad])
    await harness.start()
    produced = await harness.poll()
    assert len(produced) == 1
    [(_, raw, headers)] = harness.dead_letters.records
    assert raw.value == b"5" and raw.topic == "out"
    assert dict(headers)["__connect.errors.stage"] == b"VALUE_CONVERTER"


async def test_a_poll_is_retried_only_within_the_retry_timeout() -> None:
    class Failing(MemorySource):
        pass

    name = _name()
    harness = TaskHarness(Failing, {"name": name})
    await harness.start()

    async def poll() -> list[SourceRecord]:
        raise RetriableError("source down", retry_after=0)

    harness.task.poll = poll
    with pytest.raises(RetriableError):
        await harness.poll()  # errors.retry.timeout 0: no retry for a poll
    assert harness.metrics.retries == 0
    forever = TaskHarness(Failing, {"name": name, "errors.retry.timeout": "50"})
    calls = 0

    async def recovering() -> list[SourceRecord]:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise RetriableError("source down", retry_after=0)
        return []

    forever.task.poll = recovering
    assert await forever.poll() == []
    assert forever.metrics.retries == 2


def test_the_common_keys_are_declared_once() -> None:
    listed = {
        kind: {d["name"]: d for d in connector_definitions(plugin)}
        for kind, plugin in (("sink", FlakySink), ("source", MemorySource))
    }
    for name, field in ConnectorConfig.model_fields.items():
        key = field.alias or name
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        kinds = extra.get("kinds", ["source", "sink"])
        assert isinstance(kinds, list)
        for kind in ("source", "sink"):
            assert (key in listed[kind]) is (kind in kinds), (key, kind)
            if kind in kinds:
                assert listed[kind][key]["required"] is field.is_required(), key


def test_a_bad_common_key_fails_the_task_config_with_its_name() -> None:
    with pytest.raises(ConnectError, match=r"errors\.tolerance"):
        _sink(**{"errors.tolerance": "some"})
