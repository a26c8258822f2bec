"""A JDBC-style source on SQLAlchemy, configured like Confluent's ``JdbcSourceConnector``.

Each table (``table.whitelist``/``table.include.list``, or every table but those of
``table.blacklist``/``table.exclude.list``) or the one ``query`` is read by ``mode``:

- ``bulk``: all rows every ``poll.interval.ms``;
- ``incrementing``: rows whose ``incrementing.column.name`` is above the last one seen;
- ``timestamp``: rows whose ``timestamp.column.name`` (several are COALESCEd) is newer than the
  last one seen and older than now minus ``timestamp.delay.interval.ms``;
- ``timestamp+incrementing``: both, ordered by (timestamp, id), which misses no row.

A table that returned a full ``batch.max.rows`` is queried again at once, otherwise after
``poll.interval.ms``. Records go to ``topic.prefix`` + table (the prefix alone for a query), with
no key and a struct value named after the table whose schema follows the columns. The source
partition is ``{"table": name}`` or ``{"query": "query"}`` and the offset ``{"incrementing": N}``
and/or ``{"timestamp": ms, "timestamp_nanos": ns}``, as Confluent's connector stores them, so a
restart resumes after the last row whose record the broker acknowledged. Tables are split into
at most ``tasks.max`` contiguous groups, one task each. Naive timestamps in the database are in
``db.timezone``; the worker's clock stands for the database's. A connection that cannot be
opened is tried ``connection.attempts`` times in all, ``connection.backoff.ms`` apart, and then
the task fails with the driver's error and the database's address, as Confluent's does. A
connection lost during a query is logged and the query tried again after ``poll.interval.ms``
(on a new connection, with the same attempts); any other database error fails the task.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections.abc import Sequence
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr

from faust_connect.agents.connectors.jdbc.common import (
    ValueReader,
    column_reader,
    connection_engine,
    connection_url_issues,
    db_message,
    exc,
    is_transient,
    sa,
    value_reader,
)
from faust_connect.config import CommaList, Password, PluginConfig
from faust_connect.connector import ExactlyOnceSupport, SourceConnector, SourceTask
from faust_connect.data import Schema, Struct, struct_schema
from faust_connect.exceptions import ConfigError, ConfigIssue, ConnectError
from faust_connect.records import SourceRecord

__all__ = ["JdbcSourceConnector"]

Mode = Literal["bulk", "incrementing", "timestamp", "timestamp+incrementing"]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class JdbcSourceConnector(SourceConnector):
    """Copies rows of SQL tables (or of one query) into topics."""

    class Config(PluginConfig):
        connection_url: str = Field(description="SQLAlchemy or JDBC URL.", min_length=1)
        connection_user: str = Field("", description="Database user.")
        connection_password: Password = Field(SecretStr(""), description="Database password.")
        mode: Mode = Field(description="bulk, incrementing, timestamp or timestamp+incrementing.")
        incrementing_column_name: str = Field("", description="A strictly increasing column.")
        timestamp_column_name: CommaList = Field(
            (), description="Timestamp columns (the first non-null one counts)."
        )
        table_whitelist: CommaList = Field((), description="Tables to copy.")
        table_include_list: CommaList = Field((), description="Tables to copy (newer name).")
        table_blacklist: CommaList = Field((), description="Tables not to copy.")
        table_exclude_list: CommaList = Field((), description="Tables not to copy (newer name).")
        query: str = Field("", description="A query to run instead of copying tables.")
        poll_interval_ms: int = Field(5000, ge=1, description="Wait between polls of a table.")
        batch_max_rows: int = Field(1000, ge=1, description="Rows per poll, at most.")
        topic_prefix: str = Field(description="Prefix of the topic names (the topic for a query).")
        timestamp_delay_interval_ms: int = Field(
            0, ge=0, description="How old a row must be before it is copied (ms)."
        )
        db_timezone: str = Field("UTC", description="The time zone of naive timestamps.")
        connection_attempts: int = Field(
            3, ge=1, description="Attempts to open a connection before the task fails."
        )
        connection_backoff_ms: int = Field(
            10000, ge=0, description="Wait between two attempts to open a connection (ms)."
        )

    @classmethod
    def check(cls, c: Any) -> list[ConfigIssue]:
        """Confluent's cross-key rules on top of each key's own."""
        issues: list[ConfigIssue] = []
        if "incrementing" in c.mode and not c.incrementing_column_name:
            issues.append(ConfigIssue("incrementing.column.name", f"needed by mode {c.mode}"))
        if "timestamp" in c.mode and not c.timestamp_column_name:
            issues.append(ConfigIssue("timestamp.column.name", f"needed by mode {c.mode}"))
        if c.query and (c.table_whitelist or c.table_include_list):
            issues.append(ConfigIssue("query", "give either a query or tables, not both"))
        if c.query and not c.topic_prefix:
            issues.append(ConfigIssue("topic.prefix", "a query needs a topic (topic.prefix)"))
        try:
            ZoneInfo(c.db_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            issues.append(ConfigIssue("db.timezone", f"unknown time zone {c.db_timezone!r}"))
        issues += connection_url_issues(c.connection_url)
        return issues

    def exactly_once_support(self) -> ExactlyOnceSupport | None:
        """An incrementing id resumes exactly after the stored one; bulk reads everything
        again; a timestamp alone cannot tell rows of the same time apart (not declared)."""
        mode = self.config.mode  # type: ignore[attr-defined]  # this connector's Config
        if mode == "bulk":
            return "UNSUPPORTED"
        return "SUPPORTED" if "incrementing" in mode else None

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """One task for a query; otherwise the tables in at most ``max_tasks`` groups."""
        c: Any = self.config
        if c.query:
            return [{**self.raw, "tables": ""}]
        tables = list(c.table_whitelist or c.table_include_list) or self._all_tables(c)
        excluded = set(c.table_blacklist) | set(c.table_exclude_list)
        tables = [t for t in tables if t not in excluded]
        if not tables:
            return []
        count = min(max_tasks, len(tables))
        size, extra = divmod(len(tables), count)
        out, start = [], 0
        for i in range(count):
            end = start + size + (1 if i < extra else 0)
            out.append({**self.raw, "tables": ",".join(tables[start:end]), "task.id": str(i)})
            start = end
        return out

    @staticmethod
    def _all_tables(c: Any) -> list[str]:
        engine = connection_engine(c)
        try:
            return sorted(sa.inspect(engine).get_table_names())
        except exc.SQLAlchemyError as error:
            raise ConfigError(
                [ConfigIssue("connection.url", f"cannot list the tables: {error}")]
            ) from None
        finally:
            engine.dispose()


class _CannotConnect(Exception):
    """No connection could be opened (``error`` says why); the query was not sent."""

    def __init__(self, error: exc.SQLAlchemyError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclasses.dataclass
class _Querier:
    """One table or the query, with its position."""

    name: str
    partition: dict[str, str]
    topic: str
    incrementing: Any = None
    timestamp: dt.datetime | None = None
    due: float = 0.0
    buffer: list[SourceRecord] = dataclasses.field(default_factory=list)
    table: sa.Table | None = None
    schema: Schema | None = None
    readers: list[ValueReader] = dataclasses.field(default_factory=list)


class JdbcSourceTask(SourceTask):
    """Polls its tables in turn."""

    Config = JdbcSourceConnector.Config
    settings: JdbcSourceConnector.Config

    async def start(self) -> None:
        s = self.settings
        self.engine = connection_engine(s)
        self.zone = ZoneInfo(s.db_timezone)
        if s.query:
            queriers = [_Querier("query", {"query": "query"}, s.topic_prefix)]
        else:
            names = [t for t in self.config.get("tables", "").split(",") if t]
            queriers = [
                _Querier(t, {"table": t}, s.topic_prefix + t.rpartition(".")[2]) for t in names
            ]
        for q in queriers:
            stored = self.context.offset(q.partition)
            if stored:
                q.incrementing = stored.get("incrementing")
                if stored.get("timestamp") is not None:
                    seconds = int(stored["timestamp"]) // 1000
                    nanos = int(stored.get("timestamp_nanos") or 0)
                    q.timestamp = EPOCH + dt.timedelta(seconds=seconds, microseconds=nanos // 1000)
        self.queriers = queriers
        #: Failed attempts to open a connection since the last one that opened.
        self.failed_attempts = 0
        #: When the next attempt may be made (``time.monotonic()``).
        self.connect_due = 0.0

    async def stop(self) -> None:
        await asyncio.to_thread(self.engine.dispose)

    async def poll(self) -> Sequence[SourceRecord]:
        if not self.queriers or self.connect_due > time.monotonic():
            return []
        q = min(self.queriers, key=lambda q: (not q.buffer, q.due))
        if not q.buffer:
            if q.due > time.monotonic():
                return []
            try:
                q.buffer = await asyncio.to_thread(self._fetch, q)
            except _CannotConnect as failed:
                self._cannot_connect(failed.error)
                return []
            except exc.SQLAlchemyError as error:
                q.table = None  # reflect again after a failure (the table may have changed)
                if not (is_transient(error) or isinstance(error, exc.OperationalError)):
                    raise ConnectError(f"query of {q.name} failed: {error}") from error
                # The database is away: try again after poll.interval.ms, as Confluent's does.
                self.context.logger.warning("query of %s failed (will retry): %s", q.name, error)
                q.due = time.monotonic() + self.settings.poll_interval_ms / 1000
                return []
            limited = self.settings.mode in ("incrementing", "timestamp+incrementing")
            full = limited and len(q.buffer) >= self.settings.batch_max_rows
            q.due = time.monotonic() + (0 if full else self.settings.poll_interval_ms / 1000)
        batch, q.buffer = (
            q.buffer[: self.settings.batch_max_rows],
            q.buffer[self.settings.batch_max_rows :],
        )
        return batch

    def _cannot_connect(self, error: exc.SQLAlchemyError) -> None:
        """Count a failed attempt; after ``connection.attempts`` of them, fail the task."""
        s = self.settings
        self.failed_attempts += 1
        where = self.engine.url.render_as_string(hide_password=True)
        reason = db_message(error)
        if self.failed_attempts >= s.connection_attempts:
            raise ConnectError(
                f"cannot connect to {where} after {self.failed_attempts} attempts"
                f" (connection.attempts): {type(reason).__name__}: {reason}"
            ) from error
        self.context.logger.warning(
            "cannot connect to %s (attempt %d of %d, next in %d ms): %s",
            where,
            self.failed_attempts,
            s.connection_attempts,
            s.connection_backoff_ms,
            reason,
        )
        self.connect_due = time.monotonic() + s.connection_backoff_ms / 1000

    # -- queries (in a worker thread) -------------------------------------------------------

    def _fetch(self, q: _Querier) -> list[SourceRecord]:
        s = self.settings
        try:
            connection = self.engine.connect()
        except exc.SQLAlchemyError as error:
            raise _CannotConnect(error) from error
        self.failed_attempts = 0
        with connection as conn:
            if s.query:
                source: Any = sa.text(s.query).columns().subquery("q")
                column: Any = sa.column
            else:
                if q.table is None:
                    schema, _, bare = q.name.rpartition(".")
                    q.table = sa.Table(
                        bare, sa.MetaData(), autoload_with=conn, schema=schema or None
                    )
                    fields = []
                    q.readers = []
                    for col in q.table.columns:
                        field_schema, reader = column_reader(col, self.zone)
                        fields.append((str(col.name), field_schema))  # not quoted_name
                        q.readers.append(reader)
                    q.schema = struct_schema(fields, name=str(bare))
                source = q.table
                table = q.table

                def column(name: str) -> Any:
                    return table.c[name]

            statement = self._statement(q, source, column)
            result = conn.execute(statement)
            names = [str(name) for name in result.keys()]
            rows = result.fetchall()
        if s.query and rows:  # a query's column types are unknown: go by its values
            q.schema, q.readers = self._query_schema(names, rows)
        return [self._record(q, names, row) for row in rows]

    def _statement(self, q: _Querier, source: Any, column: Any) -> Any:
        s = self.settings
        select = sa.select(sa.literal_column("*") if s.query else source).select_from(source)
        inc: Any = column(s.incrementing_column_name) if "incrementing" in s.mode else None
        ts: Any = None
        if "timestamp" in s.mode:
            columns = [column(n) for n in s.timestamp_column_name]
            ts = columns[0] if len(columns) == 1 else sa.func.coalesce(*columns)
            now = dt.datetime.now(dt.UTC) - dt.timedelta(milliseconds=s.timestamp_delay_interval_ms)
            select = select.where(ts < self._db_time(now))
        if s.mode == "incrementing":
            if q.incrementing is not None:
                select = select.where(inc > q.incrementing)
            else:
                select = select.where(inc.is_not(None))
            select = select.order_by(inc).limit(s.batch_max_rows)
        elif s.mode == "timestamp":
            select = select.where(
                ts > self._db_time(q.timestamp) if q.timestamp else ts.is_not(None)
            )
            select = select.order_by(ts)
        elif s.mode == "timestamp+incrementing":
            if q.timestamp is not None:
                last = self._db_time(q.timestamp)
                same = ts == last
                if q.incrementing is not None:
                    same = sa.and_(same, inc > q.incrementing)
                select = select.where(sa.or_(ts > last, same))
            else:
                select = select.where(ts.is_not(None))
            select = select.order_by(ts, inc).limit(s.batch_max_rows)
        return select

    def _db_time(self, moment: dt.datetime) -> dt.datetime:
        """A UTC moment as the database's naive local time."""
        return moment.astimezone(self.zone).replace(tzinfo=None)

    @staticmethod
    def _query_schema(names: list[str], rows: Sequence[Any]) -> tuple[Schema, list[ValueReader]]:
        fields, readers = [], []
        for i, name in enumerate(names):
            sample = next((row[i] for row in rows if row[i] is not None), None)
            schema, reader = value_reader(sample)
            fields.append((name, schema.as_optional()))
            readers.append(reader)
        return struct_schema(fields, name="query"), readers

    def _record(self, q: _Querier, names: list[str], row: Any) -> SourceRecord:
        assert q.schema is not None
        values = [None if v is None else read(v) for read, v in zip(q.readers, row, strict=True)]
        value = Struct.trusted(q.schema, values)
        offset: dict[str, Any] = {}
        s = self.settings
        if "incrementing" in s.mode:
            q.incrementing = offset["incrementing"] = int(
                row[names.index(s.incrementing_column_name)]
            )
        if "timestamp" in s.mode:
            stamp = next(
                (
                    row[names.index(n)]
                    for n in s.timestamp_column_name
                    if row[names.index(n)] is not None
                ),
                None,
            )
            if stamp is not None:
                if isinstance(stamp, str):
                    stamp = dt.datetime.fromisoformat(stamp)
                if stamp.tzinfo is None:
                    stamp = stamp.replace(tzinfo=self.zone)
                stamp = stamp.astimezone(dt.UTC)
                q.timestamp = stamp
                millis = (stamp - EPOCH) // dt.timedelta(milliseconds=1)
                offset["timestamp"] = millis
                offset["timestamp_nanos"] = stamp.microsecond * 1000
        return SourceRecord(
            topic=q.topic,
            value=value,
            value_schema=q.schema,
            source_partition=q.partition,
            source_offset=offset,
        )


JdbcSourceConnector.task_class = JdbcSourceTask
