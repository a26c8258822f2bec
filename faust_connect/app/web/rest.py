"""Kafka Connect's REST API, served by each worker's Faust web server.

Paths, JSON shapes, status codes and the error body (``{"error_code", "message"}``) follow Kafka
Connect, so its clients and tools work unchanged. Every handler calls ``app.connectors`` (the
:class:`~faust_connect.app.herder.Herder`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import version
from typing import Any, ClassVar

import faust
from aiohttp import web
from faust.web import Request, Response, View

from faust_connect.app import plugins
from faust_connect.app.herder import Herder, InitialState
from faust_connect.app.plugins import mask_config
from faust_connect.app.web.leader import forward_to_leader, leader_url
from faust_connect.connector import connectors
from faust_connect.exceptions import BadRequest, ConfigError, ConnectError, NotFound

__all__ = ["blueprint", "error_bodies", "error_body"]

logger = logging.getLogger(__name__)

blueprint = faust.web.Blueprint("connect")


def error_body(status: int, message: str) -> dict[str, Any]:
    """Kafka Connect's error body."""
    return {"error_code": status, "message": message}


@web.middleware
async def error_bodies(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every error answer in Kafka Connect's ``{"error_code", "message"}`` shape.

    aiohttp answers an unknown path (404), a wrong method (405) or a body over its limit (413)
    in plain text, and an exception in a view as a bare 500: those become Kafka Connect's body.
    """
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        body = error_body(exc.status, f"HTTP {exc.status} {exc.reason}")
        return web.json_response(body, status=exc.status, headers=headers)
    except Exception as exc:  # a view's bug must not leave the client without an answer
        logger.exception("%s %s failed", request.method, request.path)
        body = error_body(500, f"{type(exc).__name__}: {exc}")
        return web.json_response(body, status=500)


class ConnectView(View):
    """A view whose ConnectErrors become Kafka Connect's error responses.

    Kafka words the 404 for an unknown connector or task per endpoint (``Unknown connector X``
    for pause, ``No status found for connector X`` for status, ``Unknown task: X-7`` for a task
    restart, ...): a view declares its endpoint's words as :attr:`unknown_connector` and
    :attr:`unknown_task`, and its handler runs only for a connector (and task) that exists.
    Views that declare none get the herder's ``Connector X not found`` (Kafka's words for info,
    config, tasks, delete and offsets).
    """

    #: This endpoint's 404 message for an unknown connector, formatted with the path's parts
    #: (``{name}``, ``{task}``); None: the herder's own.
    unknown_connector: ClassVar[str | None] = None
    #: Likewise for a task the connector does not have (a path with ``{task}``).
    unknown_task: ClassVar[str | None] = None

    async def dispatch(self, request: Any) -> Any:
        try:
            if request.method != "GET" and request.path.startswith("/connectors"):
                answer = await forward_to_leader(self.app, request)  # type: ignore[arg-type]
                if answer is not None:
                    status, body, content_type = answer
                    return self.bytes(body, status=status, content_type=content_type)
            if self.unknown_connector is not None or self.unknown_task is not None:
                self._require(request.match_info)
            return await super().dispatch(request)
        except ConfigError as exc:
            return self.json(error_body(400, _invalid_message(exc)), status=400)
        except ConnectError as exc:
            return self.json(error_body(exc.http_status, str(exc)), status=exc.http_status)
        except KeyError as exc:  # a missing field in a request body
            return self.json(error_body(400, f"missing field {exc}"), status=400)

    def _require(self, params: Mapping[str, str]) -> None:
        """NotFound in this endpoint's words if the path's connector or task is unknown."""
        try:
            state = self.herder.get(params["name"])
        except NotFound:
            if self.unknown_connector is None:
                raise
            raise NotFound(self.unknown_connector.format_map(params)) from None
        task = params.get("task", "")
        if self.unknown_task is not None and task.lstrip("-").isdigit():  # else: _task_id's 404
            if not 0 <= int(task) < len(state.tasks):
                raise NotFound(self.unknown_task.format_map(params))

    @property
    def herder(self) -> Herder:
        """The worker's connector lifecycle API."""
        herder: Herder = getattr(self.app, "connectors")  # noqa: B009  # faust types app as AppT
        return herder

    async def body(self, request: Request) -> Any:
        """The request's JSON body; 400 if it is not JSON."""
        try:
            return await request.json()
        except ValueError as exc:
            raise BadRequest(f"Request body is not valid JSON: {exc}") from None


