"""Error handling as Kafka Connect does it: retries, tolerance, logging, dead letter queue.

One :class:`ErrorPolicy` per task wraps every stage of its records (poll, convert, transform,
put, produce), as Kafka Connect's ``RetryWithToleranceOperator`` does: the runners call it and
nothing else decides whether a failure is retried, skipped, dead-lettered or fails the task. It
reads the connector's ``errors.*`` keys (:class:`~faust_connect.config.ConnectorConfig`):

- ``errors.retry.timeout`` (ms, 0; -1 forever) and ``errors.retry.delay.max.ms`` (60000): a
  :class:`~faust_connect.exceptions.RetriableError` is retried with exponential backoff from
  300 ms, capped, with jitter, until the timeout. A sink's ``put`` is retried even with the
  default timeout of 0 (Kafka Connect redelivers a batch after a RetriableException).
- ``errors.tolerance`` ``none`` (a failed record fails the task) or ``all`` (it is skipped);
- ``errors.log.enable`` / ``errors.log.include.messages``;
- ``errors.deadletterqueue.topic.name`` and its ``.replication.factor`` and
  ``.context.headers.enable``: skipped records go there — for sinks the original raw key, value,
  headers and timestamp; for sources too (beyond Kafka Connect), rendered as JSON — with the
  ``__connect.errors.*`` headers when enabled.

A failed record is counted (``errors``), and a dead-lettered one (``dead_lettered``). Where
dead-lettered records go is a :class:`DeadLetters` (Kafka's :class:`KafkaDeadLetters` in a
worker; an in-memory one in :mod:`faust_connect.testing`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, Protocol, TypeVar

import orjson
from aiokafka import AIOKafkaProducer

from faust_connect.agents.runtime.task_metrics import TaskMetrics
from faust_connect.codecs import CodecError
from faust_connect.config import ConnectorConfig
from faust_connect.data import Struct
from faust_connect.exceptions import ConnectError, RetriableError
from faust_connect.records import ConnectRecord

__all__ = [
    "DeadLetters",
    "ErrorPolicy",
    "KafkaDeadLetters",
    "Raw",
    "Stage",
    "ToleranceExceeded",
]

T = TypeVar("T")

Stage = Literal[
    "KEY_CONVERTER",
    "VALUE_CONVERTER",
    "HEADER_CONVERTER",
    "TRANSFORMATION",
    "TASK_PUT",
    "TASK_POLL",
    "KAFKA_PRODUCE",
    "KAFKA_CONSUME",
]

#: The first retry waits this long (ms), then twice as long each time.
FIRST_DELAY_MS = 300

PREFIX = "__connect.errors."
_CONVERTER_STAGES = frozenset({"KEY_CONVERTER", "VALUE_CONVERTER", "HEADER_CONVERTER"})


class ToleranceExceeded(ConnectError):
    """A record failed and ``errors.tolerance`` is ``none``: the task fails.

    ``raw`` is the failed record as it came from Kafka, when known.
    """

    def __init__(self, message: str, raw: Raw | None = None) -> None:
        super().__init__(message)
        self.raw = raw


class Raw:
    """A record as it came from (or would have gone to) Kafka, for the dead letter queue."""

    __slots__ = ("headers", "key", "offset", "partition", "timestamp", "topic", "value")

    def __init__(
        self,
        topic: str,
        partition: int | None,
        offset: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        timestamp: int | None,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp


class DeadLetters(Protocol):
    """Where a task's dead-lettered records go."""

    async def send(self, topic: str, raw: Raw, headers: list[tuple[str, bytes]]) -> None:
        """Hand one record over (it may be acknowledged later: see :meth:`flush`)."""

    async def flush(self) -> None:
        """Return once every record handed over is stored."""

    async def close(self) -> None:
        """Flush, then release what :meth:`send` opened."""


