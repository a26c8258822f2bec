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
from typing import Any, ClassVar, Literal, Self, TypeVar

from faust_connect.config import PluginConfig, parse_config
from faust_connect.data import Schema, Struct
from faust_connect.exceptions import TransformError
from faust_connect.records import ConnectRecord

__all__ = [
    "Chain",
    "ErrorHandler",
    "NoConfig",
    "PartTransform",
    "Predicate",
    "Stage",
    "Transform",
]

R = TypeVar("R", bound=ConnectRecord)

#: Called with the original record and the error when a record fails inside a batch.
ErrorHandler = Callable[[ConnectRecord, TransformError], None]
#: A PartTransform's struct path on values: ``(record, schema, values) -> (schema, values)``.
StructValuesFn = Callable[[ConnectRecord, Schema, Sequence[Any]], tuple[Schema, Sequence[Any]]]


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


class PartTransform(Transform):
    """A transform that changes only the record's key or only its value (with its schema).

    Subclasses implement :meth:`apply_part` on ``(schema, value)``; :meth:`apply` follows from
    it. A :class:`Chain` runs consecutive such stages on the same part (without predicates)
    on ``(schema, value)`` and copies each record once, not once per stage. The part is
    ``config.target`` (Kafka's ``$Key``/``$Value``) unless a subclass says otherwise.
    """

    @property
    def target(self) -> Literal["key", "value"]:
        """The part this transform changes."""
        target: Literal["key", "value"] = self.config.target
        return target

    @abstractmethod
    def apply_part(
        self, record: ConnectRecord, schema: Schema | None, value: Any
    ) -> tuple[Schema | None, Any]:
        """The new ``(schema, value)`` of the part, given its current ones.

        ``record`` is there for its other attributes (topic, timestamp, ...): inside a chain its
        own key or value may be older than ``schema``/``value``, so read the part only from
        the arguments. Return the arguments themselves to leave the part unchanged.
        """

    def values_path(self) -> StructValuesFn | None:
        """Optionally, the struct case of :meth:`apply_part` on a struct's values.

        A function ``(record, schema, values) -> (new struct schema, new values)`` taking the
        values of a Struct of ``schema`` in field order, giving exactly what :meth:`apply_part`
        would give for that Struct, as values; None if the transform has no such path. A chain
        then hands values from stage to stage and builds one Struct at the end.
        """
        return None

    def apply(self, record: R) -> R | None:
        """The record with its part replaced by :meth:`apply_part`'s."""
        if self.target == "value":
            schema, value = record.value_schema, record.value
            new_schema, new_value = self.apply_part(record, schema, value)
            if new_value is value and new_schema is schema:
                return record
            return record.with_part("value", new_schema, new_value)
        schema, value = record.key_schema, record.key
        new_schema, new_value = self.apply_part(record, schema, value)
        if new_value is value and new_schema is schema:
            return record
        return record.with_part("key", new_schema, new_value)


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

    __slots__ = ("_steps", "stages")

    def __init__(self, stages: Iterable[Stage | Transform] = ()) -> None:
        self.stages: tuple[Stage, ...] = tuple(
            s if isinstance(s, Stage) else Stage(s) for s in stages
        )
        self._steps = _plan(self.stages)

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
        for step in self._steps:
            if isinstance(step, _PartRun):
                current = step.run(current)
                continue
            stage = step
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


class _PartRun:
    """Consecutive PartTransform stages on one part: each record is copied once for all."""

    __slots__ = ("parts", "target")

    def __init__(self, parts: list[tuple[Stage, PartTransform]]) -> None:
        self.parts = parts
        self.target = parts[0][1].target

    def run(self, records: list[R]) -> list[R]:
        applies = [transform.apply_part for _, transform in self.parts]
        paths = [transform.values_path() for _, transform in self.parts]
        on_values = None if None in paths else [p for p in paths if p is not None]
        out: list[R] = []
        append = out.append
        record: R | None = None
        try:
            if self.target == "value":
                for record in records:
                    schema = old_schema = record.value_schema
                    value = old = record.value
                    if (
                        on_values is not None
                        and schema is not None
                        and isinstance(value, Struct)
                        and value.schema is schema
                    ):
                        values: Sequence[Any] = value.values()
                        for step in on_values:
                            schema, values = step(record, schema, values)
                        value = Struct.trusted(schema, values)
                    else:
                        for apply_part in applies:
                            schema, value = apply_part(record, schema, value)
                    if value is not old or schema is not old_schema:
                        record = record.with_part("value", schema, value)
                    append(record)
            else:
                for record in records:
                    schema = old_schema = record.key_schema
                    value = old = record.key
                    for apply_part in applies:
                        schema, value = apply_part(record, schema, value)
                    if value is not old or schema is not old_schema:
                        record = record.with_part("key", schema, value)
                    append(record)
        except Exception as exc:
            raise _wrap(self._failing(record), exc) from exc
        return out

    def _failing(self, record: ConnectRecord | None) -> Stage:
        """The stage that fails on ``record`` (replayed one stage at a time)."""
        if record is not None:
            try:
                for stage, _ in self.parts:
                    out = stage.apply(record)
                    record = record if out is None else out
            except Exception:
                return stage
        return self.parts[-1][0]


def _plan(stages: tuple[Stage, ...]) -> list[Stage | _PartRun]:
    """The stages, with runs of two or more PartTransforms on one part merged."""
    steps: list[Stage | _PartRun] = []
    run: list[tuple[Stage, PartTransform]] = []

    def close() -> None:
        if len(run) > 1:
            steps.append(_PartRun(list(run)))
        else:
            steps.extend(stage for stage, _ in run)
        run.clear()

    for stage in stages:
        transform = stage.transform
        if isinstance(transform, PartTransform) and stage.predicate is None:
            if run and transform.target != run[0][1].target:
                close()
            run.append((stage, transform))
            continue
        close()
        steps.append(stage)
    close()
    return steps


def _wrap(stage: Stage, exc: Exception) -> TransformError:
    if isinstance(exc, TransformError):
        return exc
    return TransformError(f"{stage.label}: {type(exc).__name__}: {exc}")
