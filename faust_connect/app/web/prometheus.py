"""Worker metrics: Prometheus text at ``/metrics``, the raw task counters at ``/metrics.json``.

``/metrics`` has one series per connector task running on *this* worker (labels ``connector``,
``task``, ``kind``), from the runners' :class:`~faust_connect.agents.runtime.task_metrics.TaskMetrics`, and
Faust's own sensors from the app's default monitor (messages, events, table operations,
commit and send latency, rebalances). Scrape every worker: each reports its own tasks.

The text format (Prometheus exposition format 0.0.4) is written here rather than with
``prometheus_client``: every value is read from a snapshot at scrape time, so a registry of
long-lived Counter objects would only be copied into; Faust's ``PrometheusMonitor`` would
replace the app's monitor and register into the process-global registry (a second app in one
process then fails with duplicate names); and the format is a dozen lines.

``/metrics.json`` serves ``{"worker_id", "tasks": [TaskMetrics snapshot, ...]}``, which the
dashboard of any worker fetches to show the tasks running elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import faust
from aiohttp import web
from faust.web import Request, Response, View

__all__ = ["CONTENT_TYPE", "STATES", "TASK_METRICS", "blueprint", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "faust_connect"

#: (snapshot field, metric name, type, help) for every per-task series.
TASK_METRICS: list[tuple[str, str, str, str]] = [
    ("polled", "task_records_polled_total", "counter", "Records returned by poll (sources)."),
    ("produced", "task_records_produced_total", "counter", "Records acked by Kafka (sources)."),
    ("consumed", "task_records_consumed_total", "counter", "Records fetched from Kafka (sinks)."),
    ("put", "task_records_put_total", "counter", "Records handed to put (sinks)."),
    ("errors", "task_errors_total", "counter", "Records that failed."),
    ("retries", "task_retries_total", "counter", "Batch retries after retriable errors."),
    ("dead_lettered", "task_dead_lettered_total", "counter", "Records sent to the DLQ."),
    ("batches", "task_batches_total", "counter", "Batches completed."),
    ("batch_seconds", "task_batch_latency_seconds", "gauge", "Duration of the last batch."),
    ("lag", "task_consumer_lag", "gauge", "Records behind the end of the assigned partitions."),
    ("commit_age_seconds", "task_offset_commit_age_seconds", "gauge", "Seconds since the last offset commit."),
]  # fmt: skip

blueprint = faust.web.Blueprint("metrics")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, Any]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
    return "{" + inner + "}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


class _Text:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self, name: str, kind: str, doc: str, samples: Iterable[tuple[Mapping[str, Any], Any]]
    ) -> None:
        rows = [(labels, v) for labels, v in samples if isinstance(v, (int, float))]
        if not rows:
            return
        full = f"{PREFIX}_{name}"
        self.lines.append(f"# HELP {full} {_escape(doc)}")
        self.lines.append(f"# TYPE {full} {kind}")
        for labels, value in rows:
            self.lines.append(f"{full}{_labels(labels)} {_number(float(value))}")


def _task_families(out: _Text, tasks: list[dict[str, Any]]) -> None:
    out.family("worker_tasks", "gauge", "Tasks running on this worker.", [({}, len(tasks))])
    for field, name, kind, doc in TASK_METRICS:
        out.family(
            name,
            kind,
            doc,
            (
                ({"connector": t["connector"], "task": t["task"], "kind": t["kind"]}, t.get(field))
                for t in tasks
            ),
        )


def _avg(values: Iterable[float]) -> float | None:
    seen = list(values)
    return sum(seen) / len(seen) if seen else None


def _faust_families(out: _Text, monitor: Any) -> None:
    """Faust's default Monitor (``faust.sensors.Monitor``), as Prometheus series."""
    state = monitor.asdict()
    simple = [
        ("messages_received_total", "counter", "Messages received by Faust's consumer."),
        ("messages_sent", "counter", "Messages sent by Faust's producer."),
        ("messages_active", "gauge", "Messages being processed."),
        ("events_total", "counter", "Stream events processed."),
        ("events_active", "gauge", "Stream events being processed."),
        ("send_errors", "counter", "Producer send errors."),
        ("assignments_completed", "counter", "Partition assignments completed."),
        ("assignments_failed", "counter", "Partition assignments failed."),
        ("rebalances", "counter", "Rebalances seen."),
    ]
    for key, kind, doc in simple:
        name = key if key.endswith("_total") or kind == "gauge" else f"{key}_total"
        out.family(f"faust_{name}", kind, doc, [({}, state.get(key))])
    for key, doc in (
        ("messages_received_by_topic", "Messages received per topic."),
        ("messages_sent_by_topic", "Messages sent per topic."),
    ):
        counts = state.get(key) or {}
        out.family(
            f"faust_{key}_total", "counter", doc, (({"topic": t}, n) for t, n in counts.items())
        )
    for key, doc in (
        ("commit_latency", "Mean consumer commit latency (recent commits)."),
        ("send_latency", "Mean producer send latency (recent sends)."),
        ("events_runtime_avg", "Median stream event runtime."),
    ):
        value = state.get(key)
        mean = value if isinstance(value, (int, float)) else _avg(value or ())
        out.family(f"faust_{key.removesuffix('_avg')}_seconds", "gauge", doc, [({}, mean)])
    tables = state.get("tables") or {}
    for op in ("keys_retrieved", "keys_updated", "keys_deleted"):
        out.family(
            f"faust_table_{op}_total",
            "counter",
            f"Table {op.replace('_', ' ')}.",
            (({"table": name}, t.get(op)) for name, t in tables.items()),
        )
    for key, doc in (
        ("topic_committed_offsets", "Committed offset per partition."),
        ("topic_end_offsets", "End offset per partition."),
    ):
        offsets = state.get(key) or {}
        out.family(
            f"faust_{key.removeprefix('topic_')}",
            "gauge",
            doc,
            (
                ({"topic": topic, "partition": p}, o)
                for topic, parts in offsets.items()
                for p, o in parts.items()
            ),
        )


