"""MirrorSourceConnector: copies topics of the source cluster to the cluster the worker writes
to, record for record.

Each record keeps its key, value, headers and timestamp as bytes (BYTES schemas: run it with
``ByteArrayConverter`` for keys, values and headers, as MirrorMaker 2 does) and goes to the same
partition of the remote topic. Its source partition is ``{"cluster": <alias>, "topic": t,
"partition": p}`` and its offset ``{"offset": <its upstream offset>}`` (Kafka's form), so a
restarted task seeks to the offset after the stored one; on an exactly-once worker
(KIP-618) the records and that offset commit in one transaction, so each record is copied once.

The tasks split the source partitions among themselves: ``tasks.max`` tasks, each taking the
partitions whose ``crc32("<topic>-<partition>")`` falls on its index, so a partition keeps its
task when topics come and go. Each task looks for new topics and partitions every
``refresh.topics.interval.seconds`` (Kafka's connector does it and reassigns; ours has no
connector-side thread) and creates or grows the remote topics; task 0 also copies the topic
configs every ``sync.topic.configs.interval.seconds``.

Offset syncs: where a copied record landed is known without the producer's ack — the task
reads the remote partition's end offset (waiting until no transaction marker is pending) before
returning the records, and the k-th record of a partition in the poll lands k offsets after it.
On an exactly-once worker with ``transaction.boundary=poll`` that is exact; otherwise batches
still in flight make it an underestimate, which translates a group to an earlier offset (some
records read twice, none skipped).
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from faust_connect.agents.connectors.mirror import topics
from faust_connect.agents.connectors.mirror.clients import (
    client_settings,
    new_admin,
    new_consumer,
    new_producer,
)
from faust_connect.agents.connectors.mirror.config import (
    SourceConfig,
    pattern_issues,
    required_servers,
    task_share,
)
from faust_connect.agents.connectors.mirror.offset_syncs import OffsetSyncWriter
from faust_connect.agents.connectors.mirror.policy import PatternFilter
from faust_connect.connector import ExactlyOnceSupport, SourceConnector, SourceTask
from faust_connect.data import BYTES, OPTIONAL_BYTES
from faust_connect.exceptions import ConfigIssue
from faust_connect.records import Header, Headers, SourceRecord

__all__ = ["MirrorSourceConnector", "MirrorSourceTask", "wrap_partition"]

logger = logging.getLogger(__name__)

#: How long a poll waits for a pending transaction marker on the target before it takes the
#: lower, still safe, end offset for its offset syncs.
MARKER_WAIT = 0.5


def wrap_partition(alias: str, topic: str, partition: int) -> dict[str, Any]:
    """A source partition in Kafka's MM2 form."""
    return {"cluster": alias, "partition": partition, "topic": topic}


def _share(topic: str, partition: int, count: int) -> int:
    return zlib.crc32(f"{topic}-{partition}".encode()) % count


class MirrorSourceConnector(SourceConnector):
    """Replicates topics (data and configs) from the source cluster (Kafka's class)."""

    Config = SourceConfig
    version = "4.1.1"

    @classmethod
    def check(cls, c: Any) -> list[ConfigIssue]:
        """Regexes that compile, a known replication policy, both clusters' servers."""
        return pattern_issues(c) + required_servers(c, "source", "target")

    @classmethod
    def validate(cls, config: Mapping[str, str]) -> list[ConfigIssue]:
        """Kafka's checks, with its word on ``exactly.once.support=required``."""
        issues = super().validate(config)
        if config.get("exactly.once.support") == "required" and not _read_committed(config):
            issues.append(
                ConfigIssue(
                    "exactly.once.support",
                    "MirrorSourceConnector can only provide exactly-once guarantees when its "
                    "source consumer is configured with isolation.level set to "
                    "'read_committed'; otherwise, records from aborted and uncommitted "
                    "transactions will be replicated from the source cluster to the target "
                    "cluster.",
                )
            )
        return issues

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """``max_tasks`` tasks sharing the partitions; none when ``enabled`` is false."""
        if not self.raw.get("enabled", "true").strip().lower() == "true":
            return []
        return [
            {**self.raw, "task.index": str(i), "task.count": str(max_tasks)}
            for i in range(max_tasks)
        ]

    def exactly_once_support(self) -> ExactlyOnceSupport | None:
        """Supported when the source consumer reads ``read_committed`` (Kafka's rule)."""
        return "SUPPORTED" if _read_committed(self.raw) else "UNSUPPORTED"


def _read_committed(config: Mapping[str, str]) -> bool:
    level = client_settings(config, "source", "consumer").get("isolation.level", "")
    return level.strip().lower() == "read_committed"


