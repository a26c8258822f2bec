"""MirrorMaker 2's connectors between two real Kafka clusters.

The session's broker is the source cluster; a second single-node cluster, started for this
module, is the target, where the workers run (MM2's connectors write to the worker's cluster).
Records are compared byte for byte (key, value, headers, timestamp, partition), read with
``read_committed``.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from faust_connect.agents.connectors.mirror import Heartbeat, translate_offsets
from tests.conftest import Broker
from tests.kafka_server import KafkaCluster
from tests.workers import Worker, WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

MIRROR = "org.apache.kafka.connect.mirror"
BYTES = "org.apache.kafka.connect.converters.ByteArrayConverter"
CONVERTERS = {"key.converter": BYTES, "value.converter": BYTES, "header.converter": BYTES}
EXACTLY_ONCE = {
    "CONNECT_EXACTLY_ONCE_SOURCE_SUPPORT": "enabled",
    "CONNECT_SESSION_TIMEOUT_MS": "6000",
    "CONNECT_HEARTBEAT_INTERVAL_MS": "1000",
    "CONNECT_REBALANCE_TIMEOUT_MS": "6000",
}
#: One record as compared: key, value, headers, timestamp.
Rec = tuple[bytes | None, bytes | None, tuple[tuple[str, bytes], ...], int]


def _uid() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[KafkaCluster]:
    """The target cluster: one more Kafka node, for this module only."""
    cluster = KafkaCluster(tmp_path_factory.mktemp("kafka-target"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def worker(target: KafkaCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """An exactly-once worker on the target cluster, shared by the tests that do not kill it."""
    factory = WorkerFactory(tmp_path_factory.mktemp("mirror-worker"))
    try:
        yield factory.start("faust_connect.app", bootstrap=target.bootstrap, env=EXACTLY_ONCE)
    finally:
        factory.stop_all()


def mirror(kind: str, source: str, target: str, **extra: str) -> dict[str, str]:
    """A config of MM2 connector ``kind`` from ``src`` (``source``) to ``dst`` (``target``)."""
    return {
        "connector.class": f"{MIRROR}.Mirror{kind}Connector",
        "source.cluster.alias": "src",
        "target.cluster.alias": "dst",
        "source.cluster.bootstrap.servers": source,
        "target.cluster.bootstrap.servers": target,
        "replication.factor": "1",
        "offset-syncs.topic.replication.factor": "1",
        "checkpoints.topic.replication.factor": "1",
        "heartbeats.topic.replication.factor": "1",
        **CONVERTERS,
        **extra,
    }


async def _create(bootstrap: str, topic: str, partitions: int, **configs: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1, topic_configs=configs)])
    except TopicAlreadyExistsError:
        pass  # heartbeats: another run's
    finally:
        await admin.close()


def _record(i: int) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """Record ``i``: keys sometimes absent, values sometimes tombstones, bytes of every value."""
    key = None if i % 7 == 0 else f"key-{i}".encode()
    value = (
        None
        if i % 11 == 0 and key is not None
        else bytes([i % 256, 0xFF, 0x00]) + f"value-{i}".encode()
    )
    headers = [("seq", str(i).encode()), ("raw", bytes([0x80, i % 256])), ("empty", b"")]
    return key, value, headers if i % 5 else []


async def _produce(bootstrap: str, topic: str, start: int, count: int, partitions: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = []
        for i in range(start, start + count):
            key, value, headers = _record(i)
            futures.append(
                await producer.send(
                    topic, value, key=key, headers=headers, partition=i % partitions
                )
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _read(bootstrap: str, topic: str) -> dict[int, list[Any]]:
    """Every committed record of ``topic`` now, by partition."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        numbers = (await client.fetch_all_metadata()).partitions_for_topic(topic) or set()
    finally:
        await client.close()
    tps = [TopicPartition(topic, p) for p in sorted(numbers)]
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: dict[int, list[Any]] = {tp.partition: [] for tp in tps}
        deadline = time.monotonic() + 30
        while any([await consumer.position(tp) < end[tp] for tp in tps]):
            assert time.monotonic() < deadline, f"could not read {topic} to {end}"
            for tp, records in (await consumer.getmany(timeout_ms=300)).items():
                out[tp.partition].extend(r for r in records if r.offset < end[tp])
        return out
    finally:
        await consumer.stop()


