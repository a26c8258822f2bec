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
  from the first record in the topic to the ``n``-th (as the other source rows);
- ``dbz-pg`` (``--only debezium``): Debezium's PostgresConnector on a JVM Kafka Connect worker
  (:class:`bench.jvm.JvmWorker`), created, streaming and stopped beside ours on a third slot
  before the backlog, resumed after ours and timed the same way.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

import psycopg2
import psycopg2.extras

from bench.baselines import Context
from bench.cdc import RowFn, cdc_rows, put, timed_resume
from bench.data import JSON_CONVERTERS
from bench.harness import Broker, RestClient, uid
from bench.jvm import JvmWorker
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


def cdc_postgres_rows(
    row: RowFn,
    ctx: Context,
    broker_kind: str,
    records: int,
    debezium: bool = False,
    flags: str = "kafka",
) -> None:
    """``cdc-pg-bare``, ``cdc-pg`` (and with ``debezium`` ``dbz-pg``) over a ``records``-row
    WAL backlog per run."""
    server = PostgreSQL()
    cdc_rows(
        row,
        ctx,
        broker_kind,
        server,
        ("cdc-pg-bare", "cdc-pg", "dbz-pg"),
        (
            "psycopg2 consume_stream, pgoutput (bare)",
            "PostgreSQL WAL -> CDC source -> JSON -> topic",
            f"Debezium PostgresConnector (JVM, {flags} flags)",
        ),
        lambda b, bare, samples, dbz: _runs(ctx, server, b, records, bare, samples, dbz, flags),
        debezium,
    )


def _config(server: PostgreSQL, db: str, prefix: str, slot: str) -> dict[str, str]:
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": "127.0.0.1",
        "database.port": str(server.port),
        "database.user": "postgres",
        "database.dbname": db,
        "topic.prefix": prefix,
        "slot.name": slot,
        "plugin.name": "pgoutput",  # Debezium's default is decoderbufs (not installed)
        "snapshot.mode": "no_data",
        **JSON_CONVERTERS,
    }


def _stopped(
    server: PostgreSQL, db: str, worker: RestClient, name: str, slot: str, timeout: float = 60
) -> None:
    """Wait until ``name`` streams from ``slot``, then stop it and wait until it let go."""
    active = f"SELECT 1 FROM pg_replication_slots WHERE slot_name = '{slot}' AND active"
    _wait(lambda: _sql(server, db, active), f"streaming source {name}", timeout)
    put(worker, f"/connectors/{name}/stop")
    _wait(lambda: not _sql(server, db, active), "stopped source")


def _runs(
    ctx: Context,
    server: PostgreSQL,
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
            ctx.log(f"dbz-pg: JVM worker ready in {jvm.start():.1f} s")
        for _ in range(ctx.runs):
            db, prefix, name = f"bench_{uid()}", f"cdc-{uid()}", f"cdc-{uid()}"
            slot, bare_slot, dbz_slot = f"bench_{uid()}", f"bare_{uid()}", f"dbz_{uid()}"
            dbz_prefix, dbz_name = f"dbz-{uid()}", f"dbz-{uid()}"
            _sql(server, "postgres", f"CREATE DATABASE {db}")
            _sql(server, db, DDL)
            worker.create(name, _config(server, db, prefix, slot))
            _stopped(server, db, worker, name, slot)
            if jvm is not None:
                jvm.create(dbz_name, _config(server, db, dbz_prefix, dbz_slot))
                _stopped(server, db, jvm, dbz_name, dbz_slot, timeout=180)
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
            timeout = 30 + n / 500
            topic = f"{prefix}.public.orders"
            secs, cpu, rss, size = timed_resume(worker, worker.pid, name, b, topic, n, timeout)
            samples.append(Sample(secs, n, size, rss, cpu_s=cpu))
            ctx.log(f"cdc-pg: {samples[-1].rate:,.0f} changes/s, {cpu:.2f} CPU s")
            worker.delete(name)
            drop = [slot, bare_slot]
            if jvm is not None and dbz is not None:
                topic = f"{dbz_prefix}.public.orders"
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
                    ctx.log(f"dbz-pg: {dbz[-1].rate:,.0f} changes/s, {cpu:.2f} CPU s")
                    jvm.delete(dbz_name)
                drop.append(dbz_slot)
            for each in drop:
                idle = f"SELECT 1 FROM pg_replication_slots WHERE slot_name = '{each}' AND active"
                _wait(lambda: not _sql(server, db, idle), "deleted source")  # noqa: B023
                _sql(server, db, f"SELECT pg_drop_replication_slot('{each}')")
            _sql(server, "postgres", f"DROP DATABASE {db}")
    finally:
        for w in workers:
            w.stop()
        if jvm is not None:
            jvm.stop()
