"""The built-in SMTs and predicates on FileStreamSource's records, alone and chained.

The file's records are STRING values without a key; ``HoistField`` turns them into structs (or
maps, schemaless) so the field SMTs have something to work on. Keys, values and headers are
written with JsonConverter (schemas on unless a case says otherwise) and SimpleHeaderConverter,
so schemas, logical types and header encodings are all in the compared bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.differential.compare import Side, diff, run_source, run_until_failed, unique
from tests.differential.test_file_source import JSON, LINES, converters, source

pytestmark = [pytest.mark.differential, pytest.mark.kafka, pytest.mark.slow]

T = "org.apache.kafka.connect.transforms."
P = T + "predicates."

DATES = b"2024-01-15\n1999-12-31\n1970-01-01\n2000-02-29\n"
NUMBERS = b"1\n-2\n300\n0\n"


def chain(*steps: tuple[str, str, dict[str, str]], **predicates: dict[str, str]) -> dict[str, str]:
    """``transforms=`` from ``(alias, type, keys)`` steps, ``predicates=`` from ``alias=keys``
    (``keys["type"]`` the predicate class)."""
    out = {"transforms": ",".join(alias for alias, _, _ in steps)}
    for alias, kind, keys in steps:
        out[f"transforms.{alias}.type"] = kind if "." in kind else T + kind
        out.update({f"transforms.{alias}.{k}": v for k, v in keys.items()})
    if predicates:
        out["predicates"] = ",".join(predicates)
        for alias, keys in predicates.items():
            out.update({f"predicates.{alias}.{k}": v for k, v in keys.items()})
    return out


HOIST = ("hoist", "HoistField$Value", {"field": "line"})
STATIC = ("static", "InsertField$Value", {"static.field": "src", "static.value": "file"})


#: (id, transforms config, input, records expected, topic masked in the bytes)
CASES: list[tuple[str, dict[str, str], bytes, int, bool]] = [
    ("hoist-value", chain(HOIST), LINES, 7, False),
    ("hoist-key", chain(("hk", "HoistField$Key", {"field": "k"})), LINES, 7, False),
    ("insert-static", chain(HOIST, STATIC), LINES, 7, False),
    (
        "insert-topic-partition",
        chain(
            HOIST,
            ("ins", "InsertField$Value", {"topic.field": "t", "partition.field": "p"}),
        ),
        LINES,
        7,
        True,
    ),
    (
        "insert-required-topic",
        chain(HOIST, ("ins", "InsertField$Value", {"topic.field": "t!"})),
        LINES,
        7,
        True,
    ),
    (
        "replace-rename-exclude",
        chain(
            HOIST,
            STATIC,
            ("rf", "ReplaceField$Value", {"renames": "line:text", "exclude": "src"}),
        ),
        LINES,
        7,
        False,
    ),
    (
        "replace-include",
        chain(HOIST, STATIC, ("rf", "ReplaceField$Value", {"include": "src"})),
        LINES,
        7,
        False,
    ),
    ("mask", chain(HOIST, ("m", "MaskField$Value", {"fields": "line"})), LINES, 7, False),
    (
        "mask-replacement",
        chain(HOIST, ("m", "MaskField$Value", {"fields": "line", "replacement": "***"})),
        LINES,
        7,
        False,
    ),
    ("value-to-key", chain(HOIST, ("vk", "ValueToKey", {"fields": "line"})), LINES, 7, False),
    (
        "extract-key",
        chain(
            HOIST,
            ("vk", "ValueToKey", {"fields": "line"}),
            ("ek", "ExtractField$Key", {"field": "line"}),
        ),
        LINES,
        7,
        False,
    ),
    (
        "extract-value",
        chain(HOIST, ("ev", "ExtractField$Value", {"field": "line"})),
        LINES,
        7,
        False,
    ),
    (
        "set-schema-struct",
        chain(HOIST, ("ss", "SetSchemaMetadata$Value", {"schema.name": "com.example.Line"})),
        LINES,
        7,
        False,
    ),
    (
        "regex-router",
        chain(("rr", "RegexRouter", {"regex": "(.*)", "replacement": "$1-routed"})),
        LINES,
        7,
        False,
    ),
    (
        "timestamp-router",
        chain(
            (
                "tr",
                "TimestampRouter",
                {"topic.format": "${topic}-${timestamp}", "timestamp.format": "yyyyMMdd"},
            )
        ),
        LINES,
        7,
        False,
    ),
    (
        "timestamp-converter-unix",
        chain(("tc", "TimestampConverter$Value", {"target.type": "unix", "format": "yyyy-MM-dd"})),
        DATES,
        4,
        False,
    ),
    (
        "timestamp-converter-timestamp",
        chain(
            ("tc", "TimestampConverter$Value", {"target.type": "Timestamp", "format": "yyyy-MM-dd"})
        ),
        DATES,
        4,
        False,
    ),
    (
        "timestamp-converter-date",
        chain(("tc", "TimestampConverter$Value", {"target.type": "Date", "format": "yyyy-MM-dd"})),
        DATES,
        4,
        False,
    ),
    (
        "timestamp-converter-string",
        chain(
            (
                "tc",
                "TimestampConverter$Value",
                {"target.type": "Timestamp", "format": "yyyy-MM-dd"},
            ),
            (
                "ts",
                "TimestampConverter$Value",
                {"target.type": "string", "format": "dd/MM/yyyy HH:mm:ss.SSS"},
            ),
        ),
        DATES,
        4,
        False,
    ),
    (
        "timestamp-converter-field",
        chain(
            ("hd", "HoistField$Value", {"field": "day"}),
            (
                "tc",
                "TimestampConverter$Value",
                {"field": "day", "target.type": "Date", "format": "yyyy-MM-dd"},
            ),
        ),
        DATES,
        4,
        False,
    ),
    (
        "flatten",
        chain(HOIST, ("outer", "HoistField$Value", {"field": "outer"}), ("f", "Flatten$Value", {})),
        LINES,
        7,
        False,
    ),
    (
        "flatten-delimiter",
        chain(
            HOIST,
            STATIC,
            ("outer", "HoistField$Value", {"field": "outer"}),
            ("f", "Flatten$Value", {"delimiter": "_"}),
        ),
        LINES,
        7,
        False,
    ),
    ("cast-int64", chain(("c", "Cast$Value", {"spec": "int64"})), NUMBERS, 4, False),
    ("cast-float64", chain(("c", "Cast$Value", {"spec": "float64"})), NUMBERS, 4, False),
    (
        "cast-field-int32",
        chain(HOIST, ("c", "Cast$Value", {"spec": "line:int32"})),
        NUMBERS,
        4,
        False,
    ),
    (
        "header-from-copy",
        chain(
            HOIST,
            ("hf", "HeaderFrom$Value", {"fields": "line", "headers": "h", "operation": "copy"}),
        ),
        LINES,
        7,
        False,
    ),
    (
        "header-from-move",
        chain(
            HOIST,
            STATIC,
            ("hf", "HeaderFrom$Value", {"fields": "line", "headers": "h", "operation": "move"}),
        ),
        LINES,
        7,
        False,
    ),
    (
        "insert-header-literals",
        chain(
            ("s", "InsertHeader", {"header": "s", "value.literal": "file"}),
            ("i", "InsertHeader", {"header": "i", "value.literal": "42"}),
            ("f", "InsertHeader", {"header": "f", "value.literal": "3.5"}),
            ("b", "InsertHeader", {"header": "b", "value.literal": "true"}),
        ),
        LINES,
        7,
        False,
    ),
    (
        "insert-header-array-literal",
        chain(("a", "InsertHeader", {"header": "a", "value.literal": "[1, 2]"})),
        LINES,
        7,
        False,
    ),
    (
        "drop-headers",
        chain(
            ("a", "InsertHeader", {"header": "a", "value.literal": "x"}),
            ("b", "InsertHeader", {"header": "b", "value.literal": "y"}),
            ("d", "DropHeaders", {"headers": "a"}),
        ),
        LINES,
        7,
        False,
    ),
    (
        "filter-topic-name-negated",
        chain(
            ("f", "Filter", {"predicate": "ours", "negate": "true"}),
            ours={
                "type": P + "TopicNameMatches",
                "pattern": "d-.*",
            },
        ),
        LINES,
        7,
        False,
    ),
    (
        "predicates-has-header-key",
        chain(
            ("m", "InsertHeader", {"header": "mark", "value.literal": "1"}),
            ("y", "InsertHeader", {"header": "yes", "value.literal": "1", "predicate": "marked"}),
            ("n", "InsertHeader", {"header": "no", "value.literal": "1", "predicate": "absent"}),
            marked={"type": P + "HasHeaderKey", "name": "mark"},
            absent={"type": P + "HasHeaderKey", "name": "nothing"},
        ),
        LINES,
        7,
        False,
    ),
    (
        "predicates-tombstone",
        chain(
            (
                "y",
                "InsertHeader",
                {"header": "live", "value.literal": "1", "predicate": "tomb", "negate": "true"},
            ),
            ("n", "InsertHeader", {"header": "dead", "value.literal": "1", "predicate": "tomb"}),
            tomb={"type": P + "RecordIsTombstone"},
        ),
        LINES,
        7,
        False,
    ),
    (
        "long-chain",
        chain(
            HOIST,
            STATIC,
            ("vk", "ValueToKey", {"fields": "src"}),
            ("rf", "ReplaceField$Value", {"renames": "line:text"}),
            ("ih", "InsertHeader", {"header": "via", "value.literal": "chain"}),
            ("hf", "HeaderFrom$Value", {"fields": "text", "headers": "t", "operation": "copy"}),
            ("ss", "SetSchemaMetadata$Value", {"schema.name": "com.example.Chained"}),
            (
                "rr",
                "RegexRouter",
                {"regex": "(.*)", "replacement": "$1-chained", "predicate": "ours"},
            ),
            ours={"type": P + "TopicNameMatches", "pattern": "d-.*"},
        ),
        LINES,
        7,
        False,
    ),
    ("cast-int8", chain(("c", "Cast$Value", {"spec": "int8"})), b"1\n-2\n100\n0\n", 4, False),
    ("cast-int16", chain(("c", "Cast$Value", {"spec": "int16"})), NUMBERS, 4, False),
    ("cast-float32", chain(("c", "Cast$Value", {"spec": "float32"})), NUMBERS, 4, False),
    ("cast-boolean", chain(("c", "Cast$Value", {"spec": "boolean"})), NUMBERS, 4, False),
    (
        "cast-boolean-words",
        chain(("c", "Cast$Value", {"spec": "boolean"})),
        b"true\nTRUE\n true\nyes\nfalse\n",
        5,
        False,
    ),
    (
        "cast-field-string",
        chain(
            ("h", "HoistField$Value", {"field": "n"}),
            ("c1", "Cast$Value", {"spec": "n:int64"}),
            ("c2", "Cast$Value", {"spec": "n:string"}),
        ),
        NUMBERS,
        4,
        False,
    ),
    (
        "timestamp-converter-time",
        chain(("tc", "TimestampConverter$Value", {"target.type": "Time", "format": "yyyy-MM-dd"})),
        DATES,
        4,
        False,
    ),
    (
        "key-side-smts",
        chain(
            HOIST,
            STATIC,
            ("vk", "ValueToKey", {"fields": "line,src"}),
            ("rk", "ReplaceField$Key", {"renames": "src:origin"}),
            ("mk", "MaskField$Key", {"fields": "line"}),
            ("ik", "InsertField$Key", {"static.field": "k", "static.value": "v"}),
            (
                "sk",
                "SetSchemaMetadata$Key",
                {"schema.name": "com.example.Key", "schema.version": "2"},
            ),
        ),
        LINES,
        7,
        False,
    ),
    (
        "key-hoist-flatten-extract",
        chain(
            HOIST,
            ("vk", "ValueToKey", {"fields": "line"}),
            ("hk", "HoistField$Key", {"field": "outer"}),
            ("fk", "Flatten$Key", {"delimiter": "/"}),
            ("ek", "ExtractField$Key", {"field": "outer/line"}),
        ),
        LINES,
        7,
        False,
    ),
    (
        "header-from-key",
        chain(
            HOIST,
            ("vk", "ValueToKey", {"fields": "line"}),
            ("hf", "HeaderFrom$Key", {"fields": "line", "headers": "k", "operation": "copy"}),
        ),
        LINES,
        7,
        False,
    ),
]

#: Known differences, by case id: the exact bytes each side writes (see the report in the README).
XFAIL: dict[str, str] = {}

#: Cases run again without schemas (maps instead of structs).
SCHEMALESS = {
    "hoist-value",
    "hoist-key",
    "insert-static",
    "value-to-key",
    "flatten",
    "cast-float64",
}


def _params() -> list[Any]:
    out: list[Any] = []
    for case, config, data, count, mask in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=XFAIL[case])] if case in XFAIL else []
        out.append(pytest.param(config, data, count, mask, "true", id=case, marks=marks))
        if case in SCHEMALESS:
            out.append(pytest.param(config, data, count, mask, "false", id=f"{case}-schemaless"))
    return out


@pytest.mark.parametrize(("transforms", "data", "count", "mask_topic", "schemas"), _params())
def test_transforms(
    sides: tuple[Side, Side],
    tmp_path: Path,
    transforms: dict[str, str],
    data: bytes,
    count: int,
    mask_topic: bool,
    schemas: str,
) -> None:
    assert data.count(b"\n") >= count
    path = tmp_path / "in.txt"
    path.write_bytes(data)
    config = source(path, **converters(JSON, **{"schemas.enable": schemas}), **transforms)
    jvm, ours = run_source(sides, unique("smt"), config, count, mask_topic=mask_topic)
    assert ours == jvm, diff(jvm, ours)


#: SMTs that fail the task on Kafka for FileStreamSource's records: (id, transforms, input).
FAILING: list[tuple[str, dict[str, str], bytes]] = [
    (
        "set-schema-on-string",
        chain(
            (
                "ss",
                "SetSchemaMetadata$Value",
                {"schema.name": "com.example.Line", "schema.version": "3"},
            )
        ),
        LINES,
    ),
    (
        "insert-field-on-string",
        chain(STATIC),
        LINES,
    ),
    (
        "insert-offset-field-on-source",
        chain(HOIST, ("ins", "InsertField$Value", {"offset.field": "o"})),
        LINES,
    ),
]

#: Known differences in which SMTs fail, by case id.
FAILING_XFAIL: dict[str, str] = {}


def _failing() -> list[Any]:
    return [
        pytest.param(
            config,
            data,
            id=case,
            marks=[pytest.mark.xfail(strict=True, reason=FAILING_XFAIL[case])]
            if case in FAILING_XFAIL
            else [],
        )
        for case, config, data in FAILING
    ]


@pytest.mark.parametrize(("transforms", "data"), _failing())
def test_transform_failures(
    sides: tuple[Side, Side], tmp_path: Path, transforms: dict[str, str], data: bytes
) -> None:
    """Where Kafka's SMT fails the task, ours does too: connector RUNNING, its task FAILED."""
    path = tmp_path / "in.txt"
    path.write_bytes(data)
    config = source(path, **converters(JSON), **transforms)
    jvm, ours = run_until_failed(sides, unique("smtfail"), config, timeout=30)
    assert (ours[0], ours[1]) == (jvm[0], jvm[1]) == ("RUNNING", ["FAILED"]), ours[2]
