"""Filter and the predicates, alone and as Kafka's docs combine them."""

from __future__ import annotations

import pytest

from faust_connect.exceptions import ConfigError
from faust_connect.records import Header, Headers
from faust_connect.transforms import (
    Filter,
    HasHeaderKey,
    RecordIsTombstone,
    Stage,
    TopicNameMatches,
)

from .helpers import headers, src


def test_filter_drops_everything() -> None:
    assert Filter().apply(src(1)) is None
    assert Filter().apply(src(None)) is None


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("foo", "foo", True),
        ("foo", "foobar", False),  # full match, not search
        ("foo.*", "foobar", True),
        ("a|b", "b", True),
        (r"db\.public\..*", "db.public.users", True),
        ("(?<x>ab)c", "abc", True),
    ],
)
def test_topic_name_matches(pattern: str, topic: str, matches: bool) -> None:
    assert TopicNameMatches(pattern=pattern).test(src(1, topic=topic)) is matches


def test_topic_name_matches_validates_pattern() -> None:
    with pytest.raises(ConfigError) as info:
        TopicNameMatches.from_config({"pattern": "("}, prefix="predicates.p.")
    assert [i.key for i in info.value.issues] == ["predicates.p.pattern"]
    with pytest.raises(ConfigError):
        TopicNameMatches.from_config({})


@pytest.mark.parametrize(
    ("record_headers", "present"),
    [
        (headers(a=1), False),
        (headers(a=1, b=None), True),
        (Headers([Header("b", 1), Header("b", 2)]), True),
        (Headers(), False),
    ],
)
def test_has_header_key(record_headers: Headers, present: bool) -> None:
    assert HasHeaderKey.from_config({"name": "b"}).test(src(1, headers=record_headers)) is present


def test_record_is_tombstone() -> None:
    assert RecordIsTombstone().test(src(None, key="k")) is True
    assert RecordIsTombstone().test(src(0)) is False
    assert RecordIsTombstone().test(src("")) is False


def test_filter_with_negated_predicate_keeps_only_matching() -> None:
    keep_only_orders = Stage(Filter(), TopicNameMatches(pattern="orders"), negate=True)
    assert keep_only_orders.apply(src(1, topic="orders")) is not None
    assert keep_only_orders.apply(src(1, topic="payments")) is None
