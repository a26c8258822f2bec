"""MirrorMaker 2's wire formats, replication policies and filters (no broker)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faust_connect.agents.connectors.mirror.policy import (
    DefaultReplicationPolicy,
    IdentityReplicationPolicy,
    PatternFilter,
    replication_policy,
)
from faust_connect.agents.connectors.mirror.wire import Checkpoint, Heartbeat, OffsetSync, WireError

names = st.text(min_size=0, max_size=40)
offsets = st.integers(min_value=-(2**63), max_value=2**63 - 1)
partitions = st.integers(min_value=-(2**31), max_value=2**31 - 1)


def test_offset_sync_bytes_are_kafkas_struct_layout() -> None:
    sync = OffsetSync("t", 1, 5, 7)
    # STRING: INT16 length + UTF-8; INT32 partition; INT64 upstream; INT64 downstream
    assert sync.key() == b"\x00\x01t" + b"\x00\x00\x00\x01"
    assert sync.value() == (5).to_bytes(8, "big") + (7).to_bytes(8, "big")


def test_checkpoint_bytes_start_with_version_zero() -> None:
    cp = Checkpoint("g", "src.t", 2, 10, 12, "m")
    assert cp.key() == b"\x00\x01g" + b"\x00\x05src.t" + b"\x00\x00\x00\x02"
    assert cp.value() == (
        b"\x00\x00" + (10).to_bytes(8, "big") + (12).to_bytes(8, "big") + b"\x00\x01m"
    )


def test_heartbeat_bytes() -> None:
    beat = Heartbeat("a", "b", 1700000000000)
    assert beat.key() == b"\x00\x01a\x00\x01b"
    assert beat.value() == b"\x00\x00" + (1700000000000).to_bytes(8, "big")


@given(names, partitions, offsets, offsets)
def test_offset_sync_round_trip(topic: str, partition: int, up: int, down: int) -> None:
    sync = OffsetSync(topic, partition, up, down)
    assert OffsetSync.decode(sync.key(), sync.value()) == sync


@given(names, names, partitions, offsets, offsets, names)
def test_checkpoint_round_trip(
    group: str, topic: str, partition: int, up: int, down: int, meta: str
) -> None:
    cp = Checkpoint(group, topic, partition, up, down, meta)
    assert Checkpoint.decode(cp.key(), cp.value()) == cp


@given(names, names, offsets)
def test_heartbeat_round_trip(source: str, target: str, stamp: int) -> None:
    beat = Heartbeat(source, target, stamp)
    assert Heartbeat.decode(beat.key(), beat.value()) == beat


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (None, b""),
        (b"\x00", b""),
        (b"\x00\x05ab", b"\x00" * 16),
        (b"\x00\x01a\x00\x01b", b"\x00\x01"),
    ],
)
def test_garbage_is_a_wire_error(key: bytes | None, value: bytes) -> None:
    with pytest.raises(WireError):
        Checkpoint.decode(key, value)
    with pytest.raises(WireError):
        Heartbeat.decode(key, value)


def test_default_policy_names() -> None:
    policy = DefaultReplicationPolicy()
    assert policy.format_remote_topic("east", "t.x") == "east.t.x"
    assert policy.topic_source("east.t.x") == "east"
    assert policy.upstream_topic("east.t.x") == "t.x"
    assert policy.topic_source("t") is None and policy.upstream_topic("t") is None
    assert policy.topic_source("a.") is None  # Java's split drops the trailing empty part
    assert policy.original_topic("west.east.t") == "t"
    assert policy.is_heartbeats_topic("west.east.heartbeats")
    assert policy.offset_syncs_topic("b") == "mm2-offset-syncs.b.internal"
    assert policy.checkpoints_topic("a") == "a.checkpoints.internal"
    for internal in ("__consumer_offsets", ".hidden", "connect-offsets-internal", "x.internal"):
        assert policy.is_internal_topic(internal)
    assert not policy.is_internal_topic("orders")


def test_separator_applies_to_internal_topics_unless_disabled() -> None:
    policy = DefaultReplicationPolicy("_")
    assert policy.format_remote_topic("east", "t") == "east_t"
    assert policy.checkpoints_topic("east") == "east_checkpoints_internal"
    legacy = DefaultReplicationPolicy("_", internal_separator_enabled=False)
    assert legacy.checkpoints_topic("east") == "east.checkpoints.internal"
    assert legacy.offset_syncs_topic("b") == "mm2-offset-syncs.b.internal"


def test_identity_policy_keeps_names_but_prefixes_heartbeats() -> None:
    policy = IdentityReplicationPolicy(source_cluster_alias="east")
    assert policy.format_remote_topic("east", "orders") == "orders"
    assert policy.topic_source("orders") == "east"
    assert policy.upstream_topic("orders") == "orders"
    assert policy.format_remote_topic("east", "heartbeats") == "east.heartbeats"
    assert policy.topic_source("east.heartbeats") == "east"


def test_policies_by_class_name() -> None:
    name = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
    assert isinstance(replication_policy(name), IdentityReplicationPolicy)
    assert type(replication_policy("DefaultReplicationPolicy")) is DefaultReplicationPolicy
    with pytest.raises(LookupError, match="could not be found"):
        replication_policy("com.example.Policy")


def test_pattern_filter_defaults_match_kafkas() -> None:
    topics = PatternFilter([".*"], [r".*[\-\.]internal", r".*\.replica", "__.*"])
    assert topics("orders") and not topics("__consumer_offsets")
    assert not topics("mm2-offset-syncs.b.internal") and not topics("x.replica")
    assert not PatternFilter([], [])("anything")  # an empty list matches nothing
    assert not PatternFilter(["ord"], [])("orders")  # the whole name must match
