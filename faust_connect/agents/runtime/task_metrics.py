"""Per-task counters and gauges, kept by the runners and read by the metrics endpoint.

Counters only grow; gauges hold the latest value. Everything is updated per batch, not per
record, so keeping them costs nothing measurable.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

__all__ = ["TaskMetrics"]


@dataclasses.dataclass
class TaskMetrics:
    """What one task has done so far."""

    connector: str
    task: int
    kind: str  # "source" or "sink"
    #: Records returned by ``poll`` (sources).
    polled: int = 0
    #: Records acknowledged by the broker (sources).
    produced: int = 0
    #: Records fetched from Kafka (sinks).
    consumed: int = 0
    #: Records handed to ``put`` (sinks).
    put: int = 0
    #: Records that failed (converter, transform, put, produce).
    errors: int = 0
    #: Retries of a batch after a retriable error.
    retries: int = 0
    #: Records written to the dead letter queue.
    dead_lettered: int = 0
    #: Batches completed.
    batches: int = 0
    #: Seconds the last batch took end to end (poll→ack, or fetch→put).
    batch_seconds: float = 0.0
    #: Records behind the end of the assigned partitions (sinks), from the fetch high watermark.
    lag: int = 0
    #: ``time.time()`` of the last offset commit, or 0.
    committed_at: float = 0.0
    started_at: float = dataclasses.field(default_factory=time.time)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy, with the offset commit age in seconds."""
        data = dataclasses.asdict(self)
        data["commit_age_seconds"] = (
            round(time.time() - self.committed_at, 3) if self.committed_at else None
        )
        return data
