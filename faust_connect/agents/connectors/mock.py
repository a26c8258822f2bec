"""Kafka's mock connectors: a connector or a task that fails on purpose, after a delay.

The same connectors Kafka's system tests restart failed connectors and tasks with
(``org.apache.kafka.connect.tools.MockSourceConnector`` / ``MockSinkConnector``), with their
config keys: ``mock_mode`` is ``connector-failure`` (the connector fails ``delay_ms`` after it
starts) or ``task-failure`` (its one task does); anything else runs quietly and moves nothing.
A user can check alerting and restarts of a deployment the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import Field

from faust_connect.config import PluginConfig
from faust_connect.connector import (
    Connector,
    SinkConnector,
    SinkTask,
    SourceConnector,
    SourceTask,
    TopicPartition,
)
from faust_connect.records import SinkRecord, SourceRecord

__all__ = ["MockSinkConnector", "MockSourceConnector"]


class MockConfig(PluginConfig):
    mock_mode: Literal["connector-failure", "task-failure", ""] = Field(
        "", description="connector-failure or task-failure: what fails, delay_ms after start."
    )
    delay_ms: int = Field(15000, ge=0, description="How long after its start it fails.")


class _Failing:
    """Fails ``delay_ms`` after :meth:`arm` when ``mock_mode`` is ``mode``."""

    mode: str
    settings: MockConfig
    due: float | None = None

    def arm(self, settings: MockConfig) -> None:
        if settings.mock_mode == self.mode:
            self.due = time.monotonic() + settings.delay_ms / 1000

    def check(self) -> None:
        if self.due is not None and time.monotonic() >= self.due:
            raise RuntimeError(f"{self.mode} on purpose (mock_mode), as configured")


class _MockConnector(Connector):
    Config = MockConfig
    config: MockConfig
    _timer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.config.mock_mode == "connector-failure":
            self._timer = asyncio.create_task(self._fail_later(self.config.delay_ms / 1000))

    async def _fail_later(self, delay: float) -> None:
        await asyncio.sleep(delay)  # the configured delay itself
        self.context.raise_error(RuntimeError("connector-failure on purpose (mock_mode)"))

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """One task, with the connector's config (as Kafka's)."""
        return [dict(self.raw)]


class MockSourceTask(_Failing, SourceTask):
    """Polls nothing; with ``task-failure``, raises once ``delay_ms`` have passed."""

    Config = MockConfig
    settings: MockConfig
    mode = "task-failure"

    async def start(self) -> None:
        self.arm(self.settings)

    async def poll(self) -> Sequence[SourceRecord]:
        self.check()
        await asyncio.sleep(0.1)  # nothing to poll: a pause, as a quiet source has
        return []


class MockSinkTask(_Failing, SinkTask):
    """Drops what it is given; with ``task-failure``, raises in put or flush once ``delay_ms``
    have passed."""

    Config = MockConfig
    settings: MockConfig
    mode = "task-failure"

    async def start(self) -> None:
        self.arm(self.settings)

    async def put(self, records: Sequence[SinkRecord]) -> None:
        self.check()

    async def flush(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.check()


class MockSourceConnector(_MockConnector, SourceConnector):
    """A source whose connector or task fails on purpose."""

    task_class = MockSourceTask


class MockSinkConnector(_MockConnector, SinkConnector):
    """A sink whose connector or task fails on purpose."""

    task_class = MockSinkTask
