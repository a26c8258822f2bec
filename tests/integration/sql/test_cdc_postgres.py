"""The PostgreSQL CDC source on a real server (wal_level=logical) through a real broker.

Snapshot then stream in commit order, a lost replication connection, kill -9 of the worker
mid-run, the JSON envelope against Debezium's documented examples, replication into
MariaDB through ExtractNewRecordState and the JDBC sink, schema changes mid-stream, and
configs or servers the source refuses.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg2
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from tests.conftest import Broker
from tests.integration.sql.databases import PostgreSQL
from tests.integration.sql.helpers import FAST_GROUP, JSON, documented_key, uid
from tests.kafka import consume
from tests.workers import WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PLAIN_JSON = {
    **JSON,
    "key.converter.schemas.enable": "false",
    "value.converter.schemas.enable": "false",
}


class Db:
    """One fresh database of the session's PostgreSQL server."""

    def __init__(self, server: PostgreSQL) -> None:
        self.server = server
        self.name = sa.make_url(server.create_database("cdc")).database or ""

    def connect(self) -> Any:
        conn = psycopg2.connect(
            host="127.0.0.1", port=self.server.port, user="postgres", dbname=self.name
        )
        conn.autocommit = True
        return conn

    def run(self, *statements: str) -> None:
        """Each statement in its own transaction."""
        conn = self.connect()
        try:
            with conn.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        finally:
            conn.close()

    def transaction(self, *statements: str) -> None:
        """All statements in one transaction."""
        self.run("BEGIN; " + "; ".join(statements) + "; COMMIT")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        finally:
            conn.close()

    def config(self, prefix: str, **extra: str) -> dict[str, str]:
        return {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": "127.0.0.1",
            "database.port": str(self.server.port),
            "database.user": "postgres",
            "database.dbname": self.name,
            "topic.prefix": prefix,
            "plugin.name": "pgoutput",
            "slot.name": f"slot_{uid()}",  # slots are per server, shared by the tests
            "slot.drop.on.stop": "true",
            **JSON,
            **extra,
        }


@pytest.fixture
def db(request: pytest.FixtureRequest) -> Db:
    return Db(request.getfixturevalue("postgres"))


def _values(records: list[Any]) -> list[Any]:
    return [None if r.value is None else orjson.loads(r.value) for r in records]


def _payload(value: Any) -> Any:
    return value["payload"] if value is not None and "payload" in value else value


async def _high_water(bootstrap: str, topic: str) -> int:
    """Records in partition 0: its end offset (ListOffsets)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        if topic not in await consumer.topics():
            return 0
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()


def _wait_walsender(db: Db, prefix: str) -> None:
    """Wait until the source's replication connection streams (one walsender)."""
    wait_until(
        lambda: (
            db.rows(
                "SELECT count(*) FROM pg_stat_replication WHERE application_name = "
                f"'faust-connect-cdc-{prefix}'"
            )[0][0]
            == 1
        ),
        timeout=60,
        what="the source streaming",
    )


# -- (1) snapshot, then changes in commit order ---------------------------------------------


