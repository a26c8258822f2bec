"""The rest of Kafka's ``connect_distributed_test.py``, black-box on real Kafka.

``test_bounce`` lives in test_bounce.py; here: a failed connector and a failed task restarted
over REST (Kafka's mock connectors, which fail on purpose after ``delay_ms``), a paused
connector that stays paused across a restart of every worker, and the FileStream source and
sink moving lines through a cluster of three workers.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import Broker
from tests.workers import Worker, WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

JSON = {
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "true",
}


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _cluster(
    workers: WorkerFactory, broker: Broker, size: int, group: str | None = None
) -> list[Worker]:
    """``size`` workers of one group (a new one unless ``group`` is given)."""
    group = group or f"distributed-{_uid()}"
    return [
        workers.start("tests.apps.worker", bootstrap=broker.bootstrap, group_id=group)
        for _ in range(size)
    ]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_restart_failed_connector(broker: Broker, workers: WorkerFactory) -> None:
    (worker,) = _cluster(workers, broker, 1)
    rest = worker.rest
    config = {
        "connector.class": "org.apache.kafka.connect.tools.MockSinkConnector",
        "topics": f"quiet-{_uid()}",
        "mock_mode": "connector-failure",
        "delay_ms": "3000",
    }
    rest.create("mock", config)
    wait_until(lambda: rest.state("mock")[0] == "FAILED", timeout=60, what="the connector fails")
    status = rest.get("/connectors/mock/status")
    assert "connector-failure on purpose" in status["connector"]["trace"]
    assert [t["state"] for t in status["tasks"]] == ["RUNNING"]  # it fails alone
    assert rest.call("POST", "/connectors/mock/restart")[0] in (200, 202, 204)
    wait_until(lambda: rest.state("mock")[0] == "RUNNING", timeout=60, what="running again")
    assert "trace" not in rest.get("/connectors/mock/status")["connector"]
    # a new instance: it fails again after its delay, as the first did
    wait_until(lambda: rest.state("mock")[0] == "FAILED", timeout=60, what="failing again")


def test_restart_failed_task(broker: Broker, workers: WorkerFactory) -> None:
    (worker,) = _cluster(workers, broker, 1)
    rest = worker.rest
    config = {
        "connector.class": "org.apache.kafka.connect.tools.MockSourceConnector",
        "topic": f"quiet-{_uid()}",
        "mock_mode": "task-failure",
        "delay_ms": "3000",
    }
    rest.create("mock", config)
    wait_until(lambda: rest.state("mock") == ("RUNNING", ["FAILED"]), what="the task fails")
    trace = rest.get("/connectors/mock/tasks/0/status")["trace"]
    assert "task-failure on purpose" in trace
    assert rest.call("POST", "/connectors/mock/tasks/0/restart")[0] == 204
    wait_until(lambda: rest.state("mock") == ("RUNNING", ["RUNNING"]), what="the task again")
    wait_until(lambda: rest.state("mock") == ("RUNNING", ["FAILED"]), what="failing again")


def test_pause_state_persistent(broker: Broker, workers: WorkerFactory, tmp_path: Path) -> None:
    cluster = _cluster(workers, broker, 3)
    source = tmp_path / "in.txt"
    source.write_text("".join(f"before {i}\n" for i in range(10)))
    out = tmp_path / "out.txt"
    topic = f"lines-{_uid()}"
    rest = cluster[0].rest
    rest.create(
        "source",
        {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "file": str(source),
            "topic": topic,
            **JSON,
        },
    )
    rest.create(
        "sink",
        {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "file": str(out),
            "topics": topic,
            **JSON,
        },
    )
    wait_until(lambda: len(_lines(out)) == 10, timeout=90, what="the first lines through")
    assert rest.call("PUT", "/connectors/source/pause")[0] == 202
    for worker in cluster:
        wait_until(
            lambda w=worker: w.rest.state("source") == ("PAUSED", ["PAUSED"]),
            timeout=60,
            what="paused, as every worker sees it",
        )
    with source.open("a") as more:
        more.write("".join(f"paused {i}\n" for i in range(10)))
    for worker in cluster:  # restart the whole cluster, one worker after the other
        assert worker.stop() == 0
    cluster = _cluster(workers, broker, len(cluster), cluster[0].group_id)
    for worker in cluster:
        wait_until(
            lambda w=worker: w.rest.state("source") == ("PAUSED", ["PAUSED"]),
            timeout=90,
            what="still paused after every worker restarted",
        )
    assert len(_lines(out)) == 10, "a paused source moved lines"
    assert cluster[1].rest.call("PUT", "/connectors/source/resume")[0] == 202
    wait_until(lambda: len(_lines(out)) == 20, timeout=90, what="the lines written while paused")
    assert _lines(out)[10:] == [f"paused {i}" for i in range(10)]


def test_file_source_and_sink(broker: Broker, workers: WorkerFactory, tmp_path: Path) -> None:
    cluster = _cluster(workers, broker, 3)
    source, out, topic = tmp_path / "in.txt", tmp_path / "out.txt", f"lines-{_uid()}"
    first = [f"foo {i}" for i in range(5)]
    source.write_text("".join(f"{line}\n" for line in first))
    rest = cluster[1].rest  # any worker takes requests (a follower forwards them)
    rest.create(
        "local-file-source",
        {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "tasks.max": "1",
            "file": str(source),
            "topic": topic,
            **JSON,
        },
    )
    rest.create(
        "local-file-sink",
        {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "tasks.max": "1",
            "file": str(out),
            "topics": topic,
            **JSON,
        },
    )
    wait_until(lambda: _lines(out) == first, timeout=90, what="the first lines at the sink")
    more = [f"bar {i}" for i in range(5)]
    with source.open("a") as appended:
        appended.write("".join(f"{line}\n" for line in more))
    wait_until(lambda: _lines(out) == first + more, timeout=60, what="the appended lines")
