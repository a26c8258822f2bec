"""The sink runner: a dedicated consumer feeds a Faust agent with batches; put, flush, commit.

Each sink task has its own aiokafka consumer in the group ``connect-<connector>`` (so its
progress shows as that group's lag, as in Kafka Connect) with a *static* share of the topics'
partitions: task ``i`` of ``n`` takes every ``n``-th partition of the sorted list. The runtime
decides which worker runs which task, so no consumer group rebalance is needed per connector:
one paused or failed sink never stalls another, and a sink created at runtime on a new topic
starts at once.

The consumer loop converts and transforms each fetched batch and hands it to the task's Faust
agent (over an in-memory channel); the agent calls ``put``, and every
``offset.flush.interval.ms`` ``flush``; only then are the batch's offsets committed. Fetching the
next batch overlaps with writing the previous one.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition

from faust_connect.agents.runner import TaskRunner
from faust_connect.connector import SinkTask
from faust_connect.records import EMPTY_HEADERS, Header, Headers, SinkRecord, TimestampType

__all__ = ["SinkRunner"]

#: How often the partitions of the topics are looked up again (new topics, more partitions).
REFRESH_SECONDS = 2.0
#: Batches converted ahead of the one being written.
CHANNEL_SIZE = 2
_TIMESTAMP_TYPES: tuple[TimestampType, TimestampType] = ("CreateTime", "LogAppendTime")


class _Flush:
    """A channel item asking the agent to flush and commit."""

    def __init__(self) -> None:
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class _Context:
    def __init__(self, runner: SinkRunner) -> None:
        self._runner = runner
        self.connector = runner.connector
        self.task_id = runner.task_id
        self.logger: logging.Logger = runner.logger

    def assignment(self) -> frozenset[TopicPartition]:
        return frozenset(self._runner.assigned)

    async def report(self, record: SinkRecord, error: BaseException) -> None:
        # Until a dead letter queue is configured, an errant record fails the task.
        raise error


class SinkRunner(TaskRunner):
    """Runs one sink task."""

    def __init__(
        self, *args: Any, task_class: type[SinkTask], task_count: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.task_class = task_class
        self.task_count = task_count
        self.topics = [t.strip() for t in self.config.get("topics", "").split(",") if t.strip()]
        regex = self.config.get("topics.regex", "")
        self.pattern = re.compile(regex) if regex else None
        self.assigned: list[TopicPartition] = []
        self._written: dict[TopicPartition, int] = {}  # next offsets put but not yet committed
        self._agent_error: BaseException | None = None
        self.consumed = 0

    @property
    def group_id(self) -> str:
        """The consumer group holding this connector's progress."""
        return self.config.get("consumer.override.group.id") or f"connect-{self.connector}"

    async def run(self) -> None:
        options = {
            "group_id": self.group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            **self.services.client_options("consumer", self.config),
        }
        consumer = AIOKafkaConsumer(bootstrap_servers=self.services.bootstrap_servers, **options)
        task = self.task_class(self.task_config, _Context(self))
        await consumer.start()
        await task.start()
        app = self.services.app
        channel = app.channel(maxsize=CHANNEL_SIZE)
        name = f"connect-sink-{self.connector}-{self.task_id}"

        async def writer(stream: AsyncIterator[Any]) -> None:
            async for item in stream:
                await self._write(item, task, consumer)

        agent = app.agent(channel, name=name)(writer)
        await agent.start()
        try:
            await self._consume(consumer, task, channel)
            final = _Flush()
            await channel.put(final)
            await final.done
        finally:
            await agent.stop()
            app.agents.pop(name, None)
            await task.close(frozenset(self.assigned))
            await task.stop()
            await consumer.stop()

    # -- the consumer loop ----------------------------------------------------------------

    async def _consume(self, consumer: AIOKafkaConsumer, task: SinkTask, channel: Any) -> None:
        refreshed = last_flush = 0.0
        interval = self.services.offset_flush_interval
        while not self.stopping:
            self._raise_agent_error()
            now = time.monotonic()
            if now - refreshed > REFRESH_SECONDS:
                await self._refresh(consumer, task)
                refreshed = now
            if self.paused:
                consumer.pause(*self.assigned)
                await self.wait_resumed()
                consumer.resume(*self.assigned)
                continue
            if not self.assigned:
                await self.sleep(0.2)
                continue
            batches = await consumer.getmany(timeout_ms=200)
            if batches:
                records, positions = self._convert(batches)
                await channel.put((self.chain.apply_batch(records), positions))
            if self._written and now - last_flush >= interval:
                await channel.put(_Flush())
                last_flush = now
        self._raise_agent_error()

    def _raise_agent_error(self) -> None:
        if self._agent_error is not None:
            raise self._agent_error

    async def _refresh(self, consumer: AIOKafkaConsumer, task: SinkTask) -> None:
        try:
            everything = await self.services.topic_partitions(self.topics, self.pattern)
        except KafkaError as exc:  # the broker is briefly unreachable: keep what we have
            self.logger.warning("cannot look up partitions (will retry): %r", exc)
            return
        mine = everything[self.task_id :: self.task_count]
        if mine != self.assigned:
            added = frozenset(mine) - frozenset(self.assigned)
            consumer.assign(mine)
            self.assigned = mine
            if added:
                await task.open(added)

    def _convert(
        self, batches: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
    ) -> tuple[list[SinkRecord], dict[TopicPartition, int]]:
        to_key = self.key_converter.to_connect
        to_value = self.value_converter.to_connect
        records: list[SinkRecord] = []
        positions: dict[TopicPartition, int] = {}
        for tp, messages in batches.items():
            topic, partition = tp.topic, tp.partition
            for m in messages:
                key_schema, key = to_key(topic, m.key)
                value_schema, value = to_value(topic, m.value)
                records.append(
                    SinkRecord(
                        topic=topic,
                        partition=partition,
                        offset=m.offset,
                        key=key,
                        key_schema=key_schema,
                        value=value,
                        value_schema=value_schema,
                        timestamp=m.timestamp,
                        timestamp_type=_TIMESTAMP_TYPES[m.timestamp_type],
                        headers=self._headers(topic, m.headers) if m.headers else EMPTY_HEADERS,
                        original_topic=topic,
                        original_partition=partition,
                        original_offset=m.offset,
                    )
                )
            positions[tp] = messages[-1].offset + 1
        self.consumed += len(records)
        return records, positions

    def _headers(self, topic: str, raw: Sequence[tuple[str, bytes]]) -> Headers:
        convert = self.header_converter.to_connect_header
        out = []
        for key, data in raw:
            schema, value = convert(topic, key, data)
            out.append(Header(key, value, schema))
        return Headers(out)

    # -- the agent ------------------------------------------------------------------------

    async def _write(self, item: Any, task: SinkTask, consumer: AIOKafkaConsumer) -> None:
        if self._agent_error is not None:
            if isinstance(item, _Flush):
                item.done.set_result(None)
            return
        try:
            if isinstance(item, _Flush):
                await self._flush(task, consumer)
                item.done.set_result(None)
                return
            records, positions = item
            if records:
                await task.put(records)
            self._written.update(positions)
        except Exception as exc:
            self._agent_error = exc
            if isinstance(item, _Flush):
                item.done.set_result(None)

    async def _flush(self, task: SinkTask, consumer: AIOKafkaConsumer) -> None:
        if not self._written:
            return
        written, self._written = self._written, {}
        await task.flush(written)
        await consumer.commit(written)
