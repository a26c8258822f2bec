"""A JDBC source whose database cannot be reached fails after ``connection.attempts``.

Confluent's JDBC source tries to open a connection ``connection.attempts`` times,
``connection.backoff.ms`` apart, and then fails the task with the driver's error. Here the
database is a loopback port nobody listens on, so every attempt is refused at once.
"""

from __future__ import annotations

from typing import Any

import pytest

from faust_connect.app.embedded import free_port
from tests.conftest import Broker
from tests.integration.sql.helpers import source_config, uid
from tests.workers import WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SOURCE = "io.confluent.connect.jdbc.JdbcSourceConnector"


def _task(rest: Any, name: str) -> dict[str, Any] | None:
    status, body = rest.call("GET", f"/connectors/{name}/status")
    if status != 200 or not body["tasks"]:
        return None
    task: dict[str, Any] = body["tasks"][0]
    return task


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_unreachable_database_fails_the_task_with_the_address(
    scheme: str, broker: Broker, workers: WorkerFactory
) -> None:
    port = free_port()  # nothing listens there: each connection attempt is refused
    url = f"jdbc:{scheme}://127.0.0.1:{port}/shop?user=shop&password=secret"
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    name = f"unreachable-{uid()}"
    config = source_config(
        url, "orders", f"{name}-", **{"connection.attempts": "3", "connection.backoff.ms": "300"}
    )
    worker.rest.create(name, config)

    def failed_task() -> dict[str, Any]:
        task = _task(worker.rest, name)
        return task if task is not None and task["state"] == "FAILED" else {}

    failed = wait_until(failed_task, timeout=60, what="the task to fail")
    trace = failed["trace"]
    assert f"127.0.0.1:{port}" in trace, trace
    assert "after 3 attempts (connection.attempts)" in trace, trace
    assert "Connection refused" in trace, trace  # the driver's own words
    assert "secret" not in trace
    log = worker.log()
    assert "attempt 1 of 3, next in 300 ms" in log and "attempt 2 of 3" in log
    assert "attempt 3 of 3" not in log  # the third failure fails the task, no fourth try


def test_connection_keys_are_declared_with_confluents_defaults(
    broker: Broker, workers: WorkerFactory
) -> None:
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    config = {**source_config("jdbc:sqlite:/tmp/x.db", "t", "p-"), "connector.class": SOURCE}
    status, body = worker.rest.call(
        "PUT", f"/connector-plugins/{SOURCE}/config/validate", {**config, "name": "v"}
    )
    assert status == 200 and body["error_count"] == 0, body
    definitions = {c["definition"]["name"]: c["definition"] for c in body["configs"]}
    assert definitions["connection.attempts"]["default_value"] == "3"
    assert definitions["connection.backoff.ms"]["default_value"] == "10000"

    bad = {**config, "name": "v", "connection.attempts": "0"}
    status, body = worker.rest.call("PUT", f"/connector-plugins/{SOURCE}/config/validate", bad)
    errors = {c["definition"]["name"]: c["value"]["errors"] for c in body["configs"]}
    assert status == 200 and errors["connection.attempts"], body
