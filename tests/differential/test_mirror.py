"""MirrorSourceConnector on both workers: one source topic mirrored by each, compared.

Source and target are the session's broker for both sides (MM2 may mirror a cluster into
itself); each side uses its own cluster aliases (``source.cluster.alias`` is the side's topic
name, so its remote topic is ``<side name>.<source topic>``), hence its own remote topic and its
own offset-syncs topic. Compared byte for byte: every record's remote topic (side name masked),
partition, key, value, headers and timestamp type, and beyond :mod:`compare`'s snapshot the
timestamps and offsets too (MM2 keeps the source's timestamps; with no transactions on either
side each remote record sits at its source offset). Masked, by nature: the side's name only. Heartbeats replication is off on both
sides: other tests' ``heartbeats`` topics on the shared broker would be mirrored as they appear.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.differential.compare import Side, diff, read_topics, run_source, unique

pytestmark = [pytest.mark.differential, pytest.mark.kafka, pytest.mark.slow]

BYTES = "org.apache.kafka.connect.converters.ByteArrayConverter"
COUNT, PARTITIONS = 60, 3


async def _feed(bootstrap: str, topic: str) -> None:
    """``COUNT`` records of every shape into a new ``topic``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        futures = []
        for i in range(COUNT):
            key = None if i % 4 == 0 else f"k{i}".encode()
            value = None if i % 9 == 0 and key is not None else bytes([0xC3, i, 0x00]) + b"v" * i
            headers = [("h", bytes([0xFF, i])), ("empty", b""), ("h", b"again")] if i % 3 else []
            futures.append(
                await producer.send(
                    topic, value, key=key, headers=headers, partition=i % PARTITIONS
                )
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def test_mirrored_records_and_headers_are_the_same(sides: tuple[Side, Side]) -> None:
    base = unique("mm")
    source_topic = f"{base}-in"
    jvm_side = sides[0]
    asyncio.run(_feed(jvm_side.bootstrap, source_topic))
    config = {
        "connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector",
        "tasks.max": "1",
        "source.cluster.alias": "{topic}",
        "target.cluster.alias": "{topic}-dst",
        "source.cluster.bootstrap.servers": jvm_side.bootstrap,
        "target.cluster.bootstrap.servers": jvm_side.bootstrap,
        "topics": source_topic,
        "replication.factor": "1",
        "offset-syncs.topic.replication.factor": "1",
        "sync.topic.acls.enabled": "false",
        # heartbeats topics are mirrored whatever the filter: other tests' on the shared broker
        # (and each side's remote copies of them) would come and go with their timing
        "heartbeats.replication.enabled": "false",
        "key.converter": BYTES,
        "value.converter": BYTES,
        "header.converter": BYTES,
    }
    jvm, ours = run_source(sides, base, config, COUNT, timeout=120)
    assert [r[0] for r in jvm[:1]] == [f"{{topic}}.{source_topic}"]
    assert ours == jvm, diff(jvm, ours)
    fed = asyncio.run(read_topics(jvm_side.bootstrap, source_topic))[source_topic]
    stamps = sorted((r.partition, r.offset, r.timestamp) for r in fed)
    for side in sides:
        remote = f"{side.topic(base)}.{source_topic}"
        written = asyncio.run(read_topics(side.bootstrap, remote))[remote]
        assert sorted((r.partition, r.offset, r.timestamp) for r in written) == stamps, side.name
