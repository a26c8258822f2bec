"""Kafka Connect's source offset format, shared by the source runner and the offset table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["offset_key", "parse_offset_key"]


def offset_key(connector: str, partition: Mapping[str, Any]) -> bytes:
    """Kafka Connect's offset key: ``["<connector>",{partition}]`` (keys sorted, so stable)."""
    return orjson.dumps([connector, dict(partition)], option=orjson.OPT_SORT_KEYS)


def parse_offset_key(key: bytes) -> tuple[str, dict[str, Any]]:
    """``(connector, source partition)`` of an offset key."""
    connector, partition = orjson.loads(key)
    return connector, partition
