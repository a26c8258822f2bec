"""Debezium change events with temporal, JSON and UUID columns replicate into typed columns.

Envelopes built as the PostgreSQL CDC source builds them go through JsonConverter (with
schemas), ExtractNewRecordState and the JDBC sink (upsert, ``auto.create``) into PostgreSQL and
MariaDB, where the columns read back with their SQL types and the values as the source had them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from faust_connect.agents.connectors.cdc.debezium import (
    POSTGRES_SOURCE,
    Debezium,
    change_records,
    table_schema,
)
from faust_connect.codecs.json.converter import JsonConverter
from faust_connect.data import INT32, Schema, Type
from tests.conftest import Broker
from tests.integration.sql.helpers import JSON, uid
from tests.kafka import produce
from tests.workers import WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

EPOCH = dt.datetime(1970, 1, 1)
COLUMNS: list[tuple[str, Schema]] = [
    ("id", INT32),
    ("day", Debezium.schema(Type.INT32, Debezium.DATE)),
    ("t_ms", Debezium.schema(Type.INT32, Debezium.TIME)),
    ("t_us", Debezium.schema(Type.INT64, Debezium.MICRO_TIME)),
    ("ts_ms", Debezium.schema(Type.INT64, Debezium.TIMESTAMP)),
    ("ts_us", Debezium.schema(Type.INT64, Debezium.MICRO_TIMESTAMP)),
    ("zoned", Debezium.schema(Type.STRING, Debezium.ZONED_TIMESTAMP)),
    ("doc", Debezium.schema(Type.STRING, Debezium.JSON)),
    ("ref", Debezium.schema(Type.STRING, Debezium.UUID)),
]
#: The SQL type of each column as the database describes it.
TYPES = {
    "postgresql": {
        "id": "integer",
        "day": "date",
        "t_ms": "time without time zone",
        "t_us": "time without time zone",
        "ts_ms": "timestamp without time zone",
        "ts_us": "timestamp without time zone",
        "zoned": "timestamp with time zone",
        "doc": "jsonb",
        "ref": "uuid",
    },
    "mariadb": {
        "id": "int(11)",
        "day": "date",
        "t_ms": "time(3)",
        "t_us": "time(6)",
        "ts_ms": "datetime(3)",
        "ts_us": "datetime(6)",
        "zoned": "datetime(6)",
        "doc": "longtext",  # MariaDB's JSON
        "ref": "char(36)",
    },
}


def _source_row(i: int) -> dict[str, Any]:
    """Row ``i`` as the database holds it (``None`` columns on every third row)."""
    if i % 3 == 0:
        return {"id": i, **{name: None for name, _ in COLUMNS[1:]}}
    at = dt.datetime(2024, 5, 1, 12, 34, 56, 789_012) + dt.timedelta(days=i, seconds=i)
    return {
        "id": i,
        "day": at.date(),
        "t_ms": at.time().replace(microsecond=789_000),
        "t_us": at.time(),
        "ts_ms": at.replace(microsecond=789_000),
        "ts_us": at,
        "zoned": at.replace(tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "doc": {"i": i, "tags": ["a", "ü"], "nested": {"ok": True}},
        "ref": uuid.UUID(int=i * 7919),
    }


def _debezium_values(row: dict[str, Any]) -> dict[str, Any]:
    """The row's values as Debezium's PostgreSQL connector puts them in its events."""
    if row["day"] is None:
        return dict(row)
    ms_of_day = (row["t_ms"].hour * 3600 + row["t_ms"].minute * 60 + row["t_ms"].second) * 1000
    us_of_day = (row["t_us"].hour * 3600 + row["t_us"].minute * 60 + row["t_us"].second) * 10**6
    return {
        "id": row["id"],
        "day": (row["day"] - EPOCH.date()).days,
        "t_ms": ms_of_day + row["t_ms"].microsecond // 1000,
        "t_us": us_of_day + row["t_us"].microsecond,
        "ts_ms": (row["ts_ms"] - EPOCH) // dt.timedelta(milliseconds=1),
        "ts_us": (row["ts_us"] - EPOCH) // dt.timedelta(microseconds=1),
        "zoned": row["zoned"].astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "doc": orjson.dumps(row["doc"]).decode(),
        "ref": str(row["ref"]),
    }


def _events(topic: str, changes: list[tuple[str, dict[str, Any]]]) -> list[tuple[bytes, bytes]]:
    table = table_schema(topic, COLUMNS, ["id"], POSTGRES_SOURCE)
    source = {
        "version": "2.7.0.Final",
        "connector": "postgresql",
        "name": "server",
        "ts_ms": 0,
        "db": "shop",
        "schema": "public",
        "table": "things",
    }
    keys, values = JsonConverter(is_key=True), JsonConverter()
    out = []
    for op, row in changes:
        after = _debezium_values(row)
        for record in change_records(
            table, op, None, after, source, partition={"server": "server"}, offset={}
        ):
            key = keys.from_connect(topic, record.key_schema, record.key)
            value = values.from_connect(topic, record.value_schema, record.value)
            assert key is not None and value is not None
            out.append((key, value))
    return out


def _read_back(database: str, row: dict[str, Any]) -> dict[str, Any]:
    """What the sink table holds for a source row, as the database driver returns it."""
    if row["day"] is None:
        return row
    out = dict(row)
    if database == "mariadb":
        out["zoned"] = row["zoned"].astimezone(dt.UTC).replace(tzinfo=None)  # stored in UTC
        out["doc"] = orjson.loads(orjson.dumps(row["doc"]))
        out["ref"] = str(row["ref"])
    return out


def _rows(url: str, table: str) -> dict[int, dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                return {}
            t = sa.Table(table, sa.MetaData(), autoload_with=conn)
            rows = conn.execute(sa.select(t)).mappings().fetchall()
    finally:
        engine.dispose()
    out = {}
    for r in rows:
        row = dict(r)
        if isinstance(row.get("doc"), str):  # MariaDB's JSON is text
            row["doc"] = orjson.loads(row["doc"])
        out[row["id"]] = row
    return out


def _column_types(url: str, database: str, table: str) -> dict[str, str]:
    kind = "data_type" if database == "postgresql" else "column_type"
    where = "table_schema = 'public'" if database == "postgresql" else "table_schema = DATABASE()"
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                sa.text(
                    f"SELECT column_name, {kind} FROM information_schema.columns "
                    f"WHERE {where} AND table_name = :t"
                ),
                {"t": table},
            ).fetchall()
    finally:
        engine.dispose()
    return {str(name): str(kind_).lower() for name, kind_ in found}


@pytest.mark.parametrize("database", ["postgresql", "mariadb"])
def test_debezium_semantic_types_land_as_sql_types(
    database: str, request: pytest.FixtureRequest, broker: Broker, workers: WorkerFactory
) -> None:
    server = request.getfixturevalue("postgres" if database == "postgresql" else "mariadb")
    url = server.create_database()
    topic, table = f"server.public.things-{uid()}", "things"
    rows = {i: _source_row(i) for i in range(1, 31)}
    changes = [("r", row) for row in rows.values()]
    for i in (1, 2, 3, 4):  # updates: row 3 gains values, row 4 loses them
        rows[i] = _source_row(i + 100) | {"id": i} if i != 4 else _source_row(99) | {"id": i}
        changes.append(("u", rows[i]))
    asyncio.run(produce(broker.bootstrap, topic, _events(topic, changes), partition=0))

    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    worker.rest.create(
        "things-sink",
        {
            "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
            "connection.url": url,
            "topics": topic,
            "table.name.format": table,
            "insert.mode": "upsert",
            "pk.mode": "record_key",
            "auto.create": "true",
            "transforms": "unwrap",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            **JSON,
        },
    )
    want = {i: _read_back(database, row) for i, row in rows.items()}
    last: dict[int, dict[str, Any]] = {}

    def arrived() -> bool:
        nonlocal last
        last = _rows(url, table)
        return last == want

    try:
        wait_until(arrived, timeout=60, interval=0.3, what=f"{len(want)} rows in {table}")
    except AssertionError:
        wrong = [(last.get(i), want[i]) for i in want if last.get(i) != want[i]][:2]
        raise AssertionError(f"{len(last)} rows, wrong {wrong}\n{worker.log()[-4000:]}") from None
    assert _column_types(url, database, table) == TYPES[database]
    engine = sa.create_engine(url)
    with engine.connect() as conn:  # a null Json field is SQL NULL, not JSON 'null'
        nulls = conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE doc IS NULL")).scalar()
    engine.dispose()
    assert nulls == sum(1 for row in rows.values() if row["doc"] is None)
    assert worker.rest.state("things-sink") == ("RUNNING", ["RUNNING"])
