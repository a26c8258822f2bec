"""Topic administration of a mirror: what the source has, and the remote topics on the target.

MirrorSourceConnector creates each remote topic with its source topic's partition count and
(``sync.topic.configs.enabled``) its topic-level configs, minus ``config.properties.exclude``;
adds partitions when the source topic grew; and copies the configs again every
``sync.topic.configs.interval.seconds``. The internal topics (offset syncs, checkpoints,
heartbeats) are single-partition compacted topics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

__all__ = [
    "add_partitions",
    "alter_topic_configs",
    "create_compacted_topic",
    "create_topics",
    "partition_counts",
    "topic_configs",
]

logger = logging.getLogger(__name__)

_TOPIC_EXISTS = 36
_INVALID_PARTITIONS = 37
#: DescribeConfigs' config source of a topic's own (non-default) setting.
_DYNAMIC_TOPIC_CONFIG = 1


async def partition_counts(admin: AIOKafkaAdminClient) -> dict[str, int]:
    """Every topic of the cluster and its number of partitions (topics without leaders yet
    included)."""
    described = await admin.describe_topics()
    return {
        t["topic"]: len(t["partitions"])
        for t in described
        if t.get("error_code", 0) == 0 and t["partitions"]
    }


async def topic_configs(
    admin: AIOKafkaAdminClient, topics: Iterable[str], keep: Callable[[str], bool]
) -> dict[str, dict[str, str]]:
    """Each topic's own settings (not defaults, not read-only or sensitive) that ``keep``."""
    names = sorted(set(topics))
    if not names:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    out: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.resources:
            error, message, _type, name, entries = resource[:5]
            if error:
                raise for_code(error)(f"describe configs of {name}: {message}")
            configs: dict[str, str] = {}
            for entry in entries:
                key, value, read_only = entry[0], entry[1], entry[2]
                # v0: (name, value, read_only, is_default, is_sensitive); v1+: a config source
                own = (
                    (not entry[3])
                    if isinstance(entry[3], bool)
                    else entry[3] == _DYNAMIC_TOPIC_CONFIG
                )
                if own and not read_only and not entry[4] and value is not None and keep(key):
                    configs[key] = value
            out[name] = configs
    return out


async def create_topics(
    admin: AIOKafkaAdminClient,
    topics: Mapping[str, tuple[int, Mapping[str, str]]],
    replication_factor: int,
) -> None:
    """Create ``topics`` (name → partitions, configs); one that exists already is fine."""
    if not topics:
        return
    new = [
        NewTopic(name, partitions, replication_factor, topic_configs=dict(configs))
        for name, (partitions, configs) in sorted(topics.items())
    ]
    response = await admin.create_topics(new)
    for name, code, *rest in response.topic_errors:
        if code == _TOPIC_EXISTS:
            continue
        if code:
            message = rest[0] if rest else ""
            raise for_code(code)(f"could not create topic {name}: {message}")
        logger.info("created remote topic %s with %d partitions", name, topics[name][0])


async def create_compacted_topic(
    admin: AIOKafkaAdminClient, topic: str, replication_factor: int
) -> None:
    """An internal topic: one partition, compacted (Kafka's ``createSinglePartitionCompactedTopic``)."""
    await create_topics(admin, {topic: (1, {"cleanup.policy": "compact"})}, replication_factor)


async def add_partitions(admin: AIOKafkaAdminClient, counts: Mapping[str, int]) -> None:
    """Grow remote topics to ``counts`` partitions."""
    if not counts:
        return
    try:
        await admin.create_partitions({t: NewPartitions(n) for t, n in counts.items()})
    except Exception as exc:  # another task may have grown it first (INVALID_PARTITIONS)
        if getattr(exc, "errno", None) != _INVALID_PARTITIONS:
            raise
    logger.info("grew remote topics %s", dict(counts))


async def alter_topic_configs(
    admin: AIOKafkaAdminClient, configs: Mapping[str, Mapping[str, str]]
) -> None:
    """Set the remote topics' own settings to ``configs`` (the others go back to defaults)."""
    if not configs:
        return
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, name, dict(values))
        for name, values in sorted(configs.items())
    ]
    for response in await admin.alter_configs(resources):
        for error, message, _type, name in (r[:4] for r in response.resources):
            if error:
                logger.warning("could not sync the configs of %s: %s", name, message)
