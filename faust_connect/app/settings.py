"""Worker settings, named as Kafka Connect names them.

A worker reads its settings from three places, later ones winning:

1. a file, given as ``config_file=`` or the ``CONNECT_CONFIG_FILE`` environment variable: Java
   ``.properties`` (as ``connect-distributed.properties``) or YAML (flat dotted keys, or nested
   mappings that flatten to them);
2. environment variables named as Confluent's Connect image names them: ``CONNECT_`` + the key in
   upper case with ``.`` as ``_`` (``CONNECT_BOOTSTRAP_SERVERS``), ``__`` for a literal ``_`` and
   ``___`` for ``-``;
3. keyword arguments given in Python (``bootstrap_servers="..."``, dots as underscores).

Every key is checked before anything starts; each bad key gives one line naming the key and the
problem (:class:`~faust_connect.exceptions.WorkerConfigError`).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from faust_connect.config import parse_properties
from faust_connect.exceptions import ConfigIssue, WorkerConfigError

__all__ = [
    "ENV_PREFIX",
    "WorkerSettings",
    "env_name",
    "load_settings",
    "read_config_file",
    "to_text",
]

#: Environment variables starting with this are worker settings.
ENV_PREFIX = "CONNECT_"
#: The environment variable naming a settings file.
CONFIG_FILE_ENV = "CONNECT_CONFIG_FILE"

#: Keys whose sub-keys are passed through as options (``value.converter.schemas.enable``).
PREFIXED = (
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "producer.",
    "consumer.",
    "admin.",
)

#: Client security keys the worker uses (for every client; ``producer.`` etc. may override them).
SECURITY_KEYS = frozenset(
    {
        "sasl.mechanism",
        "sasl.jaas.config",
        "ssl.truststore.type",
        "ssl.truststore.location",
        "ssl.truststore.password",
        "ssl.truststore.certificates",
        "ssl.keystore.type",
        "ssl.keystore.location",
        "ssl.keystore.password",
        "ssl.keystore.certificate.chain",
        "ssl.keystore.key",
        "ssl.key.password",
        "ssl.endpoint.identification.algorithm",
        "ssl.protocol",
        "ssl.enabled.protocols",
        "ssl.cipher.suites",
    }
)
#: Java clients' security keys with no meaning here: accepted so a Connect file works unchanged.
JAVA_ONLY_KEYS = frozenset(
    {
        "ssl.keymanager.algorithm",
        "ssl.trustmanager.algorithm",
        "ssl.secure.random.implementation",
        "ssl.provider",
        "ssl.engine.factory.class",
        "sasl.client.callback.handler.class",
        "sasl.login.callback.handler.class",
        "sasl.login.class",
        "sasl.kerberos.service.name",
    }
)

JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
SIMPLE_HEADER_CONVERTER = "org.apache.kafka.connect.storage.SimpleHeaderConverter"

PositiveMs = Annotated[int, Field(gt=0)]
ReplicationFactor = Annotated[int, Field(ge=-1, le=32767)]


def _alias(name: str) -> str:
    return name.replace("_", ".")


class WorkerSettings(BaseModel):
    """One worker's settings; field aliases are Kafka Connect's keys."""

    model_config = ConfigDict(
        alias_generator=_alias,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
    )

    bootstrap_servers: str = Field(
        "localhost:9092", description="Comma-separated host:port list of the Kafka cluster."
    )
    group_id: str = Field(
        description="The Connect cluster's id: workers with the same id share connectors, "
        "tasks and state. It is also the Faust app id.",
        min_length=1,
    )
    config_storage_topic: str = Field(
        "", description="Topic of connector configs (default: <group.id>-configs)."
    )
    offset_storage_topic: str = Field(
        "", description="Topic of source offsets (default: <group.id>-offsets)."
    )
    status_storage_topic: str = Field(
        "", description="Topic of connector and task statuses (default: <group.id>-status)."
    )
    schema_registry_topic: str = Field(
        "", description="Topic of the embedded schema registry (default: <group.id>-schemas)."
    )
    config_storage_replication_factor: ReplicationFactor = Field(
        1, description="Replication factor of the config topic (-1: the broker's default)."
    )
    offset_storage_replication_factor: ReplicationFactor = Field(
        1, description="Replication factor of the offset topic (-1: the broker's default)."
    )
    status_storage_replication_factor: ReplicationFactor = Field(
        1, description="Replication factor of the status topic (-1: the broker's default)."
    )
    offset_storage_partitions: Annotated[int, Field(ge=1)] = Field(
        25, description="Partitions of the offset topic."
    )
    status_storage_partitions: Annotated[int, Field(ge=1)] = Field(
        5, description="Partitions of the status topic."
    )
    key_converter: str = Field(JSON_CONVERTER, description="Default key converter of connectors.")
    value_converter: str = Field(
        JSON_CONVERTER, description="Default value converter of connectors."
    )
    header_converter: str = Field(
        SIMPLE_HEADER_CONVERTER, description="Default header converter of connectors."
    )
    listeners: str = Field(
        "http://:8083", description="The REST API and dashboard address (first listener used)."
    )
    rest_advertised_host_name: str = Field(
        "", description="Host name other workers and clients use to reach this one."
    )
    offset_flush_interval_ms: PositiveMs = Field(
        60000, description="How often source offsets are committed."
    )
    offset_flush_timeout_ms: PositiveMs = Field(
        5000, description="How long an offset flush may wait for the producer."
    )
    task_shutdown_graceful_timeout_ms: PositiveMs = Field(
        5000, description="How long tasks get to stop at shutdown."
    )
    session_timeout_ms: PositiveMs = Field(
        10000, description="Group session timeout: a worker silent this long is removed."
    )
    heartbeat_interval_ms: PositiveMs = Field(3000, description="Group heartbeat interval.")
    rebalance_timeout_ms: PositiveMs = Field(
        60000, description="How long workers get to rejoin the group in a rebalance."
    )
    exactly_once_source_support: Literal["disabled", "preparing", "enabled"] = Field(
        "disabled",
        description="enabled: each source task commits its records and offsets in one Kafka "
        "transaction (KIP-618); preparing: a step of a rolling upgrade to enabled (runs as "
        "disabled).",
    )
    tasks_max_limit: Annotated[int, Field(ge=1)] = Field(
        256,
        description="The most tasks one connector may ask for: a larger tasks.max is refused "
        "when the connector is created or updated, before anything is stored (each task holds "
        "its own Kafka clients and sockets).",
    )
    topic_creation_enable: bool = Field(
        True, description="Whether source connectors may create their topics."
    )
    topic_tracking_enable: bool = Field(
        True, description="Whether the topics a connector uses are tracked."
    )
    task_placement_partitions: Annotated[int, Field(ge=1, le=10000)] = Field(
        24,
        description="Partitions of the placement topic (<group.id>-tasks); connectors and tasks "
        "are spread over the workers by these partitions.",
    )
    rest_auth_basic_users: SecretStr = Field(
        SecretStr(""),
        description="Users allowed to use the REST API and dashboard, as user:password,... "
        "(empty: no authentication).",
    )
    rest_auth_bearer_tokens: SecretStr = Field(
        SecretStr(""), description="Bearer tokens allowed to use the REST API and dashboard."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Protocol to reach the brokers."
    )
    connector_client_config_override_policy: Literal["None", "Principal", "All"] = Field(
        "All",
        description="Which client settings a connector may override with producer.override.*, "
        "consumer.override.* and admin.override.*: None, Principal (only security.protocol, "
        "sasl.mechanism, sasl.jaas.config) or All.",
    )
    options: dict[str, str] = Field(
        default_factory=dict,
        description="Prefixed pass-through options (key.converter.*, value.converter.*, "
        "header.converter.*, producer.*, consumer.*, admin.*) and the client security keys "
        "(sasl.*, ssl.*).",
    )

    @field_validator("bootstrap_servers")
    @classmethod
    def _check_servers(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers:
            raise ValueError("needs at least one host:port")
        for server in servers:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{server!r} is not host:port")
        return ",".join(servers)

    @field_validator("listeners")
    @classmethod
    def _check_listeners(cls, value: str) -> str:
        first = value.split(",")[0].strip()
        parts = urlsplit(first)
        if parts.scheme not in ("http", "https") or parts.port is None:
            raise ValueError(f"{first!r} is not a listener like http://:8083")
        return first

    # -- derived values -------------------------------------------------------------------

    @property
    def servers(self) -> list[str]:
        """``bootstrap.servers`` as a list of ``host:port``."""
        return self.bootstrap_servers.split(",")

    @property
    def web_bind(self) -> str:
        """The address the web server binds to."""
        return urlsplit(self.listeners).hostname or "0.0.0.0"

    @property
    def web_port(self) -> int:
        """The port of the web server (REST API and dashboard)."""
        port = urlsplit(self.listeners).port
        assert port is not None  # checked by _check_listeners
        return port

    @property
    def web_host(self) -> str:
        """The host name this worker is reached at."""
        if self.rest_advertised_host_name:
            return self.rest_advertised_host_name
        bind = self.web_bind
        return "localhost" if bind in ("0.0.0.0", "::") else bind

    @property
    def worker_id(self) -> str:
        """The id shown in statuses, ``host:port`` as Kafka Connect shows it."""
        return f"{self.web_host}:{self.web_port}"

    def topic(self, kind: Literal["config", "offset", "status"]) -> str:
        """The name of an internal topic."""
        explicit: str = getattr(self, f"{kind}_storage_topic")
        suffix = {"config": "configs", "offset": "offsets", "status": "status"}[kind]
        return explicit or f"{self.group_id}-{suffix}"

    def prefixed(self, prefix: str) -> dict[str, str]:
        """The pass-through options under ``prefix`` (``"value.converter."``), prefix removed."""
        return {k[len(prefix) :]: v for k, v in self.options.items() if k.startswith(prefix)}

    def security_options(self) -> dict[str, str]:
        """The worker-level client security keys (``sasl.*``, ``ssl.*``) that are set."""
        return {k: v for k, v in self.options.items() if k in SECURITY_KEYS}

    def converter_defaults(self) -> dict[str, str]:
        """The worker's converter classes and their options, as connector configs name them."""
        out = {
            "key.converter": self.key_converter,
            "value.converter": self.value_converter,
            "header.converter": self.header_converter,
        }
        out.update({k: v for k, v in self.options.items() if ".converter." in k})
        return out

    def as_properties(self) -> dict[str, str]:
        """Every setting as a flat Kafka Connect key → string value map."""
        out: dict[str, str] = {}
        for name, value in self.model_dump(by_alias=True).items():
            if name == "options":
                out.update(value)
            elif isinstance(value, SecretStr):
                out[name] = value.get_secret_value()
            elif isinstance(value, bool):
                out[name] = str(value).lower()
            else:
                out[name] = str(value)
        return out


