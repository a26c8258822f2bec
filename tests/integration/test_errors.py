"""Error handling through a real broker: tolerance, the dead letter queue, retries, skipping."""

from __future__ import annotations

import asyncio
import io
import random
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import fastavro
import orjson
import pytest

from tests.conftest import Broker
from tests.kafka import consume, produce
from tests.workers import Worker, WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PLAIN_JSON = {
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
}
# A transform that fails on {"id": "abc"}: id cannot be cast to int32.
CAST_ID = {
    "transforms": "cast",
    "transforms.cast.type": "org.apache.kafka.connect.transforms.Cast$Value",
    "transforms.cast.spec": "id:int32",
}
POISON = {
    "bad-json": b"{not json",
    "transform": orjson.dumps({"id": "abc"}),
    "reject": orjson.dumps({"id": -1, "reject": True}),
}
STAGES = {"bad-json": "VALUE_CONVERTER", "transform": "TRANSFORMATION", "reject": "TASK_PUT"}


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _lines(path: Path) -> list[Any]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def _mixed(good: int, poison_every: int) -> tuple[list[tuple[bytes, bytes]], list[str]]:
    """``good`` good records with one poison record after every ``poison_every`` of them."""
    rng = random.Random(7)
    values: list[tuple[bytes, bytes]] = []
    kinds: list[str] = []
    for i in range(good):
        values.append((str(i).encode(), orjson.dumps({"id": i, "v": f"value {i}"})))
        if (i + 1) % poison_every == 0:
            kind = rng.choice(sorted(POISON))
            kinds.append(kind)
            values.append((f"poison-{len(kinds)}".encode(), POISON[kind]))
    return values, kinds


def _worker(workers: WorkerFactory, broker: Broker) -> Worker:
    return workers.start("tests.apps.worker", bootstrap=broker.bootstrap)


