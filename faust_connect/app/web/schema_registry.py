"""The worker's embedded schema registry: Confluent's REST API under ``/schema-registry``.

Every worker serves the same registry, so a converter can be pointed at any of them::

    value.converter=io.confluent.connect.avro.AvroConverter
    value.converter.schema.registry.url=http://<worker host:port>/schema-registry

A converter whose URL names *this* worker gets the in-process registry instead (see
:meth:`~faust_connect.app.runtime.Runtime.registry_client`): no HTTP call to ourselves.

**Storage.** The registry logic is :class:`~faust_connect.codecs.registry.logic.SchemaRegistry`;
its keys and JSON values live in a GlobalTable whose changelog is a compacted topic
(``<group.id>-schemas``), so schemas survive restarts and every worker holds all of them.

**Ids with several writers.** Registration is synchronous (converters call it in the middle of
a record) and every worker may register, so writes cannot be funnelled through one leader. The
id of a new schema is therefore derived from its canonical text (31 bits of its SHA-256): two
workers registering the same schema at the same time pick the same id, and different schemas
get different ids. If the derived id already belongs to another schema (a hash collision), the
next free id is taken; this is deterministic given the same table, so it can only go wrong if
two *colliding* schemas are first registered on two workers within the changelog's delay.
Ids are thus large (up to 2^31-1) rather than Confluent's 1, 2, 3, which clients do not mind.

Limits, all from writers racing within the changelog's delay (milliseconds): two *different*
schemas registered under one subject on two workers at once each become version N+1 and the last
write wins the subject's version list (both ids stay readable, and registering the lost one again
adds it back); each was checked for compatibility only against the versions its worker had seen;
a worker reads another's registration only once the changelog brought it. One worker alone is
strictly consistent (the event loop serializes its writes).
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator, MutableMapping
from typing import Any, Literal
from urllib.parse import urlsplit

import faust
import orjson
from faust.web import Request, Response, View

from faust_connect.app.settings import WorkerSettings
from faust_connect.app.state.tables import _table
from faust_connect.codecs.registry.logic import (
    RegisteredSchema,
    SchemaRegistry,
    SchemaRegistryError,
)

__all__ = [
    "CONTENT_TYPE",
    "PREFIX",
    "EmbeddedSchemaRegistry",
    "SharedSchemaRegistry",
    "TableStore",
    "blueprint",
    "is_embedded_url",
    "schema_topic",
]

#: Where the registry is mounted on the worker's web server.
PREFIX = "/schema-registry"
#: Confluent's content type, on every response.
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
_MAX_ID = 2**31 - 1

blueprint = faust.web.Blueprint("schema-registry")


def schema_topic(settings: WorkerSettings) -> str:
    """The registry's changelog topic: ``schema.registry.topic``, else ``<group.id>-schemas``."""
    explicit = settings.schema_registry_topic
    return explicit or f"{settings.group_id}-schemas"


