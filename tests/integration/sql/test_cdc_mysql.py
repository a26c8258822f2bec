"""The MySQL/MariaDB change-data-capture source against a real MariaDB binlog and real brokers.

Each test makes its own database on the session's MariaDB (or, for the server restart, a private
MariaDB), reads the binlog as the ``cdc`` user with the grants of shared/DATABASES.md, and reads
the topics back with a consumer of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pymysql
import pytest
import sqlalchemy as sa

from tests.conftest import Broker
from tests.integration.sql.databases import MariaDB
from tests.integration.sql.helpers import FAST_GROUP, JSON, documented_key, uid
from tests.workers import Worker, WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

_server_ids = iter(range(1000 + random.randrange(10_000), 2**31))


class Tail:
    """Reads a topic from its start in a thread, keeping every record (key, value) parsed."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.records: list[tuple[Any, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(bootstrap, topic),))
        self._thread.start()

    async def _run(self, bootstrap: str, topic: str) -> None:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            metadata_max_age_ms=500,
        )
        await consumer.start()
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=20_000)
                for batch in batches.values():
                    self.records.extend(
                        (
                            orjson.loads(r.key) if r.key else None,
                            orjson.loads(r.value) if r.value is not None else None,
                        )
                        for r in batch
                    )
        finally:
            await consumer.stop()

    def wait(self, count: int, timeout: float = 60, worker: Worker | None = None) -> list[Any]:
        try:
            wait_until(lambda: len(self.records) >= count, timeout=timeout, what=f"{count} records")
        except AssertionError:
            tail = worker.log()[-3000:] if worker else ""
            raise AssertionError(f"{len(self.records)} of {count} records\n{tail}") from None
        return self.records

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def tails() -> Iterator[list[Tail]]:
    started: list[Tail] = []
    yield started
    for tail in started:
        tail.stop()


def _root(server: MariaDB, db: str | None = None) -> Any:
    return pymysql.connect(
        host="127.0.0.1", port=server.port, user="root", database=db, autocommit=True
    )


def _sql(server: MariaDB, *statements: str, db: str | None = None) -> None:
    conn = _root(server, db)
    try:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        conn.close()


def _database(server: MariaDB, *ddl: str) -> str:
    """A new database with the ``cdc`` user (DATABASES.md's grants) and ``ddl`` run in it."""
    name = f"cdc_{uid()}"
    _sql(
        server,
        "CREATE USER IF NOT EXISTS 'cdc'@'%' IDENTIFIED BY 'cdc'",
        "GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'cdc'@'%'",
        f"CREATE DATABASE {name} CHARACTER SET utf8mb4",
    )
    _sql(server, *ddl, db=name)
    return name


def _config(server: MariaDB, prefix: str, db: str, **extra: str) -> dict[str, str]:
    return {
        "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
        "database.hostname": "127.0.0.1",
        "database.port": str(server.port),
        "database.user": "cdc",
        "database.password": "cdc",
        "database.server.id": str(next(_server_ids)),
        "topic.prefix": prefix,
        "database.include.list": db,
        **JSON,
        **extra,
    }


def _started(tails: list[Tail], bootstrap: str, prefix: str, db: str, worker: Worker) -> None:
    """Wait until the snapshot has begun: its CREATE TABLE is on the schema change topic, so
    every write from now on is after the snapshot's binlog position."""
    tails.append(changes := Tail(bootstrap, prefix))

    def seen() -> bool:
        return any(k and k["payload"]["databaseName"] == db for k, _ in changes.records)

    try:
        wait_until(seen, timeout=60, what="the snapshot to start")
    except AssertionError:
        raise AssertionError(worker.log()[-3000:]) from None


def _payload(record: tuple[Any, Any]) -> Any:
    return None if record[1] is None else record[1]["payload"]


# -- (1) snapshot, then changes in commit order -----------------------------------------------


