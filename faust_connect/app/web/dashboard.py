"""The worker's HTML dashboard at ``/ui``: connectors, tasks, charts, flow, workers, DLQ, forms.

Pages are rendered on the server (:mod:`~faust_connect.app.web.pages`; they read fine without
JavaScript); ``ui/dashboard.js`` refreshes them from the JSON endpoints below without
reloading, draws the charts (inline SVG, no outside library), and its buttons and forms call Kafka Connect's REST API (pause, resume,
stop, restart, delete, offsets, validate, create, patch) and the dead letter queue extension
(:mod:`faust_connect.app.web.dlq`), so the dashboard can do nothing the APIs cannot.

Any worker shows the whole cluster: statuses come from the shared status table, and the counters
of tasks running on other workers are fetched from those workers' ``/metrics.json``, their
recent history (:mod:`faust_connect.app.web.history`) from their ``/ui/api/history`` (their
``worker_id`` is ``host:port``); a worker that does not answer is marked unreachable and its
tasks are shown without metrics. Config values of PASSWORD keys and ``${provider:...}``
references are masked (:func:`~faust_connect.app.plugins.mask_config`).

JSON endpoints: ``GET /ui/api/overview`` (every connector with its tasks, their metrics and
recent rates, the topics each uses, and the task moves seen), ``GET /ui/api/connectors/{name}``
(one connector with its masked config, offsets and ten minutes of history) and
``GET /ui/api/history?window=`` (this worker's own tasks' samples).

A rate is None (shown "—") until it has been measured, and while its task is not RUNNING.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import faust
from aiohttp import web
from faust.web import Request, Response, View

from faust_connect.app.plugins import mask_config
from faust_connect.app.web import dlq
from faust_connect.app.web.history import History, merge_series
from faust_connect.app.web.pages import (
    ACTIONS_BY_STATE,
    detail_page,
    escape,
    form_page,
    overview_page,
    page,
)
from faust_connect.exceptions import ConnectError, NotFound

if TYPE_CHECKING:
    from faust_connect.app.herder import Herder
    from faust_connect.app.worker import Worker

    class App(Worker, Protocol):
        """The app as the dashboard sees it: a worker with its herder."""

        @property
        def connectors(self) -> Herder:
            """The connectors' lifecycle."""


__all__ = [
    "HISTORY",
    "OVERVIEW_WINDOW",
    "PEER_TIMEOUT",
    "blueprint",
    "cluster_overview",
    "connector_detail",
]

#: Seconds to wait for another worker's ``/metrics.json``.
PEER_TIMEOUT = 1.5
#: Seconds of history the overview's sparklines show (the connector page shows all).
OVERVIEW_WINDOW = 180.0
#: Where a worker's :class:`~faust_connect.app.web.history.History` is kept (aiohttp app).
HISTORY = web.AppKey("faust_connect.history", History)

_STATIC = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}


class _Blueprint(faust.web.Blueprint):
    """The dashboard's routes, plus the DLQ extension's, and the history sampler's lifecycle."""

    def register(self, app: Any, *, url_prefix: str | None = None) -> None:
        super().register(app, url_prefix=url_prefix)
        dlq.blueprint.register(app)

    def on_webserver_init(self, web: Any) -> None:
        app = web.app
        web_app: web.Application = web.web_app
        history = History(app.runtime.task_metrics, lambda: _task_states(app))
        queues = dlq.DeadLetterQueues(app)
        web_app[HISTORY] = history
        web_app[dlq.QUEUES] = queues

        async def start(_: web.Application) -> None:
            history.start()

        async def stop(_: web.Application) -> None:
            await history.stop()
            await queues.close()

        web_app.on_startup.append(start)
        web_app.on_cleanup.append(stop)


blueprint = _Blueprint("dashboard")


