"""Offset syncs: which upstream offset landed at which downstream offset, and translation.

The source task decides, per partition, when a copied record deserves a sync (Kafka's
``OffsetSyncWriter``): the first record of the task's life, a gap upstream (a record not
copied, a compacted or transactional offset), a downstream topic that went backwards, or a
downstream offset more than ``offset.lag.max`` past the last sync; other syncs wait and are
sent when the offsets are stored (Kafka's ``commit()``), so a quiet partition ends synced.

The checkpoint task keeps the syncs it read (Kafka's ``OffsetSyncStore``) and translates a
group's upstream offset to the closest sync at or below it: exactly its downstream offset when
the group sits on a synced record, else one past it (never past a record the group has not
read: at worst some are read again, none is skipped).

>>> store = OffsetSyncStore()
>>> for sync in [OffsetSync("t", 0, 0, 0), OffsetSync("t", 0, 10, 12)]:
...     store.add(sync)
>>> store.translate("t", 0, 10), store.translate("t", 0, 11), store.translate("t", 0, 5)
(12, 13, 1)
"""

from __future__ import annotations

import bisect
import dataclasses

from faust_connect.agents.connectors.mirror.wire import OffsetSync

__all__ = ["OffsetSyncStore", "OffsetSyncWriter"]

#: Syncs kept per partition at the most (older ones are thinned out).
MAX_SYNCS = 1024


@dataclasses.dataclass
class _PartitionState:
    previous_upstream: int = -1
    previous_downstream: int = -1
    last_sync_downstream: int = -1
    should_sync: bool = False

    def update(self, upstream: int, downstream: int, max_lag: int) -> bool:
        if (
            self.last_sync_downstream == -1
            or downstream - (self.last_sync_downstream + 1) >= max_lag
            or upstream - self.previous_upstream != 1
            or downstream < self.previous_downstream
        ):
            self.last_sync_downstream = downstream
            self.should_sync = True
        self.previous_upstream, self.previous_downstream = upstream, downstream
        return self.should_sync


class OffsetSyncWriter:
    """Which syncs to send now and which later (the sending is the task's)."""

    def __init__(self, max_offset_lag: int) -> None:
        self.max_offset_lag = max_offset_lag
        self._states: dict[tuple[str, int], _PartitionState] = {}
        self._pending: dict[tuple[str, int], OffsetSync] = {}
        self._delayed: dict[tuple[str, int], OffsetSync] = {}

    def record(self, topic: str, partition: int, upstream: int, downstream: int) -> None:
        """A record of ``topic``/``partition`` at ``upstream`` was committed at ``downstream``."""
        tp = (topic, partition)
        state = self._states.get(tp)
        if state is None:
            state = self._states[tp] = _PartitionState()
        sync = OffsetSync(topic, partition, upstream, downstream)
        if state.update(upstream, downstream, self.max_offset_lag):
            self._delayed.pop(tp, None)
            self._pending[tp] = sync
            state.should_sync = False
        else:
            self._delayed[tp] = sync

    def promote_delayed(self) -> None:
        """Send the delayed syncs with the next batch (called when offsets are stored)."""
        self._pending.update(self._delayed)
        self._delayed.clear()

    def take_pending(self) -> list[OffsetSync]:
        """The syncs due now (and forget them)."""
        pending, self._pending = list(self._pending.values()), {}
        return pending


class OffsetSyncStore:
    """The syncs read from the offset-syncs topic, per source partition, for translation."""

    def __init__(self) -> None:
        #: (topic, partition) -> syncs sorted by upstream offset, with their upstream offsets
        self._syncs: dict[tuple[str, int], tuple[list[int], list[OffsetSync]]] = {}

    def add(self, sync: OffsetSync) -> None:
        """Keep ``sync``; a sync before the latest upstream (a rewind) drops the older ones."""
        tp = (sync.topic, sync.partition)
        entry = self._syncs.get(tp)
        if entry is None or sync.upstream_offset < entry[0][-1]:
            self._syncs[tp] = ([sync.upstream_offset], [sync])
            return
        keys, syncs = entry
        if sync.upstream_offset == keys[-1]:
            syncs[-1] = sync
            return
        keys.append(sync.upstream_offset)
        syncs.append(sync)
        if len(syncs) > MAX_SYNCS:  # keep every other of the older half
            half = len(syncs) // 2
            kept = syncs[:half:2] + syncs[half:]
            self._syncs[tp] = ([s.upstream_offset for s in kept], kept)

    def translate(self, topic: str, partition: int, upstream: int) -> int | None:
        """The downstream offset of upstream offset ``upstream``: None without syncs for the
        partition, -1 when every sync is later (replication started after it)."""
        entry = self._syncs.get((topic, partition))
        if entry is None:
            return None
        keys, syncs = entry
        index = bisect.bisect_right(keys, upstream) - 1
        if index < 0:
            return -1
        sync = syncs[index]
        return sync.downstream_offset + (0 if sync.upstream_offset == upstream else 1)
