"""A sink connector's offsets: its consumer group's committed offsets (KIP-875 shapes).

Partitions are ``{"kafka_topic": t, "kafka_partition": p}`` and offsets
``{"kafka_offset": o}``. Altering commits to the group (the connector is stopped, so no task
holds it); a null offset, and a reset, rewind that partition to its beginning — what a
consumer of a deleted group does with ``auto.offset.reset=earliest``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiokafka.structs import TopicPartition

from faust_connect.agents.runtime.sink import sink_group
from faust_connect.exceptions import BadRequest

if TYPE_CHECKING:
    from faust_connect.app.clients import Clients

__all__ = ["alter_sink_offsets", "reset_sink_offsets", "sink_group", "sink_offsets"]


async def sink_offsets(clients: Clients, group: str) -> list[dict[str, Any]]:
    """The group's committed offsets, sorted by topic and partition."""
    admin = clients.admin()
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return [
        {
            "partition": {"kafka_topic": tp.topic, "kafka_partition": tp.partition},
            "offset": {"kafka_offset": meta.offset},
        }
        for tp, meta in sorted(committed.items(), key=lambda kv: (kv[0].topic, kv[0].partition))
        if meta.offset >= 0
    ]


def _parse(entry: Mapping[str, Any]) -> tuple[TopicPartition, int | None]:
    partition = entry.get("partition") or {}
    topic, number = partition.get("kafka_topic"), partition.get("kafka_partition")
    if not isinstance(topic, str) or not isinstance(number, int):
        raise BadRequest(
            'Sink connector partitions must be {"kafka_topic": <string>, '
            f'"kafka_partition": <int>}}, not {partition!r}'
        )
    offset = entry.get("offset")
    if offset is None:
        return TopicPartition(topic, number), None
    value = offset.get("kafka_offset") if isinstance(offset, Mapping) else None
    if not isinstance(value, int) or value < 0:
        raise BadRequest(
            f'Sink connector offsets must be {{"kafka_offset": <int >= 0>}}, not {offset!r}'
        )
    return TopicPartition(topic, number), value


async def alter_sink_offsets(
    clients: Clients, group: str, entries: Sequence[Mapping[str, Any]]
) -> None:
    """Commit the given offsets for the group; a null offset rewinds that partition."""
    wanted = dict(_parse(entry) for entry in entries)
    await _commit(clients, group, wanted)


async def reset_sink_offsets(clients: Clients, group: str) -> None:
    """Rewind every partition the group has committed to its beginning."""
    current = await sink_offsets(clients, group)
    wanted: dict[TopicPartition, int | None] = {
        TopicPartition(e["partition"]["kafka_topic"], e["partition"]["kafka_partition"]): None
        for e in current
    }
    await _commit(clients, group, wanted)


async def _commit(
    clients: Clients, group: str, wanted: Mapping[TopicPartition, int | None]
) -> None:
    if not wanted:
        return
    consumer = clients.consumer(group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(wanted))
        rewind = [tp for tp, offset in wanted.items() if offset is None]
        beginnings = await consumer.beginning_offsets(rewind) if rewind else {}
        offsets = {
            tp: offset if offset is not None else beginnings[tp] for tp, offset in wanted.items()
        }
        await consumer.commit(offsets)
    finally:
        await consumer.stop()
