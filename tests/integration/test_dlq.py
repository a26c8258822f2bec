"""The dead letter queue extension (``/faust-connect/connectors/{name}/dlq``) on a real broker.

A RecordingSink with ``errors.tolerance=all`` and a DLQ topic is fed good records and poison
(bytes that are not JSON, and a record the task rejects); the extension lists the poison with
its ``__connect.errors.*`` headers, replays it to the original topic (where it arrives without
those headers), discards it (and it is no longer listed, on any worker), and answers bad
requests with Kafka Connect's error body.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import Broker
from tests.kafka import consume, produce
from tests.workers import Worker, WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PLAIN_JSON = {
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
}
BAD_JSON = b"{not json \xff"
REJECTED = orjson.dumps({"id": -1, "reject": True})


def _uid() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def cluster(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Worker]]:
    """Two workers of one cluster: a mark made through one is seen through the other."""
    factory = WorkerFactory(tmp_path_factory.mktemp("dlq"))
    group = f"dlq-{_uid()}"
    try:
        yield [
            factory.start("tests.apps.worker", bootstrap=broker.bootstrap, group_id=group)
            for _ in range(2)
        ]
    finally:
        factory.stop_all()


def _dlq(worker: Worker, name: str, query: str = "") -> tuple[int, Any]:
    return worker.rest.call("GET", f"/faust-connect/connectors/{name}/dlq{query}")


def _poisoned_sink(
    worker: Worker, broker: Broker, tmp_path: Path
) -> tuple[str, str, str, Path, list[dict[str, Any]]]:
    name, topic, dlq, out = f"poisoned-{_uid()}", f"in-{_uid()}", f"dlq-{_uid()}", tmp_path / "o"
    worker.rest.create(
        name,
        {
            "connector.class": "RecordingSink",
            "topics": topic,
            "file": str(out),
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.deadletterqueue.context.headers.enable": "true",
            **PLAIN_JSON,
        },
    )
    records = [(b"k0", b'{"id": 0}'), (b"k1", BAD_JSON), (b"k2", b'{"id": 2}'), (b"k3", REJECTED)]
    asyncio.run(produce(broker.bootstrap, topic, records, headers=[("trace", b"t-1")], partition=0))

    def listed() -> list[dict[str, Any]] | None:
        status, body = _dlq(worker, name)
        assert status == 200, body
        return body["records"] if len(body["records"]) == 2 else None

    dead = wait_until(listed, timeout=60, what="two records in the DLQ")
    assert dead is not None
    wait_until(lambda: out.exists() and len(out.read_text().splitlines()) == 2, what="good ones")
    return name, topic, dlq, out, dead


def test_the_dlq_lists_poison_with_its_error_headers_and_decoded_values(
    cluster: list[Worker], broker: Broker, tmp_path: Path
) -> None:
    worker = cluster[0]
    name, topic, dlq, _, dead = _poisoned_sink(worker, broker, tmp_path)
    status, body = _dlq(worker, name)
    assert (body["connector"], body["topic"], body["exists"]) == (name, dlq, True)
    assert body["partitions"] == [{"partition": 0, "start": 0, "end": 2, "next_offset": 2}]
    by_key = {r["key"]["data"]: r for r in dead}
    bad, rejected = by_key["k1"], by_key["k3"]

    assert bad["errors"]["stage"] == "VALUE_CONVERTER"
    assert bad["errors"]["topic"] == topic
    assert bad["original"] == {"topic": topic, "partition": 0, "offset": 1}
    assert bad["errors"]["exception.message"]
    assert "Traceback" in bad["errors"]["exception.stacktrace"]
    assert bad["errors"]["connector.name"] == name and bad["errors"]["task.id"] == "0"
    assert bad["headers"] == [{"key": "trace", "value": "t-1", "encoding": "utf-8"}]
    assert bad["key"]["decoded"] is True and bad["key"]["converter"] == "StringConverter"
    value = bad["value"]
    assert value["decoded"] is False and value["converter"] == "JsonConverter"
    assert value["text"] == "{not json \\xff" and value["error"]
    assert value["base64"] == "e25vdCBqc29uIP8="
    assert bad["state"] is None

    assert rejected["errors"]["stage"] == "TASK_PUT"
    assert rejected["original"] == {"topic": topic, "partition": 0, "offset": 3}
    assert rejected["value"]["decoded"] is True
    assert rejected["value"]["data"] == {"id": -1, "reject": True}

    # paging: from an offset, a limit, a partition
    status, page = _dlq(worker, name, "?offset=1&limit=1&partition=0")
    assert status == 200 and [r["offset"] for r in page["records"]] == [1]
    assert page["partitions"][0]["next_offset"] == 2


def test_replay_sends_records_back_without_error_headers_and_discard_hides_them(
    cluster: list[Worker], broker: Broker, tmp_path: Path
) -> None:
    worker, other = cluster
    name, topic, _, _, dead = _poisoned_sink(worker, broker, tmp_path)
    bad = next(r for r in dead if r["key"]["data"] == "k1")

    status, body = worker.rest.call(
        "POST",
        f"/faust-connect/connectors/{name}/dlq/replay",
        {"records": [{"partition": 0, "offset": bad["offset"]}]},
    )
    assert status == 200, body
    assert body["replayed"] == [
        {
            "partition": 0,
            "offset": bad["offset"],
            "topic": topic,
            "target_partition": 0,
            "target_offset": 4,
        }
    ]
    arrived = asyncio.run(consume(broker.bootstrap, topic, 5, timeout=30))
    assert len(arrived) == 5
    again = arrived[4]
    assert (again.key, again.value) == (b"k1", BAD_JSON)
    assert list(again.headers) == [("trace", b"t-1")]  # no __connect.errors.* headers

    def marked() -> dict[str, Any] | None:
        records = _dlq(other, name)[1]["records"]
        state = next(r["state"] for r in records if r["offset"] == bad["offset"])
        return state if state else None

    state = wait_until(marked, what="the replay mark seen through the other worker")
    assert state is not None and state["action"] == "replayed" and state["topic"] == topic
    # the replayed record failed again, in the sink, and is dead-lettered once more
    wait_until(lambda: len(_dlq(worker, name)[1]["records"]) == 3, what="a third DLQ record")

    # replay to a chosen topic
    target = f"target-{_uid()}"
    asyncio.run(produce(broker.bootstrap, target, [(b"x", b"existing")]))
    status, body = worker.rest.call(
        "POST",
        f"/faust-connect/connectors/{name}/dlq/replay",
        {"offsets": [bad["offset"]], "topic": target},
    )
    assert status == 200 and body["replayed"][0]["topic"] == target
    moved = asyncio.run(consume(broker.bootstrap, target, 2, timeout=30))
    assert [(r.key, r.value) for r in moved] == [(b"x", b"existing"), (b"k1", BAD_JSON)]

    # discard: gone from the list (on both workers), still listed with discarded=true
    offsets = [r["offset"] for r in _dlq(worker, name)[1]["records"]]
    status, body = other.rest.call(
        "POST", f"/faust-connect/connectors/{name}/dlq/discard", {"offsets": offsets}
    )
    assert status == 200 and body["discarded"] == [{"partition": 0, "offset": o} for o in offsets]
    assert _dlq(other, name)[1]["records"] == []
    wait_until(lambda: _dlq(worker, name)[1]["records"] == [], what="discarded on the first worker")
    shown = _dlq(worker, name, "?discarded=true")[1]["records"]
    assert [r["state"]["action"] for r in shown] == ["discarded"] * len(offsets)


def test_bad_requests_get_kafka_connects_error_body(
    cluster: list[Worker], broker: Broker, tmp_path: Path
) -> None:
    worker = cluster[0]
    name, _, dlq, _, _ = _poisoned_sink(worker, broker, tmp_path)
    plain = f"plain-{_uid()}"
    worker.rest.create(
        plain, {"connector.class": "RecordingSink", "topics": "x", "file": "/dev/null"}
    )
    base = f"/faust-connect/connectors/{name}/dlq"
    clean, empty = f"clean-{_uid()}", f"never-{_uid()}"
    worker.rest.create(
        clean,
        {
            "connector.class": "RecordingSink",
            "topics": f"quiet-{_uid()}",
            "file": "/dev/null",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": empty,
        },
    )
    assert _dlq(worker, clean) == (
        200,
        {"connector": clean, "topic": empty, "exists": False, "partitions": [], "records": []},
    )  # nothing failed yet: no topic, and that is no error

    def error(method: str, path: str, body: Any = None) -> tuple[int, str]:
        status, answer = worker.rest.call(method, path, body)
        assert set(answer) == {"error_code", "message"}, answer
        assert answer["error_code"] == status
        return status, answer["message"]

    assert error("GET", "/faust-connect/connectors/nope/dlq") == (
        404,
        "Connector nope not found",
    )
    status, message = error("GET", f"/faust-connect/connectors/{plain}/dlq")
    assert status == 404 and "no dead letter queue" in message
    assert (
        error("POST", f"/faust-connect/connectors/{plain}/dlq/replay", {"offsets": [0]})[0] == 404
    )
    assert error("GET", base + "?limit=abc") == (
        400,
        "Query parameter limit must be an integer, got 'abc'.",
    )
    assert error("GET", base + "?offset=-1")[0] == 400
    assert error("GET", base + "?limit=100000")[0] == 400
    status, message = error("GET", base + "?partition=7")
    assert status == 400 and "no partition 7" in message

    replay = base + "/replay"
    status, message = error("POST", replay, {"offsets": [99]})
    assert status == 400 and "0/99" in message and "Nothing was done" in message
    assert error("POST", replay, {"offsets": [-1]})[0] == 400
    assert error("POST", replay, {"offsets": ["1"]})[0] == 400
    assert error("POST", replay, {"offsets": []}) == (400, "No records selected.")
    assert error("POST", replay, {"records": "0"})[0] == 400
    assert error("POST", replay, [1, 2])[0] == 400
    assert error("POST", replay, {})[0] == 400
    status, message = error("POST", replay, {"offsets": [0], "topic": f"absent-{_uid()}"})
    assert status == 400 and "does not exist" in message
    assert error("POST", replay, {"offsets": [0], "topic": 5})[0] == 400
    assert error("POST", base + "/discard", {"records": [{"partition": 3, "offset": 0}]})[0] == 400
    assert error("GET", base + "/replay")[0] == 405
    status, message = error(
        "POST", f"/faust-connect/connectors/{clean}/dlq/replay", {"offsets": [0]}
    )
    assert status == 400 and "does not exist yet" in message

    request = urllib.request.Request(worker.url + replay, data=b"{nope", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    assert orjson.loads(refused.value.read())["message"].startswith("Request body is not valid")
    listed = _dlq(worker, name)[1]  # nothing above changed the queue
    assert listed["topic"] == dlq and len(listed["records"]) == 2