def test_snapshot_then_changes_in_commit_order_with_before_and_after_images(
    db: Db, broker: Broker, workers: WorkerFactory
) -> None:
    db.run(
        "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, qty INT, "
        "price NUMERIC(10,2), seen TIMESTAMPTZ)",
        "ALTER TABLE items REPLICA IDENTITY FULL",
        "INSERT INTO items SELECT g, 'item ' || g, g * 10, g + 0.5, "
        "'2024-05-01 12:00:00+00' FROM generate_series(1, 50) g",
    )
    prefix = f"pg{uid()}"
    topic = f"{prefix}.public.items"
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    config = db.config(prefix, **PLAIN_JSON)
    worker.rest.create("cdc", config)
    snapshot = asyncio.run(consume(broker.bootstrap, topic, 50, timeout=60))
    assert [_payload(v)["op"] for v in _values(snapshot)] == ["r"] * 50
    first = _payload(orjson.loads(snapshot[0].value))
    assert first["after"] == {
        "id": 1,
        "name": "item 1",
        "qty": 10,
        "price": "AJY=",  # Decimal 1.50 as base64 bytes, as Kafka's JsonConverter writes it
        "seen": "2024-05-01T12:00:00.000000Z",  # six digits, as Debezium 3.5 writes
    }
    assert first["source"]["snapshot"] == "first"
    assert _payload(orjson.loads(snapshot[-1].value))["source"]["snapshot"] == "last"

    # Changes, each statement its own transaction, then one transaction with several.
    db.run(
        "INSERT INTO items (id, name, qty) VALUES (51, 'new', 1)",
        "UPDATE items SET qty = 99 WHERE id = 2",
        "DELETE FROM items WHERE id = 3",
    )
    db.transaction(
        "UPDATE items SET name = 'renamed' WHERE id = 51",
        "INSERT INTO items (id, name) VALUES (52, 'in txn')",
        "DELETE FROM items WHERE id = 4",
    )
    # A lost replication connection: the source reconnects and goes on, repeating nothing.
    _wait_walsender(db, prefix)
    db.run(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = "
        f"'faust-connect-cdc-{prefix}'"
    )
    db.run(
        "UPDATE items SET qty = qty + 1 WHERE id IN (5, 6)", "INSERT INTO items VALUES (53, 'last')"
    )

    expected = 3 + 1 + 3 + 1 + 2 + 1  # events, plus a tombstone after each delete
    records = asyncio.run(consume(broker.bootstrap, topic, 50 + expected, timeout=60))
    changes = [
        (r.key and orjson.loads(r.key), _payload(v))
        for r, v in zip(records, _values(records), strict=True)
    ][50:]
    assert len(changes) == expected, worker.log()[-3000:]
    ops = [(None if v is None else v["op"], k["id"]) for k, v in changes]
    assert ops == [
        ("c", 51),
        ("u", 2),
        ("d", 3),
        (None, 3),
        ("u", 51),
        ("c", 52),
        ("d", 4),
        (None, 4),
        ("u", 5),
        ("u", 6),
        ("c", 53),
    ]
    update = changes[1][1]
    assert update["before"]["qty"] == 20 and update["after"]["qty"] == 99
    assert update["before"]["name"] == update["after"]["name"] == "item 2"
    delete = changes[2][1]
    assert delete["before"]["name"] == "item 3" and delete["after"] is None
    in_txn = [v for _, v in changes[4:7]]
    assert len({v["source"]["txId"] for v in in_txn}) == 1
    lsns = [v["source"]["lsn"] for _, v in changes if v is not None]
    assert lsns == sorted(lsns)
    assert worker.rest.state("cdc") == ("RUNNING", ["RUNNING"])


# -- (2) kill -9 during a 100,000-change run -----------------------------------------------


