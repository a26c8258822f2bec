"""Reading MySQL/MariaDB's binlog from a transaction boundary, for
:mod:`faust_connect.agents.connectors.cdc.mysql.connector`: positions (Debezium's MySQL offsets), completed GTIDs,
DDL targets, and :class:`BinlogStream`, which turns one binlog connection's events into change
and schema change records.

``file``/``pos`` of a :class:`Position` is always a transaction boundary (where the transaction
began); ``event``/``row`` count the row events and rows of that transaction already delivered,
which a restart skips: resuming a binlog *inside* a transaction would silently lose rows (the
table maps before it are not sent again).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import pymysql  # type: ignore[import-untyped]  # PyMySQL ships no type hints

from faust_connect.agents.connectors.cdc.debezium import (
    Filters,
    Heartbeat,
    change_records,
    source_struct,
)
from faust_connect.agents.connectors.cdc.mysql.schema import Column, MySqlTable, binlog_columns
from faust_connect.data import Struct
from faust_connect.exceptions import ConnectError
from faust_connect.records import SourceRecord

__all__ = ["BinlogStream", "Emit", "Gtids", "Lost", "Position", "ddl_target", "quote", "unquote"]

#: Hands a batch of records to the task.
Emit = Callable[[list[SourceRecord]], None]


_NAME = r"(?:`(?:[^`]|``)+`|[\w$]+)"
_DDL = re.compile(
    r"^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE)\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?"
    r"(?:ONLINE\s+|IGNORE\s+)?(TABLE|DATABASE|SCHEMA)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"
    rf"({_NAME})(?:\s*\.\s*({_NAME}))?",
    re.IGNORECASE,
)


def unquote(name: str) -> str:
    """A MySQL identifier without its backquotes."""
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def quote(name: str) -> str:
    """A MySQL identifier in backquotes."""
    return "`" + name.replace("`", "``") + "`"


def ddl_target(ddl: str, current: str) -> tuple[str, str | None] | None:
    """``(database, table or None)`` a DDL statement changes; None if it is not table DDL."""
    match = _DDL.match(ddl)
    if match is None:
        return None
    _, what, first, second = match.groups()
    if what.upper() != "TABLE":
        return unquote(first), None
    if second is not None:
        return unquote(first), unquote(second)
    return current, unquote(first)


# -- positions ------------------------------------------------------------------------------


@dataclasses.dataclass
class Position:
    """Where to (re)start reading: a transaction boundary and what of the transaction that
    begins there has been delivered already."""

    file: str
    pos: int
    #: MariaDB GTIDs (``domain-server-seq``) or MySQL GTID sets completed before ``pos``.
    gtids: str = ""
    #: Row events of the transaction at ``pos`` already delivered, in full.
    event: int = 0
    #: Rows of the next row event already delivered.
    row: int = 0
    ts_sec: int = 0
    server_id: int = 0
    snapshot: bool = False

    def offset(self) -> dict[str, Any]:
        """Debezium's MySQL offset (keys with no value left out, as Debezium does)."""
        out: dict[str, Any] = {"file": self.file, "pos": self.pos}
        for key in ("gtids", "event", "row", "ts_sec", "server_id"):
            if value := getattr(self, key):
                out[key] = value
        if self.snapshot:
            out["snapshot"] = True
        return out

    @classmethod
    def from_offset(cls, offset: Mapping[str, Any]) -> Position:
        """The position a stored offset names."""
        return cls(
            file=str(offset["file"]),
            pos=int(offset["pos"]),
            gtids=str(offset.get("gtids") or ""),
            event=int(offset.get("event") or 0),
            row=int(offset.get("row") or 0),
            ts_sec=int(offset.get("ts_sec") or 0),
            server_id=int(offset.get("server_id") or 0),
            snapshot=offset.get("snapshot") in (True, "true", "TRUE", "True"),
        )


