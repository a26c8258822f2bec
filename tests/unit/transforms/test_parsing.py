"""chain_from_config and transform_config_issues: Kafka's transforms.*/predicates.* keys."""

from __future__ import annotations

from typing import TypeVar

import pytest

from faust_connect.exceptions import ConfigError, ConfigIssue
from faust_connect.records import ConnectRecord, SourceRecord
from faust_connect.transforms import (
    ExtractField,
    ExtractNewRecordState,
    Filter,
    InsertField,
    TopicNameMatches,
    Transform,
    chain_from_config,
    predicates,
    transform_config_issues,
    transforms,
)

from .helpers import src

R = TypeVar("R", bound=ConnectRecord)
K = "org.apache.kafka.connect.transforms."


def test_kafka_docs_file_source_example() -> None:
    # Kafka's docs: HoistField then InsertField on the file source's lines
    chain = chain_from_config(
        {
            "name": "local-file-source",
            "transforms": "MakeMap, InsertSource",
            "transforms.MakeMap.type": K + "HoistField$Value",
            "transforms.MakeMap.field": "line",
            "transforms.InsertSource.type": K + "InsertField$Value",
            "transforms.InsertSource.static.field": "data_source",
            "transforms.InsertSource.static.value": "test-file-source",
        }
    )
    out = chain.apply(src("foo"))
    assert out is not None and out.value == {"line": "foo", "data_source": "test-file-source"}
    assert [s.label for s in chain.stages] == ["MakeMap", "InsertSource"]


def test_kafka_docs_predicate_example() -> None:
    chain = chain_from_config(
        {
            "transforms": "Filter,Extract",
            "transforms.Filter.type": K + "Filter",
            "transforms.Filter.predicate": "IsFoo",
            "transforms.Extract.type": K + "ExtractField$Key",
            "transforms.Extract.field": "other_field",
            "transforms.Extract.predicate": "IsBar",
            "transforms.Extract.negate": "true",
            "predicates": "IsFoo,IsBar",
            "predicates.IsFoo.type": K + "predicates.TopicNameMatches",
            "predicates.IsFoo.pattern": "foo",
            "predicates.IsBar.type": K + "predicates.TopicNameMatches",
            "predicates.IsBar.pattern": "bar",
        }
    )
    key = {"other_field": 7}
    records = [
        SourceRecord(topic="foo", key=key, value=1),
        SourceRecord(topic="bar", key=key, value=2),
        SourceRecord(topic="baz", key=key, value=3),
    ]
    out = chain.apply_batch(records)
    assert [(r.topic, r.key) for r in out] == [("bar", key), ("baz", 7)]
    extract = chain.stages[1]
    assert isinstance(extract.transform, ExtractField) and extract.transform.config.target == "key"
    assert isinstance(extract.predicate, TopicNameMatches) and extract.negate


@pytest.mark.parametrize(
    ("type_name", "cls", "target"),
    [
        (K + "InsertField$Value", InsertField, "value"),
        (K + "InsertField$Key", InsertField, "key"),
        ("InsertField", InsertField, "value"),
        ("InsertField$Key", InsertField, "key"),
        ("insert_field", InsertField, "value"),
        (K + "Filter", Filter, None),
        ("io.debezium.transforms.ExtractNewRecordState", ExtractNewRecordState, None),
        ("unwrap", ExtractNewRecordState, None),
        ("faust_connect.transforms.fields:InsertField", InsertField, "value"),
    ],
)
def test_type_names(type_name: str, cls: type, target: str | None) -> None:
    chain = chain_from_config({"transforms": "a", "transforms.a.type": type_name})
    transform = chain.stages[0].transform
    assert type(transform) is cls
    assert getattr(transform.config, "target", None) == target


def test_every_kafka_class_name_resolves() -> None:
    names = [
        "Cast",
        "ExtractField",
        "Flatten",
        "HeaderFrom",
        "HoistField",
        "InsertField",
        "MaskField",
        "ReplaceField",
        "SetSchemaMetadata",
        "TimestampConverter",
    ]
    for name in names:
        for variant in ("$Key", "$Value"):
            assert K + name + variant in transforms
    for name in [
        "DropHeaders",
        "Filter",
        "InsertHeader",
        "RegexRouter",
        "TimestampRouter",
        "ValueToKey",
    ]:
        assert K + name in transforms
    for name in ["TopicNameMatches", "HasHeaderKey", "RecordIsTombstone"]:
        assert K + "predicates." + name in predicates
    assert len(transforms.names()) >= 17


def test_empty_config_is_identity() -> None:
    chain = chain_from_config({"name": "x"})
    assert len(chain) == 0 and transform_config_issues({"transforms": ""}) == []


