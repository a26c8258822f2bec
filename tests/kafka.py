"""Raw Kafka helpers for tests, on aiokafka against the real broker."""

from __future__ import annotations

import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.structs import ConsumerRecord, TopicPartition

Raw = tuple[bytes | None, bytes | None]


async def produce(
    bootstrap: str,
    topic: str,
    records: Iterable[Raw],
    *,
    headers: list[tuple[str, bytes]] | None = None,
    partition: int | None = None,
) -> int:
    """Send raw ``(key, value)`` pairs and wait for every ack; returns how many were sent."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    count = 0
    try:
        batch = []
        for key, value in records:
            batch.append(
                await producer.send(topic, value, key=key, headers=headers, partition=partition)
            )
            count += 1
        for future in batch:
            await future
    finally:
        await producer.stop()
    return count


async def consume(
    bootstrap: str, topic: str, count: int, *, timeout: float = 30.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``count`` records from the start of ``topic`` (no group); fewer if time runs out."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                out.extend(records)
    finally:
        await consumer.stop()
    return out


async def partitions_of(bootstrap: str, topic: str) -> list[TopicPartition]:
    """``topic``'s partitions, freshly looked up (a consumer's own metadata knows only the
    topics it subscribes to)."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        cluster = await client.fetch_all_metadata()
    finally:
        await client.close()
    return [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())]
