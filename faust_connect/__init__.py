"""faust-connect: Kafka Connect, rebuilt in Python on Faust."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust_connect.exceptions import (
    ConfigError,
    ConfigIssue,
    Conflict,
    ConnectError,
    ConversionError,
    DataError,
    NotFound,
    PluginNotFound,
    RetriableError,
    TransformError,
    WorkerConfigError,
)

if TYPE_CHECKING:
    from faust_connect.app.base import App
    from faust_connect.app.settings import WorkerSettings

__version__ = "0.1.0"

__all__ = [
    "App",
    "ConfigError",
    "ConfigIssue",
    "Conflict",
    "ConnectError",
    "ConversionError",
    "DataError",
    "NotFound",
    "PluginNotFound",
    "RetriableError",
    "TransformError",
    "WorkerConfigError",
    "WorkerSettings",
]


def __getattr__(name: str) -> Any:
    # The worker (Faust, aiokafka) loads only when asked for: a connector author's
    # ``import faust_connect.records`` stays light.
    if name == "App":
        from faust_connect.app.base import App

        return App
    if name == "WorkerSettings":
        from faust_connect.app.settings import WorkerSettings

        return WorkerSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
