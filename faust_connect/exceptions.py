"""The errors faust-connect raises.

::

    ConnectError                      root; ``retriable`` and ``http_status`` are class attributes
    ├── ConfigError (ValueError)      a bad connector, plugin or worker config; ``issues`` per key
    │   └── WorkerConfigError         a bad worker setting, found at start
    ├── PluginNotFound (LookupError)  no plugin of that name; names the valid ones
    ├── DataError                     a record that cannot be converted or transformed
    │   ├── ConversionError           a converter failed (stage KEY/VALUE/HEADER_CONVERTER)
    │   └── TransformError            a transform or predicate failed (stage TRANSFORMATION)
    ├── RetriableError                try the same work again later (``retry_after`` seconds)
    ├── BadRequest (ValueError)       a request that cannot be carried out as asked (HTTP 400)
    ├── Forbidden                     a request the settings do not allow (HTTP 403)
    ├── NotFound (LookupError)        an unknown connector or task (HTTP 404)
    └── Conflict                      the request clashes with the current state (HTTP 409)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

__all__ = [
    "BadRequest",
    "ConfigError",
    "ConfigIssue",
    "Conflict",
    "ConnectError",
    "ConversionError",
    "DataError",
    "Forbidden",
    "NotFound",
    "PluginNotFound",
    "RetriableError",
    "TransformError",
    "WorkerConfigError",
]


class ConfigIssue(NamedTuple):
    """One problem with one config key."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConnectError(Exception):
    """Root of every faust-connect error."""

    #: Whether doing the same work again may succeed.
    retriable: bool = False
    #: The HTTP status the REST API answers with.
    http_status: int = 500


class ConfigError(ConnectError, ValueError):
    """A config that cannot run; ``issues`` holds one entry per bad key."""

    http_status = 400

    def __init__(self, issues: Iterable[ConfigIssue], what: str = "configuration") -> None:
        self.issues = list(issues)
        lines = "\n".join(str(issue) for issue in self.issues)
        super().__init__(f"invalid {what}: {len(self.issues)} error(s)\n{lines}")


class WorkerConfigError(ConfigError):
    """A bad worker setting, found before the worker starts."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        super().__init__(issues, "worker settings")

    def lines(self) -> list[str]:
        """One line per bad key, as printed at start."""
        return [f"faust-connect: worker setting {i.key!r}: {i.message}" for i in self.issues]


class PluginNotFound(ConnectError, LookupError):
    """No plugin is registered under that name."""

    http_status = 404


class DataError(ConnectError):
    """A record that cannot be converted or transformed."""


class ConversionError(DataError):
    """A converter could not turn a record into bytes or back."""


class TransformError(DataError):
    """A transform or predicate failed on a record."""


class RetriableError(ConnectError):
    """A temporary failure: the runtime retries the same work after ``retry_after`` seconds."""

    retriable = True

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BadRequest(ConnectError, ValueError):
    """A request that cannot be carried out as asked."""

    http_status = 400


class Forbidden(ConnectError):
    """A request the worker's settings do not allow."""

    http_status = 403


class NotFound(ConnectError, LookupError):
    """An unknown connector, task or plugin."""

    http_status = 404


class Conflict(ConnectError):
    """The request clashes with the current state (a name in use, a rebalance)."""

    http_status = 409
