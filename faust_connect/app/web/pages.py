"""The dashboard's HTML, rendered on the server so pages read without JavaScript.

``ui/dashboard.js`` renders the same markup again from the JSON endpoints on every refresh
(and draws the charts, the flow view, the workers view and the DLQ table into the empty
containers left here), so both must change together.
"""

from __future__ import annotations

import html
import json
from typing import Any

__all__ = [
    "ACTIONS_BY_STATE",
    "detail_page",
    "escape",
    "form_page",
    "overview_page",
    "page",
    "render_overview",
    "render_workers",
]

#: The buttons a connector in each state gets (sent to dashboard.js as ``actions``).
ACTIONS_BY_STATE: dict[str, tuple[str, ...]] = {
    "RUNNING": ("pause", "stop", "restart", "delete"),
    "PAUSED": ("resume", "stop", "restart", "delete"),
    "STOPPED": ("resume", "delete"),
    "FAILED": ("restart", "stop", "delete"),
    "UNASSIGNED": ("restart", "delete"),
    "RESTARTING": ("delete",),
}


def escape(value: Any) -> str:
    """HTML-escaped text (None as empty)."""
    return html.escape("" if value is None else str(value))


def _cut(value: Any, cls: str = "cut") -> str:
    """A long name cut by the style sheet, whole on hover."""
    return f'<span class="{cls}" title="{escape(value)}">{escape(value)}</span>'


def page(title: str, body: str, script: str = "") -> str:
    """A whole page: header, ``body``, the confirmation dialog, the script and its call."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · faust-connect</title>
<link rel="stylesheet" href="/ui/static/dashboard.css"><link rel="icon" href="data:,">
</head><body>
<header><a href="/ui" class="brand">faust-connect</a>
<nav><a href="/ui">Connectors</a> <a href="/ui/new" id="new-connector">New connector</a>
<a href="/metrics">Metrics</a></nav></header>
<main>{body}</main>
<dialog id="confirm"><form method="dialog"><p id="confirm-text"></p>
<p><button value="cancel" id="confirm-cancel">Cancel</button>
<button value="ok" id="confirm-ok" class="danger">Confirm</button></p></form></dialog>
<script src="/ui/static/dashboard.js"></script>
<script>{script}</script>
</body></html>"""


def _num(value: Any) -> str:
    """A value, or "—" when it is not known (not measured yet, or not applicable)."""
    return "—" if value is None else escape(value)


def _task_cells(task: dict[str, Any]) -> str:
    m = task.get("metrics")
    trace = task.get("trace")
    worker = _cut(task.get("worker_id"), "cut wid")
    if task.get("worker_status", "ok") != "ok":
        worker += f' <span class="warn">{escape(task["worker_status"])}</span>'
    cells = [
        f'<td class="state state-{escape(task["state"])}">{escape(task["state"])}</td>',
        f"<td>{worker}</td>",
    ]
    if m is None:
        cells.append('<td colspan="5" class="muted">no metrics</td>')
    else:
        done = m.get("produced") if m.get("kind") == "source" else m.get("put")
        cells += [
            f'<td class="rate"><span class="value">{_num(m.get("rate"))}</span>'
            '<span class="spark"></span></td>',
            f"<td>{_num(done)}</td>",
            f"<td>{_num(m.get('lag') if m.get('kind') == 'sink' else None)}</td>",
            f"<td>{_num(m.get('errors'))}</td>",
            f"<td>{_num(m.get('dead_lettered'))}</td>",
        ]
    cells.append(
        f'<td class="trace-cell">{"<details><summary>trace</summary><pre class=trace>" + escape(trace) + "</pre></details>" if trace else ""}</td>'
    )
    return "".join(cells)


_RATE_TIP = (
    "records/s out (produced by a source, put by a sink); — until measured and while not RUNNING"
)
_TASK_HEAD = (
    f'<th>State</th><th>Worker</th><th title="{_RATE_TIP}">Records/s</th><th>Records</th>'
    "<th>Lag</th><th>Errors</th><th>DLQ</th><th>Trace</th>"
)
_LABELS = {
    "pause": "Pause",
    "resume": "Resume",
    "stop": "Stop",
    "restart": "Restart",
    "delete": "Delete",
}


def _buttons(name: str, state: str) -> str:
    n = escape(name)
    return " ".join(
        f'<button data-action="{a}" data-connector="{n}"{" class=danger" if a == "delete" else ""}>'
        f"{_LABELS[a]}</button>"
        for a in ACTIONS_BY_STATE.get(state, ("delete",))
    )


def render_overview(data: dict[str, Any]) -> str:
    """The connectors table (also re-rendered by the page's script)."""
    rows = []
    for c in data["connectors"]:
        name = escape(c["name"])
        conn = c["connector"]
        rows.append(
            f'<tr class="connector" data-connector="{name}">'
            f'<td><a href="/ui/connectors/{name}" class="cut name" title="{name}">{name}</a>'
            f' <span class="muted">{escape(c["type"])}</span></td>'
            f'<td class="state state-{escape(conn["state"])}">{escape(conn["state"])}</td>'
            f"<td>{_cut(conn.get('worker_id'), 'cut wid')}</td>"
            f'<td class="rate"><span class="value">{_num(c.get("rate"))}</span>'
            '<span class="spark"></span></td>'
            f'<td colspan="5" class="actions">{_buttons(c["name"], conn["state"])}</td></tr>'
        )
        if conn.get("trace"):
            rows.append(
                f'<tr class="connector-trace"><td></td><td colspan="8"><pre class="trace">{escape(conn["trace"])}</pre></td></tr>'
            )
        for t in c["tasks"]:
            rows.append(
                f'<tr class="task" data-connector="{name}" data-task="{escape(t["id"])}">'
                f'<td class="task-id">task {escape(t["id"])}</td>{_task_cells(t)}</tr>'
            )
    if not rows:
        rows.append('<tr><td colspan="9" class="muted">No connectors yet.</td></tr>')
    return "".join(rows)


