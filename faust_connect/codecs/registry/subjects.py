"""Subject name strategies: which registry subject a schema is registered under.

- TopicNameStrategy (default): ``<topic>-key`` / ``<topic>-value``.
- RecordNameStrategy: the record's full name (the schema must be a record).
- TopicRecordNameStrategy: ``<topic>-<record full name>``.

Configs name them by Confluent's class names
(``io.confluent.kafka.serializers.subject.TopicNameStrategy``), by simple class name, or by
short name (``topic``, ``record``, ``topic_record``).

>>> subject_name(resolve_strategy("record"), "orders", False, "shop.Order")
'shop.Order'
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import BeforeValidator

__all__ = [
    "RECORD_NAME_STRATEGY",
    "TOPIC_NAME_STRATEGY",
    "TOPIC_RECORD_NAME_STRATEGY",
    "StrategyName",
    "resolve_strategy",
    "subject_name",
]

TOPIC_NAME_STRATEGY: Final = "io.confluent.kafka.serializers.subject.TopicNameStrategy"
RECORD_NAME_STRATEGY: Final = "io.confluent.kafka.serializers.subject.RecordNameStrategy"
TOPIC_RECORD_NAME_STRATEGY: Final = "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy"
_KNOWN = {
    "topic": TOPIC_NAME_STRATEGY,
    "record": RECORD_NAME_STRATEGY,
    "topic_record": TOPIC_RECORD_NAME_STRATEGY,
}
for _full in (TOPIC_NAME_STRATEGY, RECORD_NAME_STRATEGY, TOPIC_RECORD_NAME_STRATEGY):
    _KNOWN[_full] = _full
    _KNOWN[_full.rsplit(".", 1)[1]] = _full


def resolve_strategy(name: str) -> str:
    """The Confluent class name for any accepted spelling; ValueError naming the valid ones."""
    found = _KNOWN.get(name.strip()) if isinstance(name, str) else None
    if found is None:
        raise ValueError(
            f"unknown subject name strategy {name!r}; valid: {', '.join(sorted(_KNOWN))}"
        )
    return found


#: A strategy option: any accepted spelling, stored as Confluent's class name.
StrategyName = Annotated[
    Literal[
        "io.confluent.kafka.serializers.subject.TopicNameStrategy",
        "io.confluent.kafka.serializers.subject.RecordNameStrategy",
        "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
    ],
    BeforeValidator(resolve_strategy),
]


def subject_name(strategy: str, topic: str, is_key: bool, record_name: str | None) -> str:
    """The subject for a schema of ``record_name`` (None if not a record) on ``topic``."""
    if strategy == TOPIC_NAME_STRATEGY:
        return f"{topic}-{'key' if is_key else 'value'}"
    if record_name is None:
        raise ValueError(f"{strategy.rsplit('.', 1)[1]} needs a record (struct) schema")
    if strategy == RECORD_NAME_STRATEGY:
        return record_name
    return f"{topic}-{record_name}"
