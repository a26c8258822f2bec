"""FileStreamSink on both workers from one topic holding the same records: the files compared.

Kafka's task writes ``PrintStream.println(record.value())``: Java's ``toString()`` of the
converted value (``Struct{a=1,b=x}``, ``{k=v}``, ``[1, 2]``, ``null``). Each side's sink has its
own name (a sink's consumer group is ``connect-<name>``: one name would split the partitions
between the two) and its own output file; both files must be byte for byte the same.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.differential.compare import Side, create, delete, states, unique
from tests.differential.test_file_source import JSON, STRING, converters
from tests.kafka import produce
from tests.workers import wait_until

pytestmark = [pytest.mark.differential, pytest.mark.kafka, pytest.mark.slow]

SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"


def envelope(schema: object, payload: object) -> bytes:
    """A JsonConverter record with its schema."""
    return json.dumps({"schema": schema, "payload": payload}).encode()


def field(name: str, kind: str, **extra: object) -> dict[str, object]:
    return {"type": kind, "optional": True, "field": name, **extra}


STRUCT = {
    "type": "struct",
    "optional": False,
    "fields": [
        field("id", "int32"),
        field("name", "string"),
        field("ok", "boolean"),
        field("missing", "string"),
    ],
}

#: Plain JSON scalars (schemas off): strings, integers, booleans, null.
PLAIN = [b'"text"', b'"two words"', b"42", b"-7", b"true", b"null"]

#: Plain JSON arrays and objects (schemas off): Java's List and Map toString.
CONTAINERS = [b"[1, 2, 3]", b'["a", "b"]', b'{"k": "v"}', b'{"n": 1}', b"[]", b"{}"]

#: Primitives with a schema envelope.
ENVELOPED = [
    envelope({"type": "string", "optional": False}, "text"),
    envelope({"type": "int64", "optional": False}, 42),
    envelope({"type": "int32", "optional": True}, None),
    envelope({"type": "boolean", "optional": False}, False),
]

#: Structs (one with null fields), an array and a map with a schema envelope.
STRUCTURED = [
    envelope(STRUCT, {"id": 1, "name": "one", "ok": True, "missing": None}),
    envelope(STRUCT, {"id": 2, "name": None, "ok": False, "missing": None}),
    envelope({"type": "array", "items": {"type": "int32"}, "optional": False}, [1, 2, 3]),
    envelope(
        {
            "type": "map",
            "keys": {"type": "string"},
            "values": {"type": "int32"},
            "optional": False,
        },
        {"only": 1},
    ),
]

#: Floating point values (schemas off): Java's Double.toString.
DOUBLES = [b"1.5", b"100.0", b"0.001", b"12345678.9", b"1e20", b"-0.0"]

#: Plain JSON objects with several keys: Java's HashMap order.
OBJECTS = [b'{"b": 1, "a": 2, "c": 3}', b'{"name": "x", "id": 1, "zeta": true, "alpha": null}']

#: Why ours differs (the sink writes JSON for structs, maps and lists; Kafka's toString).
TO_STRING = (
    "FileStreamSink writes Java's toString of the value on Kafka, JSON on ours (file.py "
    "_line; tests/integration/test_schema_registry.py, test_security.py and bench/ read the "
    "sink's lines as JSON, so switching is the lead's call): "
)


def run_sink(
    sides: tuple[Side, Side], tmp_path: Path, values: list[bytes], convert: dict[str, str]
) -> tuple[bytes, bytes]:
    """``values`` in a fresh topic; a FileStreamSink of it on each side; both files' bytes."""
    base = unique("sink")
    topic = f"{base}-in"
    asyncio.run(produce(sides[0].bootstrap, topic, [(None, v) for v in values], partition=0))
    outs = {side.name: tmp_path / f"{side.tag}.txt" for side in sides}
    for side in sides:
        config = {"connector.class": SINK, "topics": topic, "file": str(outs[side.name])}
        create(side, f"{base}-{side.tag}", {**config, **convert})
    try:
        for side in sides:

            def written(side: Side = side) -> bool:
                out = outs[side.name]
                if out.exists() and out.read_bytes().count(b"\n") >= len(values):
                    return True
                state, tasks, trace = states(side, f"{base}-{side.tag}")
                assert "FAILED" not in (state, *tasks), (side.name, trace)
                return False

            wait_until(written, timeout=60, interval=0.5, what=f"{side.name}'s file")
    finally:
        for side in sides:
            delete(side, f"{base}-{side.tag}")
    return outs[sides[0].name].read_bytes(), outs[sides[1].name].read_bytes()