def render_workers(workers: dict[str, str]) -> str:
    """The workers this page knows of, with how their metrics were fetched."""
    return "Workers: " + ", ".join(
        f'<code>{escape(w)}</code> <span class="{"muted" if state == "ok" else "warn"}">{escape(state)}</span>'
        for w, state in sorted(workers.items())
    )


def overview_page(data: dict[str, Any]) -> str:
    """``/ui``: the connectors table and the (script-drawn) flow and workers views."""
    body = f"""<h1>Connectors</h1>
<p class="muted">Worker <code>{escape(data["worker_id"])}</code>.
<span id="refreshed"></span></p>
<p id="workers">{render_workers(data["workers"])}</p>
<p id="message" role="status"></p>
<table id="connectors"><thead><tr><th>Connector / task</th>{_TASK_HEAD}</tr></thead>
<tbody>{render_overview(data)}</tbody></table>
<h2>Flow</h2>
<p class="muted">Sources → topics → sinks; edges carry records/s, failed parts are red.</p>
<div id="flow" class="panel"></div>
<h2>Workers</h2>
<p class="muted">Which worker runs which connector and task; moves after a rebalance are listed.</p>
<div id="workers-view" class="panel"></div>"""
    return page("Connectors", body, "FC.overview();")


def detail_page(data: dict[str, Any]) -> str:
    """``/ui/connectors/{name}``: state, actions, charts, tasks, DLQ, config, offsets."""
    name = escape(data["name"])
    config_rows = "".join(
        f"<tr><th>{escape(k)}</th><td><code>{escape(v)}</code></td></tr>"
        for k, v in sorted(data["config"].items())
    )
    offsets = (
        "".join(
            f"<tr><td><code>{escape(_compact(o['partition']))}</code></td><td><code>{escape(_compact(o['offset']))}</code></td></tr>"
            for o in data["offsets"]
        )
        or '<tr><td colspan="2" class="muted">none</td></tr>'
    )
    conn = data["connector"]
    tasks = "".join(
        f'<tr class="task" data-task="{escape(t["id"])}"><td>task {escape(t["id"])}</td>{_task_cells(t)}</tr>'
        for t in data["tasks"]
    )
    trace = f'<pre class="trace">{escape(conn["trace"])}</pre>' if conn.get("trace") else ""
    dead = ""
    if data.get("dlq_topic"):
        dead = f"""<h2>Dead letter queue <code>{escape(data["dlq_topic"])}</code></h2>
<div id="dlq" class="panel"><p class="muted">Loading…</p></div>"""
    body = f"""<h1>{_cut(data["name"], "cut title")} <span class="muted">{escape(data["type"])}</span></h1>
<p>State: <span id="connector-state" class="state state-{escape(conn["state"])}">{escape(conn["state"])}</span>
on <code>{escape(conn.get("worker_id"))}</code> <span id="actions">{_buttons(data["name"], conn["state"])}</span>
<a class="button" href="/ui/connectors/{name}/edit">Edit</a></p>
<p id="message" role="status"></p>{trace}
<h2>Last {int(data["window"] // 60)} minutes</h2>
<div id="charts" class="charts"></div>
<h2>Tasks</h2>
<table id="tasks"><thead><tr><th>Task</th>{_TASK_HEAD}</tr></thead><tbody>{tasks}</tbody></table>
{dead}
<h2>Config</h2><table id="config" class="kv"><tbody>{config_rows}</tbody></table>
<h2>Offsets</h2><table id="offsets"><thead><tr><th>Partition</th><th>Offset</th></tr></thead>
<tbody>{offsets}</tbody></table>
<div id="offsets-editor" class="panel"></div>"""
    return page(data["name"], body, f"FC.detail({_js(data['name'])});")


def _js(value: str) -> str:
    return json.dumps(value).replace("<", "\\u003c")


def _compact(value: Any) -> str:
    """JSON as the page script writes it (``JSON.stringify``)."""
    return json.dumps(value, separators=(",", ":"))


def form_page(name: str | None, plugin: str | None) -> str:
    """The create form (``name`` None) or the edit form, whose changes show as a diff."""
    title = f"Edit {name}" if name else "New connector"
    body = f"""<h1>{escape(title)}</h1>
<form id="connector-form" novalidate>
<p><label>Plugin <select id="plugin" name="connector.class" {"disabled" if name else ""}></select></label></p>
<div id="form-errors" class="error" role="alert"></div>
<div id="fields"></div>
<div id="diff" class="panel" hidden></div>
<p><button type="button" id="validate">Validate</button>
<button type="submit" id="save">{"Review changes" if name else "Create"}</button></p>
<p id="message" role="status"></p>
</form>"""
    args = f"{_js(name or '')}, {_js(plugin or '')}"
    return page(title, body, f"FC.form({args});")
