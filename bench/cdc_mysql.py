"""The ``cdc-mysql`` rows: the MySQL/MariaDB CDC source against the bare binlog decoder.

A private MariaDB (``tests/integration/sql/databases.py``) gets, per run, a new database with an
``orders`` table. The CDC connector is created (its snapshot of the empty table stores a
position), stopped, and ``--cdc-records`` rows are inserted in transactions of 5,000 rows: a
binlog backlog behind the stored position. Then, over that same backlog:

- ``cdc-mysql-bare``: mysql-replication's ``BinLogStreamReader`` alone (no Kafka), timed from
  its first row event to the ``n``-th row decoded, in this process;
- ``cdc-mysql``: the connector resumed in a worker (JSON with schemas, Debezium envelopes),
  timed from the first record in the topic to the ``n``-th (as the other source rows).
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
from typing import Any

import pymysql

from bench.baselines import Context
from bench.cdc import RowFn, cdc_rows, put, record_bytes
from bench.data import JSON_CONVERTERS
from bench.harness import Broker, Worker, create_topic, peak_rss_mb, uid, watch_topic
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


def _wait_snapshot(worker: Worker, name: str, timeout: float = 60) -> None:
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


def cdc_mysql_rows(row: RowFn, ctx: Context, broker_kind: str, records: int) -> None:
    """``cdc-mysql-bare`` and ``cdc-mysql`` over a ``records``-row binlog backlog per run."""
    server = MariaDB()
    cdc_rows(
        row,
        ctx,
        broker_kind,
        server,
        ("cdc-mysql-bare", "cdc-mysql"),
        (
            "BinLogStreamReader decode (bare, no Kafka)",
            "MariaDB binlog -> CDC source -> JSON -> topic",
        ),
        lambda b, bare, samples: _runs(ctx, server, b, records, bare, samples),
    )


def _runs(
    ctx: Context,
    server: MariaDB,
    b: Broker,
    n: int,
    bare: list[Sample],
    samples: list[Sample],
) -> None:
    workers = start_workers(ctx, b)
    worker = workers[0]
    size = 0.0
    try:
        for i in range(ctx.runs):
            db, prefix, name = f"bench_{uid()}", f"cdc-{uid()}", f"cdc-{uid()}"
            _sql(server, f"CREATE DATABASE {db}")
            _sql(server, DDL, db=db)
            config = {
                "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
                "database.hostname": "127.0.0.1",
                "database.port": str(server.port),
                "database.user": "root",
                "database.server.id": str(1000 + i),
                "topic.prefix": prefix,
                "database.include.list": db,
                **JSON_CONVERTERS,
            }
            worker.create(name, config)
            _wait_snapshot(worker, name)
            put(worker, f"/connectors/{name}/stop")
            (file, pos, *_), *_ = _sql(server, "SHOW MASTER STATUS")
            _backlog(server, db, n)
            seconds = bare_decode(server, file, int(pos), n)
            bare.append(Sample(seconds, n, 0.0))
            ctx.log(f"cdc-mysql-bare: {n / seconds:,.0f} rows/s")
            topic = f"{prefix}.{db}.orders"
            asyncio.run(create_topic(b.bootstrap, topic))  # watched from before the first record
            put(worker, f"/connectors/{name}/resume")
            first, last = watch_topic(b.bootstrap, topic, n, timeout=60 + n / 250)
            if not size:
                size = record_bytes(b, topic)
            samples.append(Sample(last - first, n, size, peak_rss_mb(worker.pid)))
            ctx.log(f"cdc-mysql: {samples[-1].rate:,.0f} changes/s")
            worker.delete(name)
            _sql(server, f"DROP DATABASE {db}")
    finally:
        for w in workers:
            w.stop()
