"""The worker's embedded schema registry: Confluent's REST contract, a real third-party client,
Avro end to end through the broker, and schemas kept across a restart."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from faust_connect.app.base import App
from faust_connect.app.embedded import free_port
from faust_connect.app.web.schema_registry import SharedSchemaRegistry
from tests.conftest import Broker
from tests.kafka import consume, produce
from tests.workers import Worker, WorkerFactory, wait_until

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
AVRO = "io.confluent.connect.avro.AvroConverter"
ID = {"name": "id", "type": "int"}
NAME_DEFAULT = {"name": "name", "type": "string", "default": ""}
NAME_REQUIRED = {"name": "name", "type": "string"}


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def record(*fields: dict[str, Any], name: str = "R") -> str:
    return json.dumps({"type": "record", "name": name, "fields": list(fields)})


def call(base: str, method: str, path: str, body: Any = None) -> tuple[int, str, Any]:
    """``(status, content type, JSON body)`` of one request to the registry."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", CONTENT_TYPE)
    request.add_header("Accept", CONTENT_TYPE)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, response.headers["Content-Type"], json.loads(raw)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], json.loads(exc.read())


def _registry_url(worker: Worker) -> str:
    return f"{worker.url}/schema-registry"


@pytest.fixture(scope="module")
def worker(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """One worker for the tests that need no restart."""
    factory = WorkerFactory(tmp_path_factory.mktemp("registry"))
    try:
        yield factory.start("tests.apps.worker", bootstrap=broker.bootstrap)
    finally:
        factory.stop_all()


@pytest.mark.kafka
@pytest.mark.slow
def test_a_third_party_client_registers_fetches_and_is_refused_an_incompatible_schema(
    worker: Worker,
) -> None:
    client = SchemaRegistryClient({"url": _registry_url(worker)})
    subject = f"people-{_uid()}-value"
    v1 = Schema(record(ID), "AVRO")
    first = client.register_schema(subject, v1)
    assert client.register_schema(subject, Schema(record(ID), "AVRO")) == first
    assert json.loads(client.get_schema(first).schema_str) == json.loads(record(ID))
    latest = client.get_latest_version(subject)
    assert (latest.subject, latest.version, latest.schema_id) == (subject, 1, first)
    assert client.lookup_schema(subject, v1).version == 1
    assert subject in client.get_subjects()
    assert client.get_compatibility() == "BACKWARD"

    # A new required field: old data cannot be read with it.
    breaking = Schema(record(ID, NAME_REQUIRED), "AVRO")
    assert client.test_compatibility(subject, breaking) is False
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(subject, breaking)
    assert (refused.value.http_status_code, refused.value.error_code) == (409, 409)
    assert client.get_versions(subject) == [1]

    evolved = Schema(record(ID, NAME_DEFAULT), "AVRO")
    assert client.test_compatibility(subject, evolved) is True
    second = client.register_schema(subject, evolved)
    assert second != first
    assert client.get_versions(subject) == [1, 2]
    assert client.get_version(subject, 2).schema_id == second
    # The same schema under another subject keeps its id.
    assert client.register_schema(f"other-{_uid()}", Schema(record(ID), "AVRO")) == first

    client.set_compatibility(subject, "NONE")
    assert client.get_compatibility(subject) == "NONE"
    assert client.register_schema(subject, breaking) not in (first, second)
    assert client.delete_version(subject, 3) == 3
    assert client.delete_subject(subject) == [1, 2]
    client.clear_caches()  # it remembers the latest version
    with pytest.raises(SchemaRegistryError) as gone:
        client.get_latest_version(subject)
    assert (gone.value.http_status_code, gone.value.error_code) == (404, 40401)


@pytest.mark.kafka
@pytest.mark.slow
def test_endpoints_answer_with_confluent_codes_bodies_and_content_type(worker: Worker) -> None:
    base = _registry_url(worker)
    s = f"contract-{_uid()}"
    status, content_type, body = call(
        base, "POST", f"/subjects/{s}/versions", {"schema": record(ID)}
    )
    assert (status, content_type) == (200, CONTENT_TYPE)
    schema_id = body["id"]
    assert set(body) == {"id"}

    def ok(method: str, path: str, payload: Any = None) -> Any:
        status, content_type, answer = call(base, method, path, payload)
        assert (status, content_type) == (200, CONTENT_TYPE), (method, path, answer)
        return answer

    def error(method: str, path: str, payload: Any, code: int) -> None:
        status, content_type, answer = call(base, method, path, payload)
        assert content_type == CONTENT_TYPE, (method, path)
        assert status == int(str(code)[:3]), (method, path, answer)
        assert answer["error_code"] == code, (method, path, answer)
        assert isinstance(answer["message"], str) and answer["message"]

    text = json.dumps(json.loads(record(ID)), separators=(",", ":"))
    assert ok("GET", "/") == {}
    assert s in ok("GET", "/subjects")
    assert ok("GET", f"/subjects/{s}/versions") == [1]
    entry = {"subject": s, "id": schema_id, "version": 1, "schema": text}
    assert ok("GET", f"/subjects/{s}/versions/1") == entry
    assert ok("GET", f"/subjects/{s}/versions/latest") == entry
    assert ok("GET", f"/subjects/{s}/versions/-1") == entry
    assert ok("GET", f"/subjects/{s}/versions/1/schema") == json.loads(text)
    assert ok("POST", f"/subjects/{s}", {"schema": record(ID)}) == entry
    assert ok("GET", f"/schemas/ids/{schema_id}") == {"schema": text}
    assert ok("GET", f"/schemas/ids/{schema_id}/schema") == json.loads(text)
    assert {"subject": s, "version": 1} in ok("GET", f"/schemas/ids/{schema_id}/versions")
    assert s in ok("GET", f"/schemas/ids/{schema_id}/subjects")
    assert ok("GET", "/schemas/types") == ["AVRO"]
    compat = f"/compatibility/subjects/{s}/versions"
    assert ok("POST", f"{compat}/latest", {"schema": record(ID, NAME_DEFAULT)}) == {
        "is_compatible": True
    }
    verbose = ok("POST", f"{compat}/1?verbose=true", {"schema": record(ID, NAME_REQUIRED)})
    assert verbose["is_compatible"] is False and verbose["messages"]
    assert ok("GET", "/config") == {"compatibilityLevel": "BACKWARD"}
    assert ok("GET", f"/config/{s}?defaultToGlobal=true") == {"compatibilityLevel": "BACKWARD"}
    assert ok("PUT", f"/config/{s}", {"compatibility": "full"}) == {"compatibility": "FULL"}
    assert ok("GET", f"/config/{s}") == {"compatibilityLevel": "FULL"}
    assert ok("DELETE", f"/config/{s}") == {"compatibility": "FULL"}
    assert ok("GET", "/mode") == {"mode": "READWRITE"}

    missing = f"missing-{_uid()}"
    error("GET", f"/subjects/{missing}/versions", None, 40401)
    error("GET", f"/subjects/{missing}/versions/latest", None, 40401)
    error("POST", f"/subjects/{missing}", {"schema": record(ID)}, 40401)
    error("DELETE", f"/subjects/{missing}", None, 40401)
    error("GET", f"/subjects/{s}/versions/7", None, 40402)
    error("DELETE", f"/subjects/{s}/versions/7", None, 40402)
    error("POST", f"{compat}/7", {"schema": record(ID)}, 40402)
    error("GET", f"/subjects/{s}/versions/0", None, 42202)
    error("GET", f"/subjects/{s}/versions/one", None, 42202)
    error("POST", f"/subjects/{s}", {"schema": record(ID, name="Other")}, 40403)
    error("GET", "/schemas/ids/123", None, 40403)
    error("GET", "/schemas/ids/123/schema", None, 40403)
    error("POST", f"/subjects/{s}/versions", {"schema": "{not json"}, 42201)
    error("POST", f"/subjects/{s}/versions", {"schema": '{"type": "nope"}'}, 42201)
    error("POST", f"/subjects/{s}/versions", {"schema": '"int"', "schemaType": "PROTOBUF"}, 42201)
    error("POST", f"/subjects/{s}/versions", {}, 42201)
    error("POST", f"/subjects/{s}/versions", {"schema": record(ID, NAME_REQUIRED)}, 409)
    error("PUT", "/config", {"compatibility": "SOMETIMES"}, 42203)
    error("GET", f"/config/{s}", None, 40408)
    error("DELETE", f"/config/{s}", None, 40401)
    assert ok("GET", "/config") == {"compatibilityLevel": "BACKWARD"}  # nothing changed it
    error("GET", "/no/such/path", None, 404)
    error("POST", "/subjects/x/versions/1/nope", {}, 404)


@pytest.mark.kafka
@pytest.mark.slow
def test_avro_flows_end_to_end_through_the_registry_and_the_broker(
    broker: Broker, worker: Worker, tmp_path: Path
) -> None:
    topic, out = f"orders-{_uid()}", tmp_path / "orders.jsonl"
    url = _registry_url(worker)
    avro = {
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": AVRO,
        "value.converter.schema.registry.url": url,
    }
    rest = worker.rest
    rest.create(
        f"datagen-{topic}",
        {
            "connector.class": "io.confluent.kafka.connect.datagen.DatagenConnector",
            "kafka.topic": topic,
            "quickstart": "orders",
            "iterations": "20",
            "max.interval": "0",
            **avro,
        },
    )
    rest.create(
        f"file-{topic}",
        {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "topics": topic,
            "file": str(out),
            **avro,
        },
    )

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []

    wait_until(lambda: len(lines()) >= 20, what="20 orders in the sink file")
    rows = lines()
    assert [row["orderid"] for row in rows] == list(range(20))
    assert all(row["itemid"].startswith("Item_") for row in rows)
    assert all(set(row["address"]) == {"city", "state", "zipcode"} for row in rows)
    assert rows[3]["ordertime"] == 1_500_000_000_000 + 3000

    status, _, latest = call(url, "GET", f"/subjects/{topic}-value/versions/latest")
    assert status == 200 and latest["version"] == 1
    schema = json.loads(latest["schema"])
    assert (schema["type"], schema["name"]) == ("record", "orders")
    assert [f["name"] for f in schema["fields"]][:2] == ["ordertime", "orderid"]
    raw = asyncio.run(consume(broker.bootstrap, topic, 20))
    assert len(raw) == 20
    for message in raw:
        assert message.value is not None
        assert message.value[0] == 0
        assert int.from_bytes(message.value[1:5], "big") == latest["id"]
    # Confluent's own deserializer reads the bytes through the embedded registry.
    decode = AvroDeserializer(SchemaRegistryClient({"url": url}))
    context = SerializationContext(topic, MessageField.VALUE)
    decoded = [decode(message.value, context) for message in raw]
    assert sorted(row["orderid"] for row in decoded) == list(range(20))
    assert {row["orderid"]: row for row in decoded}[3] == rows[3]


@pytest.mark.kafka
@pytest.mark.slow
def test_a_sink_reads_what_confluents_serializer_wrote(
    broker: Broker, worker: Worker, tmp_path: Path
) -> None:
    topic, out = f"people-{_uid()}", tmp_path / "people.jsonl"
    url = _registry_url(worker)
    schema = record(ID, {"name": "name", "type": ["null", "string"], "default": None})
    encode = AvroSerializer(SchemaRegistryClient({"url": url}), schema)
    context = SerializationContext(topic, MessageField.VALUE)
    people = [{"id": i, "name": None if i % 2 else f"p{i}"} for i in range(10)]
    asyncio.run(produce(broker.bootstrap, topic, [(None, encode(p, context)) for p in people]))
    worker.rest.create(
        f"file-{topic}",
        {
            "connector.class": "FileStreamSink",
            "topics": topic,
            "file": str(out),
            "value.converter": AVRO,
            "value.converter.schema.registry.url": url,
        },
    )
    wait_until(lambda: out.exists() and len(out.read_text().splitlines()) == 10, what="10 people")
    assert [json.loads(line) for line in out.read_text().splitlines()] == people


@pytest.mark.kafka
@pytest.mark.slow
def test_schemas_and_their_ids_survive_a_restart(
    broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    group = f"sr-{_uid()}"
    first = workers.start("tests.apps.worker", bootstrap=broker.bootstrap, group_id=group)
    base = _registry_url(first)
    ids = {}
    for subject, schema in (("a", record(ID)), ("b", record(ID, NAME_DEFAULT))):
        status, _, body = call(base, "POST", f"/subjects/{subject}/versions", {"schema": schema})
        assert status == 200, body
        ids[subject] = body["id"]
    call(base, "POST", "/subjects/a/versions", {"schema": record(ID, NAME_DEFAULT)})
    call(base, "PUT", "/config/b", {"compatibility": "NONE"})
    before = {
        path: call(base, "GET", path)[2]
        for path in (
            "/subjects",
            "/subjects/a/versions",
            "/subjects/a/versions/1",
            "/subjects/a/versions/2",
            "/subjects/b/versions/latest",
            f"/schemas/ids/{ids['a']}",
            "/config/b",
        )
    }
    assert first.stop() == 0

    again = workers.start("tests.apps.worker", bootstrap=broker.bootstrap, group_id=group)
    base = _registry_url(again)
    wait_until(lambda: call(base, "GET", "/subjects")[2] == ["a", "b"], what="subjects recovered")
    assert {path: call(base, "GET", path)[2] for path in before} == before
    # Registering again finds the same id and adds no version; a new schema gets a new id.
    status, _, body = call(base, "POST", "/subjects/a/versions", {"schema": record(ID)})
    assert (status, body) == (200, {"id": ids["a"]})
    assert call(base, "GET", "/subjects/a/versions")[2] == [1, 2]
    status, _, body = call(base, "POST", "/subjects/c/versions", {"schema": '"string"'})
    assert status == 200 and body["id"] not in ids.values()


def test_converters_get_the_in_process_registry_for_this_workers_own_url() -> None:
    port = free_port()
    app = App(
        f"inproc-{_uid()}",
        environ={},
        listeners=f"http://127.0.0.1:{port}",
        bootstrap_servers="127.0.0.1:9",
    )
    own = app.schema_registry
    for url in (
        f"http://127.0.0.1:{port}/schema-registry",
        f"http://localhost:{port}/schema-registry/",
        f"http://elsewhere:8081,http://127.0.0.1:{port}/schema-registry",
    ):
        assert app.runtime.registry_client(url) is own, url
    for url in (
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{port + 1}/schema-registry",
        f"http://elsewhere:{port}/schema-registry",
        "http://registry:8081",
    ):
        assert app.runtime.registry_client(url) is None, url


def test_two_workers_that_have_not_seen_each_other_agree_on_ids() -> None:
    # Each worker writes its own copy of the table; the changelog later brings the other's keys.
    a, b = SharedSchemaRegistry(), SharedSchemaRegistry()
    same = a.register("s-value", record(ID))
    assert b.register("t-value", json.dumps(json.loads(record(ID)), indent=2)) == same
    other = b.register("u-value", record(ID, NAME_DEFAULT))
    assert other != same and 1 <= min(same, other) and max(same, other) < 2**31
    a.store.update(b.store)
    assert a.get_latest("t-value").id == same
    assert a.get_schema(other) == b.get_schema(other)
    assert a.subjects() == ["s-value", "t-value", "u-value"]


def test_a_subject_raced_by_two_workers_keeps_both_ids_and_heals_on_reregistration() -> None:
    a, b = SharedSchemaRegistry(), SharedSchemaRegistry()
    a.register("s", record(ID))
    b.store.update(a.store)
    mine = a.register("s", record(ID, NAME_DEFAULT))
    theirs = b.register("s", record(ID, {"name": "age", "type": "int", "default": 0}))
    a.store.update(b.store)  # the other worker's version list was written last
    assert a.get_latest("s").id == theirs
    assert a.get_schema(mine)  # still readable by id
    assert a.register("s", record(ID, NAME_DEFAULT)) == mine
    assert a.versions("s") == [1, 2, 3]


def test_an_id_collision_takes_the_next_free_id() -> None:
    derived = SharedSchemaRegistry().register("s", '"string"')
    reg = SharedSchemaRegistry()
    reg.store[f"schema/{derived}"] = '"long"'  # another schema already holds that id
    assert reg.register("s", '"string"') == derived % (2**31 - 1) + 1
    assert reg.register("t", '"string"') == derived % (2**31 - 1) + 1


@pytest.mark.kafka
@pytest.mark.slow
def test_every_worker_serves_the_same_registry(broker: Broker, workers: WorkerFactory) -> None:
    group = f"sr2-{_uid()}"
    quick = {
        "CONNECT_SESSION_TIMEOUT_MS": "6000",
        "CONNECT_HEARTBEAT_INTERVAL_MS": "1000",
        "CONNECT_REBALANCE_TIMEOUT_MS": "6000",
    }
    one, two = (
        workers.start("tests.apps.worker", bootstrap=broker.bootstrap, group_id=group, env=quick)
        for _ in range(2)
    )
    a, b = _registry_url(one), _registry_url(two)
    status, _, body = call(a, "POST", "/subjects/s/versions", {"schema": record(ID)})
    assert status == 200, body
    first = body["id"]
    wait_until(
        lambda: call(b, "GET", f"/schemas/ids/{first}")[0] == 200, what="the schema on worker 2"
    )
    assert call(b, "GET", "/subjects/s/versions/latest")[2]["id"] == first

    # Both register the same new schema at once, each under its own subject: one id.
    def register(url: str, subject: str) -> int:
        status, _, body = call(url, "POST", f"/subjects/{subject}/versions", {"schema": evolved})
        assert status == 200, body
        return int(body["id"])

    evolved = record(ID, NAME_DEFAULT)
    with ThreadPoolExecutor(2) as pool:
        ids = set(pool.map(register, (a, b), ("t", "u")))
    assert len(ids) == 1 and first not in ids
    for url in (a, b):
        wait_until(
            lambda url=url: call(url, "GET", "/subjects")[2] == ["s", "t", "u"],
            what=f"every subject on {url}",
        )
