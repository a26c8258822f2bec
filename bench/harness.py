"""Plumbing shared by the rows: brokers, topics, worker processes, watching, memory.

Everything runs for real: Apache Kafka (one KRaft node, ``tests/kafka_server.py``) or noida-db on
free ports in a temp folder, worker processes started as ``faust -A <module> worker`` with
``CONNECT_*`` settings (as ``tests/workers.py`` does), connectors created over REST, topics filled
and watched with aiokafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from faust_connect.app.embedded import NoidaBroker, free_port
from tests.kafka_server import KafkaCluster

__all__ = [
    "BROKERS",
    "Broker",
    "RestClient",
    "Worker",
    "broker",
    "count_lines",
    "cpu_seconds",
    "create_topic",
    "fill",
    "peak_rss_mb",
    "run_timeout",
    "uid",
    "wait_file",
    "watch_topic",
]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
Broker = KafkaCluster | NoidaBroker
#: What ``--broker`` may name: real Kafka (needs Java and Maven) or noida-db (pip only).
BROKERS = ("kafka", "noida")


def uid() -> str:
    """A short unique suffix for topic, group and connector names."""
    return uuid.uuid4().hex[:8]


@contextlib.contextmanager
def broker(kind: str, folder: Path) -> Iterator[Broker]:
    """A running broker (``kafka``: one Kafka node; ``noida``: noida-db) in a new folder under
    ``folder``, stopped afterwards."""
    where = folder / f"{kind}-{uid()}"
    running: Broker = KafkaCluster(where) if kind == "kafka" else NoidaBroker(where)
    with contextlib.redirect_stdout(sys.stderr):  # its "ready" line is a log, not a result
        running.start()
    try:
        yield running
    finally:
        running.stop()


def peak_rss_mb(pid: int) -> float:
    """The peak resident set (VmHWM) of a running process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system, all threads) a running process has used so far, in seconds."""
    # the fields after the command name, which is in parentheses and may hold spaces
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- topics -----------------------------------------------------------------------------------


async def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def _fill(
    bootstrap: str, topic: str, pairs: Sequence[tuple[bytes, bytes]], partitions: int
) -> None:
    await create_topic(bootstrap, topic, partitions)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024, acks=1
    )
    await producer.start()
    try:
        pending = []
        for i, (key, value) in enumerate(pairs):
            pending.append(await producer.send(topic, value, key=key, partition=i % partitions))
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def fill(
    bootstrap: str, topic: str, pairs: Sequence[tuple[bytes, bytes]], partitions: int = 1
) -> None:
    """Create ``topic`` and write ``pairs`` (key, value) to it, spread over its partitions."""
    asyncio.run(_fill(bootstrap, topic, pairs, partitions))


async def _watch(
    bootstrap: str, topic: str, n: int, timeout: float, on_first: Callable[[], None] | None
) -> Any:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    first = 0.0
    deadline = time.monotonic() + timeout
    try:
        # the consumer has no public metadata refresh: ask its client for the cluster's topics
        while not (
            parts := (await consumer._client.fetch_all_metadata()).partitions_for_topic(topic)
        ):
            await asyncio.sleep(0.05)
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic} never appeared")
        tps = [TopicPartition(topic, p) for p in sorted(parts)]  # never assigned: no fetching
        count = 0
        while count < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: {count} of {n} records after {timeout:.0f}s")
            count = sum((await consumer.end_offsets(tps)).values())
            if count < n:
                await asyncio.sleep(0.02)
            if count and not first:
                first = time.time()
                if on_first is not None:
                    on_first()
        return first, time.time()
    finally:
        await consumer.stop()


def run_timeout(n: int) -> float:
    """How long one run of ``n`` records may take: a floor of 2,000 records/s, plus start-up."""
    return 30 + n / 2_000


def watch_topic(
    bootstrap: str,
    topic: str,
    n: int,
    *,
    timeout: float = 0,
    on_first: Callable[[], None] | None = None,
) -> tuple[float, float]:
    """Wall times when ``topic``'s end offsets first summed above 0 and when they reached ``n``;
    ``on_first`` is called as soon as the first record is seen."""
    timeout = timeout or run_timeout(n)
    result: tuple[float, float] = asyncio.run(_watch(bootstrap, topic, n, timeout, on_first))
    return result


def count_lines(
    path: Path, n: int, *, timeout: float = 0, on_first: Callable[[], None] | None = None
) -> tuple[float, float]:
    """Wall times when ``path`` got its first line and its ``n``-th (polled every 10 ms);
    ``on_first`` is called as soon as the first line is seen."""
    timeout = timeout or run_timeout(n)
    first, count, position = 0.0, 0, 0
    deadline = time.monotonic() + timeout
    while count < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path}: {count} of {n} lines after {timeout:.0f}s")
        if path.exists():
            with path.open("rb") as file:
                file.seek(position)
                chunk = file.read()
            position += len(chunk)
            count += chunk.count(b"\n")
            if count and not first:
                first = time.time()
                if on_first is not None:
                    on_first()
        if count < n:
            time.sleep(0.01)
    return first, time.time()


def wait_file(
    path: Path, *, timeout: float = 300, process: subprocess.Popen[bytes] | None = None
) -> Any:
    """The JSON a process under test writes to ``path`` when it is done."""
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.stat().st_size:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited ({process.returncode}) before writing {path}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {path} after {timeout:.0f}s")
        time.sleep(0.02)
    time.sleep(0.01)  # the writer's write_text is one call; give it a moment to finish
    return json.loads(path.read_text())


# -- worker processes -------------------------------------------------------------------------


class RestClient:
    """The Connect REST calls the rows make, on a worker at ``port`` (ours or the JVM's)."""

    port: int

    def rest(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return json.loads(raw) if raw else None

    def create(self, name: str, config: dict[str, str], timeout: float = 60) -> None:
        """POST /connectors, again while the cluster answers 409 (rebalancing), as Connect
        clients do."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.rest("POST", "/connectors", {"name": name, "config": config})
                return
            except urllib.error.HTTPError as exc:
                if exc.code != 409 or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def delete(self, name: str) -> None:
        """DELETE /connectors/<name>."""
        with contextlib.suppress(Exception):
            self.rest("DELETE", f"/connectors/{name}")


class Worker(RestClient):
    """One ``faust -A <module> worker`` process with its own web port and log."""

    def __init__(
        self, module: str, bootstrap: str, folder: Path, group: str, env: dict[str, str]
    ) -> None:
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.log_path = folder / f"worker-{self.port}.log"
        full_env = {
            **os.environ,
            "CONNECT_BOOTSTRAP_SERVERS": bootstrap,
            "CONNECT_GROUP_ID": group,
            "CONNECT_LISTENERS": f"http://127.0.0.1:{self.port}",
            "CONNECT_OFFSET_FLUSH_INTERVAL_MS": "200",
            "BENCH_WEB_PORT": str(self.port),
            "PYTHONPATH": str(ROOT),
            **env,
        }
        self.started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(BIN / "faust"), "-A", module, "worker", "-l", "info"],
                cwd=folder,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 180) -> float:
        """Seconds from process start until Faust logged "Ready"."""
        deadline = time.monotonic() + timeout
        while "[^Worker]: Ready" not in self.log_path.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"worker not ready (exit {self.process.returncode}):\n{tail}")
            time.sleep(0.02)
        return time.monotonic() - self.started

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
