"""Records as connectors, converters and transforms see them.

Records are frozen: a transform returns a changed copy (``record.replace(topic=...)``), never
mutates its input.

>>> r = SourceRecord(topic="t", value="v", source_partition={"f": "a"}, source_offset={"pos": 1})
>>> r.replace(topic="u").topic
'u'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain
from typing import Any, Literal, Protocol, Self, TypeVar, cast, overload

from faust_connect.data import Schema

__all__ = [
    "ConnectRecord",
    "Fetched",
    "Header",
    "Headers",
    "SinkRecord",
    "SinkRecords",
    "SourceRecord",
    "TimestampType",
]

TimestampType = Literal["NoTimestampType", "CreateTime", "LogAppendTime"]
_T = TypeVar("_T")


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

_MISSING: Any = object()


class _Copier:
    """Straight-line copy and build functions for one record class.

    Records are frozen dataclasses, whose ``__init__`` sets each field through
    ``object.__setattr__`` by name; a runner builds and a transform copies every record, so these
    functions are generated once per class (as dataclasses generates ``__init__``) and set the
    slots through their descriptors: about three times faster.
    """

    __slots__ = ("build", "copy", "setters", "with_key", "with_value")

    def __init__(self, cls: type) -> None:
        fields = dataclasses.fields(cls)
        names = [f.name for f in fields]
        scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_MISSING": _MISSING}
        params, body = [], []
        for f in fields:
            scope[f"_set_{f.name}"] = getattr(cls, f.name).__set__
            if f.default is not dataclasses.MISSING:
                scope[f"_d_{f.name}"] = f.default
                params.append(f"{f.name}=_d_{f.name}")
            elif f.default_factory is not dataclasses.MISSING:
                scope[f"_f_{f.name}"] = f.default_factory
                params.append(f"{f.name}=_MISSING")
                body.append(f"    if {f.name} is _MISSING: {f.name} = _f_{f.name}()")
            else:
                params.append(f.name)
        sets = [f"    _set_{n}(o, {n})" for n in names]
        copies = [f"    _set_{n}(o, self.{n})" for n in names]
        parts = {
            part: [
                f"    _set_{n}(o, {n if n in (part, part + '_schema') else 'self.' + n})"
                for n in names
            ]
            for part in ("key", "value")
        }
        source = "\n".join(
            [
                f"def build(*, {', '.join(params)}):",
                *body,
                "    o = _new(_cls)",
                *sets,
                "    return o",
                "def copy(self):",
                "    o = _new(_cls)",
                *copies,
                "    return o",
                "def with_key(self, key_schema, key):",
                "    o = _new(_cls)",
                *parts["key"],
                "    return o",
                "def with_value(self, value_schema, value):",
                "    o = _new(_cls)",
                *parts["value"],
                "    return o",
            ]
        )
        exec(source, scope)  # the source is built from the dataclass fields only
        self.build: Callable[..., Any] = scope["build"]
        self.copy: Callable[[Any], Any] = scope["copy"]
        self.with_key: Callable[[Any, Schema | None, Any], Any] = scope["with_key"]
        self.with_value: Callable[[Any, Schema | None, Any], Any] = scope["with_value"]
        self.setters: dict[str, Callable[[Any, Any], None]] = {n: scope[f"_set_{n}"] for n in names}


#: Per record class, built on first use.
_COPIERS: dict[type, _Copier] = {}


def _copier(cls: type) -> _Copier:
    copier = _COPIERS.get(cls)
    if copier is None:
        copier = _COPIERS[cls] = _Copier(cls)
    return copier


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

    @classmethod
    def build(cls, **fields: Any) -> Self:
        """The same record as ``cls(**fields)``, built faster (for runners building batches).

        >>> SinkRecord.build(topic="t", offset=7) == SinkRecord(topic="t", offset=7)
        True
        """
        built: Self = _copier(cls).build(**fields)
        return built

    def with_part(self, part: Literal["key", "value"], schema: Schema | None, value: Any) -> Self:
        """A copy with the key (and its schema) or the value (and its schema) replaced: what
        most transforms change, without :meth:`replace`'s keyword handling.

        >>> SinkRecord(topic="t").with_part("value", None, 1).value
        1
        """
        copier = _copier(type(self))
        new: Self = (copier.with_value if part == "value" else copier.with_key)(self, schema, value)
        return new

    def replace(self, **changes: Any) -> Self:
        """A copy with some attributes changed.

        Transforms call this per record, so it copies the fields directly instead of going
        through ``dataclasses.replace`` (which re-runs ``__init__``; several times slower).
        """
        copier = _copier(type(self))
        new: Self = copier.copy(self)
        setters = copier.setters
        for name, value in changes.items():
            setter = setters.get(name)
            if setter is None:
                raise TypeError(f"{type(self).__name__} has no field {name!r}")
            setter(new, value)
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


class Fetched(Protocol):
    """What :class:`SinkRecords` reads of a fetched message (aiokafka's ConsumerRecord)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def timestamp_type(self) -> int: ...


#: Kafka's timestamp type codes (0 and 1) as records name them.
_TIMESTAMP_TYPES: tuple[TimestampType, TimestampType] = ("CreateTime", "LogAppendTime")


class SinkRecords(Sequence[SinkRecord]):
    """A batch for ``put`` kept as columns: each :class:`SinkRecord` is built the first time
    it is indexed or iterated, and then kept (so it is the same object every time).

    A task that wants no per-record objects reads the columns instead: ``keys``, ``values``
    and their schemas, ``headers`` (None when no message had any), and ``topics``,
    ``partitions``, ``offsets``, ``timestamps`` read off the fetched messages.

    >>> from types import SimpleNamespace as Message
    >>> m = Message(topic="t", partition=0, offset=7, timestamp=1, timestamp_type=0)
    >>> batch = SinkRecords([m], [None], [b"k"], [None], [b"v"])
    >>> batch.values, batch[0] == SinkRecord(topic="t", offset=7, key=b"k", value=b"v",
    ...     timestamp=1, original_topic="t", original_offset=7)
    ([b'v'], True)
    """

    __slots__ = ("_built", "headers", "key_schemas", "keys", "messages", "value_schemas", "values")

    def __init__(
        self,
        messages: Sequence[Fetched],
        key_schemas: Sequence[Schema | None],
        keys: Sequence[Any],
        value_schemas: Sequence[Schema | None],
        values: Sequence[Any],
        headers: Sequence[Headers] | None = None,
    ) -> None:
        #: The fetched messages, in the order of the records.
        self.messages = messages
        self.key_schemas, self.keys = key_schemas, keys
        self.value_schemas, self.values = value_schemas, values
        #: Each record's converted headers, or None when no message had headers.
        self.headers = headers
        self._built: list[SinkRecord | None] | None = None

    @classmethod
    def concat(cls, parts: Sequence[SinkRecords]) -> SinkRecords:
        """One batch of several (a fetch's partitions), in order."""
        if len(parts) == 1:
            return parts[0]
        headers = None
        if any(p.headers is not None for p in parts):
            headers = _joined(p.headers or [EMPTY_HEADERS] * len(p) for p in parts)
        return cls(
            _joined(p.messages for p in parts),
            _joined(p.key_schemas for p in parts),
            _joined(p.keys for p in parts),
            _joined(p.value_schemas for p in parts),
            _joined(p.values for p in parts),
            headers,
        )

    def __len__(self) -> int:
        return len(self.messages)

    @overload
    def __getitem__(self, index: int) -> SinkRecord: ...
    @overload
    def __getitem__(self, index: slice) -> SinkRecords: ...
    def __getitem__(self, index: int | slice) -> SinkRecord | SinkRecords:
        if isinstance(index, slice):
            part = SinkRecords(
                self.messages[index],
                self.key_schemas[index],
                self.keys[index],
                self.value_schemas[index],
                self.values[index],
                None if self.headers is None else self.headers[index],
            )
            if self._built is not None:
                part._built = self._built[index]
            return part
        built = self._built
        if built is None:
            built = self._built = [None] * len(self.messages)
        record = built[index]  # raises IndexError past the end, as a list does
        if record is None:
            index %= len(built)
            record = built[index] = self._build(slice(index, index + 1))[0]
        return record

    def __iter__(self) -> Iterator[SinkRecord]:
        built = self._built
        if built is None:
            built = self._built = [*self._build(slice(None))]
        elif None in built:
            fresh = self._build(slice(None))
            built[:] = [r if r is not None else f for r, f in zip(built, fresh, strict=True)]
        return iter(cast(list[SinkRecord], built))  # every slot is built by now

    def __repr__(self) -> str:
        return f"SinkRecords({len(self)} records)"

    @property
    def topics(self) -> list[str]:
        """Each record's topic."""
        return [m.topic for m in self.messages]

    @property
    def partitions(self) -> list[int]:
        """Each record's partition."""
        return [m.partition for m in self.messages]

    @property
    def offsets(self) -> list[int]:
        """Each record's offset."""
        return [m.offset for m in self.messages]

    @property
    def timestamps(self) -> list[int]:
        """Each record's timestamp (milliseconds since the epoch)."""
        return [m.timestamp for m in self.messages]

    def _build(self, index: slice) -> list[SinkRecord]:
        """The records of a range of the columns, built in one loop."""
        build = _copier(SinkRecord).build
        types = _TIMESTAMP_TYPES
        messages = self.messages[index]
        headers = [EMPTY_HEADERS] * len(messages) if self.headers is None else self.headers[index]
        return [
            build(
                topic=m.topic,
                partition=m.partition,
                offset=m.offset,
                key=key,
                key_schema=key_schema,
                value=value,
                value_schema=value_schema,
                timestamp=m.timestamp,
                timestamp_type=types[m.timestamp_type],
                headers=h,
                original_topic=m.topic,
                original_partition=m.partition,
                original_offset=m.offset,
            )
            for m, key_schema, key, value_schema, value, h in zip(
                messages,
                self.key_schemas[index],
                self.keys[index],
                self.value_schemas[index],
                self.values[index],
                headers,
                strict=True,
            )
        ]


def _joined(columns: Iterable[Sequence[_T]]) -> list[_T]:
    return list(chain.from_iterable(columns))
