"""Kafka's ``test_bounce``, black-box on real Kafka: three workers bounced in turn under load.

As ``connect_distributed_test.py`` in apache/kafka: a verifiable source and a verifiable sink
with three tasks each run on three workers; each worker in turn is stopped (SIGTERM) or killed
(SIGKILL) and started again, three rounds. Then every source task's numbers must be in the topic
and at the sink without a gap; after clean bounces exactly once, after hard ones at least once
(duplicates counted and printed). With exactly-once sources on (KIP-618), hard bounces too leave
every number exactly once in the topic as a ``read_committed`` reader sees it, after each round.
With 1 % poison records (bytes the sink's JsonConverter cannot read) written into the topic
beside the numbers, hard bounces lose no good record and put every bad one in the dead letter
queue.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.conftest import Broker
from tests.kafka import partitions_of
from tests.workers import Worker, WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ROUNDS = 3
TASKS = 3
THROUGHPUT = 100  # records per second per source task
FAST_GROUP = {
    "CONNECT_SESSION_TIMEOUT_MS": "6000",
    "CONNECT_HEARTBEAT_INTERVAL_MS": "1000",
    "CONNECT_REBALANCE_TIMEOUT_MS": "6000",
}
CONVERTERS = {
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "key.converter.schemas.enable": "false",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
}
POISON = b"not json "


class _Poisoner(threading.Thread):
    """Writes numbered poison records into ``topic`` at ``rate`` per second until stopped."""

    def __init__(self, bootstrap: str, topic: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.interval = bootstrap, topic, 1 / rate
        self.sent: list[bytes] = []
        self.done = threading.Event()

    def run(self) -> None:
        asyncio.run(self._produce())

    async def _produce(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
        await producer.start()
        try:
            while not self.done.is_set():
                value = POISON + str(len(self.sent)).encode()
                await producer.send_and_wait(self.topic, value)
                self.sent.append(value)
                await asyncio.sleep(self.interval)  # the rate, not a wait for a condition
        finally:
            await producer.stop()


async def _values(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[bytes] = []
    try:
        quiet = 0
        while quiet < 4:
            batches = await consumer.getmany(timeout_ms=500)
            quiet = 0 if batches else quiet + 1
            out.extend(r.value or b"" for records in batches.values() for r in records)
    finally:
        await consumer.stop()
    return out


def _running(worker: Worker, name: str) -> bool:
    status, body = worker.rest.call("GET", f"/connectors/{name}/status")
    tasks = body.get("tasks", []) if status == 200 else []
    return len(tasks) == TASKS and all(t["state"] == "RUNNING" for t in tasks)


async def _topic_seqnos(
    bootstrap: str, topic: str, isolation: str = "read_uncommitted"
) -> dict[int, list[int]]:
    """task -> every seqno in ``topic`` up to its end as of the call (the last stable offset
    with ``read_committed``), in offset order."""
    partitions = await partitions_of(bootstrap, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level=isolation
    )
    await consumer.start()
    out: dict[int, list[int]] = collections.defaultdict(list)
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                for r in records:
                    if r.offset >= ends[tp] or (r.value or b"").startswith(POISON):
                        continue
                    out[int(orjson.loads(r.key or b"0"))].append(int(orjson.loads(r.value or b"0")))
    finally:
        await consumer.stop()
    return out


def _reports(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


def _check(seqnos: dict[int, list[int]], what: str, *, exactly_once: bool) -> int:
    """No gap for any task (and no duplicate with ``exactly_once``); returns the duplicates."""
    assert sorted(seqnos) == list(range(TASKS)), f"{what}: tasks {sorted(seqnos)}"
    duplicates = 0
    for task, numbers in seqnos.items():
        distinct = set(numbers)
        assert distinct == set(range(max(distinct) + 1)), f"{what}: task {task} has gaps"
        duplicates += len(numbers) - len(distinct)
    if exactly_once:
        assert duplicates == 0, f"{what}: {duplicates} duplicates"
    return duplicates


@pytest.mark.timeout(600)  # nine bounces, each a worker start (~10-30 s on 2 busy cores)
@pytest.mark.parametrize("mode", ["clean", "hard", "hard-exactly-once", "hard-poison"])
def test_bounce(broker: Broker, workers: WorkerFactory, tmp_path: Path, mode: str) -> None:
    group, topic = f"bounce-{uuid.uuid4().hex[:8]}", f"verifiable-{uuid.uuid4().hex[:8]}"
    sink_report = tmp_path / "sink.jsonl"
    source_report = tmp_path / "source.jsonl"
    clean, exactly_once = mode == "clean", mode.endswith("exactly-once")
    env = {
        **FAST_GROUP,
        **({"CONNECT_EXACTLY_ONCE_SOURCE_SUPPORT": "enabled"} if exactly_once else {}),
    }
    isolation = "read_committed" if exactly_once else "read_uncommitted"
    poisoned, dlq = mode.endswith("poison"), f"dlq-{uuid.uuid4().hex[:8]}"

    def start() -> Worker:
        return workers.start(
            "tests.apps.worker", bootstrap=broker.bootstrap, group_id=group, env=env
        )

    live = [start() for _ in range(3)]

    def create(name: str, config: dict[str, str]) -> None:
        # 409 while the group settles (no leader known yet): Kafka Connect's clients retry too
        answers: list[tuple[int, Any]] = []

        def created() -> bool:
            answers.append(
                live[0].rest.call("POST", "/connectors", {"name": name, "config": config})
            )
            return answers[-1][0] in (201, 409) and name in live[0].rest.get("/connectors")

        try:
            wait_until(created, timeout=90, what=f"{name} created")
        except AssertionError:
            raise AssertionError(f"{name} not created; last answers {answers[-3:]}") from None

    create(
        "source",
        {
            "connector.class": "org.apache.kafka.connect.tools.VerifiableSourceConnector",
            "tasks.max": str(TASKS),
            "topic": topic,
            "throughput": str(THROUGHPUT),
            "file": str(source_report),
            **CONVERTERS,
        },
    )
    create(
        "sink",
        {
            "connector.class": "org.apache.kafka.connect.tools.VerifiableSinkConnector",
            "tasks.max": str(TASKS),
            "topics": topic,
            "file": str(sink_report),
            **CONVERTERS,
            **({"consumer.override.isolation.level": isolation} if exactly_once else {}),
            **(
                {
                    "errors.tolerance": "all",
                    "errors.deadletterqueue.topic.name": dlq,
                    "errors.deadletterqueue.topic.replication.factor": "1",
                }
                if poisoned
                else {}
            ),
        },
    )
    for name in ("source", "sink"):
        wait_until(lambda n=name: _running(live[0], n), timeout=90, what=f"{name} running")

    poisoner = _Poisoner(broker.bootstrap, topic, rate=0.01 * THROUGHPUT * TASKS)
    if poisoned:
        poisoner.start()
    for _ in range(ROUNDS):
        for index in range(len(live)):
            worker = live[index]
            if clean:
                assert worker.stop() == 0
            else:
                worker.kill()
            live[index] = start()
            other = live[(index + 1) % len(live)]
            for name in ("source", "sink"):
                wait_until(
                    lambda n=name, w=other: _running(w, n),
                    timeout=120,
                    what=f"{name} after a bounce",
                )
        if exactly_once:  # every committed number once, no gap, after each round
            _check(
                asyncio.run(_topic_seqnos(broker.bootstrap, topic, isolation)),
                "topic after a round",
                exactly_once=True,
            )

    poisoner.done.set()
    if poisoned:
        poisoner.join()
    wait_until(
        lambda: live[0].rest.call("PUT", "/connectors/source/stop")[0] == 204,
        timeout=60,
        what="the source stopped (409 while a rebalance settles)",
    )
    committed = wait_until(
        lambda: (r := _reports(source_report)) and [x for x in r if x.get("committed")],
        what="source commits",
    )
    last = {t: max(x["seqno"] for x in committed if x["task"] == t) for t in range(TASKS)}

    def sink_caught_up() -> bool:
        flushed = [x for x in _reports(sink_report) if x.get("flushed")]
        seen = collections.defaultdict(set)
        for x in flushed:
            seen[int(x["task"])].add(int(x["seqno"]))
        return all(seen[t] >= set(range(last[t] + 1)) for t in range(TASKS))

    wait_until(sink_caught_up, timeout=120, what="the sink to flush every committed number")

    in_topic = asyncio.run(_topic_seqnos(broker.bootstrap, topic, isolation))
    topic_dups = _check(in_topic, "topic", exactly_once=clean or exactly_once)
    flushed: dict[int, list[int]] = collections.defaultdict(list)
    for x in _reports(sink_report):
        if x.get("flushed") and int(x["seqno"]) <= last[int(x["task"])]:
            flushed[int(x["task"])].append(int(x["seqno"]))
    sink_dups = _check(flushed, "sink", exactly_once=clean)
    total = sum(len(set(v)) for v in in_topic.values())
    dead = ""
    if poisoned:
        sent = set(poisoner.sent)
        wait_until(
            lambda: set(asyncio.run(_values(broker.bootstrap, dlq))) >= sent,
            timeout=60,
            what="every poison record in the dead letter queue",
        )
        in_dlq = asyncio.run(_values(broker.bootstrap, dlq))
        assert set(in_dlq) == sent, "only the poison records are dead letters"
        dead = f", {len(sent)} poison records all in the DLQ ({len(in_dlq)} dead letters)"
    print(
        f"bounce ({mode}): {total} numbers, "
        f"{topic_dups} duplicates in the topic, {sink_dups} flushed twice by the sink{dead}"
    )