def test_kill_9_repeatedly_during_100k_changes_loses_none(
    db: Db, broker: Broker, workers: WorkerFactory
) -> None:
    db.run("CREATE TABLE events (id INT PRIMARY KEY, v INT NOT NULL)")
    inserts, updates, deletes = 60_000, 30_000, 10_000
    prefix, group = f"pgk{uid()}", f"cdc-kill-{uid()}"
    topic = f"{prefix}.public.events"

    def start() -> Any:
        return workers.start(
            "tests.apps.worker", bootstrap=broker.bootstrap, group_id=group, env=FAST_GROUP
        )

    worker = start()
    config = db.config(prefix, **PLAIN_JSON, **{"slot.drop.on.stop": "false"})
    worker.rest.create("cdc-kill", config)
    _wait_walsender(db, prefix)  # every change below is then streamed (op c/u/d, no r)

    def write() -> None:
        step = 2_000
        for lo in range(1, inserts + 1, step):
            db.run(f"INSERT INTO events SELECT g, 0 FROM generate_series({lo}, {lo + step - 1}) g")
        for lo in range(1, updates + 1, step):
            db.run(f"UPDATE events SET v = 1 WHERE id BETWEEN {lo} AND {lo + step - 1}")
        db.run(f"DELETE FROM events WHERE id > {inserts - deletes}")

    writer = threading.Thread(target=write)
    writer.start()
    total = inserts + updates + 2 * deletes  # a tombstone after each delete
    kills = 0
    for share in (0.2, 0.45, 0.7):
        at = wait_until(
            lambda share=share: (
                (n := asyncio.run(_high_water(broker.bootstrap, topic))) >= total * share and n
            ),  # type: ignore[misc]
            timeout=120,
            interval=0.2,
            what=f"{share:.0%} of the records",
        )
        if at >= total:
            break
        worker.kill()
        kills += 1
        worker = start()
    writer.join()
    wait_until(
        lambda: asyncio.run(_high_water(broker.bootstrap, topic)) >= total,
        timeout=180,
        interval=0.5,
        what=f"{total} records",
    )
    records = asyncio.run(consume(broker.bootstrap, topic, 10**9, timeout=15))
    seen: Counter[tuple[str, int, int | None]] = Counter()
    for record in records:
        key = orjson.loads(record.key)["id"]
        value = orjson.loads(record.value) if record.value is not None else None
        if value is None:
            seen[("tombstone", key, None)] += 1
        else:
            row = value["after"] or value["before"]
            seen[(value["op"], key, row["v"] if value["op"] != "d" else None)] += 1
    want = (
        {("c", i, 0) for i in range(1, inserts + 1)}
        | {("u", i, 1) for i in range(1, updates + 1)}
        | {("d", i, None) for i in range(inserts - deletes + 1, inserts + 1)}
        | {("tombstone", i, None) for i in range(inserts - deletes + 1, inserts + 1)}
    )
    missing = want - set(seen)
    duplicates = sum(n - 1 for n in seen.values())
    print(
        f"kill -9 x{kills}: {len(records)} records for {len(want)} expected "
        f"({inserts + updates + deletes} changes); {duplicates} duplicates, {len(missing)} missing"
    )
    assert kills >= 3
    assert not missing, sorted(missing)[:10]
    assert set(seen) == want
    worker.rest.call("DELETE", "/connectors/cdc-kill")
    wait_until(
        lambda: (
            not db.rows(
                f"SELECT 1 FROM pg_replication_slots WHERE slot_name = '{config['slot.name']}' AND active"
            )
        ),
        what="the slot released",
    )
    db.run(f"SELECT pg_drop_replication_slot('{config['slot.name']}')")


# -- (3) the envelope against Debezium's documented examples --------------------------------

# From Debezium's PostgreSQL connector documentation ("create events"), table
# customers (id SERIAL PRIMARY KEY, first_name/last_name/email VARCHAR(255) NOT NULL).
DOC_ROW_FIELDS = [
    {"type": "int32", "optional": False, "field": "id"},
    {"type": "string", "optional": False, "field": "first_name"},
    {"type": "string", "optional": False, "field": "last_name"},
    {"type": "string", "optional": False, "field": "email"},
]
DOC_ENVELOPE_FIELDS = ["before", "after", "source", "op", "ts_ms", "ts_us", "ts_ns"]
DOC_SOURCE_FIELDS = {
    "version": ("string", False),
    "connector": ("string", False),
    "name": ("string", False),
    "ts_ms": ("int64", False),
    "ts_us": ("int64", False),
    "ts_ns": ("int64", False),
    "snapshot": ("boolean", True),
    "db": ("string", False),
    "schema": ("string", False),
    "table": ("string", False),
    "txId": ("int64", True),
    "lsn": ("int64", True),
    "xmin": ("int64", True),
    # not in the documented example; Debezium 3.5's PostgresConnector writes them (null), as the
    # differential suite saw beside it
    "origin": ("string", True),
    "origin_lsn": ("int64", True),
}
DOC_SOURCE_PAYLOAD_KEYS = [
    "version", "connector", "name", "ts_ms", "ts_us", "ts_ns", "snapshot", "db", "sequence",
    "schema", "table", "txId", "lsn", "xmin", "origin", "origin_lsn",
]  # fmt: skip
DOC_AFTER = {"id": 1, "first_name": "Anne", "last_name": "Kretchmar", "email": "annek@noanswer.org"}


