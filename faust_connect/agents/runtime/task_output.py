"""``print()`` inside a task goes to that task's logger, at INFO, named by the task.

A worker's stdout is Faust's logging proxy, which logs every printed line as a WARNING without
saying who printed it. While a runner runs its task, the task's logger is the current one (a
context variable, so every coroutine and ``asyncio.to_thread`` call the task starts inherits
it); :class:`TaskStdout`, installed over ``sys.stdout`` once, sends what such code prints
there, a line at a time, and everything else to the stdout it replaced.
"""

from __future__ import annotations

import contextvars
import io
import logging
import sys
from typing import TextIO

__all__ = ["TaskStdout", "install", "task_logger"]

_PREFIX = "faust_connect.task."  # a task's logger is <_PREFIX><connector>.<task id>

#: The logger of the task whose code is running (None outside a task).
task_logger: contextvars.ContextVar[logging.Logger | None] = contextvars.ContextVar(
    "faust_connect_task_logger", default=None
)


class TaskStdout(io.TextIOBase):
    """A stdout that logs a task's printed lines to the task's logger."""

    def __init__(self, fallback: TextIO) -> None:
        self.fallback = fallback
        self._partial: dict[str, str] = {}  # a logger's unfinished line

    def write(self, text: str) -> int:
        logger = task_logger.get()
        if logger is None:
            return self.fallback.write(text)
        pending = self._partial.pop(logger.name, "") + text
        *lines, rest = pending.split("\n")
        if lines:
            label = "-".join(logger.name.removeprefix(_PREFIX).rsplit(".", 1))
            for line in lines:
                logger.info("%s: %s", label, line.rstrip("\r"))
        if rest:
            self._partial[logger.name] = rest
        return len(text)

    def flush(self) -> None:
        self.fallback.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]  # TextIOBase declares it read-only
        return getattr(self.fallback, "encoding", "utf-8")


def install() -> None:
    """Put a :class:`TaskStdout` over ``sys.stdout`` (once)."""
    if not isinstance(sys.stdout, TaskStdout):
        sys.stdout = TaskStdout(sys.stdout)
