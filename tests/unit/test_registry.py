"""Plugin registries: names, aliases, dotted paths, and what they refuse."""

from __future__ import annotations

import pytest

from faust_connect.connector import connectors
from faust_connect.exceptions import PluginNotFound


@pytest.mark.parametrize("name", [":", "a:", ":b", ".x", "x.", "..", "os:", "no_such_module:X"])
def test_a_malformed_or_unimportable_path_is_not_found(name: str) -> None:
    with pytest.raises(PluginNotFound):
        connectors.get(name)


def test_an_object_that_is_not_a_connector_is_refused_by_name() -> None:
    with pytest.raises(PluginNotFound, match=r"^os\.path is not a connector\.$"):
        connectors.get("os.path")


def test_aliases_and_dotted_paths_find_the_same_class() -> None:
    by_alias = connectors.get("org.apache.kafka.connect.file.FileStreamSinkConnector")
    by_path = connectors.get("faust_connect.agents.connectors.file:FileStreamSinkConnector")
    assert by_alias is by_path is connectors.get("FileStreamSink")
