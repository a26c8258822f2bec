"""A broker of three dies under load: replication (factor 3, ``min.insync.replicas=2``) loses nothing.

The worker's internal topics and the connector topic are replicated three ways; the leader of the
records' partition is killed with SIGKILL mid-stream and started again later. Every number the
source counts must reach the sink's file.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka.client import AIOKafkaClient
from aiokafka.structs import TopicPartition

from tests.kafka_server import KafkaCluster
from tests.workers import WorkerFactory, counting_pipeline, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

STRINGS = {"value.converter": "org.apache.kafka.connect.storage.StringConverter"}
REPLICATED = {
    "CONNECT_CONFIG_STORAGE_REPLICATION_FACTOR": "3",
    "CONNECT_OFFSET_STORAGE_REPLICATION_FACTOR": "3",
    "CONNECT_STATUS_STORAGE_REPLICATION_FACTOR": "3",
}


async def _leader(bootstrap: str, topic: str) -> int:
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        cluster = await client.fetch_all_metadata()
        leader = cluster.leader_for_partition(TopicPartition(topic, 0))
        return -1 if leader is None else int(leader)
    finally:
        await client.close()


def test_killing_the_partition_leader_mid_stream_loses_no_record(
    kafka_cluster: KafkaCluster, workers: WorkerFactory, tmp_path: Path
) -> None:
    topic, out, total = f"numbers-{uuid.uuid4().hex[:8]}", tmp_path / "out.txt", 20_000
    worker = workers.start("tests.apps.worker", bootstrap=kafka_cluster.bootstrap, env=REPLICATED)
    replicated = {"topic.creation.default.replication.factor": "3"}
    lines = counting_pipeline(worker.rest, topic, out, total, STRINGS, **replicated)

    wait_until(lambda: len(lines()) >= 3000, timeout=90, what="the stream to be under way")
    leader = asyncio.run(_leader(kafka_cluster.bootstrap, topic))
    victim = next(node for node in kafka_cluster.nodes if node.node_id == leader)
    victim.kill()
    try:
        assert len(lines()) < total, "the kill must land mid-stream"
        wait_until(lambda: len(lines()) >= 12_000, timeout=120, what="the stream to go on")
    finally:
        victim.start()
    kafka_cluster.wait_ready()
    wait_until(
        lambda: {int(x) for x in lines()} >= set(range(total)),
        timeout=180,
        what="every number after the broker came back",
    )
    written = [int(x) for x in lines()]
    print(
        f"broker {leader} of 3 killed: {total} numbers, {len(written)} lines, "
        f"{len(written) - len(set(written))} duplicates"
    )
    assert set(written) == set(range(total))
