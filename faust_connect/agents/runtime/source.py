"""The source runner: poll → transforms → converters → produce, offsets stored after the ack.

Records move in batches: each poll's records are transformed as a batch, converted, and handed
to the task's own producer without waiting; a second coroutine awaits the acks *in poll order*
and only then marks the batch's source offsets as done, so an offset is never stored ahead of a
record the broker has not acknowledged (records a transform dropped count as done too). Done
offsets are written to the offset table every ``offset.flush.interval.ms`` and at stop; once the
offsets topic has acknowledged them the task hears of it (``SourceTask.offsets_stored``).

Errors follow the connector's ``errors.*`` keys (see :mod:`faust_connect.agents.runtime.error_policy`): a
RetriableError from ``poll`` is retried; a record that fails a transform, a converter or the
produce is skipped (and dead-lettered, beyond Kafka Connect) with tolerance ``all``, or fails
the task with ``none`` — its batch's offsets are then not stored.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.partitioner import murmur2
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from faust_connect.agents.runtime.offsets import offset_key
from faust_connect.agents.runtime.pipeline import Serialized
from faust_connect.agents.runtime.runner import TaskRunner
from faust_connect.connector import SourceTask
from faust_connect.records import SourceRecord

__all__ = ["SourceRunner"]

#: Batches handed to the producer but not yet acknowledged, at most.
MAX_IN_FLIGHT = 16
#: How long a record may wait for the broker to accept it (retriable errors).
SEND_RETRY_SECONDS = 60.0
#: How long to wait after an empty poll, growing to IDLE_MAX.
IDLE_MIN, IDLE_MAX = 0.01, 0.5
#: aiokafka's default ``max_request_size`` (a record may not be larger).
MAX_REQUEST_SIZE = 1048576
T = TypeVar("T")


class _Context:
    def __init__(self, runner: SourceRunner) -> None:
        self._runner = runner
        self.connector = runner.connector
        self.task_id = runner.task_id
        self.logger: logging.Logger = runner.logger

    def offset(self, partition: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return self._runner.services.stored_offset(self.connector, partition)


@dataclasses.dataclass
class _InFlight:
    """One poll's records between the producer and the offset table."""

    #: One future per record batch handed to the producer.
    futures: list[asyncio.Future[Any]]
    #: The records of each batch, aligned with ``futures``.
    sent: list[list[SourceRecord]]
    #: Every record the poll returned (their offsets are done once ``futures`` are).
    polled: Sequence[SourceRecord]
    polled_at: float


