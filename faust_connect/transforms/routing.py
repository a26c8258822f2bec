"""Topic routing: RegexRouter and TimestampRouter.

>>> from faust_connect.records import SourceRecord
>>> RegexRouter(regex=r"(.*)-raw", replacement="$1-clean").apply(SourceRecord(topic="a-raw")).topic
'a-clean'
>>> TimestampRouter().apply(SourceRecord(topic="logs", timestamp=1_700_000_000_000)).topic
'logs-20231114'
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, TypeVar

from pydantic import Field, ValidationInfo, field_validator

from faust_connect.config import PluginConfig
from faust_connect.records import ConnectRecord
from faust_connect.transforms._util import parsed_by
from faust_connect.transforms.base import Transform
from faust_connect.transforms.dateformat import DateFormat

__all__ = ["RegexRouter", "TimestampRouter", "java_regex", "java_replacement"]

R = TypeVar("R", bound=ConnectRecord)


_JAVA_NAMED_GROUP = re.compile(r"(?<!\\)\(\?<(?=[A-Za-z])")


def java_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Java regex: ``(?<name>...)`` named groups become Python's ``(?P<name>...)``.

    ValueError (naming the pattern) if it does not compile.
    """
    try:
        return re.compile(_JAVA_NAMED_GROUP.sub("(?P<", pattern))
    except re.error as exc:
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from None


def java_replacement(replacement: str, regex: re.Pattern[str]) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` callable doing what ``Matcher.replaceFirst(replacement)`` does in Java.

    ``$1`` (as many digits as name an existing group) and ``${name}`` insert groups; a backslash
    makes the next character literal.
    """
    parts: list[str | int] = []  # literal text, or a group number
    literal: list[str] = []
    i, n = 0, len(replacement)
    while i < n:
        char = replacement[i]
        if char == "\\":
            if i + 1 >= n:
                raise ValueError("character to be escaped is missing")
            literal.append(replacement[i + 1])
            i += 2
            continue
        if char != "$":
            literal.append(char)
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("illegal group reference: group index is missing")
        ref: int
        if replacement[i + 1] == "{":
            end = replacement.find("}", i + 2)
            if end < 0:
                raise ValueError("named capturing group is missing trailing '}'")
            name = replacement[i + 2 : end]
            if name not in regex.groupindex:
                raise ValueError(f"no group with name {{{name}}}")
            ref, i = regex.groupindex[name], end + 1
        elif replacement[i + 1].isdigit():
            number, j = int(replacement[i + 1]), i + 2
            while (
                j < n
                and replacement[j].isdigit()
                and number * 10 + int(replacement[j]) <= regex.groups
            ):
                number = number * 10 + int(replacement[j])
                j += 1
            if number > regex.groups:
                raise ValueError(f"no group {number}")
            ref, i = number, j
        else:
            raise ValueError("illegal group reference")
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(ref)
    if literal:
        parts.append("".join(literal))

    def expand(match: re.Match[str]) -> str:
        return "".join(p if isinstance(p, str) else (match.group(p) or "") for p in parts)

    return expand


class RegexRouterConfig(PluginConfig):
    """Keys of RegexRouter."""

    regex: Annotated[str, parsed_by(java_regex)] = Field(
        description="Regular expression the whole topic must match."
    )
    replacement: str = Field(description="Replacement; $1 or ${name} insert groups.")

    @field_validator("replacement")
    @classmethod
    def _check_replacement(cls, replacement: str, info: ValidationInfo) -> str:
        if "regex" in info.data:
            java_replacement(replacement, java_regex(info.data["regex"]))
        return replacement


class RegexRouter(Transform):
    """Rename the topic when the whole name matches ``regex`` (Java's replaceFirst semantics)."""

    Config = RegexRouterConfig
    config: RegexRouterConfig

    def configure(self) -> None:
        self._regex = java_regex(self.config.regex)
        self._expand = java_replacement(self.config.replacement, self._regex)
        self._topics: dict[str, str | None] = {}

    def apply(self, record: R) -> R | None:
        """The record with its topic renamed, or unchanged if the topic does not match."""
        topic = record.topic
        try:
            routed = self._topics[topic]
        except KeyError:
            if len(self._topics) > 1024:
                self._topics.clear()
            match = self._regex.fullmatch(topic)
            routed = self._regex.sub(self._expand, topic, count=1) if match else None
            self._topics[topic] = routed
        return record if routed is None else record.replace(topic=routed)


class TimestampRouterConfig(PluginConfig):
    """Keys of TimestampRouter."""

    topic_format: str = Field(
        "${topic}-${timestamp}", description="Topic name with ${topic} and ${timestamp}."
    )
    timestamp_format: Annotated[str, parsed_by(DateFormat)] = Field(
        "yyyyMMdd", description="SimpleDateFormat pattern for ${timestamp}, in UTC."
    )


class TimestampRouter(Transform):
    """Rename the topic from its name and the record timestamp, e.g. ``logs-20240131``."""

    Config = TimestampRouterConfig
    config: TimestampRouterConfig

    def configure(self) -> None:
        self._format = DateFormat(self.config.timestamp_format)

    def apply(self, record: R) -> R | None:
        """The record with its topic rewritten; a record without timestamp fails."""
        if record.timestamp is None:
            raise self.fail(f"record on {record.topic!r} has no timestamp")
        when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=record.timestamp)
        topic = self.config.topic_format.replace("${topic}", record.topic).replace(
            "${timestamp}", self._format.format(when)
        )
        return record.replace(topic=topic)
