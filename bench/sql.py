"""The ``sql`` group: the JDBC sink and source against each database's own driver.

Per database (a SQLite file, then private PostgreSQL and MariaDB servers started with
``tests/integration/sql/databases.py``), four rows:

- ``<db>-exec``: the driver's own ``executemany`` (sqlite3, psycopg 3, PyMySQL) writing the rows
  with the same upsert statement the sink uses, one transaction per batch of
  ``--max-poll-records``, in one process;
- ``<db>-sink``: the same rows as JSON-with-schema records in a topic → a worker running
  ``JdbcSinkConnector`` (upsert, ``pk.mode=record_key``, ``batch.size`` at its default, fetches
  of ``--max-poll-records`` as in the other sink rows, so one transaction per fetch);
- ``<db>-select``: the driver fetching a pre-filled table with ``SELECT … WHERE orderid > ?
  ORDER BY orderid LIMIT 1000`` in a loop (the source's default ``batch.max.rows``);
- ``<db>-source``: ``JdbcSourceConnector`` (``mode=incrementing``) copying that table to a topic.

Sink-side rows are timed from the first committed batch to the last and count the rows after
the first commit (the worker row by polling ``MAX(orderid)`` from outside); source-side rows
from the first record in the topic (the first batch fetched) to the ``n``-th, as the other source
rows are. Every run writes into a new, empty database (a new SQLite file). ``python -m
bench.sql exec|select …`` is the baselines' process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import json
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from bench.baselines import Context, finish
from bench.data import JSON_CONVERTERS
from bench.harness import (
    ROOT,
    Broker,
    Worker,
    broker,
    create_topic,
    fill,
    peak_rss_mb,
    run_timeout,
    uid,
    watch_topic,
)
from bench.pipelines import start_workers
from bench.report import Sample
from faust_connect.codecs import JsonConverter
from faust_connect.data import FLOAT64, INT64, STRING, Struct, struct_schema
from tests.integration.sql.databases import MariaDB, PostgreSQL, ensure_installed

__all__ = ["sql_rows"]

#: (backend, key prefix, name in titles, driver)
DATABASES = (
    ("sqlite", "sqlite", "SQLite", "sqlite3"),
    ("postgresql", "pg", "PostgreSQL", "psycopg"),
    ("mariadb", "maria", "MariaDB", "PyMySQL"),
)
COLUMNS = ("orderid", "ordertime", "itemid", "orderunits", "city", "state", "zipcode")
VALUE_SCHEMA = struct_schema(
    [
        ("orderid", INT64),
        ("ordertime", INT64),
        ("itemid", STRING),
        ("orderunits", FLOAT64),
        ("city", STRING),
        ("state", STRING),
        ("zipcode", INT64),
    ],
    name="bench.orders",
)
#: The same table everywhere; DOUBLE PRECISION is a type name all three accept.
DDL = (
    "CREATE TABLE {table} (orderid BIGINT PRIMARY KEY, ordertime BIGINT NOT NULL,"
    " itemid VARCHAR(32) NOT NULL, orderunits DOUBLE PRECISION NOT NULL,"
    " city VARCHAR(32) NOT NULL, state VARCHAR(32) NOT NULL, zipcode BIGINT NOT NULL)"
)
SOURCE_BATCH = 1000  # JdbcSourceConnector's default batch.max.rows
EPOCH = 1_500_000_000_000

RowFn = Callable[..., list[Sample]]


# -- data -------------------------------------------------------------------------------------


def make_rows(n: int) -> list[tuple[Any, ...]]:
    """``n`` flat ``orders`` rows with unique ids 0…n-1 (datagen's fields, address inlined)."""
    rng = random.Random(0)
    pool = [
        (
            f"Item_{rng.randint(1, 999)}",
            round(rng.uniform(0.1, 10.0), 2),
            f"City_{rng.randint(1, 99)}",
            f"State_{rng.randint(1, 99)}",
            rng.randint(10000, 99999),
        )
        for _ in range(1000)
    ]
    return [(i, EPOCH + i * 1000, *pool[i % len(pool)]) for i in range(n)]


def make_records(n: int) -> list[tuple[bytes, bytes]]:
    """The rows as the JsonConverter writes them (schemas on): key ``orderid``, value the row."""
    keys, values = JsonConverter(is_key=True), JsonConverter()
    return [
        (
            keys.from_connect("t", INT64, row[0]) or b"",
            values.from_connect("t", VALUE_SCHEMA, Struct.trusted(VALUE_SCHEMA, list(row))) or b"",
        )
        for row in make_rows(n)
    ]


# -- the drivers ------------------------------------------------------------------------------


def backend(url: str) -> str:
    name = sa.make_url(url).get_backend_name()
    return "mariadb" if name == "mysql" else name


def connect(url: str, *, autocommit: bool = False) -> Any:
    """A DBAPI connection of the driver the connectors use (sqlite3, psycopg, PyMySQL)."""
    parsed, kind = sa.make_url(url), backend(url)
    if kind == "sqlite":  # no implicit transactions, as the sink's engine
        return sqlite3.connect(parsed.database or "", isolation_level=None, timeout=30)
    if kind == "postgresql":
        import psycopg

        return psycopg.connect(
            host=parsed.host,
            port=parsed.port,
            user=parsed.username,
            dbname=parsed.database,
            autocommit=autocommit,
        )
    import pymysql

    return pymysql.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        database=parsed.database,
        charset="utf8mb4",
        autocommit=autocommit,
    )


