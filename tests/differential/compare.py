"""Running one connector on both workers and reading back, byte for byte, what each wrote.

A case names its topics with a ``{topic}`` placeholder; each side fills in its own topic,
``<base>-j`` on the JVM worker and ``<base>-p`` on faust-connect (same length, so lengths in
the output cannot differ because of the name). Everything a side wrote to topics starting with
its name is read with a plain consumer and compared as ``(topic, partition, key, value,
headers, timestamp type)``, the side's name in topic names replaced by ``{topic}``. Masked, by
nature: the record timestamps (each worker stamps its own clock) and the offsets (the two
workers may write in differently sized batches, but the order is compared). Where a case puts
the topic name *into* a record (``InsertField``'s ``topic.field``), it asks for the name to be
masked in keys, values and headers too, and says so.

The Debezium cases compare parsed JSON instead, field by field (:func:`read_json`,
:func:`masked`, :func:`json_diff`): each connector's ``topic.prefix`` is replaced by
``{prefix}``, and each case names the fields it masks.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.client import AIOKafkaClient
from aiokafka.structs import TopicPartition

from tests.rest import Rest
from tests.workers import wait_until

#: A connector's state, its tasks' states and their traces (joined).
State = tuple[str, list[str], str]

#: One record as compared: topic (side name masked), partition, key, value, headers, ts type.
Rec = tuple[str, int, bytes | None, bytes | None, tuple[tuple[str, bytes], ...], int]


#: ``{topic}`` but not Kafka's own ``${topic}`` (TimestampRouter's ``topic.format``).
_PLACEHOLDER = re.compile(r"(?<!\$)\{topic\}")


@dataclasses.dataclass(frozen=True)
class Side:
    """One worker under comparison."""

    name: str
    #: The suffix of this side's topic names.
    tag: str
    rest: Rest
    bootstrap: str
    #: The worker's offset storage topic.
    offsets_topic: str

    def topic(self, base: str) -> str:
        """This side's name for a case's topic."""
        return f"{base}-{self.tag}"

    def fill(self, config: Mapping[str, str], base: str) -> dict[str, str]:
        """``config`` with ``{topic}`` replaced by this side's topic."""
        own = self.topic(base)
        return {k: _PLACEHOLDER.sub(own, v) for k, v in config.items()}


def unique(case: str) -> str:
    """A fresh base name for a case's connector and topics."""
    return f"d-{case}-{uuid.uuid4().hex[:6]}"


