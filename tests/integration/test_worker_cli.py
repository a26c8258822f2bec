"""`faust -A faust_connect.app worker`: settings from env or file, banner, web port, bad keys."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import Broker
from tests.workers import FAUST, WorkerFactory

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_worker_from_environment(broker: Broker, workers: WorkerFactory) -> None:
    worker = workers.start("faust_connect.app", bootstrap=broker.bootstrap, group_id="cli-env")
    log = worker.log()
    assert "| id          | cli-env" in log
    assert f"kafka://{broker.bootstrap}" in log
    with urllib.request.urlopen(worker.url + "/", timeout=5) as response:
        assert response.status == 200
    assert worker.stop() == 0


def test_worker_from_properties_file(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    config = tmp_path / "worker.properties"
    config.write_text(f"bootstrap.servers={broker.bootstrap}\ngroup.id=cli-file\n")
    env = {"CONNECT_CONFIG_FILE": str(config)}
    # the file names broker and group; the factory's CONNECT_* values must not hide them
    worker = workers.start("faust_connect.app", bootstrap="", group_id="", env=env, wait=False)
    worker.wait_ready()
    assert "| id          | cli-file" in worker.log()


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({}, "faust-connect: worker setting 'group.id': required"),
        (
            {"CONNECT_GROUP_ID": "g", "CONNECT_BOOTSTRAP_SERVERS": "nohost"},
            "faust-connect: worker setting 'bootstrap.servers': 'nohost' is not host:port",
        ),
        (
            {"CONNECT_GROUP_ID": "g", "CONNECT_LISTENRS": "http://:1"},
            "faust-connect: worker setting 'listenrs': unknown key (did you mean 'listeners'?)",
        ),
    ],
)
def test_bad_setting_stops_the_start_with_one_line(
    env: dict[str, str], line: str, tmp_path: Path
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_")}
    done = subprocess.run(
        [FAUST, "-A", "faust_connect.app", "worker"],
        env={**clean, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == [line] or (len(lines) == 1 and lines[0].startswith(line))
