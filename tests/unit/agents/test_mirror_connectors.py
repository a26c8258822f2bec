"""MirrorMaker 2's connectors without a broker: configs, validation, task split, offset syncs."""

from __future__ import annotations

from aiokafka.structs import OffsetAndMetadata, TopicPartition

from faust_connect.agents.connectors.mirror.checkpoint import (
    MirrorCheckpointConnector,
    MirrorCheckpointTask,
)
from faust_connect.agents.connectors.mirror.clients import client_settings, options
from faust_connect.agents.connectors.mirror.config import SourceConfig
from faust_connect.agents.connectors.mirror.heartbeat import MirrorHeartbeatConnector
from faust_connect.agents.connectors.mirror.offset_syncs import OffsetSyncStore, OffsetSyncWriter
from faust_connect.agents.connectors.mirror.policy import PatternFilter
from faust_connect.agents.connectors.mirror.source import MirrorSourceConnector
from faust_connect.agents.connectors.mirror.wire import Checkpoint, OffsetSync
from faust_connect.config import parse_config
from faust_connect.connector import connectors

BASE = {
    "name": "m",
    "connector.class": "MirrorSourceConnector",
    "source.cluster.alias": "src",
    "source.cluster.bootstrap.servers": "a:9092",
    "target.cluster.bootstrap.servers": "b:9092",
}


def test_kafkas_class_names_and_short_aliases_resolve() -> None:
    for cls in (MirrorSourceConnector, MirrorCheckpointConnector, MirrorHeartbeatConnector):
        assert connectors.get(f"org.apache.kafka.connect.mirror.{cls.__name__}") is cls
        assert connectors.get(cls.__name__) is cls


def test_defaults_are_kafkas() -> None:
    c = parse_config(SourceConfig, {"source.cluster.alias": "src"})
    assert c.target_cluster_alias == "target" and c.topics == (".*",)
    assert c.replication_factor == 2 and c.offset_lag_max == 100
    assert c.offset_syncs_topic() == "mm2-offset-syncs.target.internal"
    moved = parse_config(
        SourceConfig, {"source.cluster.alias": "src", "offset-syncs.topic.location": "target"}
    )
    assert moved.offset_syncs_topic() == "mm2-offset-syncs.src.internal"


def test_validation_names_each_bad_key() -> None:
    issues = MirrorSourceConnector.validate(
        {
            "source.cluster.alias": "src",
            "topics": "a((",
            "replication.policy.class": "Nope",
            "offset-syncs.topic.location": "there",
        }
    )
    keys = {i.key for i in issues}
    assert "offset-syncs.topic.location" in keys  # a bad value fails parsing first
    issues = MirrorSourceConnector.validate({"source.cluster.alias": "src", "topics": "a(("})
    assert {i.key for i in issues} == {
        "topics",
        "source.cluster.bootstrap.servers",
        "target.cluster.bootstrap.servers",
    }
    assert MirrorSourceConnector.validate({"topics": "x"})[0].key == "source.cluster.alias"


def test_checkpoint_connector_refuses_to_run_without_checkpoints_or_syncs() -> None:
    issues = MirrorCheckpointConnector.validate(
        {**BASE, "emit.checkpoints.enabled": "false", "emit.offset-syncs.enabled": "false"}
    )
    assert {i.key for i in issues} == {"emit.checkpoints.enabled", "emit.offset-syncs.enabled"}


def test_exactly_once_needs_a_read_committed_source_consumer() -> None:
    assert MirrorSourceConnector(BASE).exactly_once_support() == "UNSUPPORTED"
    eos = {**BASE, "source.consumer.isolation.level": "read_committed"}
    assert MirrorSourceConnector(eos).exactly_once_support() == "SUPPORTED"
    upper = {**BASE, "consumer.isolation.level": "READ_COMMITTED"}
    assert MirrorSourceConnector(upper).exactly_once_support() == "SUPPORTED"
    issues = MirrorSourceConnector.validate({**BASE, "exactly.once.support": "required"})
    assert [i.key for i in issues] == ["exactly.once.support"]
    assert "read_committed" in issues[0].message
    assert MirrorSourceConnector.validate({**eos, "exactly.once.support": "required"}) == []


