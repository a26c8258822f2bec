"""The worker: a Faust app configured from Kafka Connect's worker settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import faust

from faust_connect.app.settings import WorkerSettings, load_settings

__all__ = ["App"]


class App(faust.App):
    """A faust-connect worker.

    Build one in your own module and run it with ``faust -A mymodule worker``::

        import faust_connect

        app = faust_connect.App("my-connect", bootstrap_servers="localhost:9092")

    ``id`` is the ``group.id``: workers with the same id form one Connect cluster. Settings come
    from ``config_file`` (or ``CONNECT_CONFIG_FILE``), then ``CONNECT_*`` environment variables,
    then the keyword arguments here (Kafka Connect's keys with ``_`` for ``.``).
    """

    connect_settings: WorkerSettings

    def __init__(
        self,
        id: str | None = None,
        *,
        config_file: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
        **settings: Any,
    ) -> None:
        if id is not None:
            settings["group.id"] = id
        connect = load_settings(settings, config_file=config_file, environ=environ)
        self.connect_settings = connect
        super().__init__(connect.group_id, **faust_options(connect))


def faust_options(settings: WorkerSettings) -> dict[str, Any]:
    """Faust's settings for a worker with these Connect settings."""
    return {
        "broker": [f"kafka://{server}" for server in settings.servers],
        "broker_session_timeout": settings.session_timeout_ms / 1000,
        "broker_heartbeat_interval": settings.heartbeat_interval_ms / 1000,
        "broker_rebalance_timeout": settings.rebalance_timeout_ms / 1000,
        "store": "memory://",
        "web_bind": settings.web_bind,
        "web_host": settings.web_host,
        "web_port": settings.web_port,
        "topic_replication_factor": max(settings.config_storage_replication_factor, 1),
        "producer_acks": -1,
        "consumer_auto_offset_reset": "earliest",
        "stream_wait_empty": False,
        "broker_credentials": None,
    }
