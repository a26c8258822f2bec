"""The PostgreSQL server side of :mod:`faust_connect.agents.connectors.cdc.postgres.connector`, outside the stream.

:class:`PgServer` holds the connections' settings and the catalog connection, and does what the
CDC reader needs from the server before and beside the replication stream: checks
``wal_level``, creates or updates the publication (``publication.autocreate.mode``), looks up,
creates and drops the logical replication slot, reads the exported snapshot (the rows as ``r``
events, in a REPEATABLE READ transaction set to the slot's snapshot) and builds a captured
table's Debezium schemas from the catalog (NOT NULL columns, primary key) and the
include/exclude lists. Decoding the stream's messages and mapping the column types is
:mod:`faust_connect.agents.connectors.cdc.postgres.pgoutput`'s.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from faust_connect.agents.connectors.cdc.debezium import Filters, change_records, source_fields
from faust_connect.agents.connectors.cdc.postgres.pgoutput import (
    CapturedTable,
    Relation,
    captured_table,
    format_lsn,
    parse_lsn,
)
from faust_connect.exceptions import ConnectError
from faust_connect.records import SourceRecord

__all__ = ["BATCH", "SLOT_BUSY_SECONDS", "PgServer", "ident", "psycopg2_module"]

#: The session settings under which values are read as text (the same as PostgreSQL's own
#: logical replication subscriber uses), for the stream and the snapshot alike.
SESSION_OPTIONS = "-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3"
#: How long to retry a slot that another (dying) connection still holds.
SLOT_BUSY_SECONDS = 60.0
#: Records handed from the reader thread to the task at a time, at most.
BATCH = 1000


def psycopg2_module() -> Any:
    """The psycopg2 package (with ``errors`` and ``extras``), or a ConnectError naming the extra."""
    try:
        import psycopg2
        import psycopg2.errors
        import psycopg2.extras
    except ImportError as error:  # pragma: no cover - the extra is part of the dev install
        raise ConnectError(
            "the PostgreSQL CDC source needs psycopg2: pip install 'faust-connect[cdc]'"
        ) from error
    return psycopg2


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


class PgServer:
    """The server, for the reader thread: connections, publication, slot, snapshot, catalog."""

    def __init__(self, config: Any, logger: logging.Logger) -> None:
        self.c = config
        self.logger = logger
        self.pg = psycopg2_module()
        self.filters = Filters(config)
        self._schemas_in = [re.compile(p, re.I) for p in config.schema_include_list]
        self._schemas_out = [re.compile(p, re.I) for p in config.schema_exclude_list]
        #: The autocommit connection for catalog queries and slot management.
        self.meta: Any = None
        #: Set by :meth:`create_slot`: the exported snapshot and the slot's consistent point.
        self.snapshot_name: str | None = None
        self.consistent_lsn = 0

    # connections

    def connect(self, *, replication: bool = False) -> Any:
        """A new connection: autocommit, or a logical replication one."""
        c = self.c
        kwargs: dict[str, Any] = {
            "host": c.database_hostname,
            "port": c.database_port,
            "user": c.database_user,
            "password": c.database_password.get_secret_value() or None,
            "dbname": c.database_dbname,
            "options": SESSION_OPTIONS + " -c TimeZone=UTC",
            "application_name": f"faust-connect-cdc-{c.topic_prefix}",
        }
        if replication:
            kwargs["connection_factory"] = self.pg.extras.LogicalReplicationConnection
        try:
            conn = self.pg.connect(**kwargs)
        except self.pg.OperationalError as error:
            raise ConnectError(
                f"cannot connect to PostgreSQL at {c.database_hostname}:{c.database_port}: "
                f"{str(error).strip()}"
            ) from None
        if not replication:
            conn.autocommit = True
        return conn

    def _query(self, sql: str, args: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.meta.cursor() as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall()) if cursor.description else []

    def open(self) -> None:
        """Open the catalog connection; refuse a server without ``wal_level=logical``."""
        self.meta = self.connect()
        ((wal_level,),) = self._query("SHOW wal_level")
        if wal_level != "logical":
            raise ConnectError(
                f"PostgreSQL runs with wal_level={wal_level}; change data capture needs "
                "wal_level=logical: set it (ALTER SYSTEM SET wal_level = logical) and restart "
                "the server"
            )

    def close(self, *, drop_slot: bool) -> None:
        """Close the catalog connection, dropping the slot first when ``drop_slot``."""
        if self.meta is None:
            return
        try:
            if drop_slot:
                self.drop_slot()
        finally:
            self.meta.close()
            self.meta = None

    # publication and slot

    def ensure_publication(self) -> None:
        """Create or update the publication as ``publication.autocreate.mode`` says."""
        c = self.c
        exists = self._query(
            "SELECT 1 FROM pg_publication WHERE pubname = %s", (c.publication_name,)
        )
        name = ident(c.publication_name)
        mode = c.publication_autocreate_mode
        if mode == "disabled":
            if not exists:
                raise ConnectError(
                    f"publication {c.publication_name!r} does not exist and "
                    "publication.autocreate.mode=disabled: create it (CREATE PUBLICATION "
                    f"{name} FOR ALL TABLES) or set publication.autocreate.mode"
                )
            return
        try:
            if mode == "all_tables":
                if not exists:
                    self._query(f"CREATE PUBLICATION {name} FOR ALL TABLES")
                return
            tables = [
                f"{ident(s)}.{ident(t)}"
                for s, t in self._query(
                    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname "
                    "NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' "
                    "ORDER BY 1, 2"
                )
                if self._captures(s, t)
            ]
            listed = " FOR TABLE " + ", ".join(tables) if tables else ""
            if not exists:
                self._query(f"CREATE PUBLICATION {name}{listed}")
            elif tables:
                self._query(f"ALTER PUBLICATION {name} SET TABLE {', '.join(tables)}")
        except self.pg.Error as error:
            raise ConnectError(
                f"cannot create or update publication {c.publication_name!r}: "
                f"{str(error).strip()} (the user needs to own the tables, or be a superuser "
                "for FOR ALL TABLES)"
            ) from None

    def _captures(self, schema: str, table: str) -> bool:
        if self._schemas_in and not any(p.fullmatch(schema) for p in self._schemas_in):
            return False
        if any(p.fullmatch(schema) for p in self._schemas_out):
            return False
        return self.filters.table(schema, table)

    def slot(self) -> tuple[str, str] | None:
        """The slot's (plugin, database), or None when it does not exist."""
        rows = self._query(
            "SELECT plugin, database FROM pg_replication_slots WHERE slot_name = %s",
            (self.c.slot_name,),
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def create_slot(self, repl: Any, *, export: bool) -> None:
        """Create the slot on the replication connection ``repl``, exporting its snapshot."""
        cursor = repl.cursor()
        how = "EXPORT_SNAPSHOT" if export else "NOEXPORT_SNAPSHOT"
        cursor.execute(f"CREATE_REPLICATION_SLOT {ident(self.c.slot_name)} LOGICAL pgoutput {how}")
        _name, lsn, snapshot, _plugin = cursor.fetchone()
        self.consistent_lsn = parse_lsn(lsn)
        self.snapshot_name = snapshot if export else None
        self.logger.info("created replication slot %s at %s", self.c.slot_name, lsn)

    def drop_slot(self) -> None:
        """Drop the slot, waiting (a while) for a dying connection that still holds it."""
        deadline = time.monotonic() + SLOT_BUSY_SECONDS
        while True:
            try:
                self._query(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                    "WHERE slot_name = %s",
                    (self.c.slot_name,),
                )
                return
            except self.pg.errors.ObjectInUse:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    # snapshot

    def snapshot(
        self,
        partition: Mapping[str, Any],
        emit: Callable[[list[SourceRecord]], None],
        stopped: Callable[[], bool],
    ) -> None:
        """Read the captured tables' rows as ``r`` events, at the exported snapshot if any."""
        c = self.c
        conn = self.connect()
        conn.autocommit = False
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        started_us = time.time_ns() // 1000
        try:
            with conn.cursor() as cursor:
                if self.snapshot_name is not None:
                    cursor.execute("SET TRANSACTION SNAPSHOT %s", (self.snapshot_name,))
                    lsn = self.consistent_lsn
                else:
                    cursor.execute("SELECT pg_current_wal_lsn()::text")
                    lsn = parse_lsn(cursor.fetchone()[0])
                cursor.execute("SELECT txid_current()")
                xid = cursor.fetchone()[0]
                cursor.execute(
                    "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s "
                    "ORDER BY 1, 2",
                    (c.publication_name,),
                )
                tables = [(s, t) for s, t in cursor.fetchall() if self._captures(s, t)]
            self.logger.info("snapshot of %d tables at LSN %s", len(tables), format_lsn(lsn))
            pending: tuple[CapturedTable, list[Any]] | None = None
            batch: list[SourceRecord] = []
            first = True
            source_base = {
                **source_fields(
                    "postgresql", c.topic_prefix, c.database_dbname, ts_us=started_us, snapshot=""
                ),
                "txId": xid,
                "lsn": lsn,
                "sequence": json.dumps([None, str(lsn)], separators=(",", ":")),
            }
            offset_base = {"lsn": lsn, "txId": xid, "ts_usec": started_us, "snapshot": True}

            def flush(last: bool) -> None:
                nonlocal pending, first
                if pending is None:
                    return
                table, row = pending
                marker = "last" if last else ("first" if first else "true")
                first = False
                source = {
                    **source_base,
                    "snapshot": marker,
                    "schema": table.schema_name,
                    "table": table.name,
                }
                offset = {**offset_base, "last_snapshot_record": last}
                batch.extend(
                    change_records(
                        table.events,
                        "r",
                        None,
                        row,
                        source,
                        partition=partition,
                        offset=offset,
                    )
                )
                if len(batch) >= BATCH or last:
                    emit(batch.copy())
                    batch.clear()
                pending = None

            for schema_name, name in tables:
                table = self._table_for_snapshot(conn, schema_name, name)
                # Each value as its type's output function writes it, which is what pgoutput
                # streams (a ::text cast differs: it trims CHAR(n)'s padding, adds INET's /32).
                columns = ", ".join(
                    f"CASE WHEN {ident(n)} IS NULL THEN NULL ELSE format('%s', {ident(n)}) END"
                    for n in table.names
                )
                with conn.cursor(name="faust_connect_snapshot") as cursor:
                    cursor.itersize = 5000
                    cursor.execute(f"SELECT {columns} FROM {ident(schema_name)}.{ident(name)}")
                    for values in cursor:
                        if stopped():
                            return
                        flush(False)
                        pending = (table, table.values(values))
            flush(True)
            conn.commit()
        finally:
            conn.close()

    # tables

    def table(self, relation: Relation) -> CapturedTable | None:
        """A Relation message's table, or None when it is not captured."""
        if not self._captures(relation.schema, relation.name):
            return None
        not_null, key = self._catalog(relation.id)
        columns = [(col.name, col.type_oid, col.typmod) for col in relation.columns]
        return self._build(relation.schema, relation.name, columns, not_null, key)

    def _table_for_snapshot(self, conn: Any, schema_name: str, name: str) -> CapturedTable:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT %s::regclass::oid",
                (f"{ident(schema_name)}.{ident(name)}",),
            )
            (oid,) = cursor.fetchone()
            cursor.execute(
                "SELECT attname, atttypid, atttypmod FROM pg_attribute WHERE attrelid = %s "
                "AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
                (oid,),
            )
            columns = [(n, int(t), int(m)) for n, t, m in cursor.fetchall()]
        not_null, key = self._catalog(oid, conn)
        return self._build(schema_name, name, columns, not_null, key)

    def _catalog(self, oid: int, conn: Any = None) -> tuple[set[str], list[str]]:
        """NOT NULL columns and the primary key of a table."""
        conn = conn if conn is not None else self.meta
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s AND attnum > 0 "
                "AND NOT attisdropped AND attnotnull",
                (oid,),
            )
            not_null = {r[0] for r in cursor.fetchall()}
            cursor.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s AND i.indisprimary "
                "ORDER BY array_position(i.indkey::int2[], a.attnum)",
                (oid,),
            )
            key = [r[0] for r in cursor.fetchall()]
        return not_null, key

    def _build(
        self,
        schema_name: str,
        name: str,
        columns: Sequence[tuple[str, int, int]],
        not_null: set[str],
        key: Sequence[str],
    ) -> CapturedTable:
        names = {n for n, _, _ in columns}
        key = [k for k in key if k in names]
        topic = f"{self.c.topic_prefix}.{schema_name}.{name}"
        return captured_table(
            topic,
            schema_name,
            name,
            columns,
            not_null,
            key,
            keep=lambda column: self.filters.column(schema_name, name, column),
            decimals=self.c.decimal_handling_mode,
        )
