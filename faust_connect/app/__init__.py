"""The worker app, its settings, state tables, REST API and web views.

``faust -A faust_connect.app worker`` runs the default worker, configured entirely from
``CONNECT_*`` environment variables and ``CONNECT_CONFIG_FILE``. Only help
(``faust -A faust_connect.app --help``, ``... worker --help``) works without them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import faust

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


def _asks_for_help(argv: Sequence[str]) -> bool:
    """Whether the ``faust`` command line only shows help (``--help``, or no command at all)."""
    cli = sys.modules.get("faust.cli.faust")
    if cli is None:  # not the faust command: building the app is what was asked for
        return False
    args = argv[1:]
    commands = getattr(getattr(cli, "cli", None), "commands", {})
    return "--help" in args or not any(arg in commands for arg in args)


def _help_app() -> faust.App:
    # Faust's help imports the app only for the commands it may add; ours adds none, so a bare
    # app (no settings read, nothing connected) shows the same help.
    return faust.App("faust-connect", autodiscover=False)


def __getattr__(name: str) -> Any:
    # `faust -A faust_connect.app` looks up `.app`; build it only then, so that importing the
    # package (its settings, tables, views) configures nothing.
    if name == "app":
        if _default is None and _asks_for_help(sys.argv):
            return _help_app()  # help needs no settings (they may well be missing)
        return default_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
