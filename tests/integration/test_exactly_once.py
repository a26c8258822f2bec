"""Exactly-once sources (KIP-618) on real Kafka: records and offsets in one transaction.

With ``exactly.once.source.support=enabled`` a task's records and its offsets commit together,
so a ``read_committed`` reader sees every record once however the worker dies; a zombie (a
worker that lost its task but still runs) is fenced by the new owner's producer.
"""

from __future__ import annotations

import asyncio
import collections
import signal
import uuid
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from faust_connect.agents.runtime.offsets import offset_key, read_offsets
from tests.conftest import Broker
from tests.kafka import partitions_of
from tests.workers import Worker, WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

EXACTLY_ONCE = {
    "CONNECT_EXACTLY_ONCE_SOURCE_SUPPORT": "enabled",
    "CONNECT_SESSION_TIMEOUT_MS": "6000",
    "CONNECT_HEARTBEAT_INTERVAL_MS": "1000",
    "CONNECT_REBALANCE_TIMEOUT_MS": "6000",
}
STRINGS = {
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.storage.StringConverter",
}


def _uid() -> str:
    return uuid.uuid4().hex[:8]


async def _committed(bootstrap: str, topic: str, *, timeout: float = 10.0) -> list[int]:
    """Every value in ``topic`` a ``read_committed`` reader sees, as numbers."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    values: list[int] = []
    try:
        idle_until = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < idle_until:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                values.extend(int(r.value or b"") for r in records)
                idle_until = asyncio.get_running_loop().time() + 3
    finally:
        await consumer.stop()
    return values


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 7]`` as ``1-3, 7``."""
    out: list[str] = []
    for n in sorted(numbers):
        if out and int(out[-1].rpartition("-")[2]) == n - 1:
            out[-1] = f"{out[-1].partition('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ", ".join(out)


def _not_once(values: list[int], total: int, *workers: Worker) -> str:
    """Why ``values`` is not every number below ``total`` once: the numbers seen twice and
    missing (as ranges), and where each worker's tasks said they resume."""
    seen = collections.Counter(values)
    twice = [n for n, count in seen.items() if count > 1]
    missing = [n for n in range(total) if n not in seen]
    resumes = [line for w in workers for line in w.log().splitlines() if "resumes from" in line]
    return (
        f"{len(values) - len(seen)} duplicates ({_ranges(twice)}), missing {_ranges(missing)}; "
        + "; ".join(resumes)
    )


def _counting(worker: Worker, name: str, topic: str, total: int, **extra: str) -> None:
    worker.rest.create(
        name,
        {
            "connector.class": "CountingSource",
            "topic": topic,
            "count": str(total),
            "poll.delay.ms": "20",
            "batch.size": "50",
            **STRINGS,
            **extra,
        },
    )


def _start(workers: WorkerFactory, broker: Broker, group: str) -> Worker:
    return workers.start(
        "tests.apps.worker", bootstrap=broker.bootstrap, group_id=group, env=EXACTLY_ONCE
    )


def _produced(worker: Worker, name: str) -> int:
    status, body = worker.rest.call("GET", "/metrics.json")
    if status != 200:
        return 0
    tasks = [t for t in body.get("tasks", ()) if t.get("connector") == name]
    return sum(t.get("produced", 0) for t in tasks)


def test_a_task_reads_back_its_committed_offsets_and_never_an_aborted_one(
    broker: Broker,
) -> None:
    """What an exactly-once task resumes from (a consumer's own metadata does not know the
    offsets topic: the lookup once came back empty, and tasks resumed from the worker's copy,
    which a kill -9 can leave one commit behind)."""
    topic, key = f"offsets-{_uid()}", offset_key("numbers", {"counter": "numbers"})

    async def scenario() -> dict[bytes, dict[str, Any]]:
        producer = AIOKafkaProducer(
            bootstrap_servers=broker.bootstrap, transactional_id=f"writer-{_uid()}"
        )
        await producer.start()
        try:
            for n, commit in ((100, True), (200, True), (300, False)):
                await producer.begin_transaction()
                await producer.send_and_wait(topic, orjson.dumps({"n": n}), key=key)
                await (producer.commit_transaction() if commit else producer.abort_transaction())
        finally:
            await producer.stop()
        return await read_offsets(
            lambda **options: AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, **options),
            await partitions_of(broker.bootstrap, topic),
            "numbers",
        )

    assert asyncio.run(scenario()) == {key: {"n": 200}}


def test_kill_9_mid_stream_leaves_every_number_exactly_once(
    broker: Broker, workers: WorkerFactory
) -> None:
    group, topic, total = f"eos-{_uid()}", f"numbers-{_uid()}", 20_000
    worker = _start(workers, broker, group)
    _counting(worker, "numbers", topic, total)
    wait_until(lambda: _produced(worker, "numbers") >= 4000, timeout=60, what="under way")
    worker.kill()
    before = asyncio.run(_committed(broker.bootstrap, topic, timeout=3))
    assert len(before) < total, "the kill must land mid-stream"
    restarted = _start(workers, broker, group)
    values = wait_until(
        lambda: (
            (v := asyncio.run(_committed(broker.bootstrap, topic, timeout=3)))
            and len(set(v)) >= total
            and v
        ),
        timeout=180,
        what="every number after the restart",
    )
    assert sorted(values) == list(range(total)), _not_once(values, total, worker, restarted)


