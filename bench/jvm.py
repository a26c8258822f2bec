"""The ``jvm`` rows: Apache Kafka Connect's own worker beside ours, on the same broker and bytes.

The JVM worker is the differential tests' fixture (:class:`tests.connect_server.ConnectWorker`,
``ConnectDistributed`` from the ``connect`` profile of ``jvm/pom.xml``). The fixture's flags are
tuned for a quick start on two shared cores (C1 only, serial GC, 384 MB heap); a user runs
``connect-distributed.sh``, so by default (``--jvm-flags kafka``) the bench lays that script's
flags over them with ``_JAVA_OPTIONS`` (which the JVM reads after the command line): 256 MB to 2 GB
heap, G1, both JIT tiers. ``--jvm-flags fixture`` keeps the fixture's own.

Each run starts a fresh process on each side, ours (``faust -A bench.apps worker``) and the JVM's,
creates the same connector on it and times it: records/s from the first record out to the
``n``-th, CPU seconds (user + system of the worker process, ``/proc/<pid>/stat``) over that span,
peak RSS (VmHWM) at its end, and start-up from the process's start to the first record out (its
boot, the REST create, the task's start). That is the *cold* sample; a second connector on the
same process right after gives the *warm* one (the JVM's JIT has compiled the path by then). The
two sides alternate which goes first. The JVM's source producer gets our runtime's batch size
and linger (:data:`PRODUCER`).

- **file sink**: the filled topic (datagen's JSON with schemas) → JsonConverter → Flatten,
  ReplaceField, Cast, InsertField (:data:`bench.data.TRANSFORMS`) → FileStreamSink; lines
  counted in the file. The JVM writes each value as ``Struct.toString()``, ours as JSON.
- **file source**: a file of the same records' value bytes, one per line → FileStreamSource
  (``batch.size`` 2000) → StringConverter → a fresh topic; records counted in the topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.baselines import Context
from bench.data import JSON_CONVERTERS, TRANSFORMS, datagen_bytes
from bench.harness import (
    Broker,
    RestClient,
    Worker,
    count_lines,
    cpu_seconds,
    create_topic,
    peak_rss_mb,
    run_timeout,
    uid,
    watch_topic,
)
from bench.report import Sample
from tests.connect_server import ConnectWorker

__all__ = ["JVM_FLAGS", "JvmWorker", "jvm_rows"]

#: ``connect-distributed.sh``'s heap and ``kafka-run-class.sh``'s KAFKA_JVM_PERFORMANCE_OPTS,
#: undoing the fixture's serial GC and C1-only JIT (two collectors named is an error).
KAFKA_FLAGS = (
    "-Xms256M -Xmx2G -XX:-UseSerialGC -XX:+UseG1GC -XX:MaxGCPauseMillis=20 "
    "-XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent "
    "-XX:MaxInlineLevel=15 -XX:TieredStopAtLevel=4"
)
#: What ``--jvm-flags`` may name.
JVM_FLAGS = {"kafka": KAFKA_FLAGS, "fixture": ""}

#: The source tasks' producer batches as our runtime's (``faust_connect.app.clients``: 256 KB,
#: linger 5 ms). Connect's own (16 KB, one request in flight) bound a source at one 16 KB batch
#: per broker round trip: 3.2k records/s of ~700 bytes, 10-100/s of Debezium's ~3.3 KB, on
#: the loaded 2 cores. Connect keeps acks=all and one request in flight, as ours keeps acks=all.
PRODUCER = {"producer.batch.size": str(256 * 1024), "producer.linger.ms": "5"}

STRING_CONVERTERS = {
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.storage.StringConverter",
}

#: One run of a side: its cold and its warm sample.
Run = Callable[[], tuple[Sample, Sample]]
#: ``Side.wait(on_first)``: wall times of the first and the ``n``-th record out.
Wait = Callable[[Callable[[], None]], tuple[float, float]]
#: A fresh connector config (new output file or topic) and how to wait for its records.
Make = Callable[[], tuple[dict[str, str], Wait]]


@contextlib.contextmanager
def _java_options(flags: str) -> Iterator[None]:
    """``_JAVA_OPTIONS`` set for the processes started inside (the fixture passes our
    environment on)."""
    before = os.environ.get("_JAVA_OPTIONS")
    if flags:
        os.environ["_JAVA_OPTIONS"] = flags
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("_JAVA_OPTIONS", None)
        else:
            os.environ["_JAVA_OPTIONS"] = before


class _Ours:
    """A faust-connect worker process: start, create one connector, stop."""

    name = "ours"

    def __init__(self, ctx: Context, broker: Broker) -> None:
        self.ctx, self.broker = ctx, broker

    def start(self) -> int:
        group = f"bench-{uid()}"
        self.worker = Worker(
            "bench.apps", self.broker.bootstrap, self.ctx.folder / group, group, {}
        )
        ready = self.worker.wait_ready()
        self.ctx.log(f"ours: ready in {ready:.1f} s")
        return self.worker.pid

    def create(self, name: str, config: dict[str, str]) -> None:
        self.worker.create(name, config)

    def stop(self) -> None:
        self.worker.stop()


class JvmWorker(RestClient):
    """A JVM Kafka Connect worker (the tests' :class:`ConnectWorker`) with the REST calls the
    rows make on ours; ``debezium`` puts Debezium's connectors on its class path."""

    def __init__(
        self, folder: Path, bootstrap: str, flags: str = "kafka", *, debezium: bool = False
    ) -> None:
        # the fixture puts the debezium profile after connect's, each artifact once
        profiles = ("connect", "debezium") if debezium else ("connect",)
        self.connect = ConnectWorker(folder, bootstrap, extra=PRODUCER, profiles=profiles)
        self.port = self.connect.port
        self.flags = JVM_FLAGS[flags]

    def start(self) -> float:
        """Start it; seconds until its REST API said healthy."""
        started = time.monotonic()
        with _java_options(self.flags), contextlib.redirect_stdout(sys.stderr):
            self.connect.start(timeout=180)  # its "ready" line is a log, not a result
        return time.monotonic() - started

    @property
    def pid(self) -> int:
        assert self.connect.process is not None
        return self.connect.process.pid

    def stop(self) -> None:
        self.connect.stop()


class _Jvm:
    """A JVM Kafka Connect worker process: start, create one connector, stop."""

    name = "jvm"

    def __init__(self, ctx: Context, broker: Broker, flags: str) -> None:
        self.ctx, self.broker, self.flags = ctx, broker, flags

    def start(self) -> int:
        folder = self.ctx.folder / f"jvm-{uid()}"
        self.worker = JvmWorker(folder, self.broker.bootstrap, self.flags)
        self.ctx.log(f"jvm: ready in {self.worker.start():.1f} s")
        return self.worker.pid

    def create(self, name: str, config: dict[str, str]) -> None:
        self.worker.create(name, config)

    def stop(self) -> None:
        self.worker.stop()


Side = _Ours | _Jvm


def _measure(ctx: Context, side: Side, make: Make, n: int, size: float) -> tuple[Sample, Sample]:
    """Two runs on one fresh process of ``side``: start it, create a connector and time it
    (cold: its start-up counts, and the JVM's JIT has not warmed up yet), then time a second
    connector on the same process (warm)."""
    started = time.time()
    pid = side.start()
    samples = []
    try:
        for phase in ("cold", "warm"):
            marks: dict[str, float] = {}

            def on_first(marks: dict[str, float] = marks) -> None:
                marks["cpu"] = cpu_seconds(pid)

            config, wait = make()
            side.create(f"bench-{uid()}", config)
            first, last = wait(on_first)
            cpu, rss = cpu_seconds(pid), peak_rss_mb(pid)
            since = first - started
            sample = Sample(
                last - first,
                n,
                size,
                rss,
                cpu_s=cpu - marks["cpu"],
                startup_s=since if phase == "cold" else 0.0,  # the warm one's is not a start-up
            )
            samples.append(sample)
            ctx.log(
                f"{side.name} {phase}: {sample.rate:,.0f} rec/s, {sample.cpu_s:.2f} CPU s in the "
                f"span ({cpu:.1f} s since start), RSS {rss:.0f} MB, first record "
                f"{since:.1f} s after start"
            )
    finally:
        side.stop()
    return samples[0], samples[1]


def _lines(ctx: Context) -> tuple[Path, float]:
    """A file of the datagen records' value bytes, one per line, and the mean line length."""
    path = ctx.folder / f"lines-{uid()}.txt"
    values = [value for _, value in datagen_bytes(ctx.records)]
    path.write_bytes(b"".join(value + b"\n" for value in values))
    return path, sum(len(v) for v in values) / len(values)


Found = list[Sample] | BaseException


def _pairs(sides: tuple[Side, Side], runs: int, run: Callable[[Side], Run]) -> dict[str, Found]:
    """Every run of both sides, alternating which goes first; a side that fails stops there.
    Keys: ``ours``, ``ours-warm``, ``jvm``, ``jvm-warm``."""
    out: dict[str, Found] = {}
    for side in sides:
        out[side.name], out[f"{side.name}-warm"] = [], []
    for i in range(runs):
        for side in sides if i % 2 == 0 else sides[::-1]:
            cold, warm = out[side.name], out[f"{side.name}-warm"]
            if isinstance(cold, BaseException) or isinstance(warm, BaseException):
                continue
            try:
                first, second = run(side)()
            except Exception as exc:
                traceback.print_exc()
                out[side.name] = out[f"{side.name}-warm"] = exc
                continue
            cold.append(first)
            warm.append(second)
    return out


def _result(found: Found) -> Callable[[], list[Sample]]:
    def get() -> list[Sample]:
        if isinstance(found, BaseException):
            raise found
        return found

    return get


def _sink_run(ctx: Context, side: Side, topic: str) -> Run:
    def make() -> tuple[dict[str, str], Wait]:
        out = ctx.folder / f"{side.name}-sink-{uid()}.txt"
        config = {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "topics": topic,
            "file": str(out),
            "consumer.override.max.poll.records": str(ctx.max_poll_records),
            **JSON_CONVERTERS,
            **TRANSFORMS,
        }

        def wait(on_first: Callable[[], None]) -> tuple[float, float]:
            return count_lines(out, ctx.records, on_first=on_first)

        return config, wait

    return lambda: _measure(ctx, side, make, ctx.records, ctx.record_bytes)


def _source_run(ctx: Context, side: Side, broker: Broker, lines: Path, size: float) -> Run:
    def make() -> tuple[dict[str, str], Wait]:
        topic = f"{side.name}-file-source-{uid()}"
        asyncio.run(create_topic(broker.bootstrap, topic))
        config = {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "file": str(lines),
            "topic": topic,
            "batch.size": "2000",
            **STRING_CONVERTERS,
        }

        def wait(on_first: Callable[[], None]) -> tuple[float, float]:
            return watch_topic(
                broker.bootstrap,
                topic,
                ctx.records,
                timeout=120 + run_timeout(ctx.records),
                on_first=on_first,
            )

        return config, wait

    return lambda: _measure(ctx, side, make, ctx.records, size)


RowFn = Callable[..., Any]


def jvm_rows(
    row: RowFn, ctx: Context, broker: Broker, topic: str, flags: str = "kafka", runs: int = 1
) -> None:
    """The JVM rows and their faust-connect counterparts, over the filled ``topic``: ``runs``
    runs of each side (a fresh process each, so each costs a JVM start)."""
    sides: tuple[Side, Side] = (_Ours(ctx, broker), _Jvm(ctx, broker, flags))
    label = f"JVM ({flags} flags)"
    lines, size = _lines(ctx)
    pipelines = (
        ("sink", "JSON -> 4 transforms -> file", lambda side: _sink_run(ctx, side, topic)),
        (
            "source",
            "file -> string -> topic",
            lambda side: _source_run(ctx, side, broker, lines, size),
        ),
    )
    for key, what, run in pipelines:
        ctx.log(f"jvm group: {key}, {runs} run(s) of each side, cold and warm")
        found = _pairs(sides, runs, run)
        for suffix, when in (("", "cold"), ("-w", "warm")):
            jvm_key = f"jvm-{key}{suffix}"
            row(
                f"fc-{key}{suffix}",
                f"ours {when}: {what}",
                broker,
                _result(found["ours" + ("-warm" if suffix else "")]),
                baseline=jvm_key,
                worker=True,
                jvm=jvm_key,
            )
            jvm_found = found["jvm" + ("-warm" if suffix else "")]
            row(jvm_key, f"{label} {when}: the same", broker, _result(jvm_found))
