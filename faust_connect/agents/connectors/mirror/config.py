"""The keys of MirrorMaker 2's connectors, as Kafka's ``Mirror*Config`` define them.

Shared by the three connectors (:class:`MirrorConfig`): the cluster aliases and bootstrap
servers, the replication policy, ``enabled``. Client settings are prefixed and read by
:mod:`.clients` (``source.cluster.*``, ``target.cluster.*``, ``consumer.*``,
``source.consumer.*``, ...). Keys with a dash (``offset-syncs.topic.location``,
``emit.offset-syncs.enabled``) carry explicit aliases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from faust_connect.agents.connectors.mirror.policy import (
    DefaultReplicationPolicy,
    replication_policy,
)
from faust_connect.config import CommaList, PluginConfig
from faust_connect.exceptions import ConfigIssue

__all__ = [
    "CheckpointConfig",
    "HeartbeatConfig",
    "MirrorConfig",
    "SourceConfig",
    "pattern_issues",
    "task_share",
]

_POLICY = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy"
TOPICS_EXCLUDE = (r".*[\-\.]internal", r".*\.replica", "__.*")
GROUPS_EXCLUDE = ("console-consumer-.*", "connect-.*", "__.*")
CONFIG_PROPERTIES_EXCLUDE = (
    r"follower\.replication\.throttled\.replicas",
    r"leader\.replication\.throttled\.replicas",
    r"message\.timestamp\.difference\.max\.ms",
    r"message\.timestamp\.type",
    r"unclean\.leader\.election\.enable",
    r"min\.insync\.replicas",
)


class MirrorConfig(PluginConfig):
    """Keys of every MirrorMaker 2 connector (Kafka's ``MirrorConnectorConfig``)."""

    enabled: bool = Field(True, description="Whether to replicate source->target.")
    source_cluster_alias: str = Field(description="Alias of source cluster", min_length=1)
    target_cluster_alias: str = Field(
        "target", description="Alias of target cluster. Used in metrics reporting.", min_length=1
    )
    source_cluster_bootstrap_servers: str = Field(
        "",
        description="The source cluster's bootstrap.servers (source.cluster.* keys: its clients).",
    )
    target_cluster_bootstrap_servers: str = Field(
        "",
        description="The target cluster's bootstrap.servers: the cluster this worker writes to "
        "(target.cluster.* keys: its clients).",
    )
    replication_policy_class: str = Field(
        _POLICY, description="Class which defines the remote topic naming convention."
    )
    replication_policy_separator: str = Field(
        ".", description="Separator used in remote topic naming convention."
    )
    replication_policy_internal_topic_separator_enabled: bool = Field(
        True,
        description="Whether to use replication.policy.separator for internal topics "
        "(offset-syncs, checkpoints) too.",
    )
    admin_timeout_ms: int = Field(
        60000, description="Timeout for administrative tasks, e.g. detecting new topics."
    )

    def policy(self) -> DefaultReplicationPolicy:
        """The configured replication policy."""
        return replication_policy(
            self.replication_policy_class,
            self.replication_policy_separator,
            internal_separator_enabled=self.replication_policy_internal_topic_separator_enabled,
            source_cluster_alias=self.source_cluster_alias,
        )


class _OffsetSyncsKeys(MirrorConfig):
    offset_syncs_topic_location: Literal["source", "target"] = Field(
        "source",
        alias="offset-syncs.topic.location",
        description="The location (source/target) of the offset-syncs topic.",
    )
    emit_offset_syncs_enabled: bool = Field(
        True,
        alias="emit.offset-syncs.enabled",
        description="Whether to store the new offset of the replicated records in the "
        "offset-syncs topic.",
    )
    topics: CommaList = Field((".*",), description="Topics to replicate (names and regexes).")
    topics_exclude: CommaList = Field(
        TOPICS_EXCLUDE, description="Excluded topics (names and regexes); excludes win."
    )
    consumer_poll_timeout_ms: int = Field(
        1000, ge=0, description="Timeout when polling source cluster."
    )

    def offset_syncs_topic(self) -> str:
        """``mm2-offset-syncs.<the other cluster's alias>.internal``."""
        other = (
            self.target_cluster_alias
            if self.offset_syncs_topic_location == "source"
            else self.source_cluster_alias
        )
        return self.policy().offset_syncs_topic(other)


class SourceConfig(_OffsetSyncsKeys):
    """MirrorSourceConnector's keys (Kafka's ``MirrorSourceConfig``)."""

    config_properties_exclude: CommaList = Field(
        CONFIG_PROPERTIES_EXCLUDE,
        description="Topic config properties that should not be replicated.",
    )
    refresh_topics_enabled: bool = Field(
        True, description="Whether to periodically check for new topics and partitions."
    )
    refresh_topics_interval_seconds: int = Field(
        600, ge=0, description="Frequency of topic refresh."
    )
    sync_topic_configs_enabled: bool = Field(
        True, description="Whether to configure remote topics to match their upstream topics."
    )
    sync_topic_configs_interval_seconds: int = Field(
        600, ge=0, description="Frequency of topic config sync."
    )
    sync_topic_acls_enabled: bool = Field(
        True, description="Accepted for compatibility; ACLs are not copied (see the README)."
    )
    sync_topic_acls_interval_seconds: int = Field(600, description="Frequency of topic ACL sync.")
    replication_factor: int = Field(2, description="Replication factor for new remote topics.")
    offset_syncs_topic_replication_factor: int = Field(
        3,
        alias="offset-syncs.topic.replication.factor",
        description="Replication factor for the offset-syncs topic.",
    )
    offset_lag_max: int = Field(
        100, ge=0, description="How out-of-sync a remote partition can be before it is resynced."
    )
    heartbeats_replication_enabled: bool = Field(
        True, description="Whether to replicate heartbeats topics whatever the topic filter."
    )


class CheckpointConfig(_OffsetSyncsKeys):
    """MirrorCheckpointConnector's keys (Kafka's ``MirrorCheckpointConfig``)."""

    groups: CommaList = Field((".*",), description="Consumer groups to replicate (regexes).")
    groups_exclude: CommaList = Field(
        GROUPS_EXCLUDE, description="Consumer groups that should not be replicated."
    )
    emit_checkpoints_enabled: bool = Field(
        True, description="Whether to replicate consumer offsets to the target cluster."
    )
    emit_checkpoints_interval_seconds: float = Field(
        60, ge=0, description="Frequency of checkpoints."
    )
    sync_group_offsets_enabled: bool = Field(
        False,
        description="Whether to commit translated offsets to the target's __consumer_offsets "
        "(for groups with no active member there).",
    )
    sync_group_offsets_interval_seconds: float = Field(
        60, ge=0, description="Frequency of consumer group offset sync."
    )
    refresh_groups_enabled: bool = Field(
        True, description="Whether to periodically check for new consumer groups."
    )
    refresh_groups_interval_seconds: float = Field(
        600, ge=0, description="Frequency of group refresh."
    )
    checkpoints_topic_replication_factor: int = Field(
        3, description="Replication factor for checkpoints topic."
    )

    def checkpoints_topic(self) -> str:
        """``<source alias>.checkpoints.internal``."""
        return self.policy().checkpoints_topic(self.source_cluster_alias)


class HeartbeatConfig(MirrorConfig):
    """MirrorHeartbeatConnector's keys (Kafka's ``MirrorHeartbeatConfig``)."""

    emit_heartbeats_enabled: bool = Field(True, description="Whether to emit heartbeats.")
    emit_heartbeats_interval_seconds: float = Field(1, ge=0, description="Frequency of heartbeats.")
    heartbeats_topic_replication_factor: int = Field(
        3, description="Replication factor for heartbeats topic."
    )


def pattern_issues(c: Any) -> list[ConfigIssue]:
    """Bad regexes among the list keys a config has, and an unknown replication policy."""
    issues = []
    for key in ("topics", "topics_exclude", "groups", "groups_exclude"):
        for pattern in getattr(c, key, ()):
            try:
                re.compile(pattern)
            except re.error as exc:
                name = key.replace("_", ".")
                issues.append(
                    ConfigIssue(name, f"Invalid value {pattern} for configuration {name}: {exc}")
                )
    try:
        c.policy()
    except LookupError as exc:
        issues.append(
            ConfigIssue(
                "replication.policy.class",
                f"Invalid value {c.replication_policy_class} for configuration "
                f"replication.policy.class: {exc}",
            )
        )
    return issues


def required_servers(c: MirrorConfig, *sides: str) -> list[ConfigIssue]:
    """A missing ``<side>.cluster.bootstrap.servers`` for each of ``sides``."""
    return [
        ConfigIssue(
            f"{side}.cluster.bootstrap.servers",
            "Missing required configuration with no default value.",
        )
        for side in sides
        if not getattr(c, f"{side}_cluster_bootstrap_servers")
    ]


def task_share(config: Mapping[str, str]) -> tuple[int, int]:
    """``(index, count)`` of a task: which share of the partitions or groups it takes."""
    return int(config.get("task.index", "0")), max(int(config.get("task.count", "1")), 1)
