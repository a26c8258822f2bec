"""A tiny Kafka Connect REST client for tests (real HTTP over loopback)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class Rest:
    """Calls one worker's REST API; returns ``(status, body)``."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        assert status == 200, (status, body)
        return body

    def create(self, name: str, config: dict[str, Any], **extra: Any) -> Any:
        status, body = self.call("POST", "/connectors", {"name": name, "config": config, **extra})
        assert status == 201, (status, body)
        return body

    def state(self, name: str) -> tuple[str, list[str]]:
        """The connector's state and its tasks' states."""
        status, body = self.call("GET", f"/connectors/{name}/status")
        if status != 200:
            return "", []
        return body["connector"]["state"], [t["state"] for t in body["tasks"]]