def _placeholder(kind: str) -> str:
    return "?" if kind == "sqlite" else "%s"


def upsert_sql(kind: str, table: str) -> str:
    """The dialect's native upsert, as the sink issues it."""
    marks = ", ".join(_placeholder(kind) for _ in COLUMNS)
    insert = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({marks})"
    rest = COLUMNS[1:]
    if kind == "mariadb":
        sets = ", ".join(f"{c} = VALUES({c})" for c in rest)
        return f"{insert} ON DUPLICATE KEY UPDATE {sets}"
    sets = ", ".join(f"{c} = excluded.{c}" for c in rest)
    return f"{insert} ON CONFLICT (orderid) DO UPDATE SET {sets}"


def create_table(url: str, table: str) -> None:
    conn = connect(url, autocommit=True)
    try:
        conn.cursor().execute(DDL.format(table=table))
    finally:
        conn.close()


def write_rows(url: str, table: str, rows: Sequence[tuple[Any, ...]], batch: int) -> list[float]:
    """Upsert ``rows`` with ``executemany``, one transaction per batch; when each committed."""
    kind, conn = backend(url), connect(url)
    statement, commits = upsert_sql(kind, table), []
    try:
        cursor = conn.cursor()
        for start in range(0, len(rows), batch):
            if kind == "sqlite":
                cursor.execute("BEGIN")
            cursor.executemany(statement, rows[start : start + batch])
            if kind == "sqlite":
                cursor.execute("COMMIT")
            else:
                conn.commit()
            commits.append(time.time())
    finally:
        conn.close()
    return commits


def select_rows(url: str, table: str, n: int, batch: int) -> list[float]:
    """Fetch ``n`` rows ``batch`` at a time by ``orderid``; when each batch was fetched."""
    kind, conn = backend(url), connect(url, autocommit=True)
    mark = _placeholder(kind)
    query = (
        f"SELECT {', '.join(COLUMNS)} FROM {table} WHERE orderid > {mark} "
        f"ORDER BY orderid LIMIT {batch}"
    )
    fetched, last, count = [], -1, 0
    try:
        cursor = conn.cursor()
        while count < n:
            cursor.execute(query, (last,))
            rows = cursor.fetchall()
            if not rows:
                raise RuntimeError(f"{table}: {count} of {n} rows")
            count, last = count + len(rows), rows[-1][0]
            fetched.append(time.time())
    finally:
        conn.close()
    return fetched


def watch_table(
    url: str, table: str, n: int, failed: Callable[[], str], timeout: float
) -> tuple[float, int]:
    """Seconds from the first commit seen in ``table`` until ids 0…n-1 are all in, and how many
    rows came in that time (rows arrive in id order, one transaction per batch)."""
    conn = connect(url, autocommit=True)
    first, first_count, checked = 0.0, 0, time.monotonic()
    deadline = time.monotonic() + timeout
    try:
        cursor = conn.cursor()
        while True:
            cursor.execute(f"SELECT MAX(orderid) FROM {table}")
            # fetchall, not fetchone: it finishes the statement, so SQLite drops its read lock
            # (a pending statement would hold the sink's commit back while we sleep).
            ((top,),) = cursor.fetchall()
            now = time.time()
            if top is not None and not first:
                first, first_count = now, top + 1
            if top == n - 1:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{table}: {0 if top is None else top + 1} of {n} rows")
            if time.monotonic() - checked > 1:
                checked = time.monotonic()
                if reason := failed():
                    raise RuntimeError(f"the sink failed: {reason}")
            time.sleep(0.01)
    finally:
        conn.close()
    if first_count >= n:
        raise RuntimeError(f"all {n} rows came in one commit: too few rows to time")
    return now - first, n - first_count