def _masked(info: dict[str, Any]) -> dict[str, Any]:
    """ConnectorInfo with password values and provider references masked (never shown)."""
    return {**info, "config": mask_config(info["config"])}


def _invalid_message(exc: ConfigError) -> str:
    lines = "\n".join(str(issue) for issue in exc.issues)
    return (
        f"Connector configuration is invalid and contains the following {len(exc.issues)} "
        f"error(s):\n{lines}\nYou can also find the above list of errors at the endpoint "
        "`/connector-plugins/{connectorType}/config/validate`"
    )


_INITIAL_STATES: dict[str, InitialState] = {
    "RUNNING": "RUNNING",
    "PAUSED": "PAUSED",
    "STOPPED": "STOPPED",
}


def _flag(request: Request, name: str) -> bool:
    return str(request.query.get(name, "false")).lower() == "true"


@blueprint.route("/", name="root")
class Root(ConnectView):
    """``GET /``: version information."""

    async def get(self, request: Request) -> Response:
        return self.json(
            {"version": version("faust-connect"), "commit": "", "kafka_cluster_id": None}
        )


@blueprint.route("/health", name="health")
class Health(ConnectView):
    """``GET /health`` (KIP-1017): 200 only once a request will be served, 503 before."""

    async def get(self, request: Request) -> Response:
        runtime = getattr(self.app, "runtime")  # noqa: B009  # faust types app as AppT
        if not runtime.started:
            message = "Worker is still starting up."
        elif leader_url(self.app) is None:  # type: ignore[arg-type]  # our App
            message = "Worker has not yet joined its group: no leader is known."
        else:
            return self.json(
                {
                    "status": "healthy",
                    "message": "Worker has completed startup and is ready to handle requests.",
                }
            )
        return self.json({"status": "starting", "message": message}, status=503)


@blueprint.route("/connectors", name="connectors")
class Connectors(ConnectView):
    """``GET /connectors`` (``?expand=status|info``), ``POST /connectors``."""

    async def get(self, request: Request) -> Response:
        names = self.herder.names()
        expand = request.query.getall("expand", []) if hasattr(request.query, "getall") else []
        if not expand:
            return self.json(names)
        out: dict[str, Any] = {}
        for name in names:
            entry: dict[str, Any] = {}
            if "status" in expand:
                entry["status"] = self.herder.status(name)
            if "info" in expand:
                entry["info"] = _masked(self.herder.info(name))
            out[name] = entry
        return self.json(out)

    async def post(self, request: Request) -> Response:
        body = await self.body(request)
        if not isinstance(body, dict) or not body.get("name"):
            raise BadRequest("Connector name must be given as 'name'")
        name = str(body["name"])
        config = body.get("config") or {}
        initial = _INITIAL_STATES.get(str(body.get("initial_state", "RUNNING")).upper())
        if initial is None:
            raise BadRequest(f"Invalid initial state {body.get('initial_state')!r}")
        info = _masked(await self.herder.create(name, config, initial))
        return self.json(info, status=201, headers={"Location": f"/connectors/{name}"})


@blueprint.route("/connectors/{name}", name="connector")
class Connector(ConnectView):
    """``GET`` / ``DELETE /connectors/{name}``."""

    async def get(self, request: Request, name: str) -> Response:
        return self.json(_masked(self.herder.info(name)))

    async def delete(self, request: Request, name: str) -> Response:
        await self.herder.delete(name)
        return self.bytes(b"", status=204)