def test_snapshot_then_inserts_updates_deletes_arrive_in_commit_order(
    mariadb: MariaDB, broker: Broker, workers: WorkerFactory, tails: list[Tail]
) -> None:
    db = _database(
        mariadb,
        "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, qty INT)",
        "INSERT INTO items SELECT seq, CONCAT('item ', seq), seq * 10 FROM seq_1_to_50",
    )
    prefix = f"my-{uid()}"
    topic = f"{prefix}.{db}.items"
    tails.append(tail := Tail(broker.bootstrap, topic))
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    worker.rest.create("cdc", _config(mariadb, prefix, db))
    snapshot = tail.wait(50, worker=worker)[:50]
    assert [_payload(r)["op"] for r in snapshot] == ["r"] * 50
    assert [r[0]["payload"]["id"] for r in snapshot] == list(range(1, 51))
    assert _payload(snapshot[0])["source"]["snapshot"] == "first"
    assert _payload(snapshot[-1])["source"]["snapshot"] == "last"
    assert _payload(snapshot[6])["after"] == {"id": 7, "name": "item 7", "qty": 70}

    _sql(
        mariadb,
        "INSERT INTO items VALUES (51, 'new', 1)",
        "UPDATE items SET qty = qty + 1 WHERE id IN (3, 51)",
        "START TRANSACTION",
        "DELETE FROM items WHERE id = 4",
        "INSERT INTO items VALUES (52, 'in a transaction', NULL)",
        "UPDATE items SET name = 'renamed' WHERE id = 52",
        "COMMIT",
        "DELETE FROM items WHERE id = 51",
        db=db,
    )
    changes = tail.wait(50 + 9, worker=worker)[50:]
    ops = [(r[0]["payload"]["id"], _payload(r) and _payload(r)["op"]) for r in changes]
    assert ops == [
        (51, "c"),
        (3, "u"),
        (51, "u"),
        (4, "d"),
        (4, None),  # the tombstone
        (52, "c"),
        (52, "u"),
        (51, "d"),
        (51, None),
    ]
    update = _payload(changes[1])
    assert update["before"] == {"id": 3, "name": "item 3", "qty": 30}
    assert update["after"] == {"id": 3, "name": "item 3", "qty": 31}
    assert _payload(changes[3])["before"] == {"id": 4, "name": "item 4", "qty": 40}
    assert _payload(changes[3])["after"] is None
    in_txn = [_payload(changes[i])["source"] for i in (3, 5, 6)]
    assert len({s["gtid"] for s in in_txn}) == 1  # one transaction, one GTID
    assert [s["pos"] for s in in_txn] == sorted(s["pos"] for s in in_txn)
    assert _payload(changes[6])["before"]["name"] == "in a transaction"
    assert worker.rest.state("cdc") == ("RUNNING", ["RUNNING"])


# -- (2) kill -9, again and again, during a 100,000-change run --------------------------------


def test_kill_9_during_100k_changes_loses_nothing(
    mariadb: MariaDB, broker: Broker, workers: WorkerFactory, tails: list[Tail]
) -> None:
    db = _database(mariadb, "CREATE TABLE events (id INT PRIMARY KEY, v INT NOT NULL)")
    prefix, group = f"kill-{uid()}", f"cdc-kill-{uid()}"
    topic = f"{prefix}.{db}.events"
    config = _config(mariadb, prefix, db, **{"max.batch.size": "1000"})

    def start() -> Worker:
        return workers.start(
            "tests.apps.worker", bootstrap=broker.bootstrap, group_id=group, env=FAST_GROUP
        )

    worker = start()
    worker.rest.create("cdc", config)
    _started(tails, broker.bootstrap, prefix, db, worker)
    # 50,000 inserts and 50,000 updates, in transactions of 5,000 rows.
    statements = []
    for lo in range(1, 50_001, 5_000):
        statements.append(f"INSERT INTO events SELECT seq, 0 FROM seq_{lo}_to_{lo + 4_999}")
    for lo in range(1, 50_001, 5_000):
        statements.append(f"UPDATE events SET v = 1 WHERE id BETWEEN {lo} AND {lo + 4_999}")
    writer = threading.Thread(target=_sql, args=(mariadb, *statements), kwargs={"db": db})
    tails.append(tail := Tail(broker.bootstrap, topic))
    writer.start()
    kills = []
    for threshold in (15_000, 35_000, 55_000, 75_000):
        tail.wait(threshold, timeout=120, worker=worker)
        worker.kill()
        kills.append(len(tail.records))
        worker = start()
    writer.join()

    def delivered() -> tuple[set[int], set[int]]:
        inserted = {r[0]["payload"]["id"] for r in tail.records if _payload(r)["op"] == "c"}
        updated = {
            r[0]["payload"]["id"]
            for r in tail.records
            if _payload(r)["op"] == "u" and _payload(r)["after"]["v"] == 1
        }
        return inserted, updated

    every = set(range(1, 50_001))
    try:
        wait_until(lambda: delivered() == (every, every), timeout=180, interval=1)
    except AssertionError:
        inserted, updated = delivered()
        raise AssertionError(
            f"missing {len(every - inserted)} inserts, {len(every - updated)} updates\n"
            + worker.log()[-3000:]
        ) from None
    total = len(tail.records)
    print(
        f"4 kills at {kills} records; {total} records for 100,000 changes:"
        f" {total - 100_000} delivered again"
    )
    assert total >= 100_000


