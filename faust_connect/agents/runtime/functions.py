"""Connectors from plain functions: what ``@app.sink`` and ``@app.source`` build.

A sink function ``async def f(records)`` becomes a sink connector whose task calls it with each
batch; a source function (an async generator ``f(context)``) becomes a source connector whose
task runs it (once, or again every ``interval`` seconds) and hands its items to the runtime in
batches. Both then run, pause, restart and report status like any other connector.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from faust_connect.connector import SinkConnector, SinkTask, SourceConnector, SourceTask
from faust_connect.records import SinkRecord, SourceRecord

__all__ = ["function_sink", "function_source"]

#: Items a function source may have ready before the runtime takes them.
QUEUE_SIZE = 10_000
#: Items taken per poll, at most.
BATCH = 1_000


def function_sink(name: str, fn: Callable[..., Any], chain: Any = None) -> type[SinkConnector]:
    """A sink connector class calling ``fn(records)`` for each batch."""

    class FunctionSinkTask(SinkTask):
        async def put(self, records: Sequence[SinkRecord]) -> None:
            await fn(records)

    attrs = {"task_class": FunctionSinkTask, "chain": chain, "__doc__": fn.__doc__}
    return type(f"{name}_sink", (SinkConnector,), attrs)


def function_source(
    name: str,
    fn: Callable[..., AsyncIterator[Any]],
    topic: str,
    interval: float | None,
    chain: Any = None,
) -> type[SourceConnector]:
    """A source connector class running the async generator ``fn(context)``."""

    class FunctionSourceTask(SourceTask):
        async def start(self) -> None:
            self._queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_SIZE)
            self._runner = asyncio.create_task(self._run())

        async def _run(self) -> None:
            while True:
                async for item in fn(self.context):
                    await self._queue.put(item)
                if interval is None:
                    return
                await asyncio.sleep(interval)

        async def poll(self) -> Sequence[SourceRecord]:
            if self._runner.done() and self._queue.empty():
                self._runner.result()  # a generator that raised fails the task
                return []
            try:
                first = await asyncio.wait_for(self._queue.get(), 0.5)
            except TimeoutError:
                return []
            items = [first]
            while len(items) < BATCH and not self._queue.empty():
                items.append(self._queue.get_nowait())
            return [
                item if isinstance(item, SourceRecord) else SourceRecord(topic=topic, value=item)
                for item in items
            ]

        async def stop(self) -> None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner

    attrs = {"task_class": FunctionSourceTask, "chain": chain, "__doc__": fn.__doc__}
    return type(f"{name}_source", (SourceConnector,), attrs)