# -- sources of settings --------------------------------------------------------------------


def env_name(key: str) -> str:
    """The environment variable of a setting: ``group.id`` → ``CONNECT_GROUP_ID``."""
    body = key.replace("_", "__").replace("-", "___").replace(".", "_")
    return ENV_PREFIX + body.upper()


def _key_from_env(var: str) -> str:
    body = var[len(ENV_PREFIX) :].lower()
    return (
        body.replace("___", "\0")
        .replace("__", "\1")
        .replace("_", ".")
        .replace("\0", "-")
        .replace("\1", "_")
    )


def _flatten(prefix: str, node: Any, out: dict[str, Any]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out)
    else:
        out[prefix] = node


def read_config_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a ``.properties`` or YAML file into a flat key → string map."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkerConfigError(
            [ConfigIssue(str(file), f"cannot read the config file: {exc.strerror}")]
        ) from exc
    if file.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise WorkerConfigError([ConfigIssue(str(file), f"not valid YAML: {exc}")]) from exc
        if not isinstance(data, Mapping):
            raise WorkerConfigError([ConfigIssue(str(file), "YAML must be a mapping of keys")])
        flat: dict[str, Any] = {}
        _flatten("", data, flat)
        return {k: to_text(v) for k, v in flat.items()}
    return parse_properties(text)


