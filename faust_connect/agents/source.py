"""The source runner: poll → transforms → converters → produce, offsets stored after the ack.

Records move in batches: each poll's records are transformed as a batch, converted, and handed
to the task's own producer without waiting; a second coroutine awaits the acks *in poll order*
and only then marks the batch's source offsets as done, so an offset is never stored ahead of a
record the broker has not acknowledged (records a transform dropped count as done too). Done
offsets are written to the offset table every ``offset.flush.interval.ms`` and at stop.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from faust_connect.agents.offsets import offset_key
from faust_connect.agents.runner import TaskRunner
from faust_connect.connector import SourceTask
from faust_connect.records import SourceRecord

__all__ = ["SourceRunner"]

#: Batches handed to the producer but not yet acknowledged, at most.
MAX_IN_FLIGHT = 16
#: How long to wait after an empty poll, growing to IDLE_MAX.
IDLE_MIN, IDLE_MAX = 0.01, 0.5


class _Context:
    def __init__(self, runner: SourceRunner) -> None:
        self._runner = runner
        self.connector = runner.connector
        self.task_id = runner.task_id
        self.logger: logging.Logger = runner.logger

    def offset(self, partition: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return self._runner.services.stored_offset(self.connector, partition)


class SourceRunner(TaskRunner):
    """Runs one source task."""

    task_class: type[SourceTask]

    def __init__(self, *args: Any, task_class: type[SourceTask], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.task_class = task_class
        self._in_flight: collections.deque[
            tuple[list[asyncio.Future[Any]], Sequence[SourceRecord]]
        ] = collections.deque()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._acked = asyncio.Condition()
        self._done: dict[bytes, Mapping[str, Any]] = {}
        self._known_topics: set[str] = set()
        self.produced = 0

    async def run(self) -> None:
        task = self.task_class(self.task_config, _Context(self))
        producer = AIOKafkaProducer(
            bootstrap_servers=self.services.bootstrap_servers,
            **self.services.client_options("producer", self.config),
        )
        await task.start()
        await producer.start()
        poller = asyncio.create_task(self._poll(task, producer))
        acker = asyncio.create_task(self._ack_loop(task))
        flusher = asyncio.create_task(self._flush_loop())
        try:
            # The acker runs until cancelled; if it ends first, a send failed.
            await asyncio.wait({poller, acker}, return_when=asyncio.FIRST_COMPLETED)
            # Stopped or failed: store the offsets of what the broker did acknowledge.
            await self._drain(acker)
            if acker.done():
                acker.result()
            poller.result()
        finally:
            for helper in (poller, acker, flusher):
                helper.cancel()
            await asyncio.gather(poller, acker, flusher, return_exceptions=True)
            self._commit()
            await producer.stop()
            await task.stop()

    async def _poll(self, task: SourceTask, producer: AIOKafkaProducer) -> None:
        idle = IDLE_MIN
        while not self.stopping:
            if self.paused:
                await self.wait_resumed()
                continue
            records = await task.poll()
            if not records:
                await self.sleep(idle)
                idle = min(idle * 2, IDLE_MAX)
                continue
            idle = IDLE_MIN
            await self._slots.acquire()
            futures = await self._send(producer, self.chain.apply_batch(records))
            self._in_flight.append((futures, records))
            async with self._acked:
                self._acked.notify_all()

    async def _send(
        self, producer: AIOKafkaProducer, records: Sequence[SourceRecord]
    ) -> list[asyncio.Future[Any]]:
        key_conv, value_conv, header_conv = (
            self.key_converter,
            self.value_converter,
            self.header_converter,
        )
        futures = []
        for record in records:
            topic = record.topic
            if topic not in self._known_topics:
                await self.services.ensure_topic(topic, self.config)
                self._known_topics.add(topic)
            headers = record.headers
            key = key_conv.from_connect(topic, record.key_schema, record.key, headers)
            value = value_conv.from_connect(topic, record.value_schema, record.value, headers)
            raw_headers = (
                [
                    (h.key, header_conv.from_connect_header(topic, h.key, h.schema, h.value) or b"")
                    for h in headers
                ]
                if headers
                else None
            )
            futures.append(
                await producer.send(
                    topic,
                    value,
                    key=key,
                    partition=record.partition,
                    timestamp_ms=record.timestamp,
                    headers=raw_headers,
                )
            )
        self.produced += len(futures)
        return futures

    async def _ack_loop(self, task: SourceTask) -> None:
        while True:
            async with self._acked:
                await self._acked.wait_for(lambda: bool(self._in_flight))
            futures, records = self._in_flight[0]
            try:
                await asyncio.gather(*futures)  # a failed send raises here and fails the task
            except BaseException:
                async with self._acked:
                    self._acked.notify_all()  # wake a drain waiting for this batch
                raise
            self._in_flight.popleft()
            self._slots.release()
            for record in records:
                if record.source_partition:
                    key = offset_key(self.connector, record.source_partition)
                    self._done[key] = record.source_offset
            await task.commit(records)
            async with self._acked:
                self._acked.notify_all()

    async def _drain(self, acker: asyncio.Task[None]) -> None:
        """Wait until every batch handed to the producer is acknowledged (or a send failed)."""
        async with self._acked:
            await self._acked.wait_for(lambda: not self._in_flight or acker.done())

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.services.offset_flush_interval)
            self._commit()

    def _commit(self) -> None:
        if self._done:
            done, self._done = self._done, {}
            self.services.commit_offsets(self.connector, done)
