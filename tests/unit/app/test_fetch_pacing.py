"""Fetch pacing: an empty fetch answered at once waits; Kafka's long polls and data do not."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest
from aiokafka.consumer.fetcher import Fetcher

from faust_connect.app import fetch_pacing
from faust_connect.app.fetch_pacing import EMPTY_FETCH_PACE, paced, pause_after_empty


@pytest.mark.parametrize(
    ("answered", "max_wait_ms", "pause"),
    [
        (0.0, 500, EMPTY_FETCH_PACE),  # answered at once (noida-db): the whole pace
        (0.04, 500, EMPTY_FETCH_PACE - 0.04),  # the rest of it
        (0.2, 500, 0.0),  # past the pace already
        (0.5, 500, 0.0),  # Kafka's long poll
        (0.0, 0, 0.0),  # asked not to wait at all: never paced
    ],
)
def test_the_pause_after_an_empty_fetch(answered: float, max_wait_ms: int, pause: float) -> None:
    assert pause_after_empty(answered, max_wait_ms) == pytest.approx(pause)


def test_a_paced_fetch_answered_empty_at_once_waits_and_one_with_records_returns() -> None:
    async def answer(self: object, woke: bool) -> bool:
        return woke

    fetcher = SimpleNamespace(_fetch_max_wait_ms=500)
    started = time.monotonic()
    assert asyncio.run(paced(answer)(fetcher, False)) is False
    assert time.monotonic() - started >= EMPTY_FETCH_PACE
    assert asyncio.run(paced(answer)(fetcher, True)) is True


def test_install_wraps_aiokafkas_fetcher_once() -> None:
    fetch_pacing.install()
    first = Fetcher._proc_fetch_request
    fetch_pacing.install()
    assert Fetcher._proc_fetch_request is first
    assert getattr(first, "__wrapped_by_faust_connect__", False)
