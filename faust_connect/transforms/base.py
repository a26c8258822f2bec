"""Transforms, predicates, and how they compose: :class:`Stage` and :class:`Chain`.

A :class:`Transform` turns one record into another (a changed copy; inputs are never mutated) or
into None, which drops it. A :class:`Predicate` decides whether a transform applies. A
:class:`Stage` pairs the two the way Kafka's ``TransformationStage`` does: the transform runs
when ``negate XOR predicate.test(record)``. ``t1 | t2`` builds a :class:`Chain`, which applies
its stages in order to one record or, fast, to a whole batch.

>>> from faust_connect.records import SourceRecord
>>> from faust_connect.transforms import Filter, InsertField, RecordIsTombstone
>>> chain = Filter().when(RecordIsTombstone()) | InsertField(static_field="src", static_value="db")
>>> [r.value for r in chain.apply_batch([SourceRecord(topic="t", value={"id": 1}),
...                                      SourceRecord(topic="t", value=None)])]
[{'id': 1, 'src': 'db'}]

Inside a Faust agent, either iterate ``chain.stream(stream)`` or install ``chain.processor``::

    @app.agent(topic)
    async def process(stream):
        async for record in chain.stream(stream):   # dropped records are skipped
            ...

    stream.add_processor(chain.processor)           # dropped records are skipped and acked
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, ClassVar, Self, TypeVar

from faust_connect.config import PluginConfig, parse_config
from faust_connect.exceptions import TransformError
from faust_connect.records import ConnectRecord

__all__ = ["Chain", "ErrorHandler", "NoConfig", "Predicate", "Stage", "Transform"]

R = TypeVar("R", bound=ConnectRecord)

#: Called with the original record and the error when a record fails inside a batch.
ErrorHandler = Callable[[ConnectRecord, TransformError], None]


class NoConfig(PluginConfig):
    """The config of a plugin without keys."""


class _Plugin:
    """What transforms and predicates share: a declared config, keyword-only construction."""

    #: The keys this plugin accepts (Kafka's names as aliases, Kafka's defaults).
    Config: ClassVar[type[PluginConfig]] = NoConfig

    config: Any
    #: The alias the connector config gave this plugin (``transforms.<alias>``), if any.
    alias: str | None

    def __init__(self, *, alias: str | None = None, **settings: Any) -> None:
        self._setup(parse_config(self.Config, settings), alias)

    @classmethod
    def from_config(
        cls, raw: Mapping[str, Any], *, prefix: str = "", alias: str | None = None
    ) -> Self:
        """Build from Kafka-style keys (``{"static.field": "x"}``); ConfigError names each key."""
        plugin = cls.__new__(cls)
        plugin._setup(parse_config(cls.Config, raw, prefix=prefix), alias)
        return plugin

    def _setup(self, config: PluginConfig, alias: str | None) -> None:
        self.config = config
        self.alias = alias
        self.configure()

    def configure(self) -> None:
        """Hook: derive working state from ``self.config`` (compiled patterns, caches)."""

    @property
    def label(self) -> str:
        """How errors name this plugin: its alias, else its class name."""
        return self.alias or type(self).__name__

    def fail(self, reason: str) -> TransformError:
        """A TransformError naming this plugin and the reason; ``raise self.fail(...)``."""
        return TransformError(f"{self.label}: {reason}")

    def __repr__(self) -> str:
        settings = self.config.model_dump(exclude_defaults=True)
        inner = ", ".join(f"{k}={v!r}" for k, v in settings.items())
        return f"{type(self).__name__}({inner})"


class Transform(_Plugin, ABC):
    """A single message transform: ``apply(record)`` gives a changed copy, or None to drop.

    Subclasses declare ``Config`` and implement :meth:`apply`; :meth:`configure` prepares state
    once. Construct with keyword arguments (Python names or Kafka's dotted keys)::

        InsertField(static_field="MessageSource", static_value="Kafka Connect framework")
        InsertField.from_config({"static.field": "MessageSource", ...})
    """

    @abstractmethod
    def apply(self, record: R) -> R | None:
        """The transformed copy of ``record``, or None to drop it. Never mutates ``record``.

        For a record it cannot handle, ``raise self.fail("reason")`` (a TransformError naming
        the transform); a Chain turns any other exception into such an error too.
        """

    def when(self, predicate: Predicate, *, negate: bool = False) -> Stage:
        """This transform, applied only where ``predicate`` holds (or fails, with ``negate``)."""
        return Stage(self, predicate, negate)

    def __or__(self, other: Transform | Stage | Chain) -> Chain:
        return Chain([Stage(self)]) | other

    def close(self) -> None:
        """Release resources; the default does nothing."""


class Predicate(_Plugin, ABC):
    """A condition on a record, deciding whether a transform applies."""

    @abstractmethod
    def test(self, record: ConnectRecord) -> bool:
        """Whether ``record`` matches."""


@dataclasses.dataclass(frozen=True, slots=True)
class Stage:
    """A transform with an optional predicate: it applies when ``negate XOR predicate.test``."""

    transform: Transform
    predicate: Predicate | None = None
    negate: bool = False

    @property
    def label(self) -> str:
        """The transform's alias or class name."""
        return self.transform.label

    def apply(self, record: R) -> R | None:
        """The transformed record, the record itself if the predicate says so, or None."""
        if self.predicate is not None and self.predicate.test(record) == self.negate:
            return record
        return self.transform.apply(record)

    def __or__(self, other: Transform | Stage | Chain) -> Chain:
        return Chain([self]) | other


class Chain:
    """Stages applied in order; ``t1 | t2 | t3`` builds one, and an empty chain is the identity.

    ``apply(record)`` runs one record; ``apply_batch(records)`` runs a batch stage by stage (the
    runtime's path). Errors surface as TransformError naming the failing transform.
    """

    __slots__ = ("stages",)

    def __init__(self, stages: Iterable[Stage | Transform] = ()) -> None:
        self.stages: tuple[Stage, ...] = tuple(
            s if isinstance(s, Stage) else Stage(s) for s in stages
        )

    def __or__(self, other: Transform | Stage | Chain) -> Chain:
        if isinstance(other, Chain):
            return Chain(self.stages + other.stages)
        if isinstance(other, (Transform, Stage)):
            return Chain((*self.stages, other))
        return NotImplemented

    def __len__(self) -> int:
        return len(self.stages)

    def __iter__(self) -> Iterator[Stage]:
        return iter(self.stages)

    def __repr__(self) -> str:
        return " | ".join(s.label for s in self.stages) or "Chain()"

    def close(self) -> None:
        """Close every transform (Kafka's ``Transformation.close``)."""
        for stage in self.stages:
            stage.transform.close()

    def apply(self, record: R) -> R | None:
        """``record`` through every stage; None as soon as one drops it."""
        current = record
        for stage in self.stages:
            try:
                out = stage.apply(current)
            except Exception as exc:
                raise _wrap(stage, exc) from exc
            if out is None:
                return None
            current = out
        return current

    def apply_batch(self, records: Sequence[R], *, on_error: ErrorHandler | None = None) -> list[R]:
        """The surviving records, in order, after every stage.

        Without ``on_error`` the first failure raises TransformError. With it, a failing record is
        passed (as it came in) to ``on_error`` and left out, and the others go on.
        """
        try:
            return self._batch(records)
        except Exception:
            if on_error is None:
                raise
        # Slow path, only after a failure: record by record, to find and report the bad ones.
        survivors: list[R] = []
        for record in records:
            try:
                out = self.apply(record)
            except TransformError as exc:
                on_error(record, exc)
                continue
            if out is not None:
                survivors.append(out)
        return survivors

    def _batch(self, records: Sequence[R]) -> list[R]:
        current: list[R] = list(records)
        for stage in self.stages:
            apply = stage.transform.apply
            predicate = stage.predicate
            try:
                if predicate is None:
                    current = [r for r in map(apply, current) if r is not None]
                else:
                    test, negate, out = predicate.test, stage.negate, []
                    for r in current:
                        if test(r) != negate:
                            changed = apply(r)
                            if changed is not None:
                                out.append(changed)
                        else:
                            out.append(r)
                    current = out
            except Exception as exc:
                raise _wrap(stage, exc) from exc
            if not current:
                break
        return current

    async def stream(self, source: AsyncIterable[Any]) -> AsyncIterator[Any]:
        """Transformed records of ``source`` (a Faust stream or any async iterable).

        Dropped records are skipped; a list value (a batch) yields its surviving list.
        """
        async for value in source:
            if isinstance(value, list):
                yield self.apply_batch(value)
                continue
            out = self.apply(value)
            if out is not None:
                yield out

    def processor(self, value: Any) -> Any:
        """A Faust stream processor: ``stream.add_processor(chain.processor)``.

        A record becomes its transformed copy; a dropped record raises Faust's ``Skip`` so the
        stream acks it and moves on. A list (a batch) becomes the list of survivors.
        """
        if isinstance(value, list):
            return self.apply_batch(value)
        out = self.apply(value)
        if out is None:
            from faust.exceptions import Skip  # faust is heavy; only needed on the drop path

            raise Skip()
        return out


def _wrap(stage: Stage, exc: Exception) -> TransformError:
    if isinstance(exc, TransformError):
        return exc
    return TransformError(f"{stage.label}: {type(exc).__name__}: {exc}")