class Lost(Exception):
    """The binlog connection dropped (mysql-replication would silently reconnect at the last
    event's position, inside a transaction; we reconnect from a boundary ourselves)."""


class Capture(Protocol):
    """What a binlog stream uses of its capture (``cdc_mysql.Capture``)."""

    c: Any  #: the connector's parsed config
    settings: dict[str, Any]  #: PyMySQL connection settings
    partition: dict[str, str]
    filters: Filters
    heartbeat: Heartbeat
    resume_at: Position  #: where a new stream resumes; the stream moves it on

    def database(self, name: str) -> bool:
        """Whether ``name`` is a captured database."""

    def captured(self, db: str, table: str) -> bool:
        """Whether ``db.table`` is captured."""

    def forget_json_columns(self) -> None:
        """After DDL: look JSON columns up again."""

    def json_columns(self, db: str, table: str) -> frozenset[str]:
        """The table's JSON columns."""

    def table(self, db: str, name: str, columns: list[Column], key: Sequence[str]) -> MySqlTable:
        """The captured table's schemas and converters."""

    def source(
        self, db: str, table: str | None, at: Position, *, snapshot: str, ts_ms: int, **more: Any
    ) -> dict[str, Any]:
        """The source block's fields of an event at ``at``."""

    def schema_change(
        self, db: str, ddl: str, source: Mapping[str, Any], offset: Mapping[str, Any]
    ) -> SourceRecord:
        """The schema-change topic's record of ``ddl``."""