# -- (3) the JSON envelope, field by field, against Debezium's documented examples -----------

# Debezium's MySQL docs ("Data change events"): the customers table and its events, with
# {context} = mysql. The docs' source block lists ts_us/ts_ns right after ts_ms and shows
# snapshot as a boolean; Debezium's code (AbstractSourceInfoStructMaker) builds the block as
# version, connector, name, ts_ms, snapshot (an io.debezium.data.Enum string), db, sequence,
# ts_us, ts_ns, then the MySQL fields. Our events follow the code; the test checks both.
DOC_ROW = [("id", "int32", False), ("first_name", "string", False)]
DOC_ROW += [("last_name", "string", False), ("email", "string", False)]
DOC_SOURCE = [
    ("version", "string", False),
    ("connector", "string", False),
    ("name", "string", False),
    ("ts_ms", "int64", False),
    ("ts_us", "int64", False),
    ("ts_ns", "int64", False),
    ("snapshot", "boolean", True),
    ("db", "string", False),
    ("table", "string", True),
    ("server_id", "int64", False),
    ("gtid", "string", True),
    ("file", "string", False),
    ("pos", "int64", False),
    ("row", "int32", False),
    ("thread", "int64", True),
    ("query", "string", True),
]
DOC_ENVELOPE = [
    ("before", "struct", True),
    ("after", "struct", True),
    ("source", "struct", False),
    ("op", "string", False),
    ("ts_ms", "int64", True),
    ("ts_us", "int64", True),
    ("ts_ns", "int64", True),
]
CODE_SOURCE_ORDER = [
    "version", "connector", "name", "ts_ms", "snapshot", "db", "sequence", "ts_us", "ts_ns",
    "table", "server_id", "gtid", "file", "pos", "row", "thread", "query",
]  # fmt: skip


