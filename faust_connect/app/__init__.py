"""The worker app, its settings, state tables, REST API and web views.

``faust -A faust_connect.app worker`` runs the default worker, configured entirely from
``CONNECT_*`` environment variables and ``CONNECT_CONFIG_FILE``.
"""

from __future__ import annotations

import sys
from typing import Any

from faust_connect.app.base import App
from faust_connect.app.settings import WorkerSettings, load_settings
from faust_connect.exceptions import WorkerConfigError

__all__ = ["App", "WorkerSettings", "default_app", "load_settings"]

_default: App | None = None


def default_app() -> App:
    """The worker configured from the environment; a bad setting exits with one line per key."""
    global _default
    if _default is None:
        try:
            _default = App()
        except WorkerConfigError as exc:
            print("\n".join(exc.lines()), file=sys.stderr)
            raise SystemExit(2) from None
    return _default


def __getattr__(name: str) -> Any:
    # `faust -A faust_connect.app` looks up `.app`; build it only then, so that importing the
    # package (its settings, tables, views) configures nothing.
    if name == "app":
        return default_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