#: Kafka Connect's states: each unit has one series per state, 1 for the one it is in.
STATES = ("UNASSIGNED", "RUNNING", "PAUSED", "STOPPED", "FAILED", "RESTARTING")


def _state_families(out: _Text, units: list[tuple[str, int | None, str]]) -> None:
    """``connector_status`` and ``task_status`` (Kafka Connect's ``connector-status`` and
    ``task-status``), as Prometheus state sets: alert on ``faust_connect_task_status{state="FAILED"} == 1``.
    """
    connectors = [(c, s) for c, t, s in units if t is None]
    tasks = [(c, t, s) for c, t, s in units if t is not None]
    out.family(
        "connector_status",
        "gauge",
        "1 for the state a connector reported from this worker is in, else 0.",
        (({"connector": c, "state": st}, int(s == st)) for c, s in connectors for st in STATES),
    )
    out.family(
        "task_status",
        "gauge",
        "1 for the state a task reported from this worker is in, else 0.",
        (
            ({"connector": c, "task": t, "state": st}, int(s == st))
            for c, t, s in tasks
            for st in STATES
        ),
    )


def render(
    tasks: list[dict[str, Any]],
    *,
    monitor: Any = None,
    units: Sequence[tuple[str, int | None, str]] = (),
) -> str:
    """The Prometheus text for task snapshots, unit states and (optionally) a Faust monitor."""
    out = _Text()
    _task_families(out, tasks)
    _state_families(out, list(units))
    if monitor is not None and hasattr(monitor, "asdict"):
        _faust_families(out, monitor)
    return "\n".join(out.lines) + "\n"


def _own_units(app: Any) -> list[tuple[str, int | None, str]]:
    """``(connector, task or None, state)`` of every status this worker reported."""
    configs, statuses = getattr(app, "configs", None), getattr(app, "statuses", None)
    settings = getattr(app, "connect_settings", None)
    if configs is None or statuses is None or settings is None:
        return []
    out: list[tuple[str, int | None, str]] = []
    for state in configs.all():
        for task in (None, *range(len(state.tasks))):
            status = statuses.get(state.name, task)
            if status is not None and status.worker_id == settings.worker_id:
                out.append((state.name, task, status.state))
    return out


def _runtime_tasks(app: Any) -> list[dict[str, Any]]:
    runtime = getattr(app, "runtime", None)
    return list(runtime.task_metrics()) if runtime is not None else []


@blueprint.route("/metrics", name="metrics")
class Metrics(View):
    """``GET /metrics``: Prometheus text."""

    async def get(self, request: Request) -> Response:
        body = render(
            _runtime_tasks(self.app), monitor=self.app.monitor, units=_own_units(self.app)
        )
        # aiohttp refuses a charset in ``content_type``; the header is set whole instead
        response = web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
        return cast(Response, response)


@blueprint.route("/metrics.json", name="metrics-json")
class MetricsJson(View):
    """``GET /metrics.json``: this worker's task counters (read by every worker's dashboard)."""

    async def get(self, request: Request) -> Response:
        settings = getattr(self.app, "connect_settings", None)
        worker_id = settings.worker_id if settings is not None else ""
        return self.json({"worker_id": worker_id, "tasks": _runtime_tasks(self.app)})
