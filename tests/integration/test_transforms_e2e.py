"""A Kafka Connect transform chain with a predicate, from connector config, through a broker."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import orjson
import pytest

from tests.conftest import Broker
from tests.kafka import produce
from tests.workers import WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_four_transforms_and_a_predicate_produce_exactly_the_expected_records(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    topic, out = f"people-{uuid.uuid4().hex[:8]}", tmp_path / "out.jsonl"
    people = [{"id": i, "name": f"n{i}", "ssn": f"{i:09d}", "tmp": "x"} for i in range(100)]
    skipped = {i for i in range(100) if i % 10 == 3}
    values = [(None, orjson.dumps(p)) for p in people]

    async def send() -> None:
        for i, value in enumerate(values):
            headers = [("skip", b"yes")] if i in skipped else None
            await produce(broker.bootstrap, topic, [value], headers=headers, partition=0)

    asyncio.run(send())
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    worker.rest.create(
        "people",
        {
            "connector.class": "RecordingSink",
            "topics": topic,
            "file": str(out),
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "transforms": "rename,insert,mask,skip",
            "transforms.rename.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
            "transforms.rename.renames": "name:full_name",
            "transforms.rename.exclude": "tmp",
            "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
            "transforms.insert.static.field": "source",
            "transforms.insert.static.value": "kafka",
            "transforms.insert.offset.field": "offset",
            "transforms.mask.type": "org.apache.kafka.connect.transforms.MaskField$Value",
            "transforms.mask.fields": "ssn",
            "transforms.mask.replacement": "***",
            "transforms.skip.type": "org.apache.kafka.connect.transforms.Filter",
            "transforms.skip.predicate": "hasSkip",
            "predicates": "hasSkip",
            "predicates.hasSkip.type": "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
            "predicates.hasSkip.name": "skip",
        },
    )
    expected = [
        {"id": i, "full_name": f"n{i}", "ssn": "***", "source": "kafka", "offset": i}
        for i in range(100)
        if i not in skipped
    ]

    def lines() -> list[object]:
        return [orjson.loads(x) for x in out.read_bytes().splitlines()] if out.exists() else []

    wait_until(lambda: len(lines()) >= len(expected), what="the transformed records")
    assert lines() == expected