class SourceRunner(TaskRunner):
    """Runs one source task."""

    kind = "source"
    task_class: type[SourceTask]

    def __init__(self, *args: Any, task_class: type[SourceTask], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.task_class = task_class
        self._in_flight: collections.deque[_InFlight] = collections.deque()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._acked = asyncio.Condition()
        #: offset key -> (source partition, offset) acknowledged but not yet stored
        self._done: dict[bytes, tuple[Mapping[str, Any], Mapping[str, Any]]] = {}
        self._known_topics: set[str] = set()
        options = self.services.clients.options("producer", self.config)
        self._max_request_size = int(options.get("max_request_size", MAX_REQUEST_SIZE))

    async def run(self) -> None:
        task = self.task_class(self.task_config, _Context(self))
        producer = self.new_producer()
        await task.start()
        await producer.start()
        poller = asyncio.create_task(self._poll(task, producer))
        acker = asyncio.create_task(self._ack_loop(task))
        flusher = asyncio.create_task(self._flush_loop(task))
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
            try:
                await self._commit(task)
            except Exception:  # the worker is going down; the next owner re-reads these records
                self.logger.exception("could not store the last source offsets")
            await producer.stop()
            await self.errors.close()
            await task.stop()

    async def _poll(self, task: SourceTask, producer: AIOKafkaProducer) -> None:
        idle = IDLE_MIN
        while not self.stopping:
            if self.paused:
                await self.wait_resumed()
                continue
            records = await self.errors.retry(
                "TASK_POLL", task.poll, stopping=lambda: self.stopping
            )
            if not records:
                await self.sleep(idle)
                idle = min(idle * 2, IDLE_MAX)
                continue
            idle = IDLE_MIN
            self.metrics.polled += len(records)
            await self._slots.acquire()
            polled_at = time.monotonic()
            transformed = await self.pipeline.transform(records)
            sent, futures = await self._send(producer, await self.pipeline.to_bytes(transformed))
            self._in_flight.append(_InFlight(futures, sent, records, polled_at))
            async with self._acked:
                self._acked.notify_all()

    async def _send(
        self, producer: AIOKafkaProducer, records: Sequence[Serialized]
    ) -> tuple[list[list[SourceRecord]], list[asyncio.Future[Any]]]:
        """Convert records and hand them to the producer in record batches (aiokafka's batch
        API: one future per batch, not per record); returns each batch's records and its ack.

        Partitions are chosen as Kafka's default partitioner does: the record's own, else the
        murmur2 hash of the key, else (no key) one partition per batch ("sticky", as Kafka's
        producer does since 2.4). A partition's records keep their order: a batch is handed
        over before the next one of that partition is started.
        """
        groups: list[list[SourceRecord]] = []
        futures: list[asyncio.Future[Any]] = []
        open_batches: dict[tuple[str, int], tuple[Any, list[SourceRecord]]] = {}
        partitions: dict[str, list[int]] = {}
        sticky: dict[str, int] = {}
        max_size = self._max_request_size
        estimate = DefaultRecordBatchBuilder.estimate_size_in_bytes
        for record, key, value, headers in records:
            topic = record.topic
            if topic not in self._known_topics:
                await self.services.ensure_topic(topic, self.config)
                self._known_topics.add(topic)
                self.services.track_topic(self.connector, self.task_id, topic)
            size = estimate(key, value, headers)
            if size > max_size:
                raise MessageSizeTooLargeError(
                    f"The message is {size} bytes when serialized which is larger than the "
                    "maximum request size you have configured with the max_request_size "
                    "configuration"
                )
            partition = record.partition
            if partition is None:
                choices = partitions.get(topic)
                if choices is None:
                    choices = partitions[topic] = await self._partitions(producer, topic)
                if len(choices) == 1:
                    partition = choices[0]
                elif key is not None:
                    partition = choices[(murmur2(key) & 0x7FFFFFFF) % len(choices)]
                else:
                    partition = sticky.get(topic)
                    if partition is None:
                        partition = sticky[topic] = _pick(producer, topic, choices)
            slot = (topic, partition)
            entry = open_batches.get(slot)
            if entry is None:
                entry = open_batches[slot] = (producer.create_batch(), [])
            builder, members = entry
            if builder.append(key=key, value=value, timestamp=record.timestamp, headers=headers):
                members.append(record)
                continue
            # The batch is full (append closed it): hand it over and start the next one.
            futures.append(await self._submit(producer, builder, topic, partition))
            groups.append(members)
            if record.partition is None and key is None and sticky.get(topic) == partition:
                sticky[topic] = _pick(producer, topic, partitions[topic])
            builder, members = producer.create_batch(), [record]
            open_batches[slot] = (builder, members)
            # An empty batch takes any record (the size was checked above).
            builder.append(key=key, value=value, timestamp=record.timestamp, headers=headers)
        for (topic, partition), (builder, members) in open_batches.items():
            if members:
                builder.close()  # the poll is gathered: send now rather than linger
                futures.append(await self._submit(producer, builder, topic, partition))
                groups.append(members)
        return groups, futures

    async def _partitions(self, producer: AIOKafkaProducer, topic: str) -> list[int]:
        """The topic's partitions, sorted (waits for its metadata, riding out retriable errors)."""
        found: set[int] = await self._retrying(lambda: producer.partitions_for(topic))
        return sorted(found)

    async def _submit(
        self, producer: AIOKafkaProducer, builder: Any, topic: str, partition: int
    ) -> asyncio.Future[Any]:
        """Hand one record batch to the producer; its future resolves on the broker's ack."""
        future: asyncio.Future[Any] = await self._retrying(
            lambda: producer.send_batch(builder, topic, partition=partition)
        )
        return future

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """``await call()``, riding out retriable broker errors (a new topic without a leader
        yet, a moved leader) for up to ``SEND_RETRY_SECONDS``."""
        deadline = time.monotonic() + SEND_RETRY_SECONDS
        delay = 0.05
        while True:
            try:
                return await call()
            except KafkaError as exc:
                if not exc.retriable or time.monotonic() > deadline:
                    raise
                self.metrics.retries += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _ack_loop(self, task: SourceTask) -> None:
        while True:
            async with self._acked:
                await self._acked.wait_for(lambda: bool(self._in_flight))
            batch = self._in_flight[0]
            try:
                results = await asyncio.gather(*batch.futures, return_exceptions=True)
                for group, result in zip(batch.sent, results, strict=True):
                    if isinstance(result, BaseException):
                        for record in group:
                            await self.errors.failed("KAFKA_PRODUCE", result, record=record)
                await self.errors.flush()  # dead-lettered records first, then their offsets
            except BaseException:
                async with self._acked:
                    self._acked.notify_all()  # wake a drain waiting for this batch
                raise
            self._in_flight.popleft()
            self._slots.release()
            metrics = self.metrics
            metrics.produced += sum(len(group) for group in batch.sent)
            metrics.batches += 1
            metrics.batch_seconds = time.monotonic() - batch.polled_at
            for record in batch.polled:
                if record.source_partition:
                    key = offset_key(self.connector, record.source_partition)
                    self._done[key] = (record.source_partition, record.source_offset)
            await task.commit(batch.polled)
            async with self._acked:
                self._acked.notify_all()

    async def _drain(self, acker: asyncio.Task[None]) -> None:
        """Wait until every batch handed to the producer is acknowledged (or a send failed)."""
        async with self._acked:
            await self._acked.wait_for(lambda: not self._in_flight or acker.done())

    async def _flush_loop(self, task: SourceTask) -> None:
        while True:
            await asyncio.sleep(self.services.offset_flush_interval)
            await self._commit(task)

    async def _commit(self, task: SourceTask) -> None:
        """Store the done offsets; once the offsets topic has them, tell the task."""
        if self._done:
            done, self._done = self._done, {}
            await self.services.commit_offsets(
                self.connector, {key: offset for key, (_, offset) in done.items()}
            )
            self.metrics.committed_at = time.time()
            await task.offsets_stored(list(done.values()))


def _pick(producer: AIOKafkaProducer, topic: str, choices: list[int]) -> int:
    """A random partition of ``topic``, among those with a leader if any (Kafka's choice for
    records without a key)."""
    available: set[int] | None = producer.client.cluster.available_partitions_for_topic(topic)
    return random.choice(sorted(available) if available else choices)
