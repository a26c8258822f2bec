"""`make run`'s command: broker + worker + demo pipeline; the output grows; Ctrl-C stops all."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from faust_connect.app.embedded import free_port, port_closed
from tests.workers import wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


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
