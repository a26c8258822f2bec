"""Kafka Connect's source offset format, shared by the source runner and the offset table."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

__all__ = ["offset_key", "parse_offset_key", "read_offsets"]


def offset_key(connector: str, partition: Mapping[str, Any]) -> bytes:
    """Kafka Connect's offset key: ``["<connector>",{partition}]`` (keys sorted, so stable)."""
    return orjson.dumps([connector, dict(partition)], option=orjson.OPT_SORT_KEYS)


def parse_offset_key(key: bytes) -> tuple[str, dict[str, Any]]:
    """``(connector, source partition)`` of an offset key."""
    connector, partition = orjson.loads(key)
    return connector, partition


async def read_offsets(
    consumer: Callable[..., AIOKafkaConsumer], partitions: Sequence[TopicPartition], connector: str
) -> dict[bytes, dict[str, Any]]:
    """A connector's offsets in ``partitions`` (every partition of its offsets topic, looked up
    fresh by the caller: a consumer's own metadata knows only the topics it subscribes to),
    read to their end with ``read_committed`` (what an aborted transaction wrote is never
    seen); ``consumer`` makes the consumer."""
    if not partitions:
        return {}
    reader = consumer(isolation_level="read_committed", enable_auto_commit=False, group_id=None)
    await reader.start()
    try:
        tps = list(partitions)
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        ends = await reader.end_offsets(tps)  # the last stable offset, in read_committed
        offsets: dict[bytes, dict[str, Any]] = {}
        while [tp for tp, end in ends.items() if await reader.position(tp) < end]:
            batches = await reader.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.key is None or parse_offset_key(record.key)[0] != connector:
                        continue
                    if record.value is None:
                        offsets.pop(record.key, None)
                    else:
                        offsets[record.key] = dict(orjson.loads(record.value))
        return offsets
    finally:
        await reader.stop()
