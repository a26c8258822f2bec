"""The JDBC sink's failure paths: rows the database refuses, and a worker killed mid-stream."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from tests.conftest import Broker
from tests.integration.sql.helpers import JSON, insert, uid
from tests.kafka import consume, produce
from tests.workers import WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

# Short group timeouts, so the restarted worker takes the tasks over quickly (as test_cluster).
FAST_GROUP = {
    "CONNECT_SESSION_TIMEOUT_MS": "6000",
    "CONNECT_HEARTBEAT_INTERVAL_MS": "1000",
    "CONNECT_REBALANCE_TIMEOUT_MS": "6000",
}
PEOPLE = "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(10) NOT NULL, note TEXT)"
VALUE_SCHEMA = {
    "type": "struct",
    "name": "person",
    "optional": False,
    "fields": [
        {"field": "id", "type": "int32", "optional": False},
        {"field": "name", "type": "string", "optional": True},
        {"field": "note", "type": "string", "optional": True},
    ],
}
# What each database says about a string too long for VARCHAR(10) and a NULL in a NOT NULL column.
MESSAGES = {
    "postgresql": ("value too long for type character varying(10)", 'null value in column "name"'),
    "mariadb": ("Data too long for column 'name'", "Column 'name' cannot be null"),
}


def _record(i: int, name: str | None) -> tuple[bytes, bytes]:
    value = {"id": i, "name": name, "note": f"note {i}"}
    return str(i).encode(), orjson.dumps({"schema": VALUE_SCHEMA, "payload": value})


@pytest.mark.parametrize("database", ["postgresql", "mariadb"])
def test_rows_the_database_refuses_go_to_the_dlq_with_its_message(
    database: str, request: pytest.FixtureRequest, broker: Broker, workers: WorkerFactory
) -> None:
    server = request.getfixturevalue("postgres" if database == "postgresql" else "mariadb")
    url = server.create_database()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(PEOPLE))
    topic, dlq = f"people-{uid()}", f"dlq-{uid()}"
    records = [_record(i, f"p{i}") for i in range(40)]
    records[10] = _record(10, "a name that is far too long")
    records[25] = _record(25, None)
    asyncio.run(produce(broker.bootstrap, topic, records, partition=0))

    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    worker.rest.create(
        "people-sink",
        {
            "connector.class": "JdbcSinkConnector",
            "connection.url": server.jdbc_url(sa.make_url(url).database),
            "connection.user": "postgres" if database == "postgresql" else "root",
            "topics": topic,
            "table.name.format": "people",
            "insert.mode": "upsert",
            "pk.mode": "record_value",
            "pk.fields": "id",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.deadletterqueue.context.headers.enable": "true",
            "errors.log.enable": "true",
            **JSON,
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        },
    )

    def ids() -> list[int]:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.text("SELECT id FROM people ORDER BY id"))]

    good = [i for i in range(40) if i not in (10, 25)]
    wait_until(lambda: ids() == good, timeout=60, what="the 38 good rows")
    dead = asyncio.run(consume(broker.bootstrap, dlq, 2, timeout=30))
    assert [r.key for r in dead] == [b"10", b"25"]
    assert [r.value for r in dead] == [records[10][1], records[25][1]]  # the raw bytes
    for record, expected in zip(dead, MESSAGES[database], strict=True):
        headers = {k: v.decode() for k, v in record.headers}
        assert headers["__connect.errors.stage"] == "TASK_PUT"
        assert expected in headers["__connect.errors.exception.message"]
    assert worker.rest.state("people-sink") == ("RUNNING", ["RUNNING"])
    engine.dispose()


def test_kill_9_mid_stream_leaves_every_row_exactly_once_and_the_source_resumes(
    request: pytest.FixtureRequest, broker: Broker, workers: WorkerFactory, tmp_path: Path
) -> None:
    postgres = request.getfixturevalue("postgres")
    source_url, sink_url = postgres.create_database(), postgres.create_database()
    total = 20_000
    engine = sa.create_engine(source_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE events (id BIGINT PRIMARY KEY, body TEXT NOT NULL)"))
    engine.dispose()
    insert(source_url, "events", [{"id": i, "body": f"event {i}"} for i in range(1, total + 1)])
    group, prefix = f"jdbc-kill-{uid()}", f"kill-{uid()}-"
    start = lambda: workers.start(  # noqa: E731
        "tests.apps.worker", bootstrap=broker.bootstrap, group_id=group, env=FAST_GROUP
    )
    worker = start()
    worker.rest.create(
        "events-source",
        {
            "connector.class": "JdbcSourceConnector",
            "connection.url": source_url,
            "mode": "incrementing",
            "incrementing.column.name": "id",
            "table.whitelist": "events",
            "topic.prefix": prefix,
            "batch.max.rows": "100",
            "transforms": "key",
            "transforms.key.type": "org.apache.kafka.connect.transforms.ValueToKey",
            "transforms.key.fields": "id",
            **JSON,
        },
    )
    worker.rest.create(
        "events-sink",
        {
            "connector.class": "JdbcSinkConnector",
            "connection.url": sink_url,
            "topics": prefix + "events",
            "insert.mode": "upsert",
            "pk.mode": "record_key",
            "table.name.format": "events_copy",
            "auto.create": "true",
            "consumer.override.max.poll.records": "200",  # small puts: the kill lands mid-way
            **JSON,
        },
    )
    sink = sa.create_engine(sink_url)

    def count() -> int:
        with sink.connect() as conn:
            if not sa.inspect(conn).has_table("events_copy"):
                return 0
            return int(conn.execute(sa.text("SELECT count(*) FROM events_copy")).scalar_one())

    at_kill = wait_until(lambda: count() >= 1000 and count(), timeout=90, what="rows under way")
    worker.kill()
    assert at_kill < total, "the kill must land mid-stream"
    topic = prefix + "events"
    before = len(asyncio.run(consume(broker.bootstrap, topic, 10**9, timeout=3)))
    start()
    wait_until(lambda: count() == total, timeout=180, interval=0.5, what=f"{total} rows")
    with sink.connect() as conn:
        rows: list[Any] = conn.execute(sa.text("SELECT id, body FROM events_copy")).fetchall()
    sink.dispose()
    assert sorted(r[0] for r in rows) == list(range(1, total + 1))
    assert all(body == f"event {i}" for i, body in rows)
    # The source went on from its stored offset: had it read the table again from the start,
    # every one of the ``before`` records produced before the kill would be there twice.
    produced = asyncio.run(consume(broker.bootstrap, topic, 10**9, timeout=10))
    ids = [orjson.loads(r.value)["payload"]["id"] for r in produced]
    duplicates = len(ids) - len(set(ids))
    print(
        f"kill -9 at {at_kill} rows written, {before} records produced; in all {len(ids)} "
        f"records for {total} rows, {duplicates} produced again"
    )
    assert set(ids) == set(range(1, total + 1))
    assert duplicates < before