class TableStore(MutableMapping[str, Any]):
    """A str → JSON-value mapping over a table of raw bytes keys and values."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def __getitem__(self, key: str) -> Any:
        data = self.table.get(key.encode())
        if data is None:
            raise KeyError(key)
        return orjson.loads(data)

    def __setitem__(self, key: str, value: Any) -> None:
        self.table[key.encode()] = orjson.dumps(value)

    def __delitem__(self, key: str) -> None:
        raw = key.encode()
        if raw not in self.table:
            raise KeyError(key)
        del self.table[raw]

    def __iter__(self) -> Iterator[str]:
        return (key.decode() for key in list(self.table.keys()))

    def __len__(self) -> int:
        return len(self.table)


class SharedSchemaRegistry(SchemaRegistry):
    """A registry several processes write to (each with its own copy of the store).

    Ids are derived from the schema text, so they agree without coordination; it also has the
    REST API's extra operations (delete a version, subject-level config, usages of an id).
    """

    def _new_id(self, text: str) -> int:
        """31 bits of the text's SHA-256 (never 0); the next free id on a collision."""
        digest = hashlib.sha256(text.encode()).digest()
        candidate = int.from_bytes(digest[:4], "big") & _MAX_ID or 1
        while (held := self.store.get(f"schema/{candidate}")) is not None and held != text:
            candidate = candidate % _MAX_ID + 1
        return candidate

    def delete_version(self, subject: str, version: int | Literal["latest"]) -> int:
        """Remove one version of a subject (its id stays readable); the version removed."""
        number = self.get_version(subject, version).version
        kept = [[v, i] for v, i in self._versions(subject) if v != number]
        if kept:
            self.store[f"subject/{subject}"] = kept
        else:
            self.delete_subject(subject)
        return number

    def subject_compatibility(self, subject: str) -> str | None:
        """The subject's own level, or None when it follows the global one."""
        level = self.store.get(f"config/{subject}")
        return None if level is None else str(level)

    def delete_compatibility(self, subject: str) -> str:
        """Drop the subject's own level; the level it had (40401 if it had none)."""
        level = self.subject_compatibility(subject)
        if level is None:
            raise SchemaRegistryError.subject_not_found(subject)
        del self.store[f"config/{subject}"]
        return level

    def usages(self, schema_id: int) -> list[tuple[str, int]]:
        """Every ``(subject, version)`` holding the schema; 40403 if the id is unknown."""
        self.get_schema(schema_id)
        return [
            (subject, version)
            for subject in self.subjects()
            for version, held in self._versions(subject, missing_ok=True)
            if held == schema_id
        ]


class EmbeddedSchemaRegistry(SharedSchemaRegistry):
    """The worker's registry, kept in a GlobalTable over a compacted topic."""

    def __init__(self, app: faust.App, settings: WorkerSettings) -> None:
        self.topic = schema_topic(settings)
        self.table = _table(
            app,
            "schema-registry",
            self.topic,
            1,
            settings.config_storage_replication_factor,
        )
        super().__init__(TableStore(self.table))


def is_embedded_url(url: str, settings: WorkerSettings) -> bool:
    """Whether one of ``url``'s comma-separated URLs is this worker's embedded registry."""
    ours = {
        settings.web_host.lower(),
        settings.web_bind.lower(),
        "localhost",
        "127.0.0.1",
        "::1",
        socket.gethostname().lower(),
    }
    for one in url.split(","):
        parts = urlsplit(one.strip())
        try:
            port = parts.port
        except ValueError:
            continue
        if (
            parts.scheme in ("http", "https")
            and (parts.hostname or "").lower() in ours
            and port == settings.web_port
            and parts.path.rstrip("/") == PREFIX
        ):
            return True
    return False


# -- REST -------------------------------------------------------------------------------------


def _version(text: str) -> int | Literal["latest"]:
    """A version from the path: ``latest``, -1 or 1 to 2^31-1; 42202 otherwise."""
    if text == "latest":
        return "latest"
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number == -1:
        return "latest"
    if not 1 <= number <= _MAX_ID:
        raise SchemaRegistryError(
            42202,
            f"The specified version '{text}' is not a valid version id. Allowed values are "
            'between [1, 2^31-1] and the string "latest"',
        )
    return number


def _schema_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SchemaRegistryError.schema_not_found(f"Schema {text} not found") from None


def _flag(request: Request, name: str) -> bool:
    return str(request.query.get(name, "false")).lower() == "true"


def _registered(found: RegisteredSchema) -> dict[str, Any]:
    return found._asdict()


