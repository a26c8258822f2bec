"""The MySQL CDC source's pure parts: type mapping, value conversion, offsets, DDL targets."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from faust_connect.agents.connectors.cdc.mysql.binlog import Gtids, Position, ddl_target
from faust_connect.agents.connectors.cdc.mysql.connector import MySqlConnector
from faust_connect.agents.connectors.cdc.mysql.schema import (
    Column,
    column_schema,
    schema_columns,
    value_converter,
)
from faust_connect.data import Type


@pytest.mark.parametrize(
    ("column", "type_", "name"),
    [
        (Column("a", "tinyint"), Type.INT8, None),
        (Column("a", "tinyint", unsigned=True), Type.INT16, None),
        (Column("a", "smallint"), Type.INT16, None),
        (Column("a", "smallint", unsigned=True), Type.INT32, None),
        (Column("a", "mediumint", unsigned=True), Type.INT32, None),
        (Column("a", "int"), Type.INT32, None),
        (Column("a", "int", unsigned=True), Type.INT64, None),
        (Column("a", "bigint", unsigned=True), Type.INT64, None),
        (Column("a", "float"), Type.FLOAT32, None),
        (Column("a", "double"), Type.FLOAT64, None),
        (Column("a", "varchar"), Type.STRING, None),
        (Column("a", "text"), Type.STRING, None),
        (Column("a", "blob"), Type.BYTES, None),
        (Column("a", "varbinary"), Type.BYTES, None),
        (Column("a", "date"), Type.INT32, "io.debezium.time.Date"),
        (Column("a", "time", scale=3), Type.INT64, "io.debezium.time.MicroTime"),
        (Column("a", "datetime", scale=3), Type.INT64, "io.debezium.time.Timestamp"),
        (Column("a", "datetime", scale=4), Type.INT64, "io.debezium.time.MicroTimestamp"),
        (Column("a", "timestamp"), Type.STRING, "io.debezium.time.ZonedTimestamp"),
        (Column("a", "year"), Type.INT32, "io.debezium.time.Year"),
        (Column("a", "json"), Type.STRING, "io.debezium.data.Json"),
        (Column("a", "bit", length=1), Type.BOOLEAN, None),
        (Column("a", "bit", length=10), Type.BYTES, "io.debezium.data.Bits"),
        (Column("a", "decimal", precision=10, scale=2), Type.BYTES, "org.apache.kafka.connect.data.Decimal"),
    ],
)  # fmt: skip
def test_column_types_map_as_debeziums_mysql_connector(
    column: Column, type_: Type, name: str | None
) -> None:
    schema = column_schema(column)
    assert (schema.type, schema.name, schema.optional) == (type_, name, True)


def test_parameters_and_optionality() -> None:
    enum = column_schema(Column("e", "enum", nullable=False, values=("a", "b")))
    assert enum.name == "io.debezium.data.Enum" and enum.parameters == {"allowed": "a,b"}
    assert enum.optional is False
    assert column_schema(Column("s", "set", values=("x", "y"))).parameters == {"allowed": "x,y"}
    assert column_schema(Column("b", "bit", length=10)).parameters == {"length": "10"}
    money = column_schema(Column("m", "decimal", precision=12, scale=2))
    assert money.parameters == {"scale": "2", "connect.decimal.precision": "12"}
    assert column_schema(Column("m", "decimal", scale=2), "double").type is Type.FLOAT64
    assert column_schema(Column("m", "decimal", scale=2), "string").type is Type.STRING


def test_values_convert_from_both_the_binlog_and_the_snapshot_shapes() -> None:
    def convert(column: Column, value: object, mode: str = "precise") -> object:
        fn = value_converter(column, mode)
        return value if fn is None else fn(value)

    assert convert(Column("d", "date"), dt.date(1970, 1, 11)) == 10
    assert convert(Column("t", "time", scale=6), dt.timedelta(hours=1, microseconds=5)) == (
        3_600_000_005
    )
    # an empty binary value comes from the binlog reader as "" (Debezium writes "")
    assert convert(Column("b", "varbinary"), "") == b""
    assert convert(Column("b", "blob"), b"\x00\xff") == b"\x00\xff"
    assert convert(Column("b", "binary", length=2), "") == b"\x00\x00"
    moment = dt.datetime(2024, 1, 2, 3, 4, 5, 123456)
    assert convert(Column("x", "datetime", scale=3), moment) == 1704164645123
    assert convert(Column("x", "datetime", scale=6), moment) == 1704164645123456
    assert convert(Column("x", "timestamp"), moment) == "2024-01-02T03:04:05.123456Z"
    assert convert(Column("x", "datetime"), "0000-00-00 00:00:00") is None  # a zero date
    assert convert(Column("b", "bit", length=1), "1") is True
    assert convert(Column("b", "bit", length=1), b"\x00") is False
    ten = Column("b", "bit", length=10)
    assert convert(ten, "1000000001") == convert(ten, b"\x02\x01") == b"\x01\x02"
    pair = Column("s", "set", values=("x", "y", "z"))
    assert convert(pair, {"z", "x"}) == convert(pair, "x,z") == "x,z"
    assert convert(Column("j", "json"), {b"a": [1, b"b"]}) == '{"a": [1, "b"]}'
    assert convert(Column("j", "json"), '{"a": 1}') == '{"a": 1}'
    assert convert(Column("b", "binary", length=4), b"\x01") == b"\x01\x00\x00\x00"
    assert convert(Column("u", "bigint", unsigned=True), 2**64 - 1) == -1
    amount = decimal.Decimal("12.50")
    assert convert(Column("m", "decimal", scale=2), amount) == amount
    assert convert(Column("m", "decimal", scale=2), amount, "double") == 12.5
    assert convert(Column("m", "decimal", scale=2), amount, "string") == "12.50"


def test_information_schema_rows_describe_the_same_columns_as_the_binlog() -> None:
    def row(name: str, data_type: str, column_type: str, **more: object) -> dict[str, object]:
        return {
            "COLUMN_NAME": name,
            "DATA_TYPE": data_type,
            "COLUMN_TYPE": column_type,
            "IS_NULLABLE": more.get("nullable", "YES"),
            "NUMERIC_PRECISION": more.get("precision"),
            "NUMERIC_SCALE": more.get("scale"),
            "DATETIME_PRECISION": more.get("fsp"),
        }

    columns = schema_columns(
        [
            row("id", "int", "int(11)", nullable="NO"),
            row("u", "tinyint", "tinyint(3) unsigned"),
            row("m", "decimal", "decimal(10,3)", precision=10, scale=3),
            row("e", "enum", "enum('a','it''s')"),
            row("b", "bit", "bit(10)", precision=10),
            row("bin", "binary", "binary(4)"),
            row("t", "datetime", "datetime(6)", fsp=6),
            row("j", "longtext", "longtext"),
            row("l", "mediumblob", "mediumblob"),
        ],
        frozenset({"j"}),
    )
    assert columns == [
        Column("id", "int", nullable=False),
        Column("u", "tinyint", unsigned=True),
        Column("m", "decimal", precision=10, scale=3),
        Column("e", "enum", values=("a", "it's")),
        Column("b", "bit", length=10),
        Column("bin", "binary", length=4),
        Column("t", "datetime", scale=6),
        Column("j", "json"),
        Column("l", "blob"),
    ]


def test_offsets_have_debeziums_shape_and_round_trip() -> None:
    position = Position("binlog.000003", 154, gtids="0-1-7", event=2, row=5, ts_sec=9)
    offset = position.offset()
    assert offset == {
        "file": "binlog.000003",
        "pos": 154,
        "gtids": "0-1-7",
        "event": 2,
        "row": 5,
        "ts_sec": 9,
    }
    assert Position.from_offset(offset) == position
    snapshot = Position("binlog.000001", 4, snapshot=True).offset()
    assert snapshot == {"file": "binlog.000001", "pos": 4, "snapshot": True}
    assert Position.from_offset(snapshot).snapshot is True


def test_gtids_keep_the_last_transaction_per_domain_or_source() -> None:
    gtids = Gtids("0-1-5")
    gtids.add("0-1-6")
    gtids.add("1-2-3")
    assert str(gtids) == "0-1-6,1-2-3"
    mysql = Gtids("")
    mysql.add("3e11fa47-71ca-11e1-9e33-c80aa9429562:23")
    assert str(mysql) == "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-23"
    assert str(gtids.with_("0-1-9")) == "0-1-9,1-2-3" and str(gtids) == "0-1-6,1-2-3"


@pytest.mark.parametrize(
    ("ddl", "target"),
    [
        ("ALTER TABLE t ADD COLUMN c INT", ("cur", "t")),
        ("alter table `my db`.`t``x` drop b", ("my db", "t`x")),
        ("CREATE TABLE IF NOT EXISTS d.t (id INT)", ("d", "t")),
        ("DROP TABLE `t` /* generated by server */", ("cur", "t")),
        ("RENAME TABLE a TO b", ("cur", "a")),
        ("CREATE DATABASE shop", ("shop", None)),
        ("CREATE OR REPLACE TABLE t (id INT)", ("cur", "t")),
        ("GRANT SELECT ON *.* TO 'x'@'%'", None),
        ("SAVEPOINT s1", None),
    ],
)
def test_ddl_targets(ddl: str, target: tuple[str, str | None] | None) -> None:
    assert ddl_target(ddl, "cur") == target


def test_config_is_checked_before_anything_runs() -> None:
    base = {
        "topic.prefix": "p",
        "database.hostname": "h",
        "database.user": "u",
        "database.server.id": "5",
    }
    assert MySqlConnector.validate(base) == []
    keys = lambda issues: [i.key for i in issues]  # noqa: E731
    assert keys(MySqlConnector.validate({**base, "database.server.id": "0"})) == [
        "database.server.id"
    ]
    missing = {k: v for k, v in base.items() if k != "database.server.id"}
    assert keys(MySqlConnector.validate(missing)) == ["database.server.id"]
    both = {**base, "table.include.list": "a.b", "table.exclude.list": "a.c"}
    assert keys(MySqlConnector.validate(both)) == ["table.include.list"]
    assert keys(MySqlConnector.validate({**base, "database.include.list": "("})) == [
        "database.include.list"
    ]
    assert keys(MySqlConnector.validate({**base, "snapshot.mode": "sometimes"})) == [
        "snapshot.mode"
    ]
