"""Plugin configs: declared once, for parsing, validation, the REST API and docs.

A plugin (connector, converter, transform, predicate) declares its keys as a pydantic model whose
field names are Kafka's keys with ``_`` for ``.``::

    class Config(PluginConfig):
        static_field: str = Field("", description="Field name for a static value.")
        fields: CommaList = Field((), description="Names of fields to mask.")

    config = parse_config(Config, {"static.field": "x", "fields": "a,b"}, prefix="transforms.t.")

Values arrive as Kafka Connect sends them (strings); ``"5"`` becomes 5, ``"true"`` becomes True,
``"a,b"`` a tuple. Every bad key is reported at once, named with its full prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError

from faust_connect.exceptions import ConfigError, ConfigIssue

__all__ = [
    "CommaList",
    "ConnectorConfig",
    "Password",
    "PluginConfig",
    "config_issues",
    "parse_config",
    "parse_properties",
    "split_commas",
]

C = TypeVar("C", bound="PluginConfig")


def split_commas(value: Any) -> Any:
    """Kafka's LIST type: ``"a, b"`` → ``("a", "b")``; ``""`` → ``()``; sequences pass."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


#: A comma-separated list of strings (Kafka's ``LIST`` type).
CommaList = Annotated[tuple[str, ...], BeforeValidator(split_commas)]
#: A secret (Kafka's ``PASSWORD`` type): never shown in clear.
Password = SecretStr


def _dotted(name: str) -> str:
    return name.replace("_", ".")


class PluginConfig(BaseModel):
    """Base of every plugin's config model; aliases are the dotted Kafka keys."""

    model_config = ConfigDict(
        alias_generator=_dotted,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        hide_input_in_errors=True,
    )


def _key(
    default: Any,
    description: str,
    group: str,
    display_name: str,
    *,
    importance: str = "MEDIUM",
    type: str | None = None,
    kinds: tuple[str, ...] = ("source", "sink"),
) -> Any:
    """A common key: its ConfigKeyInfo's group, importance, display name, Kafka type and the
    connector kinds that list it."""
    extra: dict[str, Any] = {"group": group, "importance": importance, "kinds": list(kinds)}
    if type is not None:
        extra["type"] = type
    return Field(default, description=description, title=display_name, json_schema_extra=extra)


_COMMON, _TRANSFORMS, _PREDICATES, _ERRORS = "Common", "Transforms", "Predicates", "Error Handling"
_EXACTLY_ONCE = "Exactly Once Support"
_SINK, _SOURCE = ("sink",), ("source",)