def _comparable(records: Mapping[int, list[Any]]) -> dict[int, list[Rec]]:
    return {
        p: [(r.key, r.value, tuple(r.headers), r.timestamp) for r in rs]
        for p, rs in records.items()
    }


def _count(bootstrap: str, topic: str) -> int:
    return sum(len(rs) for rs in asyncio.run(_read(bootstrap, topic)).values())


class _Feeder(threading.Thread):
    """Produces ``total`` records to the source, ``batch`` every ``pause`` seconds."""

    def __init__(self, bootstrap: str, topic: str, total: int, partitions: int) -> None:
        super().__init__(daemon=True)
        self.args = bootstrap, topic, total, partitions
        self.produced = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        bootstrap, topic, total, partitions = self.args
        try:
            while self.produced < total:
                count = min(200, total - self.produced)
                asyncio.run(_produce(bootstrap, topic, self.produced, count, partitions))
                self.produced += count
                time.sleep(0.05)
        except BaseException as exc:  # reported by the test
            self.error = exc


def test_exactly_once_mirror_survives_a_kill_9_record_for_record(
    broker: Broker, target: KafkaCluster, tmp_path: Path
) -> None:
    """The acceptance of issue 17: a worker killed mid-copy, restarted; the target topic equals
    the source topic record for record (nothing twice, nothing missing)."""
    topic, total, partitions = f"orders-{_uid()}", 6_000, 3
    asyncio.run(_create(broker.bootstrap, topic, partitions))
    workers = WorkerFactory(tmp_path)
    group = f"mm2-{_uid()}"
    try:
        first = workers.start(
            "faust_connect.app", bootstrap=target.bootstrap, group_id=group, env=EXACTLY_ONCE
        )
        feeder = _Feeder(broker.bootstrap, topic, total, partitions)
        feeder.start()
        first.rest.create(
            "mirror",
            mirror(
                "Source",
                broker.bootstrap,
                target.bootstrap,
                topics=topic,
                **{
                    "tasks.max": "2",
                    "exactly.once.support": "required",
                    "source.consumer.isolation.level": "read_committed",
                    "consumer.max.poll.records": "100",
                },
            ),
        )
        remote = f"src.{topic}"
        wait_until(lambda: _count(target.bootstrap, remote) >= 1500, timeout=60, what="copying")
        first.kill()
        copied_at_kill = _count(target.bootstrap, remote)
        assert copied_at_kill < total, "the kill must land mid-copy"
        workers.start(
            "faust_connect.app", bootstrap=target.bootstrap, group_id=group, env=EXACTLY_ONCE
        )
        feeder.join(120)
        assert feeder.error is None and feeder.produced == total
        wait_until(
            lambda: _count(target.bootstrap, remote) >= total, timeout=90, what="the whole topic"
        )
        source = _comparable(asyncio.run(_read(broker.bootstrap, topic)))
        mirrored = _comparable(asyncio.run(_read(target.bootstrap, remote)))
        assert sum(map(len, source.values())) == total
        for p in range(partitions):
            assert mirrored[p] == source[p], f"partition {p} differs"
        print(f"mirrored {total} records; {copied_at_kill} before the kill -9")
    finally:
        workers.stop_all()


