"""Shared fixtures: real brokers, worker processes, raw Kafka helpers.

Brokers are session-scoped and started on free loopback ports with a temporary data folder. A
test asks for the broker whose behaviour it needs (see ../shared/BROKERS.md):

- ``broker``: noida-db (single worker, restarts, end offsets, transactions);
- ``tansu``: Tansu (consumer groups with several members, kill -9 failover).

Set ``FAUST_CONNECT_TEST_BOOTSTRAP=host:port`` to run every test against one external cluster
(e.g. real Kafka) instead; it implements both behaviours.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from faust_connect.app.embedded import NoidaBroker, TansuBroker
from tests.workers import WorkerFactory

EXTERNAL = os.environ.get("FAUST_CONNECT_TEST_BOOTSTRAP", "")


class Broker(Protocol):
    """What tests need of a broker."""

    name: str
    bootstrap: str
    log_path: Path


class ExternalBroker:
    """A cluster the tests did not start."""

    name = "external"
    log_path = Path("/dev/null")

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap


_started: list[Broker] = []


def _broker(kind: type[NoidaBroker] | type[TansuBroker], tmp: Path) -> Iterator[Broker]:
    if EXTERNAL:
        yield ExternalBroker(EXTERNAL)
        return
    broker = kind(tmp)
    broker.start()
    _started.append(broker)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """noida-db: correct end offsets, recovery and transactions; one group member at a time."""
    yield from _broker(NoidaBroker, tmp_path_factory.mktemp("noida"))


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """Tansu: consumer groups with several members and kill -9 failover."""
    yield from _broker(TansuBroker, tmp_path_factory.mktemp("tansu"))


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start worker processes (``workers.start(...)``); all are stopped after the test."""
    factory = WorkerFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """On failure, say where the broker logs are (they are kept with pytest's tmp dirs)."""
    if terminalreporter.stats.get("failed") or terminalreporter.stats.get("error"):
        for broker in _started:
            terminalreporter.write_line(f"{broker.name} broker log: {broker.log_path}")
