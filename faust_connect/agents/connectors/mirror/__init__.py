"""Kafka's MirrorMaker 2 connectors, with their class names, keys and wire formats.

- :class:`MirrorSourceConnector` copies topics (records byte for byte, topic configs) from a
  source cluster to the cluster the worker writes to, and records offset syncs;
- :class:`MirrorCheckpointConnector` translates the source's consumer-group offsets into
  checkpoints on the target (and optionally commits them to the target's groups);
- :class:`MirrorHeartbeatConnector` writes heartbeats.

:func:`translate_offsets` is ``RemoteClusterUtils.translateOffsets`` for Python.
"""

from __future__ import annotations

from faust_connect.agents.connectors.mirror.checkpoint import MirrorCheckpointConnector
from faust_connect.agents.connectors.mirror.heartbeat import MirrorHeartbeatConnector
from faust_connect.agents.connectors.mirror.policy import (
    DefaultReplicationPolicy,
    IdentityReplicationPolicy,
)
from faust_connect.agents.connectors.mirror.remote import translate_offsets
from faust_connect.agents.connectors.mirror.source import MirrorSourceConnector
from faust_connect.agents.connectors.mirror.wire import Checkpoint, Heartbeat, OffsetSync

__all__ = [
    "Checkpoint",
    "DefaultReplicationPolicy",
    "Heartbeat",
    "IdentityReplicationPolicy",
    "MirrorCheckpointConnector",
    "MirrorHeartbeatConnector",
    "MirrorSourceConnector",
    "OffsetSync",
    "translate_offsets",
]
