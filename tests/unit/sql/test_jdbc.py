"""The JDBC source and sink on SQLite, without Kafka: URLs, types, SQL, offsets, errant rows."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from faust_connect.agents.connectors.jdbc.common import column_reader, sql_type, to_sqlalchemy_url
from faust_connect.agents.connectors.jdbc.sink import JdbcSinkConnector, JdbcSinkTask
from faust_connect.agents.connectors.jdbc.source import JdbcSourceConnector, JdbcSourceTask
from faust_connect.connector import connectors
from faust_connect.data import (
    BOOLEAN,
    DATE,
    INT32,
    INT64,
    OPTIONAL_STRING,
    STRING,
    TIMESTAMP,
    Struct,
    decimal_schema,
    struct_schema,
)
from faust_connect.records import SinkRecord, SourceRecord


class SourceContext:
    connector = "src"
    task_id = 0
    logger = logging.getLogger("test")

    def __init__(self, offsets: Mapping[str, Any] | None = None) -> None:
        self.offsets = dict(offsets or {})

    def offset(self, partition: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return self.offsets.get(str(sorted(partition.items())))


class SinkContext:
    connector = "sink"
    task_id = 0
    logger = logging.getLogger("test")

    def __init__(self) -> None:
        self.reported: list[tuple[SinkRecord, BaseException]] = []

    def assignment(self) -> frozenset[Any]:
        return frozenset()

    async def report(self, record: SinkRecord, error: BaseException) -> None:
        self.reported.append((record, error))


# -- URLs and registration -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("jdbc:postgresql://db:5433/shop", "postgresql+psycopg://db:5433/shop"),
        ("jdbc:postgresql://db/shop?user=u&password=p", "postgresql+psycopg://u:p@db/shop"),
        ("jdbc:mysql://db:3306/shop", "mysql+pymysql://db:3306/shop?charset=utf8mb4"),
        (
            "jdbc:mariadb://db:3306/shop?useSSL=false",
            "mariadb+pymysql://db:3306/shop?charset=utf8mb4",
        ),
        ("jdbc:sqlite:/tmp/x.db", "sqlite:////tmp/x.db"),
        ("jdbc:sqlite:rel.db", "sqlite:///rel.db"),
        ("jdbc:sqlite::memory:", "sqlite://"),
        ("postgresql://h/d", "postgresql+psycopg://h/d"),
        ("mariadb://h/d", "mariadb+pymysql://h/d?charset=utf8mb4"),
        ("sqlite:///a.db", "sqlite:///a.db"),
    ],
)
def test_urls_are_translated(given: str, expected: str) -> None:
    url = to_sqlalchemy_url(given)
    assert url.render_as_string(hide_password=False) == expected


def test_user_and_password_keys_win_over_the_url() -> None:
    url = to_sqlalchemy_url("jdbc:postgresql://db/x?user=a&password=b", "me", "secret")
    assert (url.username, url.password) == ("me", "secret")


def test_unknown_jdbc_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported JDBC URL"):
        to_sqlalchemy_url("jdbc:oracle:thin:@db:1521:x")


def test_connectors_are_registered_under_confluents_names() -> None:
    assert connectors.get("io.confluent.connect.jdbc.JdbcSourceConnector") is JdbcSourceConnector
    assert connectors.get("JdbcSinkConnector") is JdbcSinkConnector


def test_cross_key_rules_are_reported_per_key() -> None:
    issues = JdbcSinkConnector.validate(
        {"connection.url": "sqlite://", "delete.enabled": "true", "insert.mode": "upsert"}
    )
    assert {i.key for i in issues} == {"delete.enabled", "pk.mode"}
    issues = JdbcSourceConnector.validate(
        {"connection.url": "jdbc:nope://x", "mode": "timestamp", "topic.prefix": "p-"}
    )
    assert {i.key for i in issues} == {"timestamp.column.name", "connection.url"}


# -- types -----------------------------------------------------------------------------------


def test_columns_map_to_connect_schemas() -> None:
    zone = dt.UTC
    cases = [
        (sa.Column("a", sa.Integer, nullable=False), INT32),
        (sa.Column("a", sa.BigInteger, nullable=False), INT64),
        (sa.Column("a", sa.Boolean, nullable=False), BOOLEAN),
        (sa.Column("a", sa.String(10), nullable=True), OPTIONAL_STRING),
        (sa.Column("a", sa.Numeric(12, 2), nullable=False), decimal_schema(2)),
        (sa.Column("a", sa.Date, nullable=False), DATE),
        (sa.Column("a", sa.DateTime, nullable=False), TIMESTAMP),
        (sa.Column("a", mysql.TINYINT(display_width=1), nullable=False), BOOLEAN),
    ]
    for column, schema in cases:
        assert column_reader(column, zone)[0] == schema, column.type


def test_naive_timestamps_are_read_in_the_db_time_zone() -> None:
    from zoneinfo import ZoneInfo

    _, read = column_reader(sa.Column("t", sa.DateTime), ZoneInfo("Europe/Paris"))
    assert read(dt.datetime(2024, 1, 1, 12)) == dt.datetime(2024, 1, 1, 11, tzinfo=dt.UTC)
    _, read = column_reader(sa.Column("d", sa.Numeric(10, 3)), ZoneInfo("UTC"))
    assert read(1.5) == decimal.Decimal("1.500")


@pytest.mark.parametrize(
    ("dialect", "key", "expected"),
    [
        (postgresql.dialect(), False, "TEXT"),
        (mysql.dialect(), True, "VARCHAR(256)"),
        (mysql.dialect(), False, "TEXT"),
    ],
)
def test_string_columns_per_dialect(dialect: Any, key: bool, expected: str) -> None:
    assert sql_type(STRING, dialect.name, key=key).compile(dialect=dialect) == expected


@pytest.mark.parametrize(
    ("dialect", "decimal_type", "timestamp_type"),
    [
        (postgresql.dialect(), "NUMERIC(1000, 2)", "TIMESTAMP WITHOUT TIME ZONE"),
        (mysql.dialect(), "NUMERIC(65, 2)", "DATETIME(3)"),
        (sqlite.dialect(), "NUMERIC(38, 2)", "DATETIME"),
    ],
)
def test_decimal_and_timestamp_columns_per_dialect(
    dialect: Any, decimal_type: str, timestamp_type: str
) -> None:
    assert sql_type(decimal_schema(2), dialect.name).compile(dialect=dialect) == decimal_type
    assert sql_type(TIMESTAMP, dialect.name).compile(dialect=dialect) == timestamp_type


# -- the sink --------------------------------------------------------------------------------

VALUE = struct_schema(
    [
        ("id", INT64),
        ("name", OPTIONAL_STRING),
        ("amount", decimal_schema(2).as_optional()),
        ("day", DATE.as_optional()),
        ("at", TIMESTAMP.as_optional()),
        ("ok", BOOLEAN.as_optional()),
    ],
    name="row",
)
KEY = struct_schema([("id", INT64)])


def _record(offset: int, id_: int, name: str | None, *, tombstone: bool = False) -> SinkRecord:
    value = None
    if not tombstone:
        value = Struct(
            VALUE,
            id=id_,
            name=name,
            amount=decimal.Decimal("12.34"),
            day=dt.date(2024, 2, 29),
            at=dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC),
            ok=True,
        )
    return SinkRecord(
        topic="orders",
        partition=0,
        offset=offset,
        key=Struct(KEY, id=id_),
        key_schema=KEY,
        value=value,
        value_schema=None if tombstone else VALUE,
    )


async def _sink(config: dict[str, str]) -> tuple[JdbcSinkTask, SinkContext]:
    context = SinkContext()
    task = JdbcSinkTask(config, context)
    await task.start()
    return task, context


def _rows(url: str, table: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id")).fetchall()
    engine.dispose()
    return [tuple(r) for r in rows]


async def test_sink_upserts_updates_and_deletes_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'out.db'}"
    task, context = await _sink(
        {
            "connection.url": f"jdbc:sqlite:{tmp_path / 'out.db'}",
            "insert.mode": "upsert",
            "pk.mode": "record_key",
            "auto.create": "true",
            "auto.evolve": "true",
            "delete.enabled": "true",
        }
    )
    await task.put([_record(0, 1, "a"), _record(1, 2, "b"), _record(2, 1, "a2")])
    await task.put([_record(3, 2, None, tombstone=True), _record(4, 3, "c")])
    rows = _rows(url, "orders")
    assert [(r[0], r[1]) for r in rows] == [(1, "a2"), (3, "c")]
    assert rows[0][2] == decimal.Decimal("12.34") or float(rows[0][2]) == 12.34
    assert context.reported == []
    await task.stop()


async def test_sink_reports_a_row_the_database_refuses_and_writes_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "out.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE orders (id BIGINT PRIMARY KEY, name TEXT NOT NULL, amount NUMERIC,"
                " day DATE, at DATETIME, ok BOOLEAN)"
            )
        )
    engine.dispose()
    task, context = await _sink(
        {
            "connection.url": f"sqlite:///{path}",
            "insert.mode": "upsert",
            "pk.mode": "record_value",
            "pk.fields": "id",
        }
    )
    await task.put([_record(0, 1, "a"), _record(1, 2, None), _record(2, 3, "c")])
    assert [r[0] for r in _rows(f"sqlite:///{path}", "orders")] == [1, 3]
    assert len(context.reported) == 1
    record, error = context.reported[0]
    assert record.offset == 1
    assert "NOT NULL constraint failed: orders.name" in str(error)
    await task.stop()


async def test_sink_reports_tombstones_without_delete_enabled(tmp_path: Path) -> None:
    task, context = await _sink(
        {
            "connection.url": f"sqlite:///{tmp_path / 'o.db'}",
            "pk.mode": "kafka",
            "auto.create": "true",
        }
    )
    await task.put([_record(0, 1, "a"), _record(1, 1, None, tombstone=True)])
    assert [str(e) for _, e in context.reported] == [
        "a tombstone for table 'orders' (set delete.enabled=true to delete rows)"
    ]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'o.db'}")
    names = [c["name"] for c in sa.inspect(engine).get_columns("orders")]
    engine.dispose()
    assert names[:3] == ["__connect_topic", "__connect_partition", "__connect_offset"]
    await task.stop()


async def test_sink_evolves_a_table_with_nullable_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    task, _ = await _sink(
        {
            "connection.url": url,
            "pk.mode": "record_value",
            "pk.fields": "id",
            "insert.mode": "upsert",
            "auto.create": "true",
            "auto.evolve": "true",
        }
    )
    small = struct_schema([("id", INT64)])
    await task.put([SinkRecord(topic="t", value=Struct(small, id=1), value_schema=small)])
    await task.put([_record(1, 2, "x").replace(topic="t")])
    assert _rows(url, "t")[0][:2] == (1, None)
    await task.stop()


def test_upsert_sql_per_dialect() -> None:
    table = sa.Table(
        "t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.Text)
    )
    task = JdbcSinkTask({}, SinkContext())
    out = {}
    for name, dialect in [
        ("postgresql", postgresql.dialect()),
        ("mysql", mysql.dialect()),
        ("sqlite", sqlite.dialect()),
    ]:
        task.dialect = name
        out[name] = str(task._upsert(table, ["id"], ["v"]).compile(dialect=dialect))
    assert "ON CONFLICT (id) DO UPDATE SET v = excluded.v" in out["postgresql"]
    assert "ON DUPLICATE KEY UPDATE v = VALUES(v)" in out["mysql"]
    assert "ON CONFLICT (id) DO UPDATE SET v = excluded.v" in out["sqlite"]


# -- the source ------------------------------------------------------------------------------


def _source_db(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL,"
                " price DECIMAL(10, 2), updated DATETIME NOT NULL)"
            )
        )
        for i in range(1, 6):
            conn.execute(
                sa.text("INSERT INTO items VALUES (:i, :n, :p, :u)"),
                {"i": i, "n": f"item {i}", "p": f"{i}.50", "u": f"2024-01-01 00:00:0{i}"},
            )
    engine.dispose()
    return url


async def _source(
    config: dict[str, str], offsets: Mapping[str, Any] | None = None
) -> JdbcSourceTask:
    connector = JdbcSourceConnector(config)
    [task_config] = connector.task_configs(1)
    task = JdbcSourceTask(task_config, SourceContext(offsets))
    await task.start()
    return task


async def test_source_incrementing_reads_new_rows_in_batches(tmp_path: Path) -> None:
    url = _source_db(tmp_path / "s.db")
    task = await _source(
        {
            "connection.url": url,
            "mode": "incrementing",
            "incrementing.column.name": "id",
            "topic.prefix": "db-",
            "batch.max.rows": "2",
            "poll.interval.ms": "1",
        }
    )
    seen: list[SourceRecord] = []
    for _ in range(6):
        seen += await task.poll()
    assert [r.value["id"] for r in seen] == [1, 2, 3, 4, 5]
    first = seen[0]
    assert first.topic == "db-items"
    assert first.source_partition == {"table": "items"}
    assert first.source_offset == {"incrementing": 1}
    assert first.value["price"] == decimal.Decimal("1.50")
    assert first.value["updated"] == dt.datetime(2024, 1, 1, 0, 0, 1, tzinfo=dt.UTC)
    assert first.value_schema.field("name").schema == STRING
    await task.stop()


async def test_source_resumes_from_a_stored_timestamp_incrementing_offset(tmp_path: Path) -> None:
    url = _source_db(tmp_path / "s.db")
    stored = {"timestamp": 1704067203000, "timestamp_nanos": 0, "incrementing": 3}
    task = await _source(
        {
            "connection.url": url,
            "mode": "timestamp+incrementing",
            "incrementing.column.name": "id",
            "timestamp.column.name": "updated",
            "topic.prefix": "db-",
        },
        {str(sorted({"table": "items"}.items())): stored},
    )
    records = await task.poll()
    assert [r.value["id"] for r in records] == [4, 5]
    assert records[-1].source_offset == {
        "incrementing": 5,
        "timestamp": 1704067205000,
        "timestamp_nanos": 0,
    }
    await task.stop()


async def test_source_query_and_bulk_modes(tmp_path: Path) -> None:
    url = _source_db(tmp_path / "s.db")
    task = await _source(
        {
            "connection.url": url,
            "mode": "incrementing",
            "incrementing.column.name": "id",
            "query": "SELECT id, name FROM items WHERE id > 2",
            "topic.prefix": "q",
        }
    )
    records = await task.poll()
    assert [(r.topic, r.value["id"]) for r in records] == [("q", 3), ("q", 4), ("q", 5)]
    assert records[0].source_partition == {"query": "query"}
    await task.stop()
    task = await _source({"connection.url": url, "mode": "bulk", "topic.prefix": ""})
    assert len(await task.poll()) == 5
    assert await task.poll() == []  # the next bulk read waits for poll.interval.ms
    await task.stop()


def test_tables_are_split_into_contiguous_groups(tmp_path: Path) -> None:
    connector = JdbcSourceConnector(
        {
            "connection.url": "sqlite://",
            "mode": "bulk",
            "topic.prefix": "p",
            "table.whitelist": "a,b,c,d,e",
        }
    )
    assert [c["tables"] for c in connector.task_configs(2)] == ["a,b,c", "d,e"]
    assert len(connector.task_configs(10)) == 5
    url = _source_db(tmp_path / "s.db")
    listed = JdbcSourceConnector({"connection.url": url, "mode": "bulk", "topic.prefix": "p"})
    assert [c["tables"] for c in listed.task_configs(3)] == ["items"]


async def test_source_records_convert_to_json(tmp_path: Path) -> None:
    from faust_connect.codecs import converter_from_config

    url = _source_db(tmp_path / "s.db")
    task = await _source(
        {"connection.url": url, "mode": "bulk", "topic.prefix": "", "batch.max.rows": "1"}
    )
    [record] = await task.poll()
    converter = converter_from_config(
        {"value.converter": "org.apache.kafka.connect.json.JsonConverter"}, "value.converter", {}
    )
    data = converter.from_connect("items", record.value_schema, record.value)
    assert data is not None and b'"payload":{"id":1,"name":"item 1"' in data
    await task.stop()


async def test_an_unreachable_database_is_retried_up_to_max_retries() -> None:
    from faust_connect.app.embedded import free_port
    from faust_connect.exceptions import ConnectError, RetriableError

    task, _ = await _sink(
        {
            "connection.url": f"jdbc:postgresql://127.0.0.1:{free_port()}/x?user=u",
            "pk.mode": "record_key",
            "insert.mode": "upsert",
            "max.retries": "1",
            "retry.backoff.ms": "250",
        }
    )
    with pytest.raises(RetriableError) as caught:
        await task.put([_record(0, 1, "a")])
    assert caught.value.retry_after == 0.25
    with pytest.raises(ConnectError, match="unreachable after 1 retries"):
        await task.put([_record(0, 1, "a")])
    await task.stop()


async def test_a_value_without_a_column_type_is_reported(tmp_path: Path) -> None:
    task, context = await _sink(
        {"connection.url": f"sqlite:///{tmp_path / 'n.db'}", "auto.create": "true"}
    )
    await task.put([SinkRecord(topic="t", value={"id": 1, "nested": {"a": 1}})])
    [(_, error)] = context.reported
    assert "no SQL column type for a value of type dict" in str(error)
    await task.stop()


def test_a_missing_sql_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    monkeypatch.delitem(sys.modules, "faust_connect.agents.connectors.jdbc.common")
    with pytest.raises(ImportError, match=r"pip install 'faust-connect\[sql\]'"):
        importlib.import_module("faust_connect.agents.connectors.jdbc.common")


async def test_source_waits_out_a_lost_database_and_fails_on_a_missing_table(
    tmp_path: Path,
) -> None:
    from faust_connect.app.embedded import free_port
    from faust_connect.exceptions import ConnectError

    away = f"jdbc:postgresql://127.0.0.1:{free_port()}/x?user=u"
    config = {"mode": "bulk", "topic.prefix": "", "table.whitelist": "items"}
    task = await _source({"connection.url": away, **config})
    assert await task.poll() == []
    await task.stop()
    task = await _source({"connection.url": f"sqlite:///{tmp_path / 'empty.db'}", **config})
    with pytest.raises(ConnectError, match="query of items failed"):
        await task.poll()
    await task.stop()