@blueprint.route("/connectors/{name}/config", name="connector-config")
class ConnectorConfig(ConnectView):
    """``GET`` / ``PUT`` / ``PATCH /connectors/{name}/config``."""

    async def get(self, request: Request, name: str) -> Response:
        return self.json(mask_config(self.herder.config(name)))

    async def put(self, request: Request, name: str) -> Response:
        body = await self.body(request)
        if not isinstance(body, dict):
            raise BadRequest("The connector config must be a JSON object")
        created, info = await self.herder.put_config(name, body)
        return self.json(_masked(info), status=201 if created else 200)

    async def patch(self, request: Request, name: str) -> Response:
        body = await self.body(request)
        if not isinstance(body, dict):
            raise BadRequest("The config patch must be a JSON object")
        return self.json(_masked(await self.herder.patch_config(name, body)))


@blueprint.route("/connectors/{name}/status", name="connector-status")
class ConnectorStatus(ConnectView):
    """``GET /connectors/{name}/status``."""

    unknown_connector = "No status found for connector {name}"

    async def get(self, request: Request, name: str) -> Response:
        return self.json(self.herder.status(name))


@blueprint.route("/connectors/{name}/tasks", name="connector-tasks")
class Tasks(ConnectView):
    """``GET /connectors/{name}/tasks``."""

    async def get(self, request: Request, name: str) -> Response:
        tasks = self.herder.tasks(name)
        return self.json([{**t, "config": mask_config(t["config"])} for t in tasks])


def _task_id(task: str) -> int:
    try:
        return int(task)
    except ValueError:
        raise NotFound(f"Task {task} not found") from None


@blueprint.route("/connectors/{name}/tasks/{task}/status", name="task-status")
class TaskStatus(ConnectView):
    """``GET /connectors/{name}/tasks/{task}/status``."""

    unknown_connector = unknown_task = "No status found for task {name}-{task}"

    async def get(self, request: Request, name: str, task: str) -> Response:
        return self.json(self.herder.task_status(name, _task_id(task)))


@blueprint.route("/connectors/{name}/tasks/{task}/restart", name="task-restart")
class TaskRestart(ConnectView):
    """``POST /connectors/{name}/tasks/{task}/restart``."""

    unknown_connector = "Unknown connector: {name}"
    unknown_task = "Unknown task: {name}-{task}"

    async def post(self, request: Request, name: str, task: str) -> Response:
        await self.herder.restart_task(name, _task_id(task))
        return self.bytes(b"", status=204)


@blueprint.route("/connectors/{name}/restart", name="connector-restart")
class Restart(ConnectView):
    """``POST /connectors/{name}/restart?includeTasks=&onlyFailed=``."""

    unknown_connector = "Unknown connector: {name}"

    async def post(self, request: Request, name: str) -> Response:
        state = await self.herder.restart(
            name,
            include_tasks=_flag(request, "includeTasks"),
            only_failed=_flag(request, "onlyFailed"),
        )
        if state is None:
            return self.bytes(b"", status=204)
        return self.json(state, status=202)


def _target_view(action: str, status: int) -> type[ConnectView]:
    class TargetView(ConnectView):
        unknown_connector = "Unknown connector {name}"

        async def put(self, request: Request, name: str) -> Response:
            await getattr(self.herder, action)(name)
            return self.bytes(b"", status=status)

    TargetView.__name__ = TargetView.__qualname__ = f"{action.title()}View"
    TargetView.__doc__ = f"``PUT /connectors/{{name}}/{action}``."
    return TargetView


blueprint.route("/connectors/{name}/pause", name="pause")(_target_view("pause", 202))
blueprint.route("/connectors/{name}/resume", name="resume")(_target_view("resume", 202))
blueprint.route("/connectors/{name}/stop", name="stop")(_target_view("stop", 204))


