"""The dashboard in headless Chromium, the plugin and metrics endpoints, and authentication.

One worker process (tests.apps.worker) serves every test in this module; a second,
with authentication on, serves the auth test. The browser is Debian's /usr/bin/chromium driven
by Playwright; screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from tests.conftest import Broker
from tests.kafka import consume, produce
from tests.workers import Worker, WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
STRINGS = {
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.storage.StringConverter",
}
FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
USER, PASSWORD, TOKEN = "admin", "s3cret:pw", "test-token-123"


def _uid() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def worker(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    factory = WorkerFactory(tmp_path_factory.mktemp("dashboard"))
    try:
        yield factory.start("tests.apps.worker", bootstrap=broker.bootstrap)
    finally:
        factory.stop_all()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs chromium and chromium-driver")
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        page.close()
    assert errors == [], errors


def _produce(broker: Broker, topic: str, values: list[bytes]) -> None:
    # Playwright's sync API runs an event loop in this thread: produce from another one
    records = [(None, value) for value in values]
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, produce(broker.bootstrap, topic, records)).result()


def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


# -- REST contract: plugins, config definitions, validate, metrics ---------------------------


def test_connector_plugins_lists_connectors_unless_asked_for_all(worker: Worker) -> None:
    rest = worker.rest
    only = rest.get("/connector-plugins")
    assert {p["type"] for p in only} == {"source", "sink"}
    assert rest.get("/connector-plugins?connectorsOnly=true") == only
    assert {"class": FILE_SOURCE, "type": "source", "version": "1.0.0"} in only
    everything = rest.get("/connector-plugins?connectorsOnly=false")
    assert {p["type"] for p in everything} == {
        "source",
        "sink",
        "converter",
        "header_converter",
        "transformation",
        "predicate",
    }
    assert {
        "class": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        "type": "predicate",
        "version": "0.1.0",
    } in everything


def test_plugin_config_definitions_and_unknown_plugin(worker: Worker) -> None:
    rest = worker.rest
    defs = rest.get(f"/connector-plugins/{FILE_SOURCE}/config")
    by_name = {d["name"]: d for d in defs}
    assert by_name["batch.size"] == {
        "name": "batch.size",
        "type": "INT",
        "required": False,
        "default_value": "2000",
        "importance": "MEDIUM",
        "documentation": "The maximum number of records the task returns per poll.",
        "group": "FileStreamSourceConnector",
        "order": 3,
        "width": "SHORT",
        "display_name": "Batch size",
        "dependents": [],
    }
    assert by_name["topic"]["required"] is True
    assert by_name["name"]["group"] == "Common"
    assert rest.get("/connector-plugins/FileStreamSource/config") == defs
    smt = rest.get("/connector-plugins/org.apache.kafka.connect.transforms.RegexRouter/config")
    assert {d["name"] for d in smt} == {"regex", "replacement"}
    assert rest.call("GET", "/connector-plugins/NoSuchPlugin/config") == (
        404,
        {"error_code": 404, "message": "Unknown plugin NoSuchPlugin."},
    )


def test_validate_returns_configinfos_with_per_key_errors(worker: Worker) -> None:
    rest = worker.rest
    good = {"connector.class": FILE_SOURCE, "name": "v", "topic": "t", "file": "/tmp/x"}
    status, body = rest.call("PUT", f"/connector-plugins/{FILE_SOURCE}/config/validate", good)
    assert status == 200
    assert body["name"] == FILE_SOURCE and body["error_count"] == 0
    assert body["groups"][0] == "Common"
    entry = next(c for c in body["configs"] if c["definition"]["name"] == "topic")
    assert entry["value"] == {
        "name": "topic",
        "value": "t",
        "recommended_values": [],
        "errors": [],
        "visible": True,
    }

    bad = {**good, "batch.size": "0", "tasks.max": "many"}
    del bad["topic"]
    status, body = rest.call("PUT", "/connector-plugins/FileStreamSource/config/validate", bad)
    # Kafka counts messages, and "many" for tasks.max gets two ("Not a number", non-null)
    assert status == 200 and body["error_count"] == 4
    errors = {c["definition"]["name"]: c["value"]["errors"] for c in body["configs"]}
    assert errors["topic"] == ['Missing required configuration "topic" which has no default value.']
    assert errors["batch.size"] and errors["tasks.max"]
    assert errors["file"] == []

    mismatch = {**good, "connector.class": "FileStreamSink"}
    status, body = rest.call("PUT", f"/connector-plugins/{FILE_SOURCE}/config/validate", mismatch)
    assert status == 400 and body["error_code"] == 400
    assert "does not match" in body["message"]
    status, body = rest.call("PUT", "/connector-plugins/Nope/config/validate", {"name": "x"})
    assert (status, body["error_code"]) == (404, 404)


def test_metrics_endpoints_report_this_workers_tasks(worker: Worker) -> None:
    rest = worker.rest
    name, topic = f"counted-{_uid()}", f"counted-{_uid()}"
    rest.create(
        name, {"connector.class": "CountingSource", "topic": topic, "count": "120", **STRINGS}
    )
    line = f'faust_connect_task_records_produced_total{{connector="{name}",task="0",kind="source"}} 120'
    wait_until(lambda: line in _text(worker.url + "/metrics"), what="120 produced in /metrics")
    text = _text(worker.url + "/metrics")
    labels = f'{{connector="{name}",task="0",kind="source"}}'
    assert f"faust_connect_task_records_polled_total{labels} 120" in text
    assert "# TYPE faust_connect_task_records_produced_total counter" in text
    assert f"faust_connect_task_consumer_lag{labels} 0" in text
    assert "faust_connect_faust_messages_received_total" in text  # Faust's own sensors
    snapshot = rest.get("/metrics.json")
    assert snapshot["worker_id"] == worker.url.removeprefix("http://")
    mine = [t for t in snapshot["tasks"] if t["connector"] == name]
    assert mine[0]["produced"] == 120 and mine[0]["kind"] == "source"
    assert rest.call("DELETE", f"/connectors/{name}")[0] == 204


def _text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return str(response.read().decode())


# -- the dashboard in a browser ------------------------------------------------------------


def test_dashboard_lists_a_running_connector_and_pauses_it(
    worker: Worker, page: Page, tmp_path: Path
) -> None:
    rest = worker.rest
    name = f"listed-{_uid()}"
    rest.create(
        name,
        {
            "connector.class": "FileStreamSink",
            "topics": f"t-{_uid()}",
            "file": str(tmp_path / "out.txt"),
            **STRINGS,
        },
    )
    wait_until(lambda: rest.state(name) == ("RUNNING", ["RUNNING"]), what="running")
    page.goto(worker.url + "/ui")
    row = page.locator(f'tr.connector[data-connector="{name}"]')
    expect(row).to_contain_text("RUNNING")
    task = page.locator(f'tr.task[data-connector="{name}"]')
    expect(task).to_contain_text("RUNNING")
    expect(task).to_contain_text(worker.url.removeprefix("http://"))

    row.locator('button[data-action="pause"]').click()
    wait_until(lambda: rest.state(name) == ("PAUSED", ["PAUSED"]), what="paused via the button")
    expect(row.locator("td.state")).to_have_text("PAUSED")  # refreshed without a reload
    _screenshot(page, "dashboard-overview.png")
    row.locator('button[data-action="resume"]').click()
    wait_until(lambda: rest.state(name) == ("RUNNING", ["RUNNING"]), what="resumed")


def test_a_failed_task_shows_its_trace(worker: Worker, broker: Broker, page: Page) -> None:
    rest = worker.rest
    name, topic = f"exploding-{_uid()}", f"boom-{_uid()}"
    rest.create(name, {"connector.class": "ExplodingSink", "topics": topic, **STRINGS})
    wait_until(lambda: rest.state(name) == ("RUNNING", ["RUNNING"]), what="running")
    page.goto(f"{worker.url}/ui/connectors/{name}")
    expect(page.locator("#tasks")).to_contain_text("RUNNING")
    _produce(broker, topic, [b"ok", b"boom"])
    wait_until(lambda: rest.state(name)[1] == ["FAILED"], what="the task to fail")
    failed = page.locator('#tasks tr.task[data-task="0"]')
    expect(failed.locator("td.state")).to_have_text("FAILED")  # picked up by the refresh
    failed.locator("summary").click()
    trace = failed.locator("pre.trace")
    expect(trace).to_be_visible()
    expect(trace).to_contain_text("RuntimeError: boom at offset 1")
    expect(trace).to_contain_text("Traceback")
    _screenshot(page, "dashboard-failed-task.png")
    page.goto(worker.url + "/ui")
    expect(page.locator(f'tr.task[data-connector="{name}"] td.state')).to_have_text("FAILED")


def test_form_shows_a_fields_error_then_creates_a_running_connector(
    worker: Worker, page: Page, tmp_path: Path
) -> None:
    rest = worker.rest
    name, source = f"formed-{_uid()}", tmp_path / "in.txt"
    source.write_text("a\nb\nc\n")
    page.goto(worker.url + "/ui/new")
    page.select_option("#plugin", FILE_SOURCE)
    page.fill('[name="name"]', name)
    page.fill('[name="topic"]', f"formed-{_uid()}")
    page.fill('[name="file"]', str(source))
    page.fill('[name="batch.size"]', "0")
    page.click("#save")
    error = page.locator('[data-error-for="batch.size"]')
    expect(error).to_contain_text("Value must be at least 1")  # Kafka's words
    expect(page.locator('.field[data-key="topic"] [data-error-for]')).to_have_text("")
    _screenshot(page, "dashboard-form-error.png")
    assert rest.call("GET", f"/connectors/{name}")[0] == 404  # nothing was saved

    page.fill('[name="batch.size"]', "2")
    page.click("#save")
    page.wait_for_url(f"**/ui/connectors/{name}")
    wait_until(lambda: rest.state(name) == ("RUNNING", ["RUNNING"]), what="the created connector")
    assert rest.get(f"/connectors/{name}/config")["batch.size"] == "2"
    wait_until(
        lambda: (
            rest.get(f"/connectors/{name}/offsets")["offsets"]
            == [{"partition": {"filename": str(source)}, "offset": {"position": 6}}]
        ),
        what="the file read to its end",
    )


def test_form_adds_the_fields_of_a_transform_named_in_it(worker: Worker, page: Page) -> None:
    name, topic = f"masking-{_uid()}", f"masking-{_uid()}"
    page.goto(f"{worker.url}/ui/new?plugin=org.apache.kafka.connect.file.FileStreamSinkConnector")
    page.fill('[name="name"]', name)
    page.fill('[name="topics"]', topic)
    page.fill('[name="transforms"]', "mask")
    page.click("#validate")
    page.fill(
        '[name="transforms.mask.type"]', "org.apache.kafka.connect.transforms.MaskField$Value"
    )
    page.click("#validate")
    expect(page.locator('[data-error-for="transforms.mask.fields"]')).to_have_text(
        "Missing required configuration with no default value."
    )
    page.fill('[name="transforms.mask.fields"]', "card")
    page.click("#save")
    page.wait_for_url(f"**/ui/connectors/{name}")
    assert worker.rest.get(f"/connectors/{name}/config") == {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "name": name,
        "topics": topic,
        "transforms": "mask",
        "transforms.mask.type": "org.apache.kafka.connect.transforms.MaskField$Value",
        "transforms.mask.fields": "card",
    }  # defaults left alone are not written


def test_connector_page_masks_secrets_and_shows_offsets(
    worker: Worker, page: Page, tmp_path: Path
) -> None:
    rest = worker.rest
    name, source = f"masked-{_uid()}", tmp_path / "in.txt"
    source.write_text("x\n")
    secrets = tmp_path / "secrets.properties"
    secrets.write_text("url=postgresql://db.example/app\n")
    config = {
        "connector.class": FILE_SOURCE,
        "file": str(source),
        "topic": f"masked-{_uid()}",
        "connection.password": "s3cret-value",
        "database.url": f"${{file:{secrets}:url}}",
        **STRINGS,
    }
    rest.create(name, config)
    assert _stored_config(worker, name)["connection.password"] == "s3cret-value"
    assert rest.get(f"/connectors/{name}/config")["connection.password"] == "********"
    wait_until(lambda: rest.get(f"/connectors/{name}/offsets")["offsets"], what="an offset")
    page.goto(f"{worker.url}/ui/connectors/{name}")
    content = page.content()
    assert "s3cret-value" not in content and "secrets.properties" not in content
    expect(page.locator("#config")).to_contain_text("connection.password")
    expect(page.locator("#config")).to_contain_text("********")
    expect(page.locator("#offsets")).to_contain_text('{"position":2}')
    detail = json.loads(_get(f"{worker.url}/ui/api/connectors/{name}")[1])
    assert detail["config"]["connection.password"] == "********"
    assert detail["config"]["database.url"] == "********"

    # editing changes what was edited; masked values stay as stored
    page.click("a.button:has-text('Edit')")
    expect(page.locator('[name="batch.size"]')).to_have_value("2000")
    expect(page.locator('[name="name"]')).not_to_be_editable()
    page.fill('[name="batch.size"]', "5")
    page.click("#save")  # the diff first; nothing is written before Apply
    change = page.locator('#diff-table tr[data-key="batch.size"]')
    expect(change.locator("td.before")).to_contain_text("not set")
    expect(change.locator("td.after")).to_have_text("5")
    expect(page.locator("#diff-table tbody tr")).to_have_count(1)  # masked values unchanged
    _screenshot(page, "dashboard-config-diff.png")
    assert "batch.size" not in _stored_config(worker, name)
    page.click("#apply")
    page.wait_for_url(f"**/ui/connectors/{name}")
    wait_until(
        lambda: _stored_config(worker, name) == {**config, "name": name, "batch.size": "5"},
        what="the edit stored, with the masked values as they were",
    )


def _stored_config(worker: Worker, name: str) -> dict[str, str]:
    """A connector's config as stored in the cluster's config topic (not through the API)."""
    # Playwright's sync API runs an event loop in this thread: read the topic from another one
    with ThreadPoolExecutor(1) as pool:
        reading = consume(worker.bootstrap, f"{worker.group_id}-configs", 10**6, timeout=3)
        records = pool.submit(asyncio.run, reading).result()
    latest = [r for r in records if r.key == f"connector-{name}".encode() and r.value]
    return dict(orjson.loads(latest[-1].value)["properties"]) if latest else {}


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


# -- authentication --------------------------------------------------------------------------


def _call(
    worker: Worker,
    method: str,
    path: str,
    body: Any = None,
    auth: str | None = None,
    origin: str | None = None,
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(worker.url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if auth:
        request.add_header("Authorization", auth)
    if origin:
        request.add_header("Origin", origin)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw and path != "/metrics" else raw
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def test_authentication_refuses_requests_without_credentials(
    broker: Broker, workers: WorkerFactory, page: Page
) -> None:
    secured = workers.start(
        "tests.apps.worker",
        bootstrap=broker.bootstrap,
        env={
            "CONNECT_REST_AUTH_BASIC_USERS": f"{USER}:{PASSWORD}",
            "CONNECT_REST_AUTH_BEARER_TOKENS": TOKEN,
        },
    )
    basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    bearer = f"Bearer {TOKEN}"
    refused = {"error_code": 401, "message": "User cannot access the resource."}
    config = {"connector.class": "CountingSource", "topic": f"a-{_uid()}", "count": "1"}
    for method, path, body in [
        ("GET", "/connectors", None),
        ("POST", "/connectors", {"name": "sneaky", "config": config}),
        ("PUT", "/connector-plugins/CountingSource/config/validate", config),
        ("GET", "/ui", None),
        ("GET", "/ui/api/history", None),
        ("GET", "/metrics", None),
        ("GET", "/faust-connect/connectors/ok/dlq", None),
        ("POST", "/faust-connect/connectors/ok/dlq/replay", {"offsets": [0]}),
        ("POST", "/faust-connect/connectors/ok/dlq/discard", {"offsets": [0]}),
    ]:
        for auth in (None, "Basic " + base64.b64encode(b"admin:wrong").decode(), "Bearer x"):
            assert _call(secured, method, path, body, auth) == (401, refused), (method, path)
    assert _call(secured, "GET", "/connectors", auth=basic) == (200, [])  # nothing was created

    status, info = _call(secured, "POST", "/connectors", {"name": "ok", "config": config}, basic)
    assert status == 201 and info["name"] == "ok"
    assert _call(secured, "GET", "/connectors", auth=bearer) == (200, ["ok"])
    assert _call(secured, "GET", "/metrics", auth=bearer)[0] == 200
    assert _get(secured.url + "/ui", {"Authorization": basic})[0] == 200
    assert _call(secured, "GET", "/faust-connect/connectors/ok/dlq", auth=bearer) == (
        404,
        {
            "error_code": 404,
            "message": "Connector ok has no dead letter queue: set "
            "errors.deadletterqueue.topic.name (with errors.tolerance=all) to have one.",
        },
    )

    # a signed-in browser: the dashboard's own writes (same origin) go through
    page.set_extra_http_headers({"Authorization": basic})
    page.goto(secured.url + "/ui")
    page.locator('tr.connector[data-connector="ok"] button[data-action="pause"]').click()
    wait_until(
        lambda: (
            _call(secured, "GET", "/connectors/ok/status", auth=bearer)[1]["connector"]["state"]
            == "PAUSED"
        ),
        what="paused from the dashboard with credentials",
    )
    # a write from another site is refused even with credentials
    status, body = _call(
        secured, "PUT", "/connectors/ok/resume", auth=basic, origin="https://x.example"
    )
    assert status == 403 and body["error_code"] == 403


# -- a cluster: any worker shows every worker's tasks ------------------------------------------

FAST_GROUP = {
    "CONNECT_SESSION_TIMEOUT_MS": "6000",
    "CONNECT_HEARTBEAT_INTERVAL_MS": "1000",
    "CONNECT_REBALANCE_TIMEOUT_MS": "6000",
}


def _overview(worker: Worker) -> dict[str, Any]:
    return dict(worker.rest.get("/ui/api/overview"))


def test_any_worker_shows_metrics_of_tasks_on_other_workers_and_survives_one_down(
    broker: Broker, workers: WorkerFactory, page: Page
) -> None:
    group, topic, tasks = f"ui-{_uid()}", f"stamps-{_uid()}", 6
    w1, w2 = (
        workers.start(
            "tests.apps.worker", bootstrap=broker.bootstrap, group_id=group, env=FAST_GROUP
        )
        for _ in range(2)
    )
    ids = {w.url.removeprefix("http://") for w in (w1, w2)}
    w1.rest.create(
        "stamps",
        {"connector.class": "StampSource", "tasks.max": str(tasks), "topic": topic, **STRINGS},
    )

    seen: list[Any] = []

    def spread() -> list[dict[str, Any]] | None:
        rows = [t for c in _overview(w1)["connectors"] for t in c["tasks"]]
        seen[:] = rows
        if len(rows) != tasks or {t["worker_id"] for t in rows} != ids:
            return None
        if any(t["metrics"] is None for t in rows):
            return None
        return rows

    try:
        rows = wait_until(spread, timeout=90, what="tasks on both workers, each with metrics")
    except AssertionError:
        raise AssertionError(json.dumps(seen, indent=1)) from None
    for row in rows:  # the metrics are those of the worker that runs the task
        assert row["metrics"]["worker_id"] == row["worker_id"]
    assert _overview(w1)["workers"] == dict.fromkeys(ids, "ok")

    w2.kill()  # its tasks still show it as their worker until the group notices
    down = w2.url.removeprefix("http://")
    view = _overview(w1)
    assert view["workers"][down].startswith("unreachable")
    stale = [t for c in view["connectors"] for t in c["tasks"] if t["worker_id"] == down]
    assert stale and all(t["metrics"] is None for t in stale)
    page.goto(w1.url + "/ui")
    expect(page.locator("#connectors")).to_contain_text("unreachable")
    expect(page.locator("#connectors")).to_contain_text("RUNNING")
    expect(page.locator("#workers")).to_contain_text(f"{down} unreachable")
    _screenshot(page, "dashboard-worker-down.png")

    # the workers view: which worker runs which task, and the moves when the group rebalances
    up = w1.url.removeprefix("http://")
    card = page.locator(f'.worker[data-worker="{up}"]')
    expect(card.locator("li[data-task]").first).to_be_visible()
    moved = {f"stamps/{t['id']}" for t in stale}
    wait_until(
        lambda: {f"{m['connector']}/{m['task']}" for m in _overview(w1)["moves"]} >= moved,
        timeout=90,
        what="the dead worker's tasks moved to the live one",
    )
    latest: dict[str, tuple[str, str]] = {}
    for move in reversed(_overview(w1)["moves"]):  # newest first: keep the last of each task
        latest[f"{move['connector']}/{move['task']}"] = (move["from"], move["to"])
    assert {latest[task] for task in moved} == {(down, up)}
    expect(card.locator("li[data-task]")).to_have_count(tasks)
    for task in moved:
        expect(page.locator(f'#moves li.move[data-task="{task}"]').first).to_contain_text(
            f"moved from {down} to {up}"
        )
    _screenshot(page, "dashboard-workers-after-rebalance.png")


# -- pictures: charts, sparklines, the flow view -----------------------------------------------


def _points(page: Page, selector: str) -> int:
    found = page.locator(selector)
    if found.count() == 0:
        return 0
    return int(found.first.get_attribute("data-points") or 0)


def test_charts_and_sparklines_update_and_a_paused_task_has_no_rate(
    worker: Worker, page: Page
) -> None:
    rest = worker.rest
    name, topic = f"charted-{_uid()}", f"charted-{_uid()}"
    rest.create(
        name, {"connector.class": "StampSource", "topic": topic, "interval.ms": "20", **STRINGS}
    )
    wait_until(lambda: rest.state(name) == ("RUNNING", ["RUNNING"]), what="running")
    page.goto(f"{worker.url}/ui/connectors/{name}")
    rates = 'figure.chart[data-chart="connector records/s"]'
    first = wait_until(lambda: _points(page, rates) >= 2, timeout=30, what="two measured rates")
    assert first
    seen = _points(page, rates)
    wait_until(lambda: _points(page, rates) > seen, timeout=30, what="the chart to grow")
    assert page.locator('.chart-row[data-unit="task-0"] figure.chart').count() == 2  # rate, age
    rate = page.locator('#tasks tr.task[data-task="0"] td.rate .value')
    wait_until(lambda: float(rate.inner_text()) > 0, what="a measured rate above 0")
    _screenshot(page, "dashboard-charts.png")

    page.goto(worker.url + "/ui")
    row = page.locator(f'tr.connector[data-connector="{name}"]')
    expect(row.locator("svg.sparkline")).to_be_visible()
    expect(page.locator(f'tr.task[data-connector="{name}"] svg.sparkline')).to_be_visible()
    row.locator('button[data-action="pause"]').click()
    wait_until(lambda: rest.state(name) == ("PAUSED", ["PAUSED"]), what="paused")
    task = page.locator(f'tr.task[data-connector="{name}"]')
    expect(task.locator("td.rate .value")).to_have_text("—")  # not 0: no rate while paused
    expect(row.locator("td.rate .value")).to_have_text("—")
    expect(task.locator("svg.sparkline")).to_have_count(0)
    body = _overview(worker)
    paused = next(c for c in body["connectors"] if c["name"] == name)
    assert paused["rate"] is None and paused["tasks"][0]["metrics"]["rate"] is None
    assert rest.call("DELETE", f"/connectors/{name}")[0] == 204


def test_flow_view_shows_sources_topics_and_sinks_with_rates_and_marks_failures(
    worker: Worker, broker: Broker, page: Page, tmp_path: Path
) -> None:
    rest = worker.rest
    source, sink, broken = f"flow-src-{_uid()}", f"flow-sink-{_uid()}", f"flow-bad-{_uid()}"
    topic, other = f"flow-{_uid()}", f"flow-boom-{_uid()}"
    rest.create(
        source, {"connector.class": "StampSource", "topic": topic, "interval.ms": "20", **STRINGS}
    )
    rest.create(
        sink,
        {
            "connector.class": "FileStreamSink",
            "topics": topic,
            "file": str(tmp_path / "flow.txt"),
            **STRINGS,
        },
    )
    rest.create(broken, {"connector.class": "ExplodingSink", "topics": other, **STRINGS})
    _produce(broker, other, [b"boom"])
    wait_until(lambda: rest.state(broken)[1] == ["FAILED"], what="the exploding sink to fail")
    page.goto(worker.url + "/ui")
    svg = page.locator("#flow-svg")
    expect(svg.locator(f'g.node.source[data-connector="{source}"]')).to_be_visible()
    expect(svg.locator(f'g.node.topic[data-topic="{topic}"]')).to_be_visible()
    expect(svg.locator(f'g.node.sink[data-connector="{sink}"]')).to_be_visible()
    expect(svg.locator(f'g.node.sink.failed[data-connector="{broken}"]')).to_be_visible()
    expect(svg.locator(f'g.edge.failed[data-from="{other}"][data-to="{broken}"]')).to_have_count(1)
    out_edge = svg.locator(f'g.edge[data-from="{source}"][data-to="{topic}"] text')
    in_edge = svg.locator(f'g.edge[data-from="{topic}"][data-to="{sink}"] text')
    expect(out_edge).to_have_text(re.compile(r"^[1-9][\d.]*k?/s$"))  # measured, above 0
    expect(in_edge).to_have_text(re.compile(r"^[1-9][\d.]*k?/s$"))
    title = svg.locator(f'g.node.source[data-connector="{source}"] title')
    assert source in (title.text_content() or "")
    _screenshot(page, "dashboard-flow.png")
    for name in (source, sink, broken):
        assert rest.call("DELETE", f"/connectors/{name}")[0] == 204


# -- the dead letter queue in the browser ------------------------------------------------------


def test_dlq_browse_replay_after_a_fix_and_discard(
    worker: Worker, broker: Broker, page: Page, tmp_path: Path
) -> None:
    rest = worker.rest
    name, topic, dlq, out = f"dlq-ui-{_uid()}", f"dlq-in-{_uid()}", f"dlq-{_uid()}", tmp_path / "o"
    json_values = {
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    }
    rest.create(
        name,
        {
            "connector.class": "RecordingSink",
            "topics": topic,
            "file": str(out),
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.deadletterqueue.context.headers.enable": "true",
            "key.converter": STRINGS["key.converter"],
            **json_values,
        },
    )
    _produce(broker, topic, [b'{"ok": 1}', b"plain text one", b"plain text two"])
    page.goto(f"{worker.url}/ui/connectors/{name}")
    records = page.locator("#dlq-records tr.dlq-record")
    expect(records).to_have_count(2, timeout=60_000)
    first = page.locator('#dlq-records tr.dlq-record[data-record="0/0"]')
    expect(first).to_contain_text("VALUE_CONVERTER")
    expect(first).to_contain_text("plain text one")
    expect(first).to_contain_text(f"{topic} 0/1")
    assert "JsonConverter" in (first.locator("span.exception").get_attribute("title") or "")
    _screenshot(page, "dashboard-dlq.png")

    # fix the cause (the records are plain text), then send the first one back
    fix = {"value.converter": STRINGS["value.converter"], "value.converter.schemas.enable": None}
    status, body = rest.call("PATCH", f"/connectors/{name}/config", fix)
    assert status == 200, body
    converter = page.locator('#config tr:has(th:text-is("value.converter")) td')
    expect(converter).to_have_text(STRINGS["value.converter"])  # refreshed without a reload
    first.locator("input[type=checkbox]").check()
    expect(page.locator("#dlq-count")).to_have_text("1 selected")
    page.click("#dlq-replay")
    expect(page.locator("#dlq-message")).to_have_text("Replayed 1 record(s).")
    wait_until(
        lambda: out.exists() and b'"plain text one"' in out.read_bytes(),
        timeout=60,
        what="the replayed record taken by the fixed sink",
    )
    expect(first.locator(".badge")).to_have_text(f"replayed to {topic}")
    _screenshot(page, "dashboard-dlq-replayed.png")

    second = page.locator('#dlq-records tr.dlq-record[data-record="0/1"]')
    second.locator("input[type=checkbox]").check()
    page.click("#dlq-discard")
    expect(page.locator("#confirm")).to_be_visible()
    page.click("#confirm-ok")
    expect(page.locator("#dlq-message")).to_have_text("Discarded 1 record(s).")
    expect(second).to_have_count(0)
    expect(records).to_have_count(1)
    assert rest.call("DELETE", f"/connectors/{name}")[0] == 204


# -- actions that fit the state ------------------------------------------------------------------


def _actions(row: Any) -> list[str]:
    return [b.get_attribute("data-action") for b in row.locator("button[data-action]").all()]


def test_buttons_fit_the_state_and_dangerous_actions_ask_first(
    worker: Worker, page: Page, tmp_path: Path
) -> None:
    rest = worker.rest
    name = f"a-connector-with-a-rather-long-name-{'x' * 60}-{_uid()}"
    source = tmp_path / "in.txt"
    source.write_text("a\nb\nc\n")
    rest.create(
        name,
        {"connector.class": FILE_SOURCE, "file": str(source), "topic": f"st-{_uid()}", **STRINGS},
    )
    wait_until(lambda: rest.state(name) == ("RUNNING", ["RUNNING"]), what="running")
    wait_until(lambda: rest.get(f"/connectors/{name}/offsets")["offsets"], what="an offset")
    page.goto(worker.url + "/ui")
    row = page.locator(f'tr.connector[data-connector="{name}"]')
    expect(row.locator("td.state")).to_have_text("RUNNING")
    assert _actions(row) == ["pause", "stop", "restart", "delete"]  # no Resume while running
    link = row.locator("a.name")
    assert link.get_attribute("title") == name  # the whole name on hover
    assert link.evaluate("e => e.scrollWidth > e.clientWidth")  # cut on screen

    row.locator('button[data-action="pause"]').click()
    expect(row.locator("td.state")).to_have_text("PAUSED")
    wait_until(lambda: _actions(row) == ["resume", "stop", "restart", "delete"], what="Resume")

    page.goto(f"{worker.url}/ui/connectors/{name}")
    expect(page.locator("#offsets-rule")).to_contain_text("STOPPED")
    expect(page.locator("#offsets-alter")).to_be_disabled()
    expect(page.locator("#offsets-reset")).to_be_disabled()
    page.click('#actions button[data-action="stop"]')
    wait_until(lambda: rest.state(name)[0] == "STOPPED", what="stopped")
    expect(page.locator("#connector-state")).to_have_text("STOPPED")
    expect(page.locator("#actions button[data-action]")).to_have_count(2)  # Resume, Delete
    expect(page.locator("#offsets-alter")).to_be_enabled()
    _screenshot(page, "dashboard-offsets-editor.png")

    # alter: the editor holds the current offsets as JSON
    editor = page.locator("#offsets-json")
    expect(editor).to_have_value(re.compile('"position": 6'))
    editor.fill(editor.input_value().replace('"position": 6', '"position": 2'))
    page.click("#offsets-alter")
    page.click("#confirm-ok")
    expect(page.locator("#offsets-message")).to_contain_text("altered successfully")
    assert rest.get(f"/connectors/{name}/offsets")["offsets"] == [
        {"partition": {"filename": str(source)}, "offset": {"position": 2}}
    ]
    # reset asks first: Cancel leaves the offsets alone
    page.click("#offsets-reset")
    expect(page.locator("#confirm-text")).to_contain_text("Reset every offset")
    page.click("#confirm-cancel")
    assert rest.get(f"/connectors/{name}/offsets")["offsets"] != []
    page.click("#offsets-reset")
    page.click("#confirm-ok")
    expect(page.locator("#offsets-message")).to_contain_text("reset successfully")
    assert rest.get(f"/connectors/{name}/offsets")["offsets"] == []

    # delete asks first too
    page.click('#actions button[data-action="delete"]')
    expect(page.locator("#confirm-text")).to_contain_text(f"Delete connector {name}?")
    page.click("#confirm-cancel")
    assert rest.call("GET", f"/connectors/{name}")[0] == 200
    page.click('#actions button[data-action="delete"]')
    page.click("#confirm-ok")
    page.wait_for_url(f"{worker.url}/ui")
    wait_until(lambda: rest.call("GET", f"/connectors/{name}")[0] == 404, what="deleted")
