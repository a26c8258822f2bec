"""Shared fixtures: real Apache Kafka, worker processes, raw Kafka helpers.

Kafka (KRaft, from the class path Maven resolved out of ``jvm/pom.xml``) is started once per test
session on free loopback ports (:mod:`tests.kafka_server`):

- ``broker``: one node with PLAINTEXT, SASL_PLAINTEXT, SSL and SASL_SSL listeners;
- ``kafka_cluster``: three nodes (replication factor 3, ``min.insync.replicas=2``), started only
  when a test that stops, kills or pauses a broker asks for it.

Set ``FAUST_CONNECT_TEST_BOOTSTRAP=host:port`` to run the PLAINTEXT tests against a cluster the
tests did not start instead (tests that need the security listeners or the three-node cluster
are then skipped, saying so).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from tests.kafka_server import KafkaCluster
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


_started: list[KafkaCluster] = []


def _cluster(tmp: Path, nodes: int) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(tmp, nodes=nodes)
    _started.append(cluster)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """Real Kafka, one node (or the cluster named by ``FAUST_CONNECT_TEST_BOOTSTRAP``)."""
    if EXTERNAL:
        yield ExternalBroker(EXTERNAL)
        return
    yield from _cluster(tmp_path_factory.mktemp("kafka"), 1)


@pytest.fixture(scope="session")
def kafka(broker: Broker) -> KafkaCluster:
    """The session's Kafka node itself, with its security listeners and certificates."""
    if not isinstance(broker, KafkaCluster):
        pytest.skip("needs the Kafka node the tests start (FAUST_CONNECT_TEST_BOOTSTRAP is set)")
    return broker


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Three Kafka nodes, for the tests that stop, kill or pause a broker."""
    if EXTERNAL:
        pytest.skip("needs the three-node cluster the tests start (FAUST_CONNECT_TEST_BOOTSTRAP)")
    yield from _cluster(tmp_path_factory.mktemp("kafka3"), 3)


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
        for cluster in _started:
            for node in cluster.nodes:
                terminalreporter.write_line(f"kafka node {node.node_id} log: {node.log_path}")
