"""Debezium's semantic types in the JDBC sink: column types per dialect and bound values."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from faust_connect.agents.connectors.cdc.debezium import Debezium
from faust_connect.agents.connectors.jdbc.common import NAMED, sql_type, value_writer
from faust_connect.agents.connectors.jdbc.sink import JdbcSinkTask
from faust_connect.data import INT32, INT64, STRING, Schema, Struct, Type, struct_schema
from faust_connect.records import SinkRecord

DIALECTS = {
    "postgresql": postgresql.dialect(),
    "mariadb": mysql.dialect(),
    "sqlite": sqlite.dialect(),
}

DATE = Debezium.schema(Type.INT32, Debezium.DATE)
TIME = Debezium.schema(Type.INT32, Debezium.TIME)
MICRO_TIME = Debezium.schema(Type.INT64, Debezium.MICRO_TIME)
TIMESTAMP = Debezium.schema(Type.INT64, Debezium.TIMESTAMP)
MICRO_TIMESTAMP = Debezium.schema(Type.INT64, Debezium.MICRO_TIMESTAMP)
ZONED = Debezium.schema(Type.STRING, Debezium.ZONED_TIMESTAMP)
JSON = Debezium.schema(Type.STRING, Debezium.JSON)
UUID = Debezium.schema(Type.STRING, Debezium.UUID)


def _ddl(schema: Schema, dialect: str, *, key: bool = False) -> str:
    return str(sql_type(schema, dialect, key=key).compile(dialect=DIALECTS[dialect]))


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (DATE, {"postgresql": "DATE", "mariadb": "DATE", "sqlite": "DATE"}),
        (TIME, {"postgresql": "TIME WITHOUT TIME ZONE", "mariadb": "TIME(3)", "sqlite": "TIME"}),
        (
            MICRO_TIME,
            {"postgresql": "TIME WITHOUT TIME ZONE", "mariadb": "TIME(6)", "sqlite": "TIME"},
        ),
        (
            TIMESTAMP,
            {
                "postgresql": "TIMESTAMP WITHOUT TIME ZONE",
                "mariadb": "DATETIME(3)",
                "sqlite": "DATETIME",
            },
        ),
        (
            MICRO_TIMESTAMP,
            {
                "postgresql": "TIMESTAMP WITHOUT TIME ZONE",
                "mariadb": "DATETIME(6)",
                "sqlite": "DATETIME",
            },
        ),
        (
            ZONED,
            {
                "postgresql": "TIMESTAMP WITH TIME ZONE",
                "mariadb": "DATETIME(6)",
                "sqlite": "DATETIME",
            },
        ),
        (JSON, {"postgresql": "JSONB", "mariadb": "JSON", "sqlite": "TEXT"}),
        (UUID, {"postgresql": "UUID", "mariadb": "CHAR(36)", "sqlite": "TEXT"}),
    ],
    ids=lambda v: v.name if isinstance(v, Schema) else "",
)
def test_debezium_types_get_their_column_types_per_dialect(
    schema: Schema, expected: dict[str, str]
) -> None:
    assert {d: _ddl(schema, d) for d in DIALECTS} == expected
    assert {d: _ddl(schema.as_optional(), d) for d in DIALECTS} == expected


def test_key_columns_of_json_fit_an_index() -> None:
    assert _ddl(JSON, "mariadb", key=True) == "VARCHAR(256)"
    assert _ddl(JSON, "postgresql", key=True) == "JSONB"
    assert _ddl(UUID, "mariadb", key=True) == "CHAR(36)"


def test_plain_types_with_the_same_shape_are_unchanged() -> None:
    assert _ddl(INT32, "postgresql") == "INTEGER"
    assert _ddl(INT64, "mariadb") == "BIGINT"
    assert _ddl(STRING, "postgresql") == "TEXT"
    assert value_writer(INT64) is None and value_writer(STRING) is None


def test_every_debezium_name_in_the_table_has_a_writer() -> None:
    names = [
        s.name for s in (DATE, TIME, MICRO_TIME, TIMESTAMP, MICRO_TIMESTAMP, ZONED, JSON, UUID)
    ]
    assert all(name in NAMED and NAMED[name].write is not None for name in names)


def _write(schema: Schema, value: Any, column: sa.types.TypeEngine[Any] | None = None) -> Any:
    write = value_writer(schema)
    assert write is not None
    return write(value, column)


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        (DATE, 19_844, dt.date(2024, 5, 1)),
        (DATE, -1, dt.date(1969, 12, 31)),
        (TIME, 45_296_789, dt.time(12, 34, 56, 789_000)),
        (MICRO_TIME, 45_296_789_012, dt.time(12, 34, 56, 789_012)),
        (MICRO_TIME, 0, dt.time(0)),
        (TIMESTAMP, 1_714_566_896_789, dt.datetime(2024, 5, 1, 12, 34, 56, 789_000)),
        (MICRO_TIMESTAMP, 1_714_566_896_789_012, dt.datetime(2024, 5, 1, 12, 34, 56, 789_012)),
        (MICRO_TIMESTAMP, -1, dt.datetime(1969, 12, 31, 23, 59, 59, 999_999)),
        (
            ZONED,
            "2024-05-01T12:34:56.789012Z",
            dt.datetime(2024, 5, 1, 12, 34, 56, 789_012, tzinfo=dt.UTC),
        ),
        (
            ZONED,
            "2024-05-01T14:34:56+02:00",
            dt.datetime(2024, 5, 1, 12, 34, 56, tzinfo=dt.UTC),
        ),
        (JSON, '{"a": [1, 2]}', '{"a": [1, 2]}'),
        (UUID, "6f1c1e0e-6a0b-4d53-9a42-0f0d7c1e2b3a", "6f1c1e0e-6a0b-4d53-9a42-0f0d7c1e2b3a"),
    ],
)
def test_values_become_what_the_driver_binds(schema: Schema, value: Any, expected: Any) -> None:
    got = _write(schema, value)
    assert got == expected and type(got) is type(expected)
    assert _write(schema, None) is None


def test_json_and_uuid_values_follow_the_column_they_go_into() -> None:
    jsonb = postgresql.JSONB()
    assert _write(JSON, '{"a": [1, 2]}', jsonb) == {"a": [1, 2]}  # SQLAlchemy serialises it
    assert isinstance(_write(JSON, None, jsonb), sa.sql.elements.Null)  # SQL NULL, not 'null'
    assert _write(JSON, '{"a": 1}', sa.Text()) == '{"a": 1}'
    text = "6f1c1e0e-6a0b-4d53-9a42-0f0d7c1e2b3a"
    assert _write(UUID, text, postgresql.UUID()) == uuid.UUID(text)
    assert _write(UUID, text, sa.CHAR(36)) == text


def test_times_beyond_a_day_fit_only_mysqls_duration_time() -> None:
    hours_30 = 30 * 3_600_000_000
    assert _write(MICRO_TIME, hours_30, mysql.TIME(fsp=6)) == dt.timedelta(hours=30)
    with pytest.raises(ValueError, match="not a time of day"):
        _write(MICRO_TIME, hours_30, sa.Time())


# -- through the sink, on SQLite --------------------------------------------------------------

VALUE = struct_schema(
    [
        ("id", INT64),
        ("day", DATE.as_optional()),
        ("at_ms", TIME.as_optional()),
        ("at_us", MICRO_TIME.as_optional()),
        ("ts_ms", TIMESTAMP.as_optional()),
        ("ts_us", MICRO_TIMESTAMP.as_optional()),
        ("zoned", ZONED.as_optional()),
        ("doc", JSON.as_optional()),
        ("ref", UUID.as_optional()),
    ],
    name="server.public.things.Value",
)
KEY = struct_schema([("id", INT64)], name="server.public.things.Key")
ROW = {
    "day": 19_844,
    "at_ms": 45_296_789,
    "at_us": 45_296_789_012,
    "ts_ms": 1_714_566_896_789,
    "ts_us": 1_714_566_896_789_012,
    "zoned": "2024-05-01T14:34:56.5+02:00",
    "doc": '{"a": [1, 2]}',
    "ref": "6f1c1e0e-6a0b-4d53-9a42-0f0d7c1e2b3a",
}


class _Context:
    connector = "sink"
    task_id = 0
    logger = logging.getLogger("test")

    def __init__(self) -> None:
        self.reported: list[tuple[SinkRecord, BaseException]] = []

    def assignment(self) -> frozenset[Any]:
        return frozenset()

    async def report(self, record: SinkRecord, error: BaseException) -> None:
        self.reported.append((record, error))


def _record(offset: int, id_: int, **values: Any) -> SinkRecord:
    return SinkRecord(
        topic="things",
        partition=0,
        offset=offset,
        key=Struct(KEY, id=id_),
        key_schema=KEY,
        value=Struct(VALUE, id=id_, **values),
        value_schema=VALUE,
    )


async def test_the_sink_creates_typed_columns_and_writes_converted_values(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'out.db'}"
    context = _Context()
    task = JdbcSinkTask(
        {
            "connection.url": url,
            "insert.mode": "upsert",
            "pk.mode": "record_key",
            "auto.create": "true",
        },
        context,
    )
    await task.start()
    nulls = dict.fromkeys(ROW)
    beyond_a_day = {**nulls, "at_us": 30 * 3_600_000_000}
    await task.put([_record(0, 1, **ROW), _record(1, 2, **nulls), _record(2, 3, **beyond_a_day)])
    await task.stop()

    assert [(r.offset, str(e)) for r, e in context.reported] == [
        (2, f"field 'at_us' ({Debezium.MICRO_TIME}): 108000000000 µs is not a time of day")
    ]
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        table = sa.Table("things", sa.MetaData(), autoload_with=conn)
        rows = {r.id: r._asdict() for r in conn.execute(sa.select(table))}
    engine.dispose()
    kinds = {c.name: type(c.type).__name__ for c in table.columns}
    assert kinds == {
        "id": "BIGINT",
        "day": "DATE",
        "at_ms": "TIME",
        "at_us": "TIME",
        "ts_ms": "DATETIME",
        "ts_us": "DATETIME",
        "zoned": "DATETIME",
        "doc": "TEXT",
        "ref": "TEXT",
    }
    assert rows[1] == {
        "id": 1,
        "day": dt.date(2024, 5, 1),
        "at_ms": dt.time(12, 34, 56, 789_000),
        "at_us": dt.time(12, 34, 56, 789_012),
        "ts_ms": dt.datetime(2024, 5, 1, 12, 34, 56, 789_000),
        "ts_us": dt.datetime(2024, 5, 1, 12, 34, 56, 789_012),
        "zoned": dt.datetime(2024, 5, 1, 12, 34, 56, 500_000),  # in UTC: SQLite has no zones
        "doc": '{"a": [1, 2]}',
        "ref": "6f1c1e0e-6a0b-4d53-9a42-0f0d7c1e2b3a",
    }
    assert rows[2] == {"id": 2, **nulls}
    assert set(rows) == {1, 2}
