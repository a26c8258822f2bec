"""MirrorCheckpointConnector: consumer-group offsets of the source, translated for the target.

Every ``emit.checkpoints.interval.seconds`` a task reads its groups' committed offsets on the
source cluster, translates each through the offset syncs (:mod:`.offset_syncs`) and writes a
``Checkpoint`` record per partition to ``<source alias>.checkpoints.internal`` on the target
(the worker's cluster) — only when it moved on (or the group rewound). With
``sync.group.offsets.enabled`` it also commits the translated offsets to the target's group,
when that group has no active member there and only forward, so a consumer switched to the
target starts where its group left off on the source.

The tasks share the groups as the source tasks share partitions (``crc32(group)`` on the task
index); each task lists the source's groups every ``refresh.groups.interval.seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from faust_connect.agents.connectors.mirror import topics
from faust_connect.agents.connectors.mirror.clients import new_admin, new_consumer
from faust_connect.agents.connectors.mirror.config import (
    CheckpointConfig,
    pattern_issues,
    required_servers,
    task_share,
)
from faust_connect.agents.connectors.mirror.offset_syncs import OffsetSyncStore
from faust_connect.agents.connectors.mirror.policy import PatternFilter
from faust_connect.agents.connectors.mirror.wire import Checkpoint, OffsetSync, WireError
from faust_connect.connector import SourceConnector, SourceTask
from faust_connect.data import BYTES
from faust_connect.exceptions import ConfigIssue
from faust_connect.records import SourceRecord

__all__ = ["MirrorCheckpointConnector", "MirrorCheckpointTask", "read_to_end"]

logger = logging.getLogger(__name__)
#: The states of a group without active members (its offsets may be set from outside).
_IDLE = ("Empty", "Dead", "")


class MirrorCheckpointConnector(SourceConnector):
    """Emits consumer-group checkpoints from the source to the target (Kafka's class)."""

    Config = CheckpointConfig
    version = "4.1.1"

    @classmethod
    def check(cls, c: Any) -> list[ConfigIssue]:
        """Kafka's rules: checkpoints and offset syncs on; regexes; both clusters' servers."""
        issues = pattern_issues(c) + required_servers(c, "source", "target")
        if not c.enabled:
            return issues
        if not c.emit_checkpoints_enabled:
            issues.append(
                ConfigIssue(
                    "emit.checkpoints.enabled",
                    "MirrorCheckpointConnector can't run with emit.checkpoints.enabled set to "
                    "false",
                )
            )
        if not c.emit_offset_syncs_enabled:
            issues.append(
                ConfigIssue(
                    "emit.offset-syncs.enabled",
                    "MirrorCheckpointConnector can't run without offset syncs",
                )
            )
        return issues

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """``max_tasks`` tasks sharing the groups; none when disabled."""
        if self.raw.get("enabled", "true").strip().lower() != "true":
            return []
        return [
            {**self.raw, "task.index": str(i), "task.count": str(max_tasks)}
            for i in range(max_tasks)
        ]


async def read_to_end(
    consumer: AIOKafkaConsumer, tp: TopicPartition, *, timeout: float = 60.0
) -> list[Any]:
    """Every record of ``tp`` from its start to its end offset now (the consumer is assigned
    ``tp`` and stays there, to be read on)."""
    consumer.assign([tp])
    await consumer.seek_to_beginning(tp)
    end = (await consumer.end_offsets([tp]))[tp]
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    while await consumer.position(tp) < end:
        if time.monotonic() > deadline:
            raise TimeoutError(f"could not read {tp} to its end offset {end} in {timeout:.0f}s")
        for records in (await consumer.getmany(tp, timeout_ms=500)).values():
            out.extend(records)
    return out


class MirrorCheckpointTask(SourceTask):
    """Checkpoints its share of the source's consumer groups."""

    Config = CheckpointConfig
    settings: CheckpointConfig

    async def start(self) -> None:
        s = self.settings
        self.policy = s.policy()
        self.index, self.count = task_share(self.config)
        self.topic_filter = PatternFilter(s.topics, s.topics_exclude)
        self.group_filter = PatternFilter(s.groups, s.groups_exclude)
        self.checkpoints_topic = s.checkpoints_topic()
        self.source_admin: AIOKafkaAdminClient = new_admin(self.config, "source")
        self.target_admin: AIOKafkaAdminClient = new_admin(self.config, "target")
        await self.source_admin.start()
        await self.target_admin.start()
        await topics.create_compacted_topic(
            self.target_admin, self.checkpoints_topic, s.checkpoints_topic_replication_factor
        )
        self.store = OffsetSyncStore()
        self._syncs_tp = TopicPartition(s.offset_syncs_topic(), 0)
        self._syncs: AIOKafkaConsumer = new_consumer(self.config, s.offset_syncs_topic_location)
        await self._syncs.start()
        self._add_syncs(await read_to_end(self._syncs, self._syncs_tp))
        #: group -> remote partition -> the last checkpoint (from the checkpoints topic)
        self.last: dict[str, dict[TopicPartition, Checkpoint]] = {}
        reader = new_consumer(self.config, "target")
        await reader.start()
        try:
            for record in await read_to_end(reader, TopicPartition(self.checkpoints_topic, 0)):
                try:
                    cp = Checkpoint.decode(record.key, record.value)
                except WireError:
                    continue
                self.last.setdefault(cp.group, {})[TopicPartition(cp.topic, cp.partition)] = cp
        finally:
            await reader.stop()
        self.groups: list[str] = []
        self._groups_at = 0.0
        self._emit_at = time.monotonic() + s.emit_checkpoints_interval_seconds
        self._sync_at = time.monotonic() + s.sync_group_offsets_interval_seconds

    def _add_syncs(self, records: Sequence[Any]) -> None:
        for record in records:
            try:
                self.store.add(OffsetSync.decode(record.key, record.value))
            except WireError:
                logger.debug("not an offset sync at offset %d", record.offset)

    async def _refresh_groups(self) -> None:
        listed = await self.source_admin.list_consumer_groups()
        self.groups = sorted(
            group
            for group, *_ in listed
            if self.group_filter(group) and zlib.crc32(group.encode()) % self.count == self.index
        )

    def remote_partition(self, tp: TopicPartition) -> TopicPartition:
        """Kafka's ``renameTopicPartition``: a topic that came from the target goes back to its
        name there; others get the remote name."""
        s, policy = self.settings, self.policy
        if policy.topic_source(tp.topic) == s.target_cluster_alias:
            return TopicPartition(policy.original_topic(tp.topic), tp.partition)
        return TopicPartition(
            policy.format_remote_topic(s.source_cluster_alias, tp.topic), tp.partition
        )

    def checkpoints_for(
        self, group: str, offsets: Mapping[TopicPartition, OffsetAndMetadata]
    ) -> list[Checkpoint]:
        """The new checkpoints of ``group`` at ``offsets`` (upstream)."""
        out = []
        last = self.last.get(group, {})
        for tp, committed in sorted(offsets.items()):
            if committed.offset < 0 or not self.topic_filter(tp.topic):
                continue
            downstream = self.store.translate(tp.topic, tp.partition, committed.offset)
            if downstream is None or downstream < 0:
                continue
            remote = self.remote_partition(tp)
            cp = Checkpoint(
                group,
                remote.topic,
                remote.partition,
                committed.offset,
                downstream,
                committed.metadata or "",
            )
            before = last.get(remote)
            if (
                before is None
                or cp.upstream_offset < before.upstream_offset
                or cp.downstream_offset > before.downstream_offset
            ):
                out.append(cp)
        return out

    async def poll(self) -> Sequence[SourceRecord]:
        s, now = self.settings, time.monotonic()
        if now < self._emit_at:
            await asyncio.sleep(min(self._emit_at - now, 0.5))
            return []
        self._emit_at = now + s.emit_checkpoints_interval_seconds
        self._add_syncs(
            [
                r
                for rs in (await self._syncs.getmany(self._syncs_tp, timeout_ms=0)).values()
                for r in rs
            ]
        )
        if now >= self._groups_at:
            self._groups_at = now + (
                s.refresh_groups_interval_seconds if s.refresh_groups_enabled else float("inf")
            )
            await self._refresh_groups()
        records: list[SourceRecord] = []
        stamp = int(time.time() * 1000)
        for group in self.groups:
            try:
                offsets = await self.source_admin.list_consumer_group_offsets(group)
            except KafkaError as exc:
                logger.warning("could not list the offsets of group %s: %r", group, exc)
                continue
            for cp in self.checkpoints_for(group, offsets):
                self.last.setdefault(group, {})[TopicPartition(cp.topic, cp.partition)] = cp
                records.append(
                    SourceRecord(
                        topic=self.checkpoints_topic,
                        partition=0,
                        key=cp.key(),
                        key_schema=BYTES,
                        value=cp.value(),
                        value_schema=BYTES,
                        timestamp=stamp,
                        source_partition={
                            "group": group,
                            "partition": cp.partition,
                            "topic": cp.topic,
                        },
                        source_offset={"offset": 0},
                    )
                )
        if s.sync_group_offsets_enabled and now >= self._sync_at:
            self._sync_at = now + s.sync_group_offsets_interval_seconds
            await self.sync_group_offsets()
        return records

    async def sync_group_offsets(self) -> None:
        """Commit the last checkpoints to the target's groups that have no active member, only
        where they move a group forward."""
        groups = [g for g in self.groups if self.last.get(g)]
        if not groups:
            return
        states: dict[str, str] = {}
        for response in await self.target_admin.describe_consumer_groups(groups):
            for described in response.groups:
                states[described[1]] = described[2]
        for group in groups:
            if states.get(group, "") not in _IDLE:
                continue
            current = await self.target_admin.list_consumer_group_offsets(group)
            moves = {
                tp: OffsetAndMetadata(cp.downstream_offset, cp.metadata)
                for tp, cp in self.last[group].items()
                if tp not in current or current[tp].offset < cp.downstream_offset
            }
            if moves:
                await _commit(self.config, group, moves)

    async def stop(self) -> None:
        await self._syncs.stop()
        await self.source_admin.close()
        await self.target_admin.close()


async def _commit(
    config: Mapping[str, str], group: str, offsets: Mapping[TopicPartition, OffsetAndMetadata]
) -> None:
    consumer = new_consumer(config, "target", group_id=group)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(dict(offsets))
    except KafkaError as exc:  # a member joined meanwhile: its own commits win
        logger.warning("could not sync the offsets of group %s: %r", group, exc)
    finally:
        await consumer.stop()


MirrorCheckpointConnector.task_class = MirrorCheckpointTask
