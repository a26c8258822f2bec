"""Counts records where they arrive and writes when the first and the last expected one came.

Used inside the processes under test (the bench sink connector, the bare Faust agent, Quix), so
every sink-side row is timed the same way: from the first record handed over to the last.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path


class Recorder:
    """Counts records and writes when the first and the last expected one arrived."""

    def __init__(self, path: str, expect: int, latency: bool = False) -> None:
        self.path, self.expect, self.latency = path, expect, latency
        self.count, self.first = 0, 0.0
        self.latencies: list[float] = []

    def start(self) -> None:
        """Count from now (a sink's first fetch) rather than from the first record handed over:
        a backlog can arrive as one batch, which would make first and last the same moment."""
        self.first = time.time()

    def add(self, n: int, timestamps_ms: Sequence[int] = ()) -> None:
        now = time.time()
        if not self.first:
            self.first = now
        self.count += n
        if self.latency:
            self.latencies.extend(now * 1000 - ts for ts in timestamps_ms)
        if self.count >= self.expect and self.path:
            data = {"count": self.count, "first": self.first, "last": now}
            if self.latency:
                data["latencies"] = self.latencies
            Path(self.path).write_text(json.dumps(data))
            self.path = ""  # written once