def test_json_envelope_matches_debeziums_documented_events(
    db: Db, broker: Broker, workers: WorkerFactory
) -> None:
    db.run(
        "CREATE TABLE customers (id SERIAL, first_name VARCHAR(255) NOT NULL, "
        "last_name VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL, PRIMARY KEY(id))"
    )
    prefix = f"PostgreSQL_server_{uid()}"
    topic = f"{prefix}.public.customers"
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    worker.rest.create("cdc-doc", db.config(prefix, **{"snapshot.mode": "no_data"}))
    wait_until(lambda: worker.rest.state("cdc-doc") == ("RUNNING", ["RUNNING"]), what="running")
    _wait_walsender(db, prefix)
    db.run(
        "INSERT INTO customers (first_name, last_name, email) "
        "VALUES ('Anne', 'Kretchmar', 'annek@noanswer.org')",
        "UPDATE customers SET first_name = 'Anne Marie' WHERE id = 1",
        "DELETE FROM customers WHERE id = 1",
    )
    create, update, delete, tombstone = asyncio.run(consume(broker.bootstrap, topic, 4))

    key = orjson.loads(create.key)
    assert key == documented_key(f"{prefix}.public.customers.Key", id=1)
    value = orjson.loads(create.value)
    schema = value["schema"]
    assert (schema["type"], schema["optional"], schema["name"]) == (
        "struct",
        False,
        f"{prefix}.public.customers.Envelope",
    )
    fields = {f["field"]: f for f in schema["fields"]}
    # Debezium's schema always has the optional `transaction` block (the example leaves it out).
    assert [f for f in fields if f != "transaction"] == DOC_ENVELOPE_FIELDS
    assert fields["transaction"]["optional"] is True
    for side in ("before", "after"):
        assert fields[side]["fields"] == DOC_ROW_FIELDS
        assert (fields[side]["optional"], fields[side]["name"]) == (
            True,
            f"{prefix}.public.customers.Value",
        )
    source = {f["field"]: (f["type"], f["optional"]) for f in fields["source"]["fields"]}
    assert fields["source"]["name"] == "io.debezium.connector.postgresql.Source"
    # Two known differences, both Debezium's own: its schema has `sequence` (the example's
    # payload shows it), and `snapshot` is an io.debezium.data.Enum string, not a boolean.
    assert source.pop("sequence") == ("string", True)
    assert source.pop("snapshot") == ("string", True)
    doc = dict(DOC_SOURCE_FIELDS)
    del doc["snapshot"]
    # ts_us/ts_ns are optional in Debezium's Source schema (documented as required).
    assert {k: t for k, (t, _) in source.items()} == {k: t for k, (t, _) in doc.items()}
    for op, record in (("c", create), ("u", update), ("d", delete)):
        payload = orjson.loads(record.value)["payload"]
        assert [k for k in payload if k != "transaction"] == DOC_ENVELOPE_FIELDS
        assert payload["op"] == op
        assert sorted(payload["source"]) == sorted(DOC_SOURCE_PAYLOAD_KEYS)
        src = payload["source"]
        assert (src["connector"], src["name"], src["db"], src["schema"], src["table"]) == (
            "postgresql",
            prefix,
            db.name,
            "public",
            "customers",
        )
        assert src["snapshot"] == "false" and src["xmin"] is None
        assert isinstance(src["txId"], int) and isinstance(src["lsn"], int)
        last, current = orjson.loads(src["sequence"])
        assert current == str(src["lsn"]) and (last is None or int(last) < src["lsn"])
        assert isinstance(payload["ts_ms"], int) and payload["ts_us"] // 1000 == payload["ts_ms"]
    created = orjson.loads(create.value)["payload"]
    assert created["before"] is None and created["after"] == DOC_AFTER
    updated = orjson.loads(update.value)["payload"]
    assert updated["after"] == {**DOC_AFTER, "first_name": "Anne Marie"}
    # REPLICA IDENTITY DEFAULT: pgoutput sends no old row for an update that keeps the key
    # (the example shows {"id": 1}; Debezium itself emits null here).
    assert updated["before"] is None
    deleted = orjson.loads(delete.value)["payload"]
    assert deleted["after"] is None and deleted["before"]["id"] == 1  # the key columns
    assert list(deleted["before"]) == [f["field"] for f in DOC_ROW_FIELDS]
    assert tombstone.key == delete.key and tombstone.value is None


