"""What runners need from the worker, as a protocol (the app implements it; agents don't import app)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from faust_connect.codecs import SchemaRegistryClient

__all__ = ["KafkaClients", "Services"]


class KafkaClients(Protocol):
    """Makes a task's Kafka clients (``faust_connect.app.clients.Clients``)."""

    def options(self, kind: Any, config: Mapping[str, str] | None = None) -> dict[str, Any]:
        """aiokafka options of a ``producer``/``consumer``/``admin`` client for ``config``."""

    def producer(self, config: Mapping[str, str] | None = None, **extra: Any) -> AIOKafkaProducer:
        """A producer with the worker's settings and ``config``'s ``producer.override.*``."""

    def consumer(
        self, *topics: str, config: Mapping[str, str] | None = None, **extra: Any
    ) -> AIOKafkaConsumer:
        """A consumer with the worker's settings and ``config``'s ``consumer.override.*``."""


class Services(Protocol):
    """The worker's services a runner may use."""

    #: The worker's Kafka clients (its settings and a connector's allowed overrides applied).
    clients: KafkaClients
    #: The worker's id, shown in statuses.
    worker_id: str
    #: Worker-level converter classes and options (``key.converter``, ``value.converter.*`` ...).
    converter_defaults: Mapping[str, str]
    #: How often source offsets and sink positions are committed.
    offset_flush_interval: float
    #: The Faust app (channels and agents for sinks).
    app: Any
    logger: logging.Logger

    def stored_offset(self, connector: str, partition: Mapping[str, Any]) -> dict[str, Any] | None:
        """A source partition's committed offset."""

    async def commit_offsets(
        self, connector: str, offsets: Mapping[bytes, Mapping[str, Any]]
    ) -> None:
        """Store source offsets (keys from ``offset_key``)."""

    def report(
        self, connector: str, task: int | None, state: str, trace: str, generation: int
    ) -> None:
        """Record a task's (or the connector's, task None) status."""

    async def topic_partitions(
        self, topics: Sequence[str], pattern: re.Pattern[str] | None
    ) -> list[TopicPartition]:
        """Every partition of ``topics`` (or of the topics matching ``pattern``), sorted."""

    def registry_client(self, url: str) -> SchemaRegistryClient | None:
        """The worker's own embedded registry when ``url`` names it; None for other registries."""

    def track_topic(self, connector: str, task: int, topic: str) -> None:
        """Record that a connector uses ``topic`` (``GET /connectors/{name}/topics``)."""

    async def ensure_topic(self, topic: str, config: Mapping[str, str]) -> None:
        """Create ``topic`` if it does not exist (source topic creation, DLQ topics)."""

    def transactional_id(self, connector: str, task: int) -> str:
        """An exactly-once source task's transactional id (``<group.id>-<connector>-<task>``)."""

    async def offsets_topic(self, connector: str, name: str) -> str:
        """An exactly-once connector's own offsets topic (``name``, or ``<offsets
        topic>-<connector>`` when empty), created compacted if missing."""
