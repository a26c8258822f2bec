"""Plugin config definitions (ConfigKeyInfo), validation results (ConfigInfos) and masking."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field

from faust_connect.agents.connectors.file import FileStreamSinkConnector, FileStreamSourceConnector
from faust_connect.app.plugins import (
    MASK,
    config_definitions,
    connector_definitions,
    definitions_for,
    find_plugin,
    kafka_worded,
    list_plugins,
    mask_config,
    validation_result,
)
from faust_connect.config import CommaList, ConnectorConfig, Password, PluginConfig
from faust_connect.exceptions import ConfigIssue, NotFound

KEY_INFO = {
    "name",
    "type",
    "required",
    "default_value",
    "importance",
    "documentation",
    "group",
    "order",
    "width",
    "display_name",
    "dependents",
}


class Example(PluginConfig):
    connection_url: str = Field(description="Where to connect.")
    batch_size: int = Field(100, description="Rows per batch.")
    ratio: float = 0.5
    enabled: bool = True
    tables: CommaList = ("a", "b")
    connection_password: Password | None = Field(None, description="The password.")
    mode: Literal["bulk", "incrementing"] = "bulk"
    retry_ms: int = Field(0, json_schema_extra={"type": "LONG", "importance": "LOW"})


def test_types_defaults_and_requiredness_come_from_the_model() -> None:
    defs = {d["name"]: d for d in config_definitions(Example, group="Example")}
    assert list(defs) == [
        "connection.url",
        "batch.size",
        "ratio",
        "enabled",
        "tables",
        "connection.password",
        "mode",
        "retry.ms",
    ]
    assert {k: d["type"] for k, d in defs.items()} == {
        "connection.url": "STRING",
        "batch.size": "INT",
        "ratio": "DOUBLE",
        "enabled": "BOOLEAN",
        "tables": "LIST",
        "connection.password": "PASSWORD",
        "mode": "STRING",
        "retry.ms": "LONG",
    }
    url = defs["connection.url"]
    assert url["required"] is True and url["default_value"] is None
    assert url["importance"] == "HIGH" and url["documentation"] == "Where to connect."
    assert url["group"] == "Example" and url["order"] == 1
    assert defs["batch.size"]["default_value"] == "100"
    assert defs["enabled"]["default_value"] == "true"
    assert defs["tables"]["default_value"] == "a,b"
    assert defs["connection.password"]["default_value"] is None
    assert defs["mode"]["recommended_values"] == ["bulk", "incrementing"]
    assert defs["retry.ms"]["importance"] == "LOW"
    assert set(url) == KEY_INFO


def test_connector_definitions_start_with_the_common_keys() -> None:
    sink = [d["name"] for d in connector_definitions(FileStreamSinkConnector)]
    source = [d["name"] for d in connector_definitions(FileStreamSourceConnector)]
    common = ["name", "connector.class", "tasks.max", "tasks.max.enforce"]
    assert sink[:6] == [*common, "topics", "topics.regex"]
    assert "errors.deadletterqueue.topic.name" in sink
    assert "errors.deadletterqueue.topic.name" not in source and "topics" not in source
    assert source[-3:] == ["file", "topic", "batch.size"]
    assert sink.count("topics") == 1  # the plugin's own "topics" is not listed twice


def test_definitions_for_any_plugin_kind_in_kafkas_shape() -> None:
    for name in (
        "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "FileStreamSink",
        "org.apache.kafka.connect.json.JsonConverter",
        "org.apache.kafka.connect.transforms.MaskField$Value",
        "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
    ):
        defs = definitions_for(name)
        assert defs, name
        assert all(set(d) == KEY_INFO for d in defs), name
    assert find_plugin("org.apache.kafka.connect.storage.SimpleHeaderConverter")[0] == (
        "header_converter"
    )
    with pytest.raises(NotFound, match="Unknown plugin NoSuchThing"):
        definitions_for("NoSuchThing")


def test_plugin_list_is_connectors_only_unless_asked() -> None:
    only = list_plugins()
    assert {p["type"] for p in only} <= {"source", "sink"}
    assert {"class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "type": "sink",
            "version": "1.0.0"} in only  # fmt: skip
    everything = list_plugins(connectors_only=False)
    types = {p["type"] for p in everything}
    assert types == {
        "source",
        "sink",
        "converter",
        "header_converter",
        "transformation",
        "predicate",
    }
    classes = {(p["class"], p["type"]) for p in everything}
    assert ("org.apache.kafka.connect.transforms.InsertField", "transformation") in classes
    assert ("org.apache.kafka.connect.storage.SimpleHeaderConverter", "header_converter") in classes
    assert ("org.apache.kafka.connect.storage.SimpleHeaderConverter", "converter") not in classes


def test_validation_result_is_configinfos_with_errors_per_key() -> None:
    config = {
        "connector.class": "FileStreamSink",
        "name": "s",
        "topics": "in",
        "tasks.max": "x",
        "transforms": "mask",
        "transforms.mask.type": "org.apache.kafka.connect.transforms.MaskField$Value",
    }
    issues = [
        ConfigIssue("tasks.max", "not a number"),
        ConfigIssue("transforms.mask.fields", "Missing required configuration."),
        ConfigIssue("somewhere.else", "odd"),
    ]
    result = validation_result(FileStreamSinkConnector, config, issues)
    assert result["name"] == "org.apache.kafka.connect.file.FileStreamSinkConnector"
    assert result["error_count"] == 4  # Kafka counts messages: tasks.max has two
    assert result["groups"][0] == "Common" and "Transforms: mask" in result["groups"]
    by_key = {c["definition"]["name"]: c for c in result["configs"]}
    assert by_key["tasks.max"]["value"] == {
        "name": "tasks.max",
        "value": "x",
        "recommended_values": [],
        "errors": [  # Kafka's words: the parse error, then its validator on the null
            "Invalid value x for configuration tasks.max: Not a number of type INT",
            "Invalid value null for configuration tasks.max: Value must be non-null",
        ],
        "visible": True,
    }
    # the transform's own keys are defined, with their errors
    assert by_key["transforms.mask.fields"]["definition"]["type"] == "LIST"
    assert by_key["transforms.mask.fields"]["value"]["errors"] == [
        "Missing required configuration."
    ]
    assert by_key["somewhere.else"]["value"]["errors"] == ["odd"]
    assert by_key["errors.tolerance"]["value"]["recommended_values"] == ["none", "all"]
    assert by_key["name"]["value"]["errors"] == []
    assert all(set(c["definition"]) == KEY_INFO for c in result["configs"])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"topics": "a", "topics.regex": "b.*"}, "topics and topics.regex are mutually "
         "exclusive options, but both are set."),
        ({}, "Must configure one of topics or topics.regex"),
        ({"topics": " ", "topics.regex": ""}, "Must configure one of topics or topics.regex"),
    ],
)  # fmt: skip
def test_sink_topics_rule_flags_both_keys_as_kafka_does(
    config: dict[str, str], message: str
) -> None:
    config = {"connector.class": "FileStreamSink", "name": "s", **config}
    issues = ConnectorConfig.sink_issues(config)
    result = validation_result(FileStreamSinkConnector, config, issues)
    by_key = {c["definition"]["name"]: c["value"]["errors"] for c in result["configs"]}
    assert (by_key["topics"], by_key["topics.regex"]) == ([message], [message])
    assert result["error_count"] == 2
    assert (
        validation_result(
            FileStreamSinkConnector, {**config, "topics": "a", "topics.regex": ""}, []
        )["error_count"]
        == 0
    )


@pytest.mark.parametrize(
    ("config", "ours", "kafka"),
    [
        ({}, ("name", "Missing required configuration with no default value."),
         ['Missing required configuration "name" which has no default value.']),
        ({"tasks.max": "2147483648"}, ("tasks.max", "Input should be a valid integer"),
         ["Invalid value 2147483648 for configuration tasks.max: Not a number of type INT",
          "Invalid value null for configuration tasks.max: Value must be non-null"]),
        ({"tasks.max": "0"}, ("tasks.max", "Input should be greater than or equal to 1"),
         ["Invalid value 0 for configuration tasks.max: Value must be at least 1"]),
        ({"tasks.max": "3"}, ("tasks.max", "something else"), ["something else"]),  # ours kept
        ({"errors.retry.timeout": "soon"}, ("errors.retry.timeout", "not a number"),
         ["Invalid value soon for configuration errors.retry.timeout: Not a number of type LONG"]),
        ({"errors.tolerance": "sometimes"}, ("errors.tolerance", "Input should be 'none' or 'all'"),
         ["Invalid value sometimes for configuration errors.tolerance: String must be one of: "
          "none, all"]),
        ({"key.converter": "com.example.No"}, ("key.converter", "no converter named ..."),
         ["Invalid value com.example.No for configuration key.converter: Class com.example.No "
          "could not be found."]),
        ({"file": "x"}, ("file", "odd"), ["odd"]),
    ],
)  # fmt: skip
def test_kafka_worded(config: dict[str, str], ours: tuple[str, str], kafka: list[str]) -> None:
    worded = kafka_worded(FileStreamSinkConnector, config, [ConfigIssue(*ours)])
    assert worded == [ConfigIssue(ours[0], message) for message in kafka]


def test_passwords_and_provider_references_are_masked() -> None:
    config = {
        "connector.class": "FileStreamSink",
        "value.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter.basic.auth.user.info": "u:p",
        "connection.password": "s3cret",
        "file": "${file:/etc/secrets.properties:path}",
        "topics": "${env:TOPICS}",
        "tasks.max": "1",
        "empty.password": "",
        "producer.override.sasl.jaas.config": "org.apache.kafka.common.security.plain.x;",
    }
    masked = mask_config(config)
    assert masked["value.converter.basic.auth.user.info"] == MASK
    assert masked["connection.password"] == MASK
    assert masked["file"] == MASK and masked["topics"] == MASK
    assert masked["producer.override.sasl.jaas.config"] == MASK
    assert masked["tasks.max"] == "1" and masked["empty.password"] == ""
    assert config["connection.password"] == "s3cret"  # the input is untouched


def test_docstring_examples() -> None:
    import doctest

    from faust_connect.app import plugins

    assert doctest.testmod(plugins).failed == 0