def test_a_group_switched_to_the_target_reads_each_record_once(
    broker: Broker, target: KafkaCluster, worker: Worker
) -> None:
    """Checkpoints and synced group offsets: the group goes on, on the target, where it left
    off on the source, with no record twice and none skipped."""
    topic, group, partitions = f"pay-{_uid()}", f"billing-{_uid()}", 2
    asyncio.run(_create(broker.bootstrap, topic, partitions))
    name, remote = f"mirror-{_uid()}", f"src.{topic}"
    worker.rest.create(
        name,
        mirror(
            "Source", broker.bootstrap, target.bootstrap, topics=topic, **{"offset.lag.max": "0"}
        ),
    )
    # Three rounds, each copied in transactions of its own: the commit markers between them
    # put the remote offsets behind the source's, so translation has something to do.
    total = 0
    for _ in range(3):
        asyncio.run(_produce(broker.bootstrap, topic, total, 200, partitions))
        total += 200
        wait_until(
            lambda n=total: _count(target.bootstrap, remote) >= n, timeout=60, what="a round"
        )
    committed = {TopicPartition(topic, 0): 150, TopicPartition(topic, 1): 250}
    asyncio.run(_commit(broker.bootstrap, group, committed))
    worker.rest.create(
        f"{name}-cp",
        mirror(
            "Checkpoint",
            broker.bootstrap,
            target.bootstrap,
            groups=group,
            topics=topic,
            **{
                "emit.checkpoints.interval.seconds": "0.5",
                "sync.group.offsets.enabled": "true",
                "sync.group.offsets.interval.seconds": "0.5",
            },
        ),
    )

    def translated() -> dict[TopicPartition, OffsetAndMetadata]:
        offsets = asyncio.run(
            translate_offsets({"bootstrap.servers": target.bootstrap}, "src", group)
        )
        return offsets if len(offsets) == partitions else {}

    offsets = wait_until(translated, timeout=60, what="checkpoints of the group")
    source = asyncio.run(_read(broker.bootstrap, topic))
    mirrored = asyncio.run(_read(target.bootstrap, remote))
    assert any(
        offsets[TopicPartition(remote, tp.partition)].offset != o for tp, o in committed.items()
    )
    for tp, upstream in committed.items():
        remote_tp = TopicPartition(remote, tp.partition)
        before = [r.value for r in source[tp.partition] if r.offset < upstream]
        after = [r.value for r in mirrored[tp.partition] if r.offset >= offsets[remote_tp].offset]
        assert before + after == [r.value for r in source[tp.partition]], tp
    # sync.group.offsets.enabled: the target's own group offsets are the same translation
    synced = wait_until(
        lambda: (
            (o := asyncio.run(_group_offsets(target.bootstrap, group)))
            and len(o) == partitions
            and o
        ),
        timeout=60,
        what="the group's offsets on the target",
    )
    assert {tp: o.offset for tp, o in synced.items()} == {tp: o.offset for tp, o in offsets.items()}