class BinlogStream:
    """One binlog connection, read from a transaction boundary."""

    def __init__(self, capture: Capture, start: Position) -> None:
        from pymysqlreplication import BinLogStreamReader
        from pymysqlreplication.event import (
            GtidEvent,
            HeartbeatLogEvent,
            MariadbGtidEvent,
            QueryEvent,
            RotateEvent,
            XidEvent,
        )
        from pymysqlreplication.row_event import (
            DeleteRowsEvent,
            TableMapEvent,
            UpdateRowsEvent,
            WriteRowsEvent,
        )

        self.cap = capture
        self.kinds: dict[type, Callable[[Any], None]] = {
            GtidEvent: self.on_gtid,
            MariadbGtidEvent: self.on_gtid,
            QueryEvent: self.on_query,
            XidEvent: self.on_commit,
            RotateEvent: self.on_rotate,
            TableMapEvent: self.on_table_map,
            WriteRowsEvent: self.on_rows,
            UpdateRowsEvent: self.on_rows,
            DeleteRowsEvent: self.on_rows,
            HeartbeatLogEvent: lambda event: None,
        }
        self.ops = {WriteRowsEvent: "c", UpdateRowsEvent: "u", DeleteRowsEvent: "d"}
        #: The last transaction boundary read, and what of the transaction after it is done.
        self.at = dataclasses.replace(start, snapshot=False)
        #: Row events / rows of the current transaction to skip (delivered before a restart).
        self.skip_events, self.skip_rows = start.event, start.row
        self.at.event = self.at.row = 0
        self.in_txn = False
        self.gtid: str | None = None
        self.thread: int | None = None
        self.gtids = Gtids(start.gtids)
        self.maps: dict[int, Any] = {}
        self.tables: dict[int, MySqlTable | None] = {}
        connections = 0

        def connect(**kwargs: Any) -> Any:
            nonlocal connections
            if kwargs.get("db") != "information_schema":
                connections += 1
                if connections > 1:
                    raise Lost("the binlog connection dropped")
            return pymysql.connect(**kwargs)

        self.reader = BinLogStreamReader(
            connection_settings=dict(capture.settings),
            server_id=capture.c.database_server_id,
            resume_stream=True,
            blocking=True,
            log_file=start.file,
            log_pos=start.pos,
            only_events=list(self.kinds),
            slave_heartbeat=1,
            pymysql_wrapper=connect,
            enable_logging=False,
        )

    def run(self, emit: Emit, stopped: Callable[[], bool]) -> None:
        self.emit = emit
        heartbeat = self.cap.heartbeat
        try:
            while not stopped():
                event = self.reader.fetchone()
                if event is None:
                    raise Lost("the server ended the binlog stream")
                self.kinds[type(event)](event)
                if not self.in_txn and heartbeat.due(time.monotonic()):
                    emit([heartbeat.record(self.at.offset())])
        finally:
            self.reader.close()

    # -- transaction boundaries

    def begin(self) -> None:
        if not self.in_txn:
            self.in_txn = True
            self.at.event = self.at.row = 0

    def on_gtid(self, event: Any) -> None:
        self.begin()
        self.gtid = event.gtid

    def on_query(self, event: Any) -> None:
        query = event.query.strip() if isinstance(event.query, str) else event.query.decode()
        self.thread = event.slave_proxy_id
        word = query.split(None, 1)[0].upper() if query else ""
        if word == "BEGIN":
            self.begin()
            return
        if word in ("COMMIT", "ROLLBACK") and query.upper() in (word, word + ";"):
            self.on_commit(event)
            return
        schema = event.schema.decode() if isinstance(event.schema, bytes) else event.schema
        target = ddl_target(query, schema)
        if target is not None:
            self.on_ddl(event, query, *target)
            self.on_commit(event)  # a DDL commits implicitly
        elif not self.in_txn:
            self.on_commit(event)  # a statement of its own (GRANT, FLUSH ...): a boundary
        # else: SAVEPOINT and the like, inside a transaction

    def on_commit(self, event: Any) -> None:
        if self.gtid is not None:
            self.gtids.add(self.gtid)
        self.at.file = self.reader.log_file
        self.at.pos = event.packet.log_pos
        self.at.gtids = str(self.gtids)
        self.at.ts_sec = event.timestamp
        self.at.server_id = event.packet.server_id
        self.at.event = self.at.row = 0
        self.skip_events = self.skip_rows = 0
        self.in_txn = False
        self.gtid = None
        self.cap.resume_at = dataclasses.replace(self.at)

    def on_rotate(self, event: Any) -> None:
        if not self.in_txn:
            self.at.file, self.at.pos = event.next_binlog, event.position
            self.cap.resume_at = dataclasses.replace(self.at)

    # -- changes

    def on_table_map(self, event: Any) -> None:
        if not event.optional_metadata.column_name_list and event.column_count:
            raise ConnectError(
                f"the binlog has no column names for {event.schema}.{event.table}:"
                " binlog_row_metadata is not FULL; set binlog_row_metadata=FULL"
                " (SET GLOBAL binlog_row_metadata='FULL' and in the server's config)"
            )
        self.maps[event.table_id] = event
        self.tables.pop(event.table_id, None)

    def on_ddl(self, event: Any, ddl: str, db: str, table: str | None) -> None:
        cap = self.cap
        cap.forget_json_columns()
        if not cap.c.include_schema_changes or not cap.database(db):
            return
        if table is not None and not cap.filters.table(db, table):
            return
        at = dataclasses.replace(self.at, pos=event.packet.log_pos - event.event_size)
        source = cap.source(
            db,
            table,
            at,
            snapshot="false",
            ts_ms=event.timestamp * 1000,
            server_id=event.packet.server_id,
            gtid=self.gtid,
            thread=self.thread,
        )
        end = dataclasses.replace(self.at, file=self.reader.log_file, pos=event.packet.log_pos)
        end.event = end.row = 0
        end.gtids = str(self.gtids.with_(self.gtid))
        self.emit([cap.schema_change(db, ddl, source, end.offset())])

    def on_rows(self, event: Any) -> None:
        self.begin()
        if self.skip_events:
            self.skip_events -= 1
            self.done_event()
            return
        skip, self.skip_rows = self.skip_rows, 0
        cap = self.cap
        db, name = event.schema, event.table
        if event.table_id in self.tables:
            table = self.tables[event.table_id]
        else:
            table = self.tables[event.table_id] = self.table(event.table_id, db, name)
        if table is None:
            self.done_event()
            return
        op = self.ops[type(event)]
        pos = event.packet.log_pos - event.event_size
        base = cap.source(
            db,
            name,
            self.at,
            snapshot="false",
            ts_ms=event.timestamp * 1000,
            server_id=event.packet.server_id,
            gtid=self.gtid,
            thread=self.thread,
            pos=pos,
        )
        base["file"] = self.reader.log_file
        tombstone = cap.c.tombstones_on_delete
        offset_base = self.at.offset()
        offset_base["ts_sec"] = event.timestamp
        if self.at.event:
            offset_base["event"] = self.at.event
        # The source block is built once per row event and copied per row (only ``row`` moves).
        names = table.schema.source_names
        template = [base.get(f) for f in names]
        row_at = names.index("row")
        out: list[SourceRecord] = []
        for i, row in enumerate(event.rows):
            if i < skip:
                continue
            values = template.copy()
            values[row_at] = i
            source = source_struct(table.schema, values)
            offset = {**offset_base, "row": i + 1}
            out += self.records(table, op, row, source, offset, tombstone)
        self.emit(out)
        self.done_event()

    def done_event(self) -> None:
        self.at.event += 1
        self.cap.resume_at = dataclasses.replace(self.at)

    def table(self, table_id: int, db: str, name: str) -> MySqlTable | None:
        """The captured table a table map describes; None when it is not captured."""
        cap = self.cap
        if not cap.captured(db, name):
            return None
        table_map = self.maps[table_id]
        columns = binlog_columns(table_map, cap.json_columns(db, name))
        meta = table_map.optional_metadata
        index = list(meta.simple_primary_key_list or ())
        if not index and meta.primary_keys_with_prefix:
            prefixed = meta.primary_keys_with_prefix
            index = list(prefixed.keys() if isinstance(prefixed, dict) else prefixed)
        return cap.table(db, name, columns, [columns[i].name for i in index])

    def records(
        self,
        table: MySqlTable,
        op: str,
        row: Mapping[str, Any],
        source: Struct,
        offset: dict[str, Any],
        tombstone: bool,
    ) -> list[SourceRecord]:
        part = self.cap.partition
        events = table.schema
        if op == "u":
            before = table.values(row["before_values"], row["before_none_sources"])
            after = table.values(row["after_values"], row["after_none_sources"])
            keys = events.key_index
            if keys and any(before[k] != after[k] for k in keys):  # a new key: d, tombstone, c
                out = change_records(
                    events, "d", before, None, source, partition=part, offset=offset,
                    tombstone=tombstone,
                )  # fmt: skip
                return out + change_records(
                    events, "c", None, after, source, partition=part, offset=offset
                )
            return change_records(events, "u", before, after, source, partition=part, offset=offset)
        values = table.values(row["values"], row["none_sources"])
        if op == "c":
            return change_records(events, "c", None, values, source, partition=part, offset=offset)
        return change_records(
            events, "d", values, None, source, partition=part, offset=offset, tombstone=tombstone
        )


class Gtids:
    """Completed GTIDs: MariaDB's last ``domain-server-seq`` per domain, or MySQL's
    ``uuid:1-n`` per source."""

    def __init__(self, text: str) -> None:
        self.last: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            self.add(part)

    def add(self, gtid: str) -> None:
        if ":" in gtid:  # MySQL uuid:n or uuid:1-n
            uuid, _, number = gtid.partition(":")
            self.last[uuid] = f"{uuid}:1-{number.rpartition('-')[2]}"
        else:
            self.last[gtid.split("-", 1)[0]] = gtid

    def with_(self, gtid: str | None) -> Gtids:
        out = Gtids(str(self))
        if gtid is not None:
            out.add(gtid)
        return out

    def __str__(self) -> str:
        return ",".join(self.last[k] for k in sorted(self.last))
