"""Records as connectors, converters and transforms see them.

Records are frozen: a transform returns a changed copy (``record.replace(topic=...)``), never
mutates its input.

>>> r = SourceRecord(topic="t", value="v", source_partition={"f": "a"}, source_offset={"pos": 1})
>>> r.replace(topic="u").topic
'u'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
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
