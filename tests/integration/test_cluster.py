"""Several workers of one Connect cluster on real Kafka.

Scaling via partitions: tasks spread over the workers, move when workers come and go, never run
twice at once; a kill -9 loses no record. Group timeouts are shortened so rebalances are quick.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import Broker
from tests.kafka import consume
from tests.rest import Rest
from tests.workers import Worker, WorkerFactory, counting_pipeline, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SESSION_MS = 6000
# how long past the session timeout a moved task may take to run again before we call it stranded
LIVENESS_SLACK_S = 40
FAST_GROUP = {
    "CONNECT_SESSION_TIMEOUT_MS": str(SESSION_MS),
    "CONNECT_HEARTBEAT_INTERVAL_MS": "1000",
    "CONNECT_REBALANCE_TIMEOUT_MS": "6000",
}
PLAIN = {
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
}


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _start(workers: WorkerFactory, broker: Broker, group: str) -> Worker:
    return workers.start(
        "tests.apps.worker", bootstrap=broker.bootstrap, group_id=group, env=FAST_GROUP
    )


def _owners(rest: Rest, name: str, tasks: int) -> dict[int, str] | None:
    """task id -> worker id, when every task is RUNNING; else None."""
    status, body = rest.call("GET", f"/connectors/{name}/status")
    if status != 200 or len(body["tasks"]) != tasks:
        return None
    if any(t["state"] != "RUNNING" for t in body["tasks"]):
        return None
    return {t["id"]: t["worker_id"] for t in body["tasks"]}


def _check_ownership(records: list[dict[str, Any]]) -> dict[int, float]:
    """No task ran in two places at once; returns each task's longest gap in seconds."""
    by_task: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
    for r in records:
        by_task[r["task"]].append(r)
    gaps = {}
    for task, stamps in by_task.items():
        stamps.sort(key=lambda r: r["t"])
        spans: dict[str, tuple[float, float]] = {}
        for r in stamps:
            first, _ = spans.get(r["inst"], (r["t"], r["t"]))
            spans[r["inst"]] = (first, r["t"])
        ordered = sorted(spans.values())
        for (_, end), (start, _) in itertools.pairwise(ordered):
            assert end <= start, f"task {task} ran twice at once: {ordered}"
        gaps[task] = max(b["t"] - a["t"] for a, b in itertools.pairwise(stamps))
    return gaps


def test_tasks_spread_over_workers_and_move_without_running_twice(
    broker: Broker, workers: WorkerFactory
) -> None:
    group, topic, tasks = f"cluster-{_uid()}", f"stamps-{_uid()}", 6
    w1, w2 = _start(workers, broker, group), _start(workers, broker, group)
    w1.rest.create(
        "stamps",
        {"connector.class": "StampSource", "tasks.max": str(tasks), "topic": topic, **PLAIN},
    )
    # any worker answers for the whole cluster
    owners = wait_until(
        lambda: (o := _owners(w2.rest, "stamps", tasks)) and len(set(o.values())) == 2 and o,
        timeout=90,
        what="6 tasks running on both workers",
    )
    assert set(owners.values()) == {f"127.0.0.1:{w1.port}", f"127.0.0.1:{w2.port}"}

    w3 = _start(workers, broker, group)
    wait_until(
        lambda: (o := _owners(w1.rest, "stamps", tasks)) and f"127.0.0.1:{w3.port}" in o.values(),
        timeout=90,
        what="the third worker to take some tasks",
    )
    assert w2.stop() == 0  # graceful: leaves the group, its tasks move
    wait_until(
        lambda: (
            (o := _owners(w1.rest, "stamps", tasks)) and f"127.0.0.1:{w2.port}" not in o.values()
        ),
        timeout=90,
        what="the stopped worker's tasks to move",
    )
    w3.kill()  # kill -9: its tasks move after the session timeout
    wait_until(
        lambda: (
            (o := _owners(w1.rest, "stamps", tasks)) and set(o.values()) == {f"127.0.0.1:{w1.port}"}
        ),
        timeout=120,
        what="the killed worker's tasks to move to the survivor",
    )
    assert w1.rest.call("DELETE", "/connectors/stamps")[0] == 204

    end = asyncio.run(consume(broker.bootstrap, topic, 10**9, timeout=10))
    records = [orjson.loads(r.value) for r in end]
    assert {r["task"] for r in records} == set(range(tasks))
    gaps = _check_ownership(records)
    print(f"longest gap without an owner per task (s): {gaps}")
    # Liveness, not a timing target: a killed worker's tasks wait for the session timeout, then
    # a rebalance (more on a loaded CI machine); they must not be stranded.
    assert max(gaps.values()) < SESSION_MS / 1000 + LIVENESS_SLACK_S, gaps


def test_kill_9_mid_stream_loses_no_record(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    group, topic, out = f"kill-{_uid()}", f"numbers-{_uid()}", tmp_path / "out.txt"
    total = 20_000
    worker = _start(workers, broker, group)
    lines = counting_pipeline(worker.rest, topic, out, total, PLAIN)

    wait_until(lambda: len(lines()) >= 4000, timeout=60, what="the stream to be under way")
    worker.kill()
    assert len(lines()) < total, "the kill must land mid-stream"
    _start(workers, broker, group)
    wait_until(
        lambda: {int(x) for x in lines()} >= set(range(total)),
        timeout=180,
        what="every number after the restart",
    )
    written = [int(x) for x in lines()]
    duplicates = len(written) - len(set(written))
    print(f"kill -9: {total} numbers, {len(written)} lines written, {duplicates} duplicates")


def test_concurrent_writes_on_two_workers_are_neither_lost_nor_doubled(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    group = f"writes-{_uid()}"
    w1, w2 = _start(workers, broker, group), _start(workers, broker, group)
    rests = [w1.rest, w2.rest]
    # both workers see one leader (its URL is published in the status table)
    wait_until(
        lambda: all(r.call("POST", "/connectors", {"config": {}})[0] == 400 for r in rests),
        timeout=60,
        what="a leader to be known (a follower forwards, so both answer 400, not 409)",
    )
    config = {"connector.class": "FileStreamSink", "topics": f"w-{_uid()}", "file": "/dev/null"}

    def create(rest: Rest, name: str) -> int:
        return rest.call("POST", "/connectors", {"name": name, "config": config})[0]

    async def race() -> tuple[list[int], list[int]]:
        # ten creates of one name, half on each worker, all at once; and ten distinct names
        same = [asyncio.to_thread(create, rests[i % 2], "same") for i in range(10)]
        distinct = [asyncio.to_thread(create, rests[i % 2], f"n{i}") for i in range(10)]
        return list(await asyncio.gather(*same)), list(await asyncio.gather(*distinct))

    same, distinct = asyncio.run(race())
    assert sorted(same) == [201] + [409] * 9  # exactly one creation won
    assert distinct == [201] * 10  # none lost
    expected = sorted(["same", *(f"n{i}" for i in range(10))])
    wait_until(
        lambda: w1.rest.get("/connectors") == expected == w2.rest.get("/connectors"),
        what="both workers to see the same 11 connectors",
    )

    async def restarts() -> list[int]:
        calls = [
            asyncio.to_thread(rests[i % 2].call, "POST", "/connectors/same/tasks/0/restart")
            for i in range(10)
        ]
        return [status for status, _ in await asyncio.gather(*calls)]

    assert asyncio.run(restarts()) == [204] * 10
