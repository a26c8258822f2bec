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
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, SecretStr, ValidationError

from faust_connect.exceptions import ConfigError, ConfigIssue

__all__ = [
    "CommaList",
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
