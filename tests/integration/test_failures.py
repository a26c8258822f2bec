"""Failures beyond Kafka's bounce suite, on real Kafka: every record still arrives.

- a rolling restart of all three brokers of a replicated cluster under load;
- one broker of three frozen (SIGSTOP) for 30 s under load, then thawed: the tasks go on by
  themselves (a lone KRaft node frozen that long fences itself on thaw and has been seen to
  answer NotLeaderForPartition for minutes after: a broker matter, so the cluster has three);
- a worker killed (SIGKILL) every 10 s through a 100,000-record run.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import Broker
from tests.kafka_server import KafkaCluster
from tests.workers import Worker, WorkerFactory, counting_pipeline, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

STRINGS = {"value.converter": "org.apache.kafka.connect.storage.StringConverter"}
REPLICATED = {
    "CONNECT_CONFIG_STORAGE_REPLICATION_FACTOR": "3",
    "CONNECT_OFFSET_STORAGE_REPLICATION_FACTOR": "3",
    "CONNECT_STATUS_STORAGE_REPLICATION_FACTOR": "3",
}


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _every_number(lines: list[str], total: int) -> tuple[int, int]:
    """(lines written, duplicates); asserts no number is missing."""
    written = [int(x) for x in lines]
    assert set(written) == set(range(total)), f"{total - len(set(written))} numbers lost"
    return len(written), len(written) - len(set(written))


def test_a_rolling_restart_of_all_three_brokers_loses_nothing(
    kafka_cluster: KafkaCluster, workers: WorkerFactory, tmp_path: Path
) -> None:
    topic, out, total = f"numbers-{_uid()}", tmp_path / "out.txt", 30_000
    worker = workers.start("tests.apps.worker", bootstrap=kafka_cluster.bootstrap, env=REPLICATED)
    replicated = {"topic.creation.default.replication.factor": "3"}
    lines = counting_pipeline(worker.rest, topic, out, total, STRINGS, **replicated)
    wait_until(lambda: len(lines()) >= 2000, timeout=90, what="the stream to be under way")
    for node in kafka_cluster.nodes:
        node.kill()
        node.start()
        kafka_cluster.wait_ready()
    assert len(lines()) < total, "the restarts must land mid-stream"
    wait_until(
        lambda: {int(x) for x in lines()} >= set(range(total)),
        timeout=240,
        what="every number after the rolling restart",
    )
    written, duplicates = _every_number(lines(), total)
    print(f"rolling restart of 3 brokers: {total} numbers, {written} lines, {duplicates} dups")


def test_a_broker_frozen_for_30s_then_thawed_loses_nothing(
    kafka_cluster: KafkaCluster, workers: WorkerFactory, tmp_path: Path
) -> None:
    topic, out, total = f"numbers-{_uid()}", tmp_path / "out.txt", 20_000
    worker = workers.start("tests.apps.worker", bootstrap=kafka_cluster.bootstrap, env=REPLICATED)
    replicated = {"topic.creation.default.replication.factor": "3"}
    lines = counting_pipeline(worker.rest, topic, out, total, STRINGS, **replicated)
    wait_until(lambda: len(lines()) >= 2000, timeout=90, what="the stream to be under way")
    node = kafka_cluster.nodes[0]
    node.pause()
    try:
        assert len(lines()) < total, "the freeze must land mid-stream"
        time.sleep(30)  # the failure itself lasts 30 s (not a wait for a condition)
    finally:
        node.resume()
    thawed = time.monotonic()
    wait_until(
        lambda: {int(x) for x in lines()} >= set(range(total)),
        timeout=180,
        what="every number after the broker thawed",
    )
    written, duplicates = _every_number(lines(), total)
    print(
        f"1 of 3 brokers frozen 30 s: {total} numbers, {written} lines, {duplicates} duplicates, "
        f"done {time.monotonic() - thawed:.1f} s after the thaw"
    )
    assert worker.process.poll() is None
    kafka_cluster.wait_ready()


def test_a_worker_killed_every_10s_loses_nothing(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    group, topic, out, total = f"killed-{_uid()}", f"numbers-{_uid()}", tmp_path / "o", 100_000
    fast = {"CONNECT_SESSION_TIMEOUT_MS": "6000", "CONNECT_HEARTBEAT_INTERVAL_MS": "1000"}

    def start() -> Worker:
        return workers.start(
            "tests.apps.worker", bootstrap=broker.bootstrap, group_id=group, env=fast
        )

    worker = start()
    lines = counting_pipeline(worker.rest, topic, out, total, STRINGS)
    kills = 0
    deadline = time.monotonic() + 600
    while {int(x) for x in lines()} < set(range(total)):
        assert time.monotonic() < deadline, f"not done after {kills} kills"
        time.sleep(10)  # the kill cadence itself (not a wait for a condition)
        if {int(x) for x in lines()} >= set(range(total)):
            break
        worker.kill()
        kills += 1
        worker = start()
    written, duplicates = _every_number(lines(), total)
    print(f"killed every 10 s: {kills} kills, {total} numbers, {written} lines, {duplicates} dups")
