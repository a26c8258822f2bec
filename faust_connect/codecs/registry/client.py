"""How converters reach a schema registry: a small protocol, an HTTP client and a cache.

- :class:`SchemaRegistryClient` is the protocol the Avro converter needs. The in-process
  :class:`~faust_connect.codecs.registry.logic.SchemaRegistry` satisfies it directly (use it
  for the worker's own embedded registry: never call your own process over HTTP).
- :class:`HttpSchemaRegistryClient` talks to any Confluent-compatible registry with urllib.
- :class:`CachingClient` wraps either so the hot path makes no request per record: ids by
  ``(subject, schema)``, schemas by id and versions by ``(subject, schema)`` are kept forever
  (they never change); the latest version per subject is kept until :meth:`CachingClient.forget`.

HTTP calls block; the converter only makes them for a schema it has not seen before.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Protocol, runtime_checkable

from faust_connect.codecs.registry.logic import RegisteredSchema, SchemaRegistryError

__all__ = ["CachingClient", "HttpSchemaRegistryClient", "SchemaRegistryClient"]

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


@runtime_checkable
class SchemaRegistryClient(Protocol):
    """What a converter asks a schema registry; errors are SchemaRegistryError."""

    def register(self, subject: str, schema: str, schema_type: str = "AVRO") -> int:
        """Register ``schema`` under ``subject``; its id."""
        ...

    def get_schema(self, schema_id: int) -> str:
        """The schema text with that id."""
        ...

    def get_latest(self, subject: str) -> RegisteredSchema:
        """The newest version of ``subject``."""
        ...

    def lookup(self, subject: str, schema: str) -> RegisteredSchema:
        """The version of ``subject`` that holds ``schema``."""
        ...

    def check_compatibility(self, subject: str, schema: str, version: object = "latest") -> bool:
        """Whether ``schema`` is compatible with ``subject`` at its level."""
        ...


class HttpSchemaRegistryClient:
    """A client of a Confluent-compatible registry's REST API (first URL that answers)."""

    def __init__(
        self,
        urls: str | list[str],
        *,
        user_info: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.urls = [
            u.strip().rstrip("/")
            for u in (urls.split(",") if isinstance(urls, str) else urls)
            if u.strip()
        ]
        if not self.urls:
            raise ValueError("a schema registry URL is required")
        self.timeout = timeout
        self._auth = "Basic " + base64.b64encode(user_info.encode()).decode() if user_info else None

    def register(self, subject: str, schema: str, schema_type: str = "AVRO") -> int:
        """``POST /subjects/{s}/versions``."""
        body: dict[str, Any] = {"schema": schema}
        if schema_type != "AVRO":
            body["schemaType"] = schema_type
        return int(self._call("POST", f"/subjects/{_q(subject)}/versions", body)["id"])

    def get_schema(self, schema_id: int) -> str:
        """``GET /schemas/ids/{id}``."""
        return str(self._call("GET", f"/schemas/ids/{int(schema_id)}")["schema"])

    def get_latest(self, subject: str) -> RegisteredSchema:
        """``GET /subjects/{s}/versions/latest``."""
        return _registered(self._call("GET", f"/subjects/{_q(subject)}/versions/latest"))

    def lookup(self, subject: str, schema: str) -> RegisteredSchema:
        """``POST /subjects/{s}`` (is this schema registered under the subject?)."""
        return _registered(self._call("POST", f"/subjects/{_q(subject)}", {"schema": schema}))

    def check_compatibility(self, subject: str, schema: str, version: object = "latest") -> bool:
        """``POST /compatibility/subjects/{s}/versions/{v}``."""
        path = f"/compatibility/subjects/{_q(subject)}/versions/{_q(str(version))}"
        return bool(self._call("POST", path, {"schema": schema})["is_compatible"])

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": _CONTENT_TYPE, "Content-Type": _CONTENT_TYPE}
        if self._auth:
            headers["Authorization"] = self._auth
        failure: Exception | None = None
        for base in self.urls:
            request = urllib.request.Request(base + path, data, headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as exc:
                raise _http_error(exc) from None
            except (urllib.error.URLError, OSError) as exc:
                failure = exc  # try the next URL
        raise SchemaRegistryError(50001, f"cannot reach schema registry {self.urls}: {failure}")


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _registered(body: dict[str, Any]) -> RegisteredSchema:
    return RegisteredSchema(
        str(body["subject"]), int(body["id"]), int(body["version"]), str(body["schema"])
    )


def _http_error(exc: urllib.error.HTTPError) -> SchemaRegistryError:
    try:
        body = json.loads(exc.read() or b"{}")
        return SchemaRegistryError(int(body["error_code"]), str(body.get("message", "")))
    except (ValueError, KeyError, TypeError):
        return SchemaRegistryError(exc.code * 100, f"HTTP {exc.code}: {exc.reason}")


class CachingClient:
    """Remembers what a registry answered, so each schema costs one call, not one per record."""

    def __init__(self, inner: SchemaRegistryClient) -> None:
        self.inner = inner
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, str] = {}
        self._lookups: dict[tuple[str, str], RegisteredSchema] = {}
        self._latest: dict[str, RegisteredSchema] = {}

    def register(self, subject: str, schema: str, schema_type: str = "AVRO") -> int:
        """The id, registering on the first call for this subject and schema."""
        key = (subject, schema)
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = self.inner.register(subject, schema, schema_type)
            self._schemas.setdefault(found, schema)
        return found

    def get_schema(self, schema_id: int) -> str:
        """The schema text, fetched once per id."""
        found = self._schemas.get(schema_id)
        if found is None:
            found = self._schemas[schema_id] = self.inner.get_schema(schema_id)
        return found

    def get_latest(self, subject: str) -> RegisteredSchema:
        """The latest version, fetched once until :meth:`forget`."""
        found = self._latest.get(subject)
        if found is None:
            found = self._latest[subject] = self.inner.get_latest(subject)
            self._schemas.setdefault(found.id, found.schema)
        return found

    def lookup(self, subject: str, schema: str) -> RegisteredSchema:
        """The registered version holding ``schema``, fetched once."""
        key = (subject, schema)
        found = self._lookups.get(key)
        if found is None:
            found = self._lookups[key] = self.inner.lookup(subject, schema)
            self._ids[key] = found.id
        return found

    def check_compatibility(self, subject: str, schema: str, version: object = "latest") -> bool:
        """Always asks the registry (compatibility changes as subjects grow)."""
        return self.inner.check_compatibility(subject, schema, version)

    def forget(self, subject: str | None = None) -> None:
        """Drop cached latest versions (of one subject, or all)."""
        if subject is None:
            self._latest.clear()
        else:
            self._latest.pop(subject, None)
