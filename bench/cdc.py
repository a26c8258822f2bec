"""What the ``cdc`` rows share: a private database server and a broker around one set of runs
that gives a bare decoder row, a worker row and (``--only debezium``) a Debezium row on the JVM
worker, and the REST and topic helpers of those runs."""

from __future__ import annotations

import asyncio
import time
import urllib.error
from collections.abc import Callable
from typing import Any, Protocol

from bench.baselines import Context
from bench.harness import (
    Broker,
    RestClient,
    broker,
    cpu_seconds,
    create_topic,
    peak_rss_mb,
    watch_topic,
)
from bench.report import Sample
from tests.integration.sql.databases import ensure_installed

__all__ = ["Server", "cdc_rows", "put", "record_bytes", "timed_resume"]

RowFn = Callable[..., list[Sample]]
#: ``runs(broker, bare, worker_samples, debezium_samples)`` fills the lists over ``ctx.runs``
#: runs; the last is None when the Debezium rows are not asked for.
Runs = Callable[[Broker, list[Sample], list[Sample], list[Sample] | None], None]


class Server(Protocol):
    """A private database server of ``tests/integration/sql/databases.py``."""

    def start(self) -> Any: ...

    def stop(self) -> Any: ...


def cdc_rows(
    row: RowFn,
    ctx: Context,
    broker_kind: str,
    server: Server,
    keys: tuple[str, str, str],
    labels: tuple[str, str, str],
    runs: Runs,
    debezium: bool = False,
) -> None:
    """Rows ``keys`` (bare, worker, Debezium) labelled ``labels``, all measured by the same
    ``runs`` against ``server`` (started and stopped here); the Debezium row only with
    ``debezium``."""
    ensure_installed()
    server.start()
    try:
        with broker(broker_kind, ctx.folder) as b:
            bare: list[Sample] = []
            worker_samples: list[Sample] = []
            dbz: list[Sample] | None = [] if debezium else None

            def both() -> list[Sample]:
                runs(b, bare, worker_samples, dbz)
                return bare

            row(keys[0], labels[0], "-", both)
            row(
                keys[1],
                labels[1],
                b,
                lambda: worker_samples,
                baseline=keys[0],
                worker=True,
                jvm=keys[2] if debezium else "",
                jvm_rate=1.0,  # issue 18: CDC sources at least Debezium's records/s
            )
            if dbz is not None:
                row(keys[2], labels[2], b, lambda: _some(dbz), baseline=keys[0])
    finally:
        server.stop()


def _some(samples: list[Sample]) -> list[Sample]:
    if not samples:
        raise RuntimeError("no Debezium run finished (its error is in the log above)")
    return samples


def put(worker: RestClient, path: str, body: Any = None) -> None:
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


def timed_resume(
    worker: RestClient, pid: int, name: str, b: Broker, topic: str, n: int, timeout: float
) -> tuple[float, float, float, float]:
    """Resume the stopped connector ``name`` and time its backlog into ``topic`` (created here,
    so it is watched from before the first record): the seconds from the first record to the
    ``n``-th, the CPU seconds process ``pid`` used in that span, its peak RSS and the record
    size."""
    asyncio.run(create_topic(b.bootstrap, topic))
    marks: dict[str, float] = {}

    def on_first() -> None:
        marks["cpu"] = cpu_seconds(pid)

    put(worker, f"/connectors/{name}/resume")
    first, last = watch_topic(b.bootstrap, topic, n, timeout=timeout, on_first=on_first)
    cpu = cpu_seconds(pid) - marks["cpu"]
    return last - first, cpu, peak_rss_mb(pid), record_bytes(b, topic)
