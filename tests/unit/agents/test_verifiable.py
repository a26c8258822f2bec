"""Kafka's verifiable source and sink, run through the broker-free harness."""

from __future__ import annotations

from pathlib import Path

import orjson

from faust_connect.agents.connectors.verifiable import (
    VerifiableSinkConnector,
    VerifiableSourceConnector,
)
from faust_connect.testing import TaskHarness

STRINGS = {
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.storage.StringConverter",
}


def _lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def test_the_source_resumes_after_its_stored_seqno_and_reports_commits(
    tmp_path: Path,
) -> None:
    report = tmp_path / "source.jsonl"
    harness = TaskHarness(
        VerifiableSourceConnector,
        {"name": "v", "topic": "t", "throughput": "1000000", "file": str(report), **STRINGS},
        offsets=[({"id": 0}, {"seqno": 41})],
    )
    await harness.start()
    produced = await harness.poll()
    assert [p.value for p in produced[:3]] == [b"42", b"43", b"44"]
    assert {p.key for p in produced} == {b"0"}
    assert len(produced) <= 500
    seqnos = [line["seqno"] for line in _lines(report) if line.get("committed")]
    assert seqnos == list(range(42, 42 + len(produced)))
    assert harness.offsets[(("id", 0),)] == {"seqno": 41 + len(produced)}


async def test_the_sink_reports_what_it_was_given_and_what_was_flushed(tmp_path: Path) -> None:
    report = tmp_path / "sink.jsonl"
    harness = TaskHarness(
        VerifiableSinkConnector,
        {"name": "s", "topics": "t", "file": str(report), **STRINGS},
    )
    await harness.start()
    await harness.deliver("t", [(b"2", b"7"), (b"2", b"8")])
    assert [(r["task"], r["seqno"], r.get("flushed")) for r in _lines(report)] == [
        ("2", "7", None),
        ("2", "8", None),
    ]
    await harness.flush()
    assert [r["offset"] for r in _lines(report) if r.get("flushed")] == [0, 1]
