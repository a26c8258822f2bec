"""`faust -A faust_connect.app worker`: settings from env or file, banner, web port, bad keys."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from faust_connect.app.embedded import free_port
from tests.conftest import Broker
from tests.workers import FAUST, ROOT, Worker, WorkerFactory, wait_until

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


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_")}


@pytest.mark.parametrize("args", [("--help",), ("worker", "--help")])
def test_help_needs_no_settings(args: tuple[str, ...], tmp_path: Path) -> None:
    done = subprocess.run(
        [FAUST, "-A", "faust_connect.app", *args],
        env=_clean_env(),  # no group.id, no anything
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: faust"), done.stdout
    assert done.stderr == ""
    assert list(tmp_path.iterdir()) == []  # and no worker folder was made


def _start_failure(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A worker start that must end by itself: its exit code and output."""
    return subprocess.run(
        [FAUST, "-A", "faust_connect.app", "worker"],
        env={**_clean_env(), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed start printed (Faust's logging may prefix it); no traceback."""
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_web_port_in_use_stops_the_worker_with_one_line(broker: Broker, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _start_failure(
            {
                "CONNECT_BOOTSTRAP_SERVERS": broker.bootstrap,
                "CONNECT_GROUP_ID": "cli-port-taken",
                "CONNECT_LISTENERS": f"http://127.0.0.1:{port}",
            },
            tmp_path,
        )
    assert done.returncode == 2
    line = _one_line(done)
    assert (
        f"faust-connect: worker setting 'listeners': port {port} on 127.0.0.1 is already in use"
        in line
    )
    assert "CONNECT_LISTENERS" in line  # what to change


def test_unreachable_bootstrap_stops_the_worker_with_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    done = _start_failure(
        {
            "CONNECT_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
            "CONNECT_GROUP_ID": "cli-no-broker",
            "CONNECT_LISTENERS": f"http://127.0.0.1:{free_port()}",
        },
        tmp_path,
    )
    assert done.returncode == 2
    line = _one_line(done)
    assert f"faust-connect: worker setting 'bootstrap.servers': cannot reach 127.0.0.1:{port}" in (
        line
    )
    assert "start the broker, or correct bootstrap.servers" in line


def _readme_example() -> tuple[dict[str, str], str, list[str]]:
    """The Quickstart's exports, the Python-module example and the command that runs it."""
    quickstart = (ROOT / "README.md").read_text().split("## Quickstart", 1)[1].split("\n## ")[0]
    exports = dict(re.findall(r"^export (CONNECT_\w+)=(\S+)$", quickstart, re.MULTILINE))
    module = re.search(r"```python\n(.*?)```", quickstart, re.DOTALL)
    command = re.search(r"`(\.venv/bin/faust -A mymodule worker[^`]*)`", quickstart)
    assert module and command, "the README's Python-module example or its command moved"
    return exports, module.group(1), command.group(1).split()


def test_readme_python_module_runs_next_to_the_quickstart_worker(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    exports, module, command = _readme_example()
    # As written, both name the broker `make broker` prints, and different web ports.
    bootstrap = exports["CONNECT_BOOTSTRAP_SERVERS"]
    assert f'bootstrap_servers="{bootstrap}"' in module
    quickstart_port = int(exports["CONNECT_LISTENERS"].rpartition(":")[2])
    listener = re.search(r'listeners="http://127\.0\.0\.1:(\d+)"', module)
    assert listener, module
    module_port = int(listener.group(1))
    assert module_port != quickstart_port
    # Here the session's broker stands for `make broker`'s, on free ports.
    ports = {quickstart_port: free_port(), module_port: free_port()}

    def local(text: str) -> str:
        text = text.replace(bootstrap, broker.bootstrap)
        for written, free in ports.items():
            text = text.replace(f"127.0.0.1:{written}", f"127.0.0.1:{free}")
        return text

    shell = {**_clean_env(), **{k: local(v) for k, v in exports.items()}}
    started = []
    for name, argv, port in (
        ("quickstart", [FAUST, "-A", "faust_connect.app", "worker", "-l", "info"], quickstart_port),
        ("module", [FAUST, *command[1:]], module_port),  # the module's worker, same shell
    ):
        folder = tmp_path / name
        folder.mkdir()
        if name == "module":
            (folder / "mymodule.py").write_text(local(module))
        log_path = tmp_path / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv, cwd=folder, env=shell, stdout=log, stderr=subprocess.STDOUT
            )
        worker = Worker(process, ports[port], log_path, "", broker.bootstrap)
        workers.started.append(worker)  # stopped after the test
        started.append(worker)
    quickstart, own = (w.wait_ready() for w in started)

    def running() -> bool:
        return all(own.rest.state(n) == ("RUNNING", ["RUNNING"]) for n in ("ticks", "show"))

    wait_until(running, timeout=60, what="the module's connectors running")
    assert own.rest.get("/connectors") == ["orders", "show", "ticks"]
    statuses = own.rest.get("/connectors?expand=status")
    assert {s["status"]["tasks"][0]["worker_id"] for s in statuses.values()} == {
        f"127.0.0.1:{ports[module_port]}"
    }
    assert quickstart.rest.get("/connectors") == []  # two clusters, not one
    own.wait_for_log("'via': 'py'")  # the sink got the ticks