def test_a_zombie_is_fenced_and_its_late_records_are_never_read(
    broker: Broker, workers: WorkerFactory
) -> None:
    group, topic, total = f"zombie-{_uid()}", f"numbers-{_uid()}", 6_000
    first = _start(workers, broker, group)
    second = _start(workers, broker, group)
    _counting(first, "numbers", topic, total)

    old = wait_until(lambda: owner_of(second), timeout=60, what="the task to run")
    zombie, survivor = (first, second) if old.endswith(f":{first.port}") else (second, first)
    wait_until(lambda: _produced(zombie, "numbers") >= 1000, timeout=60, what="under way")
    zombie.process.send_signal(signal.SIGSTOP)  # past the session timeout: the task moves
    try:
        wait_until(
            lambda: (o := owner_of(survivor)) is not None and o.endswith(f":{survivor.port}"),
            timeout=90,
            what="the task to move to the survivor",
        )
        wait_until(lambda: _produced(survivor, "numbers") > 0, timeout=60, what="new owner")
    finally:
        zombie.process.send_signal(signal.SIGCONT)
    values = wait_until(
        lambda: (
            (v := asyncio.run(_committed(broker.bootstrap, topic, timeout=3)))
            and len(set(v)) >= total
            and v
        ),
        timeout=180,
        what="every number",
    )
    assert sorted(values) == list(range(total)), _not_once(values, total, first, second)
    # Thawed, the zombie either stops its tasks on its own (it sees it stood still past the
    # session timeout) or its next send meets the fence; either way nothing it sent is read.
    wait_until(
        lambda: "was fenced by a newer owner" in zombie.log() or "stood still" in zombie.log(),
        timeout=60,
        what="the zombie to stop its task",
    )


def test_a_newer_producer_of_the_task_fences_it(broker: Broker, workers: WorkerFactory) -> None:
    group, topic, total = f"fence-{_uid()}", f"numbers-{_uid()}", 1_000_000
    worker = _start(workers, broker, group)
    _counting(worker, "numbers", topic, total)
    wait_until(lambda: _produced(worker, "numbers") >= 500, timeout=60, what="under way")

    async def fence() -> None:  # what a new owner's producer does first
        producer = AIOKafkaProducer(
            bootstrap_servers=broker.bootstrap, transactional_id=f"{group}-numbers-0"
        )
        await producer.start()
        await producer.stop()

    asyncio.run(fence())
    worker.wait_for_log("task numbers-0 was fenced by a newer owner and stops", timeout=60)
    values = asyncio.run(_committed(broker.bootstrap, topic, timeout=3))
    assert values and sorted(values) == list(range(len(values))), "a gap or a duplicate"
    assert "task numbers-0 failed" not in worker.log()  # fenced is not FAILED


def test_the_fence_endpoint_fences_the_tasks_and_starts_them_again(
    broker: Broker, workers: WorkerFactory
) -> None:
    group, topic, total = f"fenced-{_uid()}", f"numbers-{_uid()}", 8_000
    worker = _start(workers, broker, group)
    _counting(worker, "numbers", topic, total)
    wait_until(lambda: _produced(worker, "numbers") >= 1000, timeout=60, what="under way")
    status, body = worker.rest.call("PUT", "/connectors/numbers/fence")
    assert status == 204, body
    # The task's copy from before the fence either met the fence on its next send or was
    # stopped by the restart first; either way the committed output is every number once.
    values = wait_until(
        lambda: (
            (v := asyncio.run(_committed(broker.bootstrap, topic, timeout=3)))
            and len(set(v)) >= total
            and v
        ),
        timeout=120,
        what="every number after the fence and the restart",
    )
    assert sorted(values) == list(range(total)), _not_once(values, total, worker)
    assert worker.rest.call("PUT", "/connectors/nothing/fence")[0] == 404


def owner_of(worker: Worker) -> str | None:
    """The worker id running task 0 of "numbers", as ``worker`` sees it."""
    _, body = worker.rest.call("GET", "/connectors/numbers/status")
    tasks = body.get("tasks", []) if isinstance(body, dict) else []
    running = [t for t in tasks if t["state"] == "RUNNING"]
    return running[0]["worker_id"] if running else None


def test_preflight_checks_of_an_exactly_once_worker(
    broker: Broker, workers: WorkerFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    worker = _start(workers, broker, f"preflight-{_uid()}")
    topic = f"t-{_uid()}"
    stdin = {"connector.class": "FileStreamSource", "topic": topic}
    status, body = worker.rest.call(
        "POST",
        "/connectors",
        {"name": "stdin", "config": {**stdin, "exactly.once.support": "required"}},
    )
    assert status == 400, body
    assert "exactly.once.support" in body["message"]
    assert "does not support exactly-once" in body["message"]
    status, body = worker.rest.call(
        "POST",
        "/connectors",
        {
            "name": "unknown",
            "config": {
                "connector.class": "CountingSource",
                "topic": topic,
                "exactly.once.support": "required",
            },
        },
    )
    assert status == 400 and "does not say whether" in body["message"], body
    status, body = worker.rest.call(
        "POST",
        "/connectors",
        {"name": "bounded", "config": {**stdin, "transaction.boundary": "connector"}},
    )
    assert status == 400 and "transaction.boundary" in body["message"], body
    path = tmp_path_factory.mktemp("eos") / "in.txt"
    path.write_text("a\n")
    created = worker.rest.create(
        "file", {**stdin, "file": str(path), "exactly.once.support": "required"}
    )
    assert created["name"] == "file"
    assert worker.rest.get("/connectors") == ["file"]  # nothing refused was stored
