"""The Prometheus text of task metrics and Faust's monitor."""

from __future__ import annotations

import re

from faust.sensors import Monitor

from faust_connect.agents.runtime.task_metrics import TaskMetrics
from faust_connect.app.web.prometheus import render

SAMPLE = re.compile(
    r'^[a-z_]+(\{([a-z_]+="[^"]*",?)+\})? -?[0-9.e+]+$|^[a-z_]+(\{.*\})? (NaN|[+-]Inf)$'
)


def test_task_counters_and_gauges_with_connector_and_task_labels() -> None:
    sink = TaskMetrics("orders-sink", 1, "sink", consumed=10, put=9, errors=1, dead_lettered=1)
    sink.lag = 5
    sink.batch_seconds = 0.25
    source = TaskMetrics("gen", 0, "source", polled=7, produced=7, committed_at=1.0)
    text = render([sink.snapshot(), source.snapshot()])
    lines = text.splitlines()
    labels = '{connector="orders-sink",task="1",kind="sink"}'
    assert f"faust_connect_task_records_put_total{labels} 9" in lines
    assert f"faust_connect_task_records_consumed_total{labels} 10" in lines
    assert f"faust_connect_task_errors_total{labels} 1" in lines
    assert f"faust_connect_task_dead_lettered_total{labels} 1" in lines
    assert f"faust_connect_task_consumer_lag{labels} 5" in lines
    assert f"faust_connect_task_batch_latency_seconds{labels} 0.25" in lines
    assert (
        'faust_connect_task_records_produced_total{connector="gen",task="0",kind="source"} 7'
        in lines
    )
    assert "# TYPE faust_connect_task_records_put_total counter" in lines
    assert "# TYPE faust_connect_task_consumer_lag gauge" in lines
    assert "faust_connect_worker_tasks 2" in lines
    # only the source has committed: the sink has no commit age sample
    ages = [
        line for line in lines if line.startswith("faust_connect_task_offset_commit_age_seconds{")
    ]
    assert len(ages) == 1 and 'connector="gen"' in ages[0]
    for line in lines:
        assert line.startswith("# ") or SAMPLE.match(line), line


def test_label_values_are_escaped_and_faust_sensors_included() -> None:
    odd = TaskMetrics('we"ird\\name', 0, "sink").snapshot()
    monitor = Monitor()
    monitor.messages_received_total = 3
    text = render([odd], monitor=monitor)
    assert 'connector="we\\"ird\\\\name"' in text
    assert "faust_connect_faust_messages_received_total 3" in text.splitlines()
    assert text.endswith("\n")
