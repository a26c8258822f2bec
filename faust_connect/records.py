"""Records as connectors, converters and transforms see them.

Records are frozen: a transform returns a changed copy (``record.replace(topic=...)``), never
mutates its input.

>>> r = SourceRecord(topic="t", value="v", source_partition={"f": "a"}, source_offset={"pos": 1})
>>> r.replace(topic="u").topic
'u'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal, Self

from faust_connect.data import Schema

__all__ = ["ConnectRecord", "Header", "Headers", "SinkRecord", "SourceRecord", "TimestampType"]

TimestampType = Literal["NoTimestampType", "CreateTime", "LogAppendTime"]


@dataclasses.dataclass(frozen=True, slots=True)
class Header:
    """One record header: a key, a value and optionally its schema."""

    key: str
    value: Any
    schema: Schema | None = None


class Headers:
    """An immutable, ordered list of headers; a key may repeat (the last one wins on lookup)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[Header] = ()) -> None:
        self._items: tuple[Header, ...] = tuple(items)

    def __iter__(self) -> Iterator[Header]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._items == other._items
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Headers({list(self._items)!r})"

    def last(self, key: str) -> Header | None:
        """The last header with that key, or None."""
        for header in reversed(self._items):
            if header.key == key:
                return header
        return None

    def all(self, key: str) -> list[Header]:
        """Every header with that key, in order."""
        return [h for h in self._items if h.key == key]

    def add(self, key: str, value: Any, schema: Schema | None = None) -> Headers:
        """A copy with one header appended."""
        return Headers((*self._items, Header(key, value, schema)))

    def without(self, *keys: str) -> Headers:
        """A copy without any header of those keys."""
        drop = set(keys)
        return Headers(h for h in self._items if h.key not in drop)

    def with_only(self, key: str, value: Any, schema: Schema | None = None) -> Headers:
        """A copy where ``key`` has exactly this one value."""
        return self.without(key).add(key, value, schema)


EMPTY_HEADERS = Headers()

#: Field names per record class, for ``replace``.
_FIELDS: dict[type, tuple[str, ...]] = {}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConnectRecord:
    """What sources and sinks share: topic, key and value with schemas, headers, timestamp."""

    topic: str
    key: Any = None
    value: Any = None
    key_schema: Schema | None = None
    value_schema: Schema | None = None
    headers: Headers = EMPTY_HEADERS
    #: Milliseconds since the epoch, or None.
    timestamp: int | None = None
    #: The Kafka partition, or None to let the producer choose.
    partition: int | None = None

    def replace(self, **changes: Any) -> Self:
        """A copy with some attributes changed.

        Transforms call this per record, so it copies the fields directly instead of going
        through ``dataclasses.replace`` (which re-runs ``__init__``; several times slower).
        """
        cls = type(self)
        names = _FIELDS.get(cls)
        if names is None:
            names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
        new = object.__new__(cls)
        set_ = object.__setattr__
        for name in names:
            set_(new, name, changes.pop(name) if name in changes else getattr(self, name))
        if changes:
            raise TypeError(f"{cls.__name__} has no field {sorted(changes)[0]!r}")
        return new


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SourceRecord(ConnectRecord):
    """A record a source produced, with where it came from in the outside system.

    ``source_partition`` names a stream in the outside system (``{"filename": "/x"}``) and
    ``source_offset`` the position after this record in it (``{"position": 1234}``); the runtime
    stores the offset once the broker acknowledged the record, and gives it back on restart.
    """

    source_partition: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    source_offset: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SinkRecord(ConnectRecord):
    """A record a sink receives, with its place in Kafka (before any transform renamed it)."""

    partition: int | None = 0
    offset: int = 0
    timestamp_type: TimestampType = "CreateTime"
    original_topic: str = ""
    original_partition: int = 0
    original_offset: int = 0
