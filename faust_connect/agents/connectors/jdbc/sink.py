"""A JDBC-style sink on SQLAlchemy, configured like Confluent's ``JdbcSinkConnector``.

Each ``put`` writes its batch in one database transaction and commits it before returning, so
the Kafka offsets (committed by the runtime only after ``put`` and ``flush``) never run ahead of
the database. Records go in order, as runs of the same table, statement and columns, each run
one ``executemany`` of at most ``batch.size`` rows: ``insert``, the dialect's native upsert
(PostgreSQL and SQLite ``ON CONFLICT … DO UPDATE``, MySQL/MariaDB ``ON DUPLICATE KEY UPDATE``),
``update``, or, for a tombstone with ``delete.enabled``, ``delete``. Fields of Debezium's semantic
types (its dates, times and timestamps, ``io.debezium.data.Json``/``Uuid``) get the columns and
values of their SQL types (``sql_common.NAMED``), so a CDC topic flattened by
ExtractNewRecordState can be replicated as is.

When the batch fails on its data, it is written again row by row, each row in a SAVEPOINT: a row
the database refuses (a string too long for its column, a NULL in a NOT NULL column) goes to the
errant record reporter with the database's own error, and the rest is committed. A lost
connection raises RetriableError (after ``retry.backoff.ms``), at most ``max.retries`` times in a
row; then the task fails.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field, SecretStr

from faust_connect.agents.connectors.jdbc.common import (
    connection_engine,
    connection_url_issues,
    db_message,
    exc,
    is_transient,
    sa,
    schema_of,
    sql_type,
    value_writer,
)
from faust_connect.config import CommaList, Password, PluginConfig
from faust_connect.connector import SinkConnector, SinkTask
from faust_connect.data import INT32, INT64, STRING, Schema, Struct
from faust_connect.exceptions import ConfigIssue, ConnectError, DataError, RetriableError
from faust_connect.records import SinkRecord

__all__ = ["JdbcSinkConnector"]

KAFKA_PK = ("__connect_topic", "__connect_partition", "__connect_offset")
_KAFKA_SCHEMAS = (STRING, INT32, INT64)


class JdbcSinkConnector(SinkConnector):
    """Writes records to tables of a SQL database (insert, upsert, update, delete)."""

    class Config(PluginConfig):
        connection_url: str = Field(description="SQLAlchemy or JDBC URL.", min_length=1)
        connection_user: str = Field("", description="Database user.")
        connection_password: Password = Field(SecretStr(""), description="Database password.")
        topics: CommaList = Field((), description="Topics to consume.")
        insert_mode: Literal["insert", "upsert", "update"] = Field(
            "insert", description="insert, upsert (the dialect's native upsert) or update."
        )
        pk_mode: Literal["none", "kafka", "record_key", "record_value"] = Field(
            "none", description="Where the primary key comes from."
        )
        pk_fields: CommaList = Field((), description="Primary key fields ('' = all).")
        auto_create: bool = Field(False, description="CREATE TABLE when it is missing.")
        auto_evolve: bool = Field(False, description="ALTER TABLE to add missing columns.")
        delete_enabled: bool = Field(
            False, description="A tombstone deletes its row (needs pk.mode=record_key)."
        )
        table_name_format: str = Field(
            "${topic}", description="The table name; ${topic} is replaced by the topic."
        )
        batch_size: int = Field(3000, ge=1, description="Rows per statement, at most.")
        max_retries: int = Field(10, ge=0, description="Retries of a failed connection.")
        retry_backoff_ms: int = Field(3000, ge=0, description="Wait before a retry (ms).")

    @classmethod
    def check(cls, c: Any) -> list[ConfigIssue]:
        """Confluent's cross-key rules on top of each key's own."""
        issues: list[ConfigIssue] = []
        if c.delete_enabled and c.pk_mode != "record_key":
            issues.append(ConfigIssue("delete.enabled", "needs pk.mode=record_key"))
        if c.insert_mode != "insert" and c.pk_mode == "none":
            issues.append(ConfigIssue("pk.mode", f"insert.mode={c.insert_mode} needs a key"))
        if c.pk_mode == "kafka" and c.pk_fields and len(c.pk_fields) != 3:
            issues.append(ConfigIssue("pk.fields", "pk.mode=kafka takes 3 names or none"))
        issues += connection_url_issues(c.connection_url)
        return issues


Op = Literal["insert", "upsert", "update", "delete"]


@dataclasses.dataclass
class _Run:
    """Consecutive records that become one statement."""

    op: Op
    table: str
    keys: tuple[str, ...]
    columns: tuple[tuple[str, Schema], ...]
    rows: list[tuple[SinkRecord, dict[str, Any]]]


class JdbcSinkTask(SinkTask):
    """Writes each batch in one transaction."""

    Config = JdbcSinkConnector.Config
    settings: JdbcSinkConnector.Config

    async def start(self) -> None:
        s = self.settings
        self.engine = connection_engine(s)
        self.dialect = self.engine.dialect.name
        self.tables: dict[str, sa.Table] = {}
        self.failures = 0

    async def stop(self) -> None:
        await asyncio.to_thread(self.engine.dispose)

    async def put(self, records: Sequence[SinkRecord]) -> None:
        runs, errant = self._plan(records)
        try:
            errant += await asyncio.to_thread(self._write, runs)
        except RetriableError as error:
            self.failures += 1
            if self.failures > self.settings.max_retries:
                raise ConnectError(
                    f"the database is unreachable after {self.settings.max_retries} retries: "
                    f"{error}"
                ) from error
            raise
        self.failures = 0
        order = {id(r): i for i, r in enumerate(records)}
        for record, failure in sorted(errant, key=lambda e: order.get(id(e[0]), 0)):
            await self.context.report(record, failure)

    # -- planning ---------------------------------------------------------------------------

    def _plan(
        self, records: Sequence[SinkRecord]
    ) -> tuple[list[_Run], list[tuple[SinkRecord, BaseException]]]:
        runs: list[_Run] = []
        errant: list[tuple[SinkRecord, BaseException]] = []
        for record in records:
            try:
                op, table, keys, columns, row = self._row(record)
            except DataError as error:
                errant.append((record, error))
                continue
            last = runs[-1] if runs else None
            if (
                last is not None
                and (last.op, last.table, last.keys, last.columns) == (op, table, keys, columns)
                and len(last.rows) < self.settings.batch_size
            ):
                last.rows.append((record, row))
            else:
                runs.append(_Run(op, table, keys, columns, [(record, row)]))
        return runs, errant

    def _row(
        self, record: SinkRecord
    ) -> tuple[Op, str, tuple[str, ...], tuple[tuple[str, Schema], ...], dict[str, Any]]:
        s = self.settings
        table = s.table_name_format.replace("${topic}", record.topic)
        key_fields = self._key(record)
        if record.value is None:
            if not s.delete_enabled:
                raise DataError(
                    f"a tombstone for table {table!r} (set delete.enabled=true to delete rows)"
                )
            keys = tuple(name for name, _, _ in key_fields)
            columns = tuple((name, schema) for name, schema, _ in key_fields)
            return "delete", table, keys, columns, {n: v for n, _, v in key_fields}
        value_fields = _fields(record.value, record.value_schema, "value")
        if s.pk_mode == "record_value":
            wanted = s.pk_fields or tuple(name for name, _, _ in value_fields)
            by_name = {f[0]: f for f in value_fields}
            missing = [n for n in wanted if n not in by_name]
            if missing:
                raise DataError(f"the value has no primary key field {missing[0]!r}")
            key_fields = [by_name[n] for n in wanted]
        keys = tuple(name for name, _, _ in key_fields)
        rest = [f for f in value_fields if f[0] not in keys]
        every = [*key_fields, *rest]
        columns = tuple((name, schema) for name, schema, _ in every)
        op: Op = s.insert_mode
        return op, table, keys, columns, {n: v for n, _, v in every}

    def _key(self, record: SinkRecord) -> list[tuple[str, Schema, Any]]:
        s = self.settings
        if s.pk_mode == "kafka":
            names = s.pk_fields or KAFKA_PK
            values = (record.topic, record.partition, record.offset)
            return list(zip(names, _KAFKA_SCHEMAS, values, strict=True))
        if s.pk_mode != "record_key":
            return []
        if record.key is None:
            raise DataError("pk.mode=record_key needs a record key, and this record has none")
        if isinstance(record.key, (Struct, Mapping)):
            fields = _fields(record.key, record.key_schema, "key")
            if s.pk_fields:
                by_name = {f[0]: f for f in fields}
                missing = [n for n in s.pk_fields if n not in by_name]
                if missing:
                    raise DataError(f"the key has no field {missing[0]!r}")
                fields = [by_name[n] for n in s.pk_fields]
            return fields
        if len(s.pk_fields) != 1:
            raise ConnectError(
                "Need exactly one PK column defined since the key schema for records is a "
                f"primitive type, defined columns are: {list(s.pk_fields)}"
            )
        schema = record.key_schema or schema_of(record.key)
        return [(s.pk_fields[0], schema, record.key)]

    # -- writing (in a worker thread) -------------------------------------------------------

    def _write(self, runs: list[_Run]) -> list[tuple[SinkRecord, BaseException]]:
        if not runs:
            return []
        try:
            self._ensure_tables(runs)
        except exc.SQLAlchemyError as error:
            self._raise_if_transient(error)
            raise ConnectError(f"cannot prepare the tables: {db_message(error)}") from error
        try:
            with self.engine.begin() as conn:
                for run in runs:
                    statement = self._statement(run)
                    if statement is not None:
                        conn.execute(statement, [self._params(run, row) for _, row in run.rows])
            return []
        except (exc.SQLAlchemyError, DataError) as error:
            self._raise_if_transient(error)
        return self._write_row_by_row(runs)

    def _write_row_by_row(self, runs: list[_Run]) -> list[tuple[SinkRecord, BaseException]]:
        errant: list[tuple[SinkRecord, BaseException]] = []
        try:
            with self.engine.begin() as conn:
                for run in runs:
                    statement = self._statement(run)
                    if statement is None:
                        continue
                    for record, row in run.rows:
                        try:
                            with conn.begin_nested():
                                conn.execute(statement, [self._params(run, row)])
                        except (exc.StatementError, DataError, ValueError, TypeError) as error:
                            self._raise_if_transient(error)
                            errant.append((record, db_message(error)))
        except exc.SQLAlchemyError as error:
            self._raise_if_transient(error)
            raise
        return errant

    def _raise_if_transient(self, error: BaseException) -> None:
        if is_transient(error) or (
            isinstance(error, exc.OperationalError) and not self._reachable()
        ):
            self.tables.clear()
            raise RetriableError(
                f"database error (will retry): {db_message(error)}",
                retry_after=self.settings.retry_backoff_ms / 1000,
            ) from error

    def _reachable(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except exc.SQLAlchemyError:
            return False
        return True

    def _params(self, run: _Run, row: Mapping[str, Any]) -> dict[str, Any]:
        table = self.tables.get(run.table)
        out: dict[str, Any] = {}
        for name, schema in run.columns:
            value = row.get(name)
            if isinstance(value, (Struct, Mapping, list)):
                raise DataError(f"field {name!r}: a {type(value).__name__} has no SQL column")
            write = value_writer(schema)
            if write is not None:  # e.g. Debezium's semantic types, carried as numbers or text
                column = table.c.get(name) if table is not None else None
                try:
                    value = write(value, None if column is None else column.type)
                except (ValueError, TypeError, OverflowError) as error:
                    raise DataError(f"field {name!r} ({schema.name}): {error}") from None
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                column = table.c.get(name) if table is not None else None
                aware = column is not None and getattr(column.type, "timezone", False)
                if not aware:
                    value = value.astimezone(dt.UTC).replace(tzinfo=None)
            out[("k_" if run.op in ("update", "delete") else "") + name] = value
        return out

    def _statement(self, run: _Run) -> sa.Executable | None:
        table = self.tables.get(run.table)
        if table is None:  # a delete from a table that does not exist: nothing to delete
            return None
        c = table.c
        if run.op == "delete":
            return sa.delete(table).where(*(c[k] == sa.bindparam(f"k_{k}") for k in run.keys))
        rest = [name for name, _ in run.columns if name not in run.keys]
        if run.op == "update":
            return (
                sa.update(table)
                .where(*(c[k] == sa.bindparam(f"k_{k}") for k in run.keys))
                .values({n: sa.bindparam(f"k_{n}") for n in rest})
            )
        if run.op == "insert":
            return sa.insert(table)
        return self._upsert(table, run.keys, rest)

    def _upsert(self, table: sa.Table, keys: Sequence[str], rest: Sequence[str]) -> sa.Executable:
        if self.dialect in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import insert as mysql_insert

            my = mysql_insert(table)
            update = {n: my.inserted[n] for n in (rest or keys[:1])}
            return my.on_duplicate_key_update(update)
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt: Any = pg_insert(table)
        elif self.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(table)
        else:
            raise ConnectError(f"insert.mode=upsert is not supported on {self.dialect}")
        if not rest:
            return stmt.on_conflict_do_nothing(index_elements=list(keys))  # type: ignore[no-any-return]
        return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
            index_elements=list(keys), set_={n: stmt.excluded[n] for n in rest}
        )

    # -- tables -----------------------------------------------------------------------------

    def _ensure_tables(self, runs: list[_Run]) -> None:
        """Reflect, create or evolve each run's table (DDL in its own transactions)."""
        for run in runs:
            table = self.tables.get(run.table)
            if table is None:
                table = self._reflect(run.table)
            if run.op == "delete":  # nothing to create or evolve for a delete
                if table is not None:
                    self.tables[run.table] = table
                continue
            if table is None:
                if not self.settings.auto_create:
                    raise ConnectError(f"Table {run.table!r} is missing and auto.create is off")
                table = self._create(run)
            missing = [(n, s) for n, s in run.columns if n not in table.c]
            if missing and run.table in self.tables:  # the cached shape may be old: look again
                reflected = self._reflect(run.table)
                table = table if reflected is None else reflected
                missing = [(n, s) for n, s in run.columns if n not in table.c]
            if missing:
                if not self.settings.auto_evolve:
                    raise ConnectError(
                        f"Table {run.table!r} has no column {missing[0][0]!r} and auto.evolve "
                        "is off"
                    )
                table = self._evolve(run.table, table, missing)
            self.tables[run.table] = table

    def _reflect(self, name: str) -> sa.Table | None:
        schema, _, bare = name.rpartition(".")
        try:
            return sa.Table(bare, sa.MetaData(), autoload_with=self.engine, schema=schema or None)
        except exc.NoSuchTableError:
            return None

    def _create(self, run: _Run) -> sa.Table:
        schema, _, bare = run.table.rpartition(".")
        columns = [
            sa.Column(
                name,
                sql_type(field, self.dialect, key=name in run.keys),
                primary_key=name in run.keys,
                nullable=name not in run.keys and field.optional,
            )
            for name, field in run.columns
        ]
        table = sa.Table(bare, sa.MetaData(), *columns, schema=schema or None)
        with self.engine.begin() as conn:
            table.create(conn, checkfirst=True)
        reflected = self._reflect(run.table)
        return table if reflected is None else reflected

    def _evolve(self, name: str, table: sa.Table, missing: list[tuple[str, Schema]]) -> sa.Table:
        preparer = self.engine.dialect.identifier_preparer
        with self.engine.begin() as conn:
            for column, field in missing:
                kind = sql_type(field, self.dialect).compile(dialect=self.engine.dialect)
                conn.execute(
                    sa.text(
                        f"ALTER TABLE {preparer.format_table(table)} "
                        f"ADD COLUMN {preparer.quote(column)} {kind} NULL"
                    )
                )
        reflected = self._reflect(name)
        return table if reflected is None else reflected


def _fields(value: Any, schema: Schema | None, what: str) -> list[tuple[str, Schema, Any]]:
    """``(name, schema, value)`` per field of a struct, or of a schemaless map."""
    if isinstance(value, Struct):
        return [
            (f.name, f.schema, v) for f, v in zip(value.schema.fields, value.values(), strict=True)
        ]
    if isinstance(value, Mapping):
        try:
            return [(str(k), schema_of(v), v) for k, v in value.items()]
        except ValueError as error:
            raise DataError(f"{what}: {error}") from None
    kind = schema.type if schema is not None else type(value).__name__
    raise DataError(f"the record {what} must be a struct or a map, not {kind}")


JdbcSinkConnector.task_class = JdbcSinkTask
