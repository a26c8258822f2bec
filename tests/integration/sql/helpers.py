"""Tables, rows and connector configs shared by the SQL integration tests."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import sqlalchemy as sa

JSON = {
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
}
#: Worker group timing for the kill -9 tests: a dead worker's tasks move within seconds.
FAST_GROUP = {
    "CONNECT_SESSION_TIMEOUT_MS": "6000",
    "CONNECT_HEARTBEAT_INTERVAL_MS": "1000",
    "CONNECT_REBALANCE_TIMEOUT_MS": "6000",
}

# The types the round trip must preserve; DDL per backend.
DDL = {
    "sqlite": (
        "CREATE TABLE {t} (id INTEGER PRIMARY KEY, big BIGINT NOT NULL, amount DECIMAL(12, 2),"
        " name VARCHAR(50) NOT NULL, notes TEXT, active BOOLEAN NOT NULL, day DATE,"
        " updated DATETIME NOT NULL)"
    ),
    "postgresql": (
        "CREATE TABLE {t} (id INTEGER PRIMARY KEY, big BIGINT NOT NULL, amount NUMERIC(12, 2),"
        " name VARCHAR(50) NOT NULL, notes TEXT, active BOOLEAN NOT NULL, day DATE,"
        " updated TIMESTAMP(3) NOT NULL)"
    ),
    "mariadb": (
        "CREATE TABLE {t} (id INTEGER PRIMARY KEY, big BIGINT NOT NULL, amount DECIMAL(12, 2),"
        " name VARCHAR(50) NOT NULL, notes TEXT, active BOOLEAN NOT NULL, day DATE,"
        " updated DATETIME(3) NOT NULL)"
    ),
}
BASE = dt.datetime(2024, 5, 1, 12, 0, 0)


def uid() -> str:
    return uuid.uuid4().hex[:8]


def backend(url: str) -> str:
    name = sa.make_url(url).get_backend_name()
    return "mariadb" if name == "mysql" else name


def create_source(url: str, table: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(DDL[backend(url)].format(t=table)))
    engine.dispose()


def row(i: int, *, version: int = 0, tick: int = 0) -> dict[str, Any]:
    """Row ``i`` of the source table (``version`` > 0: an update of it), written at ``tick``."""
    return {
        "id": i,
        "big": 10**12 + i,
        "amount": decimal.Decimal(f"{i}.{i % 100:02d}") if i % 7 else None,
        "name": f"name {i}" + (f" v{version}" if version else ""),
        "notes": None if i % 5 == 0 else f"notes for {i} ünïcode",
        "active": i % 2 == 0,
        "day": None if i % 11 == 0 else dt.date(2024, 1, 1) + dt.timedelta(days=i),
        "updated": BASE + dt.timedelta(seconds=tick * 10_000 + i, milliseconds=version * 10 + 1),
    }


def insert(url: str, table: str, rows: list[dict[str, Any]]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        t = sa.Table(table, sa.MetaData(), autoload_with=conn)
        conn.execute(sa.insert(t), rows)
    engine.dispose()


def update(url: str, table: str, rows: list[dict[str, Any]]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        t = sa.Table(table, sa.MetaData(), autoload_with=conn)
        for r in rows:
            conn.execute(sa.update(t).where(t.c.id == r["id"]).values(r))
    engine.dispose()


def read(url: str, table: str) -> dict[int, dict[str, Any]]:
    """The sink table by id, values normalised for comparison; {} if it does not exist yet."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                return {}
            t = sa.Table(table, sa.MetaData(), autoload_with=conn)
            rows = conn.execute(sa.select(t)).mappings().fetchall()
    finally:
        engine.dispose()
    return {r["id"]: normalise(dict(r)) for r in rows}


def normalise(r: dict[str, Any]) -> dict[str, Any]:
    out = dict(r)
    if out.get("amount") is not None:
        out["amount"] = decimal.Decimal(str(out["amount"])).quantize(decimal.Decimal("0.01"))
    if "active" in out:
        out["active"] = bool(out["active"])
    for key in ("updated",):
        value = out.get(key)
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        out[key] = value
    if isinstance(out.get("day"), str):
        out["day"] = dt.date.fromisoformat(out["day"])
    return out


def expected(r: dict[str, Any]) -> dict[str, Any]:
    """A source row as the sink table holds it (``name`` renamed ``title`` by the sink's SMT)."""
    out = normalise(dict(r))
    out["title"] = out.pop("name")
    return out


def source_config(url: str, table: str, prefix: str, **extra: str) -> dict[str, str]:
    return {
        "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
        "connection.url": url,
        "mode": "timestamp+incrementing",
        "incrementing.column.name": "id",
        "timestamp.column.name": "updated",
        "table.whitelist": table,
        "topic.prefix": prefix,
        "poll.interval.ms": "200",
        "batch.max.rows": "500",
        "transforms": "key",
        "transforms.key.type": "org.apache.kafka.connect.transforms.ValueToKey",
        "transforms.key.fields": "id",
        **JSON,
        **extra,
    }


def sink_config(url: str, topic: str, table: str, **extra: str) -> dict[str, str]:
    return {
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "connection.url": url,
        "topics": topic,
        "table.name.format": table,
        "insert.mode": "upsert",
        "pk.mode": "record_key",
        "pk.fields": "id",
        "auto.create": "true",
        "auto.evolve": "true",
        "delete.enabled": "true",
        "transforms": "rename",
        "transforms.rename.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
        "transforms.rename.renames": "name:title",
        **JSON,
        **extra,
    }


def documented_key(name: str, **payload: int) -> dict[str, Any]:
    """A JSON-with-schema key of int32 columns, as in Debezium's documented examples."""
    return {
        "schema": {
            "type": "struct",
            "fields": [{"type": "int32", "optional": False, "field": f} for f in payload],
            "optional": False,
            "name": name,
        },
        "payload": payload,
    }
