"""The connector lifecycle API: create, reconfigure, pause, resume, stop, restart, delete.

``app.connectors`` is the Python face of Kafka Connect's REST API (which calls it). Reads come
from the worker's tables; writes validate first (a bad config is refused before anything runs),
then change the connector's entry in the config table in one write. Every worker's runtime sees
the change through the table's changelog and adjusts what it runs; no worker restarts.

Shapes returned are Kafka Connect's (ConnectorInfo, StateInfo, task lists, offsets).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from faust_connect.agents.runtime.offsets import offset_key
from faust_connect.agents.runtime.source import transactional_id
from faust_connect.app.plugins import MASK, plugin_version
from faust_connect.app.state.sink_offsets import (
    alter_sink_offsets,
    reset_sink_offsets,
    sink_group,
    sink_offsets,
)
from faust_connect.app.state.tables import ConnectorState
from faust_connect.codecs import converter_from_config
from faust_connect.config import ConnectorConfig, config_issues, parse_config
from faust_connect.connector import Connector, SourceConnector, connectors
from faust_connect.exceptions import (
    BadRequest,
    ConfigError,
    ConfigIssue,
    Conflict,
    Forbidden,
    NotFound,
    PluginNotFound,
)
from faust_connect.transforms import transform_config_issues

if TYPE_CHECKING:
    from faust_connect.app.clients import Clients
    from faust_connect.app.worker import Worker

__all__ = ["Herder"]

InitialState = Literal["RUNNING", "PAUSED", "STOPPED"]
_TARGET = {"RUNNING": "STARTED", "PAUSED": "PAUSED", "STOPPED": "STOPPED"}


logger = logging.getLogger(__name__)


class Herder:
    """Connector lifecycle on one worker; every worker can take every request."""

    def __init__(self, app: Worker) -> None:
        self.app = app
        self._lock = asyncio.Lock()

    # -- reads ------------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every connector's name, sorted."""
        return self.app.configs.names()

    def get(self, name: str) -> ConnectorState:
        """A connector's stored state; NotFound if there is none."""
        state = self.app.configs.get(name)
        if state is None:
            raise NotFound(f"Connector {name} not found")
        return state

    def plugin(self, config: Mapping[str, str]) -> type[Connector]:
        """The connector class a config names."""
        return connectors.get(config.get("connector.class", ""))

    def type_of(self, state: ConnectorState) -> str:
        """``source``, ``sink`` or ``unknown``."""
        try:
            return self.plugin(state.config).kind
        except PluginNotFound:
            return "unknown"

    def info(self, name: str) -> dict[str, Any]:
        """Kafka Connect's ConnectorInfo."""
        state = self.get(name)
        return {
            "name": name,
            "config": dict(state.config),
            "tasks": [{"connector": name, "task": i} for i in range(len(state.tasks))],
            "type": self.type_of(state),
        }

    def config(self, name: str) -> dict[str, str]:
        """The connector's config."""
        return dict(self.get(name).config)

    def tasks(self, name: str) -> list[dict[str, Any]]:
        """Task configs: ``[{"id": {"connector", "task"}, "config": {...}}]``."""
        state = self.get(name)
        return [
            {"id": {"connector": name, "task": i}, "config": dict(config)}
            for i, config in enumerate(state.tasks)
        ]

    def _status_entry(self, name: str, task: int | None, state: ConnectorState) -> dict[str, Any]:
        """``{"state", "worker_id", "trace"?, "version"?}``: ``version`` is the plugin's (Kafka
        4.1 writes the running connector's or task's), left out when the class is unknown."""
        status = self.app.statuses.get(name, task)
        entry: dict[str, Any] = (
            {"state": "UNASSIGNED", "worker_id": ""}
            if status is None
            else {"state": status.state, "worker_id": status.worker_id}
        )
        if status is not None and status.trace:
            entry["trace"] = status.trace
        try:
            entry["version"] = plugin_version(self.plugin(state.config))
        except PluginNotFound:
            pass  # Kafka leaves out a version it does not know
        return entry

    def status(self, name: str) -> dict[str, Any]:
        """Kafka Connect's StateInfo for a connector and its tasks."""
        state = self.get(name)
        tasks = []
        for i in range(len(state.tasks)):
            tasks.append({"id": i, **self._status_entry(name, i, state)})
        return {
            "name": name,
            "connector": self._status_entry(name, None, state),
            "tasks": tasks,
            "type": self.type_of(state),
        }

    def task_status(self, name: str, task: int) -> dict[str, Any]:
        """One task's status: ``{"id", "state", "worker_id", "trace"?, "version"?}``."""
        state = self.get(name)
        if not 0 <= task < len(state.tasks):
            raise NotFound(f"No status found for task {name}-{task}")  # Kafka's words
        return {"id": task, **self._status_entry(name, task, state)}

    async def offsets(self, name: str) -> dict[str, Any]:
        """A connector's offsets: ``{"offsets": [{"partition", "offset"}]}``.

        A source's come from the offset table; a sink's are its consumer group's commits.
        """
        state = self.get(name)
        if self.type_of(state) == "sink":
            group = sink_group(name, state.config)
            return {"offsets": await sink_offsets(self._clients, group)}
        pairs = self.app.offsets.of(name)
        return {"offsets": [{"partition": p, "offset": o} for p, o in pairs]}

    @property
    def _clients(self) -> Clients:
        return self.app.clients

    def topics(self, name: str) -> dict[str, Any]:
        """``{"<name>": {"topics": [...]}}``: the topics the connector has used."""
        self.get(name)
        self._tracking()
        return {name: {"topics": self.app.statuses.topics(name)}}

    async def reset_topics(self, name: str) -> None:
        """Forget the topics the connector has used."""
        self.get(name)
        self._tracking()
        self.app.statuses.reset_topics(name)

    def _tracking(self) -> None:
        if not self.app.connect_settings.topic_tracking_enable:
            raise Forbidden("Topic tracking is disabled.")

    # -- validation -------------------------------------------------------------------------

    def validate(self, config: Mapping[str, str]) -> list[ConfigIssue]:
        """Every problem with a connector config, one entry per bad key."""
        issues = config_issues(ConnectorConfig, config)
        # The rules across keys still apply to the keys that are valid on their own.
        bad = {issue.key for issue in issues}
        rest = {k: v for k, v in config.items() if k not in bad}
        common = (
            None if config_issues(ConnectorConfig, rest) else parse_config(ConnectorConfig, rest)
        )
        plugin: type[Connector] | None = None
        cls = config.get("connector.class", "")
        if cls:
            try:
                plugin = connectors.get(cls)
            except PluginNotFound as exc:
                issues.append(ConfigIssue("connector.class", str(exc)))
        if plugin is not None:
            issues.extend(plugin.validate(config))
        defaults = self.app.connect_settings.converter_defaults()
        for prefix in ("key.converter", "value.converter", "header.converter"):
            try:
                converter_from_config(config, prefix, defaults)
            except ConfigError as exc:
                issues.extend(exc.issues)
        issues.extend(transform_config_issues(config))
        issues.extend(self.app.clients.override_issues(config))
        limit = self.app.connect_settings.tasks_max_limit
        if common is not None and common.tasks_max > limit:
            issues.append(
                ConfigIssue(
                    "tasks.max",
                    f"Invalid value {common.tasks_max} for configuration tasks.max: this "
                    f"cluster runs at most {limit} tasks per connector (worker setting "
                    "tasks.max.limit)",
                )
            )
        if plugin is not None and plugin.kind == "sink":
            issues.extend(ConnectorConfig.sink_issues(config))
        exactly_once = self.app.connect_settings.exactly_once_source_support == "enabled"
        if exactly_once and common is not None and not issues and isinstance(plugin, type):
            if issubclass(plugin, SourceConnector):
                issues.extend(_exactly_once_issues(plugin(config), common))
        return issues

    def _checked(self, name: str, config: Mapping[str, str]) -> dict[str, str]:
        config = {str(k): str(v) for k, v in config.items()}
        if config.get("name", name) != name:
            raise BadRequest(
                f"Connector name configuration ({config['name']}) doesn't match connector name "
                f"in the URL ({name})"
            )
        config["name"] = name
        issues = self.validate(config)
        if issues:
            raise ConfigError(issues)
        return config

    def _task_configs(self, config: Mapping[str, str]) -> tuple[dict[str, str], ...]:
        """The connector's task configs; more than ``tasks.max`` is refused unless
        ``tasks.max.enforce`` is false (KIP-1004)."""
        plugin = self.plugin(config)
        common = parse_config(ConnectorConfig, config)
        produced = plugin(config).task_configs(common.tasks_max)
        if len(produced) > common.tasks_max:
            if common.tasks_max_enforce:
                raise BadRequest(
                    f"Connector {config['name']} generated {len(produced)} task configs, more "
                    f"than its tasks.max of {common.tasks_max}: a bug of the connector, refused. "
                    "Set tasks.max.enforce=false to run them all anyway."
                )
            logger.warning(
                "connector %s generated %d task configs, more than tasks.max=%d; running them "
                "all as tasks.max.enforce=false asks",
                config["name"],
                len(produced),
                common.tasks_max,
            )
        return tuple({str(k): str(v) for k, v in task.items()} for task in produced)

    # -- writes -----------------------------------------------------------------------------

    async def create(
        self, name: str, config: Mapping[str, str], initial_state: InitialState = "RUNNING"
    ) -> dict[str, Any]:
        """Create a connector; Conflict if the name is taken, ConfigError if the config is bad."""
        if not name or "/" in name:
            raise BadRequest("Connector name must not be empty and must not contain '/'")
        checked = self._checked(name, config)
        async with self._lock:
            if self.app.configs.get(name) is not None:
                raise Conflict(f"Connector {name} already exists")
            target = _TARGET[initial_state]
            tasks = () if target == "STOPPED" else self._task_configs(checked)
            await self.app.configs.put(ConnectorState(name, checked, target, tasks))  # type: ignore[arg-type]
        self.app.runtime.wake()
        return self.info(name)

    async def put_config(self, name: str, config: Mapping[str, str]) -> tuple[bool, dict[str, Any]]:
        """Create or reconfigure; returns ``(created, info)``. Tasks restart with the new config.

        A value given as the mask (``********``, as the API shows secrets) keeps the stored
        value, so a config read from the API can be written back unchanged.
        """
        current = self.app.configs.get(name)
        if current is not None:
            config = {k: current.config.get(k, v) if v == MASK else v for k, v in config.items()}
        checked = self._checked(name, config)
        async with self._lock:
            current = self.app.configs.get(name)
            if current is None:
                await self.app.configs.put(
                    ConnectorState(name, checked, "STARTED", self._task_configs(checked))
                )
            else:
                tasks = () if current.target == "STOPPED" else self._task_configs(checked)
                await self.app.configs.put(
                    current.replace(config=checked, tasks=tasks, generation=current.generation + 1)
                )
        self.app.runtime.wake()
        return current is None, self.info(name)

    async def patch_config(self, name: str, patch: Mapping[str, str | None]) -> dict[str, Any]:
        """Merge ``patch`` into the config (a None value removes that key)."""
        merged = dict(self.get(name).config)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        await self.put_config(name, merged)
        return self.info(name)

    async def delete(self, name: str) -> None:
        """Delete a connector; its source offsets are kept (as Kafka Connect keeps them)."""
        async with self._lock:
            self.get(name)
            await self.app.configs.delete(name)
            self.app.statuses.reset_topics(name)
        self.app.runtime.wake()

    async def _set_target(self, name: str, target: Literal["STARTED", "PAUSED", "STOPPED"]) -> None:
        async with self._lock:
            state = self.get(name)
            if state.target == target:
                return
            changes: dict[str, Any] = {"target": target}
            if target == "STOPPED":
                changes["tasks"] = ()
            elif state.target == "STOPPED":
                changes["tasks"] = self._task_configs(state.config)
                changes["generation"] = state.generation + 1
            await self.app.configs.put(state.replace(**changes))
        self.app.runtime.wake()

    async def pause(self, name: str) -> None:
        """Pause: tasks stay assigned but idle (status PAUSED)."""
        await self._set_target(name, "PAUSED")

    async def resume(self, name: str) -> None:
        """Resume a paused or stopped connector."""
        await self._set_target(name, "STARTED")

    async def stop(self, name: str) -> None:
        """Stop: tasks are shut down and their configs removed (status STOPPED)."""
        await self._set_target(name, "STOPPED")

    async def fence(self, name: str) -> None:
        """Fence every producer of a source's tasks (KIP-618's zombie fencing), then restart them.

        Each task's transactional id is initialized once more: a copy of the task still running
        anywhere (a zombie) can commit nothing after this. The tasks then restart, with new
        producers. Only for a source connector on an exactly-once worker.
        """
        state = self.get(name)
        settings = self.app.connect_settings
        if settings.exactly_once_source_support != "enabled":
            raise BadRequest("Fencing needs exactly.once.source.support=enabled on the worker.")
        if not issubclass(self.plugin(state.config), SourceConnector):
            raise BadRequest(f"Connector {name} is not a source connector: nothing to fence.")
        tasks = max(len(state.tasks), parse_config(ConnectorConfig, state.config).tasks_max)
        for task in range(tasks):
            producer = self.app.clients.producer(
                state.config, transactional_id=transactional_id(settings.group_id, name, task)
            )
            await producer.start()  # InitProducerId: bumps the epoch, aborts an open transaction
            await producer.stop()
        await self.restart(name, include_tasks=True)

    async def restart(
        self, name: str, *, include_tasks: bool = False, only_failed: bool = False
    ) -> dict[str, Any] | None:
        """Restart the connector and, with ``include_tasks``, its (failed) tasks.

        Returns None when only the connector object restarts (Kafka's 204); else the StateInfo
        with the affected items RESTARTING (Kafka's 202).
        """
        async with self._lock:
            state = self.get(name)
            before = self.status(name)
            restart_connector = not only_failed or before["connector"]["state"] == "FAILED"
            tasks = [
                t["id"]
                for t in before["tasks"]
                if include_tasks and (not only_failed or t["state"] == "FAILED")
            ]
            restarts = dict(state.task_restarts)
            for task in tasks:
                restarts[task] = restarts.get(task, 0) + 1
            await self.app.configs.put(
                state.replace(
                    restart=state.restart + (1 if restart_connector else 0),
                    task_restarts=restarts,
                )
            )
        self.app.runtime.wake()
        if not include_tasks and not only_failed:
            return None
        if restart_connector:
            before["connector"]["state"] = "RESTARTING"
        for task in before["tasks"]:
            if task["id"] in tasks:
                task["state"] = "RESTARTING"
        return before

    async def restart_task(self, name: str, task: int) -> None:
        """Restart one task."""
        async with self._lock:
            state = self.get(name)
            if not 0 <= task < len(state.tasks):
                raise NotFound(f"Task {name}-{task} not found")
            restarts = dict(state.task_restarts)
            restarts[task] = restarts.get(task, 0) + 1
            await self.app.configs.put(state.replace(task_restarts=restarts))
        self.app.runtime.wake()

    async def alter_offsets(self, name: str, offsets: list[Mapping[str, Any]]) -> None:
        """Set (or, with a null offset, remove) a stopped connector's offsets."""
        state = self._stopped(name)
        if not offsets:
            raise BadRequest("Offsets to alter must not be empty")
        if self.type_of(state) == "sink":
            await alter_sink_offsets(self._clients, sink_group(name, state.config), offsets)
            return
        self.app.offsets.put(
            name, {offset_key(name, o["partition"]): o.get("offset") for o in offsets}
        )

    async def reset_offsets(self, name: str) -> None:
        """Remove every stored offset of a stopped connector (a sink starts from the beginning)."""
        state = self._stopped(name)
        if self.type_of(state) == "sink":
            await reset_sink_offsets(self._clients, sink_group(name, state.config))
            return
        pairs = self.app.offsets.of(name)
        self.app.offsets.put(name, {offset_key(name, p): None for p, _ in pairs})

    def _stopped(self, name: str) -> ConnectorState:
        state = self.get(name)
        if state.target != "STOPPED":
            raise BadRequest(
                "Connectors must be in the STOPPED state before their offsets can be modified. "
                "This can be done for the specified connector by issuing a 'PUT' request to the "
                f"'/connectors/{name}/stop' endpoint"
            )
        return state


def _exactly_once_issues(plugin: SourceConnector, config: ConnectorConfig) -> list[ConfigIssue]:
    """Kafka Connect's preflight checks of a source on an exactly-once worker."""
    issues = []
    if config.exactly_once_support == "required":
        support = plugin.exactly_once_support()
        if support is None:
            issues.append(
                ConfigIssue(
                    "exactly.once.support",
                    "The connector does not say whether it supports exactly-once semantics; "
                    "use 'requested' to create it anyway.",
                )
            )
        elif support != "SUPPORTED":
            issues.append(
                ConfigIssue(
                    "exactly.once.support",
                    "The connector does not support exactly-once semantics with the provided "
                    "configuration.",
                )
            )
    if (
        config.transaction_boundary == "connector"
        and not plugin.can_define_transaction_boundaries()
    ):
        issues.append(
            ConfigIssue(
                "transaction.boundary",
                "The connector does not support connector-defined transaction boundaries with "
                "the given configuration; use poll or interval.",
            )
        )
    return issues