async def _commit(bootstrap: str, group: str, offsets: Mapping[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
    finally:
        await consumer.stop()


async def _group_offsets(bootstrap: str, group: str) -> dict[TopicPartition, OffsetAndMetadata]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()


async def _raw(bootstrap: str, topic: str) -> list[Any]:
    return [r for rs in (await _read(bootstrap, topic)).values() for r in rs]


def test_heartbeats_appear(broker: Broker, target: KafkaCluster, worker: Worker) -> None:
    """MirrorHeartbeatConnector writes a heartbeat per interval to ``heartbeats``."""
    worker.rest.create(
        f"beat-{_uid()}",
        mirror(
            "Heartbeat",
            broker.bootstrap,
            target.bootstrap,
            **{"emit.heartbeats.interval.seconds": "0.2"},
        ),
    )
    beats = wait_until(
        lambda: len(b := asyncio.run(_raw(target.bootstrap, "heartbeats"))) >= 3 and b,
        timeout=30,
        what="three heartbeats",
    )
    decoded = [Heartbeat.decode(r.key, r.value) for r in beats]
    assert {(h.source_alias, h.target_alias) for h in decoded} == {("src", "dst")}
    stamps = [h.timestamp for h in decoded]
    assert stamps == sorted(stamps)
    assert [r.timestamp for r in beats] == stamps  # the record is stamped with its heartbeat


def test_topic_filter_and_both_replication_policies(
    broker: Broker, target: KafkaCluster, worker: Worker
) -> None:
    base = f"flt-{_uid()}"
    for suffix in ("a", "b", "skip"):
        asyncio.run(_create(broker.bootstrap, f"{base}-{suffix}", 2, **{"retention.ms": "3600000"}))
        asyncio.run(_produce(broker.bootstrap, f"{base}-{suffix}", 0, 20, 2))
    # a heartbeat on the source: heartbeats topics are mirrored whatever the topic filter
    beat = Heartbeat("upstream", "src", 1234)
    asyncio.run(_create(broker.bootstrap, "heartbeats", 1, **{"cleanup.policy": "compact"}))
    asyncio.run(_produce_one(broker.bootstrap, "heartbeats", beat.key(), beat.value()))
    common = {"topics": f"{base}-.*", "topics.exclude": f"{base}-skip"}
    worker.rest.create(
        f"{base}-id",
        mirror(
            "Source",
            broker.bootstrap,
            target.bootstrap,
            **common,
            **{"replication.policy.class": f"{MIRROR}.IdentityReplicationPolicy"},
        ),
    )
    worker.rest.create(
        f"{base}-default",
        mirror(
            "Source",
            broker.bootstrap,
            target.bootstrap,
            **common,
            # "-", not "_": Kafka refuses names that differ only in "." against "_", and the
            # identity connector makes src.heartbeats; its own target alias, for its own
            # offset-syncs topic
            **{"replication.policy.separator": "-", "target.cluster.alias": "east"},
        ),
    )
    wanted = [f"{base}-a", f"{base}-b", f"src-{base}-a", f"src-{base}-b"]
    for topic in wanted:
        wait_until(lambda t=topic: _count(target.bootstrap, t) >= 20, timeout=60, what=topic)
    for remote_beats in ("src.heartbeats", "src-heartbeats"):  # identity prefixes them too
        found = wait_until(
            lambda t=remote_beats: asyncio.run(_raw(target.bootstrap, t)),
            timeout=60,
            what=remote_beats,
        )
        assert beat in [Heartbeat.decode(r.key, r.value) for r in found]
    names = asyncio.run(_topics(target.bootstrap))
    assert not [n for n in names if n.endswith(f"{base}-skip")], names
    assert _comparable(asyncio.run(_read(target.bootstrap, f"src-{base}-a"))) == _comparable(
        asyncio.run(_read(broker.bootstrap, f"{base}-a"))
    )
    # sync.topic.configs.enabled: the remote topics were created with the source's settings
    configs = asyncio.run(_retention(target.bootstrap, [f"{base}-a", f"src-{base}-b"]))
    assert configs == {f"{base}-a": "3600000", f"src-{base}-b": "3600000"}


async def _produce_one(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def _topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await admin.list_topics()
    finally:
        await admin.close()


async def _retention(bootstrap: str, topics: list[str]) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        out = {}
        resources = [
            ConfigResource(ConfigResourceType.TOPIC, t, {"retention.ms": None}) for t in topics
        ]
        for response in await admin.describe_configs(resources):
            for resource in response.resources:
                out[resource[3]] = {e[0]: e[1] for e in resource[4]}["retention.ms"]
        return out
    finally:
        await admin.close()


def test_bad_configs_are_refused_at_create(
    broker: Broker, target: KafkaCluster, worker: Worker
) -> None:
    cases = [
        ({"source.cluster.alias": ""}, "source.cluster.alias"),
        ({"topics": "orders-(("}, "topics"),
        ({"replication.policy.class": "com.example.Nope"}, "replication.policy.class"),
        ({"offset-syncs.topic.location": "elsewhere"}, "offset-syncs.topic.location"),
        ({"exactly.once.support": "required"}, "exactly.once.support"),
    ]
    for change, key in cases:
        config = {**mirror("Source", broker.bootstrap, target.bootstrap), **change}
        status, body = worker.rest.call(
            "POST", "/connectors", {"name": f"bad-{_uid()}", "config": config}
        )
        assert status == 400 and body["error_code"] == 400, (change, status, body)
        assert body["message"].startswith(
            "Connector configuration is invalid and contains the following"
        ), body
        assert key in body["message"], (key, body["message"])
    config = mirror(
        "Checkpoint", broker.bootstrap, target.bootstrap, **{"emit.checkpoints.enabled": "false"}
    )
    status, body = worker.rest.call("POST", "/connectors", {"name": "bad-cp", "config": config})
    assert (
        status == 400 and "can't run with emit.checkpoints.enabled set to false" in body["message"]
    )
    config = mirror("Source", broker.bootstrap, "")
    status, body = worker.rest.call("POST", "/connectors", {"name": "bad-target", "config": config})
    assert status == 400 and "target.cluster.bootstrap.servers" in body["message"]