def test_strings(sides: tuple[Side, Side], tmp_path: Path) -> None:
    values = [b"hello", b"", b"  spaced  ", b'{"a": 1}', "grüße ✓ 😀".encode()]
    jvm, ours = run_sink(sides, tmp_path, values, converters(STRING))
    assert ours == jvm


def test_json_scalars_without_schemas(sides: tuple[Side, Side], tmp_path: Path) -> None:
    jvm, ours = run_sink(sides, tmp_path, PLAIN, converters(JSON, **{"schemas.enable": "false"}))
    assert ours == jvm


@pytest.mark.xfail(
    strict=True,
    reason=TO_STRING + "Kafka b'[1, 2, 3]\\n[a, b]\\n{k=v}\\n{n=1}\\n[]\\n{}\\n', "
    'ours b\'[1,2,3]\\n["a","b"]\\n{"k":"v"}\\n{"n":1}\\n[]\\n{}\\n\'',
)
def test_json_containers_without_schemas(sides: tuple[Side, Side], tmp_path: Path) -> None:
    config = converters(JSON, **{"schemas.enable": "false"})
    jvm, ours = run_sink(sides, tmp_path, CONTAINERS, config)
    assert ours == jvm


def test_json_primitives_with_schemas(sides: tuple[Side, Side], tmp_path: Path) -> None:
    jvm, ours = run_sink(sides, tmp_path, ENVELOPED, converters(JSON))
    assert ours == jvm


@pytest.mark.xfail(
    strict=True,
    reason=TO_STRING + "Kafka b'Struct{id=1,name=one,ok=true}\\nStruct{id=2,ok=false}\\n"
    '[1, 2, 3]\\n{only=1}\\n\', ours b\'{"id":1,"name":"one","ok":true,'
    '"missing":null}\\n{"id":2,"name":null,"ok":false,"missing":null}\\n'
    '[1,2,3]\\n{"only":1}\\n\'',
)
def test_json_structs_arrays_maps_with_schemas(sides: tuple[Side, Side], tmp_path: Path) -> None:
    jvm, ours = run_sink(sides, tmp_path, STRUCTURED, converters(JSON))
    assert ours == jvm


@pytest.mark.xfail(
    strict=True,
    reason=TO_STRING + "Double.toString: Kafka b'1.5\\n100.0\\n0.001\\n1.23456789E7\\n"
    "1.0E20\\n0.0\\n', ours b'1.5\\n100.0\\n0.001\\n12345678.9\\n1e+20\\n-0.0\\n' "
    "(and Kafka's exact BigDecimal parse turns -0.0 into 0.0: codecs/json)",
)
def test_json_doubles(sides: tuple[Side, Side], tmp_path: Path) -> None:
    config = converters(JSON, **{"schemas.enable": "false"})
    jvm, ours = run_sink(sides, tmp_path, DOUBLES, config)
    assert ours == jvm


@pytest.mark.xfail(
    strict=True,
    reason=TO_STRING + "HashMap order: Kafka b'{a=2, b=1, c=3}\\n{zeta=true, alpha=null, "
    'name=x, id=1}\\n\', ours b\'{"b":1,"a":2,"c":3}\\n{"name":"x","id":1,'
    '"zeta":true,"alpha":null}\\n\'',
)
def test_json_objects_with_several_keys(sides: tuple[Side, Side], tmp_path: Path) -> None:
    config = converters(JSON, **{"schemas.enable": "false"})
    jvm, ours = run_sink(sides, tmp_path, OBJECTS, config)
    assert ours == jvm