# -- (4) PostgreSQL → CDC → unwrap → JDBC sink → MariaDB ----------------------------------


def test_table_replicated_to_mariadb_stays_identical_under_concurrent_writes(
    db: Db, request: pytest.FixtureRequest, broker: Broker, workers: WorkerFactory
) -> None:
    mariadb = request.getfixturevalue("mariadb")
    sink_url = mariadb.create_database()
    db.run(
        "CREATE TABLE accounts (id INT PRIMARY KEY, owner VARCHAR(40) NOT NULL, "
        "balance NUMERIC(12,2) NOT NULL, note TEXT)",
        "INSERT INTO accounts SELECT g, 'owner ' || g, g * 1.25, NULL "
        "FROM generate_series(1, 1000) g",
    )
    prefix = f"pgm{uid()}"
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    worker.rest.create("cdc-src", db.config(prefix))
    worker.rest.create(
        "maria-sink",
        {
            "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
            "connection.url": sink_url,
            "topics": f"{prefix}.public.accounts",
            "table.name.format": "accounts",
            "insert.mode": "upsert",
            "pk.mode": "record_key",
            "delete.enabled": "true",
            "auto.create": "true",
            "transforms": "unwrap",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "transforms.unwrap.delete.tombstone.handling.mode": "tombstone",
            **JSON,
        },
    )

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        conn = db.connect()
        with conn.cursor() as cursor:
            for _ in range(600):
                i = rng.randint(1, 1400)
                choice = rng.random()
                if choice < 0.4:
                    cursor.execute(
                        "INSERT INTO accounts VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE "
                        "SET balance = EXCLUDED.balance",
                        (i, f"owner {i}", rng.randint(0, 10**6) / 100, f"w{seed}"),
                    )
                elif choice < 0.8:
                    cursor.execute(
                        "UPDATE accounts SET balance = balance + 1, note = %s WHERE id = %s",
                        (f"u{seed}", i),
                    )
                else:
                    cursor.execute("DELETE FROM accounts WHERE id = %s", (i,))
        conn.close()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    source = [(i, o, f"{b:.2f}", n) for i, o, b, n in db.rows("SELECT * FROM accounts ORDER BY id")]
    engine = sa.create_engine(sink_url)

    def copy() -> list[tuple[Any, ...]]:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("accounts"):
                return []
            rows = conn.execute(
                sa.text("SELECT id, owner, balance, note FROM accounts ORDER BY id")
            )
            return [(i, o, f"{b:.2f}", n) for i, o, b, n in rows]

    def checksum(rows: list[tuple[Any, ...]]) -> str:
        return hashlib.sha256(repr(rows).encode()).hexdigest()

    try:
        wait_until(lambda: copy() == source, timeout=120, interval=0.5, what="identical tables")
    except AssertionError:
        raise AssertionError(
            f"{len(copy())} vs {len(source)} rows\n{worker.log()[-3000:]}"
        ) from None
    assert len(copy()) == len(source) and checksum(copy()) == checksum(source)
    engine.dispose()


# -- (5) schema changes mid-stream --------------------------------------------------------