# -- rows -------------------------------------------------------------------------------------


def _bare(ctx: Context, mode: str, url: str, table: str, batch: int) -> Sample:
    """One run of a driver baseline in its own process."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.sql", mode, "--url", url, "--table", table,
         "-n", str(ctx.records), "--batch", str(batch)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    result = finish(process, timeout=run_timeout(ctx.records))
    seconds = result["last"] - result["first"]
    return Sample(seconds, result["count"], ctx.record_bytes, result["rss_mb"])


def bare_exec(ctx: Context, new_url: Callable[[], str]) -> list[Sample]:
    """The driver's ``executemany`` upserting the rows into an empty table."""
    samples = []
    for _ in range(ctx.runs):
        url, table = new_url(), f"bare_{uid()}"
        create_table(url, table)
        samples.append(_bare(ctx, "exec", url, table, ctx.max_poll_records))
        ctx.log(f"{backend(url)} executemany: {samples[-1].rate:,.0f} rows/s")
    return samples


def _task_failure(worker: Worker, name: str) -> str:
    """The trace of a failed task of connector ``name``; empty while none failed."""
    try:
        status = worker.rest("GET", f"/connectors/{name}/status")
    except urllib.error.HTTPError:  # not there yet, or rebalancing: ask again later
        return ""
    for task in status.get("tasks", []):
        if task.get("state") == "FAILED":
            return str(task.get("trace", "FAILED"))[-1000:]
    return ""


def jdbc_sink(ctx: Context, b: Broker, topic: str, new_url: Callable[[], str]) -> list[Sample]:
    """The topic → JsonConverter → JdbcSink (upsert) into an empty table, in a worker."""
    (worker,) = start_workers(ctx, b)
    samples = []
    try:
        for _ in range(ctx.runs):
            url, table, name = new_url(), f"sink_{uid()}", f"jdbc-sink-{uid()}"
            create_table(url, table)
            worker.create(
                name,
                {
                    "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
                    "connection.url": url,
                    "topics": topic,
                    "table.name.format": table,
                    "insert.mode": "upsert",
                    "pk.mode": "record_key",
                    "pk.fields": "orderid",
                    "consumer.override.max.poll.records": str(ctx.max_poll_records),
                    **JSON_CONVERTERS,
                },
            )
            seconds, count = watch_table(
                url,
                table,
                ctx.records,
                functools.partial(_task_failure, worker, name),
                run_timeout(ctx.records),
            )
            samples.append(Sample(seconds, count, ctx.record_bytes, peak_rss_mb(worker.pid)))
            worker.delete(name)
            ctx.log(f"jdbc sink into {backend(url)}: {samples[-1].rate:,.0f} rows/s")
    finally:
        worker.stop()
    return samples


def bare_select(ctx: Context, url: str, table: str) -> list[Sample]:
    """The driver's ``WHERE orderid > ? … LIMIT`` loop over the filled table."""
    samples = []
    for _ in range(ctx.runs):
        samples.append(_bare(ctx, "select", url, table, SOURCE_BATCH))
        ctx.log(f"{backend(url)} select loop: {samples[-1].rate:,.0f} rows/s")
    return samples


def jdbc_source(ctx: Context, b: Broker, url: str, table: str) -> list[Sample]:
    """JdbcSource (incrementing) → JsonConverter → a new topic, in a worker."""
    (worker,) = start_workers(ctx, b)
    samples = []
    try:
        for _ in range(ctx.runs):
            prefix, name = f"jdbc-{uid()}-", f"jdbc-source-{uid()}"
            asyncio.run(create_topic(b.bootstrap, prefix + table))
            worker.create(
                name,
                {
                    "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
                    "connection.url": url,
                    "mode": "incrementing",
                    "incrementing.column.name": "orderid",
                    "table.whitelist": table,
                    "topic.prefix": prefix,
                    **JSON_CONVERTERS,
                },
            )
            first, last = watch_topic(b.bootstrap, prefix + table, ctx.records)
            samples.append(
                Sample(last - first, ctx.records, ctx.record_bytes, peak_rss_mb(worker.pid))
            )
            worker.delete(name)
            ctx.log(f"jdbc source from {backend(url)}: {samples[-1].rate:,.0f} rows/s")
    finally:
        worker.stop()
    return samples


