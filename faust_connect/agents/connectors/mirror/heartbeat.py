"""MirrorHeartbeatConnector: a ``Heartbeat`` record every ``emit.heartbeats.interval.seconds``
to the ``heartbeats`` topic of the cluster the worker writes to.

Mirrored by a MirrorSourceConnector (heartbeats topics are replicated whatever the topic
filter), heartbeats show that a replication flow is alive end to end, and the remote
``<alias>.heartbeats`` topics tell which clusters replicate into a cluster.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from faust_connect.agents.connectors.mirror import topics
from faust_connect.agents.connectors.mirror.clients import new_admin
from faust_connect.agents.connectors.mirror.config import (
    HeartbeatConfig,
    pattern_issues,
    required_servers,
)
from faust_connect.agents.connectors.mirror.wire import Heartbeat
from faust_connect.connector import SourceConnector, SourceTask
from faust_connect.data import BYTES
from faust_connect.exceptions import ConfigIssue
from faust_connect.records import SourceRecord

__all__ = ["MirrorHeartbeatConnector", "MirrorHeartbeatTask"]


class MirrorHeartbeatConnector(SourceConnector):
    """Emits heartbeats (Kafka's class); one task."""

    Config = HeartbeatConfig
    version = "4.1.1"

    @classmethod
    def check(cls, c: Any) -> list[ConfigIssue]:
        """A known replication policy and the target's servers (to create the topic)."""
        return pattern_issues(c) + required_servers(c, "target")

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """One task, none when heartbeats are off."""
        if self.raw.get("emit.heartbeats.enabled", "true").strip().lower() != "true":
            return []
        return [dict(self.raw)]


class MirrorHeartbeatTask(SourceTask):
    """A heartbeat per interval."""

    Config = HeartbeatConfig
    settings: HeartbeatConfig

    async def start(self) -> None:
        s = self.settings
        self.topic = s.policy().heartbeats_topic()
        admin = new_admin(self.config, "target")
        await admin.start()
        try:
            await topics.create_compacted_topic(
                admin, self.topic, s.heartbeats_topic_replication_factor
            )
        finally:
            await admin.close()
        self._due = time.monotonic() + s.emit_heartbeats_interval_seconds

    async def poll(self) -> Sequence[SourceRecord]:
        now = time.monotonic()
        if now < self._due:
            await asyncio.sleep(min(self._due - now, 0.5))
            return []
        s = self.settings
        self._due = now + s.emit_heartbeats_interval_seconds
        stamp = int(time.time() * 1000)
        beat = Heartbeat(s.source_cluster_alias, s.target_cluster_alias, stamp)
        return [
            SourceRecord(
                topic=self.topic,
                partition=0,
                key=beat.key(),
                key_schema=BYTES,
                value=beat.value(),
                value_schema=BYTES,
                timestamp=stamp,
                source_partition={
                    "sourceClusterAlias": s.source_cluster_alias,
                    "targetClusterAlias": s.target_cluster_alias,
                },
                source_offset={"offset": 0},
            )
        ]


MirrorHeartbeatConnector.task_class = MirrorHeartbeatTask
