"""The Kafka fixtures give real brokers that carry records, keys and headers, on every listener."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Broker
from tests.kafka import consume, produce

pytestmark = pytest.mark.kafka


async def test_round_trip(broker: Broker) -> None:
    topic = f"roundtrip-{uuid.uuid4().hex[:6]}"
    sent = [(f"k{i}".encode(), f"v{i}".encode()) for i in range(100)]
    await produce(broker.bootstrap, topic, sent, headers=[("h", b"1")])
    got = await consume(broker.bootstrap, topic, 100)
    # ordered within each partition; the topic may have several
    assert sorted((r.key, r.value) for r in got) == sorted(sent)
    assert all(list(r.headers) == [("h", b"1")] for r in got)
