"""RegexRouter and TimestampRouter."""

from __future__ import annotations

import re

import pytest

from faust_connect.exceptions import ConfigError, TransformError
from faust_connect.transforms import RegexRouter, TimestampRouter
from faust_connect.transforms.routing import java_replacement

from .helpers import src


@pytest.mark.parametrize(
    ("regex", "replacement", "topic", "expected"),
    [
        # Kafka's docs: strip a prefix
        ("(.*)stream_(.*)", "$1$2", "my_stream_topic", "my_topic"),
        (r"(.*)-raw", "$1-clean", "orders-raw", "orders-clean"),
        (r"(.*)-raw", "$1-clean", "orders-raw-x", "orders-raw-x"),  # full match only
        ("orders", "x", "all-orders", "all-orders"),
        (r"(?P<db>\w+)\.(?P<table>\w+)", "${table}_from_${db}", "shop.users", "users_from_shop"),
        ("(a)(b)", "$12", "ab", "a2"),  # $12 is group 1 then "2": there is no group 12
        ("(.*)", r"\$1-$1", "t", "$1-t"),
        ("(.*)", "c:\\\\$1", "t", "c:\\t"),
        ("a*?", "x", "aaa", "xaaa"),  # Java replaceFirst: the first (empty) match
        (r"(?<db>\w+)\.(?<t>\w+)", "${t}", "shop.users", "users"),  # Java named groups
    ],
)
def test_regex_router(regex: str, replacement: str, topic: str, expected: str) -> None:
    t = RegexRouter.from_config({"regex": regex, "replacement": replacement})
    out = t.apply(src(1, topic=topic))
    assert out is not None and out.topic == expected
    again = t.apply(src(2, topic=topic))  # cached path
    assert again is not None and again.topic == expected


@pytest.mark.parametrize(
    ("settings", "keys"),
    [
        ({"regex": "(", "replacement": "x"}, ["regex"]),
        ({"regex": "(a)", "replacement": "$2"}, ["replacement"]),
        ({"regex": "(a)", "replacement": "${nope}"}, ["replacement"]),
        ({"regex": "(a)", "replacement": "x\\"}, ["replacement"]),
        ({}, ["regex", "replacement"]),
    ],
)
def test_regex_router_config_issues(settings: dict[str, str], keys: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        RegexRouter.from_config(settings)
    assert sorted(i.key for i in info.value.issues) == keys


def test_java_replacement_groups() -> None:
    regex = re.compile(r"(a)(b)?(c)(d)(e)(f)(g)(h)(i)(j)(k)")
    expand = java_replacement("$11-$2-$1", regex)
    match = regex.fullmatch("acdefghijk")
    assert match is not None and expand(match) == "k--a"


@pytest.mark.parametrize(
    ("settings", "topic", "timestamp", "expected"),
    [
        ({}, "logs", 1_700_000_000_000, "logs-20231114"),
        # Confluent's docs: topic.format=foo-${topic}-${timestamp}, timestamp.format=YYYYMM
        (
            {"topic.format": "foo-${topic}-${timestamp}", "timestamp.format": "YYYYMM"},
            "bar",
            1_700_000_000_000,
            "foo-bar-202311",
        ),
        ({"timestamp.format": "yyyy-MM-dd'T'HH"}, "t", 0, "t-1970-01-01T00"),
        ({"topic.format": "${timestamp}"}, "t", 86_399_999, "19700101"),
    ],
)
def test_timestamp_router(
    settings: dict[str, str], topic: str, timestamp: int, expected: str
) -> None:
    out = TimestampRouter.from_config(settings).apply(src(1, topic=topic, timestamp=timestamp))
    assert out is not None and out.topic == expected


def test_timestamp_router_needs_timestamp() -> None:
    with pytest.raises(TransformError, match="no timestamp"):
        TimestampRouter().apply(src(1, timestamp=None))
    with pytest.raises(ConfigError):
        TimestampRouter.from_config({"timestamp.format": "yyyy-bb"})
