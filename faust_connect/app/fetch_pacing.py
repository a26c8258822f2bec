"""Pacing of fetches that a broker answers empty at once.

Kafka holds a fetch that finds no new data for up to ``fetch.max.wait.ms`` (a long poll), so an
idle consumer sends about two requests a second. A broker that answers such a fetch at once
(noida-db, the embedded broker behind ``make run``) turns aiokafka's fetch loop into a spin: an
idle worker used two thirds of a core on it. :func:`install` paces aiokafka's fetcher: after a
fetch that brought nothing and was answered in under half of its ``fetch.max.wait.ms``, the next
one waits until :data:`EMPTY_FETCH_PACE` seconds have passed since this one was sent. On Kafka
an empty answer takes the whole wait, so nothing changes there; a fetch that brings records (or
an error to act on) is never delayed.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.consumer.fetcher import Fetcher

__all__ = ["EMPTY_FETCH_PACE", "install", "pause_after_empty"]

#: The shortest time between two empty fetches answered early, in seconds.
EMPTY_FETCH_PACE = 0.1

_Proc = Callable[..., Awaitable[bool]]


def pause_after_empty(answered: float, max_wait_ms: int) -> float:
    """Seconds to wait after an empty fetch answered in ``answered`` seconds, asked to wait up
    to ``max_wait_ms``: none for a long poll (half the wait or more), else the rest of the pace.
    """
    if answered >= max_wait_ms / 2000:
        return 0.0
    return max(EMPTY_FETCH_PACE - answered, 0.0)


def paced(proc: _Proc) -> _Proc:
    """``Fetcher._proc_fetch_request`` paced as the module says (it returns whether the
    fetch brought something the consumer must wake up for)."""

    @functools.wraps(proc)
    async def fetch(self: Any, *args: Any, **kwargs: Any) -> bool:
        sent = time.monotonic()
        woke = await proc(self, *args, **kwargs)
        pause = 0.0 if woke else pause_after_empty(time.monotonic() - sent, self._fetch_max_wait_ms)
        if pause > 0:
            try:
                await asyncio.sleep(pause)
            except asyncio.CancelledError:
                # As aiokafka's own fetch does when cancelled (the consumer stops, or the
                # assignment changed): the result is of no more interest; raising here would
                # crash its fetch routine on the way out.
                return False
        return woke

    fetch.__wrapped_by_faust_connect__ = True  # type: ignore[attr-defined]
    return fetch


def install() -> None:
    """Pace every aiokafka consumer of this process (once; later calls do nothing)."""
    proc = Fetcher._proc_fetch_request
    if not getattr(proc, "__wrapped_by_faust_connect__", False):
        Fetcher._proc_fetch_request = paced(proc)
