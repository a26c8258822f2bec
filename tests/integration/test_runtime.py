"""The connector runtime in one worker process on real Kafka, driven through the REST API."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import murmur2

from tests.conftest import Broker
from tests.kafka import consume, produce
from tests.rest import Rest
from tests.workers import Worker, WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

STRINGS = {
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.storage.StringConverter",
}


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _start(workers: WorkerFactory, broker: Broker, group: str | None = None) -> Worker:
    return workers.start("tests.apps.worker", bootstrap=broker.bootstrap, group_id=group)


def test_kafka_connect_filestream_json_runs_unchanged_and_resumes_after_restart(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    group, topic = f"fs-{_uid()}", f"lines-{_uid()}"
    source, out = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_text("".join(f"line {i}\n" for i in range(100)))
    worker = _start(workers, broker, group)
    rest = worker.rest
    # Exactly what a Kafka Connect user posts: Java class names, tasks.max, converters.
    rest.create(
        "local-file-source",
        {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "tasks.max": "1",
            "file": str(source),
            "topic": topic,
            **STRINGS,
        },
    )
    rest.create(
        "local-file-sink",
        {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "tasks.max": "1",
            "file": str(out),
            "topics": topic,
            **STRINGS,
        },
    )
    wait_until(lambda: len(_lines(out)) == 100, what="100 lines in the sink file")
    assert _lines(out) == [f"line {i}" for i in range(100)]
    assert rest.state("local-file-source") == ("RUNNING", ["RUNNING"])
    expected = [
        {"partition": {"filename": str(source)}, "offset": {"position": source.stat().st_size}}
    ]
    wait_until(
        lambda: rest.get("/connectors/local-file-source/offsets")["offsets"] == expected,
        what="the source offset at the end of the file",
    )

    assert worker.stop() == 0
    with source.open("a") as f:
        f.writelines(f"line {i}\n" for i in range(100, 110))
    worker = _start(workers, broker, group)
    wait_until(lambda: len(_lines(out)) >= 110, what="the 10 new lines")
    # the source resumed at its stored byte position: nothing was read twice
    assert _lines(out) == [f"line {i}" for i in range(110)]


def test_sink_created_at_runtime_on_a_new_topic_receives_within_seconds(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    worker = _start(workers, broker)
    topic, out = f"fresh-{_uid()}", tmp_path / "fresh.txt"
    worker.rest.create(
        "fresh-sink",
        {"connector.class": "FileStreamSink", "topics": topic, "file": str(out), **STRINGS},
    )
    asyncio.run(produce(broker.bootstrap, topic, [(None, f"r{i}".encode()) for i in range(20)]))
    wait_until(lambda: len(_lines(out)) == 20, timeout=15, what="20 records in a fresh sink")
    assert _lines(out) == [f"r{i}" for i in range(20)]


def test_two_sinks_on_one_topic_are_independent_and_pause_does_not_stall_the_other(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    worker = _start(workers, broker)
    rest = worker.rest
    topic = f"shared-{_uid()}"
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    for name, path in (("sink-a", a), ("sink-b", b)):
        rest.create(
            name,
            {"connector.class": "FileStreamSink", "topics": topic, "file": str(path), **STRINGS},
        )
    wait_until(lambda: rest.state("sink-b") == ("RUNNING", ["RUNNING"]), what="sink-b running")
    status, _ = rest.call("PUT", "/connectors/sink-b/pause")
    assert status == 202
    wait_until(lambda: rest.state("sink-b") == ("PAUSED", ["PAUSED"]), what="sink-b paused")

    asyncio.run(produce(broker.bootstrap, topic, [(None, f"m{i}".encode()) for i in range(50)]))
    wait_until(lambda: len(_lines(a)) == 50, what="sink-a to get every record")
    assert _lines(b) == []

    assert rest.call("PUT", "/connectors/sink-b/resume")[0] == 202
    wait_until(lambda: len(_lines(b)) == 50, what="sink-b to catch up after resume")
    assert _lines(a) == _lines(b) == [f"m{i}" for i in range(50)]


def test_a_failing_task_is_failed_with_its_trace_and_the_others_go_on(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    worker = _start(workers, broker)
    rest = worker.rest
    topic, healthy = f"mixed-{_uid()}", tmp_path / "healthy.txt"
    rest.create("exploding", {"connector.class": "ExplodingSink", "topics": topic, **STRINGS})
    rest.create(
        "healthy",
        {"connector.class": "FileStreamSink", "topics": topic, "file": str(healthy), **STRINGS},
    )
    values = [b"ok"] * 10 + [b"boom"] + [b"ok"] * 10
    asyncio.run(produce(broker.bootstrap, topic, [(None, v) for v in values]))
    wait_until(lambda: rest.state("exploding")[1] == ["FAILED"], what="the task to fail")
    task = rest.get("/connectors/exploding/tasks/0/status")
    assert task["state"] == "FAILED" and "boom at offset 10" in task["trace"]
    assert "Traceback" in task["trace"]
    wait_until(lambda: len(_lines(healthy)) == 21, what="the healthy sink to get everything")
    assert rest.state("healthy") == ("RUNNING", ["RUNNING"])


def test_lifecycle_through_rest(broker: Broker, workers: WorkerFactory, tmp_path: Path) -> None:
    worker = _start(workers, broker)
    rest: Rest = worker.rest
    topic = f"counted-{_uid()}"
    config = {"connector.class": "CountingSource", "topic": topic, "count": "1000", **STRINGS}
    rest.create("counter", config)
    assert rest.call("POST", "/connectors", {"name": "counter", "config": config}) == (
        409,
        {"error_code": 409, "message": "Connector counter already exists"},
    )
    wait_until(lambda: rest.state("counter") == ("RUNNING", ["RUNNING"]), what="running")
    wait_until(
        lambda: (
            rest.get("/connectors/counter/offsets")["offsets"]
            == [{"partition": {"counter": "counter"}, "offset": {"n": 1000}}]
        ),
        what="all 1000 records acknowledged and their offset stored",
    )

    # stop: tasks go away; offsets can then be changed; resume starts from the new offset
    assert rest.call("PUT", "/connectors/counter/stop")[0] == 204
    wait_until(lambda: rest.state("counter") == ("STOPPED", []), what="stopped")
    assert rest.get("/connectors/counter")["tasks"] == []
    patch = {"offsets": [{"partition": {"counter": "counter"}, "offset": {"n": 10}}]}
    assert rest.call("PATCH", "/connectors/counter/offsets", patch)[0] == 200
    assert rest.get("/connectors/counter/offsets")["offsets"][0]["offset"] == {"n": 10}
    assert rest.call("PUT", "/connectors/counter/resume")[0] == 202
    wait_until(lambda: rest.state("counter") == ("RUNNING", ["RUNNING"]), what="running again")

    # offsets may only change while stopped
    status, body = rest.call("DELETE", "/connectors/counter/offsets")
    assert status == 400 and "STOPPED" in body["message"]

    # reconfigure: the task restarts with the new config
    _, info = rest.call("PUT", "/connectors/counter/config", {**config, "count": "2000"})
    assert info["config"]["count"] == "2000"
    wait_until(
        lambda: (
            rest.get("/connectors/counter/offsets")["offsets"]
            == [{"partition": {"counter": "counter"}, "offset": {"n": 2000}}]
        ),
        what="the reconfigured task to count on to 2000",
    )

    status, body = rest.call("POST", "/connectors/counter/restart?includeTasks=true")
    assert status == 202
    assert body["connector"]["state"] == "RESTARTING"
    assert body["tasks"][0]["state"] == "RESTARTING"
    wait_until(lambda: rest.state("counter") == ("RUNNING", ["RUNNING"]), what="restarted")

    assert rest.call("DELETE", "/connectors/counter")[0] == 204
    assert rest.call("GET", "/connectors/counter")[0] == 404
    assert rest.get("/connectors") == []


def test_restart_of_a_failed_task_runs_it_again(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    worker = _start(workers, broker)
    rest = worker.rest
    topic = f"failing-{_uid()}"
    config = {"connector.class": "CountingSource", "topic": topic, "fail.at": "100", **STRINGS}
    rest.create("flaky", config)
    wait_until(lambda: rest.state("flaky")[1] == ["FAILED"], what="the source to fail")
    assert "source failed at 100" in rest.get("/connectors/flaky/tasks/0/status")["trace"]
    # fix the config and restart only the failed task
    rest.call("PUT", "/connectors/flaky/config", {**config, "fail.at": "-1"})
    wait_until(lambda: rest.state("flaky") == ("RUNNING", ["RUNNING"]), what="running after fix")
    wait_until(
        lambda: (
            rest.get("/connectors/flaky/offsets")["offsets"]
            == [{"partition": {"counter": "flaky"}, "offset": {"n": 100}}]
        ),
        what="the offset of every acknowledged record",
    )


def test_a_source_task_hears_of_offsets_only_once_the_offsets_topic_has_them(
    workers: WorkerFactory, broker: Broker, tmp_path: Path
) -> None:
    """``SourceTask.offsets_stored`` (what the PostgreSQL CDC source confirms its slot from)."""
    worker = _start(workers, broker)
    stored = tmp_path / "stored.jsonl"
    config = {
        "connector.class": "CountingSource",
        "topic": f"heard-{_uid()}",
        "count": "1500",
        "poll.delay.ms": "50",  # ~1.5 s of polling: several offset flushes (every 0.5 s here)
        "stored.file": str(stored),
        **STRINGS,
    }
    worker.rest.create("heard", config)
    last = {"partition": {"counter": "heard"}, "offset": {"n": 1500}}
    wait_until(
        lambda: stored.exists() and orjson.loads(_lines(stored)[-1]) == last,
        what="the task to hear that its last offset is stored",
    )
    heard = [orjson.loads(line)["offset"]["n"] for line in _lines(stored)]
    assert heard == sorted(heard) and len(heard) > 1, heard  # several flushes, in order
    # everything the task heard of is in the offsets topic (Kafka Connect's key and value)
    topic = f"{worker.group_id}-offsets"
    written = asyncio.run(consume(worker.bootstrap, topic, 10**6, timeout=3))
    in_topic = [
        orjson.loads(r.value)["n"]
        for r in written
        if r.value is not None and orjson.loads(r.key) == ["heard", {"counter": "heard"}]
    ]
    assert set(heard) <= set(in_topic), (heard, in_topic)


async def _create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


def test_a_source_partitions_keyed_records_as_kafka_does(
    broker: Broker, workers: WorkerFactory
) -> None:
    topic = f"keyed-{_uid()}"
    asyncio.run(_create_topic(broker.bootstrap, topic, 3))
    worker = _start(workers, broker)
    worker.rest.create(
        f"keyed-{_uid()}",
        {
            "connector.class": "CountingSource",
            "topic": topic,
            "count": "600",
            "batch.size": "200",
            "keyed": "true",
            **STRINGS,
        },
    )
    records = asyncio.run(consume(broker.bootstrap, topic, 600))
    assert sorted(int(r.value or b"") for r in records) == list(range(600))
    # Kafka's default partitioner: murmur2 of the key bytes; each partition in send order
    for r in records:
        assert r.key is not None
        assert r.partition == (murmur2(r.key) & 0x7FFFFFFF) % 3
    assert {r.partition for r in records} == {0, 1, 2}
    for partition in range(3):
        values = [int(r.value or b"") for r in records if r.partition == partition]
        assert values == sorted(values)
