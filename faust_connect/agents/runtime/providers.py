"""Config providers: ``${env:NAME}`` and ``${file:/path:key}`` values, resolved in the task.

As Kafka Connect's EnvVarConfigProvider and FileConfigProvider: a value (or part of one) such as
``${env:DB_PASSWORD}`` or ``${file:/etc/secrets.properties:db.password}`` is replaced by the
environment variable, or by the key of that Java properties file, when a task starts. The stored
config, the REST API and the dashboard keep the reference, so the secret itself never leaves
the worker that runs the task. A reference that cannot be resolved fails the task, naming the
key and the reference.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from faust_connect.config import parse_properties
from faust_connect.exceptions import ConfigError, ConfigIssue

__all__ = ["resolve_providers"]

_REFERENCE = re.compile(r"\$\{(env|file):([^}]*)\}")


def _file_value(spec: str) -> str:
    path, sep, key = spec.rpartition(":")
    if not sep or not path:
        raise LookupError(f"expected ${{file:<path>:<key>}}, got ${{file:{spec}}}")
    values = parse_properties(Path(path).read_text(encoding="utf-8"))
    if key not in values:
        raise LookupError(f"{path} has no key {key!r}")
    return values[key]


def _value(provider: str, spec: str) -> str:
    if provider == "env":
        if spec not in os.environ:
            raise LookupError(f"environment variable {spec} is not set")
        return os.environ[spec]
    return _file_value(spec)


def resolve_providers(config: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``config`` with every ``${env:...}`` / ``${file:...}`` reference resolved."""
    out: dict[str, str] = {}
    issues: list[ConfigIssue] = []
    for key, value in config.items():
        if "${" not in value:
            out[key] = value
            continue
        try:
            out[key] = _REFERENCE.sub(lambda m: _value(m.group(1), m.group(2)), value)
        except (LookupError, ConfigError, OSError) as exc:
            issues.append(ConfigIssue(key, f"cannot resolve {value!r}: {exc}"))
    if issues:
        raise ConfigError(issues)
    return out