def to_text(value: Any) -> str:
    """A config value as Kafka Connect's string form (booleans lower-case, lists joined)."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(to_text(v) for v in value)
    return str(value)


# -- validation -------------------------------------------------------------------------------

_FIELDS = {_alias(name): name for name in WorkerSettings.model_fields if name != "options"}


def _suggest(key: str) -> str:
    close = difflib.get_close_matches(key, [*_FIELDS, *SECURITY_KEYS], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> WorkerSettings:
    """Gather settings from file, environment and ``overrides`` and validate them all.

    ``overrides`` may use Kafka Connect's dotted keys or Python names (``group_id``).
    Raises :class:`WorkerConfigError` listing every bad key.
    """
    environ = os.environ if environ is None else environ
    sources: dict[str, tuple[str, str]] = {}  # key -> (value, where it came from)
    # An empty value means "not set here", as in Kafka Connect's files: it hides nothing.
    path = config_file or environ.get(CONFIG_FILE_ENV)
    if path:
        for key, value in read_config_file(path).items():
            if value != "":
                sources[key] = (value, str(path))
    for var, value in environ.items():
        if var.startswith(ENV_PREFIX) and var != CONFIG_FILE_ENV and value != "":
            sources[_key_from_env(var)] = (value, var)
    for key, raw in (overrides or {}).items():
        dotted = key if key in _FIELDS or "." in key else _alias(key)
        if (value := to_text(raw)) != "":
            sources[dotted] = (value, "arguments")

    issues: list[ConfigIssue] = []
    data: dict[str, Any] = {"options": {}}
    for key, (value, _where) in sources.items():
        if key in _FIELDS:
            data[key] = value
        elif key in SECURITY_KEYS or key in JAVA_ONLY_KEYS:
            data["options"][key] = value
        elif key.startswith(PREFIXED) and len(key) > len(key.split(".")[0]) + 1:
            data["options"][key] = value
        else:
            issues.append(ConfigIssue(key, f"unknown key{_suggest(key)}"))
    try:
        settings = WorkerSettings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "?"
            where = sources.get(key, ("", ""))[1]
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "missing":
                message = f"required (set it in the config file or as {env_name(key)})"
            elif where:
                message = f"{message} (from {where})"
            issues.append(ConfigIssue(key, message))
    if issues:
        raise WorkerConfigError(issues)
    return settings
