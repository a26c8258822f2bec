"""Change data capture from MySQL/MariaDB's binlog, shaped like Debezium's MySQL connector.

The task first takes a consistent snapshot of the captured tables (``snapshot.mode``) without
locks: ``START TRANSACTION WITH CONSISTENT SNAPSHOT`` and, in the same session, ``SHOW STATUS
LIKE 'binlog_snapshot_%'`` give the binlog position the snapshot stands at; the rows become ``r``
events and the binlog is then read from exactly that position (mysql-replication's
``BinLogStreamReader``), so nothing is read twice or missed. Inserts, updates and deletes become
``c``/``u``/``d`` events on ``<topic.prefix>.<database>.<table>`` (an update of the primary key
becomes a delete, its tombstone and a create, as Debezium does); DDL statements go to the schema
change topic ``<topic.prefix>`` with Debezium's ``SchemaChangeKey``/``SchemaChangeValue``.

Offsets have Debezium's MySQL shape: partition ``{"server": <topic.prefix>}``, offset ``{file,
pos, gtids, event, row, ts_sec, server_id}`` (``snapshot: true`` while a snapshot runs, so a
restart mid-snapshot takes it again); ``file``/``pos`` is always a transaction boundary
(:mod:`faust_connect.agents.connectors.cdc.mysql.binlog` reads the binlog). Column types follow Debezium's
mapping (:mod:`faust_connect.agents.connectors.cdc.mysql.schema`). The server must log ROW events with full
images and full metadata (``binlog_format=ROW``, ``binlog_row_image=FULL``,
``binlog_row_metadata=FULL``); the task refuses to start otherwise and says which to change.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import pymysql  # type: ignore[import-untyped]  # PyMySQL ships no type hints
from pydantic import Field

from faust_connect.agents.connectors.cdc.debezium import (
    CdcConfig,
    Filters,
    Heartbeat,
    Selector,
    ThreadedReader,
    change_records,
    regex_issues,
    source_fields,
    table_schema,
    wait_stopped,
)
from faust_connect.agents.connectors.cdc.mysql.binlog import (
    BinlogStream,
    Emit,
    Lost,
    Position,
    quote,
)
from faust_connect.agents.connectors.cdc.mysql.schema import (
    Column,
    MySqlTable,
    column_schema,
    schema_change_schemas,
    schema_columns,
    source_schema,
    value_converter,
)
from faust_connect.config import CommaList
from faust_connect.connector import SourceConnector, SourceTask
from faust_connect.data import Struct
from faust_connect.exceptions import ConfigIssue, ConnectError
from faust_connect.records import SourceRecord

__all__ = ["Capture", "MySqlConnector", "MySqlTask"]

log = logging.getLogger(__name__)

SnapshotMode = Literal[
    "initial", "initial_only", "no_data", "schema_only", "never", "when_needed", "always"
]
SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
#: The server settings without which the binlog cannot give correct events.
REQUIRED = {"binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL"}
#: Records handed from the reader thread to the task at a time, at most.
BATCH = 1000
#: Server errors after which reading again from the last position may work.
TRANSIENT = frozenset({1053, 1927, 2002, 2003, 2006, 2013})


# -- the connector --------------------------------------------------------------------------


class MySqlTask(SourceTask):
    """Reads the snapshot and then the binlog in a thread; ``poll`` takes what has arrived."""

    async def start(self) -> None:
        config = self.settings
        flavour = (
            "mariadb" if "mariadb" in self.config.get("connector.class", "").lower() else "mysql"
        )
        partition = {"server": config.topic_prefix}
        stored = self.context.offset(partition)
        self._config = config
        self._capture = Capture(config, flavour, partition, stored, self.context.logger)
        self._reader: ThreadedReader[SourceRecord] = ThreadedReader(
            self._capture.run, max_queue=config.max_queue_size, name=f"binlog-{config.topic_prefix}"
        )
        self._reader.start()

    async def poll(self) -> Sequence[SourceRecord]:
        """The records read since the last poll (waits up to ``poll.interval.ms``)."""
        c = self._config
        return await self._reader.take(c.max_batch_size, c.poll_interval_ms / 1000)

    async def stop(self) -> None:
        """Stop reading and close the connections."""
        if hasattr(self, "_reader"):
            await self._reader.stop()


class MySqlConnector(SourceConnector):
    """Streams row changes of MySQL/MariaDB tables from the binlog (Debezium's events)."""

    class Config(CdcConfig):
        database_port: int = Field(3306, ge=1, le=65535, description="Database port.")
        database_server_id: int = Field(
            ge=1,
            le=2**32 - 1,
            description="The replica id this connector reads the binlog as; unique per server.",
        )
        database_include_list: CommaList = Field(
            (), description="Regexes of databases to capture (all when empty)."
        )
        database_exclude_list: CommaList = Field((), description="Regexes of databases to skip.")
        snapshot_mode: SnapshotMode = Field(
            "initial",
            description="initial, initial_only, no_data (schema_only, never), when_needed, always.",
        )
        include_schema_changes: bool = Field(
            True, description="Write DDL statements to the topic named topic.prefix."
        )
        snapshot_fetch_size: int = Field(2000, ge=1, description="Rows fetched at a time.")

    task_class = MySqlTask

    @classmethod
    def check(cls, c: Any) -> list[ConfigIssue]:
        """Debezium's rules across keys, and regexes that compile."""
        issues: list[ConfigIssue] = []
        for kind in ("database", "table", "column"):
            include, exclude = f"{kind}_include_list", f"{kind}_exclude_list"
            if getattr(c, include) and getattr(c, exclude):
                key = include.replace("_", ".")
                issues.append(ConfigIssue(key, f"give {key} or {exclude.replace('_', '.')}"))
            issues += regex_issues(c, (include.replace("_", "."), exclude.replace("_", ".")))
        return issues

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """One task: a binlog is one ordered stream."""
        return [dict(self.raw)]


MySqlTask.Config = MySqlConnector.Config


class Capture:
    """The blocking part: checks, snapshot, binlog, reconnects. Runs in the reader thread."""

    def __init__(
        self,
        config: Any,
        flavour: str,
        partition: dict[str, str],
        stored: Mapping[str, Any] | None,
        logger: logging.Logger,
    ) -> None:
        self.c = config
        self.flavour = flavour
        self.partition = partition
        self.stored = Position.from_offset(stored) if stored and "file" in stored else None
        self.log = logger
        self.filters = Filters(config)
        self.source_schema = source_schema(flavour)
        self.change_key, self.change_value = schema_change_schemas(flavour, self.source_schema)
        self.settings = {
            "host": config.database_hostname,
            "port": config.database_port,
            "user": config.database_user,
            "password": config.database_password.get_secret_value(),
            "charset": "utf8mb4",
            "connect_timeout": 10,
        }
        self._databases = Selector(config.database_include_list, config.database_exclude_list)
        self._tables: dict[tuple[Any, ...], MySqlTable] = {}
        self._json: dict[tuple[str, str], frozenset[str]] = {}
        self._meta: Any = None
        self.heartbeat = Heartbeat(config, partition)

    # -- filters, connections, checks

    def database(self, name: str) -> bool:
        if name.lower() in SYSTEM_DATABASES:
            return False
        return self._databases(name)

    def captured(self, db: str, table: str) -> bool:
        return self.database(db) and self.filters.table(db, table)

    def connect(self, **extra: Any) -> Any:
        return pymysql.connect(**self.settings, **extra)

    def meta(self) -> Any:
        """A connection for metadata queries, reopened after a server restart."""
        if self._meta is not None:
            try:
                self._meta.ping(reconnect=True)
                return self._meta
            except pymysql.err.Error:
                self._meta = None
        self._meta = self.connect(autocommit=True, cursorclass=pymysql.cursors.DictCursor)
        return self._meta

    def check_server(self) -> None:
        """Refuse a server whose binlog cannot give correct events, naming what to change."""
        with self.meta().cursor() as cursor:
            cursor.execute(
                "SHOW GLOBAL VARIABLES WHERE Variable_name IN "
                "('log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata')"
            )
            found = {r["Variable_name"].lower(): str(r["Value"]).upper() for r in cursor}
        where = f"{self.c.database_hostname}:{self.c.database_port}"
        if found.get("log_bin") != "ON":
            raise ConnectError(
                f"{where} has no binary log (log_bin=OFF): start the server with --log-bin"
                " (and binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL)"
            )
        for name, want in REQUIRED.items():
            have = found.get(name, "missing (the server is too old: MariaDB 10.5+/MySQL 8.0.14+)")
            if have != want:
                raise ConnectError(
                    f"{where} cannot give correct change events: {name} is {have}; set"
                    f" {name}={want} (SET GLOBAL {name}='{want}' and in the server's config)"
                )

    def binlog_files(self) -> list[str]:
        with self.meta().cursor() as cursor:
            cursor.execute("SHOW BINARY LOGS")
            return [r["Log_name"] for r in cursor]

    def forget_json_columns(self) -> None:
        """After DDL: look JSON columns up again."""
        self._json.clear()

    def json_columns(self, db: str, table: str) -> frozenset[str]:
        """MariaDB's JSON columns: LONGTEXT with a ``json_valid(col)`` check."""
        key = (db, table)
        if key not in self._json:
            found: set[str] = set()
            if self.flavour == "mariadb" or "MariaDB" in self.meta().get_server_info():
                with self.meta().cursor() as cursor:
                    cursor.execute(
                        "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS"
                        " WHERE CONSTRAINT_SCHEMA = %s AND TABLE_NAME = %s",
                        (db, table),
                    )
                    for r in cursor:
                        match = re.fullmatch(r"json_valid\(`((?:[^`]|``)+)`\)", r["CHECK_CLAUSE"])
                        if match:
                            found.add(match.group(1).replace("``", "`"))
            self._json[key] = frozenset(found)
        return self._json[key]

    # -- the loop

    def run(self, emit: Emit, stopped: Callable[[], bool]) -> None:
        try:
            self.check_server()
            position = self.start_position(emit, stopped)
            if position is None:  # initial_only: the snapshot was all there is to do
                wait_stopped(stopped)
                return
            self.stream(position, emit, stopped)
        finally:
            if self._meta is not None:
                self._meta.close()

    def start_position(self, emit: Emit, stopped: Callable[[], bool]) -> Position | None:
        mode, stored = self.c.snapshot_mode, self.stored
        if stored is not None and not stored.snapshot and mode != "always":
            if stored.file not in self.binlog_files():
                if mode != "when_needed":
                    raise self.purged(stored, "it is no longer in SHOW BINARY LOGS")
                self.log.warning("binlog %s was purged: taking a new snapshot", stored.file)
                return self.snapshot(emit, stopped)
            return None if mode == "initial_only" else stored
        if mode in ("no_data", "schema_only", "never"):
            if stored is not None:
                return stored
            with self.meta().cursor() as cursor:
                cursor.execute("SHOW MASTER STATUS")
                row = cursor.fetchone()
            return Position(row["File"], int(row["Position"]))
        position = self.snapshot(emit, stopped)
        return None if mode == "initial_only" else position

    def purged(self, stored: Position, why: str) -> ConnectError:
        return ConnectError(
            f"the binlog position {stored.file}:{stored.pos} this connector stopped at is gone"
            f" from the server ({why}): changes made since are lost to it. Set"
            " snapshot.mode=when_needed to take a new snapshot and go on, or stop the"
            " connector, delete its offsets (DELETE /connectors/<name>/offsets) and resume it"
            " (a new snapshot)"
        )

    # -- snapshot

    def snapshot(self, emit: Emit, stopped: Callable[[], bool]) -> Position:
        batch: list[SourceRecord] = []

        def hold(records: list[SourceRecord]) -> None:  # hand records over BATCH at a time
            batch.extend(records)
            if len(batch) >= BATCH:
                emit(batch.copy())
                batch.clear()

        at = self._snapshot(hold, stopped)
        emit(batch)
        return at

    def _snapshot(self, emit: Emit, stopped: Callable[[], bool]) -> Position:
        conn = self.connect(cursorclass=pymysql.cursors.SSDictCursor)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SET SESSION time_zone = '+00:00'")
                cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                at = self._snapshot_start(cursor)
                cursor.execute(
                    "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES"
                    " WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME"
                )
                tables = [(r["TABLE_SCHEMA"], r["TABLE_NAME"]) for r in cursor.fetchall()]
                tables = [(db, t) for db, t in tables if self.captured(db, t)]
                self.log.info("snapshot of %d tables at %s:%d", len(tables), at.file, at.pos)
                # One record is held back, so the last one can say the snapshot is done.
                pending: Any = None
                first = True
                for db, name in tables:
                    table, ddl = self._snapshot_table(cursor, db, name, at)
                    for item in [ddl] if ddl is not None else []:
                        if pending is not None:
                            first = self._snapshot_row(pending, first, False, at, emit)
                        pending = item
                    cursor.execute(f"SELECT * FROM {quote(db)}.{quote(name)}")
                    start = True
                    while rows := cursor.fetchmany(self.c.snapshot_fetch_size):
                        if stopped():
                            return at
                        for raw in rows:
                            if pending is not None:
                                first = self._snapshot_row(pending, first, False, at, emit)
                            marker = "first_in_data_collection" if start else "true"
                            pending = (table, raw, {"db": db, "table": name}, marker)
                            start = False
                    if pending is not None and not start:
                        pending = (*pending[:3], "last_in_data_collection")
                if pending is not None:
                    self._snapshot_row(pending, first, True, at, emit)
                cursor.execute("COMMIT")
        finally:
            conn.close()
        self.log.info("snapshot done; streaming from %s:%d", at.file, at.pos)
        return dataclasses.replace(at, snapshot=False)

    def _snapshot_start(self, cursor: Any) -> Position:
        """The snapshot and its binlog position, taken together (MariaDB, Percona); MySQL
        needs a global read lock for the moment it takes to start the transaction."""
        cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        cursor.execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
        found = {r["Variable_name"]: r["Value"] for r in cursor.fetchall()}
        if "Binlog_snapshot_file" in found:
            file, pos = found["Binlog_snapshot_file"], int(found["Binlog_snapshot_position"])
        else:
            cursor.execute("ROLLBACK")
            cursor.execute("FLUSH TABLES WITH READ LOCK")
            try:
                cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                cursor.execute("SHOW MASTER STATUS")
                row = cursor.fetchone()
                file, pos = row["File"], int(row["Position"])
            finally:
                cursor.execute("UNLOCK TABLES")
        return Position(file, pos, ts_sec=int(time.time()), snapshot=True)

    def _snapshot_table(
        self, cursor: Any, db: str, name: str, at: Position
    ) -> tuple[MySqlTable, SourceRecord | None]:
        """The table's schema, and its CREATE TABLE event for the schema change topic."""
        cursor.execute(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION,"
            " NUMERIC_SCALE, DATETIME_PRECISION FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (db, name),
        )
        rows = cursor.fetchall()
        cursor.execute(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = %s"
            " AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
            (db, name),
        )
        key = [r["COLUMN_NAME"] for r in cursor.fetchall()]
        table = self.table(db, name, schema_columns(rows, self.json_columns(db, name)), key)
        if self.c.include_schema_changes:
            cursor.execute(f"SHOW CREATE TABLE {quote(db)}.{quote(name)}")
            ddl = cursor.fetchall()[0]["Create Table"]
            source = self.source(db, name, at, snapshot="true", ts_ms=at.ts_sec * 1000)
            return table, self.schema_change(db, ddl, source, at.offset())
        return table, None

    def _snapshot_row(
        self, pending: Any, first: bool, last: bool, at: Position, emit: Emit
    ) -> bool:
        """Emit a held snapshot record (a row, or a table's DDL event); the last one's offset
        says the snapshot is complete. Returns whether the first row is still to come."""
        offset = dataclasses.replace(at, snapshot=not last).offset()
        if isinstance(pending, SourceRecord):
            emit([pending.replace(source_offset=offset)])
            return first
        table, raw, where, marker = pending
        marker = "last" if last else "first" if first else marker
        now = time.time_ns()
        source = self.source(where["db"], where["table"], at, snapshot=marker, ts_ms=now // 10**6)
        row = table.values(raw, {})
        emit(
            change_records(
                table.schema, "r", None, row, source, partition=self.partition, offset=offset
            )
        )
        return False

    # -- tables and records

    def table(self, db: str, name: str, columns: list[Column], key: Sequence[str]) -> MySqlTable:
        signature = (db, name, tuple(columns), tuple(key))
        found = self._tables.get(signature)
        if found is None:
            kept = [c for c in columns if c.name in key or self.filters.column(db, name, c.name)]
            mode = self.c.decimal_handling_mode
            schema = table_schema(
                f"{self.c.topic_prefix}.{db}.{name}",
                [(c.name, column_schema(c, mode)) for c in kept],
                list(key),
                self.source_schema,
            )
            convert = [(c.name, value_converter(c, mode)) for c in kept]
            found = self._tables[signature] = MySqlTable(schema, convert)
        return found

    def source(
        self, db: str, table: str | None, at: Position, *, snapshot: str, ts_ms: int, **more: Any
    ) -> dict[str, Any]:
        return {
            **source_fields(
                self.flavour, self.c.topic_prefix, db, ts_us=ts_ms * 1000, snapshot=snapshot
            ),
            "table": table,
            "server_id": at.server_id,
            "file": at.file,
            "pos": at.pos,
            "row": 0,
            **more,
        }

    def schema_change(
        self, db: str, ddl: str, source: Mapping[str, Any], offset: Mapping[str, Any]
    ) -> SourceRecord:
        schema = self.source_schema
        value = Struct.trusted(
            self.change_value,
            [
                Struct.trusted(schema, [source.get(f.name) for f in schema.fields]),
                time.time_ns() // 1_000_000,
                db,
                None,
                ddl,
                [],
            ],
        )
        return SourceRecord(
            topic=self.c.topic_prefix,
            key=Struct.trusted(self.change_key, [db]),
            key_schema=self.change_key,
            value=value,
            value_schema=self.change_value,
            source_partition=self.partition,
            source_offset=offset,
        )

    # -- the binlog

    def stream(self, position: Position, emit: Emit, stopped: Callable[[], bool]) -> None:
        """Read the binlog from ``position``; after a lost connection, again from the last
        boundary plus what of its transaction was delivered."""
        delay = 0.5
        self.resume_at = position
        self.log.info(
            "reading the binlog from %s:%d (then skipping %d row events, %d rows)",
            position.file,
            position.pos,
            position.event,
            position.row,
        )
        while not stopped():
            try:
                self.check_server()
                BinlogStream(self, position).run(emit, stopped)
                return
            except pymysql.err.OperationalError as error:
                code = error.args[0] if error.args else 0
                if code == 1236:
                    if self.c.snapshot_mode != "when_needed":
                        raise self.purged(
                            position, f"server error 1236: {error.args[1]}"
                        ) from error
                    self.log.warning("binlog position gone (%s): taking a new snapshot", error)
                    position = self.snapshot(emit, stopped)
                    continue
                if code == 4052 or "same server" in str(error):
                    raise ConnectError(
                        f"another replica reads this server's binlog as server id"
                        f" {self.c.database_server_id}: give each connector its own"
                        f" database.server.id ({error})"
                    ) from error
                if code not in TRANSIENT:
                    raise
                self.log.warning("binlog connection lost (%s); reconnecting", error)
            except (Lost, pymysql.err.InterfaceError) as error:
                self.log.warning("binlog connection lost (%s); reconnecting", error)
            position = self.resume_at
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and not stopped():
                time.sleep(0.05)
            delay = min(delay * 2, 5.0)

    resume_at: Position
