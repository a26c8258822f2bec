"""docker/: no engine here, so check what can be checked of the image and the compose file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from faust_connect.app.settings import load_settings

DOCKER = Path(__file__).parents[2] / "docker"


def _dockerfile() -> list[tuple[str, str]]:
    steps = []
    for line in (DOCKER / "Dockerfile").read_text().replace("\\\n", " ").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            steps.append((op.upper(), rest.strip()))
    return steps


def test_dockerfile_installs_the_package_and_runs_the_worker() -> None:
    steps = _dockerfile()
    ops = [op for op, _ in steps]
    assert ops[0] == "FROM" and "python:3.11" in steps[0][1]
    assert any(op == "RUN" and "pip install ." in arg for op, arg in steps)
    assert ("COPY", "faust_connect ./faust_connect") in steps
    assert ("EXPOSE", "8083") in steps
    cmd = dict(steps)["CMD"]
    assert yaml.safe_load(cmd) == ["faust", "-A", "faust_connect.app", "worker", "-l", "info"]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return data


def test_compose_runs_kraft_kafka_and_two_workers_of_one_cluster() -> None:
    services = _compose()["services"]
    assert set(services) == {"kafka", "worker-1", "worker-2"}
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
    w1, w2 = services["worker-1"], services["worker-2"]
    assert w1["environment"]["CONNECT_GROUP_ID"] == w2["environment"]["CONNECT_GROUP_ID"]
    assert (
        w1["environment"]["CONNECT_REST_ADVERTISED_HOST_NAME"]
        != (w2["environment"]["CONNECT_REST_ADVERTISED_HOST_NAME"])
    )
    assert {p.split(":")[0] for p in w1["ports"] + w2["ports"]} == {"8083", "8084"}
    for worker in (w1, w2):
        assert worker["command"][:4] == ["faust", "-A", "faust_connect.app", "worker"]
        assert worker["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_compose_worker_environment_is_valid_worker_settings() -> None:
    services = _compose()["services"]
    for name in ("worker-1", "worker-2"):
        env = {k: str(v) for k, v in services[name]["environment"].items()}
        settings = load_settings(environ=env)
        assert settings.servers == ["kafka:19092"]
        assert settings.web_port == 8083
        internal = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
        assert "kafka:19092" in internal


def test_compose_builds_with_the_dockerfile() -> None:
    build = _compose()["services"]["worker-1"]["build"]
    assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == (
        DOCKER / "Dockerfile"
    ).resolve()