class ConnectorConfig(PluginConfig, extra="ignore"):
    """The keys every connector has (Kafka's ConnectorConfig and SinkConnectorConfig).

    Declared once: the herder validates a config with it, ``/connector-plugins/{p}/config`` and
    ``config/validate`` list its fields (a field's ``kinds`` says which connectors show it), and
    each task runner reads its parsed values (converters, transforms, ``errors.*``, topics).
    The plugin's own keys are its ``Config``'s.
    """

    name: str = _key(
        ...,
        "Globally unique name to use for this connector.",
        _COMMON,
        "Connector name",
        importance="HIGH",
    )
    connector_class: str = _key(
        ...,
        "Name or alias of the class for this connector.",
        _COMMON,
        "Connector class",
        importance="HIGH",
    )
    tasks_max: Annotated[int, Field(ge=1)] = _key(
        1,
        "Maximum number of tasks to use for this connector.",
        _COMMON,
        "Tasks max",
        importance="HIGH",
    )
    tasks_max_enforce: bool = _key(
        True,
        "Whether a connector that generates more task configs than tasks.max is refused "
        "(false: its tasks all run, with a warning; deprecated in Kafka Connect).",
        _COMMON,
        "Enforce tasks max",
        importance="LOW",
    )
    topics: CommaList = _key(
        (),
        "Topics to consume (or use topics.regex).",
        _COMMON,
        "Topics",
        importance="HIGH",
        kinds=_SINK,
    )
    topics_regex: str = _key(
        "",
        "Regular expression of the topics to consume (or use topics).",
        _COMMON,
        "Topics regex",
        importance="HIGH",
        kinds=_SINK,
    )
    key_converter: str | None = _key(
        None,
        "Converter class for record keys; the worker's when unset.",
        _COMMON,
        "Key converter class",
        importance="LOW",
        type="CLASS",
    )
    value_converter: str | None = _key(
        None,
        "Converter class for record values; the worker's when unset.",
        _COMMON,
        "Value converter class",
        importance="LOW",
        type="CLASS",
    )
    header_converter: str | None = _key(
        None,
        "HeaderConverter class for record headers; the worker's when unset.",
        _COMMON,
        "Header converter class",
        importance="LOW",
        type="CLASS",
    )
    transforms: CommaList = _key(
        (),
        "Aliases for the transformations to apply to records, in order.",
        _TRANSFORMS,
        "Transforms",
        importance="LOW",
    )
    predicates: CommaList = _key(
        (),
        "Aliases for the predicates used by transformations.",
        _PREDICATES,
        "Predicates",
        importance="LOW",
    )
    errors_retry_timeout: int = _key(
        0,
        "Milliseconds to retry a failed operation; -1 retries forever.",
        _ERRORS,
        "Retry Timeout for Errors",
        type="LONG",
    )
    errors_retry_delay_max_ms: int = _key(
        60000,
        "Maximum milliseconds between consecutive retries.",
        _ERRORS,
        "Maximum Delay Between Retries for Errors",
        type="LONG",
    )
    errors_tolerance: Literal["none", "all"] = _key(
        "none",
        "'none' fails the task on an error; 'all' skips problematic records.",
        _ERRORS,
        "Error Tolerance",
    )
    errors_log_enable: bool = _key(
        False, "Log each error with the failed operation and record.", _ERRORS, "Log Errors"
    )
    errors_log_include_messages: bool = _key(
        False, "Include the records in the error log.", _ERRORS, "Log Error Details"
    )
    # A source's failed records go to the dead letter queue too (beyond Kafka Connect, which
    # lists these keys for sinks only).
    errors_deadletterqueue_topic_name: str = _key(
        "",
        "Topic to send records that failed to the dead letter queue; empty for none.",
        _ERRORS,
        "Dead Letter Queue Topic Name",
        kinds=_SINK,
    )
    errors_deadletterqueue_topic_replication_factor: int = _key(
        3,
        "Replication factor of the dead letter queue topic when it is created.",
        _ERRORS,
        "Dead Letter Queue Topic Replication Factor",
        type="SHORT",
        kinds=_SINK,
    )
    errors_deadletterqueue_context_headers_enable: bool = _key(
        False,
        "Add headers with the error context to dead-lettered records.",
        _ERRORS,
        "Enable Error Context Headers",
        kinds=_SINK,
    )
    exactly_once_support: Literal["requested", "required"] = _key(
        "requested",
        "With the worker's exactly.once.source.support enabled: 'required' refuses the "
        "connector unless it declares exactly-once support; 'requested' runs it "
        "transactionally either way.",
        _EXACTLY_ONCE,
        "Exactly once support",
        kinds=_SOURCE,
    )
    transaction_boundary: Literal["poll", "interval", "connector"] = _key(
        "poll",
        "Where a task's transactions end: after every poll, every "
        "transaction.boundary.interval.ms, or where the task asks.",
        _EXACTLY_ONCE,
        "Transaction Boundary",
        kinds=_SOURCE,
    )
    offsets_storage_topic: str = _key(
        "",
        "The topic of this connector's source offsets when it runs exactly once (default: "
        "<the worker's offsets topic>-<connector name>); other runs use the worker's.",
        _EXACTLY_ONCE,
        "Offsets topic",
        kinds=_SOURCE,
    )
    transaction_boundary_interval_ms: Annotated[int, Field(ge=0)] | None = _key(
        None,
        "With transaction.boundary=interval: milliseconds per transaction (default: the "
        "worker's offset.flush.interval.ms).",
        _EXACTLY_ONCE,
        "Transaction boundary interval",
        type="LONG",
        kinds=_SOURCE,
    )

    @staticmethod
    def sink_issues(config: Mapping[str, Any]) -> list[ConfigIssue]:
        """Kafka's SinkConnectorConfig rules across keys, in its words, on a raw config (they
        hold even where other keys are bad): exactly one of topics and topics.regex (if both
        or neither, each of the two keys has the error), and a dead letter queue that is not
        one of the topics consumed.

        >>> ConnectorConfig.sink_issues({"topics": "a"})
        []
        >>> [i.key for i in ConnectorConfig.sink_issues({"topics": "a", "topics.regex": "b.*"})]
        ['topics', 'topics.regex']
        """
        topics = split_commas(str(config.get("topics") or ""))
        regex = str(config.get("topics.regex") or "").strip()
        issues = []
        if topics and regex:
            message = "topics and topics.regex are mutually exclusive options, but both are set."
        elif not topics and not regex:
            message = "Must configure one of topics or topics.regex"
        else:
            message = ""
        if message:
            issues += [ConfigIssue("topics", message), ConfigIssue("topics.regex", message)]
        dlq = str(config.get("errors.deadletterqueue.topic.name") or "").strip()
        if dlq and dlq in topics:
            issues.append(
                ConfigIssue(
                    "errors.deadletterqueue.topic.name",
                    f"The DLQ topic '{dlq}' may not be included in the list of topics "
                    "('topics=...') consumed by the connector",
                )
            )
        return issues


