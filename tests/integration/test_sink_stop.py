"""A sink whose task moves in a rebalance stops in time, with its final flush and commit done.

Faust suspends its own queues while its group rebalances; a sink's hand-over from its consumer
to its agent must not wait on them, or the task cannot stop until the rebalance is over (and is
cancelled without its final flush, so the next owner writes the same records again).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from faust_connect.app.runtime import placement_partition
from tests.conftest import Broker
from tests.kafka import produce
from tests.workers import WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TOTAL = 48_000
TASKS = 6  # a task per partition of the topic
PLACEMENT_PARTITIONS = 24  # the worker's default task.placement.partitions
FAST_GROUP = {
    "CONNECT_SESSION_TIMEOUT_MS": "6000",
    "CONNECT_HEARTBEAT_INTERVAL_MS": "1000",
    "CONNECT_REBALANCE_TIMEOUT_MS": "6000",
}


async def _topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


def test_a_moved_sink_task_flushes_and_commits_before_the_new_owner_starts(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    topic = f"moved-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "out.txt"
    asyncio.run(_topic(broker.bootstrap, topic, TASKS))
    group = f"sink-stop-{uuid.uuid4().hex[:8]}"
    first = workers.start(
        "tests.apps.worker", bootstrap=broker.bootstrap, group_id=group, env=FAST_GROUP
    )
    # A name whose tasks' placement partitions straddle the middle, where Faust's assignor splits
    # them between two workers: some tasks move when the second one joins.
    name = next(
        f"moved-{i}"
        for i in range(1000)
        if placement_partition(f"moved-{i}", 0, PLACEMENT_PARTITIONS) == 9
    )
    first.rest.create(
        name,
        {
            "connector.class": "FileStreamSink",
            "topics": topic,
            "file": str(out),
            "tasks.max": str(TASKS),
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        },
    )
    records = [(None, str(n).encode()) for n in range(TOTAL)]
    for partition in range(TASKS):
        mine = records[partition::TASKS]
        asyncio.run(produce(broker.bootstrap, topic, mine, partition=partition))

    def lines() -> list[str]:
        return out.read_text().splitlines() if out.exists() else []

    wait_until(lambda: len(lines()) > 1000, timeout=60, what="the sink to start writing")
    second = workers.start(
        "tests.apps.worker", bootstrap=broker.bootstrap, group_id=group, env=FAST_GROUP
    )

    def owners() -> set[str]:
        _, body = second.rest.call("GET", f"/connectors/{name}/status")
        running = [t for t in body.get("tasks", ()) if t["state"] == "RUNNING"]
        return {t["worker_id"] for t in running} if len(running) == TASKS else set()

    wait_until(lambda: len(owners()) == 2, timeout=90, what="a task to move to the new worker")
    wait_until(lambda: len(lines()) >= TOTAL, timeout=120, what=f"{TOTAL} lines")
    written = lines()
    assert sorted(map(int, set(written))) == list(range(TOTAL))  # nothing lost
    assert len(written) == TOTAL, f"{len(written) - TOTAL} records written twice"
    for worker in (first, second):
        assert "did not stop in" not in worker.log()