def _task_states(app: App) -> dict[tuple[str, int], tuple[str, str]]:
    herder = app.connectors
    found = {}
    for name in herder.names():
        try:
            status = herder.status(name)
        except NotFound:  # deleted meanwhile
            continue
        for t in status["tasks"]:
            found[(name, int(t["id"]))] = (str(t["state"]), str(t.get("worker_id", "")))
    return found


def _history(app: App) -> History:
    found: History = app.web.web_app[HISTORY]  # type: ignore[attr-defined]  # aiohttp driver
    return found


# -- data -----------------------------------------------------------------------------------


async def _peer_metrics(
    session: aiohttp.ClientSession, worker_id: str, authorization: str | None
) -> tuple[str, list[dict[str, Any]] | None, str]:
    headers = {"Authorization": authorization} if authorization else {}
    try:
        async with session.get(f"http://{worker_id}/metrics.json", headers=headers) as response:
            if response.status != 200:
                return worker_id, None, f"HTTP {response.status}"
            body = await response.json()
            return worker_id, list(body.get("tasks", [])), ""
    except (aiohttp.ClientError, TimeoutError, ValueError, OSError) as exc:
        return worker_id, None, f"unreachable ({type(exc).__name__})"


async def _peer_history(
    session: aiohttp.ClientSession, worker_id: str, authorization: str | None, window: float
) -> list[dict[str, Any]]:
    headers = {"Authorization": authorization} if authorization else {}
    url = f"http://{worker_id}/ui/api/history?window={window:g}"
    try:
        async with session.get(url, headers=headers) as response:
            if response.status != 200:
                return []
            body = await response.json()
            return list(body.get("tasks", []))
    except (aiohttp.ClientError, TimeoutError, ValueError, OSError):
        return []  # the metrics fetch already reports the worker as unreachable


Metrics = dict[tuple[str, int], dict[str, Any]]
Series = dict[tuple[str, int], list[dict[str, Any]]]


