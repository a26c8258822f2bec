"""The in-memory schema registry: ids, versions, compatibility and Confluent's error codes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from faust_connect.codecs import SchemaRegistry, SchemaRegistryError
from faust_connect.codecs.avro.compat import can_read


def record(*fields: dict[str, Any], name: str = "R") -> str:
    return json.dumps({"type": "record", "name": name, "fields": list(fields)})


ID = {"name": "id", "type": "int"}
NAME_REQUIRED = {"name": "name", "type": "string"}
NAME_DEFAULT = {"name": "name", "type": "string", "default": ""}
ID_LONG = {"name": "id", "type": "long"}


def test_ids_versions_and_same_schema_same_id() -> None:
    reg = SchemaRegistry()
    first = reg.register("a-value", record(ID))
    assert first == 1
    assert reg.register("a-value", record(ID)) == 1  # no new version
    assert reg.versions("a-value") == [1]
    assert reg.register("b-value", json.dumps(json.loads(record(ID)), indent=2)) == 1
    second = reg.register("a-value", record(ID, NAME_DEFAULT))
    assert second == 2
    assert reg.versions("a-value") == [1, 2]
    assert reg.get_latest("a-value") == (
        "a-value",
        2,
        2,
        json.dumps(json.loads(record(ID, NAME_DEFAULT)), separators=(",", ":")),
    )
    assert reg.get_version("a-value", 1).id == 1
    assert reg.lookup("a-value", record(ID)).version == 1
    assert reg.subjects() == ["a-value", "b-value"]
    assert json.loads(reg.get_schema(1)) == json.loads(record(ID))


@pytest.mark.parametrize(
    ("call", "code", "status"),
    [
        (lambda r: r.get_latest("missing"), 40401, 404),
        (lambda r: r.get_version("s", 9), 40402, 404),
        (lambda r: r.get_schema(99), 40403, 404),
        (lambda r: r.lookup("s", '"string"'), 40403, 404),
        (lambda r: r.register("s", "{not json"), 42201, 422),
        (lambda r: r.register("s", '{"type": "nope"}'), 42201, 422),
        (lambda r: r.set_compatibility("SOMETIMES"), 42203, 422),
        (lambda r: r.register("s", record(ID, NAME_REQUIRED)), 409, 409),
    ],
)
def test_error_codes(call: Any, code: int, status: int) -> None:
    reg = SchemaRegistry()
    reg.register("s", record(ID))
    with pytest.raises(SchemaRegistryError) as info:
        call(reg)
    assert info.value.error_code == code
    assert info.value.http_status == status


@pytest.mark.parametrize(
    ("level", "old", "new", "ok"),
    [
        ("BACKWARD", [ID], [ID, NAME_DEFAULT], True),
        ("BACKWARD", [ID], [ID, NAME_REQUIRED], False),
        ("BACKWARD", [ID, NAME_REQUIRED], [ID], True),
        ("BACKWARD", [ID], [ID_LONG], True),  # int promotes to long
        ("BACKWARD", [ID_LONG], [ID], False),
        ("FORWARD", [ID, NAME_REQUIRED], [ID], False),
        ("FORWARD", [ID], [ID, NAME_REQUIRED], True),
        ("FULL", [ID], [ID, NAME_DEFAULT], True),
        ("FULL", [ID], [ID, NAME_REQUIRED], False),
        ("FULL", [ID], [ID_LONG], False),
        ("NONE", [ID], [NAME_REQUIRED], True),
    ],
)
def test_compatibility_levels(
    level: str, old: list[dict[str, Any]], new: list[dict[str, Any]], ok: bool
) -> None:
    reg = SchemaRegistry()
    reg.set_compatibility(level, "s")
    reg.register("s", record(*old))
    assert reg.check_compatibility("s", record(*new)) is ok
    if ok:
        reg.register("s", record(*new))
    else:
        with pytest.raises(SchemaRegistryError) as info:
            reg.register("s", record(*new))
        assert info.value.error_code == 409


def test_transitive_checks_every_version() -> None:
    v1 = record(ID)
    v2 = record(ID, NAME_DEFAULT)
    v3 = record(ID, {"name": "name", "type": "string"})  # drops the default
    for level, ok in (("BACKWARD", True), ("BACKWARD_TRANSITIVE", False)):
        reg = SchemaRegistry(compatibility=level)  # type: ignore[arg-type]
        reg.register("s", v1)
        reg.register("s", v2)
        assert reg.check_compatibility("s", v3) is ok, level


def test_subject_level_overrides_global() -> None:
    reg = SchemaRegistry(compatibility="NONE")
    reg.set_compatibility("FULL", "strict")
    assert reg.compatibility("strict") == "FULL"
    assert reg.compatibility("other") == "NONE"


def test_storage_is_a_plain_mapping() -> None:
    store: dict[str, Any] = {}
    SchemaRegistry(store).register("s", '"string"')
    again = SchemaRegistry(store)
    assert again.get_latest("s").schema == '"string"'
    assert again.register("t", '"long"') == 2
    assert json.loads(json.dumps(store)) == store  # JSON-ready values only


def test_delete_subject_keeps_ids() -> None:
    reg = SchemaRegistry()
    reg.register("s", '"string"')
    assert reg.delete_subject("s") == [1]
    assert reg.subjects() == []
    assert reg.get_schema(1) == '"string"'


@pytest.mark.parametrize(
    ("reader", "writer", "ok"),
    [
        ("long", "int", True),
        ("double", "float", True),
        ("string", "bytes", True),
        ("int", "string", False),
        (["null", "string"], "string", True),
        ("string", ["null", "string"], False),
        ({"type": "array", "items": "long"}, {"type": "array", "items": "int"}, True),
        ({"type": "map", "values": "int"}, {"type": "map", "values": "long"}, False),
        (
            {"type": "enum", "name": "E", "symbols": ["A", "B"]},
            {"type": "enum", "name": "E", "symbols": ["A"]},
            True,
        ),
        (
            {"type": "enum", "name": "E", "symbols": ["A"]},
            {"type": "enum", "name": "E", "symbols": ["A", "B"]},
            False,
        ),
        (
            {"type": "fixed", "name": "F", "size": 2},
            {"type": "fixed", "name": "F", "size": 3},
            False,
        ),
        (json.loads(record(ID, name="A")), json.loads(record(ID, name="B")), False),
    ],
)
def test_resolution_rules(reader: Any, writer: Any, ok: bool) -> None:
    assert can_read(reader, writer) is ok