class KafkaDeadLetters:
    """Dead letters to a Kafka topic, created on first use, through the task's own producer."""

    def __init__(
        self,
        *,
        replication_factor: int,
        producer_factory: Callable[[], AIOKafkaProducer],
        ensure_topic: Callable[[str, Mapping[str, str]], Awaitable[None]],
    ) -> None:
        self._topic_config = {
            "topic.creation.default.replication.factor": str(replication_factor),
            "topic.creation.default.partitions": "1",
        }
        self._producer_factory = producer_factory
        self._ensure_topic = ensure_topic
        self._producer: AIOKafkaProducer | None = None
        self._pending: list[asyncio.Future[Any]] = []

    async def send(self, topic: str, raw: Raw, headers: list[tuple[str, bytes]]) -> None:
        if self._producer is None:
            await self._ensure_topic(topic, self._topic_config)
            producer = self._producer_factory()
            await producer.start()
            self._producer = producer
        future = await self._producer.send(
            topic, raw.value, key=raw.key, headers=headers, timestamp_ms=raw.timestamp
        )
        self._pending.append(future)

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)

    async def close(self) -> None:
        try:
            await self.flush()
        finally:
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None


class ErrorPolicy:
    """Retries, tolerance, error logging and dead-lettering for one task."""

    def __init__(
        self,
        config: ConnectorConfig,
        *,
        connector: str,
        task_id: int,
        metrics: TaskMetrics,
        logger: logging.Logger,
        dead_letters: DeadLetters,
    ) -> None:
        self.connector = connector
        self.task_id = task_id
        self.metrics = metrics
        self.logger = logger
        self.tolerate_all = config.errors_tolerance == "all"
        self.retry_timeout_ms = config.errors_retry_timeout
        self.max_delay_ms = config.errors_retry_delay_max_ms
        self.log = config.errors_log_enable
        self.log_messages = config.errors_log_include_messages
        self.dlq_topic = config.errors_deadletterqueue_topic_name
        self.dlq_context = config.errors_deadletterqueue_context_headers_enable
        self.dead_letters = dead_letters

    # -- retries ----------------------------------------------------------------------------

    async def retry(
        self,
        stage: Stage,
        operation: Callable[[], Awaitable[T]],
        *,
        forever_by_default: bool = False,
        stopping: Callable[[], bool] = lambda: False,
    ) -> T:
        """Run ``operation``; on RetriableError wait and run it again until the retry timeout.

        ``forever_by_default``: with ``errors.retry.timeout`` 0, retry without end (a sink's
        ``put``, as Kafka Connect redelivers). The last error is raised when time is up.
        """
        timeout = self.retry_timeout_ms
        if timeout == 0 and forever_by_default:
            timeout = -1
        deadline = None if timeout < 0 else time.monotonic() + timeout / 1000
        attempt = 0
        while True:
            try:
                return await operation()
            except RetriableError as exc:
                if stopping() or (deadline is not None and time.monotonic() >= deadline):
                    raise
                delay = self._delay(attempt, exc.retry_after)
                if deadline is not None:
                    delay = min(delay, max(deadline - time.monotonic(), 0))
                attempt += 1
                self.metrics.retries += 1
                self.logger.info(
                    "%s of %s-%d failed (%s); retry %d in %.2fs",
                    stage,
                    self.connector,
                    self.task_id,
                    exc,
                    attempt,
                    delay,
                )
                await asyncio.sleep(delay)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return float(retry_after)
        base = min(FIRST_DELAY_MS << min(attempt, 20), self.max_delay_ms)
        return (base + random.uniform(0, base / 4)) / 1000

    # -- failed records ---------------------------------------------------------------------

    async def failed(
        self,
        stage: Stage,
        error: BaseException,
        *,
        raw: Raw | None = None,
        record: ConnectRecord | None = None,
        plugin: object = None,
    ) -> None:
        """A record failed at ``stage`` in ``plugin`` (the converter, transform or task): raise
        ToleranceExceeded, or log and dead-letter it.

        A converter's error is re-raised as a CodecError naming the converter and the record's
        place in Kafka (a converter's own bug too).
        """
        name = "" if plugin is None else type(plugin).__name__
        if stage in _CONVERTER_STAGES:
            error = _placed(error, name, stage, raw, record)
        self.metrics.errors += 1
        if self.log or not self.tolerate_all:
            self._log(stage, error, raw, record)
        if not self.tolerate_all:
            raise ToleranceExceeded(
                f"Tolerance exceeded in error handler: {stage} failed for "
                f"{_where(raw, record)}: {error!r}",
                raw,
            ) from error
        if self.dlq_topic:
            await self._dead_letter(stage, error, raw or _render(record), name)

    def _log(
        self,
        stage: Stage,
        error: BaseException,
        raw: Raw | None,
        record: ConnectRecord | None,
    ) -> None:
        message = f"Error encountered in task {self.connector}-{self.task_id}. Executing stage "
        message += f"'{stage}' for {_where(raw, record)}"
        if self.log_messages and (raw is not None or record is not None):
            shown = record if record is not None else (raw.key, raw.value) if raw else None
            message += f", record {shown!r}"
        self.logger.error("%s: %r", message, error)

    async def _dead_letter(self, stage: Stage, error: BaseException, raw: Raw, plugin: str) -> None:
        headers = list(raw.headers)
        if self.dlq_context:
            headers.extend(self._context(stage, error, raw, plugin))
        await self.dead_letters.send(self.dlq_topic, raw, headers)
        self.metrics.dead_lettered += 1

    def _context(
        self, stage: Stage, error: BaseException, raw: Raw, plugin: str
    ) -> list[tuple[str, bytes]]:
        values = {
            "topic": raw.topic,
            "partition": "" if raw.partition is None else str(raw.partition),
            "offset": "" if raw.offset is None else str(raw.offset),
            "connector.name": self.connector,
            "task.id": str(self.task_id),
            "stage": stage,
            "class.name": plugin,
            "exception.class.name": _java_like_name(error),
            "exception.message": str(error),
            "exception.stacktrace": "".join(traceback.format_exception(error)),
        }
        return [(PREFIX + k, v.encode()) for k, v in values.items() if v != "" or k == "class.name"]

    async def flush(self) -> None:
        """Wait until every dead-lettered record is stored (before committing past it)."""
        await self.dead_letters.flush()

    async def close(self) -> None:
        """Flush and release the dead letter queue."""
        await self.dead_letters.close()