async def _gather(
    app: App, worker_ids: set[str], authorization: str | None, window: float
) -> tuple[Metrics, dict[str, str], Series]:
    """Task metrics and history by (connector, task) from this worker and every one named."""
    own = app.connect_settings.worker_id
    found: Metrics = {}
    series: Series = {}
    workers: dict[str, str] = {own: "ok"}
    for m in app.runtime.task_metrics():
        found[(m["connector"], int(m["task"]))] = {**m, "worker_id": own}
    for s in _history(app).series(window):
        series.setdefault((s["connector"], int(s["task"])), []).append(s)
    others = sorted(w for w in worker_ids if w and w != own)
    if others:
        timeout = aiohttp.ClientTimeout(total=PEER_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            answers, histories = await asyncio.gather(
                asyncio.gather(*(_peer_metrics(session, w, authorization) for w in others)),
                asyncio.gather(*(_peer_history(session, w, authorization, window) for w in others)),
            )
        for worker_id, tasks, problem in answers:
            workers[worker_id] = problem or "ok"
            for m in tasks or ():
                found.setdefault((m["connector"], int(m["task"])), {**m, "worker_id": worker_id})
        for parts in histories:
            for s in parts:
                series.setdefault((s["connector"], int(s["task"])), []).append(s)
    return found, workers, series


def _latest(values: list[Any]) -> Any:
    return values[-1] if values else None


def _task_row(
    task: dict[str, Any],
    metrics: dict[str, Any] | None,
    workers: dict[str, str],
    parts: list[dict[str, Any]],
) -> dict[str, Any]:
    row = dict(task)
    row["worker_status"] = workers.get(task.get("worker_id", ""), "ok")
    history = merge_series(parts)
    row["history"] = history
    if metrics is not None:
        running = task.get("state") == "RUNNING"
        rates = {
            "rate": _latest(history["out"]) if running else None,
            "rate_in": _latest(history["in"]) if running else None,
        }
        row["metrics"] = {**metrics, **rates}
    else:
        row["metrics"] = None
    return row


def _sum(tasks: list[dict[str, Any]], field: str) -> float | None:
    """The tasks' latest rates added up; None if none is measured."""
    rates = [t["metrics"][field] for t in tasks if t["metrics"] and t["metrics"][field] is not None]
    return round(sum(rates), 1) if rates else None


def _worker_ids(statuses: Iterable[dict[str, Any]], extra: Iterable[str]) -> set[str]:
    ids = {t.get("worker_id", "") for s in statuses for t in s["tasks"]}
    ids |= {s["connector"].get("worker_id", "") for s in statuses}
    return ids | set(extra)


def _topics(app: App, status: dict[str, Any], config: dict[str, str]) -> dict[str, Any]:
    """The topics a connector reads or writes (tracked ones, else its config), and its DLQ."""
    tracked: list[str] = []
    if app.connect_settings.topic_tracking_enable:
        tracked = app.statuses.topics(status["name"])
    named = [t.strip() for t in config.get("topics", config.get("topic", "")).split(",")]
    topics = sorted({*tracked, *(t for t in named if t)})
    if not topics and config.get("topics.regex"):
        topics = [f"/{config['topics.regex']}/"]
    return {
        "topics": topics,
        "dlq_topic": config.get("errors.deadletterqueue.topic.name") or None,
    }


def _connector_row(
    app: App, status: dict[str, Any], tasks: list[dict[str, Any]], window: float
) -> dict[str, Any]:
    try:
        config = app.connectors.config(status["name"])
    except NotFound:
        config = {}
    parts = [{**t["history"]} for t in tasks if t["history"]["t"]]
    history = merge_series(parts)
    state = status["connector"]["state"]
    return {
        **status,
        "tasks": tasks,
        **_topics(app, status, config),
        "history": history,
        "rate": _sum(tasks, "rate") if state == "RUNNING" else None,
        "rate_in": _sum(tasks, "rate_in") if state == "RUNNING" else None,
        "failed": state == "FAILED" or any(t["state"] == "FAILED" for t in tasks),
        "actions": list(ACTIONS_BY_STATE.get(state, ("delete",))),
        "window": window,
    }


async def cluster_overview(app: App, authorization: str | None = None) -> dict[str, Any]:
    """Every connector, its tasks and their metrics (``GET /ui/api/overview``)."""
    herder = app.connectors
    statuses = []
    for name in herder.names():
        try:
            statuses.append(herder.status(name))
        except NotFound:  # deleted meanwhile
            continue
    moves = list(_history(app).moves)
    extra = {m["from"] for m in moves}
    window = OVERVIEW_WINDOW
    metrics, workers, series = await _gather(
        app, _worker_ids(statuses, extra), authorization, window
    )
    connectors = []
    for status in statuses:
        tasks = [
            _task_row(
                t,
                metrics.get((status["name"], int(t["id"]))),
                workers,
                series.get((status["name"], int(t["id"])), []),
            )
            for t in status["tasks"]
        ]
        connectors.append(_connector_row(app, status, tasks, window))
    return {
        "worker_id": app.connect_settings.worker_id,
        "workers": workers,
        "connectors": connectors,
        "moves": moves[::-1],
        "interval": _history(app).interval,
    }


async def connector_detail(app: App, name: str, authorization: str | None = None) -> dict[str, Any]:
    """One connector: masked config, status, tasks with metrics and history, offsets."""
    herder = app.connectors
    info = herder.info(name)
    status = herder.status(name)
    history = _history(app)
    extra = {m["from"] for m in history.moves}
    metrics, workers, series = await _gather(
        app, _worker_ids([status], extra), authorization, history.window
    )
    tasks = [
        _task_row(
            t, metrics.get((name, int(t["id"]))), workers, series.get((name, int(t["id"])), [])
        )
        for t in status["tasks"]
    ]
    row = _connector_row(app, status, tasks, history.window)
    return {
        **row,
        "name": name,
        "type": info["type"],
        "config": mask_config(info["config"]),
        "offsets": await _offsets(app, name),
        "workers": workers,
        "interval": history.interval,
    }


async def _offsets(app: App, name: str) -> list[dict[str, Any]]:
    # a sink's offsets are its consumer group's commits, read from the broker: bounded wait
    try:
        found = await asyncio.wait_for(app.connectors.offsets(name), PEER_TIMEOUT * 2)
    except (TimeoutError, OSError, ConnectError) as exc:
        return [{"partition": "unavailable", "offset": f"{type(exc).__name__}: {exc}"}]
    return list(found["offsets"])


# -- views ----------------------------------------------------------------------------------


class _DashboardView(View):
    @property
    def connect_app(self) -> App:
        app: App = self.app  # type: ignore[assignment]  # Faust types it as AppT
        return app

    def auth(self, request: Request) -> str | None:
        header: str | None = request.headers.get("Authorization")
        return header


@blueprint.route("/ui", name="ui")
class Overview(_DashboardView):
    """``GET /ui``: every connector and its tasks."""

    async def get(self, request: Request) -> Response:
        data = await cluster_overview(self.connect_app, self.auth(request))
        return self.html(overview_page(data))


@blueprint.route("/ui/api/overview", name="ui-overview")
class OverviewJson(_DashboardView):
    """``GET /ui/api/overview``."""

    async def get(self, request: Request) -> Response:
        return self.json(await cluster_overview(self.connect_app, self.auth(request)))


@blueprint.route("/ui/api/history", name="ui-history")
class HistoryJson(_DashboardView):
    """``GET /ui/api/history?window=<seconds>``: this worker's tasks' recent samples."""

    async def get(self, request: Request) -> Response:
        history = _history(self.connect_app)
        try:
            window = float(request.query.get("window", history.window))
        except ValueError:
            message = f"window must be a number of seconds, got {request.query['window']!r}"
            return self.json({"error_code": 400, "message": message}, status=400)
        return self.json(
            {
                "worker_id": self.connect_app.connect_settings.worker_id,
                "interval": history.interval,
                "tasks": history.series(max(window, 0.0)),
            }
        )


@blueprint.route("/ui/connectors/{name}", name="ui-connector")
class Detail(_DashboardView):
    """``GET /ui/connectors/{name}``: one connector."""

    async def get(self, request: Request, name: str) -> Response:
        try:
            data = await connector_detail(self.connect_app, name, self.auth(request))
        except NotFound as exc:
            return self.html(page("Not found", f"<h1>{escape(exc)}</h1>"), status=404)
        return self.html(detail_page(data))


@blueprint.route("/ui/api/connectors/{name}", name="ui-connector-json")
class DetailJson(_DashboardView):
    """``GET /ui/api/connectors/{name}``."""

    async def get(self, request: Request, name: str) -> Response:
        try:
            data = await connector_detail(self.connect_app, name, self.auth(request))
        except NotFound as exc:
            return self.json({"error_code": 404, "message": str(exc)}, status=404)
        return self.json(data)


@blueprint.route("/ui/new", name="ui-new")
class New(_DashboardView):
    """``GET /ui/new?plugin=``: the create form."""

    async def get(self, request: Request) -> Response:
        return self.html(form_page(None, request.query.get("plugin")))


@blueprint.route("/ui/connectors/{name}/edit", name="ui-edit")
class Edit(_DashboardView):
    """``GET /ui/connectors/{name}/edit``: the edit form."""

    async def get(self, request: Request, name: str) -> Response:
        return self.html(form_page(name, None))


@blueprint.route("/ui/static/{file}", name="ui-static")
class Static(_DashboardView):
    """The page script and style sheet (packaged with the module)."""

    async def get(self, request: Request, file: str) -> Response:
        kind = _STATIC.get(file)
        if kind is None:
            return self.text("not found", status=404)
        data = files("faust_connect.app.web").joinpath("ui", file).read_bytes()
        return self.bytes(data, content_type=kind)
