"""Fetching another worker's task metrics for the dashboard, and a worker that is down."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from faust_connect.app.embedded import free_port
from faust_connect.app.web.dashboard import _peer_metrics


async def test_metrics_of_another_worker_are_fetched_with_the_callers_credentials() -> None:
    seen: list[str | None] = []

    async def metrics(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"worker_id": "w", "tasks": [{"connector": "c", "task": 0}]})

    app = web.Application()
    app.router.add_get("/metrics.json", metrics)
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        worker_id = f"{server.host}:{server.port}"
        found = await _peer_metrics(session, worker_id, "Bearer t")
    assert found == (worker_id, [{"connector": "c", "task": 0}], "")
    assert seen == ["Bearer t"]


async def test_an_unreachable_worker_is_reported_not_raised() -> None:
    worker_id = f"127.0.0.1:{free_port()}"  # nothing listens there
    timeout = aiohttp.ClientTimeout(total=1)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        found = await _peer_metrics(session, worker_id, None)
    assert found[0] == worker_id and found[1] is None
    assert found[2].startswith("unreachable")
