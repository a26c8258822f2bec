"""The worker: a Faust app configured from Kafka Connect's worker settings."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import faust
from aiokafka.admin import NewTopic

from faust_connect.agents.runtime.functions import function_sink, function_source
from faust_connect.app import fetch_pacing
from faust_connect.app.clients import Clients
from faust_connect.app.herder import Herder
from faust_connect.app.runtime import Runtime
from faust_connect.app.settings import WorkerSettings, load_settings, to_text
from faust_connect.app.state.tables import (
    ConfigStore,
    OffsetStore,
    StateTable,
    StatusStore,
    follow,
    preload,
)
from faust_connect.app.web import openapi, rest, schema_registry
from faust_connect.connector import Connector, connectors
from faust_connect.exceptions import WorkerConfigError

__all__ = ["App"]


class App(faust.App):
    """A faust-connect worker.

    Build one in your own module and run it with ``faust -A mymodule worker``::

        import faust_connect

        app = faust_connect.App("my-connect", bootstrap_servers="localhost:9092")

        @app.sink(topics=["orders"])
        async def print_orders(records):
            for record in records:
                print(record.value)

    ``id`` is the ``group.id``: workers with the same id form one Connect cluster. Settings come
    from ``config_file`` (or ``CONNECT_CONFIG_FILE``), then ``CONNECT_*`` environment variables,
    then the keyword arguments here (Kafka Connect's keys with ``_`` for ``.``).

    ``app.connectors`` manages connectors at runtime (create, pause, resume, restart, delete);
    ``app.configs``, ``app.offsets`` and ``app.statuses`` are the state tables.
    ``app.schema_registry`` is the embedded schema registry, served under ``/schema-registry``.
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
        self.clients = Clients(connect)
        fetch_pacing.install()  # a broker answering empty fetches at once must not spin us
        super().__init__(connect.group_id, **faust_options(connect, self.clients))
        self.configs = ConfigStore(self, connect)
        self.offsets = OffsetStore(self, connect)
        self.statuses = StatusStore(self, connect)
        self.schema_registry = schema_registry.EmbeddedSchemaRegistry(self, connect)
        self.runtime = Runtime(self)
        self.connectors = Herder(self)
        self._declared: dict[str, dict[str, str]] = {}
        self._preloaded = False
        self.placement_topic_name = f"{connect.group_id}-tasks"
        placement = self.topic(
            self.placement_topic_name,
            partitions=connect.task_placement_partitions,
            replicas=max(connect.config_storage_replication_factor, 1),
            internal=True,
        )
        # Nothing is sent to the placement topic: subscribing to it makes Faust's consumer group
        # hand its partitions to the workers, and the runtime runs the tasks hashed to them.
        self.agent(placement, name="faust_connect.placement")(_hold_placement)
        _serve_rest_api(self)
        # Faust's signal types want a positional-only sender; ours takes it by name too.
        self.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        self.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]

    # -- connectors in code -----------------------------------------------------------------

    def connector(self, name: str, config: Mapping[str, Any]) -> None:
        """Declare a connector that runs with this app (created at start if it does not exist).

        ``config`` is Kafka Connect's connector config (``connector.class``, ``tasks.max``, ...).
        """
        flat = {str(k): to_text(v) for k, v in config.items()}
        flat["name"] = name
        self._declared[name] = flat

    def sink(
        self,
        *,
        topics: list[str] | None = None,
        topics_regex: str | None = None,
        name: str | None = None,
        transforms: Any = None,
        **config: Any,
    ) -> Callable[[Callable[..., Any]], type[Connector]]:
        """Declare a sink: ``async def f(records)`` gets each batch of SinkRecords.

        ``topics`` or ``topics_regex`` choose what it consumes; other keywords are connector
        config keys with ``_`` for ``.`` (``value_converter="..."``, ``tasks_max=2``);
        ``transforms`` is a Python transform chain applied before the config's transforms.
        """

        def decorator(fn: Callable[..., Any]) -> type[Connector]:
            connector_name = name or fn.__name__
            plugin = function_sink(connector_name, fn, transforms)
            connectors.register(plugin.__name__, plugin)
            keys = _keys(config)
            if topics:
                keys["topics"] = ",".join(topics)
            if topics_regex:
                keys["topics.regex"] = topics_regex
            self.connector(connector_name, {"connector.class": plugin.__name__, **keys})
            return plugin

        return decorator

    def source(
        self,
        *,
        topic: str,
        interval: float | None = None,
        name: str | None = None,
        transforms: Any = None,
        **config: Any,
    ) -> Callable[[Callable[..., AsyncIterator[Any]]], type[Connector]]:
        """Declare a source: an async generator ``f(context)`` whose items go to ``topic``.

        With ``interval`` it is called again every ``interval`` seconds (a timer); without, it
        is called once and may run forever (a task). Items may be SourceRecords (for keys,
        headers and source offsets) or plain values.
        """

        def decorator(fn: Callable[..., AsyncIterator[Any]]) -> type[Connector]:
            connector_name = name or fn.__name__
            plugin = function_source(connector_name, fn, topic, interval, transforms)
            connectors.register(plugin.__name__, plugin)
            self.connector(connector_name, {"connector.class": plugin.__name__, **_keys(config)})
            return plugin

        return decorator

    # -- lifecycle --------------------------------------------------------------------------

    async def on_start(self) -> None:
        """Before Faust's consumer starts: load the state tables in bulk (see ``preload``)."""
        await super().on_start()
        # A client-only or producer-only app (``faust send`` and the like) has no tables to read.
        if not self._preloaded and not (self.client_only or self.producer_only):
            self._preloaded = True
            tables = [t for t in self.tables.values() if isinstance(t, StateTable)]
            started = time.monotonic()
            try:
                await self.clients.check()
            except WorkerConfigError as exc:
                # One line per bad setting and out, as a bad setting found before the start.
                print("\n".join(exc.lines()), file=sys.stderr, flush=True)
                raise SystemExit(2) from None
            await self.clients.create_topics(self._internal_topics(tables))
            count = await preload(tables, self.clients, read_committed=self.in_transaction)
            self.log.info("loaded %d state records in %.2fs", count, time.monotonic() - started)

    async def on_started(self) -> None:
        """After table recovery: create declared connectors, then start the runtime."""
        await super().on_started()
        await self._learn_state_topics()
        tables = [t for t in self.tables.values() if isinstance(t, StateTable)]
        self.add_future(follow(tables, self.clients))
        for name, config in self._declared.items():
            current = self.configs.get(name)
            if current is None:
                await self.connectors.create(name, config)
            elif current.config != config:
                await self.connectors.put_config(name, config)
        self.runtime.start()

    def _internal_topics(self, tables: list[StateTable]) -> list[NewTopic]:
        # Created before Faust's consumer subscribes to them (see Clients.create_topics).
        replicas = self.conf.topic_replication_factor
        compact = {"cleanup.policy": "compact"}
        leader = f"{self.conf.id}-__assignor-__leader"
        return [
            *(
                NewTopic(
                    t.state_topic,
                    t.partitions,
                    t.changelog_topic.replicas or replicas,
                    topic_configs=compact,
                )
                for t in tables
            ),
            NewTopic(
                self.placement_topic_name, self.connect_settings.task_placement_partitions, replicas
            ),
            NewTopic(leader, 1, replicas),
        ]

    async def _learn_state_topics(self) -> None:
        # Faust partitions a table write by its producer's metadata, which holds only the topics
        # that producer asked about; Kafka answers a metadata request for the topics it names,
        # so the state topics are asked about once before anything writes to them.
        producer = self.producer._ensure_producer()  # type: ignore[attr-defined]  # aiokafka driver
        for table in self.tables.values():
            if isinstance(table, StateTable):
                await producer.partitions_for(table.state_topic)

    async def on_stop(self) -> None:
        """Stop tasks first (they commit offsets through the producer), then Faust."""
        await self.runtime.stop()
        await super().on_stop()

    async def _on_revoked(self, sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        # Called for every rebalance, with no placement partition too: until the next
        # assignment this worker holds none (the consumer still reports the old ones).
        mine = {tp.partition for tp in revoked if tp.topic == self.placement_topic_name}
        await self.runtime.on_revoked(mine)

    async def _on_assigned(self, sender: Any, assigned: set[Any], **kwargs: Any) -> None:
        # ``assigned`` is the whole new assignment; the listener has set its generation.
        mine = {tp.partition for tp in assigned if tp.topic == self.placement_topic_name}
        self.runtime.on_assigned(mine, int(self.consumer_generation_id))


def _serve_rest_api(app: App) -> None:
    # Kafka Connect's REST API owns "/": Faust's production index (which also answers "/")
    # is left out; its other pages (/router, /table) stay.
    manager = app.web.blueprints
    manager._enabled = [
        (prefix, bp) for prefix, bp in manager._enabled if "production_index" not in str(bp)
    ]
    manager.add("", rest.blueprint)
    manager.add(schema_registry.PREFIX, schema_registry.blueprint)
    manager.add("", openapi.blueprint)
    # the dashboard (/ui), /metrics and /metrics.json; optional authentication of everything
    from faust_connect.app.web import dashboard, prometheus
    from faust_connect.app.web.auth import auth_options, install_auth

    manager.add("", prometheus.blueprint)
    manager.add("", dashboard.blueprint)
    web_app = app.web.web_app  # type: ignore[attr-defined]  # Faust's aiohttp driver
    web_app.middlewares.append(rest.error_bodies)  # outermost: wraps auth's answers too
    install_auth(app, **auth_options(app.connect_settings))  # no-op without users or tokens


async def _hold_placement(stream: Any) -> None:
    async for _ in stream:  # never sent to; the subscription is what matters
        pass


def _keys(config: Mapping[str, Any]) -> dict[str, str]:
    return {key.replace("_", "."): to_text(value) for key, value in config.items()}


def faust_options(settings: WorkerSettings, clients: Clients) -> dict[str, Any]:
    """Faust's settings for a worker with these Connect settings."""
    return {
        "broker": [f"kafka://{server}" for server in settings.servers],
        "broker_credentials": clients.faust_credentials(),
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
    }
