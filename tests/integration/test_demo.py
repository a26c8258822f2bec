"""`make run`'s command: broker + worker + demo pipeline; the output grows; Ctrl-C stops all.

Also what stands in its way: a taken default port is swapped for a free one (said in one line),
a taken port given by hand or the broker of the same folder already running ends the start
with one line and exit code 2.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from faust_connect.app.embedded import BROKER_PORT, WEB_PORT, _choose_port, free_port, port_closed
from tests.workers import wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _embedded(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "faust_connect.app.embedded", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _one_line_failure(*args: str) -> str:
    """Run the command line; it must exit 2 with one line on stderr, which is returned."""
    done = subprocess.run(
        [sys.executable, "-m", "faust_connect.app.embedded", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@contextlib.contextmanager
def _taken(port: int | None = None) -> Iterator[int]:
    """A port something listens on (``port`` itself if it is taken already)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port or 0))
            sock.listen()
        except OSError:  # someone else holds it: taken all the same
            assert port is not None
        yield port or sock.getsockname()[1]


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(60)


def test_demo_runs_and_stops_cleanly(tmp_path: Path) -> None:
    broker_port, web_port = free_port(), free_port()
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "faust_connect.app.embedded",
            "demo",
            "--data-dir",
            str(tmp_path),
            "--port",
            str(broker_port),
            "--web-port",
            str(web_port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    output = tmp_path / "demo" / "orders.jsonl"
    try:
        first = wait_until(lambda: _lines(output), timeout=60, what="the first output lines")
        wait_until(lambda: _lines(output) > first, timeout=30, what="the output to grow")
        printed = (tmp_path / "demo.log").read_text()
        assert f"http://127.0.0.1:{web_port}/" in printed
        assert str(output) in printed
        order = orjson.loads(output.read_bytes().splitlines()[0])
        assert {"orderid", "itemid", "orderunits", "address"} <= set(order)
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(60)
        log.close()
    text = (tmp_path / "demo.log").read_text()
    assert code == 0, text[-3000:]
    assert "worker stopped" in text and "broker stopped" in text
    assert port_closed(broker_port) and port_closed(web_port)


@pytest.mark.parametrize("option", ["--port", "--web-port"])
def test_a_given_port_in_use_ends_the_start_with_one_line(option: str, tmp_path: Path) -> None:
    with _taken() as port:
        other = "--web-port" if option == "--port" else "--port"
        args = (option, str(port), other, str(free_port()))
        line = _one_line_failure("demo", "--data-dir", str(tmp_path), *args)
    what = "embedded broker" if option == "--port" else "worker's web server"
    assert line == (
        f"faust-connect: port {port} ({what}) is already in use: stop what listens there,"
        f" or pass another {option}"
    )
    assert not (tmp_path / "broker" / "noida.control.json").exists()  # nothing was started


def test_demo_while_the_broker_of_its_folder_runs_ends_with_one_line(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "broker.log"
    broker = _embedded("broker", "--data-dir", str(tmp_path), "--port", str(port), log=log)
    try:
        wait_until(lambda: "broker: " in log.read_text(), timeout=30, what="the broker")
        line = _one_line_failure(
            "demo", "--data-dir", str(tmp_path), "--web-port", str(free_port())
        )
        assert line.startswith(
            f"faust-connect: the embedded broker of {tmp_path} already runs at 127.0.0.1:{port}"
        ), line
        assert "stop it first" in line
        assert not port_closed(port)  # the running broker was left alone
    finally:
        assert _stop(broker) == 0
    assert port_closed(port)


def test_default_ports_are_kafkas_when_free() -> None:
    default = free_port()
    assert _choose_port(None, default, "web server", "--web-port") == default
    assert (BROKER_PORT, WEB_PORT) == (9092, 8083)


def test_taken_default_ports_fall_back_with_one_line_each(tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    with _taken(WEB_PORT), _taken(BROKER_PORT):
        demo = _embedded("demo", "--data-dir", str(tmp_path), log=log)
        try:
            wait_until(lambda: "  web:" in log.read_text(), timeout=60, what="the demo banner")
        except AssertionError:
            _stop(demo)
            raise
    try:
        text = log.read_text()
        web = int(text.split("  web:    http://127.0.0.1:", 1)[1].split("/", 1)[0])
        broker = int(text.split("broker: 127.0.0.1:", 1)[1].split(" ", 1)[0])
        assert (
            f"port {WEB_PORT} is in use: the worker's web server takes port {web} instead" in text
        )
        assert f"port {BROKER_PORT} is in use: the embedded broker takes port {broker} instead" in (
            text
        )

        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web}/", timeout=5) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_until(answers, timeout=60, what="the worker's web server on the fallback port")
    finally:
        code = _stop(demo)
    assert code == 0, log.read_text()[-3000:]
    assert port_closed(web) and port_closed(broker)
