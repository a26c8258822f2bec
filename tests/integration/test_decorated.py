"""Connectors written as Faust-shaped functions (@app.source, @app.sink) and declared in code."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest

from tests.conftest import Broker
from tests.workers import WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_decorated_source_and_sink_run_and_are_managed_like_any_connector(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    out, topic = tmp_path / "out.jsonl", f"ticks-{uuid.uuid4().hex[:8]}"
    worker = workers.start(
        "tests.apps.decorated",
        bootstrap=broker.bootstrap,
        env={"DECORATED_OUT": str(out), "DECORATED_TOPIC": topic},
    )
    rest = worker.rest

    def lines() -> list[dict[str, object]]:
        return [orjson.loads(x) for x in out.read_bytes().splitlines()] if out.exists() else []

    wait_until(lambda: len(lines()) >= 5, what="ticks through the decorated sink")
    assert lines()[:5] == [{"at": i, "via": "py"} for i in range(1, 6)]
    assert rest.get("/connectors") == ["orders", "show", "ticks"]
    assert rest.get("/connectors/ticks")["type"] == "source"
    assert rest.get("/connectors/show")["type"] == "sink"
    wait_until(lambda: rest.state("orders") == ("RUNNING", ["RUNNING"]), what="datagen running")

    # a connector declared in code is paused and resumed like any other
    assert rest.call("PUT", "/connectors/show/pause")[0] == 202
    wait_until(lambda: rest.state("show") == ("PAUSED", ["PAUSED"]), what="the sink paused")
    assert rest.call("PUT", "/connectors/show/resume")[0] == 202
    wait_until(lambda: rest.state("show") == ("RUNNING", ["RUNNING"]), what="the sink resumed")
