"""The faust-connect rows: worker processes running connectors created over REST.

Each row starts its own worker (so its peak RSS is its own), then per run creates a connector
with a fresh name (a fresh consumer group or output topic) and times it: sources from the first
record in the topic to the ``n``-th; the bench null sink from its first fetch to its ``n``-th
record (written by the task itself); the file sink from the first line in the file to the
``n``-th.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
from pathlib import Path
from typing import Any

from bench.baselines import Context
from bench.data import JSON_CONVERTERS, RAW_CONVERTERS, TRANSFORMS
from bench.harness import (
    Broker,
    Worker,
    count_lines,
    create_topic,
    peak_rss_mb,
    run_timeout,
    uid,
    wait_file,
    watch_topic,
)
from bench.report import Sample

__all__ = ["datagen_source", "file_sink", "null_sink", "raw_source", "start_workers"]


def start_workers(ctx: Context, broker: Broker, count: int = 1) -> list[Worker]:
    """``count`` workers of one new Connect cluster, all ready. Several get one placement
    partition each, so that as many tasks land one on each worker."""
    group = f"bench-{uid()}"
    env = {"CONNECT_TASK_PLACEMENT_PARTITIONS": str(count)} if count > 1 else {}
    workers = [
        Worker("bench.apps", broker.bootstrap, ctx.folder / group, group, env) for _ in range(count)
    ]
    for worker in workers:
        worker.wait_ready()
    if count > 1:
        _wait_settled(workers)
    return workers


def _wait_settled(workers: list[Worker], timeout: float = 60) -> None:
    """Wait until every worker holds a placement partition (the group has rebalanced)."""
    probe = f"probe-{uid()}"
    workers[0].create(
        probe, {"connector.class": "BenchNullSink", "topics": probe, "tasks.max": str(len(workers))}
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = workers[0].rest("GET", f"/connectors/{probe}/status")
        except urllib.error.HTTPError:  # not there yet (404) or rebalancing (409)
            time.sleep(0.5)
            continue
        owners = {task.get("worker_id") for task in status.get("tasks", [])}
        if len(owners) == len(workers):
            break
        time.sleep(0.5)
    workers[0].delete(probe)


def _rss(workers: list[Worker]) -> float:
    return max(peak_rss_mb(w.pid) for w in workers)


def _stop(workers: list[Worker]) -> None:
    for worker in workers:
        worker.stop()


def _source_runs(
    ctx: Context, broker: Broker, workers: list[Worker], config: dict[str, Any], label: str
) -> list[Sample]:
    samples = []
    for _ in range(ctx.runs):
        topic, name = f"{label}-{uid()}", f"{label}-{uid()}"
        partitions = int(config.get("tasks.max", "1"))
        asyncio.run(create_topic(broker.bootstrap, topic, partitions))
        workers[0].create(name, {**config, "kafka.topic": topic})
        first, last = watch_topic(broker.bootstrap, topic, ctx.records)
        samples.append(Sample(last - first, ctx.records, ctx.record_bytes, _rss(workers)))
        workers[0].delete(name)
        ctx.log(f"{label}: {samples[-1].rate:,.0f} rec/s")
    return samples


def datagen_source(ctx: Context, broker: Broker) -> list[Sample]:
    """Datagen ``orders`` → JSON with schemas → topic."""
    workers = start_workers(ctx, broker)
    config = {
        "connector.class": "io.confluent.kafka.connect.datagen.DatagenConnector",
        "quickstart": "orders",
        "iterations": str(ctx.records),
        "batch.size": "2000",
        "max.interval": "0",
        **JSON_CONVERTERS,
    }
    try:
        return _source_runs(ctx, broker, workers, config, "datagen")
    finally:
        _stop(workers)


def raw_source(ctx: Context, broker: Broker, worker_count: int = 1, tasks: int = 1) -> list[Sample]:
    """Pre-built raw bytes → ByteArrayConverter → topic, split over ``tasks`` tasks."""
    workers = start_workers(ctx, broker, worker_count)
    config = {
        "connector.class": "BenchBytesSource",
        "bench.records": str(ctx.records),
        "batch.size": "2000",
        "tasks.max": str(tasks),
        **RAW_CONVERTERS,
    }
    try:
        return _source_runs(ctx, broker, workers, config, "raw-source")
    finally:
        _stop(workers)


def null_sink(
    ctx: Context, broker: Broker, topic: str, worker_count: int = 1, tasks: int = 1
) -> list[Sample]:
    """Topic → ByteArrayConverter → the bench null sink (no transforms)."""
    workers = start_workers(ctx, broker, worker_count)
    samples = []
    try:
        for _ in range(ctx.runs):
            name, result = f"null-{uid()}", ctx.folder / f"null-{uid()}"
            workers[0].create(
                name,
                {
                    "connector.class": "BenchNullSink",
                    "topics": topic,
                    "tasks.max": str(tasks),
                    "bench.expect": str(ctx.records // tasks),
                    "bench.result": str(result),
                    "consumer.override.max.poll.records": str(ctx.max_poll_records),
                    **RAW_CONVERTERS,
                },
            )
            parts = [
                wait_file(
                    Path(f"{result}.{i}"),
                    process=workers[0].process,
                    timeout=run_timeout(ctx.records),
                )
                for i in range(tasks)
            ]
            seconds = max(p["last"] for p in parts) - min(p["first"] for p in parts)
            count = sum(p["count"] for p in parts)
            samples.append(Sample(seconds, count, ctx.record_bytes, _rss(workers)))
            workers[0].delete(name)
            ctx.log(f"null sink x{worker_count}: {samples[-1].rate:,.0f} rec/s")
    finally:
        _stop(workers)
    return samples


def file_sink(ctx: Context, broker: Broker, topic: str) -> list[Sample]:
    """Topic → JSON (schemas) → four transforms → FileStreamSink."""
    workers = start_workers(ctx, broker)
    samples = []
    try:
        for _ in range(ctx.runs):
            name, out = f"file-{uid()}", ctx.folder / f"file-{uid()}.jsonl"
            workers[0].create(
                name,
                {
                    "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
                    "topics": topic,
                    "file": str(out),
                    "consumer.override.max.poll.records": str(ctx.max_poll_records),
                    **JSON_CONVERTERS,
                    **TRANSFORMS,
                },
            )
            first, last = count_lines(out, ctx.records)
            samples.append(Sample(last - first, ctx.records, ctx.record_bytes, _rss(workers)))
            workers[0].delete(name)
            ctx.log(f"file sink: {samples[-1].rate:,.0f} rec/s")
    finally:
        _stop(workers)
    return samples