def _fields(schema: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [(f["field"], f["type"], f["optional"]) for f in schema["fields"]]


def test_the_json_envelope_matches_debeziums_documented_mysql_events(
    mariadb: MariaDB, broker: Broker, workers: WorkerFactory, tails: list[Tail]
) -> None:
    db = _database(
        mariadb,
        "CREATE TABLE customers (id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " first_name VARCHAR(255) NOT NULL, last_name VARCHAR(255) NOT NULL,"
        " email VARCHAR(255) NOT NULL UNIQUE KEY) AUTO_INCREMENT=1004",
    )
    prefix = "mysql-server-1"
    topic = f"{prefix}.{db}.customers"
    tails.append(tail := Tail(broker.bootstrap, topic))
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    config = _config(mariadb, prefix, db)
    config["connector.class"] = "io.debezium.connector.mysql.MySqlConnector"
    worker.rest.create("customers", config)
    _started(tails, broker.bootstrap, prefix, db, worker)
    _sql(
        mariadb,
        "INSERT INTO customers (first_name, last_name, email)"
        " VALUES ('Anne', 'Kretchmar', 'annek@noanswer.org')",
        "UPDATE customers SET first_name='Anne Marie' WHERE id=1004",
        "DELETE FROM customers WHERE id=1004",
        db=db,
    )
    (create_key, create), (_, update), (_, delete), tombstone = tail.wait(4, worker=worker)[:4]
    assert create_key == documented_key(f"{topic}.Key", id=1004)
    schema = create["schema"]
    assert schema["name"] == f"{topic}.Envelope" and schema["optional"] is False
    # The shared envelope carries Debezium's optional transaction block (null unless
    # transaction metadata is on), which the docs' MySQL example leaves out.
    assert [f for f in _fields(schema) if f[0] != "transaction"] == DOC_ENVELOPE
    assert ("transaction", "struct", True) in _fields(schema)
    before, after, source = schema["fields"][:3]
    for row in (before, after):
        assert row["name"] == f"{topic}.Value" and _fields(row) == DOC_ROW
    assert source["name"] == "io.debezium.connector.mysql.Source"
    ours = _fields(source)
    assert [f[0] for f in ours] == CODE_SOURCE_ORDER
    documented = {name: (type_, optional) for name, type_, optional in DOC_SOURCE}
    for name, type_, optional in ours:
        if name == "snapshot":
            assert (type_, optional) == ("string", True)  # Debezium's Enum, not the docs' boolean
            assert source["fields"][4]["name"] == "io.debezium.data.Enum"
        elif name in ("ts_us", "ts_ns"):
            assert type_ == "int64"  # optional in Debezium's code, required in the docs
        elif name != "sequence":  # in the code, not in the docs' MySQL example
            assert documented[name] == (type_, optional), name
    assert set(documented) <= {f[0] for f in ours}

    anne = {"id": 1004, "first_name": "Anne", "last_name": "Kretchmar"}
    anne["email"] = "annek@noanswer.org"
    payloads = [create["payload"], update["payload"], delete["payload"]]
    for payload in payloads:
        envelope = ["before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"]
        assert list(payload) == envelope
        assert list(payload["source"]) == CODE_SOURCE_ORDER
        src = payload["source"]
        assert (src["connector"], src["name"], src["db"], src["table"]) == (
            "mysql",
            prefix,
            db,
            "customers",
        )
        assert src["snapshot"] == "false" and src["server_id"] == 1
        assert src["file"].startswith("binlog.") and src["pos"] > 0 and src["row"] == 0
        assert src["query"] is None  # Debezium's default (include.query=false)
        assert payload["ts_ms"] >= src["ts_ms"]
    assert (payloads[0]["op"], payloads[0]["before"], payloads[0]["after"]) == ("c", None, anne)
    marie = {**anne, "first_name": "Anne Marie"}
    assert (payloads[1]["op"], payloads[1]["before"], payloads[1]["after"]) == ("u", anne, marie)
    assert (payloads[2]["op"], payloads[2]["before"], payloads[2]["after"]) == ("d", marie, None)
    assert tombstone == (create_key, None)


# -- (4) MariaDB → CDC → unwrap → JDBC sink → PostgreSQL, under concurrent writes --------------


def test_a_table_replicated_to_postgresql_stays_identical_under_concurrent_writes(
    mariadb: MariaDB,
    request: pytest.FixtureRequest,
    broker: Broker,
    workers: WorkerFactory,
) -> None:
    postgres = request.getfixturevalue("postgres")
    db = _database(
        mariadb,
        "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, qty INT,"
        " amount DECIMAL(12, 2))",
        "INSERT INTO items SELECT seq, CONCAT('n', seq), seq, seq / 4 FROM seq_1_to_500",
    )
    sink_url = postgres.create_database()
    prefix = f"rep-{uid()}"
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    unwrap = {
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.unwrap.delete.tombstone.handling.mode": "tombstone",
    }
    worker.rest.create("source", _config(mariadb, prefix, db, **unwrap))
    worker.rest.create(
        "sink",
        {
            "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
            "connection.url": sink_url,
            "topics": f"{prefix}.{db}.items",
            "table.name.format": "items",
            "insert.mode": "upsert",
            "pk.mode": "record_key",
            "delete.enabled": "true",
            "auto.create": "true",
            **JSON,
        },
    )
    stop = threading.Event()

    def write(seed: int) -> None:
        rng = random.Random(seed)
        conn = _root(mariadb, db)
        with conn.cursor() as cursor:
            while not stop.is_set():
                i = rng.randrange(1, 800)
                action = rng.random()
                if action < 0.4:
                    cursor.execute(
                        "INSERT INTO items VALUES (%s, %s, %s, %s) ON DUPLICATE KEY UPDATE"
                        " qty = qty + 1",
                        (i, f"w{seed}-{i}", i, rng.randrange(10_000) / 100),
                    )
                elif action < 0.8:
                    cursor.execute(
                        "UPDATE items SET qty = %s, name = %s WHERE id = %s",
                        (rng.randrange(1000), f"u{seed}", i),
                    )
                else:
                    cursor.execute("DELETE FROM items WHERE id = %s", (i,))
        conn.close()

    writers = [threading.Thread(target=write, args=(seed,)) for seed in (1, 2)]
    for writer in writers:
        writer.start()
    time.sleep(4)  # the writers' run, not a wait for a condition
    stop.set()
    for writer in writers:
        writer.join()

    conn = _root(mariadb, db)
    with conn.cursor() as cursor:
        cursor.execute("SELECT id, name, qty, amount FROM items ORDER BY id")
        want = [tuple(str(v) for v in row) for row in cursor.fetchall()]
    conn.close()
    engine = sa.create_engine(sink_url)

    def copied() -> list[tuple[str, ...]]:
        with engine.connect() as c:
            if not sa.inspect(c).has_table("items"):
                return []
            rows = c.execute(sa.text("SELECT id, name, qty, amount FROM items ORDER BY id"))
            return [tuple(str(v) for v in row) for row in rows]

    digest = lambda rows: hashlib.sha256(repr(rows).encode()).hexdigest()  # noqa: E731
    try:
        wait_until(lambda: digest(copied()) == digest(want), timeout=90, interval=0.5)
    except AssertionError:
        have = copied()
        raise AssertionError(
            f"{len(have)} rows copied, {len(want)} in MariaDB; first difference:"
            f" {next((a, b) for a, b in zip(have + [()] * 9, want + [()] * 9, strict=False) if a != b)}\n"
            + worker.log()[-3000:]
        ) from None
    engine.dispose()
    print(f"{len(want)} rows identical in MariaDB and PostgreSQL, checksum {digest(want)[:12]}")
    assert worker.rest.state("source") == ("RUNNING", ["RUNNING"])


# -- (5) schema changes mid-stream -------------------------------------------------------------


def test_schema_changes_mid_stream_give_correct_events_and_ddl_events(
    mariadb: MariaDB, broker: Broker, workers: WorkerFactory, tails: list[Tail]
) -> None:
    db = _database(mariadb, "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10), b INT)")
    prefix = f"ddl-{uid()}"
    tails.append(rows := Tail(broker.bootstrap, f"{prefix}.{db}.t"))
    tails.append(ddl := Tail(broker.bootstrap, prefix))
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    worker.rest.create("cdc", _config(mariadb, prefix, db))
    ddl.wait(1, worker=worker)  # the snapshot's CREATE TABLE: the snapshot has begun
    statements = [
        "INSERT INTO t VALUES (1, 'one', 1)",
        "ALTER TABLE t ADD COLUMN c DATE AFTER a",
        "INSERT INTO t VALUES (2, 'two', '2024-01-02', 2)",
        "ALTER TABLE t DROP COLUMN b",
        "INSERT INTO t VALUES (3, 'three', NULL)",
        "ALTER TABLE t RENAME COLUMN a TO name",
        "ALTER TABLE t MODIFY COLUMN name VARCHAR(40) NOT NULL",
        "UPDATE t SET name = 'three!' WHERE id = 3",
    ]
    _sql(mariadb, *statements, db=db)
    events = [_payload(r) for r in rows.wait(4, worker=worker)[:4]]
    assert events[0]["after"] == {"id": 1, "a": "one", "b": 1}
    assert events[1]["after"] == {"id": 2, "a": "two", "c": 19724, "b": 2}
    assert events[2]["after"] == {"id": 3, "a": "three", "c": None}
    assert events[3]["before"] == {"id": 3, "name": "three", "c": None}
    assert events[3]["after"] == {"id": 3, "name": "three!", "c": None}
    schema = rows.records[3][1]["schema"]["fields"][1]["fields"]
    assert [(f["field"], f["type"], f["optional"]) for f in schema] == [
        ("id", "int32", False),
        ("name", "string", False),  # NOT NULL since the MODIFY
        ("c", "int32", True),
    ]
    assert schema[2]["name"] == "io.debezium.time.Date"
    # The snapshot's CREATE TABLE, then the four ALTERs.
    changes = ddl.wait(5, worker=worker)[:5]
    assert [k["payload"] for k, _ in changes] == [{"databaseName": db}] * 5
    assert changes[0][1]["payload"]["ddl"].startswith("CREATE TABLE `t`")
    assert [v["payload"]["ddl"] for _, v in changes[1:]] == [*statements[1:7:2], statements[6]]
    value = changes[1][1]
    assert value["schema"]["name"] == "io.debezium.connector.mariadb.SchemaChangeValue"
    assert [f["field"] for f in value["schema"]["fields"]] == [
        "source",
        "ts_ms",
        "databaseName",
        "schemaName",
        "ddl",
        "tableChanges",
    ]
    assert value["payload"]["source"]["table"] == "t"
    assert value["payload"]["tableChanges"] == []


# -- (6) a server that cannot give correct events is refused ----------------------------------


def test_a_server_without_full_row_metadata_is_refused_with_the_setting_to_change(
    mariadb: MariaDB, broker: Broker, workers: WorkerFactory
) -> None:
    db = _database(mariadb, "CREATE TABLE t (id INT PRIMARY KEY)")
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    config = _config(mariadb, f"bad-{uid()}", db)
    missing = {k: v for k, v in config.items() if k != "database.server.id"}
    status, body = worker.rest.call("POST", "/connectors", {"name": "x", "config": missing})
    assert status == 400 and "database.server.id" in str(body)
    _sql(mariadb, "SET GLOBAL binlog_row_metadata = 'MINIMAL'")
    try:
        worker.rest.create("cdc", config)

        def trace() -> str:
            status = worker.rest.get("/connectors/cdc/status")
            tasks = status["tasks"]
            return bool(tasks) and tasks[0]["state"] == "FAILED" and tasks[0]["trace"]

        message = wait_until(trace, timeout=60, what="the task to fail")
    finally:
        _sql(mariadb, "SET GLOBAL binlog_row_metadata = 'FULL'")
    assert "binlog_row_metadata is MINIMAL; set binlog_row_metadata=FULL" in message


# -- (7) a server restart mid-stream, and a purged position ----------------------------------


def test_a_server_restart_mid_stream_loses_nothing_and_a_purged_position_is_named(
    broker: Broker, workers: WorkerFactory, tails: list[Tail]
) -> None:
    server = MariaDB()
    server.start()
    try:
        db = _database(server, "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
        prefix = f"restart-{uid()}"
        tails.append(tail := Tail(broker.bootstrap, f"{prefix}.{db}.t"))
        worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
        config = _config(server, prefix, db)
        worker.rest.create("cdc", config)
        _started(tails, broker.bootstrap, prefix, db, worker)
        _sql(server, "INSERT INTO t SELECT seq, 0 FROM seq_1_to_1000", db=db)
        tail.wait(1000, worker=worker)
        server.stop()
        server.start()  # same data folder, same port
        _sql(server, "INSERT INTO t SELECT seq, 1 FROM seq_1001_to_2000", db=db)
        _sql(server, "UPDATE t SET v = 2 WHERE id <= 10", db=db)
        records = tail.wait(2010, worker=worker)
        ids = [r[0]["payload"]["id"] for r in records if _payload(r)["op"] == "c"]
        assert sorted(ids) == list(range(1, 2001))
        assert worker.rest.state("cdc") == ("RUNNING", ["RUNNING"])
        assert "reconnecting" in worker.log()

        # Stopped, its position purged: the restart says what to do; when_needed re-snapshots.
        assert worker.rest.call("PUT", "/connectors/cdc/stop")[0] in (202, 204)
        seen = len(tail.records)
        _sql(server, "INSERT INTO t VALUES (5000, 5)", "FLUSH BINARY LOGS", db=db)

        def purged() -> bool:  # the server keeps a file a (closing) reader still reads
            conn = _root(server)
            with conn.cursor() as cursor:
                cursor.execute("PURGE BINARY LOGS BEFORE NOW() + INTERVAL 1 SECOND")
                cursor.execute("SHOW BINARY LOGS")
                left = len(cursor.fetchall())
            conn.close()
            return left == 1

        wait_until(purged, timeout=30, interval=0.5, what="the old binlogs to be purged")
        worker.rest.call("PUT", "/connectors/cdc/resume")

        def failed() -> str:
            tasks = worker.rest.get("/connectors/cdc/status")["tasks"]
            return bool(tasks) and tasks[0]["state"] == "FAILED" and tasks[0]["trace"]

        message = wait_until(failed, timeout=60, what="the task to fail")
        assert "is gone" in message and "snapshot.mode=when_needed" in message
        worker.rest.call(
            "PUT", "/connectors/cdc/config", {**config, "snapshot.mode": "when_needed"}
        )
        worker.rest.call("POST", "/connectors/cdc/restart?includeTasks=true")
        again = tail.wait(seen + 2001, timeout=90, worker=worker)[seen:]
        assert sorted(r[0]["payload"]["id"] for r in again if _payload(r)["op"] == "r") == [
            *range(1, 2001),
            5000,
        ]
    finally:
        server.stop()
