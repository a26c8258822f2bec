"""The ``cdc-mysql`` rows: the MySQL/MariaDB CDC source against the bare binlog decoder.

A private MariaDB (``tests/integration/sql/databases.py``) gets, per run, a new database with an
``orders`` table. The CDC connector is created (its snapshot of the empty table stores a
position), stopped, and ``--cdc-records`` rows are inserted in transactions of 5,000 rows: a
binlog backlog behind the stored position. Then, over that same backlog:

- ``cdc-mysql-bare``: mysql-replication's ``BinLogStreamReader`` alone (no Kafka), timed from
  its first row event to the ``n``-th row decoded, in this process;
- ``cdc-mysql``: the connector resumed in a worker (JSON with schemas, Debezium envelopes),
  timed from the first record in the topic to the ``n``-th (as the other source rows);
- ``dbz-mysql`` (``--only debezium``): Debezium's MariaDbConnector on a JVM Kafka Connect worker
  (:class:`bench.jvm.JvmWorker`), created beside ours (``snapshot.mode`` no_data, heartbeats so
  its position is stored), stopped before the backlog, resumed after ours, timed the same way.
"""

from __future__ import annotations

import time
import traceback
import urllib.error
from typing import Any

import pymysql

from bench.baselines import Context
from bench.cdc import RowFn, cdc_rows, put, timed_resume
from bench.data import JSON_CONVERTERS
from bench.harness import Broker, RestClient, uid
from bench.jvm import JvmWorker
from bench.pipelines import start_workers
from bench.report import Sample
from tests.integration.sql.databases import MariaDB

__all__ = ["cdc_mysql_rows"]

TXN_ROWS = 5_000
DDL = (
    "CREATE TABLE orders (orderid BIGINT PRIMARY KEY, ordertime BIGINT NOT NULL,"
    " itemid VARCHAR(32) NOT NULL, orderunits DOUBLE NOT NULL, city VARCHAR(32) NOT NULL,"
    " state VARCHAR(32) NOT NULL, zipcode INT NOT NULL)"
)
FILL = (
    "INSERT INTO orders SELECT seq, 1500000000000 + seq * 1000, CONCAT('Item_', seq % 999),"
    " (seq % 100) / 10, CONCAT('City_', seq % 99), CONCAT('State_', seq % 99),"
    " 10000 + seq % 89999 FROM seq_{lo}_to_{hi}"
)


def _sql(server: MariaDB, *statements: str, db: str | None = None) -> Any:
    conn = pymysql.connect(
        host="127.0.0.1", port=server.port, user="root", database=db, autocommit=True
    )
    try:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
            return cursor.fetchall()
    finally:
        conn.close()


def _backlog(server: MariaDB, db: str, n: int) -> None:
    _sql(
        server,
        *(FILL.format(lo=lo, hi=min(lo + TXN_ROWS - 1, n)) for lo in range(1, n + 1, TXN_ROWS)),
        db=db,
    )


def bare_decode(server: MariaDB, file: str, pos: int, n: int) -> float:
    """Seconds ``BinLogStreamReader`` takes from the first row event to the ``n``-th row."""
    from pymysqlreplication import BinLogStreamReader
    from pymysqlreplication.event import XidEvent
    from pymysqlreplication.row_event import WriteRowsEvent

    reader = BinLogStreamReader(
        connection_settings={"host": "127.0.0.1", "port": server.port, "user": "root"},
        server_id=900_000 + int(time.time()) % 1000,
        resume_stream=True,
        blocking=True,
        log_file=file,
        log_pos=pos,
        only_events=[WriteRowsEvent, XidEvent],
        enable_logging=False,
    )
    count, first = 0, 0.0
    try:
        while count < n:
            event = reader.fetchone()
            if isinstance(event, WriteRowsEvent):
                first = first or time.monotonic()
                count += len(event.rows)
    finally:
        reader.close()
    return time.monotonic() - first


