"""Rows that are not throughput: sink latency at a steady rate, and worker start-to-ready.

Latency: the bench produces ``rate`` records/s (CreateTime = send time) to a fresh topic while
the consumer under test is already running; each record's latency is the wall time it reached
the sink (``put``) or ``getmany`` minus its timestamp, the same clock. Start-up: seconds from
``faust worker`` process start to Faust's "Ready" (logged after table recovery), with an empty
offset table and with ``stored`` source offsets in the offset topic.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from bench.baselines import Context, finish, start_consumer
from bench.data import RAW_CONVERTERS, datagen_bytes
from bench.harness import Broker, Worker, cpu_seconds, create_topic, peak_rss_mb, uid, wait_file
from bench.pipelines import start_workers
from bench.report import Sample
from faust_connect.agents.runtime.offsets import offset_key

__all__ = ["bare_latency", "sink_latency", "startup"]


async def _steady(bootstrap: str, topic: str, rate: int, seconds: float) -> int:
    """Produce at ``rate`` records/s for ``seconds``, in 10 ms ticks; returns the count."""
    pairs = datagen_bytes(int(rate * seconds))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks=1)
    await producer.start()
    try:
        per_tick, sent, started = max(rate // 100, 1), 0, time.monotonic()
        pending = []
        while sent < len(pairs):
            for key, value in pairs[sent : sent + per_tick]:
                pending.append(await producer.send(topic, value, key=key))
            sent += per_tick
            await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
        await asyncio.gather(*pending)
        return len(pairs)
    finally:
        await producer.stop()


def bare_latency(ctx: Context, broker: Broker, rate: int, seconds: float) -> list[Sample]:
    """aiokafka ``getmany`` latency at a steady rate (one run)."""
    topic = f"lat-bare-{uid()}"
    asyncio.run(create_topic(broker.bootstrap, topic))
    n = int(rate * seconds)
    process = start_consumer(ctx, broker, topic, n, latency=True)
    time.sleep(2.0)  # let it connect and fetch
    asyncio.run(_steady(broker.bootstrap, topic, rate, seconds))
    result = finish(process)
    return [
        Sample(
            result["last"] - result["first"], n, ctx.record_bytes, result["rss_mb"],
            result["latencies"],
        )
    ]  # fmt: skip


def sink_latency(ctx: Context, broker: Broker, rate: int, seconds: float) -> list[Sample]:
    """faust-connect (raw bytes → bench null sink) latency at a steady rate (one run)."""
    topic, name, result = f"lat-{uid()}", f"lat-{uid()}", ctx.folder / f"lat-{uid()}"
    asyncio.run(create_topic(broker.bootstrap, topic))
    n = int(rate * seconds)
    (worker,) = start_workers(ctx, broker)
    try:
        worker.create(
            name,
            {
                "connector.class": "BenchNullSink",
                "topics": topic,
                "bench.expect": str(n),
                "bench.result": str(result),
                "bench.latency": "true",
                "consumer.override.max.poll.records": str(ctx.max_poll_records),
                **RAW_CONVERTERS,
            },
        )
        time.sleep(2.0)  # the task starts and fetches
        started = time.time()
        asyncio.run(_steady(broker.bootstrap, topic, rate, seconds))
        data = wait_file(Path(f"{result}.0"), process=worker.process)
        rss = peak_rss_mb(worker.pid)
    finally:
        worker.stop()
    return [Sample(data["last"] - started, n, ctx.record_bytes, rss, data["latencies"])]


async def _store_offsets(bootstrap: str, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1)
    await producer.start()
    try:
        pending = []
        for i in range(count):
            key = offset_key("bench-source", {"file": f"/data/{i}.log"})
            value = orjson.dumps({"position": i * 100})
            pending.append(await producer.send(topic, value, key=key))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def startup(
    ctx: Context, broker: Broker, stored: int, runs: int
) -> tuple[list[Sample], list[Sample]]:
    """Start-to-ready with an empty offset table, then with ``stored`` offsets in it."""
    group = f"bench-start-{uid()}"
    folder = ctx.folder / group

    def one() -> Sample:
        worker = Worker("bench.apps", broker.bootstrap, folder, group, {})
        try:
            seconds = worker.wait_ready()
            time.sleep(1.0)  # steady state after start
            return Sample(seconds, 1, 0, peak_rss_mb(worker.pid))
        finally:
            worker.stop()

    empty = [one() for _ in range(runs)]
    asyncio.run(_store_offsets(broker.bootstrap, f"{group}-offsets", stored))
    full = [one() for _ in range(runs)]
    ctx.log(f"start-up: empty {empty[0].seconds:.1f}s, {stored:,} offsets {full[0].seconds:.1f}s")
    return empty, full


def idle_cpu(ctx: Context, broker: Broker, seconds: float, runs: int) -> list[Sample]:
    """A worker with nothing to do: the share of one core it uses over ``seconds`` once it is
    ready (after a settling second), as each sample's ``seconds`` field (unit %)."""
    group = f"bench-idle-{uid()}"
    out = []
    for _ in range(runs):
        worker = Worker("bench.apps", broker.bootstrap, ctx.folder / group, group, {})
        try:
            worker.wait_ready()
            time.sleep(1.0)  # settle after start (not a wait for a condition)
            before, started = cpu_seconds(worker.pid), time.monotonic()
            time.sleep(seconds)  # the span measured itself
            used = cpu_seconds(worker.pid) - before
            share = 100 * used / (time.monotonic() - started)
            out.append(Sample(share, 1, 0, peak_rss_mb(worker.pid)))
        finally:
            worker.stop()
    ctx.log(f"idle: {', '.join(f'{s.seconds:.2f}%' for s in out)} of a core")
    return out
