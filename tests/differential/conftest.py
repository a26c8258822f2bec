"""Fixtures of the differential suite: one JVM Kafka Connect worker and one faust-connect worker
for the whole session, both on the session's broker, each with its own group and internal topics.

Cases create the same connector (same name, same config but for the per-side topic names) on
both, feed them the same input and compare what each wrote (:mod:`tests.differential.compare`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Broker
from tests.connect_server import ConnectWorker
from tests.differential.compare import Side
from tests.workers import Worker, WorkerFactory

_started: list[ConnectWorker] = []


@pytest.fixture(scope="session")
def jvm_connect(
    broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConnectWorker]:
    """Apache Kafka Connect's ``ConnectDistributed`` (4.1), started once per session."""
    worker = ConnectWorker(tmp_path_factory.mktemp("jvm-connect"), broker.bootstrap)
    _started.append(worker)
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="session")
def py_connect(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A faust-connect worker (the product's app, default settings), started once per session."""
    factory = WorkerFactory(tmp_path_factory.mktemp("py-connect"))
    try:
        yield factory.start("faust_connect.app", bootstrap=broker.bootstrap)
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def sides(broker: Broker, jvm_connect: ConnectWorker, py_connect: Worker) -> tuple[Side, Side]:
    """The two workers under comparison: the JVM one first."""
    return (
        Side("jvm", "j", jvm_connect.rest, broker.bootstrap, jvm_connect.topic("offset")),
        Side(
            "faust-connect",
            "p",
            py_connect.rest,
            broker.bootstrap,
            f"{py_connect.group_id}-offsets",
        ),
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """On failure, say where the JVM worker's log is (kept with pytest's tmp dirs)."""
    if terminalreporter.stats.get("failed") or terminalreporter.stats.get("error"):
        for worker in _started:
            terminalreporter.write_line(f"kafka connect (jvm) log: {worker.log_path}")