def test_tolerance_all_delivers_every_good_record_and_dead_letters_every_bad_one(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    topic, dlq, out = f"mixed-{_uid()}", f"dlq-{_uid()}", tmp_path / "out.jsonl"
    values, kinds = _mixed(10_000, 100)  # 1% poison
    asyncio.run(produce(broker.bootstrap, topic, values, partition=0))
    worker = _worker(workers, broker)
    worker.rest.create(
        "tolerant",
        {
            "connector.class": "RecordingSink",
            "topics": topic,
            "file": str(out),
            "errors.tolerance": "all",
            "errors.log.enable": "true",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.deadletterqueue.context.headers.enable": "true",
            **PLAIN_JSON,
            **CAST_ID,
        },
    )
    wait_until(lambda: len(_lines(out)) >= 10_000, timeout=60, what="10,000 good records")
    assert _lines(out) == [{"id": i, "v": f"value {i}"} for i in range(10_000)]

    dead = asyncio.run(consume(broker.bootstrap, dlq, len(kinds), timeout=30))
    assert len(dead) == len(kinds) == 100
    # each stage dead-letters as it meets a record: match them up by key, not by order
    offsets = {key: i for i, (key, _) in enumerate(values) if key.startswith(b"poison")}
    kind_of = {f"poison-{n}".encode(): kind for n, kind in enumerate(kinds, 1)}
    assert {r.key for r in dead} == set(offsets)
    for record in dead:
        kind = kind_of[record.key]
        headers = {k: v.decode() for k, v in record.headers}
        assert record.value == POISON[kind]  # the original raw bytes
        assert headers["__connect.errors.stage"] == STAGES[kind]
        assert headers["__connect.errors.topic"] == topic
        assert headers["__connect.errors.partition"] == "0"
        assert headers["__connect.errors.offset"] == str(offsets[record.key])
        assert headers["__connect.errors.connector.name"] == "tolerant"
        assert headers["__connect.errors.task.id"] == "0"
        message = headers["__connect.errors.exception.message"]
        assert message and message in headers["__connect.errors.exception.stacktrace"]
        assert headers["__connect.errors.exception.class.name"].rsplit(".", 1)[-1] in (
            "CodecError",
            "TransformError",
            "ValueError",
        )
    # good + dead-lettered = everything sent
    assert len(_lines(out)) + len(dead) == len(values)
    assert worker.rest.state("tolerant") == ("RUNNING", ["RUNNING"])


def test_tolerance_none_fails_at_the_first_bad_record_and_resumes_after_skipping_it(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    topic, out = f"strict-{_uid()}", tmp_path / "out.jsonl"
    good = [(str(i).encode(), orjson.dumps({"id": i, "v": f"value {i}"})) for i in range(1000)]
    bad_at = 600
    values = [*good[:bad_at], (b"bad", b"{not json"), *good[bad_at:]]
    asyncio.run(produce(broker.bootstrap, topic, values, partition=0))
    worker = _worker(workers, broker)
    rest = worker.rest
    config = {"connector.class": "RecordingSink", "topics": topic, "file": str(out), **PLAIN_JSON}
    rest.create("strict", config)
    wait_until(lambda: rest.state("strict")[1] == ["FAILED"], what="the task to fail")
    trace = rest.get("/connectors/strict/tasks/0/status")["trace"]
    assert "VALUE_CONVERTER" in trace and f"offset {bad_at}" in trace

    # everything before the bad record was written and committed, nothing at or after it
    assert [r["id"] for r in _lines(out)] == list(range(bad_at))
    assert rest.call("PUT", "/connectors/strict/stop")[0] == 204
    wait_until(lambda: rest.state("strict") == ("STOPPED", []), what="stopped")
    committed = rest.get("/connectors/strict/offsets")["offsets"]
    assert committed == [
        {
            "partition": {"kafka_topic": topic, "kafka_partition": 0},
            "offset": {"kafka_offset": bad_at},
        }
    ]

    # skip the bad record through the offsets API, then resume: the rest arrives
    skip = {
        "offsets": [
            {
                "partition": {"kafka_topic": topic, "kafka_partition": 0},
                "offset": {"kafka_offset": bad_at + 1},
            }
        ]
    }
    assert rest.call("PATCH", "/connectors/strict/offsets", skip)[0] == 200
    assert rest.get("/connectors/strict/offsets")["offsets"] == skip["offsets"]
    assert rest.call("PUT", "/connectors/strict/resume")[0] == 202
    wait_until(lambda: len(_lines(out)) >= 1000, what="every good record after the skip")
    assert [r["id"] for r in _lines(out)] == list(range(1000))  # none lost, none twice
    assert rest.state("strict") == ("RUNNING", ["RUNNING"])


def test_a_retriable_failure_that_clears_loses_and_duplicates_nothing(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    topic, out = f"flaky-{_uid()}", tmp_path / "out.jsonl"
    values = [(str(i).encode(), orjson.dumps({"id": i})) for i in range(2000)]
    asyncio.run(produce(broker.bootstrap, topic, values, partition=0))
    worker = _worker(workers, broker)
    worker.rest.create(
        "flaky",
        {
            "connector.class": "FlakySink",
            "topics": topic,
            "file": str(out),
            "fail.for.seconds": "3",
            **PLAIN_JSON,
        },
    )
    wait_until(lambda: len(_lines(out)) >= 2000, timeout=60, what="every record after retries")
    assert [r["id"] for r in _lines(out)] == list(range(2000))
    assert worker.rest.state("flaky") == ("RUNNING", ["RUNNING"])


def test_source_records_that_fail_conversion_go_to_the_dead_letter_queue(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    # Beyond Kafka Connect: sources have a dead letter queue too.
    topic, dlq = f"src-{_uid()}", f"src-dlq-{_uid()}"
    worker = _worker(workers, broker)
    worker.rest.create(
        "casting-source",
        {
            "connector.class": "CountingSource",
            "topic": topic,
            "count": "100",
            "value.converter": "org.apache.kafka.connect.converters.IntegerConverter",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.deadletterqueue.context.headers.enable": "true",
        },
    )
    # CountingSource emits strings; the IntegerConverter refuses every one of them
    dead = asyncio.run(consume(broker.bootstrap, dlq, 100, timeout=30))
    assert len(dead) == 100
    assert [orjson.loads(r.value) for r in dead] == [str(i) for i in range(100)]
    stages = {dict(r.headers)["__connect.errors.stage"] for r in dead}
    assert stages == {b"VALUE_CONVERTER"}
    wait_until(
        lambda: (
            worker.rest.get("/connectors/casting-source/offsets")["offsets"]
            == [{"partition": {"counter": "casting-source"}, "offset": {"n": 100}}]
        ),
        what="offsets to advance past the dead-lettered records",
    )


def test_an_unknown_avro_schema_id_goes_to_the_dead_letter_queue(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    topic, dlq, out = f"avro-{_uid()}", f"avro-dlq-{_uid()}", tmp_path / "out.jsonl"
    worker = _worker(workers, broker)
    registry = f"{worker.url}/schema-registry"
    schema = {"type": "record", "name": "Item", "fields": [{"name": "id", "type": "int"}]}
    request = urllib.request.Request(
        f"{registry}/subjects/{topic}-value/versions",
        data=orjson.dumps({"schema": orjson.dumps(schema).decode()}),
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        schema_id = orjson.loads(response.read())["id"]
    parsed = fastavro.parse_schema(schema)

    def wire(i: int, sid: int) -> bytes:
        body = io.BytesIO()
        fastavro.schemaless_writer(body, parsed, {"id": i})
        return b"\0" + sid.to_bytes(4, "big") + body.getvalue()

    unknown = (schema_id + 1) % 2**31 or 1
    values = [
        (str(i).encode(), wire(i, unknown if i % 100 == 99 else schema_id)) for i in range(1000)
    ]
    asyncio.run(produce(broker.bootstrap, topic, values, partition=0))
    worker.rest.create(
        "avro-reader",
        {
            "connector.class": "RecordingSink",
            "topics": topic,
            "file": str(out),
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "io.confluent.connect.avro.AvroConverter",
            "value.converter.schema.registry.url": registry,
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.deadletterqueue.context.headers.enable": "true",
        },
    )
    wait_until(lambda: len(_lines(out)) >= 990, what="the 990 good Avro records")
    assert [r["id"] for r in _lines(out)] == [i for i in range(1000) if i % 100 != 99]
    dead = asyncio.run(consume(broker.bootstrap, dlq, 10, timeout=30))
    assert sorted(int(r.key) for r in dead) == list(range(99, 1000, 100))
    for record in dead:
        headers = {k: v.decode() for k, v in record.headers}
        assert record.value == values[int(record.key)][1]
        assert headers["__connect.errors.stage"] == "VALUE_CONVERTER"
        assert str(unknown) in headers["__connect.errors.exception.message"]
