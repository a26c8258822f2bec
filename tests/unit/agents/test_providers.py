"""Config providers: ${env:...} and ${file:...} resolved; unresolvable ones named."""

from __future__ import annotations

from pathlib import Path

import pytest

from faust_connect.agents.runtime.providers import resolve_providers
from faust_connect.exceptions import ConfigError


def test_env_and_file_references_are_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = tmp_path / "secrets.properties"
    secrets.write_text("# comment\ndb.password = p4ss\nurl=jdbc:postgresql://h:5432/d\n")
    monkeypatch.setenv("FC_USER", "alice")
    config = {
        "user": "${env:FC_USER}",
        "password": f"${{file:{secrets}:db.password}}",
        "both": f"${{env:FC_USER}}@${{file:{secrets}:url}}",
        "plain": "no references",
    }
    assert resolve_providers(config) == {
        "user": "alice",
        "password": "p4ss",
        "both": "alice@jdbc:postgresql://h:5432/d",
        "plain": "no references",
    }


def test_unresolvable_references_name_the_key_and_the_reason(tmp_path: Path) -> None:
    config = {
        "a": "${env:FC_SURELY_NOT_SET_12345}",
        "b": f"${{file:{tmp_path / 'missing.properties'}:k}}",
        "c": "${file:no-key}",
    }
    with pytest.raises(ConfigError) as info:
        resolve_providers(config)
    issues = {issue.key: issue.message for issue in info.value.issues}
    assert set(issues) == {"a", "b", "c"}
    assert "FC_SURELY_NOT_SET_12345 is not set" in issues["a"]
    assert "missing.properties" in issues["b"]
