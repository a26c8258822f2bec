"""The herder's validation and the runtime's placement, without a broker or a worker."""

from __future__ import annotations

import collections
from types import SimpleNamespace

import pytest

from faust_connect.app.clients import Clients
from faust_connect.app.herder import Herder
from faust_connect.app.runtime import placement_partition
from faust_connect.app.settings import load_settings
from faust_connect.connector import SinkConnector, SinkTask
from faust_connect.exceptions import BadRequest, ConfigError


def _herder(**worker: str) -> Herder:
    settings = load_settings({"group.id": "unit", **worker}, environ={})
    app = SimpleNamespace(connect_settings=settings, clients=Clients(settings))
    return Herder(app)  # type: ignore[arg-type]  # validation reads settings and clients only


def _keys(herder: Herder, config: dict[str, str]) -> dict[str, list[str]]:
    out = collections.defaultdict(list)
    for issue in herder.validate(config):
        out[issue.key].append(issue.message)
    return dict(out)


def test_a_good_sink_config_has_no_issue() -> None:
    config = {"name": "s", "connector.class": "FileStreamSink", "topics": "t", "file": "/dev/null"}
    assert _herder().validate(config) == []


def test_every_bad_key_is_named_at_once() -> None:
    bad = {
        "name": "s",
        "connector.class": "FileStreamSink",
        "tasks.max": "0",
        "errors.tolerance": "some",
        "transforms": "x",
    }
    issues = _keys(_herder(), bad)
    assert {"tasks.max", "errors.tolerance", "topics", "transforms.x.type"} <= set(issues)


def test_a_class_that_is_not_a_connector_is_refused_by_name() -> None:
    issues = _keys(_herder(), {"name": "s", "connector.class": "os.path", "topics": "t"})
    assert issues["connector.class"] == ["os.path is not a connector."]


def test_exactly_once_preflight_only_on_an_exactly_once_worker() -> None:
    stdin = {
        "name": "s",
        "connector.class": "FileStreamSource",
        "topic": "t",
        "exactly.once.support": "required",
    }
    assert _herder().validate(stdin) == []  # the key is checked only where it means something
    issues = _keys(_herder(**{"exactly.once.source.support": "enabled"}), stdin)
    assert "does not support exactly-once" in issues["exactly.once.support"][0]
    with pytest.raises(ConfigError):
        _herder(**{"exactly.once.source.support": "enabled"})._checked("s", stdin)


def test_placement_spreads_a_connector_and_its_tasks_over_consecutive_partitions() -> None:
    parts = [placement_partition("c", task, 24) for task in (None, 0, 1, 2)]
    assert parts == [(parts[0] + i) % 24 for i in range(4)]
    assert all(0 <= p < 24 for p in parts)
    spread = collections.Counter(placement_partition(f"c{i}", None, 24) for i in range(2400))
    assert len(spread) == 24 and max(spread.values()) < 3 * min(spread.values())


def test_tasks_max_above_the_worker_limit_is_refused_by_name() -> None:
    config = {"name": "s", "connector.class": "FileStreamSink", "topics": "t", "file": "/dev/null"}
    issues = _keys(_herder(), {**config, "tasks.max": "100000"})
    assert issues == {
        "tasks.max": [
            "Invalid value 100000 for configuration tasks.max: this cluster runs at most 256 "
            "tasks per connector (worker setting tasks.max.limit)"
        ]
    }
    assert _keys(_herder(**{"tasks.max.limit": "100000"}), {**config, "tasks.max": "100000"}) == {}


class _Greedy(SinkConnector):
    """Asks for one task more than it may."""

    task_class = SinkTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self.raw) for _ in range(max_tasks + 1)]


def test_a_connector_generating_more_tasks_than_tasks_max_is_refused_unless_told() -> None:
    config = {
        "name": "g",
        "connector.class": f"{__name__}:_Greedy",
        "topics": "t",
        "tasks.max": "2",
    }
    with pytest.raises(
        BadRequest, match=r"generated 3 task configs, more than its tasks\.max of 2"
    ):
        _herder()._task_configs(config)
    assert len(_herder()._task_configs({**config, "tasks.max.enforce": "false"})) == 3
