"""MirrorMaker 2's record formats, byte for byte as Kafka's connect-mirror(-client) writes them.

Each is a Kafka protocol struct: INT16/INT32/INT64 big-endian, STRING as an INT16 length and
UTF-8 bytes. Checkpoint and Heartbeat values start with an INT16 version (0).

- ``OffsetSync`` (``mm2-offset-syncs.<alias>.internal``): key ``topic, partition``, value
  ``upstreamOffset, offset`` — record ``upstreamOffset`` of the source partition is at
  ``offset`` downstream.
- ``Checkpoint`` (``<source>.checkpoints.internal``): key ``group, topic, partition`` (the
  remote topic), value ``version, upstreamOffset, offset, metadata``.
- ``Heartbeat`` (``heartbeats``): key ``sourceClusterAlias, targetClusterAlias``, value
  ``version, timestamp``.

>>> sync = OffsetSync("orders", 2, 100, 98)
>>> sync.key().hex(), sync.value().hex()
('00066f726465727300000002', '00000000000000640000000000000062')
>>> OffsetSync.decode(sync.key(), sync.value()) == sync
True
"""

from __future__ import annotations

import struct
from typing import NamedTuple

__all__ = ["Checkpoint", "Heartbeat", "OffsetSync", "WireError"]

_I16, _I32, _I64 = struct.Struct(">h"), struct.Struct(">i"), struct.Struct(">q")
VERSION = 0


class WireError(ValueError):
    """Bytes that are not a record of the expected format."""


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > 0x7FFF:
        raise WireError(f"string of {len(data)} bytes is too long for a Kafka STRING")
    return _I16.pack(len(data)) + data


class _Reader:
    def __init__(self, data: bytes | None) -> None:
        if data is None:
            raise WireError("no data")
        self.data, self.at = bytes(data), 0

    def _take(self, fmt: struct.Struct) -> int:
        if self.at + fmt.size > len(self.data):
            raise WireError("truncated record")
        (value,) = fmt.unpack_from(self.data, self.at)
        self.at += fmt.size
        return int(value)

    def i16(self) -> int:
        return self._take(_I16)

    def i32(self) -> int:
        return self._take(_I32)

    def i64(self) -> int:
        return self._take(_I64)

    def string(self) -> str:
        size = self.i16()
        if size < 0 or self.at + size > len(self.data):
            raise WireError("bad string length")
        text = self.data[self.at : self.at + size].decode("utf-8")
        self.at += size
        return text

    def version(self) -> None:
        version = self.i16()
        if version != VERSION:
            raise WireError(f"unknown version {version}")


class OffsetSync(NamedTuple):
    """Record ``upstream_offset`` of ``topic``/``partition`` was copied to ``downstream_offset``."""

    topic: str
    partition: int
    upstream_offset: int
    downstream_offset: int

    def key(self) -> bytes:
        """The record key."""
        return _string(self.topic) + _I32.pack(self.partition)

    def value(self) -> bytes:
        """The record value."""
        return _I64.pack(self.upstream_offset) + _I64.pack(self.downstream_offset)

    @classmethod
    def decode(cls, key: bytes | None, value: bytes | None) -> OffsetSync:
        """An offset-syncs record; WireError if it is not one."""
        k, v = _Reader(key), _Reader(value)
        topic, partition = k.string(), k.i32()
        return cls(topic, partition, v.i64(), v.i64())


class Checkpoint(NamedTuple):
    """Group ``group`` is at ``upstream_offset`` upstream, ``downstream_offset`` on the target's
    ``topic`` (the remote topic)/``partition``."""

    group: str
    topic: str
    partition: int
    upstream_offset: int
    downstream_offset: int
    metadata: str = ""

    def key(self) -> bytes:
        """The record key."""
        return _string(self.group) + _string(self.topic) + _I32.pack(self.partition)

    def value(self) -> bytes:
        """The record value (version 0)."""
        return (
            _I16.pack(VERSION)
            + _I64.pack(self.upstream_offset)
            + _I64.pack(self.downstream_offset)
            + _string(self.metadata)
        )

    @classmethod
    def decode(cls, key: bytes | None, value: bytes | None) -> Checkpoint:
        """A checkpoints record; WireError if it is not one."""
        k, v = _Reader(key), _Reader(value)
        group, topic, partition = k.string(), k.string(), k.i32()
        v.version()
        return cls(group, topic, partition, v.i64(), v.i64(), v.string())


class Heartbeat(NamedTuple):
    """A heartbeat from ``source_alias`` to ``target_alias`` at ``timestamp`` (ms)."""

    source_alias: str
    target_alias: str
    timestamp: int

    def key(self) -> bytes:
        """The record key."""
        return _string(self.source_alias) + _string(self.target_alias)

    def value(self) -> bytes:
        """The record value (version 0)."""
        return _I16.pack(VERSION) + _I64.pack(self.timestamp)

    @classmethod
    def decode(cls, key: bytes | None, value: bytes | None) -> Heartbeat:
        """A heartbeats record; WireError if it is not one."""
        k, v = _Reader(key), _Reader(value)
        source, target = k.string(), k.string()
        v.version()
        return cls(source, target, v.i64())
