"""faust-connect: Kafka Connect, rebuilt in Python on Faust."""

from __future__ import annotations

from faust_connect.app.base import App
from faust_connect.app.settings import WorkerSettings
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
