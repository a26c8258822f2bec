"""The offsets topic records a FileStreamSource writes, on each side, for the same file.

Both workers store source offsets as Kafka Connect does: key ``["<connector>", {partition}]``
and value ``{offset}``, JSON without schemas, in a 25-partition offsets topic. The connector has
the same name on both sides and reads the same path, so the keys, the values and the partition
each record lands in must be identical. How *many* offset records each side writes depends on
when its flushes happen (every 500 ms on both), so the last record per key is compared, and
every key.
"""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.differential.compare import Side, create, delete, read_topics, snapshot, unique
from tests.differential.test_file_source import LINES, STRING, converters, source
from tests.differential.test_transforms import chain
from tests.workers import wait_until

pytestmark = [pytest.mark.differential, pytest.mark.kafka, pytest.mark.slow]

#: One offsets record: partition, key, value.
Offset = tuple[int, bytes, bytes | None]


def offsets(side: Side, name: str) -> list[Offset]:
    """The offsets records of connector ``name`` on ``side``, in order."""
    raw = asyncio.run(read_topics(side.bootstrap, side.offsets_topic))
    prefix = json.dumps([name]).encode()[:-1] + b","
    return [
        (r.partition, r.key, r.value)
        for r in raw.get(side.offsets_topic, [])
        if r.key is not None and r.key.startswith(prefix)
    ]


def _wrote(side: Side, name: str, value: bytes) -> bool:
    return any(r[3] == value for r in snapshot(side, name))


def run_to_position(
    sides: tuple[Side, Side], name: str, config: dict[str, str], *positions: int
) -> tuple[list[Offset], list[Offset]]:
    """Create ``name`` on both sides; wait until each stored one of ``positions`` (the end of
    the file, however a side counts it) as its last offset."""
    for side in sides:
        create(side, name, side.fill(config, name))
    found: list[list[Offset]] = []
    try:
        for side in sides:

            def stored(side: Side = side) -> list[Offset]:
                records = offsets(side, name)
                last: Any = json.loads(records[-1][2] or b"null") if records else None
                return records if last in [{"position": n} for n in positions] else []

            found.append(wait_until(stored, timeout=60, interval=0.5, what=f"{side.name} offsets"))
    finally:
        for side in sides:
            delete(side, name)
    return found[0], found[1]


def test_offsets_records(sides: tuple[Side, Side], tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(b"one\ntwo\nthree\n")
    jvm, ours = run_to_position(sides, unique("off"), source(path, **converters(STRING)), 14)
    assert ours[-1] == jvm[-1], (jvm, ours)
    assert {(p, k) for p, k, _ in ours} == {(p, k) for p, k, _ in jvm}


@pytest.mark.xfail(
    strict=True,
    reason="records an SMT drops: Kafka's (non-exactly-once) WorkerSourceTask.recordDropped only "
    "calls commitTaskRecord, so it stores no offset for them and re-reads them once the filter "
    "is gone: its topic then holds b'one', b'two', b'three', b'four'; ours stored "
    "b'{\"position\":14}' for the dropped lines and writes only b'four' (agents/runtime/source.py)",
)
def test_offsets_of_filtered_records(sides: tuple[Side, Side], tmp_path: Path) -> None:
    """Drop every line with a Filter, then remove the filter and add a line: what each side
    writes shows whether the dropped lines' offsets were stored."""
    path = tmp_path / "in.txt"
    path.write_bytes(b"one\ntwo\nthree\n")
    name = unique("offdrop")
    plain = source(path, **converters(STRING))
    filtered = {
        **plain,
        **chain(
            ("m", "InsertHeader", {"header": "mark", "value.literal": "1"}),
            ("f", "Filter", {"predicate": "marked"}),
            marked={
                "type": "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
                "name": "mark",
            },
        ),
    }
    for side in sides:
        create(side, name, side.fill(filtered, name))
    try:
        # ours stores the dropped lines' offsets; Kafka's stores none (what is compared below)
        wait_until(
            lambda: any(v == b'{"position":14}' for _, _, v in offsets(sides[1], name)),
            timeout=60,
            interval=0.5,
            what="faust-connect's offset of the dropped lines",
        )
        for side in sides:
            status, body = side.rest.call(
                "PUT", f"/connectors/{name}/config", {**side.fill(plain, name), "name": name}
            )
            assert status == 200, (side.name, status, body)
        with path.open("ab") as out:
            out.write(b"four\n")
        for side in sides:
            wait_until(
                functools.partial(_wrote, side, name, b"four"),
                timeout=60,
                interval=0.5,
                what=f"'four' from {side.name}",
            )
        jvm, ours = snapshot(sides[0], name), snapshot(sides[1], name)
    finally:
        for side in sides:
            delete(side, name)
    assert [r[3] for r in ours] == [r[3] for r in jvm], (jvm, ours)


#: The end of LINES as Kafka's task counts it: UTF-16 chars (84), not bytes (88).
CHARS = len(LINES.decode().encode("utf-16-le")) // 2


@pytest.mark.xfail(
    strict=True,
    reason="Kafka's FileStreamSourceTask counts the position in UTF-16 chars (streamOffset += "
    "the chars of the line and its end), ours in bytes: at the end of LINES Kafka stores "
    "b'{\"position\":84}', ours b'{\"position\":88}' (Kafka's resume then skips that many "
    "*bytes*, so copying it would re-read a line after a restart; agents/connectors/file.py "
    "left as is for the lead to decide)",
)
def test_offsets_of_non_ascii_lines(sides: tuple[Side, Side], tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(LINES)
    config = source(path, **converters(STRING))
    jvm, ours = run_to_position(sides, unique("offutf"), config, CHARS, len(LINES))
    assert ours[-1] == jvm[-1], (jvm, ours)
