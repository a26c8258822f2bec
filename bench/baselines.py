"""The baseline rows, each in its own process: bare aiokafka and confluent-kafka (librdkafka), a
bare Faust agent, Quix Streams."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.harness import (
    ROOT,
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

__all__ = [
    "Context",
    "bare_consume",
    "bare_produce",
    "faust_agent",
    "finish",
    "quix_json",
    "quix_passthrough",
    "start_consumer",
]


@dataclasses.dataclass
class Context:
    """What every row needs: where to work and how much."""

    folder: Path
    records: int
    faust_records: int
    runs: int
    max_poll_records: int
    record_bytes: float

    def log(self, text: str) -> None:
        print(f"  {text}", file=sys.stderr, flush=True)


def _python(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def finish(process: subprocess.Popen[bytes], timeout: float = 300) -> dict[str, Any]:
    """The JSON line a ``bench.bare`` process printed."""
    out, err = process.communicate(timeout=timeout)
    if process.returncode:
        raise RuntimeError(f"{process.args} failed:\n{err.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def bare_produce(ctx: Context, broker: Broker, mode: str = "produce") -> list[Sample]:
    """A bare producer (``mode`` of :mod:`bench.bare`: ``produce``, ``produce-batch`` or
    ``rdkafka-produce``) writing the datagen bytes to a fresh topic; timed from outside."""
    samples = []
    for _ in range(ctx.runs):
        topic = f"bare-out-{uid()}"
        asyncio.run(create_topic(broker.bootstrap, topic))
        process = _python(
            "bench.bare", mode, "--bootstrap", broker.bootstrap, "--topic", topic,
            "-n", str(ctx.records),
        )  # fmt: skip
        first, last = watch_topic(broker.bootstrap, topic, ctx.records)
        result = finish(process)
        samples.append(Sample(last - first, ctx.records, ctx.record_bytes, result["rss_mb"]))
        ctx.log(f"bare {mode}: {samples[-1].rate:,.0f} rec/s")
    return samples


def start_consumer(
    ctx: Context,
    broker: Broker,
    topic: str,
    n: int,
    *,
    latency: bool = False,
    mode: str = "consume",
) -> subprocess.Popen[bytes]:
    """A ``bench.bare consume`` (or ``rdkafka-consume``) process; :func:`finish` gives its
    result."""
    args = ["--max-records", str(ctx.max_poll_records)] + (["--latency"] if latency else [])
    return _python(
        "bench.bare", mode, "--bootstrap", broker.bootstrap, "--topic", topic,
        "-n", str(n), *args,
    )  # fmt: skip


def bare_consume(ctx: Context, broker: Broker, topic: str, mode: str = "consume") -> list[Sample]:
    """A bare consumer (aiokafka ``getmany``, or confluent-kafka with ``rdkafka-consume``) over
    the filled topic, timed from the first fetch."""
    samples = []
    for _ in range(ctx.runs):
        result = finish(start_consumer(ctx, broker, topic, ctx.records, mode=mode))
        seconds = result["last"] - result["first"]
        samples.append(Sample(seconds, result["count"], ctx.record_bytes, result["rss_mb"]))
        ctx.log(f"bare {mode}: {samples[-1].rate:,.0f} rec/s")
    return samples


def faust_agent(ctx: Context, broker: Broker, topic: str) -> list[Sample]:
    """A bare Faust agent counting records one event at a time (``bench.faust_app``)."""
    samples = []
    for i in range(ctx.runs):
        result = ctx.folder / f"faust-{uid()}.json"
        env = {
            "BENCH_GROUP": f"bench-faust-{uid()}",
            "BENCH_TOPIC": topic,
            "BENCH_RESULT": str(result),
            "BENCH_EXPECT": str(ctx.faust_records),
        }
        worker = Worker("bench.faust_app", broker.bootstrap, ctx.folder / f"faust-{i}", "x", env)
        try:
            data = wait_file(
                result, process=worker.process, timeout=60 + run_timeout(ctx.faust_records)
            )
            rss = peak_rss_mb(worker.pid)
        finally:
            worker.stop()
        seconds = data["last"] - data["first"]
        samples.append(Sample(seconds, data["count"], ctx.record_bytes, rss))
        ctx.log(f"faust agent: {samples[-1].rate:,.0f} rec/s")
    return samples


def quix_passthrough(ctx: Context, broker: Broker, topic: str) -> list[Sample]:
    """Quix Streams handing each raw record to a counting step."""
    samples = []
    for _ in range(ctx.runs):
        result = ctx.folder / f"quix-{uid()}.json"
        process = _python(
            "bench.quix", "passthrough", "--bootstrap", broker.bootstrap, "--topic", topic,
            "--group", f"quix-{uid()}", "-n", str(ctx.records), "--result", str(result),
        )  # fmt: skip
        data = wait_file(result, process=process, timeout=run_timeout(ctx.records))
        process.communicate(timeout=60)
        rss = float(result.with_suffix(".rss").read_text().split()[0])
        samples.append(Sample(data["last"] - data["first"], data["count"], ctx.record_bytes, rss))
        ctx.log(f"quix passthrough: {samples[-1].rate:,.0f} rec/s")
    return samples


def quix_json(ctx: Context, broker: Broker, topic: str) -> list[Sample]:
    """Quix Streams: JSON decode, the four transforms, a file sink; lines counted outside."""
    samples = []
    for _ in range(ctx.runs):
        out = ctx.folder / f"quix-{uid()}.jsonl"
        process = _python(
            "bench.quix", "json", "--bootstrap", broker.bootstrap, "--topic", topic,
            "--group", f"quix-{uid()}", "-n", str(ctx.records), "--out", str(out),
        )  # fmt: skip
        try:
            first, last = count_lines(out, ctx.records)
            rss = peak_rss_mb(process.pid)
        finally:
            process.terminate()
            process.communicate(timeout=60)
        samples.append(Sample(last - first, ctx.records, ctx.record_bytes, rss))
        ctx.log(f"quix json: {samples[-1].rate:,.0f} rec/s")
    return samples
