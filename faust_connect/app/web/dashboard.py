"""The worker's HTML dashboard at ``/ui``: connectors, tasks, metrics, and a config form.

Pages are rendered on the server (they read fine without JavaScript); ``ui/dashboard.js``
refreshes them from the JSON endpoints below without reloading, and its buttons and form call
Kafka Connect's REST API (pause, resume, restart, validate, create, patch), so the dashboard can
do nothing the API cannot.

Any worker shows the whole cluster: statuses come from the shared status table, and the counters
of tasks running on other workers are fetched from those workers' ``/metrics.json`` (their
``worker_id`` is ``host:port``); a worker that does not answer is marked unreachable and its
tasks are shown without metrics. Config values of PASSWORD keys and ``${provider:...}``
references are masked (:func:`~faust_connect.app.plugins.mask_config`).

JSON endpoints: ``GET /ui/api/overview`` (every connector with its tasks and their metrics) and
``GET /ui/api/connectors/{name}`` (one connector with its masked config and offsets).
"""

from __future__ import annotations

import asyncio
import html
import json
import time
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import faust
from faust.web import Request, Response, View

from faust_connect.app.plugins import mask_config
from faust_connect.exceptions import ConnectError, NotFound

if TYPE_CHECKING:
    from faust_connect.app.herder import Herder
    from faust_connect.app.worker import Worker

    class App(Worker, Protocol):
        """The app as the dashboard sees it: a worker with its herder."""

        @property
        def connectors(self) -> Herder:
            """The connectors' lifecycle."""


__all__ = ["PEER_TIMEOUT", "blueprint", "cluster_overview", "connector_detail"]

#: Seconds to wait for another worker's ``/metrics.json``.
PEER_TIMEOUT = 1.5
#: Rates are computed over at least this many seconds.
RATE_WINDOW = 1.0

blueprint = faust.web.Blueprint("dashboard")

_STATIC = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}
_samples: dict[tuple[str, str, int], tuple[float, int, float]] = {}


# -- data -----------------------------------------------------------------------------------


def _throughput(worker: str, metrics: dict[str, Any]) -> float:
    """Records/s of a task from successive counter samples (per worker process)."""
    total = int(
        metrics.get("produced", 0) if metrics.get("kind") == "source" else metrics.get("put", 0)
    )
    key = (worker, str(metrics["connector"]), int(metrics["task"]))
    now = time.monotonic()
    seen = _samples.get(key)
    if seen is None or total < seen[1]:
        _samples[key] = (now, total, 0.0)
        return 0.0
    at, before, rate = seen
    if now - at >= RATE_WINDOW:
        rate = (total - before) / (now - at)
        _samples[key] = (now, total, rate)
    return round(rate, 1)


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


