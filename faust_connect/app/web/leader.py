"""Writes go through the leader, as in Kafka Connect: no lost or doubled updates.

Every worker answers every request, but a change to the connector configs (create, reconfigure,
pause, restart, delete, offsets) is carried out by one worker at a time: the cluster's leader
(Faust's elected leader). The leader publishes its REST URL in the status table; a follower
forwards write requests there (at most two hops, as Kafka Connect) and returns the leader's
answer. With no leader known — during a rebalance — the answer is Kafka Connect's 409.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from faust_connect.exceptions import Conflict

if TYPE_CHECKING:
    from faust_connect.app.worker import Worker

__all__ = ["LEADER_KEY", "forward_to_leader", "is_leader", "publish_leader"]

#: The status-table key holding the leader's URL (not a Kafka Connect key; others ignore it).
LEADER_KEY = b"status-leader"
#: Set on a forwarded request; a worker forwards a request at most this many times.
HOPS_HEADER = "X-Faust-Connect-Forwarded"
MAX_HOPS = 2
NO_LEADER = (
    "Cannot complete request momentarily due to no known leader URL, "
    "likely because a rebalance was underway."
)


def own_url(app: Worker) -> str:
    """This worker's REST URL, as others reach it."""
    settings = app.connect_settings
    scheme = settings.listeners.split("://", 1)[0]
    return f"{scheme}://{settings.web_host}:{settings.web_port}"


def is_leader(app: Worker) -> bool:
    """Whether this worker leads the cluster now."""
    try:
        return bool(app.is_leader())
    except Exception:  # not started, or in a rebalance: not the leader
        return False


def publish_leader(app: Worker, generation: int) -> None:
    """Called by the runtime's loop: the leader keeps its URL in the status table.

    ``generation`` is the group generation of the assignment this worker holds (the runtime
    calls this only while it holds one): as a status, a late write from an earlier leader never
    replaces a newer leader's (see ``StatusTable``).
    """
    if is_leader(app):
        settings = app.connect_settings
        value = orjson.dumps(
            {"url": own_url(app), "worker_id": settings.worker_id, "generation": generation}
        )
        if app.statuses.table.get(LEADER_KEY) != value:
            app.statuses.table[LEADER_KEY] = value


def leader_url(app: Worker) -> str | None:
    """The leader's URL as last published, or None."""
    data = app.statuses.table.get(LEADER_KEY)
    return None if data is None else str(orjson.loads(data)["url"])


async def forward_to_leader(app: Worker, request: Any) -> tuple[int, bytes, str] | None:
    """Forward a write request to the leader; None when this worker should handle it itself.

    Returns ``(status, body, content type)`` of the leader's answer. Raises Conflict (409) when
    no leader is known, or the request has already been forwarded too often.
    """
    if is_leader(app):
        return None
    hops = int(request.headers.get(HOPS_HEADER, "0") or 0)
    url = leader_url(app)
    if url is None or url == own_url(app) or hops >= MAX_HOPS:
        raise Conflict(NO_LEADER)
    headers = {HOPS_HEADER: str(hops + 1)}
    for name in ("Content-Type", "Authorization"):
        if name in request.headers:
            headers[name] = request.headers[name]
    body = await request.read()
    timeout = aiohttp.ClientTimeout(total=90)  # Kafka Connect's request timeout
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(
                request.method, url + request.path_qs, data=body or None, headers=headers
            ) as response,
        ):
            return (
                response.status,
                await response.read(),
                response.content_type or "application/json",  # without the charset
            )
    except aiohttp.ClientError as exc:
        raise Conflict(f"{NO_LEADER} ({url}: {exc})") from exc