class MirrorSourceTask(SourceTask):
    """Copies its share of the source partitions."""

    Config = SourceConfig
    settings: SourceConfig

    async def start(self) -> None:
        s = self.settings
        self.policy = s.policy()
        self.alias = s.source_cluster_alias
        self.index, self.count = task_share(self.config)
        self.topic_filter = PatternFilter(s.topics, s.topics_exclude)
        excluded = PatternFilter(s.config_properties_exclude, ())
        self.keep_config = lambda key: not excluded(key)
        self.consumer: AIOKafkaConsumer = new_consumer(self.config, "source")
        self.source_admin: AIOKafkaAdminClient = new_admin(self.config, "source")
        self.target_admin: AIOKafkaAdminClient = new_admin(self.config, "target")
        self._log_end = new_consumer(self.config, "target", isolation_level="read_uncommitted")
        self._stable_end = new_consumer(self.config, "target", isolation_level="read_committed")
        self.syncs: AIOKafkaProducer | None = None
        self.writer = OffsetSyncWriter(s.offset_lag_max)
        #: (source topic, partition, upstream offset) -> where it lands downstream
        self._landing: dict[tuple[str, int, int], int] = {}
        self.assigned: frozenset[TopicPartition] = frozenset()
        self.positions: dict[TopicPartition, int] = {}
        for client in (self.consumer, self._log_end, self._stable_end):
            await client.start()
        await self.source_admin.start()
        await self.target_admin.start()
        if s.emit_offset_syncs_enabled:
            side = s.offset_syncs_topic_location
            admin = self.source_admin if side == "source" else self.target_admin
            await topics.create_compacted_topic(
                admin, s.offset_syncs_topic(), s.offset_syncs_topic_replication_factor
            )
            self.syncs = new_producer(self.config, side)
            await self.syncs.start()
        self.offset_syncs_topic = s.offset_syncs_topic()
        await self._refresh()
        now = time.monotonic()
        self._refresh_at = now + s.refresh_topics_interval_seconds
        self._configs_at = now + s.sync_topic_configs_interval_seconds
        if s.sync_topic_configs_enabled and self.index == 0:
            await self._sync_configs()

    # -- topics -------------------------------------------------------------------------------

    def should_replicate(self, topic: str) -> bool:
        """Kafka's rule: chosen by the filter (or a heartbeats topic), not internal, no cycle."""
        s, policy = self.settings, self.policy
        chosen = self.topic_filter(topic) or (
            s.heartbeats_replication_enabled and policy.is_heartbeats_topic(topic)
        )
        return chosen and not policy.is_internal_topic(topic) and not self._is_cycle(topic)

    def _is_cycle(self, topic: str) -> bool:
        while True:
            source = self.policy.topic_source(topic)
            if source is None:
                return False
            if source == self.settings.target_cluster_alias:
                return True
            upstream = self.policy.upstream_topic(topic)
            if upstream is None or upstream == topic:
                return False
            topic = upstream

    def remote(self, topic: str) -> str:
        """The remote name of a source topic."""
        return self.policy.format_remote_topic(self.alias, topic)

    async def _refresh(self) -> None:
        """Find the source partitions, create or grow the remote topics, take this task's."""
        s = self.settings
        source = {
            t: n
            for t, n in (await topics.partition_counts(self.source_admin)).items()
            if self.should_replicate(t)
        }
        target = await topics.partition_counts(self.target_admin)
        missing = [t for t in source if self.remote(t) not in target]
        configs = (
            await topics.topic_configs(self.source_admin, missing, self.keep_config)
            if s.sync_topic_configs_enabled
            else {}
        )
        await topics.create_topics(
            self.target_admin,
            {self.remote(t): (source[t], configs.get(t, {})) for t in missing},
            s.replication_factor,
        )
        await topics.add_partitions(
            self.target_admin,
            {
                self.remote(t): n
                for t, n in source.items()
                if self.remote(t) in target and target[self.remote(t)] < n
            },
        )
        mine = frozenset(
            TopicPartition(t, p)
            for t, n in source.items()
            for p in range(n)
            if _share(t, p, self.count) == self.index
        )
        if mine != self.assigned:
            self._assign(mine)

    def _assign(self, partitions: frozenset[TopicPartition]) -> None:
        self.consumer.assign(sorted(partitions))
        for tp in partitions:
            position = self.positions.get(tp)
            if position is None:
                stored = self.context.offset(wrap_partition(self.alias, tp.topic, tp.partition))
                offset = (
                    int(stored["offset"]) if stored and stored.get("offset") is not None else -1
                )
                position = offset + 1 if offset >= 0 else None
            if position is not None:
                self.consumer.seek(tp, position)
        self.context.logger.info(
            "replicating %d topic-partitions %s->%s: %s",
            len(partitions),
            self.alias,
            self.settings.target_cluster_alias,
            sorted(partitions),
        )
        self.assigned = partitions

    async def _sync_configs(self) -> None:
        replicated = {tp.topic for tp in self.assigned} | {
            t for t in await topics.partition_counts(self.source_admin) if self.should_replicate(t)
        }
        found = await topics.topic_configs(self.source_admin, replicated, self.keep_config)
        await topics.alter_topic_configs(
            self.target_admin, {self.remote(t): c for t, c in found.items()}
        )

    # -- records ------------------------------------------------------------------------------

    async def poll(self) -> Sequence[SourceRecord]:
        s, now = self.settings, time.monotonic()
        if s.refresh_topics_enabled and now >= self._refresh_at:
            self._refresh_at = now + s.refresh_topics_interval_seconds
            await self._refresh()
        if s.sync_topic_configs_enabled and self.index == 0 and now >= self._configs_at:
            self._configs_at = now + s.sync_topic_configs_interval_seconds
            await self._sync_configs()
        if not self.assigned:
            await asyncio.sleep(min(s.consumer_poll_timeout_ms / 1000, 0.5))
            return []
        batches = await self.consumer.getmany(timeout_ms=s.consumer_poll_timeout_ms)
        batches = {tp: msgs for tp, msgs in batches.items() if msgs}
        if not batches:
            return []
        bases = await self._landing_offsets(
            [TopicPartition(self.remote(tp.topic), tp.partition) for tp in batches]
        )
        records: list[SourceRecord] = []
        alias, landing = self.alias, self._landing
        for tp, messages in batches.items():
            remote = self.remote(tp.topic)
            partition = wrap_partition(alias, tp.topic, tp.partition)
            base = bases.get(TopicPartition(remote, tp.partition))
            for i, m in enumerate(messages):
                records.append(
                    SourceRecord(
                        topic=remote,
                        partition=tp.partition,
                        key=m.key,
                        key_schema=OPTIONAL_BYTES,
                        value=m.value,
                        value_schema=BYTES,
                        timestamp=m.timestamp,
                        headers=Headers(Header(k, v, BYTES) for k, v in m.headers)
                        if m.headers
                        else Headers(),
                        source_partition=partition,
                        source_offset={"offset": m.offset},
                    )
                )
                if base is not None:
                    landing[(tp.topic, tp.partition, m.offset)] = base + i
            self.positions[tp] = messages[-1].offset + 1
        return records

    async def _landing_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        """Where the next record of each remote partition lands (at the least): its end offset
        once no transaction marker is pending, else the stable end."""
        if self.syncs is None:
            return {}
        deadline = time.monotonic() + MARKER_WAIT
        try:
            while True:
                log_end = await self._log_end.end_offsets(partitions)
                stable = await self._stable_end.end_offsets(partitions)
                if all(stable[tp] >= log_end[tp] for tp in partitions):
                    return dict(log_end)
                if time.monotonic() > deadline:
                    return {tp: min(stable[tp], log_end[tp]) for tp in partitions}
                await asyncio.sleep(0.01)
        except KafkaError as exc:  # a new remote partition without a leader yet: no syncs now
            self.context.logger.debug("no end offsets for offset syncs: %r", exc)
            return {}

    async def commit(self, records: Sequence[SourceRecord]) -> None:
        """The records are in the target: their offset syncs are due (Kafka's commitRecord)."""
        if self.syncs is None:
            return
        landing = self._landing
        for record in records:
            partition = record.source_partition
            upstream = int(record.source_offset["offset"])
            topic, number = str(partition["topic"]), int(partition["partition"])
            downstream = landing.pop((topic, number, upstream), None)
            if downstream is not None:
                self.writer.record(topic, number, upstream, downstream)
                await self._send_syncs()  # per record, as Kafka's commitRecord fires them

    async def offsets_stored(
        self, offsets: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]
    ) -> None:
        """Kafka's ``commit()``: the delayed syncs go out too."""
        if self.syncs is not None:
            self.writer.promote_delayed()
            await self._send_syncs()

    async def _send_syncs(self) -> None:
        assert self.syncs is not None
        for sync in self.writer.take_pending():
            future = await self.syncs.send(
                self.offset_syncs_topic, sync.value(), key=sync.key(), partition=0
            )
            future.add_done_callback(_log_failure)

    async def stop(self) -> None:
        for client in (self.consumer, self._log_end, self._stable_end, self.syncs):
            if client is not None:
                try:
                    await client.stop()
                except Exception:  # stopping anyway: nothing more to do with it
                    logger.warning("could not stop a mirror client", exc_info=True)
        for admin in (self.source_admin, self.target_admin):
            await admin.close()


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("failure sending offset sync: %r", future.exception())


MirrorSourceConnector.task_class = MirrorSourceTask
