"""What the worker's parts use of the app that wires them, as protocols (:class:`~.base.App` has all).

The herder, the runtime, the leader election and the dashboard each take the app typed by the
narrowest protocol here that covers what they use, so none of them imports the App (which
imports them): imports flow one way, from ``base`` to its parts.
"""

from __future__ import annotations

from typing import Any, Protocol

from faust_connect.app.clients import Clients
from faust_connect.app.settings import WorkerSettings
from faust_connect.app.state.tables import ConfigStore, OffsetStore, StatusStore
from faust_connect.app.web.schema_registry import EmbeddedSchemaRegistry

__all__ = ["RuntimeView", "Worker"]


class RuntimeView(Protocol):
    """The part of the runtime that other parts call."""

    def wake(self) -> None:
        """Reconcile soon: something that decides what runs has changed."""

    def task_metrics(self) -> list[dict[str, Any]]:
        """Counters and gauges of every task running on this worker."""


class Worker(Protocol):
    """The app as its parts see it: settings, clients, state stores and Faust's own services."""

    @property
    def connect_settings(self) -> WorkerSettings:
        """The worker's settings."""

    @property
    def clients(self) -> Clients:
        """The worker's Kafka clients."""

    @property
    def configs(self) -> ConfigStore:
        """Connector configs and target states."""

    @property
    def offsets(self) -> OffsetStore:
        """Source offsets."""

    @property
    def statuses(self) -> StatusStore:
        """Connector and task statuses."""

    @property
    def schema_registry(self) -> EmbeddedSchemaRegistry:
        """The embedded schema registry."""

    @property
    def runtime(self) -> RuntimeView:
        """The runtime running this worker's share of the tasks."""

    @property
    def placement_topic_name(self) -> str:
        """``<group.id>-tasks``."""

    @property
    def producer(self) -> Any:
        """Faust's producer."""

    @property
    def consumer(self) -> Any:
        """Faust's consumer."""

    def is_leader(self) -> bool:
        """Whether this worker is the group's leader (Faust's leader assignor)."""

    def channel(self, *args: Any, **kwargs: Any) -> Any:
        """A Faust channel (sink agents read their batches from one)."""

    def agent(self, *args: Any, **kwargs: Any) -> Any:
        """Faust's agent decorator."""