async def _all_metrics(
    app: App, worker_ids: set[str], authorization: str | None
) -> tuple[dict[tuple[str, int], dict[str, Any]], dict[str, str]]:
    """Task metrics by (connector, task) from this worker and every other worker named."""
    own = app.connect_settings.worker_id
    found: dict[tuple[str, int], dict[str, Any]] = {}
    workers: dict[str, str] = {own: "ok"}
    for m in app.runtime.task_metrics():
        found[(m["connector"], int(m["task"]))] = {**m, "worker_id": own}
    others = sorted(w for w in worker_ids if w and w != own)
    if others:
        timeout = aiohttp.ClientTimeout(total=PEER_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            answers = await asyncio.gather(
                *(_peer_metrics(session, w, authorization) for w in others)
            )
        for worker_id, tasks, problem in answers:
            workers[worker_id] = problem or "ok"
            for m in tasks or ():
                found.setdefault((m["connector"], int(m["task"])), {**m, "worker_id": worker_id})
    return found, workers


def _task_row(
    task: dict[str, Any], metrics: dict[str, Any] | None, workers: dict[str, str]
) -> dict[str, Any]:
    row = dict(task)
    row["worker_status"] = workers.get(task.get("worker_id", ""), "ok")
    if metrics is not None:
        row["metrics"] = {**metrics, "rate": _throughput(metrics["worker_id"], metrics)}
    else:
        row["metrics"] = None
    return row


async def cluster_overview(app: App, authorization: str | None = None) -> dict[str, Any]:
    """Every connector, its tasks and their metrics (``GET /ui/api/overview``)."""
    herder = app.connectors
    statuses = []
    for name in herder.names():
        try:
            statuses.append(herder.status(name))
        except NotFound:  # deleted meanwhile
            continue
    worker_ids = {t.get("worker_id", "") for s in statuses for t in s["tasks"]}
    metrics, workers = await _all_metrics(app, worker_ids, authorization)
    connectors = []
    for status in statuses:
        tasks = [
            _task_row(t, metrics.get((status["name"], int(t["id"]))), workers)
            for t in status["tasks"]
        ]
        connectors.append({**status, "tasks": tasks})
    live = {(m["worker_id"], str(m["connector"]), int(m["task"])) for m in metrics.values()}
    for key in [key for key in _samples if key not in live]:  # tasks gone or moved
        del _samples[key]
    return {
        "worker_id": app.connect_settings.worker_id,
        "workers": workers,
        "connectors": connectors,
    }


async def connector_detail(app: App, name: str, authorization: str | None = None) -> dict[str, Any]:
    """One connector: masked config, status, tasks with metrics, offsets."""
    herder = app.connectors
    info = herder.info(name)
    status = herder.status(name)
    worker_ids = {t.get("worker_id", "") for t in status["tasks"]}
    metrics, workers = await _all_metrics(app, worker_ids, authorization)
    tasks = [_task_row(t, metrics.get((name, int(t["id"]))), workers) for t in status["tasks"]]
    return {
        "name": name,
        "type": info["type"],
        "config": mask_config(info["config"]),
        "connector": status["connector"],
        "tasks": tasks,
        "offsets": await _offsets(app, name),
        "workers": workers,
    }


async def _offsets(app: App, name: str) -> list[dict[str, Any]]:
    # a sink's offsets are its consumer group's commits, read from the broker: bounded wait
    try:
        found = await asyncio.wait_for(app.connectors.offsets(name), PEER_TIMEOUT * 2)
    except (TimeoutError, OSError, ConnectError) as exc:
        return [{"partition": "unavailable", "offset": f"{type(exc).__name__}: {exc}"}]
    return list(found["offsets"])


# -- HTML -----------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _page(title: str, body: str, script: str = "") -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} · faust-connect</title>
<link rel="stylesheet" href="/ui/static/dashboard.css"><link rel="icon" href="data:,">
</head><body>
<header><a href="/ui" class="brand">faust-connect</a>
<nav><a href="/ui">Connectors</a> <a href="/ui/new" id="new-connector">New connector</a>
<a href="/metrics">Metrics</a></nav></header>
<main>{body}</main>
<script src="/ui/static/dashboard.js"></script>
<script>{script}</script>
</body></html>"""


def _num(value: Any) -> str:
    return "-" if value is None else _e(value)


def _task_cells(task: dict[str, Any]) -> str:
    m = task.get("metrics")
    trace = task.get("trace")
    worker = _e(task.get("worker_id"))
    if task.get("worker_status", "ok") != "ok":
        worker += f' <span class="warn">{_e(task["worker_status"])}</span>'
    cells = [
        f'<td class="state state-{_e(task["state"])}">{_e(task["state"])}</td>',
        f"<td>{worker}</td>",
    ]
    if m is None:
        cells.append('<td colspan="5" class="muted">no metrics</td>')
    else:
        done = m.get("produced") if m.get("kind") == "source" else m.get("put")
        cells += [
            f"<td>{_num(m.get('rate'))}</td>",
            f"<td>{_num(done)}</td>",
            f"<td>{_num(m.get('lag'))}</td>",
            f"<td>{_num(m.get('errors'))}</td>",
            f"<td>{_num(m.get('dead_lettered'))}</td>",
        ]
    cells.append(
        f'<td class="trace-cell">{"<details><summary>trace</summary><pre class=trace>" + _e(trace) + "</pre></details>" if trace else ""}</td>'
    )
    return "".join(cells)


_TASK_HEAD = (
    "<th>State</th><th>Worker</th><th>Records/s</th><th>Records</th><th>Lag</th>"
    "<th>Errors</th><th>DLQ</th><th>Trace</th>"
)


def _buttons(name: str) -> str:
    n = _e(name)
    return (
        f'<button data-action="pause" data-connector="{n}">Pause</button> '
        f'<button data-action="resume" data-connector="{n}">Resume</button> '
        f'<button data-action="restart" data-connector="{n}">Restart</button>'
    )


def render_overview(data: dict[str, Any]) -> str:
    """The connectors table (also re-rendered by the page's script)."""
    rows = []
    for c in data["connectors"]:
        name = _e(c["name"])
        conn = c["connector"]
        rows.append(
            f'<tr class="connector" data-connector="{name}">'
            f'<td><a href="/ui/connectors/{name}">{name}</a> <span class="muted">{_e(c["type"])}</span></td>'
            f'<td class="state state-{_e(conn["state"])}">{_e(conn["state"])}</td>'
            f"<td>{_e(conn.get('worker_id'))}</td>"
            f'<td colspan="6">{_buttons(c["name"])}</td></tr>'
        )
        if conn.get("trace"):
            rows.append(
                f'<tr class="connector-trace"><td></td><td colspan="8"><pre class="trace">{_e(conn["trace"])}</pre></td></tr>'
            )
        for t in c["tasks"]:
            rows.append(
                f'<tr class="task" data-connector="{name}" data-task="{_e(t["id"])}">'
                f'<td class="task-id">task {_e(t["id"])}</td>{_task_cells(t)}</tr>'
            )
    if not rows:
        rows.append('<tr><td colspan="9" class="muted">No connectors yet.</td></tr>')
    return "".join(rows)


def render_workers(workers: dict[str, str]) -> str:
    """The workers this page knows of, with how their metrics were fetched."""
    return "Workers: " + ", ".join(
        f'<code>{_e(w)}</code> <span class="{"muted" if state == "ok" else "warn"}">{_e(state)}</span>'
        for w, state in sorted(workers.items())
    )


def _overview_page(data: dict[str, Any]) -> str:
    body = f"""<h1>Connectors</h1>
<p class="muted">Worker <code>{_e(data["worker_id"])}</code>.
<span id="refreshed"></span></p>
<p id="workers">{render_workers(data["workers"])}</p>
<p id="message" role="status"></p>
<table id="connectors"><thead><tr><th>Connector / task</th>{_TASK_HEAD}</tr></thead>
<tbody>{render_overview(data)}</tbody></table>"""
    return _page("Connectors", body, "FC.overview();")


def _detail_page(data: dict[str, Any]) -> str:
    name = _e(data["name"])
    config_rows = "".join(
        f"<tr><th>{_e(k)}</th><td><code>{_e(v)}</code></td></tr>"
        for k, v in sorted(data["config"].items())
    )
    offsets = (
        "".join(
            f"<tr><td><code>{_e(_compact(o['partition']))}</code></td><td><code>{_e(_compact(o['offset']))}</code></td></tr>"
            for o in data["offsets"]
        )
        or '<tr><td colspan="2" class="muted">none</td></tr>'
    )
    conn = data["connector"]
    tasks = "".join(
        f'<tr class="task" data-task="{_e(t["id"])}"><td>task {_e(t["id"])}</td>{_task_cells(t)}</tr>'
        for t in data["tasks"]
    )
    trace = f'<pre class="trace">{_e(conn["trace"])}</pre>' if conn.get("trace") else ""
    body = f"""<h1>{name} <span class="muted">{_e(data["type"])}</span></h1>
<p>State: <span id="connector-state" class="state state-{_e(conn["state"])}">{_e(conn["state"])}</span>
on <code>{_e(conn.get("worker_id"))}</code> {_buttons(data["name"])}
<a class="button" href="/ui/connectors/{name}/edit">Edit</a></p>
<p id="message" role="status"></p>{trace}
<h2>Tasks</h2>
<table id="tasks"><thead><tr><th>Task</th>{_TASK_HEAD}</tr></thead><tbody>{tasks}</tbody></table>
<h2>Config</h2><table id="config" class="kv"><tbody>{config_rows}</tbody></table>
<h2>Offsets</h2><table id="offsets"><thead><tr><th>Partition</th><th>Offset</th></tr></thead>
<tbody>{offsets}</tbody></table>"""
    return _page(data["name"], body, f"FC.detail({_js(data['name'])});")


def _js(value: str) -> str:
    return json.dumps(value).replace("<", "\\u003c")


def _compact(value: Any) -> str:
    """JSON as the page script writes it (``JSON.stringify``)."""
    return json.dumps(value, separators=(",", ":"))


def _form_page(name: str | None, plugin: str | None) -> str:
    title = f"Edit {name}" if name else "New connector"
    body = f"""<h1>{_e(title)}</h1>
<form id="connector-form" novalidate>
<p><label>Plugin <select id="plugin" name="connector.class" {"disabled" if name else ""}></select></label></p>
<div id="form-errors" class="error" role="alert"></div>
<div id="fields"></div>
<p><button type="button" id="validate">Validate</button>
<button type="submit" id="save">{"Save" if name else "Create"}</button></p>
<p id="message" role="status"></p>
</form>"""
    args = f"{_js(name or '')}, {_js(plugin or '')}"
    return _page(title, body, f"FC.form({args});")


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
        return self.html(_overview_page(data))


@blueprint.route("/ui/api/overview", name="ui-overview")
class OverviewJson(_DashboardView):
    """``GET /ui/api/overview``."""

    async def get(self, request: Request) -> Response:
        return self.json(await cluster_overview(self.connect_app, self.auth(request)))


@blueprint.route("/ui/connectors/{name}", name="ui-connector")
class Detail(_DashboardView):
    """``GET /ui/connectors/{name}``: one connector."""

    async def get(self, request: Request, name: str) -> Response:
        try:
            data = await connector_detail(self.connect_app, name, self.auth(request))
        except NotFound as exc:
            return self.html(_page("Not found", f"<h1>{_e(exc)}</h1>"), status=404)
        return self.html(_detail_page(data))


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
        return self.html(_form_page(None, request.query.get("plugin")))


@blueprint.route("/ui/connectors/{name}/edit", name="ui-edit")
class Edit(_DashboardView):
    """``GET /ui/connectors/{name}/edit``: the edit form."""

    async def get(self, request: Request, name: str) -> Response:
        return self.html(_form_page(name, None))


@blueprint.route("/ui/static/{file}", name="ui-static")
class Static(_DashboardView):
    """The page script and style sheet (packaged with the module)."""

    async def get(self, request: Request, file: str) -> Response:
        kind = _STATIC.get(file)
        if kind is None:
            return self.text("not found", status=404)
        data = files("faust_connect.app.web").joinpath("ui", file).read_bytes()
        return self.bytes(data, content_type=kind)