BAD = {
    "transforms": "route,mask,cast,nope,keyless,pred",
    "transforms.route.type": K + "RegexRouter",
    "transforms.route.regex": "(",
    "transforms.mask.type": K + "MaskField$Value",
    "transforms.cast.type": K + "Cast$Value",
    "transforms.cast.spec": "a:int128",
    "transforms.cast.colour": "red",
    "transforms.nope.type": K + "InsertFeild$Value",
    "transforms.keyless.type": K + "Filter$Key",
    "transforms.pred.type": "Filter",
    "transforms.pred.predicate": "isNull",
    "transforms.pred.negate": "perhaps",
    "predicates": "p1,p2",
    "predicates.p1.type": "TopicNameMatches",
    "predicates.p2.type": "NoSuchPredicate",
}


def test_one_issue_per_bad_key() -> None:
    issues = transform_config_issues(BAD)
    keys = [i.key for i in issues]
    assert sorted(keys) == sorted(
        [
            "predicates.p1.pattern",
            "predicates.p2.type",
            "transforms.route.regex",
            "transforms.route.replacement",
            "transforms.mask.fields",
            "transforms.cast.spec",
            "transforms.cast.colour",
            "transforms.nope.type",
            "transforms.keyless.type",
            "transforms.pred.predicate",
            "transforms.pred.negate",
        ]
    )
    by_key = {i.key: i.message for i in issues}
    assert "InsertField" in by_key["transforms.nope.type"]  # did-you-mean
    assert "Missing required" in by_key["transforms.mask.fields"]
    assert "Unknown configuration key" in by_key["transforms.cast.colour"]
    assert "isNull" in by_key["transforms.pred.predicate"]
    assert "$Key/$Value" in by_key["transforms.keyless.type"]
    with pytest.raises(ConfigError) as info:
        chain_from_config(BAD)
    assert info.value.issues == issues


@pytest.mark.parametrize(
    ("config", "issue"),
    [
        (
            {"transforms": "a"},
            ConfigIssue(
                "transforms.a.type", "Missing required configuration with no default value."
            ),
        ),
        (
            {"predicates": "p"},
            ConfigIssue(
                "predicates.p.type", "Missing required configuration with no default value."
            ),
        ),
        (
            {"transforms": "a,a", "transforms.a.type": "Filter"},
            ConfigIssue("transforms", "Duplicate alias(es): a."),
        ),
    ],
)
def test_single_issues(config: dict[str, str], issue: ConfigIssue) -> None:
    assert transform_config_issues(config) == [issue]


def test_negate_without_predicate_is_ignored_like_kafka() -> None:
    chain = chain_from_config(
        {"transforms": "f", "transforms.f.type": "Filter", "transforms.f.negate": "true"}
    )
    assert chain.apply(src(1)) is None


def test_user_defined_transform_by_decorator() -> None:
    @transforms.register("test.Shout", aliases=["com.example.Shout"])
    class Shout(Transform):
        """Upper-cases string values."""

        def apply(self, record: R) -> R | None:
            return record.replace(value=str(record.value).upper())

    chain = chain_from_config({"transforms": "s", "transforms.s.type": "com.example.Shout"})
    out = chain.apply(src("hi"))
    assert out is not None and out.value == "HI"
    issues = transform_config_issues(
        {"transforms": "s", "transforms.s.type": "com.example.Shout", "transforms.s.x": "1"}
    )
    assert issues == [ConfigIssue("transforms.s.x", "Unknown configuration key.")]


@pytest.mark.parametrize(
    ("config", "issue"),
    [
        (
            {"transforms": "a", "transforms.a.type": "os.path"},
            ConfigIssue("transforms.a.type", "os.path is not a transform."),
        ),
        (
            {"predicates": "p", "predicates.p.type": "faust_connect.transforms:Filter"},
            ConfigIssue("predicates.p.type", "faust_connect.transforms:Filter is not a predicate."),
        ),
    ],
)
def test_type_must_be_a_plugin_of_that_kind(config: dict[str, str], issue: ConfigIssue) -> None:
    assert transform_config_issues(config) == [issue]


def test_debezium_unwrap_config_from_its_docs() -> None:
    chain = chain_from_config(
        {
            "transforms": "unwrap",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "transforms.unwrap.drop.tombstones": "false",
            "transforms.unwrap.delete.handling.mode": "rewrite",
            "transforms.unwrap.add.fields": "table,lsn",
        }
    )
    source = {"table": "customers", "lsn": 24023128}
    deleted = {"before": {"id": 1004}, "after": None, "op": "d", "source": source}
    records = [src(deleted), src(None)]
    out = chain.apply_batch(records)
    assert [r.value for r in out] == [
        {"id": 1004, "__table": "customers", "__lsn": 24023128, "__deleted": "true"},
        None,
    ]


def test_chain_close_closes_every_transform() -> None:
    closed: list[str] = []

    class Closing(Transform):
        """Records its own closing."""

        def apply(self, record: R) -> R | None:
            return record

        def close(self) -> None:
            closed.append(self.label)

    (Closing(alias="a") | Closing(alias="b")).close()
    assert closed == ["a", "b"]
