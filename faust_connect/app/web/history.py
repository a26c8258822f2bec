"""The last minutes of every task this worker runs, for the dashboard's charts.

A :class:`History` samples ``runtime.task_metrics()`` every :data:`SAMPLE_SECONDS` into a ring
buffer per task (:data:`WINDOW_SECONDS` long, ~300 samples), so the charts need no outside
service: each worker keeps its own tasks' history and serves it at ``GET /ui/api/history``; the
worker showing the page gathers its peers' as it gathers their metrics. Samples are taken on
wall-clock multiples of the interval, so samples of different workers fall on the same ticks
and add up per connector.

From successive counters it derives, per tick: records/s in (a source's ``polled``, a sink's
``consumed``) and out (``produced`` / ``put``), and keeps the gauges lag and commit age. A rate
is None (shown as "—") until two samples exist, after a counter went back (the task restarted)
and while the task is not RUNNING (a paused task has no rate, not a rate of 0).

The sampler also watches the status table: when a task's worker changes (a rebalance, a worker
gone) it records the move, so the workers view can say which task went where, and when.

A task that leaves this worker keeps its history until it ages out: the new owner's samples
continue the same chart after a gap.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["SAMPLE_SECONDS", "WINDOW_SECONDS", "History", "merge_series"]

logger = logging.getLogger(__name__)

#: Seconds between two samples.
SAMPLE_SECONDS = 2.0
#: Seconds of history kept per task.
WINDOW_SECONDS = 600.0
#: Task moves remembered for the workers view.
MAX_MOVES = 50

TaskKey = tuple[str, int]


@dataclasses.dataclass(frozen=True)
class Sample:
    """One task at one tick: counters (for rates) and gauges."""

    at: float
    running: bool
    records_in: int
    records_out: int
    lag: int | None
    commit_age: float | None


def _counters(metrics: Mapping[str, Any]) -> tuple[int, int]:
    if metrics.get("kind") == "source":
        return int(metrics.get("polled", 0)), int(metrics.get("produced", 0))
    return int(metrics.get("consumed", 0)), int(metrics.get("put", 0))


def _rate(before: Sample, after: Sample, field: str) -> float | None:
    if not (before.running and after.running) or after.at <= before.at:
        return None
    done = int(getattr(after, field)) - int(getattr(before, field))
    if done < 0:  # the counters started again (a restarted task)
        return None
    return round(done / (after.at - before.at), 1)


class History:
    """Ring buffers of samples per task, and the task moves seen in the status table.

    ``metrics`` gives this worker's task metrics; ``states`` gives every task's ``(state,
    worker_id)`` by ``(connector, task)`` from the status table.
    """

    def __init__(
        self,
        metrics: Callable[[], Iterable[Mapping[str, Any]]],
        states: Callable[[], Mapping[TaskKey, tuple[str, str]]],
        *,
        interval: float = SAMPLE_SECONDS,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self.interval = interval
        self.window = window
        self._metrics = metrics
        self._states = states
        self._size = int(window / interval) + 1
        self._tasks: dict[TaskKey, collections.deque[Sample]] = {}
        self._kinds: dict[TaskKey, str] = {}
        self._placement: dict[TaskKey, str] = {}
        self.moves: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_MOVES)
        self._task: asyncio.Task[None] | None = None

    # -- sampling ---------------------------------------------------------------------------

    def tick(self, now: float) -> float:
        """The wall-clock tick ``now`` falls on (shared by every worker)."""
        return round(math.floor(now / self.interval + 1e-6) * self.interval, 3)

    def sample(self, now: float | None = None) -> None:
        """Take one sample of every task of this worker, and note task moves."""
        at = self.tick(time.time() if now is None else now)
        states = self._states()
        for metrics in self._metrics():
            key = (str(metrics["connector"]), int(metrics["task"]))
            state = states.get(key, ("", ""))[0]
            records_in, records_out = _counters(metrics)
            lag = metrics.get("lag") if metrics.get("kind") == "sink" else None
            buffer = self._tasks.get(key)
            if buffer is None:
                buffer = self._tasks[key] = collections.deque(maxlen=self._size)
            if buffer and buffer[-1].at >= at:
                buffer.pop()  # two samples in one tick: keep the later
            buffer.append(
                Sample(
                    at,
                    state == "RUNNING",
                    records_in,
                    records_out,
                    None if lag is None else int(lag),
                    metrics.get("commit_age_seconds"),
                )
            )
            self._kinds[key] = str(metrics.get("kind", ""))
        for key in [k for k, b in self._tasks.items() if b[-1].at < at - self.window]:
            del self._tasks[key]
            self._kinds.pop(key, None)
        self._note_moves(states, at)

    def _note_moves(self, states: Mapping[TaskKey, tuple[str, str]], at: float) -> None:
        for key, (_, worker) in states.items():
            if not worker:
                continue
            before = self._placement.get(key)
            if before is not None and before != worker:
                self.moves.append(
                    {"at": at, "connector": key[0], "task": key[1], "from": before, "to": worker}
                )
            self._placement[key] = worker
        for key in [k for k in self._placement if k not in states]:
            del self._placement[key]  # the connector or task is gone

    # -- reading ----------------------------------------------------------------------------

    def series(self, window: float | None = None) -> list[dict[str, Any]]:
        """Every task's recent samples as parallel lists (``GET /ui/api/history``).

        Each: ``{"connector", "task", "kind", "t", "in", "out", "lag", "commit_age"}``, where
        ``t`` are tick times (epoch seconds) and ``in``/``out`` records/s (None: not measured).
        """
        span = self.window if window is None else min(window, self.window)
        out = []
        for (connector, task), buffer in sorted(self._tasks.items()):
            samples = list(buffer)
            first = samples[-1].at - span
            rows: dict[str, list[Any]] = {"t": [], "in": [], "out": [], "lag": [], "commit_age": []}
            for i, s in enumerate(samples):
                if s.at < first:
                    continue
                before = samples[i - 1] if i else None
                rows["t"].append(s.at)
                rows["in"].append(_rate(before, s, "records_in") if before else None)
                rows["out"].append(_rate(before, s, "records_out") if before else None)
                rows["lag"].append(s.lag)
                rows["commit_age"].append(s.commit_age)
            kind = self._kinds.get((connector, task), "")
            out.append({"connector": connector, "task": task, "kind": kind, **rows})
        return out

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Sample in the background from now on (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="dashboard-history")

    async def stop(self) -> None:
        """Stop sampling."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            now = time.time()
            await asyncio.sleep(self.tick(now) + self.interval - now + 0.01)
            try:
                self.sample()
            except Exception:  # a bad sample must not end the charts; say why
                logger.exception("dashboard history: sampling failed")


def merge_series(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Several series of one task (from the workers that ran it in turn), or of the tasks of one
    connector, merged per tick: rates and lags add up, commit age takes the oldest."""
    by_tick: dict[float, dict[str, Any]] = {}
    for part in parts:
        for i, at in enumerate(part["t"]):
            row = by_tick.setdefault(at, {"in": None, "out": None, "lag": None, "commit_age": None})
            for field in ("in", "out", "lag"):
                value = part[field][i]
                if value is not None:
                    row[field] = round((row[field] or 0) + value, 1)
            age = part["commit_age"][i]
            if age is not None:
                row["commit_age"] = max(row["commit_age"] or 0, age)
    ticks = sorted(by_tick)
    return {
        "t": ticks,
        **{f: [by_tick[t][f] for t in ticks] for f in ("in", "out", "lag", "commit_age")},
    }