def _key_of(model: type[PluginConfig], loc: tuple[Any, ...]) -> str:
    if not loc:
        return ""
    first = str(loc[0])
    field = model.model_fields.get(first)
    if field is not None and field.alias:
        return field.alias
    return first


def config_issues(
    model: type[PluginConfig], raw: Mapping[str, Any], *, prefix: str = ""
) -> list[ConfigIssue]:
    """Every problem with ``raw`` as ``model``, one per key, keys with ``prefix``."""
    try:
        model.model_validate(dict(raw))
    except ValidationError as exc:
        return _issues(model, exc, prefix)
    return []


def parse_config(model: type[C], raw: Mapping[str, Any], *, prefix: str = "") -> C:
    """Parse ``raw`` into ``model``; raise ConfigError naming each bad key with ``prefix``."""
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(_issues(model, exc, prefix)) from None


def _issues(model: type[PluginConfig], exc: ValidationError, prefix: str) -> list[ConfigIssue]:
    issues = []
    for error in exc.errors():
        key = prefix + _key_of(model, error["loc"])
        kind = error["type"]
        if kind == "missing":
            message = "Missing required configuration with no default value."
        elif kind == "extra_forbidden":
            message = "Unknown configuration key."
        else:
            message = error["msg"].removeprefix("Value error, ")
        issues.append(ConfigIssue(key, message))
    return issues


def parse_properties(text: str) -> dict[str, str]:
    """Java ``.properties`` text as a key → value map (later keys win)."""
    return {key: value for _, key, value in _properties(text)}


def _properties(text: str) -> Iterator[tuple[int, str, str]]:
    """Java ``.properties``: ``k=v`` / ``k: v`` / ``k v``, ``#``/``!`` comments, ``\\`` joins."""
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip() if not pending else raw.lstrip()
        if not pending:
            start = number
            if not line or line[0] in "#!":
                continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending += line[:-1]
            continue
        line, pending = pending + line, ""
        match = re.match(r"((?:[^\s=:\\]|\\.)+)\s*[=:\s]\s*(.*)$", line)
        if match is None:
            yield start, line, ""
            continue
        key, value = match.group(1), match.group(2)
        yield start, key.replace("\\", ""), value
