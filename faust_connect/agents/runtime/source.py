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
from typing import Any, Literal, TypeVar

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    MessageSizeTooLargeError,
    ProducerFenced,
)
from aiokafka.partitioner import murmur2
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from faust_connect.agents.runtime.offsets import offset_key, read_offsets
from faust_connect.agents.runtime.pipeline import Serialized
from faust_connect.agents.runtime.runner import TaskRunner
from faust_connect.connector import SourceTask
from faust_connect.records import SourceRecord

__all__ = ["ExactlyOnceSourceRunner", "SourceRunner", "transactional_id"]

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
        return self._runner.stored_offset(partition)

    def transaction_context(self) -> _Transactions | None:
        return self._runner.transactions


class _Transactions:
    """A task's requests to end its transaction (``transaction.boundary=connector``)."""

    def __init__(self) -> None:
        self.request: Literal["commit", "abort"] | None = None

    def commit_transaction(self) -> None:
        self.request = "commit"

    def abort_transaction(self) -> None:
        self.request = "abort"


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
    #: Where the task ends transactions (exactly-once with ``transaction.boundary=connector``).
    transactions: _Transactions | None = None

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

    def stored_offset(self, partition: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """A source partition's committed offset."""
        return self.services.stored_offset(self.connector, partition)

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
            if self.stopping:
                break  # halted while polling: not sent, so the next run reads these again
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


class ExactlyOnceSourceRunner(SourceRunner):
    """Runs one source task exactly once (KIP-618): its records and their offsets are
    committed in one Kafka transaction.

    Its offsets live in a topic of the connector's (``offsets.storage.topic``, by default
    ``<offsets topic>-<connector>``), read with ``read_committed`` when the task starts, and are
    copied into the worker's offset table after each commit (for the REST API, and for a
    non-exactly-once run later): the worker's offsets topic is a Faust table's changelog, whose
    recovery would wait for ever on a trailing transaction marker.

    The task's producer has the transactional id ``<group.id>-<connector>-<task>``; starting it
    fences every earlier producer of the same task (a zombie on a worker that lost the task but
    still runs: its open transaction is aborted and its next send fails). A transaction ends
    after each poll that returned records (``transaction.boundary=poll``), once it is
    ``transaction.boundary.interval.ms`` old (``interval``), or where the task asks
    (``connector``, through its context's ``transaction_context()``). Offsets go to the offsets
    topic inside the transaction and into the offset table once it is committed; a failed send
    aborts the transaction and fails the task (``read_committed`` readers never see any of it).
    """

    _offsets_topic: str
    #: The offsets in the connector's own topic, as of the last commit.
    _own: dict[bytes, dict[str, Any]]

    async def run(self) -> None:
        settings = self.settings
        if settings.transaction_boundary == "connector":
            self.transactions = _Transactions()
        interval_ms = settings.transaction_boundary_interval_ms
        interval = (
            interval_ms / 1000 if interval_ms is not None else self.services.offset_flush_interval
        )
        self._offsets_topic = await self.services.offsets_topic(
            self.connector, settings.offsets_storage_topic
        )
        producer = self.services.clients.producer(
            self.config,
            transactional_id=self.services.transactional_id(self.connector, self.task_id),
            enable_idempotence=True,
        )
        # The fence first (InitProducerId aborts an earlier owner's open transaction and stops
        # it from committing another), then the offsets: read before it, they could miss a
        # transaction the earlier owner committed in between.
        await producer.start()
        try:
            self._own = await read_offsets(
                lambda **options: self.services.clients.consumer(config=self.config, **options),
                await self.services.topic_partitions([self._offsets_topic], None),
                self.connector,
            )
            self.logger.info(
                "task %s-%d resumes from %d stored offsets in %s: %s",
                self.connector,
                self.task_id,
                len(self._own),
                self._offsets_topic,
                _preview(self._own),
            )
            task = self.task_class(self.task_config, _Context(self))
            await task.start()
        except BaseException:
            await producer.stop()
            raise
        open_txn: _Open | None = None
        idle = IDLE_MIN
        try:
            while not self.stopping:
                if self.paused:
                    if open_txn is not None:
                        await self._end(producer, task, open_txn)
                        open_txn = None
                    await self.wait_resumed()
                    continue
                records = await self.errors.retry(
                    "TASK_POLL", task.poll, stopping=lambda: self.stopping
                )
                if self.stopping:
                    break  # halted while polling: not sent; the open transaction commits below
                if records:
                    idle = IDLE_MIN
                    self.metrics.polled += len(records)
                    if open_txn is None:
                        await producer.begin_transaction()
                        open_txn = _Open(time.monotonic())
                    transformed = await self.pipeline.transform(records)
                    serialized = await self.pipeline.to_bytes(transformed)
                    groups, futures = await self._send(producer, serialized)
                    open_txn.add(records, groups, futures)
                elif open_txn is None:
                    await self.sleep(idle)
                    idle = min(idle * 2, IDLE_MAX)
                if open_txn is not None and self._due(open_txn, interval, bool(records)):
                    await self._end(producer, task, open_txn)
                    open_txn = None
                elif open_txn is not None and not records:
                    await self.sleep(idle)
                    idle = min(idle * 2, IDLE_MAX)
            if open_txn is not None:  # stopping: what was polled is committed
                await self._end(producer, task, open_txn)
                open_txn = None
        except (ProducerFenced, InvalidProducerEpoch) as exc:
            # Another worker started this task (its producer fenced ours): it owns the task
            # and its status now; this copy stops without a word in the status topic.
            open_txn = None  # aborted by the fence
            self.fenced = True
            self.logger.warning(
                "task %s-%d was fenced by a newer owner and stops: %r",
                self.connector,
                self.task_id,
                exc,
            )
        finally:
            if open_txn is not None:
                try:
                    await producer.abort_transaction()
                except Exception:  # the broker is gone: the transaction times out anyway
                    self.logger.warning("could not abort the open transaction", exc_info=True)
            await producer.stop()
            await self.errors.close()
            await task.stop()

    def stored_offset(self, partition: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The offset in the connector's own topic, else the worker's table (a first run)."""
        own = self._own.get(offset_key(self.connector, partition))
        return own if own is not None else super().stored_offset(partition)

    def _due(self, txn: _Open, interval: float, polled: bool) -> bool:
        boundary = self.settings.transaction_boundary
        if boundary == "poll":
            return polled
        if boundary == "interval":
            return time.monotonic() - txn.started >= interval
        return self.transactions is not None and self.transactions.request is not None

    async def _end(self, producer: AIOKafkaProducer, task: SourceTask, txn: _Open) -> None:
        """Commit (or, when the task asked, abort) the open transaction."""
        request = self.transactions.request if self.transactions is not None else None
        if self.transactions is not None:
            self.transactions.request = None
        if request == "abort":
            await producer.abort_transaction()
            return
        results = await asyncio.gather(*txn.futures, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result  # the transaction cannot commit: abort (finally) and fail
        done: dict[bytes, tuple[Mapping[str, Any], Mapping[str, Any]]] = {}
        for record in txn.polled:
            if record.source_partition:
                key = offset_key(self.connector, record.source_partition)
                done[key] = (record.source_partition, record.source_offset)
        offsets = {key: dict(offset) for key, (_, offset) in done.items()}
        for key, offset in offsets.items():
            await producer.send(self._offsets_topic, _offset_value(offset), key=key)
        await producer.commit_transaction()
        self._own.update(offsets)
        try:
            await self.services.commit_offsets(self.connector, offsets)
        except Exception:  # a copy: the task resumes from its own topic
            self.logger.exception("could not copy the offsets to the worker's offset table")
        metrics = self.metrics
        metrics.produced += sum(len(group) for group in txn.sent)
        metrics.batches += 1
        metrics.batch_seconds = time.monotonic() - txn.started
        metrics.committed_at = time.time()
        await task.commit(txn.polled)
        await task.offsets_stored(list(done.values()))


def transactional_id(group: str, connector: str, task: int) -> str:
    """An exactly-once source task's transactional id, in Kafka Connect's form."""
    return f"{group}-{connector}-{task}"


def _offset_value(offset: Mapping[str, Any]) -> bytes:
    return orjson.dumps(dict(offset), option=orjson.OPT_SORT_KEYS)


class _Open:
    """The open transaction's records and the acks of their batches."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.polled: list[SourceRecord] = []
        self.sent: list[list[SourceRecord]] = []
        self.futures: list[asyncio.Future[Any]] = []

    def add(
        self,
        polled: Sequence[SourceRecord],
        sent: list[list[SourceRecord]],
        futures: list[asyncio.Future[Any]],
    ) -> None:
        self.polled.extend(polled)
        self.sent.extend(sent)
        self.futures.extend(futures)


def _preview(offsets: Mapping[bytes, Mapping[str, Any]], limit: int = 3) -> str:
    """A few stored offsets for a log line (a source may have thousands of partitions)."""
    shown = [f"{key.decode(errors='replace')}={dict(value)}" for key, value in offsets.items()]
    more = f" (and {len(shown) - limit} more)" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more
