"""The ``cdc-pg`` rows: the PostgreSQL CDC source against the bare pgoutput stream.

A private PostgreSQL (``tests/integration/sql/databases.py``, wal_level=logical) gets, per run, a
new database with an ``orders`` table. The CDC connector is created (``snapshot.mode=no_data``:
it creates its slot and the publication), stopped once streaming, and a second, fresh slot is
created for the baseline; then ``--cdc-records`` rows are inserted in transactions of 5,000 rows:
a WAL backlog behind both slots. Over that same backlog:

- ``cdc-pg-bare``: psycopg2's ``consume_stream`` on the fresh slot (pgoutput, the same
  publication; no Kafka, no parsing of the rows), from the first Insert message to the ``n``-th,
  in this process;
- ``cdc-pg``: the connector resumed in a worker (JSON with schemas, Debezium envelopes), timed
  from the first record in the topic to the ``n``-th (as the other source rows).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import psycopg2
import psycopg2.extras

from bench.baselines import Context
from bench.cdc import RowFn, cdc_rows, put, record_bytes
from bench.data import JSON_CONVERTERS
from bench.harness import Broker, create_topic, peak_rss_mb, uid, watch_topic
from bench.pipelines import start_workers
from bench.report import Sample
from tests.integration.sql.databases import PostgreSQL

__all__ = ["cdc_postgres_rows"]

TXN_ROWS = 5_000
DDL = (
    "CREATE TABLE orders (orderid BIGINT PRIMARY KEY, ordertime BIGINT NOT NULL,"
    " itemid VARCHAR(32) NOT NULL, orderunits DOUBLE PRECISION NOT NULL,"
    " city VARCHAR(32) NOT NULL, state VARCHAR(32) NOT NULL, zipcode INT NOT NULL)"
)
FILL = (
    "INSERT INTO orders SELECT g, 1500000000000 + g * 1000, 'Item_' || g % 999, (g % 100) / 10.0,"
    " 'City_' || g % 99, 'State_' || g % 99, 10000 + g % 89999"
    " FROM generate_series({lo}, {hi}) g"
)


def _connect(server: PostgreSQL, db: str, **kwargs: Any) -> Any:
    conn = psycopg2.connect(
        host="127.0.0.1", port=server.port, user="postgres", dbname=db, **kwargs
    )
    if "connection_factory" not in kwargs:
        conn.autocommit = True
    return conn


def _sql(server: PostgreSQL, db: str, *statements: str) -> list[Any]:
    conn = _connect(server, db)
    try:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
            return list(cursor.fetchall()) if cursor.description else []
    finally:
        conn.close()


def bare_decode(server: PostgreSQL, db: str, slot: str, n: int) -> float:
    """Seconds ``consume_stream`` takes from the first Insert message to the ``n``-th."""
    conn = _connect(server, db, connection_factory=psycopg2.extras.LogicalReplicationConnection)
    cursor = conn.cursor()
    cursor.start_replication(
        slot_name=slot,
        decode=False,
        options={"proto_version": "1", "publication_names": "dbz_publication"},
    )
    state = {"count": 0, "first": 0.0}

    def consume(message: Any) -> None:
        if message.payload[:1] == b"I":
            state["first"] = state["first"] or time.monotonic()
            state["count"] += 1
            if state["count"] >= n:
                raise psycopg2.extras.StopReplication

    try:
        cursor.consume_stream(consume)
    except psycopg2.extras.StopReplication:
        pass
    finally:
        conn.close()
    return time.monotonic() - state["first"]


def _wait(condition: Callable[[], Any], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {timeout:.0f}s")
        time.sleep(0.1)


def cdc_postgres_rows(row: RowFn, ctx: Context, broker_kind: str, records: int) -> None:
    """``cdc-pg-bare`` and ``cdc-pg`` over a ``records``-row WAL backlog per run."""
    server = PostgreSQL()
    cdc_rows(
        row,
        ctx,
        broker_kind,
        server,
        ("cdc-pg-bare", "cdc-pg"),
        (
            "psycopg2 consume_stream, pgoutput (bare)",
            "PostgreSQL WAL -> CDC source -> JSON -> topic",
        ),
        lambda b, bare, samples: _runs(ctx, server, b, records, bare, samples),
    )


def _runs(
    ctx: Context, server: PostgreSQL, b: Broker, n: int, bare: list[Sample], samples: list[Sample]
) -> None:
    workers = start_workers(ctx, b)
    worker = workers[0]
    size = 0.0
    try:
        for _ in range(ctx.runs):
            db, prefix, name = f"bench_{uid()}", f"cdc-{uid()}", f"cdc-{uid()}"
            slot, bare_slot = f"bench_{uid()}", f"bare_{uid()}"
            _sql(server, "postgres", f"CREATE DATABASE {db}")
            _sql(server, db, DDL)
            config = {
                "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
                "database.hostname": "127.0.0.1",
                "database.port": str(server.port),
                "database.user": "postgres",
                "database.dbname": db,
                "topic.prefix": prefix,
                "slot.name": slot,
                "snapshot.mode": "no_data",
                **JSON_CONVERTERS,
            }
            worker.create(name, config)
            active = f"SELECT 1 FROM pg_replication_slots WHERE slot_name = '{slot}' AND active"
            _wait(lambda: _sql(server, db, active), "streaming source")  # noqa: B023
            put(worker, f"/connectors/{name}/stop")
            _wait(lambda: not _sql(server, db, active), "stopped source")  # noqa: B023
            _sql(
                server, db, f"SELECT pg_create_logical_replication_slot('{bare_slot}', 'pgoutput')"
            )
            _sql(
                server,
                db,
                *(
                    FILL.format(lo=lo, hi=min(lo + TXN_ROWS - 1, n))
                    for lo in range(1, n + 1, TXN_ROWS)
                ),
            )
            seconds = bare_decode(server, db, bare_slot, n)
            bare.append(Sample(seconds, n, 0.0))
            ctx.log(f"cdc-pg-bare: {n / seconds:,.0f} rows/s")
            topic = f"{prefix}.public.orders"
            asyncio.run(create_topic(b.bootstrap, topic))  # watched from before the first record
            put(worker, f"/connectors/{name}/resume")
            first, last = watch_topic(b.bootstrap, topic, n)
            if not size:
                size = record_bytes(b, topic)
            samples.append(Sample(last - first, n, size, peak_rss_mb(worker.pid)))
            ctx.log(f"cdc-pg: {samples[-1].rate:,.0f} changes/s")
            worker.delete(name)
            _wait(lambda: not _sql(server, db, active), "deleted source")  # noqa: B023
            _sql(
                server,
                db,
                f"SELECT pg_drop_replication_slot('{slot}')",
                f"SELECT pg_drop_replication_slot('{bare_slot}')",
            )
            _sql(server, "postgres", f"DROP DATABASE {db}")
    finally:
        for w in workers:
            w.stop()
