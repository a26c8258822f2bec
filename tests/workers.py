"""Worker processes for tests: each with its own app id, web port, folder and log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from faust_connect.app.embedded import free_port
from tests.rest import Rest

T = TypeVar("T")

FAUST = str(Path(sys.executable).parent / "faust")
ROOT = Path(__file__).resolve().parents[1]


def wait_until(
    condition: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> T:
    """Poll ``condition`` until it returns something truthy; AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or condition}")
        time.sleep(interval)


class Worker:
    """One ``faust worker`` process."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        log_path: Path,
        group_id: str,
        bootstrap: str,
    ) -> None:
        self.bootstrap = bootstrap
        self.process = process
        self.port = port
        self.log_path = log_path
        #: The worker's ``group.id`` (its Connect cluster), "" when set by a file.
        self.group_id = group_id

    @property
    def url(self) -> str:
        """The worker's web address."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the worker printed so far."""
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        """Wait until ``text`` appears in the log; fail early if the process exits."""

        def seen() -> bool:
            if text in self.log():
                return True
            if self.process.poll() is not None:
                raise AssertionError(
                    f"worker exited ({self.process.returncode}) before {text!r}:\n{self.log()[-3000:]}"
                )
            return False

        wait_until(seen, timeout=timeout, what=f"{text!r} in {self.log_path}")

    @property
    def rest(self) -> Rest:
        """A REST client for this worker."""
        return Rest(self.url)

    def wait_ready(self, timeout: float = 60.0) -> Worker:
        """Wait for Faust's "Ready" line."""
        self.wait_for_log("[^Worker]: Ready", timeout)
        return self

    def stop(self, timeout: float = 30.0) -> int:
        """Stop gracefully (SIGTERM), killing after ``timeout``; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        """``kill -9``."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class WorkerFactory:
    """Starts workers in a test's folder and stops them all afterwards."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[Worker] = []

    def start(
        self,
        app: str,
        *,
        bootstrap: str,
        group_id: str | None = None,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
        wait: bool = True,
    ) -> Worker:
        """Run ``faust -A app worker`` with settings from ``CONNECT_*`` variables."""
        port = free_port()
        index = len(self.started)
        log_path = self.folder / f"worker-{index}.log"
        group = f"test-{uuid.uuid4().hex[:8]}" if group_id is None else group_id
        full_env = {
            **os.environ,
            "CONNECT_BOOTSTRAP_SERVERS": bootstrap,
            "CONNECT_GROUP_ID": group,
            "CONNECT_LISTENERS": f"http://127.0.0.1:{port}",
            "CONNECT_OFFSET_FLUSH_INTERVAL_MS": "500",
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        }
        workdir = self.folder / f"worker-{index}"
        workdir.mkdir(exist_ok=True)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [FAUST, "-A", app, "worker", "-l", "info", *args],
                cwd=workdir,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(process, port, log_path, group, bootstrap)
        self.started.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    def stop_all(self) -> None:
        """Stop every worker this factory started."""
        for worker in self.started:
            worker.stop()


def counting_pipeline(
    rest: Rest, topic: str, out: Path, total: int, converters: Mapping[str, str], **source: str
) -> Callable[[], list[str]]:
    """A CountingSource of ``total`` numbers into ``topic`` (50 every 20 ms, ``source`` keys
    added) and a FileStreamSink of it into ``out``; returns a reader of ``out``'s lines."""
    rest.create(
        "numbers",
        {
            "connector.class": "CountingSource",
            "topic": topic,
            "count": str(total),
            "poll.delay.ms": "20",
            "batch.size": "50",
            **source,
            **converters,
        },
    )
    rest.create(
        "numbers-out",
        {"connector.class": "FileStreamSink", "topics": topic, "file": str(out), **converters},
    )

    def lines() -> list[str]:
        return out.read_text().splitlines() if out.exists() else []

    return lines