@blueprint.route("/connectors/{name}/fence", name="fence")
class Fence(ConnectView):
    """``PUT /connectors/{name}/fence``: fence a source's zombie tasks (KIP-618)."""

    async def put(self, request: Request, name: str) -> Response:
        await self.herder.fence(name)
        return self.bytes(b"", status=204)


@blueprint.route("/connectors/{name}/topics", name="topics")
class Topics(ConnectView):
    """``GET /connectors/{name}/topics``: the topics the connector has used."""

    async def get(self, request: Request, name: str) -> Response:
        if name not in self.herder.names():  # Kafka: no topics, not a 404
            return self.json({name: {"topics": []}})
        return self.json(self.herder.topics(name))


@blueprint.route("/connectors/{name}/topics/reset", name="topics-reset")
class TopicsReset(ConnectView):
    """``PUT /connectors/{name}/topics/reset``."""

    async def put(self, request: Request, name: str) -> Response:
        if name in self.herder.names():  # Kafka: an unknown connector has nothing to reset, 202
            await self.herder.reset_topics(name)
        return self.bytes(b"", status=202)


@blueprint.route("/connectors/{name}/offsets", name="offsets")
class Offsets(ConnectView):
    """``GET`` / ``PATCH`` / ``DELETE /connectors/{name}/offsets`` (KIP-875)."""

    async def get(self, request: Request, name: str) -> Response:
        return self.json(await self.herder.offsets(name))

    async def patch(self, request: Request, name: str) -> Response:
        body = await self.body(request)
        if not isinstance(body, dict) or not isinstance(body.get("offsets"), list):
            raise BadRequest('The body must be {"offsets": [...]}')
        await self.herder.alter_offsets(name, body["offsets"])
        return self.json(
            {"message": "The offsets for this connector have been altered successfully"}
        )

    async def delete(self, request: Request, name: str) -> Response:
        await self.herder.reset_offsets(name)
        return self.json({"message": "The offsets for this connector have been reset successfully"})


@blueprint.route("/connector-plugins", name="plugins")
class Plugins(ConnectView):
    """``GET /connector-plugins?connectorsOnly=`` (Kafka's default: connectors only)."""

    async def get(self, request: Request) -> Response:
        only = str(request.query.get("connectorsOnly", "true")).lower() != "false"
        return self.json(plugins.list_plugins(connectors_only=only))


@blueprint.route("/connector-plugins/{plugin}/config", name="plugin-config")
class PluginConfigView(ConnectView):
    """``GET /connector-plugins/{plugin}/config``: the plugin's ConfigKeyInfo list."""

    async def get(self, request: Request, plugin: str) -> Response:
        return self.json(plugins.definitions_for(plugin))


@blueprint.route("/connector-plugins/{plugin}/config/validate", name="validate")
class Validate(ConnectView):
    """``PUT /connector-plugins/{plugin}/config/validate``: ConfigInfos, 200 even with errors."""

    async def put(self, request: Request, plugin: str) -> Response:
        config = await self.body(request)
        if not isinstance(config, dict):
            raise BadRequest("The connector config must be a JSON object")
        kind, found = plugins.find_plugin(plugin)
        if kind not in ("source", "sink"):
            raise BadRequest(f"{plugin} is a {kind}, not a connector")
        named = str(config.get("connector.class", "") or "")
        if named and not _names_plugin(named, plugin):
            raise BadRequest(
                f"Included connector type {named} does not match request type {plugin}"
            )
        config = {str(k): "" if v is None else str(v) for k, v in config.items()}
        config.setdefault("connector.class", plugin)
        issues = self.herder.validate(config)
        return self.json(plugins.validation_result(found, config, issues))


def _names_plugin(named: str, plugin: str) -> bool:
    simple = named.rsplit(".", 1)[-1]
    return plugin in (named, simple, simple.removesuffix("Connector")) or (
        connectors.canonical(named) == connectors.canonical(plugin)
    )