def test_tasks_share_the_work_and_know_their_index() -> None:
    tasks = MirrorSourceConnector(BASE).task_configs(3)
    assert [(t["task.index"], t["task.count"]) for t in tasks] == [
        ("0", "3"),
        ("1", "3"),
        ("2", "3"),
    ]
    assert MirrorSourceConnector({**BASE, "enabled": "false"}).task_configs(3) == []
    assert len(MirrorHeartbeatConnector(BASE).task_configs(5)) == 1
    assert (
        MirrorHeartbeatConnector({**BASE, "emit.heartbeats.enabled": "false"}).task_configs(1) == []
    )


def test_client_settings_layer_as_kafkas() -> None:
    config = {
        **BASE,
        "source.cluster.security.protocol": "SASL_PLAINTEXT",
        "source.cluster.sasl.mechanism": "PLAIN",
        "source.cluster.sasl.jaas.config": 'x.PlainLoginModule required username="u" password="p";',
        "source.cluster.linger.ms": "999",  # not a connection key: ignored from source.cluster.
        "consumer.max.poll.records": "7",
        "source.consumer.max.poll.records": "9",
        "consumer.override.fetch.min.bytes": "5",  # the worker's override, not ours
    }
    settings = client_settings(config, "source", "consumer")
    assert settings["max.poll.records"] == "9" and "linger.ms" not in settings
    assert "override.fetch.min.bytes" not in settings
    opts = options(config, "source", "consumer")
    assert opts["bootstrap_servers"] == "a:9092" and opts["max_poll_records"] == 9
    assert (opts["sasl_plain_username"], opts["sasl_plain_password"]) == ("u", "p")
    assert options(config, "target", "admin")["security_protocol"] == "PLAINTEXT"


def test_offset_sync_writer_follows_kafkas_rules() -> None:
    writer = OffsetSyncWriter(max_offset_lag=2)
    writer.record("t", 0, 10, 100)  # first of its life: now
    assert writer.take_pending() == [OffsetSync("t", 0, 10, 100)]
    writer.record("t", 0, 11, 101)  # close behind: delayed
    assert writer.take_pending() == []
    writer.record("t", 0, 12, 102)
    writer.record("t", 0, 13, 103)  # 103 - (100 + 1) >= 2: stale, now
    assert writer.take_pending() == [OffsetSync("t", 0, 13, 103)]
    writer.record("t", 0, 20, 104)  # a gap upstream: now
    assert writer.take_pending() == [OffsetSync("t", 0, 20, 104)]
    writer.record("t", 0, 21, 105)
    writer.promote_delayed()  # offsets stored: the delayed one goes out
    assert writer.take_pending() == [OffsetSync("t", 0, 21, 105)]


def test_translation_never_skips_a_record() -> None:
    store = OffsetSyncStore()
    assert store.translate("t", 0, 5) is None
    store.add(OffsetSync("t", 0, 10, 20))
    assert store.translate("t", 0, 9) == -1  # before replication started
    assert store.translate("t", 0, 10) == 20  # on a synced record: exact
    assert store.translate("t", 0, 15) == 21  # past it: one after (re-read, never skip)
    store.add(OffsetSync("t", 0, 3, 40))  # the upstream rewound: start over
    assert store.translate("t", 0, 10) == 41
    for i in range(5000):
        store.add(OffsetSync("u", 0, i, i + 1))
    assert store.translate("u", 0, 4999) == 5000
    assert 4000 <= store.translate("u", 0, 4000) <= 4001  # thinned, still safe


def test_checkpoints_are_emitted_only_when_they_move_on() -> None:
    task = MirrorCheckpointTask({**BASE, "groups": "g"}, context=None)
    task.policy = task.settings.policy()
    task.topic_filter = PatternFilter([".*"], [])
    task.store = OffsetSyncStore()
    task.store.add(OffsetSync("t", 0, 0, 0))
    task.store.add(OffsetSync("t", 0, 5, 7))
    task.last = {}
    committed = {TopicPartition("t", 0): OffsetAndMetadata(5, "meta")}
    first = task.checkpoints_for("g", committed)
    assert first == [Checkpoint("g", "src.t", 0, 5, 7, "meta")]
    task.last = {"g": {TopicPartition("src.t", 0): first[0]}}
    assert task.checkpoints_for("g", committed) == []  # nothing new
    rewound = {TopicPartition("t", 0): OffsetAndMetadata(2, "")}
    assert task.checkpoints_for("g", rewound) == [Checkpoint("g", "src.t", 0, 2, 1, "")]
