"""The worker apps the benchmarks run with ``faust -A <module> worker``.

``bench.apps`` is a faust-connect worker (settings from ``CONNECT_*`` variables) with two bench
connectors registered beside the built-ins:

- ``BenchBytesSource`` returns pre-built raw key/value bytes (the exact bytes datagen's JSON
  converter writes) in batches of ``batch.size``, with source offsets, so a row with
  ByteArrayConverter measures the source runner itself, not record generation;
- ``BenchNullSink`` drops every batch (reading timestamps off the batch's columns, so it builds
  no record), and writes ``{count, first, last, latencies}`` to
  ``bench.result`` (one file per task) once it has seen ``bench.expect`` records.

"""

from __future__ import annotations

from collections.abc import Sequence

from bench.data import datagen_bytes
from bench.recorder import Recorder
from faust_connect.app.base import App
from faust_connect.connector import SinkConnector, SinkTask, SourceConnector, SourceTask, connectors
from faust_connect.data import BYTES
from faust_connect.records import SinkRecord, SinkRecords, SourceRecord


class BenchBytesSource(SourceConnector):
    """Raw bytes, ``bench.records`` in all, split over the tasks."""

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [
            {**self.raw, "bench.task": str(i), "bench.tasks": str(max_tasks)}
            for i in range(max_tasks)
        ]


class BenchBytesTask(SourceTask):
    async def start(self) -> None:
        total, tasks = int(self.config["bench.records"]), int(self.config.get("bench.tasks", "1"))
        task = int(self.config.get("bench.task", "0"))
        self.topic = self.config["kafka.topic"]
        self.batch = int(self.config.get("batch.size", "2000"))
        self.pairs = datagen_bytes(total)[task::tasks]  # cycles a small pool: a few MB
        self.partition = {"bench": self.context.connector, "task": task}
        stored = self.context.offset(self.partition)
        self.next = int(stored["i"]) if stored else 0

    async def poll(self) -> Sequence[SourceRecord]:
        end = min(self.next + self.batch, len(self.pairs))
        records = [
            SourceRecord(
                topic=self.topic,
                key=key,
                key_schema=BYTES,
                value=value,
                value_schema=BYTES,
                source_partition=self.partition,
                source_offset={"i": i + 1},
            )
            for i, (key, value) in enumerate(self.pairs[self.next : end], self.next)
        ]
        self.next = end
        return records


class BenchNullSink(SinkConnector):
    """Drops records; one task per ``tasks.max`` (partitions split by the runner)."""

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [{**self.raw, "bench.task": str(i)} for i in range(max_tasks)]


class BenchNullTask(SinkTask):
    async def start(self) -> None:
        result = self.config.get("bench.result", "")
        path = f"{result}.{self.config.get('bench.task', '0')}" if result else ""
        latency = self.config.get("bench.latency", "false") == "true"
        self.recorder = Recorder(path, int(self.config.get("bench.expect", "0")), latency)
        self.recorder.start()  # the runner fetches right after the task starts

    async def put(self, records: Sequence[SinkRecord]) -> None:
        if self.recorder.latency:
            if isinstance(records, SinkRecords):
                stamps = records.timestamps
            else:
                stamps = [r.timestamp or 0 for r in records]
            self.recorder.add(len(records), stamps)
        else:
            self.recorder.add(len(records))


BenchBytesSource.task_class = BenchBytesTask
BenchNullSink.task_class = BenchNullTask
connectors.register("BenchBytesSource", BenchBytesSource)
connectors.register("BenchNullSink", BenchNullSink)

app = App()
