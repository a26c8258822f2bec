"""Kafka's ``RemoteClusterUtils`` for Python: a group's offsets on the target, from checkpoints.

A consumer group that read ``orders`` on cluster ``us-west`` moves to the target like this::

    offsets = await translate_offsets(
        {"bootstrap.servers": "target:9092"}, "us-west", "billing"
    )
    consumer = AIOKafkaConsumer(bootstrap_servers="target:9092", group_id="billing", ...)
    await consumer.start()
    consumer.assign(list(offsets))
    for tp, position in offsets.items():
        consumer.seek(tp, position.offset)

The offsets are keyed by the remote partitions (``us-west.orders`` with the default policy).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka.structs import OffsetAndMetadata, TopicPartition

from faust_connect.agents.connectors.mirror.checkpoint import read_to_end
from faust_connect.agents.connectors.mirror.clients import new_consumer
from faust_connect.agents.connectors.mirror.policy import DefaultReplicationPolicy
from faust_connect.agents.connectors.mirror.wire import Checkpoint, WireError

__all__ = ["translate_offsets"]


async def translate_offsets(
    target: Mapping[str, str],
    remote_cluster_alias: str,
    group: str,
    *,
    policy: DefaultReplicationPolicy | None = None,
    timeout: float = 60.0,
) -> dict[TopicPartition, OffsetAndMetadata]:
    """``group``'s latest checkpointed offsets on the target cluster, per remote partition.

    ``target`` holds the target cluster's client keys (``bootstrap.servers``, security);
    ``remote_cluster_alias`` is the source cluster's alias (whose checkpoints topic is read).
    """
    config = {f"target.cluster.{k}": v for k, v in target.items()}
    topic = (policy or DefaultReplicationPolicy()).checkpoints_topic(remote_cluster_alias)
    consumer = new_consumer(config, "target")
    await consumer.start()
    try:
        records = await read_to_end(consumer, TopicPartition(topic, 0), timeout=timeout)
    finally:
        await consumer.stop()
    out: dict[TopicPartition, OffsetAndMetadata] = {}
    for record in records:
        try:
            cp = Checkpoint.decode(record.key, record.value)
        except WireError:
            continue
        if cp.group == group:
            out[TopicPartition(cp.topic, cp.partition)] = OffsetAndMetadata(
                cp.downstream_offset, cp.metadata
            )
    return out
