"""Filter and the predicates: TopicNameMatches, HasHeaderKey, RecordIsTombstone.

``Filter`` drops every record; with a predicate it drops the matching ones:

>>> from faust_connect.records import SourceRecord
>>> from faust_connect.transforms.base import Chain
>>> drop_tombstones = Chain([Filter().when(RecordIsTombstone())])
>>> [r.value for r in drop_tombstones.apply_batch(
...     [SourceRecord(topic="t", value=1), SourceRecord(topic="t", value=None)])]
[1]
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import Field

from faust_connect.config import PluginConfig
from faust_connect.records import ConnectRecord
from faust_connect.transforms._util import parsed_by
from faust_connect.transforms.base import Predicate, Transform
from faust_connect.transforms.routing import java_regex

__all__ = ["Filter", "HasHeaderKey", "RecordIsTombstone", "TopicNameMatches"]

R = TypeVar("R", bound=ConnectRecord)


class Filter(Transform):
    """Drop every record it is applied to; combine it with a predicate."""

    def apply(self, record: R) -> R | None:
        """None: the record is dropped."""
        return None


class TopicNameMatchesConfig(PluginConfig):
    """Keys of TopicNameMatches."""

    pattern: Annotated[str, parsed_by(java_regex)] = Field(
        description="Regular expression the whole topic name must match."
    )


class TopicNameMatches(Predicate):
    """True when the whole topic name matches ``pattern``."""

    Config = TopicNameMatchesConfig
    config: TopicNameMatchesConfig

    def configure(self) -> None:
        self._match = java_regex(self.config.pattern).fullmatch

    def test(self, record: ConnectRecord) -> bool:
        """Whether the topic matches."""
        return self._match(record.topic) is not None


class HasHeaderKeyConfig(PluginConfig):
    """Keys of HasHeaderKey."""

    name: str = Field(description="The header name to look for.", min_length=1)


class HasHeaderKey(Predicate):
    """True when the record has at least one header with that name."""

    Config = HasHeaderKeyConfig
    config: HasHeaderKeyConfig

    def test(self, record: ConnectRecord) -> bool:
        """Whether the header is present."""
        name = self.config.name
        return any(h.key == name for h in record.headers)


class RecordIsTombstone(Predicate):
    """True when the record's value is null (a tombstone)."""

    def test(self, record: ConnectRecord) -> bool:
        """Whether the value is None."""
        return record.value is None
