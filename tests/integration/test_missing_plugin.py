"""A task placed on a worker without its connector's code says so, and who has it."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Broker
from tests.workers import WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_a_task_on_a_worker_without_its_class_names_the_workers_that_have_it(
    broker: Broker, workers: WorkerFactory
) -> None:
    group = f"plugins-{uuid.uuid4().hex[:8]}"
    fast = {"CONNECT_SESSION_TIMEOUT_MS": "6000", "CONNECT_HEARTBEAT_INTERVAL_MS": "1000"}
    # The first to join leads (and validates creates): it has the test plugins; the second,
    # the plain worker app, does not.
    full = workers.start("tests.apps.worker", bootstrap=broker.bootstrap, group_id=group, env=fast)
    plain = workers.start("faust_connect.app", bootstrap=broker.bootstrap, group_id=group, env=fast)
    topic = f"stamps-{uuid.uuid4().hex[:8]}"
    config = {"connector.class": "StampSource", "tasks.max": "6", "topic": topic}
    wait_until(
        lambda: (
            full.rest.call("POST", "/connectors", {"name": "stamps", "config": config})[0]
            in (201, 409)
            and "stamps" in full.rest.get("/connectors")
        ),
        timeout=90,
        what="the connector created",
    )

    def failed_elsewhere() -> str | None:
        _, body = full.rest.call("GET", "/connectors/stamps/status")
        for task in body.get("tasks", []) if isinstance(body, dict) else []:
            if task["state"] == "FAILED" and task["worker_id"].endswith(f":{plain.port}"):
                return str(task.get("trace", ""))
        return None

    trace = wait_until(failed_elsewhere, timeout=120, what="a task failed on the plain worker")
    first = trace.splitlines()[0]
    assert f"has no connector 'StampSource'; workers that have it: 127.0.0.1:{full.port}" in first
    assert f"group {group!r}" in first
