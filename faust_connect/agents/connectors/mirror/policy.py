"""How MirrorMaker 2 names topics: replication policies and the topic and group filters.

``DefaultReplicationPolicy`` names a remote topic ``<source alias><separator><topic>``
(``us-west.orders``); ``IdentityReplicationPolicy`` keeps the name (one-way mirroring, no
cycle detection), except for heartbeats, which are always prefixed. Both name MM2's internal
topics as Kafka's connect-mirror-client does:

>>> policy = DefaultReplicationPolicy()
>>> policy.format_remote_topic("us-west", "orders")
'us-west.orders'
>>> policy.upstream_topic("us-west.orders"), policy.topic_source("orders")
('orders', None)
>>> policy.offset_syncs_topic("backup"), policy.checkpoints_topic("us-west")
('mm2-offset-syncs.backup.internal', 'us-west.checkpoints.internal')
>>> IdentityReplicationPolicy().format_remote_topic("us-west", "orders")
'orders'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "POLICIES",
    "DefaultReplicationPolicy",
    "IdentityReplicationPolicy",
    "PatternFilter",
    "replication_policy",
]

_MIRROR = "org.apache.kafka.connect.mirror"


class DefaultReplicationPolicy:
    """Kafka's ``DefaultReplicationPolicy``: remote topics carry their source cluster's alias."""

    def __init__(
        self,
        separator: str = ".",
        *,
        internal_separator_enabled: bool = True,
        source_cluster_alias: str | None = None,
    ) -> None:
        self.separator = separator
        #: Internal topics use the separator too, unless disabled (then ".").
        self.internal_separator = separator if internal_separator_enabled else "."
        self.source_cluster_alias = source_cluster_alias

    def format_remote_topic(self, source_cluster_alias: str, topic: str) -> str:
        """The name of ``topic`` of cluster ``source_cluster_alias`` on the target."""
        return f"{source_cluster_alias}{self.separator}{topic}"

    def topic_source(self, topic: str) -> str | None:
        """The alias of the cluster a remote topic came from; None for a local topic."""
        parts = topic.split(self.separator)
        while parts and not parts[-1]:  # Java's split drops trailing empty strings
            parts.pop()
        return parts[0] if len(parts) >= 2 else None

    def upstream_topic(self, topic: str) -> str | None:
        """The name of a remote topic on its source cluster; None for a local topic."""
        source = self.topic_source(topic)
        return None if source is None else topic[len(source) + len(self.separator) :]

    def original_topic(self, topic: str) -> str:
        """The name of the topic at its first cluster (through every hop)."""
        upstream = self.upstream_topic(topic)
        while upstream is not None and upstream != topic:
            topic, upstream = upstream, self.upstream_topic(upstream)
        return topic

    def heartbeats_topic(self) -> str:
        """Where MirrorHeartbeatConnector writes: ``heartbeats``."""
        return "heartbeats"

    def offset_syncs_topic(self, cluster_alias: str) -> str:
        """``mm2-offset-syncs.<alias>.internal``."""
        sep = self.internal_separator
        return f"mm2-offset-syncs{sep}{cluster_alias}{sep}internal"

    def checkpoints_topic(self, cluster_alias: str) -> str:
        """``<alias>.checkpoints.internal``."""
        sep = self.internal_separator
        return f"{cluster_alias}{sep}checkpoints{sep}internal"

    def is_heartbeats_topic(self, topic: str) -> bool:
        """Whether ``topic`` is a (possibly remote) heartbeats topic."""
        return self.original_topic(topic) == self.heartbeats_topic()

    def is_checkpoints_topic(self, topic: str) -> bool:
        """Whether ``topic`` is a checkpoints topic."""
        sep = self.internal_separator
        return topic.endswith(f"{sep}checkpoints{sep}internal")

    def is_internal_topic(self, topic: str) -> bool:
        """Kafka's, Connect's and MM2's internal topics: never mirrored."""
        return (
            topic.endswith(f"{self.internal_separator}internal")
            or topic.startswith(("__", "."))
            or topic.endswith(("-internal", ".internal"))
        )


class IdentityReplicationPolicy(DefaultReplicationPolicy):
    """Kafka's ``IdentityReplicationPolicy``: remote topics keep their names (heartbeats
    excepted). It cannot tell a remote topic by its name, so it cannot prevent cycles."""

    def format_remote_topic(self, source_cluster_alias: str, topic: str) -> str:
        if self._heartbeat(topic):
            return super().format_remote_topic(source_cluster_alias, topic)
        return topic

    def topic_source(self, topic: str) -> str | None:
        if self._heartbeat(topic):
            return super().topic_source(topic)
        return self.source_cluster_alias

    def upstream_topic(self, topic: str) -> str | None:
        if self._heartbeat(topic):
            return super().upstream_topic(topic)
        return topic

    def _heartbeat(self, topic: str) -> bool:
        return topic.endswith(self.heartbeats_topic())


#: Replication policies by class name (Kafka's and the short names).
POLICIES: dict[str, type[DefaultReplicationPolicy]] = {
    f"{_MIRROR}.DefaultReplicationPolicy": DefaultReplicationPolicy,
    "DefaultReplicationPolicy": DefaultReplicationPolicy,
    f"{_MIRROR}.IdentityReplicationPolicy": IdentityReplicationPolicy,
    "IdentityReplicationPolicy": IdentityReplicationPolicy,
}


def replication_policy(
    class_name: str,
    separator: str = ".",
    *,
    internal_separator_enabled: bool = True,
    source_cluster_alias: str | None = None,
) -> DefaultReplicationPolicy:
    """The policy ``replication.policy.class`` names; LookupError for an unknown class."""
    cls = POLICIES.get(class_name)
    if cls is None:
        raise LookupError(f"Class {class_name} could not be found.")
    return cls(
        separator,
        internal_separator_enabled=internal_separator_enabled,
        source_cluster_alias=source_cluster_alias,
    )


class PatternFilter:
    """Kafka's ``DefaultTopicFilter``/``DefaultGroupFilter``: a name is chosen when it matches
    one of the include patterns (whole name) and none of the exclude ones. An empty list
    matches nothing.

    >>> f = PatternFilter(["orders.*"], ["orders-internal"])
    >>> f("orders-eu"), f("orders-internal"), f("users")
    (True, False, False)
    """

    def __init__(self, include: Sequence[str], exclude: Sequence[str]) -> None:
        self.include = _compile(include)
        self.exclude = _compile(exclude)

    def __call__(self, name: str) -> bool:
        included = self.include is not None and self.include.fullmatch(name) is not None
        excluded = self.exclude is not None and self.exclude.fullmatch(name) is not None
        return included and not excluded


def _compile(patterns: Sequence[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(patterns)) if patterns else None
