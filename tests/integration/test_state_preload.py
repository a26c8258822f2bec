"""State tables loaded at start in bulk (``tables.preload``), then kept current by Faust.

A restarted worker must hold every stored key before any task starts, including overwrites and
deletes, and must go on seeing what is written to the internal topics after it started.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import orjson
import pytest

from faust_connect.agents.runtime.offsets import offset_key
from tests.conftest import Broker
from tests.kafka import consume, produce
from tests.rest import Rest
from tests.workers import WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

STORED = 3_000


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _offsets(rest: Rest, name: str) -> dict[str, object]:
    body = rest.get(f"/connectors/{name}/offsets")
    return {orjson.dumps(o["partition"]).decode(): o["offset"] for o in body["offsets"]}


def test_a_restarted_worker_holds_every_stored_offset_before_tasks_start(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    group, topic, name = f"pre-{_uid()}", f"counted-{_uid()}", "counter"
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap, group_id=group)
    assert worker.stop() == 0  # the internal topics exist now, empty

    # Written the way Kafka Connect writes them, over all partitions of the offsets topic:
    # many source partitions, then overwrites and deletes (tombstones) of some of them.
    extra = [offset_key(name, {"file": f"/data/{i}"}) for i in range(STORED)]
    records: list[tuple[bytes | None, bytes | None]] = [
        (key, orjson.dumps({"position": i})) for i, key in enumerate(extra)
    ]
    records += [(key, orjson.dumps({"position": -i})) for i, key in enumerate(extra[:500])]
    records += [(key, None) for key in extra[500:700]]
    # the counter's own offset: it must resume at 40, so this key is read before it starts
    records.append((offset_key(name, {"counter": name}), orjson.dumps({"n": 40})))
    asyncio.run(produce(broker.bootstrap, f"{group}-offsets", records))

    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap, group_id=group)
    # loaded in bulk: Faust's own recovery found nothing left to read
    assert "state records in" in worker.log()
    assert "Restoring state from changelog topics" not in worker.log()
    rest = worker.rest
    rest.create(
        name,
        {
            "connector.class": "CountingSource",
            "topic": topic,
            "count": "50",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        },
    )
    values = [r.value for r in asyncio.run(consume(broker.bootstrap, topic, 10, timeout=30))]
    assert values == [str(i).encode() for i in range(40, 50)]

    expected = {
        orjson.dumps({"file": f"/data/{i}"}).decode(): {"position": -i if i < 500 else i}
        for i in range(STORED)
        if not 500 <= i < 700
    }
    expected[orjson.dumps({"counter": name}).decode()] = {"n": 50}
    wait_until(lambda: _offsets(rest, name) == expected, what="every stored offset")

    # written behind the running worker's back: Faust's consumer reads on after the preload
    later = offset_key(name, {"file": "/data/later"})
    asyncio.run(produce(broker.bootstrap, f"{group}-offsets", [(later, b'{"position":7}')]))
    expected[orjson.dumps({"file": "/data/later"}).decode()] = {"position": 7}
    wait_until(lambda: _offsets(rest, name) == expected, what="the later offset")

    # and once more after a restart: what the worker itself wrote is there too
    assert worker.stop() == 0
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap, group_id=group)
    assert _offsets(worker.rest, name) == expected
    assert worker.rest.state(name)[0] == "RUNNING"