def _wait_snapshot(worker: RestClient, name: str, timeout: float = 60) -> None:
    """Wait until the connector stored an offset with its snapshot complete."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            offsets = worker.rest("GET", f"/connectors/{name}/offsets")["offsets"]
        except urllib.error.HTTPError:
            offsets = []
        if offsets and not offsets[0]["offset"].get("snapshot"):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{name}: no completed snapshot after {timeout:.0f}s")


def cdc_mysql_rows(
    row: RowFn,
    ctx: Context,
    broker_kind: str,
    records: int,
    debezium: bool = False,
    flags: str = "kafka",
) -> None:
    """``cdc-mysql-bare``, ``cdc-mysql`` (and with ``debezium`` ``dbz-mysql``) over a
    ``records``-row binlog backlog per run."""
    server = MariaDB()
    cdc_rows(
        row,
        ctx,
        broker_kind,
        server,
        ("cdc-mysql-bare", "cdc-mysql", "dbz-mysql"),
        (
            "BinLogStreamReader decode (bare, no Kafka)",
            "MariaDB binlog -> CDC source -> JSON -> topic",
            f"Debezium MariaDbConnector (JVM, {flags} flags)",
        ),
        lambda b, bare, samples, dbz: _runs(ctx, server, b, records, bare, samples, dbz, flags),
        debezium,
    )


def _config(
    server: MariaDB, db: str, prefix: str, server_id: int, extra: dict[str, str] | None = None
) -> dict[str, str]:
    return {
        "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
        "database.hostname": "127.0.0.1",
        "database.port": str(server.port),
        "database.user": "root",
        "database.server.id": str(server_id),
        "topic.prefix": prefix,
        "database.include.list": db,
        **JSON_CONVERTERS,
        **(extra or {}),
    }


def _runs(
    ctx: Context,
    server: MariaDB,
    b: Broker,
    n: int,
    bare: list[Sample],
    samples: list[Sample],
    dbz: list[Sample] | None,
    flags: str,
) -> None:
    workers = start_workers(ctx, b)
    worker = workers[0]
    jvm: JvmWorker | None = None
    try:
        if dbz is not None:
            jvm = JvmWorker(ctx.folder / f"dbz-{uid()}", b.bootstrap, flags, debezium=True)
            ctx.log(f"dbz-mysql: JVM worker ready in {jvm.start():.1f} s")
        for i in range(ctx.runs):
            db, prefix, name = f"bench_{uid()}", f"cdc-{uid()}", f"cdc-{uid()}"
            dbz_prefix, dbz_name = f"dbz-{uid()}", f"dbz-{uid()}"
            _sql(server, f"CREATE DATABASE {db}")
            _sql(server, DDL, db=db)
            worker.create(name, _config(server, db, prefix, 1000 + i))
            _wait_snapshot(worker, name)
            put(worker, f"/connectors/{name}/stop")
            if jvm is not None:
                debezium_only = {
                    "snapshot.mode": "no_data",
                    "heartbeat.interval.ms": "100",  # an empty table: store a position anyway
                    "schema.history.internal.kafka.bootstrap.servers": b.bootstrap,
                    "schema.history.internal.kafka.topic": f"{dbz_prefix}-history",
                }
                jvm.create(dbz_name, _config(server, db, dbz_prefix, 2000 + i, debezium_only))
                _wait_snapshot(jvm, dbz_name, timeout=120)
                put(jvm, f"/connectors/{dbz_name}/stop")
            (file, pos, *_), *_ = _sql(server, "SHOW MASTER STATUS")
            _backlog(server, db, n)
            seconds = bare_decode(server, file, int(pos), n)
            bare.append(Sample(seconds, n, 0.0))
            ctx.log(f"cdc-mysql-bare: {n / seconds:,.0f} rows/s")
            timeout = 60 + n / 250
            topic = f"{prefix}.{db}.orders"
            secs, cpu, rss, size = timed_resume(worker, worker.pid, name, b, topic, n, timeout)
            samples.append(Sample(secs, n, size, rss, cpu_s=cpu))
            ctx.log(f"cdc-mysql: {samples[-1].rate:,.0f} changes/s, {cpu:.2f} CPU s")
            worker.delete(name)
            if jvm is not None and dbz is not None:
                topic = f"{dbz_prefix}.{db}.orders"
                try:
                    secs, cpu, rss, size = timed_resume(
                        jvm, jvm.pid, dbz_name, b, topic, n, timeout
                    )
                except Exception:  # ours and the bare rows go on without it
                    traceback.print_exc()
                    jvm.stop()
                    jvm = None
                else:
                    dbz.append(Sample(secs, n, size, rss, cpu_s=cpu))
                    ctx.log(f"dbz-mysql: {dbz[-1].rate:,.0f} changes/s, {cpu:.2f} CPU s")
                    jvm.delete(dbz_name)
            _sql(server, f"DROP DATABASE {db}")
    finally:
        for w in workers:
            w.stop()
        if jvm is not None:
            jvm.stop()
