"""What the ``cdc`` rows share: a private database server and a broker around one set of runs
that gives a bare decoder row and a worker row, and the REST and topic helpers of those runs."""

from __future__ import annotations

import asyncio
import time
import urllib.error
from collections.abc import Callable
from typing import Any, Protocol

from bench.baselines import Context
from bench.harness import Broker, Worker, broker
from bench.report import Sample
from tests.integration.sql.databases import ensure_installed

__all__ = ["Server", "cdc_rows", "put", "record_bytes"]

RowFn = Callable[..., list[Sample]]
#: ``runs(broker, bare, worker_samples)`` fills both lists over ``ctx.runs`` runs.
Runs = Callable[[Broker, list[Sample], list[Sample]], None]


class Server(Protocol):
    """A private database server of ``tests/integration/sql/databases.py``."""

    def start(self) -> Any: ...

    def stop(self) -> Any: ...


def cdc_rows(
    row: RowFn,
    ctx: Context,
    broker_kind: str,
    server: Server,
    keys: tuple[str, str],
    labels: tuple[str, str],
    runs: Runs,
) -> None:
    """Rows ``keys`` (bare, worker) labelled ``labels``, both measured by the same ``runs``
    against ``server`` (started and stopped here)."""
    ensure_installed()
    server.start()
    try:
        with broker(broker_kind, ctx.folder) as b:
            bare: list[Sample] = []
            worker_samples: list[Sample] = []

            def both() -> list[Sample]:
                runs(b, bare, worker_samples)
                return bare

            row(keys[0], labels[0], "-", both)
            row(keys[1], labels[1], b, lambda: worker_samples, baseline=keys[0], worker=True)
    finally:
        server.stop()


def put(worker: Worker, path: str, body: Any = None) -> None:
    """``PUT path``, retried while the worker answers 409 (a rebalance) for up to a minute."""
    deadline = time.monotonic() + 60
    while True:
        try:
            worker.rest("PUT", path, body)
            return
        except urllib.error.HTTPError as exc:
            if exc.code != 409 or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def record_bytes(b: Broker, topic: str) -> float:
    """The mean key + value size of the first 100 records of ``topic``."""
    from tests.kafka import consume

    sample = asyncio.run(consume(b.bootstrap, topic, 100, timeout=10))
    sizes = [len(r.key or b"") + len(r.value or b"") for r in sample]
    return sum(sizes) / len(sizes) if sizes else 0.0
