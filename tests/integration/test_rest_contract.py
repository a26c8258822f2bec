"""Kafka Connect's REST contract: paths, status codes, JSON shapes and error bodies.

Also a third-party Kafka Connect client from PyPI (kafka-connect-py's ``kc``) driving a worker.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Broker
from tests.kafka import produce
from tests.rest import Rest
from tests.workers import Worker, WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

KC = str(Path(sys.executable).parent / "kc")
STRINGS = {
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.storage.StringConverter",
}


def _uid() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def worker(broker: Broker, workers: WorkerFactory) -> Worker:
    return workers.start("tests.apps.worker", bootstrap=broker.bootstrap)


def _not_found(message: str) -> tuple[int, dict[str, Any]]:
    return 404, {"error_code": 404, "message": message}


def test_root_health_and_plugins(worker: Worker) -> None:
    rest = worker.rest
    root = rest.get("/")
    assert set(root) == {"version", "commit", "kafka_cluster_id"}
    assert rest.get("/health")["status"] == "healthy"
    classes = {p["class"]: p["type"] for p in rest.get("/connector-plugins")}
    assert classes["org.apache.kafka.connect.file.FileStreamSourceConnector"] == "source"
    assert classes["org.apache.kafka.connect.file.FileStreamSinkConnector"] == "sink"


def test_connector_endpoints_shapes_and_codes(
    worker: Worker, broker: Broker, tmp_path: Path
) -> None:
    rest = worker.rest
    worker_bootstrap = broker.bootstrap
    name, topic = f"c-{_uid()}", f"t-{_uid()}"
    config = {"connector.class": "FileStreamSink", "topics": topic, "file": str(tmp_path / "o")}

    status, body = rest.call("POST", "/connectors", {"name": name, "config": config})
    assert status == 201
    assert body == {
        "name": name,
        "config": {**config, "name": name},
        "tasks": [{"connector": name, "task": 0}],
        "type": "sink",
    }
    assert rest.call("POST", "/connectors", {"name": name, "config": config}) == (
        409,
        {"error_code": 409, "message": f"Connector {name} already exists"},
    )
    assert rest.get("/connectors") == [name]
    expanded = rest.get("/connectors?expand=status&expand=info")
    assert set(expanded[name]) == {"status", "info"}
    assert expanded[name]["info"]["type"] == "sink"
    assert rest.get(f"/connectors/{name}/config") == {**config, "name": name}
    assert rest.get(f"/connectors/{name}/tasks") == [
        {"id": {"connector": name, "task": 0}, "config": {**config, "name": name}}
    ]
    wait_until(lambda: rest.state(name) == ("RUNNING", ["RUNNING"]), what="running")
    asyncio.run(produce(worker_bootstrap, topic, [(None, b"x")]))  # the topic now exists
    status_body = rest.get(f"/connectors/{name}/status")
    assert set(status_body) == {"name", "connector", "tasks", "type"}
    # no trace when healthy; Kafka 4.1 adds the plugin's version
    assert set(status_body["connector"]) == {"state", "worker_id", "version"}
    plugin = next(
        p for p in rest.get("/connector-plugins") if p["class"].endswith(".FileStreamSinkConnector")
    )
    assert status_body["connector"]["version"] == plugin["version"]
    assert rest.get(f"/connectors/{name}/tasks/0/status") == {
        "id": 0,
        "state": "RUNNING",
        "worker_id": f"127.0.0.1:{worker.port}",
        "version": plugin["version"],
    }
    assert rest.call("GET", f"/connectors/{name}/tasks/7/status") == _not_found(
        f"No status found for task {name}-7"
    )
    wait_until(
        lambda: rest.get(f"/connectors/{name}/topics") == {name: {"topics": [topic]}},
        what="the consumed topic to be tracked",
    )
    assert rest.call("PUT", f"/connectors/{name}/topics/reset")[0] == 202

    # PUT config: 200 on update, 400 when the name differs; PATCH merges, null removes
    status, body = rest.call("PUT", f"/connectors/{name}/config", {**config, "tasks.max": "1"})
    assert status == 200 and body["config"]["tasks.max"] == "1"
    status, body = rest.call("PUT", f"/connectors/{name}/config", {**config, "name": "other"})
    assert status == 400 and body["error_code"] == 400
    status, body = rest.call("PATCH", f"/connectors/{name}/config", {"tasks.max": None, "x": "1"})
    assert status == 200 and "tasks.max" not in body["config"] and body["config"]["x"] == "1"

    # restarts, pause, resume, stop
    assert rest.call("POST", f"/connectors/{name}/restart") == (204, None)
    status, body = rest.call(
        "POST", f"/connectors/{name}/restart?includeTasks=true&onlyFailed=true"
    )
    assert status == 202 and body["tasks"][0]["state"] == "RUNNING"  # not failed: untouched
    assert rest.call("POST", f"/connectors/{name}/tasks/0/restart") == (204, None)
    assert rest.call("PUT", f"/connectors/{name}/pause") == (202, None)
    assert rest.call("PUT", f"/connectors/{name}/resume") == (202, None)
    status, body = rest.call("PATCH", f"/connectors/{name}/offsets", {"offsets": []})
    assert status == 400 and "STOPPED" in body["message"]
    assert rest.call("PUT", f"/connectors/{name}/stop") == (204, None)
    wait_until(lambda: rest.state(name) == ("STOPPED", []), what="stopped")
    assert rest.get(f"/connectors/{name}")["tasks"] == []
    assert rest.call("PATCH", f"/connectors/{name}/offsets", {"offsets": []})[0] == 400
    assert rest.call("DELETE", f"/connectors/{name}/offsets") == (
        200,
        {"message": "The offsets for this connector have been reset successfully"},
    )

    assert rest.call("DELETE", f"/connectors/{name}") == (204, None)
    # Kafka's words differ per endpoint (tests/differential/test_rest.py compares them)
    for method, path, message in [
        ("GET", f"/connectors/{name}", f"Connector {name} not found"),
        ("GET", f"/connectors/{name}/config", f"Connector {name} not found"),
        ("GET", f"/connectors/{name}/status", f"No status found for connector {name}"),
        ("GET", f"/connectors/{name}/tasks", f"Connector {name} not found"),
        ("GET", f"/connectors/{name}/tasks/0/status", f"No status found for task {name}-0"),
        ("PUT", f"/connectors/{name}/pause", f"Unknown connector {name}"),
        ("PUT", f"/connectors/{name}/resume", f"Unknown connector {name}"),
        ("PUT", f"/connectors/{name}/stop", f"Unknown connector {name}"),
        ("POST", f"/connectors/{name}/restart", f"Unknown connector: {name}"),
        ("POST", f"/connectors/{name}/tasks/0/restart", f"Unknown connector: {name}"),
        ("DELETE", f"/connectors/{name}", f"Connector {name} not found"),
        ("GET", f"/connectors/{name}/offsets", f"Connector {name} not found"),
    ]:
        assert rest.call(method, path) == _not_found(message), (method, path)


def test_bad_requests_get_kafka_connects_400(worker: Worker) -> None:
    rest: Rest = worker.rest
    status, body = rest.call(
        "POST",
        "/connectors",
        {"name": "bad", "config": {"connector.class": "FileStreamSink", "tasks.max": "many"}},
    )
    assert status == 400 and body["error_code"] == 400
    assert body["message"].startswith(
        "Connector configuration is invalid and contains the following 3 error(s):\n"
    )
    assert "tasks.max" in body["message"] and "topics" in body["message"]
    assert body["message"].endswith(
        "You can also find the above list of errors at the endpoint "
        "`/connector-plugins/{connectorType}/config/validate`"
    )
    assert rest.get("/connectors") == []  # nothing was created
    status, body = rest.call("POST", "/connectors", {"config": {}})
    assert status == 400 and body["error_code"] == 400


@pytest.mark.parametrize("tasks", ["0", "-5"])
def test_tasks_max_below_one_is_refused(worker: Worker, tasks: str, tmp_path: Path) -> None:
    config = {
        "connector.class": "FileStreamSink",
        "topics": "t",
        "file": str(tmp_path / "out"),
        "tasks.max": tasks,
    }
    status, body = worker.rest.call("POST", "/connectors", {"name": "few", "config": config})
    assert status == 400 and "tasks.max" in body["message"], body
    assert worker.rest.get("/connectors") == []


def test_tasks_max_above_the_worker_limit_is_refused_and_the_worker_goes_on(
    worker: Worker, tmp_path: Path
) -> None:
    # Before the limit: a 201, then 100,000 tasks exhausted the file descriptors and the worker.
    config = {
        "connector.class": "FileStreamSink",
        "topics": "t",
        "file": str(tmp_path / "out"),
        "tasks.max": "100000",
    }
    status, body = worker.rest.call("POST", "/connectors", {"name": "many", "config": config})
    assert status == 400 and "tasks.max.limit" in body["message"], body
    assert worker.rest.get("/connectors") == []
    assert worker.rest.call("GET", "/health")[0] == 200


def test_a_config_too_large_for_the_config_topic_is_refused_and_the_worker_goes_on(
    worker: Worker, tmp_path: Path
) -> None:
    # ~900 KB of config, times three task configs: more than the config topic takes.
    config = {
        "connector.class": "FileStreamSink",
        "topics": "t",
        "file": str(tmp_path / "out"),
        "tasks.max": "3",
        "notes": "x" * 900_000,
    }
    status, body = worker.rest.call("POST", "/connectors", {"name": "huge", "config": config})
    assert status == 400 and "too large to store" in body["message"], body
    assert worker.rest.get("/connectors") == []
    small = {**config, "notes": "fine", "tasks.max": "1"}
    status, body = worker.rest.call("POST", "/connectors", {"name": "huge", "config": small})
    assert status == 201, body
    worker.rest.call("DELETE", "/connectors/huge")


def test_kafka_connect_py_cli_manages_a_connector(worker: Worker, tmp_path: Path) -> None:
    name, topic = f"kc-{_uid()}", f"kc-{_uid()}"
    source = tmp_path / "in.txt"
    source.write_text("a\nb\n")
    env = {"KAFKA_CONNECT_URL": worker.url, "PATH": "/usr/bin:/bin"}

    def kc(*args: str) -> Any:
        done = subprocess.run(
            [KC, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        out = done.stdout.strip()
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            return out  # the commands without a response body print text (or nothing)

    config = {
        "name": name,
        "config": {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "file": str(source),
            "topic": topic,
            **STRINGS,
        },
    }
    created = kc("create", "--config-data", json.dumps(config))
    assert created["name"] == name and created["type"] == "source"
    assert name in kc("list")
    assert kc("config", name)["topic"] == topic
    wait_until(lambda: kc("status", name)["connector"]["state"] == "RUNNING", what="running")
    kc("pause", name)
    wait_until(lambda: kc("status", name)["connector"]["state"] == "PAUSED", what="paused")
    kc("resume", name)
    wait_until(lambda: kc("status", name)["connector"]["state"] == "RUNNING", what="resumed")
    kc("restart", name, "--include-tasks")
    wait_until(lambda: kc("status", name)["tasks"][0]["state"] == "RUNNING", what="restarted")
    assert kc("list-tasks", name)[0]["id"] == {"connector": name, "task": 0}
    kc("delete", name)
    assert name not in kc("list")


def test_secrets_and_provider_values_never_leave_in_clear(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    topic, out = f"secret-{_uid()}", tmp_path / "out.txt"
    secrets = tmp_path / "secrets.properties"
    secrets.write_text(f"out.path={out}\n")
    worker = workers.start(
        "tests.apps.worker", bootstrap=broker.bootstrap, env={"FC_SECRET_TOPIC": topic}
    )
    rest = worker.rest
    config = {
        "connector.class": "FileStreamSink",
        "topics": "${env:FC_SECRET_TOPIC}",
        "file": f"${{file:{secrets}:out.path}}",
        "db.password": "s3cret-value",
        **STRINGS,
    }
    created = rest.create("secretive", config)
    shown = {**config, "name": "secretive"}
    hidden = {"topics": "********", "file": "********", "db.password": "********"}
    assert created["config"] == {**shown, **hidden}
    # the task resolved the references: records arrive in the file named in the secrets file
    asyncio.run(produce(broker.bootstrap, topic, [(None, b"one"), (None, b"two")]))
    wait_until(lambda: out.exists() and out.read_text() == "one\ntwo\n", what="resolved sink")

    for body in (
        rest.get("/connectors/secretive/config"),
        rest.get("/connectors/secretive")["config"],
        rest.get("/connectors/secretive/tasks")[0]["config"],
        rest.get("/connectors?expand=info")["secretive"]["info"]["config"],
    ):
        assert {k: body[k] for k in hidden} == hidden
    # a config read from the API can be written back: masked values keep what is stored
    masked = rest.get("/connectors/secretive/config")
    assert rest.call("PUT", "/connectors/secretive/config", masked)[0] == 200
    wait_until(lambda: rest.state("secretive") == ("RUNNING", ["RUNNING"]), what="running")
    asyncio.run(produce(broker.bootstrap, topic, [(None, b"three")]))
    wait_until(lambda: out.read_text() == "one\ntwo\nthree\n", what="still resolved")
    assert "s3cret-value" not in worker.log()


def test_health_says_503_until_a_request_will_be_served(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap, wait=False)
    seen: list[tuple[int, str]] = []

    def healthy() -> bool:
        try:
            status, body = worker.rest.call("GET", "/health")
        except OSError:  # the web server is not listening yet
            return False
        seen.append((status, body["status"]))
        return status == 200

    wait_until(healthy, timeout=90, interval=0.02, what="/health to say 200")
    # the first moment it says healthy, a write is served (before: 409 "no known leader URL")
    config = {"connector.class": "FileStreamSink", "topics": "t", "file": str(tmp_path / "o")}
    status, body = worker.rest.call("POST", "/connectors", {"name": "early", "config": config})
    assert status == 201, body
    assert all(s == 503 and word == "starting" for s, word in seen[:-1]), seen
    print(f"/health answers before healthy: {len(seen) - 1} x 503")


def test_every_error_has_kafka_connects_body(worker: Worker) -> None:
    rest = worker.rest
    status, body = rest.call("GET", "/no/such/path")
    assert (status, body) == (404, {"error_code": 404, "message": "HTTP 404 Not Found"})
    status, body = rest.call("DELETE", "/connectors")
    assert status == 405 and body == {"error_code": 405, "message": "HTTP 405 Method Not Allowed"}
    huge = {"name": "x", "config": {"connector.class": "FileStreamSink", "v": "x" * 8_000_000}}
    status, body = rest.call("POST", "/connectors", huge)
    assert status == 413 and body["error_code"] == 413, body
    assert rest.get("/connectors") == []  # and the worker still answers


def test_metrics_carry_connector_and_task_state_to_alert_on(
    broker: Broker, worker: Worker, tmp_path: Path
) -> None:
    topic = f"boom-{_uid()}"
    strings = {"value.converter": "org.apache.kafka.connect.storage.StringConverter"}
    worker.rest.create(
        "exploding", {"connector.class": "ExplodingSink", "topics": topic, **strings}
    )
    asyncio.run(produce(broker.bootstrap, topic, [(None, b"fine"), (None, b"boom")]))

    def scrape() -> str:
        with urllib.request.urlopen(f"{worker.url}/metrics", timeout=10) as response:
            return str(response.read().decode())

    failed = 'faust_connect_task_status{connector="exploding",task="0",state="FAILED"} 1'
    wait_until(lambda: failed in scrape(), timeout=60, what="the FAILED task in /metrics")
    text = scrape()
    assert 'faust_connect_task_status{connector="exploding",task="0",state="RUNNING"} 0' in text
    assert 'faust_connect_connector_status{connector="exploding",state="RUNNING"} 1' in text