async def read_topics(bootstrap: str, prefix: str) -> dict[str, list[Any]]:
    """Every record now in every topic whose name starts with ``prefix``, by topic."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        cluster = await client.fetch_all_metadata()
    finally:
        await client.close()
    topics = sorted(t for t in cluster.topics() if t.startswith(prefix))
    # A topic being created may have no partitions in the metadata yet: read it next time.
    tps = [
        TopicPartition(t, p) for t in topics for p in sorted(cluster.partitions_for_topic(t) or ())
    ]
    out: dict[str, list[Any]] = {t: [] for t in topics}
    if not tps:  # (an aiokafka consumer stopped right after its start raises CancelledError)
        return out
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        got: dict[TopicPartition, list[Any]] = {tp: [] for tp in tps}
        deadline = time.monotonic() + 30
        while True:
            behind = [tp for tp in tps if await consumer.position(tp) < end[tp]]
            if not behind:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {behind} to their end offsets {end}")
            for tp, records in (await consumer.getmany(*behind, timeout_ms=500)).items():
                got[tp].extend(r for r in records if r.offset < end[tp])
        for tp in tps:
            out[tp.topic].extend(got[tp])
        return out
    finally:
        await consumer.stop()


def snapshot(side: Side, base: str, *, mask_topic: bool = False) -> list[Rec]:
    """What ``side`` wrote to its topics of ``base``, as comparable tuples."""
    own = side.topic(base)
    raw = asyncio.run(read_topics(side.bootstrap, own))

    def mask(data: bytes | None) -> bytes | None:
        if data is None or not mask_topic:
            return data
        return data.replace(own.encode(), b"{topic}")

    return [
        (
            topic.replace(own, "{topic}", 1),
            r.partition,
            mask(r.key),
            mask(r.value),
            tuple((k, mask(v) or b"") for k, v in r.headers),
            r.timestamp_type,
        )
        for topic, records in raw.items()
        for r in records
    ]


def states(side: Side, name: str) -> State:
    """The connector's state, its tasks' states and any trace."""
    status, body = side.rest.call("GET", f"/connectors/{name}/status")
    if status != 200:
        return "", [], ""
    traces = [body["connector"].get("trace", "")] + [t.get("trace", "") for t in body["tasks"]]
    return (
        body["connector"]["state"],
        [t["state"] for t in body["tasks"]],
        "\n".join(t for t in traces if t),
    )


def create(side: Side, name: str, config: Mapping[str, str]) -> None:
    """Create ``name`` on ``side``; a rebalance 409 is retried until a deadline."""

    def created() -> bool:
        status, body = side.rest.call("POST", "/connectors", {"name": name, "config": config})
        if status == 409 and "rebalance" in str(body):
            return False
        assert status == 201, (side.name, status, body)
        return True

    wait_until(created, timeout=60, what=f"{side.name} to create {name}")


def delete(side: Side, name: str) -> None:
    """Delete ``name`` on ``side`` (done with a case; keeps the shared cores free)."""
    status, body = side.rest.call("DELETE", f"/connectors/{name}")
    assert status in (204, 404), (side.name, status, body)


def run_source(
    sides: tuple[Side, Side],
    base: str,
    config: Mapping[str, str],
    count: int,
    *,
    mask_topic: bool = False,
    timeout: float = 60.0,
) -> tuple[list[Rec], list[Rec]]:
    """Create the connector ``base`` on both sides and wait until each wrote ``count`` records
    to its topics of ``base``; returns both sides' records (JVM first). Fails with the trace if a
    task fails on one side before."""
    for side in sides:
        create(side, base, side.fill(config, base))
    results: dict[str, list[Rec]] = {}
    try:
        for side in sides:

            def done(side: Side = side) -> bool:
                records = snapshot(side, base, mask_topic=mask_topic)
                if len(records) >= count:
                    results[side.name] = records
                    return True
                state, tasks, trace = states(side, base)
                assert "FAILED" not in (state, *tasks), (side.name, state, tasks, trace)
                return False

            wait_until(
                done, timeout=timeout, interval=0.5, what=f"{count} records from {side.name}"
            )
    finally:
        for side in sides:
            delete(side, base)
    return results[sides[0].name], results[sides[1].name]


def run_until_failed(
    sides: tuple[Side, Side], base: str, config: Mapping[str, str], *, timeout: float = 60.0
) -> tuple[State, State]:
    """Create the connector on both sides and wait until a task fails on each (or both stay up
    with nothing written for ``timeout``, an AssertionError); returns both states."""
    for side in sides:
        create(side, base, side.fill(config, base))
    out = []
    try:
        for side in sides:

            def failed(side: Side = side) -> State | None:
                state = states(side, base)
                return state if "FAILED" in (state[0], *state[1]) else None

            state = wait_until(
                failed,
                timeout=timeout,
                interval=0.5,
                what=f"a failed task on {side.name}",
            )
            assert state is not None  # wait_until returns only what is truthy
            out.append(state)
    finally:
        for side in sides:
            delete(side, base)
    return out[0], out[1]


def diff(jvm: list[Rec], ours: list[Rec]) -> str:
    """A readable account of the first differences."""
    lines = [f"jvm wrote {len(jvm)} records, faust-connect {len(ours)}"]
    for i, (a, b) in enumerate(zip(jvm, ours, strict=False)):
        if a != b:
            lines.append(f"record {i}:\n  jvm: {a!r}\n  fc:  {b!r}")
            if len(lines) > 4:
                break
    return "\n".join(lines)


# -- JSON records (the Debezium cases) --------------------------------------------------------

#: What a record lacks, told apart from a null.
MISSING = "<missing>"
#: What a masked field holds on both sides.
MASKED = "<masked>"

#: A record as the Debezium cases compare it: key and value parsed from JSON (None: a null).
JsonRecord = tuple[Any, Any]


def read_json(bootstrap: str, prefix: str) -> dict[str, list[JsonRecord]]:
    """Every record of the topics whose names start with ``prefix``, by topic, key and value
    parsed from JSON. ``prefix`` (a CDC connector's ``topic.prefix``: in topic names, schema
    names and ``source.name``) is replaced by ``{prefix}`` in both, and in the topic names."""
    raw = asyncio.run(read_topics(bootstrap, prefix))
    own = prefix.encode()

    def parse(data: bytes | None) -> Any:
        return None if data is None else json.loads(data.replace(own, b"{prefix}"))

    return {
        topic.replace(prefix, "{prefix}", 1): [(parse(r.key), parse(r.value)) for r in records]
        for topic, records in raw.items()
    }


def masked(value: Any, *paths: str) -> Any:
    """A copy of ``value`` with each dotted path present in it (``payload.source.ts_ms``) set to
    :data:`MASKED`."""
    out = copy.deepcopy(value)
    for path in paths:
        *parents, last = path.split(".")
        node = out
        for name in parents:
            node = node.get(name) if isinstance(node, dict) else None
        if isinstance(node, dict) and last in node:
            node[last] = MASKED
    return out


def json_diff(jvm: Any, ours: Any, path: str = "", limit: int = 12) -> str:
    """The first differences between two JSON values, one line each, by path (schema fields
    are named by their ``field``)."""
    lines: list[str] = []

    def walk(a: Any, b: Any, at: str) -> None:
        if len(lines) >= limit:
            return
        if type(a) is not type(b):
            lines.append(f"{at}: jvm {a!r}, faust-connect {b!r}")
        elif isinstance(a, dict):
            for key in dict.fromkeys([*a, *b]):
                walk(a.get(key, MISSING), b.get(key, MISSING), f"{at}.{key}")
            if list(a) != list(b) and set(a) == set(b):
                lines.append(f"{at}: keys in order {list(a)}, faust-connect {list(b)}")
        elif isinstance(a, list):
            if len(a) != len(b):
                lines.append(f"{at}: {len(a)} items, faust-connect {len(b)}")
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                name = x.get("field", i) if isinstance(x, dict) else i
                walk(x, y, f"{at}[{name}]")
        elif a != b:
            lines.append(f"{at}: jvm {a!r}, faust-connect {b!r}")

    walk(jvm, ours, path)
    return "\n".join(lines) or "equal"


def wait_json(
    side: Side,
    name: str,
    prefix: str,
    ready: Callable[[dict[str, list[JsonRecord]]], bool],
    *,
    timeout: float = 90.0,
) -> dict[str, list[JsonRecord]]:
    """:func:`read_json` of ``prefix`` on ``side`` once ``ready`` says so; fails with the
    trace as soon as a task of the connector ``name`` fails."""

    def arrived() -> dict[str, list[JsonRecord]] | None:
        got = read_json(side.bootstrap, prefix)
        if ready(got):
            return got
        state, tasks, trace = states(side, name)
        assert "FAILED" not in (state, *tasks), (side.name, state, tasks, trace)
        return None

    got = wait_until(arrived, timeout=timeout, interval=1, what=f"records from {side.name}")
    assert got is not None  # wait_until returns only what is truthy
    return got
