"""A task runs on at most one live worker; statuses from an older generation never win.

Workers of one cluster are started, stopped, killed and frozen (SIGSTOP) while a watcher polls
every live worker's ``/metrics.json`` (the tasks each one runs, stopping ones included). The
status topic is written to directly to check that a stale status does not replace a newer one.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from tests.conftest import Broker
from tests.integration.test_cluster import FAST_GROUP, PLAIN
from tests.kafka import consume, produce
from tests.workers import Worker, WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TASKS = 6


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _start(workers: WorkerFactory, broker: Broker, group: str) -> Worker:
    return workers.start(
        "tests.apps.worker", bootstrap=broker.bootstrap, group_id=group, env=FAST_GROUP
    )


def _worker_id(worker: Worker) -> str:
    return f"127.0.0.1:{worker.port}"


def _running_here(worker: Worker, connector: str) -> set[int] | None:
    """The tasks of ``connector`` in this worker's metrics; None if it did not answer."""
    try:
        with urllib.request.urlopen(worker.url + "/metrics.json", timeout=2) as response:
            body = json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return {t["task"] for t in body["tasks"] if t["connector"] == connector}


@dataclass
class Watcher:
    """Polls the live workers in rounds: A, B, C, then C, B, A.

    A task seen on X at both of X's polls was on X for the whole round (a task that moved away
    does not come back within one round); seen on Y at either of Y's polls (which lie between
    X's two), it ran on X and Y at once.
    """

    connector: str
    live: dict[int, Worker] = field(default_factory=dict)
    rounds: int = 0
    overlaps: list[tuple[float, int, str, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, worker: Worker) -> None:
        with self._lock:
            self.live[worker.port] = worker

    def remove(self, worker: Worker) -> None:
        with self._lock:
            self.live.pop(worker.port, None)

    def run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                order = list(self.live.values())
            first = [(w, _running_here(w, self.connector)) for w in order]
            second = [(w, _running_here(w, self.connector)) for w in reversed(order)]
            seen: dict[int, tuple[set[int], set[int]]] = {}
            for (w, a), (_, b) in zip(first, reversed(second), strict=True):
                seen[w.port] = (a or set(), b or set())
            ports = [w.port for w in order]
            for i, x in enumerate(ports):
                both = seen[x][0] & seen[x][1]
                for y in ports[i + 1 :]:
                    for task in both & (seen[y][0] | seen[y][1]):
                        self.overlaps.append((time.time(), task, str(x), str(y)))
            self.rounds += 1
            time.sleep(0.05)

    def __enter__(self) -> Watcher:
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def _settled(workers: list[Worker], connector: str) -> dict[int, str] | None:
    """task -> worker id when every worker's REST agrees that every task RUNs where it does."""
    running: dict[int, str] = {}
    for w in workers:
        here = _running_here(w, connector)
        if here is None:
            return None
        for task in here:
            if task in running:
                return None
            running[task] = _worker_id(w)
    if set(running) != set(range(TASKS)):
        return None
    for w in workers:
        status, body = w.rest.call("GET", f"/connectors/{connector}/status")
        if status != 200 or len(body["tasks"]) != TASKS:
            return None
        for t in body["tasks"]:
            if t["state"] != "RUNNING" or t["worker_id"] != running[t["id"]]:
                return None
    return running


def _overlapping_runs(records: list[dict[str, Any]]) -> list[tuple[int, str, str, float]]:
    """``(task, run, other run, seconds)`` for every two runs of a task whose stamps overlap."""
    spans: dict[tuple[int, str], tuple[float, float]] = {}
    for r in records:
        first, last = spans.get((r["task"], r["inst"]), (r["t"], r["t"]))
        spans[(r["task"], r["inst"])] = (min(first, r["t"]), max(last, r["t"]))
    out = []
    for (task, a), (a0, a1) in spans.items():
        for (other, b), (b0, b1) in spans.items():
            if other == task and a < b and a0 < b1 and b0 < a1:
                out.append((task, f"{a}@{a0:.2f}-{a1:.2f}", f"{b}@{b0:.2f}-{b1:.2f}", 0.0))
    return out


def _describe(workers: list[Worker], connector: str) -> str:
    """What each worker runs and reports, for a failure message."""
    parts = []
    for w in workers:
        _, body = w.rest.call("GET", f"/connectors/{connector}/status")
        tasks = [(t["id"], t["state"], t["worker_id"]) for t in (body or {}).get("tasks", [])]
        parts.append(f"{_worker_id(w)} runs {_running_here(w, connector)}, reports {tasks}")
    return "; ".join(parts)


def test_no_task_ever_runs_on_two_live_workers_through_joins_leaves_kills_and_freezes(
    broker: Broker, workers: WorkerFactory
) -> None:
    group, topic, name = f"own-{_uid()}", f"stamps-{_uid()}", "stamps"
    w1, w2 = _start(workers, broker, group), _start(workers, broker, group)
    w1.rest.create(
        name,
        {
            "connector.class": "StampSource",
            "tasks.max": str(TASKS),
            "topic": topic,
            "interval.ms": "50",
            **PLAIN,
        },
    )
    rebalances = 0
    joined: dict[int, float] = {}
    with Watcher(name) as watcher:
        for w in (w1, w2):
            watcher.add(w)

        live = [w1, w2]

        def settle(what: str) -> dict[int, str]:
            try:
                return wait_until(lambda: _settled(live, name), timeout=120, what=what)
            except AssertionError as exc:
                raise AssertionError(f"{exc}; {_describe(live, name)}") from None

        def join() -> None:
            nonlocal rebalances
            worker = _start(workers, broker, group)  # every member is revoked and re-assigned
            joined[worker.process.pid] = time.time()
            live.append(worker)
            watcher.add(worker)
            rebalances += 1

        def busy(owners: dict[int, str]) -> Worker:
            """A worker that runs tasks now (so taking it away moves them)."""
            return next(w for w in live if _worker_id(w) in owners.values())

        owners = settle("6 tasks running on two workers")
        join()
        owners = settle("the tasks spread over three workers")

        leaver = busy(owners)
        live.remove(leaver)
        leaver.stop()  # a graceful leave; the watcher polls it until it has stopped
        watcher.remove(leaver)
        rebalances += 1
        owners = settle("the leaver's tasks moved")
        join()
        owners = settle("the tasks spread again")

        # Frozen past the session timeout: the group drops it and its tasks move; thawed, it
        # must stop what it still runs and start nothing until it is assigned again.
        frozen = busy(owners)
        live.remove(frozen)
        watcher.remove(frozen)
        frozen.process.send_signal(signal.SIGSTOP)
        froze = time.time()
        try:
            rebalances += 1
            settle("the frozen worker's tasks moved")
        finally:
            thawed = time.time()  # before: the worker may stamp at once
            frozen.process.send_signal(signal.SIGCONT)
            watcher.add(frozen)
        wait_until(
            lambda: _running_here(frozen, name) == set(),
            timeout=10,
            what="the thawed worker to drop the tasks it ran",
        )
        dropped = time.time() - thawed
        live.append(frozen)
        rebalances += 1  # it rejoins
        owners = settle("every task running once the thawed worker is back")

        victim = busy(owners)
        live.remove(victim)
        victim.kill()
        watcher.remove(victim)
        rebalances += 1
        final = settle("the killed worker's tasks moved")
    assert live[0].rest.call("DELETE", f"/connectors/{name}")[0] == 204

    records = [
        orjson.loads(r.value)
        for r in asyncio.run(consume(broker.bootstrap, topic, 10**9, timeout=10))
    ]
    # The thawed worker runs on for a moment before its event loop sees the stall: what it
    # then still runs, it stops at once. Kafka Connect has the same window (a zombie is fenced
    # only by exactly-once sources' transactions); it is measured here, and must be short.
    frozen_port = str(frozen.port)
    window = [o for o in watcher.overlaps if frozen_port in o[2:] and o[0] <= thawed + dropped + 1]
    before = {r["inst"] for r in records if r["t"] < froze}
    late = [r for r in records if r["inst"] in before and r["t"] > thawed]
    print(
        f"{rebalances} rebalances, {watcher.rounds} watch rounds, {len(watcher.overlaps)} "
        f"overlaps seen ({len(window)} while the thawed worker stopped its tasks, in "
        f"{dropped:.2f}s); {len(late)} records stamped by its old runs after the thaw; "
        f"{len(records)} stamps; final owners {final}"
    )
    assert watcher.rounds > 50, "the watcher must have watched"
    assert [o for o in watcher.overlaps if o not in window] == []
    assert dropped < 2.0, dropped
    # what the old runs stamped after the thaw, they stamped before the worker dropped them
    assert all(r["t"] <= thawed + dropped for r in late), late
    # the stamps tell the same: no two runs of a task overlap in time
    events = {"froze": froze, "thawed": thawed, **{f"joined {p}": t for p, t in joined.items()}}
    assert _overlapping_runs([r for r in records if r not in late]) == [], events
    assert {r["task"] for r in records} == set(range(TASKS))


async def _status_records(bootstrap: str, topic: str, key: bytes) -> list[dict[str, Any]]:
    records = await consume(bootstrap, topic, 10**9, timeout=3)
    return [orjson.loads(r.value) for r in records if r.key == key and r.value is not None]


def test_a_status_from_an_older_generation_does_not_replace_a_newer_one(
    broker: Broker, workers: WorkerFactory
) -> None:
    group, topic = f"gen-{_uid()}", f"stamps-{_uid()}"
    status_topic = f"{group}-status"  # the default status.storage.topic
    worker = _start(workers, broker, group)
    name = "stamps"
    worker.rest.create(
        name, {"connector.class": "StampSource", "topic": topic, "interval.ms": "200", **PLAIN}
    )
    wait_until(lambda: worker.rest.state(name) == ("RUNNING", ["RUNNING"]), what="running")
    key = f"status-task-{name}-0".encode()
    stored = wait_until(
        lambda: asyncio.run(_status_records(broker.bootstrap, status_topic, key)),
        what="the task's status in the status topic",
    )[-1]
    assert stored["state"] == "RUNNING" and stored["worker_id"] == _worker_id(worker)
    generation = stored["generation"]
    assert generation >= 1

    # an old owner's late "stopped", one generation back
    stale = {"state": "UNASSIGNED", "trace": None, "worker_id": "10.0.0.9:8083"}
    stale["generation"] = generation - 1
    asyncio.run(produce(broker.bootstrap, status_topic, [(key, orjson.dumps(stale))]))

    def rewritten() -> bool:
        # the owner saw the stale record dropped and wrote its own again after it
        values = asyncio.run(_status_records(broker.bootstrap, status_topic, key))
        at = max(i for i, v in enumerate(values) if v["worker_id"] == stale["worker_id"])
        return any(v["worker_id"] == _worker_id(worker) for v in values[at + 1 :])

    wait_until(rewritten, timeout=30, what="the owner's status written after the stale one")
    task = worker.rest.get(f"/connectors/{name}/tasks/0/status")
    assert (task["state"], task["worker_id"]) == ("RUNNING", _worker_id(worker))
    last = asyncio.run(_status_records(broker.bootstrap, status_topic, key))[-1]
    assert (last["state"], last["worker_id"]) == ("RUNNING", _worker_id(worker))

    # a newer generation's record is applied (as from a new owner)
    newer = {"state": "UNASSIGNED", "trace": None, "worker_id": "10.0.0.9:8083"}
    newer["generation"] = generation
    asyncio.run(produce(broker.bootstrap, status_topic, [(key, orjson.dumps(newer))]))
    wait_until(
        lambda: worker.rest.get(f"/connectors/{name}/tasks/0/status")["state"] == "UNASSIGNED",
        what="a status of the same generation from another worker to be applied",
    )
