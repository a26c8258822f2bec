"""A worker app for tests: the default settings plus plugins that misbehave on purpose."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from faust_connect.app.base import App
from faust_connect.connector import (
    SinkConnector,
    SinkTask,
    SourceConnector,
    SourceTask,
    TopicPartition,
    connectors,
)
from faust_connect.data import STRING, Struct
from faust_connect.exceptions import RetriableError
from faust_connect.records import SinkRecord, SourceRecord

app = App()


class ExplodingSinkTask(SinkTask):
    """Fails on a record whose value is "boom"."""

    async def put(self, records: Sequence[SinkRecord]) -> None:
        for record in records:
            if record.value == "boom":
                raise RuntimeError(f"boom at offset {record.offset}")


class ExplodingSink(SinkConnector):
    task_class = ExplodingSinkTask


class CountingSourceTask(SourceTask):
    """Counts from the stored offset (keys too if ``keyed``); raises at ``fail.at`` if set.

    With ``stored.file``, appends each offset ``offsets_stored`` hears of as a JSON line."""

    async def start(self) -> None:
        stored = self.context.offset({"counter": self.config["name"]})
        self.n = int(stored["n"]) if stored else 0
        self.limit = int(self.config.get("count", "100"))
        self.fail_at = int(self.config.get("fail.at", "-1"))
        self.delay = int(self.config.get("poll.delay.ms", "0")) / 1000
        self.batch = int(self.config.get("batch.size", "50"))
        self.keyed = self.config.get("keyed") == "true"
        self.stored_file = self.config.get("stored.file")

    async def offsets_stored(
        self, offsets: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]
    ) -> None:
        if self.stored_file:
            with open(self.stored_file, "ab") as out:
                for partition, offset in offsets:
                    out.write(orjson.dumps({"partition": partition, "offset": offset}) + b"\n")

    async def poll(self) -> Sequence[SourceRecord]:
        if self.n == self.fail_at:
            raise ValueError(f"source failed at {self.n}")
        if self.n >= self.limit:
            return []
        if self.delay:
            await asyncio.sleep(self.delay)
        batch = range(self.n, min(self.n + self.batch, self.limit))
        self.n = batch[-1] + 1
        return [
            SourceRecord(
                topic=self.config["topic"],
                key=str(i) if self.keyed else None,
                key_schema=STRING if self.keyed else None,
                value=str(i),
                value_schema=STRING,
                source_partition={"counter": self.config["name"]},
                source_offset={"n": i + 1},
            )
            for i in batch
        ]


class CountingSource(SourceConnector):
    task_class = CountingSourceTask


connectors.register("ExplodingSink", ExplodingSink)
connectors.register("CountingSource", CountingSource)


class RecordingSinkTask(SinkTask):
    """Appends values as JSON lines; reports values with {"reject": true} as errant."""

    async def start(self) -> None:
        self.out = open(self.config["file"], "ab")  # closed in stop

    async def put(self, records: Sequence[SinkRecord]) -> None:
        for record in records:
            value = record.value.as_dict() if isinstance(record.value, Struct) else record.value
            if isinstance(value, dict) and value.get("reject"):
                await self.context.report(record, ValueError(f"rejected offset {record.offset}"))
                continue
            self.out.write(orjson.dumps(value) + b"\n")

    async def flush(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.out.flush()

    async def stop(self) -> None:
        self.out.close()


class RecordingSink(SinkConnector):
    task_class = RecordingSinkTask


class FlakySinkTask(RecordingSinkTask):
    """Raises RetriableError for the first ``fail.for.seconds`` after the first put."""

    async def put(self, records: Sequence[SinkRecord]) -> None:
        now = time.monotonic()
        self.first = getattr(self, "first", now)
        if now - self.first < float(self.config.get("fail.for.seconds", "3")):
            raise RetriableError("the downstream system is busy", retry_after=0.2)
        await super().put(records)


class FlakySink(SinkConnector):
    task_class = FlakySinkTask


connectors.register("RecordingSink", RecordingSink)
connectors.register("FlakySink", FlakySink)


class StampSourceTask(SourceTask):
    """Every ``interval.ms`` emits {"task", "inst", "seq", "t"}: which run of a task ran when."""

    async def start(self) -> None:
        self.inst = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.task = int(self.config["task.id"])
        self.interval = int(self.config.get("interval.ms", "100")) / 1000
        self.seq = 0

    async def poll(self) -> Sequence[SourceRecord]:
        await asyncio.sleep(self.interval)
        self.seq += 1
        value = {"task": self.task, "inst": self.inst, "seq": self.seq, "t": time.time()}
        return [SourceRecord(topic=self.config["topic"], value=value)]


class StampSource(SourceConnector):
    task_class = StampSourceTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [{**self.raw, "task.id": str(i)} for i in range(max_tasks)]


connectors.register("StampSource", StampSource)


class ChattySourceTask(SourceTask):
    """Prints on its first poll, from the task and from a thread, then polls nothing."""

    printed = False

    async def poll(self) -> Sequence[SourceRecord]:
        if not self.printed:
            self.printed = True
            print("hello from poll")
            await asyncio.to_thread(print, "hello from a thread")
        await asyncio.sleep(0.1)
        return []


class ChattySinkTask(SinkTask):
    """Prints what it is given."""

    async def put(self, records: Sequence[SinkRecord]) -> None:
        for record in records:
            print("put", record.value)


class ChattySource(SourceConnector):
    task_class = ChattySourceTask


class ChattySink(SinkConnector):
    task_class = ChattySinkTask


connectors.register("ChattySource", ChattySource)
connectors.register("ChattySink", ChattySink)
