"""A Confluent-compatible schema registry's logic, over any mutable mapping.

:class:`SchemaRegistry` keeps subjects, their versions and globally unique schema ids (the same
schema text gets the same id in every subject), checks compatibility at the configured level and
raises :class:`SchemaRegistryError` with Confluent's error codes. It stores plain JSON-ready
values under string keys in a ``MutableMapping`` (a dict here; a Faust table later), and knows
nothing of HTTP: a REST view maps its methods and errors onto Confluent's API. It also serves as a
:class:`~faust_connect.codecs.registry.client.SchemaRegistryClient`, so converters can use it in
process with no network call.

>>> reg = SchemaRegistry()
>>> reg.register("t-value", '{"type": "string"}')
1
>>> reg.register("u-value", '{"type":"string"}'), reg.get_latest("t-value").version
(1, 1)
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Literal, NamedTuple, get_args

import fastavro
import orjson
from fastavro.schema import SchemaParseException

from faust_connect.codecs.avro.compat import incompatibilities
from faust_connect.exceptions import ConnectError

__all__ = ["CompatibilityLevel", "RegisteredSchema", "SchemaRegistry", "SchemaRegistryError"]

CompatibilityLevel = Literal[
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
]
_LEVELS: tuple[str, ...] = get_args(CompatibilityLevel)


class RegisteredSchema(NamedTuple):
    """One version of a subject (Confluent's ``{"subject","id","version","schema"}``)."""

    subject: str
    id: int
    version: int
    schema: str


class SchemaRegistryError(ConnectError):
    """A registry request that failed; ``error_code`` is Confluent's (40401, 42201, 409, ...)."""

    def __init__(self, error_code: int, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.http_status = int(str(error_code)[:3])

    @classmethod
    def subject_not_found(cls, subject: str) -> SchemaRegistryError:
        """40401."""
        return cls(40401, f"Subject '{subject}' not found.")

    @classmethod
    def version_not_found(cls, version: object) -> SchemaRegistryError:
        """40402."""
        return cls(40402, f"Version {version} not found.")

    @classmethod
    def schema_not_found(cls, detail: str = "Schema not found") -> SchemaRegistryError:
        """40403."""
        return cls(40403, detail)


def canonical(schema: str) -> str:
    """The schema's text without insignificant whitespace; 42201 if it is not JSON."""
    try:
        return orjson.dumps(orjson.loads(schema)).decode()
    except orjson.JSONDecodeError as exc:
        raise SchemaRegistryError(42201, f"Invalid schema: {exc}") from None


class SchemaRegistry:
    """Subjects, versions, ids and compatibility, stored in ``store``.

    Keys: ``next-id``; ``schema/<id>`` (text); ``id/<canonical text>`` (id);
    ``subject/<name>`` (list of ``[version, id]``); ``config`` and ``config/<subject>``.
    """

    def __init__(
        self,
        store: MutableMapping[str, Any] | None = None,
        *,
        compatibility: CompatibilityLevel = "BACKWARD",
    ) -> None:
        self.store: MutableMapping[str, Any] = {} if store is None else store
        #: The global level until one is set (not written: the store may not be loaded yet).
        self.default_compatibility: str = compatibility

    # -- reads ------------------------------------------------------------------------------

    def subjects(self) -> list[str]:
        """Every subject with at least one version, sorted."""
        return sorted(k[8:] for k, v in self.store.items() if k.startswith("subject/") and v)

    def versions(self, subject: str) -> list[int]:
        """The versions of a subject; 40401 if it has none."""
        return [version for version, _ in self._versions(subject)]

    def get_schema(self, schema_id: int) -> str:
        """The schema text with that id; 40403 if none."""
        text = self.store.get(f"schema/{schema_id}")
        if text is None:
            raise SchemaRegistryError.schema_not_found()
        return str(text)

    def get_version(self, subject: str, version: int | Literal["latest"]) -> RegisteredSchema:
        """One version of a subject (``"latest"`` or -1 for the newest); 40401/40402."""
        versions = self._versions(subject)
        if version in ("latest", -1):
            number, schema_id = versions[-1]
        else:
            found = [pair for pair in versions if pair[0] == version]
            if not found:
                raise SchemaRegistryError.version_not_found(version)
            number, schema_id = found[0]
        return RegisteredSchema(subject, schema_id, number, self.get_schema(schema_id))

    def get_latest(self, subject: str) -> RegisteredSchema:
        """The newest version of a subject."""
        return self.get_version(subject, "latest")

    def lookup(self, subject: str, schema: str) -> RegisteredSchema:
        """The version of ``subject`` holding ``schema``; 40401 or 40403 if there is none."""
        schema_id = self.store.get(f"id/{canonical(schema)}")
        for version, registered in self._versions(subject):
            if registered == schema_id:
                return RegisteredSchema(subject, registered, version, self.get_schema(registered))
        raise SchemaRegistryError.schema_not_found()

    def compatibility(self, subject: str | None = None) -> str:
        """The level for ``subject`` (its own, else the global one)."""
        if subject is not None and f"config/{subject}" in self.store:
            return str(self.store[f"config/{subject}"])
        return str(self.store.get("config", self.default_compatibility))

    def check_compatibility(self, subject: str, schema: str, version: object = "latest") -> bool:
        """Whether ``schema`` could be registered under ``subject`` (Confluent's is_compatible)."""
        return not self.compatibility_problems(subject, schema)

    def compatibility_problems(self, subject: str, schema: str) -> list[str]:
        """Why ``schema`` is incompatible with ``subject`` at its level (empty if it is not)."""
        new = _parse(schema)
        level = self.compatibility(subject)
        existing = self._versions(subject, missing_ok=True)
        if level == "NONE" or not existing:
            return []
        against = existing if level.endswith("_TRANSITIVE") else existing[-1:]
        problems: list[str] = []
        for version, schema_id in against:
            old = _parse(self.get_schema(schema_id))
            if level.startswith(("BACKWARD", "FULL")):
                problems += [f"v{version} (backward) {p}" for p in incompatibilities(new, old)]
            if level.startswith(("FORWARD", "FULL")):
                problems += [f"v{version} (forward) {p}" for p in incompatibilities(old, new)]
        return problems

    # -- writes -----------------------------------------------------------------------------

    def register(self, subject: str, schema: str, schema_type: str = "AVRO") -> int:
        """Register ``schema`` under ``subject``; its id (the same for the same schema text).

        Registering a schema the subject already has returns its id and adds no version;
        an incompatible schema raises 409, an invalid one 42201.
        """
        if schema_type != "AVRO":
            raise SchemaRegistryError(42201, f"Invalid schema type {schema_type}")
        text = canonical(schema)
        _parse(schema)
        versions = self._versions(subject, missing_ok=True)
        known = self.store.get(f"id/{text}")
        if known is not None and any(schema_id == known for _, schema_id in versions):
            return int(known)
        problems = self.compatibility_problems(subject, schema)
        if problems:
            raise SchemaRegistryError(
                409,
                "Schema being registered is incompatible with an earlier schema for subject "
                f'"{subject}", details: {"; ".join(problems)}',
            )
        if known is None:
            known = self._new_id(text)
            self.store[f"schema/{known}"] = text
            self.store[f"id/{text}"] = known
        number = versions[-1][0] + 1 if versions else 1
        self.store[f"subject/{subject}"] = [*map(list, versions), [number, known]]
        return int(known)

    def _new_id(self, text: str) -> int:
        """The id of a schema seen for the first time: the next in sequence.

        A registry written by several processes at once overrides this (ids from the text).
        """
        known = int(self.store.get("next-id", 1))
        self.store["next-id"] = known + 1
        return known

    def set_compatibility(self, level: str, subject: str | None = None) -> str:
        """Set the global level or a subject's; 42203 for an unknown level."""
        if level not in _LEVELS:
            raise SchemaRegistryError(42203, f"Invalid compatibility level {level}")
        self.store["config" if subject is None else f"config/{subject}"] = level
        return level

    def delete_subject(self, subject: str) -> list[int]:
        """Remove a subject; the versions it had. Schema ids stay valid."""
        versions = self.versions(subject)
        del self.store[f"subject/{subject}"]
        self.store.pop(f"config/{subject}", None)
        return versions

    def _versions(self, subject: str, *, missing_ok: bool = False) -> list[tuple[int, int]]:
        versions = self.store.get(f"subject/{subject}")
        if not versions:
            if missing_ok:
                return []
            raise SchemaRegistryError.subject_not_found(subject)
        return [(int(v), int(i)) for v, i in versions]


def _parse(schema: str) -> Any:
    try:
        parsed = orjson.loads(schema)
    except orjson.JSONDecodeError as exc:
        raise SchemaRegistryError(42201, f"Invalid schema: {exc}") from None
    try:
        fastavro.parse_schema(parsed, _write_hint=False, _force=True)
    except (SchemaParseException, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SchemaRegistryError(42201, f"Invalid schema: {exc}") from None
    return parsed