class RegistryView(View):
    """A view answering in Confluent's content type, its errors as ``{"error_code", "message"}``."""

    async def dispatch(self, request: Any) -> Any:
        try:
            return await super().dispatch(request)
        except SchemaRegistryError as exc:
            return self.answer(
                {"error_code": exc.error_code, "message": exc.message}, status=exc.http_status
            )

    @property
    def registry(self) -> EmbeddedSchemaRegistry:
        """The worker's registry."""
        registry: EmbeddedSchemaRegistry = getattr(self.app, "schema_registry")  # noqa: B009
        return registry

    def answer(self, value: Any, *, status: int = 200) -> Response:
        """A JSON response in Confluent's content type."""
        return self.bytes(orjson.dumps(value), content_type=CONTENT_TYPE, status=status)

    async def body(self, request: Request) -> dict[str, Any]:
        """The JSON object sent; 400 if it is not one."""
        try:
            body = await request.json()
        except ValueError as exc:
            raise SchemaRegistryError(400, f"Request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise SchemaRegistryError(400, "Request body must be a JSON object")
        return body

    async def schema_text(self, request: Request) -> str:
        """The ``schema`` field of a request; 42201 if missing or using unsupported features."""
        body = await self.body(request)
        schema = body.get("schema")
        if not isinstance(schema, str) or not schema.strip():
            raise SchemaRegistryError(42201, "Empty schema")
        if str(body.get("schemaType") or "AVRO").upper() != "AVRO":
            raise SchemaRegistryError(42201, f"Invalid schema type {body['schemaType']}")
        if body.get("references"):
            raise SchemaRegistryError(42201, "Schema references are not supported")
        return schema


@blueprint.route("/", name="root")
class Root(RegistryView):
    """``GET /``: an empty object, as Confluent answers."""

    async def get(self, request: Request) -> Response:
        return self.answer({})


@blueprint.route("/subjects", name="subjects")
class Subjects(RegistryView):
    """``GET /subjects``."""

    async def get(self, request: Request) -> Response:
        return self.answer(self.registry.subjects())


@blueprint.route("/subjects/{subject}", name="subject")
class Subject(RegistryView):
    """``POST /subjects/{s}`` (is this schema registered here?), ``DELETE /subjects/{s}``."""

    async def post(self, request: Request, subject: str) -> Response:
        schema = await self.schema_text(request)
        return self.answer(_registered(self.registry.lookup(subject, schema)))

    async def delete(self, request: Request, subject: str) -> Response:
        return self.answer(self.registry.delete_subject(subject))


@blueprint.route("/subjects/{subject}/versions", name="versions")
class Versions(RegistryView):
    """``GET /subjects/{s}/versions``, ``POST`` to register: ``{"id": N}``."""

    async def get(self, request: Request, subject: str) -> Response:
        return self.answer(self.registry.versions(subject))

    async def post(self, request: Request, subject: str) -> Response:
        schema = await self.schema_text(request)
        return self.answer({"id": self.registry.register(subject, schema)})


@blueprint.route("/subjects/{subject}/versions/{version}", name="version")
class Version(RegistryView):
    """``GET`` / ``DELETE /subjects/{s}/versions/{v|latest}``."""

    async def get(self, request: Request, subject: str, version: str) -> Response:
        return self.answer(_registered(self.registry.get_version(subject, _version(version))))

    async def delete(self, request: Request, subject: str, version: str) -> Response:
        return self.answer(self.registry.delete_version(subject, _version(version)))


@blueprint.route("/subjects/{subject}/versions/{version}/schema", name="version-schema")
class VersionSchema(RegistryView):
    """``GET /subjects/{s}/versions/{v}/schema``: the schema itself."""

    async def get(self, request: Request, subject: str, version: str) -> Response:
        found = self.registry.get_version(subject, _version(version))
        return self.answer(orjson.loads(found.schema))


@blueprint.route("/schemas/ids/{schema_id}", name="schema")
class Schema(RegistryView):
    """``GET /schemas/ids/{id}``: ``{"schema": "<text>"}``."""

    async def get(self, request: Request, schema_id: str) -> Response:
        return self.answer({"schema": self.registry.get_schema(_schema_id(schema_id))})


@blueprint.route("/schemas/ids/{schema_id}/schema", name="schema-raw")
class SchemaRaw(RegistryView):
    """``GET /schemas/ids/{id}/schema``: the schema itself."""

    async def get(self, request: Request, schema_id: str) -> Response:
        return self.answer(orjson.loads(self.registry.get_schema(_schema_id(schema_id))))


@blueprint.route("/schemas/ids/{schema_id}/versions", name="schema-versions")
class SchemaVersions(RegistryView):
    """``GET /schemas/ids/{id}/versions``: ``[{"subject", "version"}]``."""

    async def get(self, request: Request, schema_id: str) -> Response:
        usages = self.registry.usages(_schema_id(schema_id))
        return self.answer([{"subject": s, "version": v} for s, v in usages])


@blueprint.route("/schemas/ids/{schema_id}/subjects", name="schema-subjects")
class SchemaSubjects(RegistryView):
    """``GET /schemas/ids/{id}/subjects``."""

    async def get(self, request: Request, schema_id: str) -> Response:
        usages = self.registry.usages(_schema_id(schema_id))
        return self.answer(sorted({subject for subject, _ in usages}))


@blueprint.route("/schemas/types", name="schema-types")
class SchemaTypes(RegistryView):
    """``GET /schemas/types``."""

    async def get(self, request: Request) -> Response:
        return self.answer(["AVRO"])


@blueprint.route("/compatibility/subjects/{subject}/versions/{version}", name="compatibility")
class Compatibility(RegistryView):
    """``POST /compatibility/subjects/{s}/versions/{v|latest}``: ``{"is_compatible"}``.

    The check follows the subject's level (transitive levels check every version).
    """

    async def post(self, request: Request, subject: str, version: str) -> Response:
        schema = await self.schema_text(request)
        self.registry.get_version(subject, _version(version))  # 40401 / 40402
        problems = self.registry.compatibility_problems(subject, schema)
        answer: dict[str, Any] = {"is_compatible": not problems}
        if _flag(request, "verbose"):
            answer["messages"] = problems
        return self.answer(answer)


@blueprint.route("/config", name="config")
class Config(RegistryView):
    """``GET`` / ``PUT /config``: the global compatibility level."""

    async def get(self, request: Request) -> Response:
        return self.answer({"compatibilityLevel": self.registry.compatibility()})

    async def put(self, request: Request) -> Response:
        level = _level(await self.body(request))
        return self.answer({"compatibility": self.registry.set_compatibility(level)})


@blueprint.route("/config/{subject}", name="subject-config")
class SubjectConfig(RegistryView):
    """``GET`` / ``PUT`` / ``DELETE /config/{s}``: a subject's own level.

    GET answers 40408 for a subject without its own level unless ``?defaultToGlobal=true``.
    """

    async def get(self, request: Request, subject: str) -> Response:
        level = self.registry.subject_compatibility(subject)
        if level is None:
            if not _flag(request, "defaultToGlobal"):
                raise SchemaRegistryError(
                    40408,
                    f"Subject '{subject}' does not have subject-level compatibility configured",
                )
            level = self.registry.compatibility()
        return self.answer({"compatibilityLevel": level})

    async def put(self, request: Request, subject: str) -> Response:
        level = _level(await self.body(request))
        return self.answer({"compatibility": self.registry.set_compatibility(level, subject)})

    async def delete(self, request: Request, subject: str) -> Response:
        return self.answer({"compatibility": self.registry.delete_compatibility(subject)})


@blueprint.route("/mode", name="mode")
class Mode(RegistryView):
    """``GET /mode``: always ``READWRITE``."""

    async def get(self, request: Request) -> Response:
        return self.answer({"mode": "READWRITE"})


# Registered last: aiohttp tries routes in order, so this only answers paths no view above has.
@blueprint.route("/{path:.*}", name="not-found")
class NotFound(RegistryView):
    """Any other path: Confluent's 404 body."""

    async def get(self, request: Request, path: str) -> Response:
        raise SchemaRegistryError(404, "HTTP 404 Not Found")

    post = put = delete = get


def _level(body: dict[str, Any]) -> str:
    level = body.get("compatibility", body.get("compatibilityLevel"))
    if not isinstance(level, str):
        raise SchemaRegistryError(42203, "Invalid compatibility level")
    return level.upper()