def _placed(
    error: BaseException, converter: str, stage: str, raw: Raw | None, record: ConnectRecord | None
) -> CodecError:
    if not isinstance(error, CodecError):  # a converter bug: still name the converter
        error = CodecError(converter, repr(error))
    topic = raw.topic if raw is not None else record.topic if record is not None else None
    return error.with_context(
        topic=topic,
        partition=raw.partition if raw is not None else None,
        offset=raw.offset if raw is not None else None,
        stage=stage,
    )


def _where(raw: Raw | None, record: ConnectRecord | None) -> str:
    if raw is not None and raw.offset is not None:
        return f"topic '{raw.topic}' partition {raw.partition} offset {raw.offset}"
    if record is not None:
        return f"a record for topic '{record.topic}'"
    return "a record"


def _java_like_name(error: BaseException) -> str:
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"


def _render(record: ConnectRecord | None) -> Raw:
    """A source record that never became bytes, as JSON for the dead letter queue."""
    if record is None:
        return Raw("", None, None, None, None, [], None)

    def plain(value: Any) -> Any:
        return value.as_dict() if isinstance(value, Struct) else value

    def dump(value: Any) -> bytes | None:
        if value is None:
            return None
        if isinstance(value, bytes):
            return value
        return orjson.dumps(plain(value), default=str)

    return Raw(
        record.topic,
        record.partition,
        None,
        dump(record.key),
        dump(record.value),
        [(h.key, dump(h.value) or b"") for h in record.headers],
        record.timestamp,
    )
