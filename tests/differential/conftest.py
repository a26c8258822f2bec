"""Fixtures of the differential suite: one JVM Kafka Connect worker and one faust-connect worker
for the whole session, both on the session's broker, each with its own group and internal topics.

Cases create the same connector (same name, same config but for the per-side topic names) on
both, feed them the same input and compare what each wrote (:mod:`tests.differential.compare`).

The Debezium modules get a JVM worker of their own (``debezium_sides``, one per module, started
only when such a module runs) with Debezium's connectors on its class path, and private
PostgreSQL and MariaDB servers (``postgres``, ``mariadb``) set up as the CDC integration tests'
are (:mod:`tests.integration.sql.databases`: wal_level=logical; binlog ROW, FULL row image and
metadata).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Broker
from tests.connect_server import ConnectWorker
from tests.differential.compare import Side
from tests.integration.sql.databases import MariaDB, PostgreSQL, ensure_installed
from tests.workers import Worker, WorkerFactory

_started: list[ConnectWorker] = []
_servers: list[PostgreSQL | MariaDB] = []


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


@pytest.fixture(scope="module")
def debezium_sides(
    broker: Broker, py_connect: Worker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Side, Side]]:
    """A JVM worker with Debezium 3.5's connectors beside Kafka Connect's (one per module) and
    the session's faust-connect worker: the JVM one first."""
    worker = ConnectWorker(
        tmp_path_factory.mktemp("jvm-debezium"),
        broker.bootstrap,
        heap="512m",
        profiles=("connect", "debezium"),
    )
    _started.append(worker)
    try:
        worker.start()
        yield (
            Side("debezium", "j", worker.rest, broker.bootstrap, worker.topic("offset")),
            Side(
                "faust-connect",
                "p",
                py_connect.rest,
                broker.bootstrap,
                f"{py_connect.group_id}-offsets",
            ),
        )
    finally:
        worker.stop()


def _serve(server: PostgreSQL | MariaDB, request: pytest.FixtureRequest) -> Iterator[Any]:
    ensure_installed()
    _servers.append(server)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if not request.session.testsfailed:
            shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(request: pytest.FixtureRequest) -> Iterator[PostgreSQL]:
    """A private PostgreSQL server with ``wal_level=logical``."""
    yield from _serve(PostgreSQL(), request)


@pytest.fixture(scope="session")
def mariadb(request: pytest.FixtureRequest) -> Iterator[MariaDB]:
    """A private MariaDB server writing a ROW binlog with FULL row image and metadata."""
    yield from _serve(MariaDB(), request)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """On failure, say where the JVM workers' and database servers' logs are (kept)."""
    if terminalreporter.stats.get("failed") or terminalreporter.stats.get("error"):
        for worker in _started:
            terminalreporter.write_line(f"kafka connect (jvm) log: {worker.log_path}")
        for server in _servers:
            terminalreporter.write_line(f"{server.name} log: {server.log_path}")
