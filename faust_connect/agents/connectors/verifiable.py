"""Kafka's verifiable source and sink: numbered records to check a deployment end to end.

The same connectors Kafka's own system tests use to check Kafka Connect under bounces
(``org.apache.kafka.connect.tools.VerifiableSourceConnector`` / ``VerifiableSinkConnector``),
with their configs and record shapes, so a user can check a faust-connect cluster the same way:

- the source's task ``i`` writes records keyed by ``i`` (INT32) whose value is its next
  sequence number (INT64; with ``complete.record.data=true`` a struct of name, task, topic,
  time_ms, seqno), ``throughput`` records per second, with source partition ``{"id": i}`` and
  offset ``{"seqno": n}``, so a moved or restarted task goes on after its last stored number;
- the sink reports every record it is given and, at each flush, every record made durable.

Each report is one JSON line, printed (so in the task's log) as Kafka's tasks do, or appended
to ``file`` when set (beyond Kafka: a file a test or a user can read without parsing logs). A
checker then asks: did every seqno of every task reach the sink, how many twice, any gap?
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import Field

from faust_connect.config import PluginConfig
from faust_connect.connector import (
    ExactlyOnceSupport,
    SinkConnector,
    SinkTask,
    SourceConnector,
    SourceTask,
    TopicPartition,
)
from faust_connect.data import INT32, INT64, STRING, Struct, struct_schema
from faust_connect.records import SinkRecord, SourceRecord

__all__ = ["VerifiableSinkConnector", "VerifiableSourceConnector"]

_COMPLETE = struct_schema(
    [("name", STRING), ("task", INT32), ("topic", STRING), ("time_ms", INT64), ("seqno", INT64)]
)
#: Records returned by one poll at the most (the rest are due on the next).
MAX_BATCH = 500


def _report(path: str, lines: Sequence[dict[str, Any]]) -> None:
    if not lines:
        return
    if path:
        with open(path, "ab") as out:
            out.write(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    else:
        for line in lines:
            print(orjson.dumps(line).decode())


class VerifiableSourceConnector(SourceConnector):
    """Numbered records per task at a steady rate."""

    class Config(PluginConfig):
        topic: str = Field(description="The topic to write to.", min_length=1)
        throughput: float = Field(
            gt=0, description="Records per second per task (a float; Kafka's is an integer)."
        )
        complete_record_data: bool = Field(
            False, description="Values as a struct of name, task, topic, time_ms and seqno."
        )
        file: str = Field(
            "", description="Append the JSON reports here instead of printing them (ours)."
        )

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """One numbered sequence per task (``id``)."""
        return [{**self.raw, "id": str(i)} for i in range(max_tasks)]

    def exactly_once_support(self) -> ExactlyOnceSupport | None:
        """A task goes on after its stored sequence number."""
        return "SUPPORTED"


class VerifiableSourceTask(SourceTask):
    """Writes ``seqno`` 0, 1, 2, … (from the stored one on) at ``throughput`` per second."""

    class Config(VerifiableSourceConnector.Config):
        name: str = ""
        id: int = Field(0, ge=0)

    settings: Config

    async def start(self) -> None:
        s = self.settings
        self.partition = {"id": s.id}
        stored = self.context.offset(self.partition)
        self.seqno = int(stored["seqno"]) + 1 if stored else 0
        self.started_seqno = self.seqno
        self.started_at = time.monotonic()

    async def poll(self) -> Sequence[SourceRecord]:
        s = self.settings
        due = int((time.monotonic() - self.started_at) * s.throughput) + 1
        count = min(due - (self.seqno - self.started_seqno), MAX_BATCH)
        if count <= 0:
            await asyncio.sleep(min((1 - count) / s.throughput, 0.5))
            return []
        now = int(time.time() * 1000)
        records, reports = [], []
        for seqno in range(self.seqno, self.seqno + count):
            data = {"name": s.name, "task": s.id, "topic": s.topic, "time_ms": now, "seqno": seqno}
            reports.append(data)
            value: Any = Struct(_COMPLETE, data) if s.complete_record_data else seqno
            records.append(
                SourceRecord(
                    topic=s.topic,
                    key=s.id,
                    key_schema=INT32,
                    value=value,
                    value_schema=_COMPLETE if s.complete_record_data else INT64,
                    source_partition=self.partition,
                    source_offset={"seqno": seqno},
                )
            )
        self.seqno += count
        await asyncio.to_thread(_report, s.file, reports)
        return records

    async def commit(self, records: Sequence[SourceRecord]) -> None:
        s, now = self.settings, int(time.time() * 1000)
        reports = [
            {
                "name": s.name,
                "task": s.id,
                "topic": s.topic,
                "time_ms": now,
                "seqno": record.source_offset["seqno"],
                "committed": True,
            }
            for record in records
            if record.source_offset
        ]
        await asyncio.to_thread(_report, s.file, reports)


VerifiableSourceConnector.task_class = VerifiableSourceTask


class VerifiableSinkConnector(SinkConnector):
    """Reports each record it is given, and each one made durable."""

    class Config(PluginConfig):
        file: str = Field(
            "", description="Append the JSON reports here instead of printing them (ours)."
        )

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """The tasks share the topics' partitions; each knows its ``id``."""
        return [{**self.raw, "id": str(i)} for i in range(max_tasks)]


class VerifiableSinkTask(SinkTask):
    """Reports ``put`` records at once and again, ``flushed``, at each flush."""

    class Config(VerifiableSinkConnector.Config):
        name: str = ""
        id: int = Field(0, ge=0)

    settings: Config

    async def start(self) -> None:
        self.unflushed: list[dict[str, Any]] = []

    async def put(self, records: Sequence[SinkRecord]) -> None:
        s, now = self.settings, int(time.time() * 1000)
        reports = [
            {
                "name": s.name,
                "task": record.key,  # the source task the record came from
                "sinkTask": s.id,
                "topic": record.topic,
                "time_ms": now,
                "seqno": record.value,
                "offset": record.offset,
            }
            for record in records
        ]
        self.unflushed.extend(reports)
        await asyncio.to_thread(_report, s.file, reports)

    async def flush(self, offsets: Mapping[TopicPartition, int]) -> None:
        now = int(time.time() * 1000)
        flushed = [{**data, "time_ms": now, "flushed": True} for data in self.unflushed]
        self.unflushed = []
        await asyncio.to_thread(_report, self.settings.file, flushed)


VerifiableSinkConnector.task_class = VerifiableSinkTask
