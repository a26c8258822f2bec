"""The runtime: which tasks this worker runs, started, paused, restarted and stopped to match state.

Placement is by partitions. The worker app consumes a placement topic (``<group.id>-tasks``) with
one Faust agent, so Faust's consumer group spreads its partitions over the live workers. Each
connector and each of its tasks hashes to one partition; the worker holding that partition runs
it. When workers join or leave, Faust revokes partitions first (this worker stops those tasks,
committing what is done) and assigns them after, so a task never runs on two live workers at once.

What this worker holds is what the rebalance callbacks said, not the consumer's assignment: the
consumer keeps reporting the old assignment while it rejoins, and a task started from it would
run next to its new owner. A revoked worker starts nothing until it is assigned again. A worker
whose event loop stood still for longer than the group allows (SIGSTOP, a paused VM) may have
been dropped from the group without being told yet; it stops its tasks at once, writes no status
(the new owner's is the truth) and starts again on its next assignment, or after a session
timeout without a rebalance (it was not dropped after all).

Statuses carry the group generation of the assignment the unit was started under (Kafka
Connect's ``generation``); the status table drops a late write from an older generation
(:class:`~faust_connect.app.state.tables.StatusTable`), and the owner writes its status again
when it saw a stale record dropped, so the log's last record is the owner's too.

A reconcile loop compares what should run here (the config table and the assignment) with what
runs, and starts, stops, restarts, pauses or resumes runners to match. Every worker sees every
config change through the config table's changelog, so changes made on any worker take effect
everywhere without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import traceback
import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from aiokafka.admin import NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.structs import TopicPartition

from faust_connect.agents.runtime.connector_runner import ConnectorRunner
from faust_connect.agents.runtime.runner import TaskRunner
from faust_connect.agents.runtime.sink import SinkRunner
from faust_connect.agents.runtime.source import (
    ExactlyOnceSourceRunner,
    SourceRunner,
    transactional_id,
)
from faust_connect.app.state.tables import ConnectorState, TaskStatus
from faust_connect.app.web.leader import publish_leader
from faust_connect.codecs import SchemaRegistryClient
from faust_connect.connector import Connector, SinkConnector, SourceConnector, connectors
from faust_connect.exceptions import PluginNotFound

if TYPE_CHECKING:
    from faust_connect.app.worker import Worker

__all__ = ["Runtime", "placement_partition"]

logger = logging.getLogger(__name__)

#: How often the reconcile loop looks at the tables, at most.
RECONCILE_SECONDS = 0.2
#: How often the stall watch looks at the clock.
WATCH_SECONDS = 0.25
#: After an assignment, when the statuses of the units run here are written once more.
RESTATE_SECONDS = 5.0

#: Status-topic keys of the workers' connector lists (``<prefix><worker id>``).
PLUGINS_KEY_PREFIX = b"status-worker-plugins-"
UnitKey = tuple[str, int]  # (connector, task id)


def placement_partition(connector: str, task: int | None, partitions: int) -> int:
    """The placement partition of a connector (``task`` None) or one of its tasks."""
    base = zlib.crc32(connector.encode())
    return (base + (0 if task is None else task + 1)) % partitions


class Runtime:
    """Runs this worker's share of connectors and tasks; implements the runners' Services."""

    def __init__(self, app: Worker) -> None:
        self.app = app
        settings = app.connect_settings
        self.settings = settings
        self.clients = app.clients
        self.worker_id = settings.worker_id
        self.offset_flush_interval = settings.offset_flush_interval_ms / 1000
        self.converter_defaults = settings.converter_defaults()
        self.logger = logger
        self.runners: dict[UnitKey, TaskRunner] = {}
        #: Runners asked to stop that have not finished yet (they still run: metrics show them).
        self._stopping: dict[UnitKey, TaskRunner] = {}
        self._generations: dict[UnitKey, tuple[int, int, int]] = {}
        #: The group generation each unit here was started under (its statuses carry it).
        self._unit_generation: dict[tuple[str, int | None], int] = {}
        #: ``time.monotonic()`` of the last assignment (a stall it ended is no reason to fence).
        self._assigned_at = 0.0
        #: The placement partitions the last assignment gave and no revocation took back.
        self._owned: set[int] = set()
        #: The group generation of the assignment this worker holds; None between a
        #: revocation and the next assignment.
        self._group_generation: int | None = None
        #: Set when the event loop stood still too long: nothing runs or reports until the next
        #: assignment, or until this monotonic time passes without a rebalance.
        self._fenced_until: float | None = None
        self._watch_task: asyncio.Task[None] | None = None
        #: ``time.monotonic()`` after which this assignment's statuses are written once more.
        self._restate_at: float | None = None
        #: The connectors placed here (their statuses are this worker's to write) ...
        self._connector_units: set[str] = set()
        #: ... and their instances, except the STOPPED ones'.
        self._instances: dict[str, ConnectorRunner] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._loop_task: asyncio.Task[None] | None = None
        self._client: AIOKafkaClient | None = None
        self._client_lock = asyncio.Lock()
        self._topics_seen: set[str] = set()

    # -- Services for runners ---------------------------------------------------------------

    def stored_offset(self, connector: str, partition: Mapping[str, Any]) -> dict[str, Any] | None:
        """A source partition's committed offset."""
        return self.app.offsets.get(connector, partition)

    async def commit_offsets(
        self, connector: str, offsets: Mapping[bytes, Mapping[str, Any]]
    ) -> None:
        """Store source offsets; returns once the offsets topic has acknowledged them."""
        self.app.offsets.put(connector, offsets)
        await self.app.producer.flush()

    def report(
        self, connector: str, task: int | None, state: str, trace: str, generation: int
    ) -> None:
        """Record a status in the status table, stamped with the unit's group generation.

        ``generation`` (the runner's config generation) is not what the status carries: Kafka
        Connect's status generation is the writer's group generation. Nothing is written for a
        unit that is not (or no longer) run here, nor while this worker is fenced; "stopped"
        (UNASSIGNED) is written only if no newer owner has written (Kafka's ``putSafe``).
        """
        if self._fenced_until is not None:
            return
        group = self._unit_generation.get((connector, task))
        if group is None:
            return
        status = TaskStatus(state, self.worker_id, trace, group)  # type: ignore[arg-type]
        if state == "UNASSIGNED":
            self.app.statuses.put_safe(connector, task, status)
        else:
            self.app.statuses.put(connector, task, status)

    def track_topic(self, connector: str, task: int, topic: str) -> None:
        """Record that a connector uses ``topic``, if ``topic.tracking.enable``."""
        if self.settings.topic_tracking_enable:
            self.app.statuses.track_topic(connector, task, topic)

    def registry_client(self, url: str) -> SchemaRegistryClient | None:
        """The in-process registry when ``url`` is this worker's embedded one, else None.

        With None the converter builds its own (cached) HTTP client from its options. The
        embedded one is used in process: an HTTP call to ourselves would block the event loop
        that has to answer it.
        """
        from faust_connect.app.web.schema_registry import is_embedded_url

        if is_embedded_url(url, self.settings):
            registry: SchemaRegistryClient = self.app.schema_registry
            return registry
        return None

    async def _metadata(self) -> AIOKafkaClient:
        async with self._client_lock:
            if self._client is None:
                client = self.clients.metadata()
                await client.bootstrap()
                self._client = client
            return self._client

    async def topic_partitions(
        self, topics: Sequence[str], pattern: re.Pattern[str] | None
    ) -> list[TopicPartition]:
        """Every partition of ``topics`` (or the topics matching ``pattern``), freshly looked up."""
        cluster = await (await self._metadata()).fetch_all_metadata()
        names = (
            [t for t in cluster.topics() if pattern.fullmatch(t)] if pattern is not None else topics
        )
        return sorted(
            TopicPartition(topic, p)
            for topic in names
            for p in cluster.partitions_for_topic(topic) or ()
        )

    async def ensure_topic(self, topic: str, config: Mapping[str, str]) -> None:
        """Create a topic a source writes to, if topic creation is on and it does not exist."""
        if topic in self._topics_seen or not self.settings.topic_creation_enable:
            return
        partitions = int(config.get("topic.creation.default.partitions", "1") or "1")
        replicas = int(config.get("topic.creation.default.replication.factor", "-1") or "-1")
        await self.clients.create_topics(
            [NewTopic(topic, max(partitions, 1), replicas if replicas > 0 else 1)], timeout=30.0
        )
        self._topics_seen.add(topic)

    def _publish_plugins(self) -> None:
        # Which connector classes this worker has (names and aliases), in the status topic as
        # the leader's URL is: a task placed on a worker without its class can name the others.
        names = sorted(
            {
                *connectors.names(),
                *(a for n in connectors.names() for a in connectors.aliases_of(n)),
            }
        )
        key = PLUGINS_KEY_PREFIX + self.worker_id.encode()
        value = orjson.dumps({"worker_id": self.worker_id, "connectors": names})
        if self.app.statuses.table.get(key) != value:
            self.app.statuses.table[key] = value

    def _missing_plugin(self, cls: str) -> str:
        """The first line of the trace of a task whose class this worker lacks."""
        having = []
        for key, value in list(self.app.statuses.table.items()):
            if key.startswith(PLUGINS_KEY_PREFIX) and value is not None:
                doc = orjson.loads(value)
                if cls in doc.get("connectors", ()) and doc.get("worker_id") != self.worker_id:
                    having.append(str(doc.get("worker_id")))
        where = ", ".join(sorted(having)) if having else "no other worker of this group either"
        return (
            f"worker {self.worker_id} has no connector {cls!r}; workers that have it: {where}. "
            f"Start every worker of group {self.settings.group_id!r} with the code that defines "
            "it, or give the worker that has it a group of its own.\n"
        )

    def transactional_id(self, connector: str, task: int) -> str:
        """An exactly-once source task's transactional id (Kafka Connect's form)."""
        return transactional_id(self.settings.group_id, connector, task)

    async def offsets_topic(self, connector: str, name: str) -> str:
        """An exactly-once connector's own offsets topic, created compacted if missing."""
        topic = name or f"{self.settings.topic('offset')}-{connector}"
        if topic not in self._topics_seen:
            settings = self.settings
            await self.clients.create_topics(
                [
                    NewTopic(
                        topic,
                        settings.offset_storage_partitions,
                        max(settings.offset_storage_replication_factor, 1),
                        topic_configs={"cleanup.policy": "compact"},
                    )
                ],
                timeout=30.0,
            )
            self._topics_seen.add(topic)
        return topic

    def task_metrics(self) -> list[dict[str, Any]]:
        """Counters and gauges of every task running on this worker (stopping ones included)."""
        return [
            runner.metrics.snapshot()
            for runner in (*self.runners.values(), *self._stopping.values())
            if isinstance(runner, TaskRunner)
        ]

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the reconcile loop (after table recovery)."""
        self._publish_plugins()
        self._loop_task = asyncio.create_task(self._reconcile_loop(), name="connect-runtime")
        self._watch_task = asyncio.create_task(self._watch_stalls(), name="connect-stall-watch")

    @property
    def started(self) -> bool:
        """Whether the reconcile loop runs (the worker has recovered its state)."""
        return self._loop_task is not None and not self._loop_task.done()

    def wake(self) -> None:
        """Reconcile soon (after a config change or a rebalance)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop every runner (committing what is done) and the loop."""
        for task in (self._loop_task, self._watch_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._loop_task = self._watch_task = None
        async with self._lock:
            await self._stop_units(list(self.runners), final=False)
            await self._stop_connectors(list(self._instances))
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def on_revoked(self, partitions: set[int]) -> None:
        """Placement partitions were taken away: stop their tasks before anyone else starts them.

        From here until :meth:`on_assigned` this worker holds no assignment: it starts nothing.
        """
        self._owned -= partitions
        self._group_generation = None
        async with self._lock:
            keys = [
                key
                for key in self.runners
                if placement_partition(key[0], key[1], self._partitions) in partitions
            ]
            await self._stop_units(keys, final=False)
            await self._stop_connectors(
                [
                    name
                    for name in self._connector_units
                    if placement_partition(name, None, self._partitions) in partitions
                ]
            )
        self.wake()

    def on_assigned(self, partitions: set[int], generation: int) -> None:
        """A rebalance gave this worker ``partitions`` (all it holds now) in ``generation``."""
        self._owned = set(partitions)
        self._group_generation = generation
        self.app.statuses.group_generation = generation
        self._fenced_until = None
        self._assigned_at = time.monotonic()
        self._restate_at = self._assigned_at + RESTATE_SECONDS
        self.wake()

    async def _watch_stalls(self) -> None:
        # Heartbeats run on the consumer's thread, so only a stall of the whole process (SIGSTOP,
        # a paused VM) can cost this worker its membership; the loop's clock sees that too.
        settings = self.settings
        limit = (settings.session_timeout_ms - settings.heartbeat_interval_ms) / 1000
        last = time.monotonic()
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            now = time.monotonic()
            stalled, before, last = now - last - WATCH_SECONDS, last, now
            if stalled > limit and self._assigned_at < before:
                logger.warning(
                    "the worker stood still for %.1fs (the group allows %.1fs): stopping its "
                    "tasks until it is assigned again",
                    stalled,
                    settings.session_timeout_ms / 1000,
                )
                await self._fence(now + settings.session_timeout_ms / 1000)

    async def _fence(self, until: float) -> None:
        self._fenced_until = until
        for runner in self.runners.values():
            runner.halt()  # at once: nothing more is sent or put while the stop is under way
        async with self._lock:
            await self._stop_units(list(self.runners), final=False)
            await self._stop_connectors(list(self._connector_units | set(self._instances)))

    @property
    def _partitions(self) -> int:
        return self.settings.task_placement_partitions

    def owned_partitions(self) -> set[int]:
        """The placement partitions this worker holds now (none while fenced or rejoining)."""
        if self._fenced_until is not None:
            if time.monotonic() < self._fenced_until:
                return set()
            logger.info("no rebalance followed the stall: this worker kept its assignment")
            self._fenced_until = None
        if self._group_generation is None:
            return set()
        return set(self._owned)

    async def _reconcile_loop(self) -> None:
        while True:
            try:
                async with self._lock:
                    await self.reconcile()
            except Exception:
                logger.exception("reconcile failed; trying again")
            try:
                await asyncio.wait_for(self._wake.wait(), RECONCILE_SECONDS)
            except TimeoutError:
                pass
            self._wake.clear()

    async def reconcile(self) -> None:
        """Make the runners here match the config table and this worker's partitions."""
        owned = self.owned_partitions()
        generation = self._group_generation
        if generation is not None and self._fenced_until is None:
            publish_leader(self.app, generation)
            self._rewrite_dropped()
        states = {state.name: state for state in self.app.configs.all()}
        wanted: dict[UnitKey, ConnectorState] = {}
        elsewhere = [
            name
            for name in self._connector_units | set(self._instances)
            if name not in states or placement_partition(name, None, self._partitions) not in owned
        ]
        await self._stop_connectors(elsewhere, deleted=[n for n in elsewhere if n not in states])
        for name, state in states.items():
            if placement_partition(name, None, self._partitions) in owned:
                await self._run_connector(state)
            if state.target == "STOPPED":
                continue
            for task_id in range(len(state.tasks)):
                if placement_partition(name, task_id, self._partitions) in owned:
                    wanted[(name, task_id)] = state
        gone = [key for key in self.runners if key not in wanted]
        await self._stop_units(gone, final=True, states=states)
        for key, state in wanted.items():
            version = (state.generation, state.restart, state.task_restarts.get(key[1], 0))
            runner = self.runners.get(key)
            if runner is not None and self._generations.get(key) != version:
                await self._stop_units([key], final=False)
                runner = None
            if runner is None:
                self._start(key, state, version)
            elif state.target == "PAUSED":
                runner.pause()
            else:
                runner.resume()

    async def _run_connector(self, state: ConnectorState) -> None:
        """Run the connector's instance here while it is STARTED (a new one for a new config or
        a restart; as in Kafka Connect, a PAUSED or STOPPED connector's instance is stopped) and
        write its status."""
        name = state.name
        self._connector_units.add(name)
        if (name, None) not in self._unit_generation and self._group_generation is not None:
            self._unit_generation[(name, None)] = self._group_generation
        version = (state.generation, state.restart)
        unit = self._instances.get(name)
        if unit is not None and (unit.version != version or state.target != "STARTED"):
            await self._instances.pop(name).stop(self._graceful_seconds)
            unit = None
        if state.target != "STARTED":
            self.report(name, None, state.target, "", state.generation)  # PAUSED or STOPPED
            return
        if unit is None:
            unit = self._instances[name] = ConnectorRunner(
                name,
                state.config,
                version,
                lambda status, trace: self.report(name, None, status, trace, state.generation),
                resolve=self._plugin,
            )
            unit.start()
        self.report(name, None, unit.state(), unit.trace(), state.generation)

    def _plugin(self, cls: str) -> type[Connector]:
        """The connector class ``cls``; PluginNotFound naming the workers that have it."""
        try:
            return connectors.get(cls)
        except PluginNotFound as exc:
            raise PluginNotFound(self._missing_plugin(cls) + str(exc)) from exc

    async def _stop_connectors(self, names: list[str], *, deleted: Sequence[str] = ()) -> None:
        """Stop the instances of ``names`` here (moved away, or ``deleted``)."""
        units = [self._instances.pop(name) for name in names if name in self._instances]
        await asyncio.gather(*(unit.stop(self._graceful_seconds) for unit in units))
        for name in names:
            self._connector_units.discard(name)
            self._unit_generation.pop((name, None), None)
        for name in deleted:
            self.app.statuses.delete(name)

    @property
    def _graceful_seconds(self) -> float:
        return self.settings.task_shutdown_graceful_timeout_ms / 1000

    def _rewrite_dropped(self) -> None:
        # A stale record of a unit run here was dropped: write the owner's status again, so the
        # log's last record (what a worker starting later reads) is the owner's. Once, a while
        # after each assignment, every status is written again: a worker whose Faust recovery
        # was switching to standby reading as the new owners wrote has been seen to miss those
        # records until the next rebalance.
        dropped = self.app.statuses.take_dropped()
        restate = self._restate_at is not None and time.monotonic() >= self._restate_at
        if not dropped and not restate:
            return
        if restate:
            self._restate_at = None
        mine = [*self.runners, *((name, None) for name in self._connector_units)]
        for connector, task in mine:
            key = self.app.statuses.key(connector, task)
            if restate or key in dropped:
                self.app.statuses.rewrite(key)

    def _start(self, key: UnitKey, state: ConnectorState, version: tuple[int, int, int]) -> None:
        name, task_id = key
        self._generations[key] = version
        self._unit_generation[key] = self._group_generation or 0
        paused = state.target == "PAUSED"
        try:
            plugin = connectors.get(state.config["connector.class"])
            chain = getattr(plugin, "chain", None)
            common: dict[str, Any] = {
                "generation": state.generation,
                "paused": paused,
                "chain": chain,
            }
            runner: TaskRunner
            configs = (state.config, state.tasks[task_id])
            if issubclass(plugin, SourceConnector):
                exactly_once = self.settings.exactly_once_source_support == "enabled"
                runner = (ExactlyOnceSourceRunner if exactly_once else SourceRunner)(
                    self, name, task_id, *configs, task_class=plugin.task_class, **common
                )
            elif issubclass(plugin, SinkConnector):
                runner = SinkRunner(
                    self,
                    name,
                    task_id,
                    *configs,
                    task_class=plugin.task_class,
                    task_count=len(state.tasks),
                    **common,
                )
            else:  # refused at create; a plugin can change underneath by a code update
                raise TypeError(f"{plugin!r} is neither a source nor a sink connector")
        except Exception as exc:
            trace = "".join(traceback.format_exception(exc))
            if isinstance(exc, PluginNotFound):
                trace = self._missing_plugin(state.config.get("connector.class", "")) + trace
            self.report(name, task_id, "FAILED", trace, state.generation)
            self._failed_placeholder(key)
            return
        self.runners[key] = runner
        runner.start()

    def _failed_placeholder(self, key: UnitKey) -> None:
        # Nothing runs, but remember the version so the failure is not retried every loop.
        self.runners[key] = _Failed(key)  # type: ignore[assignment]

    async def _stop_units(
        self,
        keys: list[UnitKey],
        *,
        final: bool,
        states: Mapping[str, ConnectorState] | None = None,
    ) -> None:
        timeout = self.settings.task_shutdown_graceful_timeout_ms / 1000
        runners = [(key, self.runners.pop(key)) for key in keys if key in self.runners]
        self._stopping.update(runners)
        try:
            await asyncio.gather(*(runner.stop(timeout) for _, runner in runners))
        finally:
            for key, _ in runners:
                self._stopping.pop(key, None)
        for key, runner in runners:
            self._generations.pop(key, None)
            name, task_id = key
            state = (states or {}).get(name)
            if final and (
                state is None or task_id >= len(state.tasks) or state.target == "STOPPED"
            ):
                if self._fenced_until is None:
                    self.app.statuses.delete(name, task_id)
            elif runner.failed is None:
                self.report(name, task_id, "UNASSIGNED", "", runner.generation)
            self._unit_generation.pop(key, None)


class _Failed:
    """Stands in for a task that could not even be built (its status says why)."""

    failed: BaseException | None = RuntimeError("the task could not be built")

    def __init__(self, key: UnitKey) -> None:
        self.key = key
        self.generation = 0

    async def stop(self, timeout: float) -> None:
        return None

    def halt(self) -> None:
        return None

    def pause(self) -> None:
        return None

    def resume(self) -> None:
        return None