@contextlib.contextmanager
def database(kind: str, ctx: Context) -> Iterator[Callable[[], str]]:
    """A function giving the URL of a new empty database of ``kind`` (a server while open)."""
    if kind == "sqlite":
        yield lambda: f"sqlite:///{ctx.folder / f'sql-{uid()}.db'}"
        return
    ensure_installed()
    server = PostgreSQL() if kind == "postgresql" else MariaDB()
    try:
        server.start()
    except Exception:
        with contextlib.suppress(RuntimeError):  # it may be half up, or not at all
            server.stop()
        ctx.log(f"{kind} did not start; its folder is kept: {server.folder}")
        raise
    try:
        yield lambda: server.create_database("bench")
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


def sql_rows(row: RowFn, ctx: Context, broker_kind: str, records: int) -> None:
    """The sink and source rows for SQLite, PostgreSQL and MariaDB (``records`` rows per run)."""
    pairs = make_records(records)
    size = sum(len(k) + len(v) for k, v in pairs) / len(pairs)
    ctx = dataclasses.replace(ctx, records=records, record_bytes=size)
    # The source's records have no key: their MB/s counts the value only.
    values = dataclasses.replace(ctx, record_bytes=sum(len(v) for _, v in pairs) / len(pairs))
    with broker(broker_kind, ctx.folder) as b:
        topic = f"sql-in-{uid()}"
        fill(b.bootstrap, topic, pairs)
        ctx.log(f"{b.name} at {b.bootstrap}; {records:,} records in {topic}")
        for kind, *names in DATABASES:
            with contextlib.ExitStack() as stack:
                try:
                    new_url = stack.enter_context(database(kind, ctx))
                except Exception as exc:
                    new_url = _failing(exc)
                _database_rows(row, ctx, values, b, topic, new_url, names)


def _database_rows(
    row: RowFn,
    ctx: Context,
    source_ctx: Context,
    b: Broker,
    topic: str,
    new_url: Callable[[], str],
    names: Sequence[str],
) -> None:
    """One database's four rows; ``names`` are its key prefix, title and driver."""
    key, title, driver = names
    row(
        f"{key}-exec",
        f"{driver} executemany upsert (bare)",
        "-",
        lambda: bare_exec(ctx, new_url),
    )
    row(
        f"{key}-sink",
        f"topic -> JSON -> JdbcSink -> {title}",
        b,
        lambda: jdbc_sink(ctx, b, topic, new_url),
        baseline=f"{key}-exec",
        worker=True,
    )
    source: list[str] = []

    def filled() -> tuple[str, str]:
        if not source:  # one filled table for the select and the source rows
            url, table = new_url(), f"src_{uid()}"
            create_table(url, table)
            write_rows(url, table, make_rows(ctx.records), ctx.max_poll_records)
            source.extend((url, table))
        return source[0], source[1]

    row(
        f"{key}-select",
        f"{driver} SELECT id > ? LIMIT {SOURCE_BATCH} (bare)",
        "-",
        lambda: bare_select(source_ctx, *filled()),
    )
    row(
        f"{key}-source",
        f"{title} -> JdbcSource -> JSON -> topic",
        b,
        lambda: jdbc_source(source_ctx, b, *filled()),
        baseline=f"{key}-select",
        worker=True,
    )


def _failing(error: Exception) -> Callable[[], str]:
    """A database that did not start: each of its rows fails with the reason."""

    def new_url() -> str:
        raise RuntimeError(f"the database did not start: {error!r}") from error

    return new_url


# -- the baselines' process -------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sql")
    parser.add_argument("mode", choices=["exec", "select"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("-n", type=int, required=True)
    parser.add_argument("--batch", type=int, required=True)
    args = parser.parse_args()
    if args.mode == "exec":
        rows = make_rows(args.n)
        times = write_rows(args.url, args.table, rows, args.batch)
        count = args.n - min(args.batch, args.n)  # timed from the first commit, as the sink
    else:
        times = select_rows(args.url, args.table, args.n, args.batch)
        count = args.n  # first → last batch, as the source rows are timed
    result = {"first": times[0], "last": times[-1], "count": count}
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
