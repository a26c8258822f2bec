"""Acknowledged means durable: a 2xx from the REST API survives a kill -9 right after it.

Each write answers only once its config record is acknowledged by Kafka and read back, so the
worker that answered can be killed at once and a restarted worker (same group) still has it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import Broker
from tests.workers import Worker, WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _start(workers: WorkerFactory, broker: Broker, group: str) -> Worker:
    return workers.start("tests.apps.worker", bootstrap=broker.bootstrap, group_id=group)


def _leader_known(worker: Worker) -> bool:
    # a follower forwards, a leader answers: either way a bad create gets 400, not 409
    return worker.rest.call("POST", "/connectors", {"config": {}})[0] == 400


def test_every_acknowledged_write_survives_a_kill_9_of_the_worker_that_answered(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    group, name = f"durable-{uuid.uuid4().hex[:8]}", "kept"
    config = {
        "connector.class": "FileStreamSink",
        "topics": f"in-{uuid.uuid4().hex[:8]}",
        "file": str(tmp_path / "out.txt"),
    }

    def fresh() -> Worker:
        worker = _start(workers, broker, group)
        wait_until(lambda: _leader_known(worker), timeout=60, what="a leader to be known")
        return worker

    worker = fresh()
    status, body = worker.rest.call("POST", "/connectors", {"name": name, "config": config})
    assert status == 201, body
    worker.kill()  # at once: nothing may still be on its way to Kafka
    worker = fresh()
    assert worker.rest.get(f"/connectors/{name}/config") == {**config, "name": name}

    changed = {**config, "tasks.max": "1", "x": "y"}
    assert worker.rest.call("PUT", f"/connectors/{name}/config", changed)[0] == 200
    worker.kill()
    worker = fresh()
    assert worker.rest.get(f"/connectors/{name}/config") == {**changed, "name": name}

    assert worker.rest.call("PUT", f"/connectors/{name}/pause") == (202, None)
    worker.kill()
    worker = fresh()
    wait_until(
        lambda: worker.rest.state(name) == ("PAUSED", ["PAUSED"]),
        timeout=60,
        what="the paused connector to stay paused",
    )

    assert worker.rest.call("PUT", f"/connectors/{name}/stop") == (204, None)
    worker.kill()
    worker = fresh()
    wait_until(lambda: worker.rest.state(name) == ("STOPPED", []), timeout=60, what="still stopped")

    assert worker.rest.call("DELETE", f"/connectors/{name}")[0] == 204
    worker.kill()
    worker = fresh()
    assert worker.rest.get("/connectors") == []
