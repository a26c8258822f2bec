"""``GET /openapi.json``: an OpenAPI 3 description of the worker's Kafka Connect REST API.

Kafka Connect publishes no such file; this one describes the same endpoints (and ours under
``/faust-connect/``), so clients can be generated and the API fuzzed (the tests run schemathesis
from it). Error answers share Kafka Connect's shape ``{"error_code", "message"}``.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from faust import web
from faust.web import Request, Response, View

__all__ = ["blueprint", "describe"]

blueprint = web.Blueprint("openapi")

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_ERROR = {
    "type": "object",
    "required": ["error_code", "message"],
    "properties": {"error_code": {"type": "integer"}, "message": {"type": "string"}},
}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_TASK = {"name": "task", "in": "path", "required": True, "schema": {"type": "integer"}}
_PLUGIN = {"name": "plugin", "in": "path", "required": True, "schema": {"type": "string"}}


def _ok(code: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {"application/json": {"schema": schema}}
    return {code: answer, "default": {"description": "An error", "content": _json(_ERROR)}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": _json(schema)}


def _op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": responses, **extra}


def describe() -> dict[str, Any]:
    """The OpenAPI document."""
    obj = {"type": "object"}
    array = {"type": "array"}
    named = {"parameters": [_NAME]}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "faust-connect (Kafka Connect REST API)",
            "version": version("faust-connect"),
        },
        "paths": {
            "/": {"get": _op("Worker version", _ok("200", "The version", obj))},
            "/health": {"get": _op("KIP-1017 health", _ok("200", "Serving", obj))},
            "/connectors": {
                "get": _op(
                    "Connector names (or ?expand=status&expand=info)",
                    _ok("200", "Names or expanded", {}),
                    parameters=[
                        {
                            "name": "expand",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["status", "info"]},
                        }
                    ],
                ),
                "post": _op(
                    "Create a connector",
                    _ok("201", "Created", obj),
                    requestBody=_body(
                        {
                            "type": "object",
                            "required": ["name", "config"],
                            "properties": {
                                "name": {"type": "string"},
                                "config": _STRING_MAP,
                                "initial_state": {
                                    "type": "string",
                                    "enum": ["RUNNING", "PAUSED", "STOPPED"],
                                },
                            },
                        }
                    ),
                ),
            },
            "/connectors/{name}": {
                **named,
                "get": _op("Connector info", _ok("200", "Info", obj)),
                "delete": _op("Delete", _ok("204", "Deleted")),
            },
            "/connectors/{name}/config": {
                **named,
                "get": _op("Config", _ok("200", "Config", _STRING_MAP)),
                "put": _op(
                    "Create or reconfigure", _ok("200", "Info", obj), requestBody=_body(_STRING_MAP)
                ),
                "patch": _op("Change some keys", _ok("200", "Info", obj), requestBody=_body(obj)),
            },
            "/connectors/{name}/status": {**named, "get": _op("Status", _ok("200", "Status", obj))},
            "/connectors/{name}/tasks": {**named, "get": _op("Tasks", _ok("200", "Tasks", array))},
            "/connectors/{name}/tasks/{task}/status": {
                "parameters": [_NAME, _TASK],
                "get": _op("Task status", _ok("200", "Status", obj)),
            },
            "/connectors/{name}/tasks/{task}/restart": {
                "parameters": [_NAME, _TASK],
                "post": _op("Restart a task", _ok("204", "Restarted")),
            },
            "/connectors/{name}/restart": {
                **named,
                "post": _op(
                    "Restart",
                    _ok("202", "Restarting", obj),
                    parameters=[
                        {"name": "includeTasks", "in": "query", "schema": {"type": "boolean"}},
                        {"name": "onlyFailed", "in": "query", "schema": {"type": "boolean"}},
                    ],
                ),
            },
            "/connectors/{name}/pause": {**named, "put": _op("Pause", _ok("202", "Pausing"))},
            "/connectors/{name}/resume": {**named, "put": _op("Resume", _ok("202", "Resuming"))},
            "/connectors/{name}/stop": {**named, "put": _op("Stop", _ok("204", "Stopped"))},
            "/connectors/{name}/fence": {
                **named,
                "put": _op("Fence a source's zombie tasks (KIP-618)", _ok("204", "Fenced")),
            },
            "/connectors/{name}/topics": {
                **named,
                "get": _op("Topics used", _ok("200", "Topics", obj)),
            },
            "/connectors/{name}/topics/reset": {
                **named,
                "put": _op("Forget the topics used", _ok("200", "Reset")),
            },
            "/connectors/{name}/offsets": {
                **named,
                "get": _op("Offsets (KIP-875)", _ok("200", "Offsets", obj)),
                "patch": _op("Alter offsets", _ok("200", "Altered", obj), requestBody=_body(obj)),
                "delete": _op("Reset offsets", _ok("200", "Reset", obj)),
            },
            "/connector-plugins": {
                "get": _op(
                    "Plugins",
                    _ok("200", "Plugins", array),
                    parameters=[
                        {"name": "connectorsOnly", "in": "query", "schema": {"type": "boolean"}}
                    ],
                )
            },
            "/connector-plugins/{plugin}/config": {
                "parameters": [_PLUGIN],
                "get": _op("Config definitions", _ok("200", "ConfigKeyInfos", array)),
            },
            "/connector-plugins/{plugin}/config/validate": {
                "parameters": [_PLUGIN],
                "put": _op(
                    "Validate a config",
                    _ok("200", "ConfigInfos", obj),
                    requestBody=_body(_STRING_MAP),
                ),
            },
        },
    }


@blueprint.route("/openapi.json", name="openapi")
class OpenApi(View):
    """The OpenAPI document."""

    async def get(self, request: Request) -> Response:
        return self.json(describe())