def test_schema_changes_mid_stream_give_correct_events(
    db: Db, broker: Broker, workers: WorkerFactory
) -> None:
    db.run("CREATE TABLE evolve (id INT PRIMARY KEY, a TEXT)", "INSERT INTO evolve VALUES (1, 'x')")
    prefix = f"pgs{uid()}"
    topic = f"{prefix}.public.evolve"
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    worker.rest.create("cdc-evolve", db.config(prefix))
    asyncio.run(consume(broker.bootstrap, topic, 1, timeout=60))
    db.run(
        "ALTER TABLE evolve ADD COLUMN b INT NOT NULL DEFAULT 7",
        "INSERT INTO evolve VALUES (2, 'y', 8)",
    )
    # NOT NULL comes from the catalog when the new Relation message is decoded (pgoutput does
    # not send it): let the source see column b before it is dropped again.
    asyncio.run(consume(broker.bootstrap, topic, 2, timeout=60))
    db.run(
        "ALTER TABLE evolve RENAME COLUMN a TO a2",
        "INSERT INTO evolve VALUES (3, 'z', 9)",
        "ALTER TABLE evolve DROP COLUMN b",
        "INSERT INTO evolve VALUES (4, 'w')",
        "ALTER TABLE evolve ALTER COLUMN id TYPE BIGINT",
        "INSERT INTO evolve VALUES (5000000000, 'v')",
        "UPDATE evolve SET a2 = 'u' WHERE id = 1",
    )
    records = asyncio.run(consume(broker.bootstrap, topic, 6, timeout=60))
    values = [orjson.loads(r.value) for r in records[1:]]
    after = [v["payload"]["after"] for v in values]
    assert after == [
        {"id": 2, "a": "y", "b": 8},
        {"id": 3, "a2": "z", "b": 9},
        {"id": 4, "a2": "w"},
        {"id": 5000000000, "a2": "v"},
        {"id": 1, "a2": "u"},
    ]
    types = [
        {f["field"]: (f["type"], f["optional"]) for f in v["schema"]["fields"][1]["fields"]}
        for v in values
    ]
    assert types[0] == {"id": ("int32", False), "a": ("string", True), "b": ("int32", False)}
    assert types[3] == {"id": ("int64", False), "a2": ("string", True)}
    assert orjson.loads(records[-1].key)["schema"]["fields"][0]["type"] == "int64"


# -- (6) refused configs and servers ------------------------------------------------------


def test_bad_configs_are_refused_naming_the_key(
    db: Db, broker: Broker, workers: WorkerFactory
) -> None:
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    for key, bad, said in (
        ("snapshot.mode", "sometimes", "snapshot.mode"),
        ("plugin.name", "decoderbufs", "only pgoutput"),
    ):
        status, body = worker.rest.call(
            "POST", "/connectors", {"name": f"bad-{uid()}", "config": db.config("x", **{key: bad})}
        )
        assert status == 400, body
        assert key in body["message"] and said in body["message"]


@pytest.fixture
def replica_server() -> Iterator[PostgreSQL]:
    """A second private server running with wal_level=replica."""
    server = PostgreSQL()
    server.start()
    options = (
        f"-p {server.port} -k {server.folder} -c listen_addresses=127.0.0.1 -c wal_level=replica"
    )
    subprocess.run(
        ["runuser", "-u", "postgres", "--", str(server.bin / "pg_ctl"), "-D", str(server.data),
         "-l", str(server.log_path), "-w", "restart", "-o", options],
        check=True,
        capture_output=True,
    )  # fmt: skip
    try:
        yield server
    finally:
        server.stop()


def test_a_server_without_logical_wal_is_refused_with_the_reason(
    replica_server: PostgreSQL, broker: Broker, workers: WorkerFactory
) -> None:
    db = Db(replica_server)
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    worker.rest.create("cdc-replica", db.config("r"))
    wait_until(lambda: worker.rest.state("cdc-replica")[1] == ["FAILED"], timeout=30, what="FAILED")
    trace = worker.rest.get("/connectors/cdc-replica/status")["tasks"][0]["trace"]
    assert "wal_level=replica" in trace and "wal_level=logical" in trace
