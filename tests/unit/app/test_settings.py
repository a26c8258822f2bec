"""Worker settings: Kafka Connect names, from file, environment and arguments, validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from faust_connect.app.settings import env_name, load_settings, read_config_file
from faust_connect.exceptions import WorkerConfigError


def test_defaults_follow_kafka_connect() -> None:
    s = load_settings({"group.id": "cluster-a"}, environ={})
    assert s.bootstrap_servers == "localhost:9092"
    assert s.key_converter == "org.apache.kafka.connect.json.JsonConverter"
    assert s.header_converter == "org.apache.kafka.connect.storage.SimpleHeaderConverter"
    assert s.offset_flush_interval_ms == 60000
    assert (s.web_bind, s.web_port, s.worker_id) == ("0.0.0.0", 8083, "localhost:8083")
    assert s.topic("config") == "cluster-a-configs"
    assert s.topic("offset") == "cluster-a-offsets"
    assert s.topic("status") == "cluster-a-status"


def test_properties_file(tmp_path: Path) -> None:
    path = tmp_path / "connect-distributed.properties"
    path.write_text(
        "# a Kafka Connect worker file\n"
        "bootstrap.servers=k1:9092,k2:9092\n"
        "group.id = connect-cluster\n"
        "! another comment style\n"
        "key.converter: org.apache.kafka.connect.storage.StringConverter\n"
        "value.converter.schemas.enable=false\n"
        "config.storage.topic=connect-configs\n"
        "listeners=http://127.0.0.1:8084\n"
        "offset.flush.interval.ms=10000\n"
        "consumer.max.poll.records=\\\n"
        "    500\n"
    )
    s = load_settings(config_file=path, environ={})
    assert s.servers == ["k1:9092", "k2:9092"]
    assert s.group_id == "connect-cluster"
    assert s.key_converter == "org.apache.kafka.connect.storage.StringConverter"
    assert s.prefixed("value.converter.") == {"schemas.enable": "false"}
    assert s.prefixed("consumer.") == {"max.poll.records": "500"}
    assert s.topic("config") == "connect-configs"
    assert (s.web_bind, s.web_port) == ("127.0.0.1", 8084)
    assert s.offset_flush_interval_ms == 10000


def test_yaml_file_nested_or_flat(tmp_path: Path) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text(
        "group.id: g\n"
        "bootstrap:\n  servers: [a:1, b:2]\n"
        "value.converter:\n  schemas.enable: false\n"
        "topic.creation.enable: false\n"
    )
    assert read_config_file(path)["bootstrap.servers"] == "a:1,b:2"
    s = load_settings(config_file=path, environ={})
    assert s.servers == ["a:1", "b:2"]
    assert s.prefixed("value.converter.") == {"schemas.enable": "false"}
    assert s.topic_creation_enable is False


def test_env_overrides_file_and_arguments_override_env(tmp_path: Path) -> None:
    path = tmp_path / "w.properties"
    path.write_text("group.id=from-file\nbootstrap.servers=file:1\nlisteners=http://:1111\n")
    env = {
        "CONNECT_CONFIG_FILE": str(path),
        "CONNECT_BOOTSTRAP_SERVERS": "env:2",
        "CONNECT_LISTENERS": "http://:2222",
        "CONNECT_VALUE_CONVERTER_SCHEMAS_ENABLE": "false",
        "UNRELATED": "ignored",
    }
    s = load_settings({"listeners": "http://:3333"}, environ=env)
    assert s.group_id == "from-file"
    assert s.bootstrap_servers == "env:2"
    assert s.web_port == 3333
    assert s.prefixed("value.converter.") == {"schemas.enable": "false"}


def test_python_names_are_accepted() -> None:
    s = load_settings({"group_id": "g", "offset_flush_interval_ms": 5}, environ={})
    assert s.offset_flush_interval_ms == 5


@pytest.mark.parametrize(
    ("key", "var"),
    [
        ("group.id", "CONNECT_GROUP_ID"),
        ("offset.flush.interval.ms", "CONNECT_OFFSET_FLUSH_INTERVAL_MS"),
        ("a_b", "CONNECT_A__B"),
        ("a-b", "CONNECT_A___B"),
    ],
)
def test_env_names_follow_confluent_images(key: str, var: str) -> None:
    assert env_name(key) == var


def test_every_bad_key_is_named_once() -> None:
    env = {
        "CONNECT_BOOTSTRAP_SERVERS": "localhost",
        "CONNECT_LISTENERS": "ftp://x",
        "CONNECT_OFFSET_FLUSH_INTERVAL_MS": "-4",
        "CONNECT_BOOTSTRAP_SERVER": "a:1",
        "CONNECT_SESSION_TIMEOUT_MS": "soon",
    }
    with pytest.raises(WorkerConfigError) as info:
        load_settings(environ=env)
    issues = {issue.key: issue.message for issue in info.value.issues}
    assert set(issues) == {
        "group.id",
        "bootstrap.servers",
        "listeners",
        "offset.flush.interval.ms",
        "bootstrap.server",
        "session.timeout.ms",
    }
    assert "CONNECT_GROUP_ID" in issues["group.id"]
    assert "did you mean 'bootstrap.servers'" in issues["bootstrap.server"]
    assert "'localhost' is not host:port" in issues["bootstrap.servers"]
    assert "CONNECT_SESSION_TIMEOUT_MS" in issues["session.timeout.ms"]
    lines = info.value.lines()
    assert len(lines) == 6 and all("\n" not in line for line in lines)


def test_unreadable_file_is_a_setting_error(tmp_path: Path) -> None:
    with pytest.raises(WorkerConfigError, match="cannot read the config file"):
        load_settings(config_file=tmp_path / "missing.properties", environ={})


def test_bad_yaml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "w.yml"
    path.write_text("group.id: [unclosed\n")
    with pytest.raises(WorkerConfigError, match="not valid YAML"):
        load_settings(config_file=path, environ={})


def test_as_properties_round_trips() -> None:
    s = load_settings({"group.id": "g", "consumer.fetch.min.bytes": "1"}, environ={})
    again = load_settings(s.as_properties(), environ={})
    assert again == s
