"""PostgreSQL change data capture, configured and shaped like Debezium's PostgreSQL connector.

The source reads the server's logical replication stream (the built-in ``pgoutput`` plugin, over
psycopg2's ``LogicalReplicationConnection``: psycopg 3 cannot stream replication) from the slot
``slot.name``, for the tables of the publication ``publication.name`` that the include/exclude
lists select. Each row change becomes a Debezium change event (see
:mod:`faust_connect.agents.connectors.cdc.debezium`) on ``<topic.prefix>.<schema>.<table>``, in commit order.

- **Snapshot** (``snapshot.mode``): the slot is created with an exported snapshot, and the rows
  are read in a REPEATABLE READ transaction set to that snapshot, so the snapshot's ``r`` events
  and the changes streamed from the slot's consistent point give every row exactly once. A
  snapshot cut short is taken again (with a new slot) at the next start; a finished one never is,
  except with ``always``, or ``when_needed`` when the slot is gone.
- **Offsets**: partition ``{"server": <prefix>}``; offset with Debezium's keys (``lsn``,
  ``lsn_proc``, ``lsn_commit``, ``txId``, ``ts_usec``; ``snapshot``/``last_snapshot_record``
  during a snapshot) plus ``event`` (the change's place in its transaction) and ``txn_end`` (on
  the last change of a transaction). A restart skips the changes that the stored offset covers.
- **Confirming**: the slot's position moves (``send_feedback(flush_lsn=...)``) only once offsets
  are stored (:meth:`SourceTask.offsets_stored`), so the server keeps every change until it is in
  Kafka and its offset stored: a crash may repeat changes, never skip one.
- **Schema changes**: pgoutput sends a new Relation message after ALTER TABLE; the events after
  it carry the new columns.

The server must run with ``wal_level=logical``; the task refuses to start otherwise.

This module holds the connector (its config and validation), the task, and the
:class:`Reader` that decides on a snapshot and runs the streaming loop in the reader thread;
the server side outside the stream (publication, slot, the snapshot read, catalog lookups) is
:mod:`faust_connect.agents.connectors.cdc.postgres.replication`'s, and message decoding and type mapping
:mod:`faust_connect.agents.connectors.cdc.postgres.pgoutput`'s.
"""

from __future__ import annotations

import asyncio
import logging
import select
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import Field

from faust_connect.agents.connectors.cdc.debezium import (
    POSTGRES_SOURCE,
    CdcConfig,
    Heartbeat,
    ThreadedReader,
    change_records,
    regex_issues,
    source_fields,
    source_struct,
    wait_stopped,
)
from faust_connect.agents.connectors.cdc.postgres.pgoutput import (
    Begin,
    CapturedTable,
    Change,
    Commit,
    Relation,
    Truncate,
    decode,
)
from faust_connect.agents.connectors.cdc.postgres.replication import (
    BATCH,
    SLOT_BUSY_SECONDS,
    PgServer,
)
from faust_connect.config import CommaList
from faust_connect.connector import SourceConnector, SourceTask
from faust_connect.data import Struct
from faust_connect.exceptions import ConfigIssue, ConnectError
from faust_connect.records import SourceRecord

__all__ = ["PostgresCdcTask", "PostgresConnector"]

SnapshotMode = Literal["initial", "never", "no_data", "initial_only", "always", "when_needed"]
#: Keepalive feedback to the server at least this often (its wal_sender_timeout is 60 s).
FEEDBACK_SECONDS = 10.0
#: Events per transaction above any real count: the position "after the whole transaction".
WHOLE = 1 << 62


class PostgresConnector(SourceConnector):
    """Streams row changes of PostgreSQL tables as Debezium change events (one task)."""

    class Config(CdcConfig):
        database_port: int = Field(5432, ge=1, le=65535, description="Database port.")
        database_dbname: str = Field(description="The database to capture.", min_length=1)
        plugin_name: str = Field(
            "pgoutput", description="Logical decoding plugin; only pgoutput is supported."
        )
        slot_name: str = Field("debezium", description="The logical replication slot.")
        slot_drop_on_stop: bool = Field(False, description="Drop the slot when the task stops.")
        publication_name: str = Field("dbz_publication", description="The publication to read.")
        publication_autocreate_mode: Literal["all_tables", "disabled", "filtered"] = Field(
            "all_tables",
            description="Create the publication for all tables, for the selected tables "
            "(kept in step at each start), or never (it must exist).",
        )
        snapshot_mode: SnapshotMode = Field(
            "initial",
            description="initial, never/no_data, initial_only, always or when_needed.",
        )
        schema_include_list: CommaList = Field((), description="Regexes of schemas to capture.")
        schema_exclude_list: CommaList = Field((), description="Regexes of schemas to skip.")
        skipped_operations: CommaList = Field(
            ("t",), description="Operations not to emit: c, u, d, t, or none."
        )

    @classmethod
    def check(cls, c: Any) -> list[ConfigIssue]:
        """Debezium's keys, plus: only the pgoutput plugin, valid regexes and operations."""
        issues: list[ConfigIssue] = []
        if c.plugin_name != "pgoutput":
            issues.append(
                ConfigIssue(
                    "plugin.name",
                    f"{c.plugin_name!r} is not supported: only pgoutput (built into "
                    "PostgreSQL 10+) is; set plugin.name=pgoutput",
                )
            )
        lists = [
            f"{kind}.{way}.list"
            for kind in ("table", "column", "schema")
            for way in ("include", "exclude")
        ]
        issues += regex_issues(c, lists)
        bad = set(c.skipped_operations) - {"c", "u", "d", "t", "none"}
        if bad:
            issues.append(ConfigIssue("skipped.operations", f"unknown operations {sorted(bad)}"))
        return issues

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """One task whatever ``tasks.max`` says: one slot is one ordered stream (as Debezium)."""
        return [dict(self.raw)]


# -- the task -----------------------------------------------------------------------------------


class PostgresCdcTask(SourceTask):
    """Runs the blocking replication reader in a thread; ``poll`` takes its batches."""

    reader: Reader | None = None
    threaded: ThreadedReader[SourceRecord] | None = None

    async def start(self) -> None:
        config = self.settings
        partition = {"server": config.topic_prefix}
        self.partition = partition
        reader = Reader(config, partition, self.context.offset(partition), self.context.logger)
        self.reader = reader
        await asyncio.to_thread(reader.prepare)
        self.threaded = ThreadedReader(
            reader.run, max_queue=config.max_queue_size, name=f"pg-cdc-{config.topic_prefix}"
        )
        self.threaded.start()
        self.max_batch = config.max_batch_size
        self.wait = config.poll_interval_ms / 1000

    async def poll(self) -> Sequence[SourceRecord]:
        assert self.threaded is not None, "poll() before start()"
        return await self.threaded.take(self.max_batch, self.wait)

    async def offsets_stored(
        self, offsets: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]
    ) -> None:
        for partition, offset in offsets:
            if partition == self.partition and self.reader is not None:
                self.reader.confirm(offset)

    async def stop(self) -> None:
        if self.threaded is not None:
            await self.threaded.stop()
        if self.reader is not None:
            await asyncio.to_thread(self.reader.close)


PostgresConnector.task_class = PostgresCdcTask
PostgresCdcTask.Config = PostgresConnector.Config


def resume_position(offset: Mapping[str, Any] | None) -> tuple[int, int]:
    """(commit LSN, event number) of the last change a stored offset covers; (0, 0) for none."""
    if not offset or "lsn_commit" not in offset:
        return (0, 0)
    event = WHOLE if "txn_end" in offset else int(offset.get("event", WHOLE))
    return (int(offset["lsn_commit"]), event)


def confirmable_lsn(offset: Mapping[str, Any]) -> int:
    """The LSN the server may forget up to once ``offset`` is stored: past a finished
    transaction, or up to (not including) the commit of a partly delivered one."""
    if "txn_end" in offset:
        return int(offset["txn_end"])
    if "lsn_commit" in offset:
        return int(offset["lsn_commit"])
    return 0


class Reader:
    """The blocking side (in the reader thread): decides on a snapshot, then streams."""

    def __init__(
        self,
        config: Any,
        partition: Mapping[str, Any],
        stored: Mapping[str, Any] | None,
        logger: logging.Logger,
    ) -> None:
        self.c = config
        self.partition = dict(partition)
        self.stored = dict(stored) if stored else None
        self.logger = logger
        #: Connections, publication, slot, snapshot and catalog.
        self.server = PgServer(config, logger)
        self.pg = self.server.pg
        self.skipped = set(config.skipped_operations) - {"none"}
        #: What has been handed on: (commit LSN, event number); changes at or below are skipped.
        self.emitted = resume_position(self.stored)
        self._confirm = 0  # set by the event loop (offsets_stored), sent by the reader thread
        self._confirmed = 0
        self.snapshot_needed = False
        #: The replication connection (the slot is created and streamed on it).
        self.repl: Any = None
        self.tables: dict[int, CapturedTable | None] = {}
        self.last_commit: int | None = None

    # start: checks and decisions

    def prepare(self) -> None:
        """Check the server, set up the publication and slot, decide on a snapshot."""
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise

    def _prepare(self) -> None:
        c = self.c
        server = self.server
        server.open()
        server.ensure_publication()
        slot = server.slot()
        if slot is not None and slot[0] != "pgoutput":
            raise ConnectError(
                f"replication slot {c.slot_name!r} uses plugin {slot[0]!r}, not pgoutput: "
                "drop it or choose another slot.name"
            )
        if slot is not None and slot[1] != c.database_dbname:
            raise ConnectError(
                f"replication slot {c.slot_name!r} belongs to database {slot[1]!r}: "
                "choose another slot.name"
            )
        stored = self.stored
        streamed = bool(stored) and "lsn_commit" in (stored or {})
        finished = bool(stored) and (
            not stored.get("snapshot") or bool(stored.get("last_snapshot_record"))  # type: ignore[union-attr]
        )
        mode = c.snapshot_mode
        if mode in ("initial", "initial_only"):
            self.snapshot_needed = not finished
        elif mode == "always":
            self.snapshot_needed = True
        elif mode == "when_needed":
            self.snapshot_needed = not finished or slot is None
        if mode == "initial_only":
            return  # no slot: nothing is streamed
        if slot is None and streamed and not self.snapshot_needed:
            raise ConnectError(
                f"replication slot {c.slot_name!r} is gone but the stored offsets say changes "
                "were streamed from it: the changes since are lost. Use snapshot.mode=when_needed "
                "(or always) to take a new snapshot, or reset the connector's offsets"
            )
        if self.snapshot_needed and slot is not None and not streamed:
            # Nothing was ever streamed from this slot: a new one gives an exact snapshot.
            server.drop_slot()
            slot = None
        if slot is None:
            self.repl = server.connect(replication=True)
            server.create_slot(self.repl, export=self.snapshot_needed)

    # the reader thread

    def run(self, emit: Callable[[list[SourceRecord]], None], stopped: Callable[[], bool]) -> None:
        """Snapshot if needed, then stream until ``stopped()`` (the ThreadedReader's loop)."""
        if self.snapshot_needed:
            self.server.snapshot(self.partition, emit, stopped)
        if self.c.snapshot_mode == "initial_only":
            wait_stopped(stopped)
            return
        delay = 0.5
        while not stopped():
            try:
                self._stream(emit, stopped)
                return
            except (self.pg.OperationalError, self.pg.InterfaceError) as error:
                if stopped():
                    return
                self.logger.warning(
                    "replication connection lost (%s); reconnecting in %.1fs",
                    str(error).strip(),
                    delay,
                )
                self._close_repl()
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
                try:
                    self.server.meta.close()
                    self.server.meta = self.server.connect()
                except ConnectError as again:
                    self.logger.warning("%s", again)

    def confirm(self, offset: Mapping[str, Any]) -> None:
        """The offset is stored: the server may drop what it covers (sent by the reader)."""
        lsn = confirmable_lsn(offset)
        if lsn > self._confirm:
            self._confirm = lsn

    # streaming

    def _stream(
        self, emit: Callable[[list[SourceRecord]], None], stopped: Callable[[], bool]
    ) -> None:
        c = self.c
        if self.repl is None:
            self.repl = self.server.connect(replication=True)
        cursor = self.repl.cursor()
        options = {"proto_version": "1", "publication_names": c.publication_name}
        deadline = time.monotonic() + SLOT_BUSY_SECONDS
        while True:
            try:
                cursor.start_replication(
                    slot_name=c.slot_name, decode=False, options=options, status_interval=10
                )
                break
            except self.pg.errors.ObjectInUse:
                # a killed worker's connection is still going away
                if time.monotonic() > deadline or stopped():
                    raise
                self.repl.close()
                time.sleep(0.5)
                self.repl = self.server.connect(replication=True)
                cursor = self.repl.cursor()
        self.tables.clear()
        self._confirmed = 0
        if self._confirm:
            cursor.send_feedback(flush_lsn=self._confirm, force=True)
            self._confirmed = self._confirm
        stream = _Stream(self, emit)
        last_feedback = time.monotonic()
        heartbeat = Heartbeat(c, self.partition)
        fileno = self.repl.fileno()
        try:
            while not stopped():
                message = cursor.read_message()
                now = time.monotonic()
                if message is not None:
                    stream.handle(message.data_start, message.payload)
                    if len(stream.out) >= BATCH:
                        stream.send()
                else:
                    stream.send()  # nothing more to read now: hand over what there is
                if now - last_feedback >= 1.0 and (
                    self._confirm > self._confirmed or now - last_feedback >= FEEDBACK_SECONDS
                ):
                    cursor.send_feedback(flush_lsn=self._confirm, force=True)
                    self._confirmed = self._confirm
                    last_feedback = now
                if stream.txn is None and heartbeat.due(now) and stream.heartbeat is not None:
                    stream.send()
                    emit([heartbeat.record(stream.heartbeat)])
                    stream.heartbeat = None
                if message is None:
                    select.select([fileno], [], [], 0.2)
        finally:
            # Records counted in ``emitted`` are handed over even when the connection failed:
            # the next stream skips them.
            stream.send()

    def _close_repl(self) -> None:
        if self.repl is not None:
            try:
                self.repl.close()
            except self.pg.Error:
                pass
            self.repl = None

    def close(self) -> None:
        """Close the connections; drop the slot when ``slot.drop.on.stop`` says so."""
        self._close_repl()
        self.server.close(
            drop_slot=self.c.slot_drop_on_stop and self.c.snapshot_mode != "initial_only"
        )


class _Stream:
    """Turns pgoutput messages into records, one change behind (so the last change of a
    transaction can carry ``txn_end``). Records collect in :attr:`out` until :meth:`send`
    hands them to the reader's queue as one batch."""

    def __init__(self, reader: Reader, emit: Callable[[list[SourceRecord]], None]) -> None:
        self.reader = reader
        self.emit = emit
        self.c = reader.c
        self.txn: Begin | None = None
        self.event = 0
        #: The change waiting for the next message: (table, op, before, after, lsn, event).
        self.pending: tuple[CapturedTable, str, Any, Any, int, int] | None = None
        #: The offset of the last finished transaction, for a heartbeat.
        self.heartbeat: dict[str, Any] | None = None
        #: Records not yet handed over.
        self.out: list[SourceRecord] = []
        #: Per table in this transaction: its source block's values, and the common offset.
        self._sources: dict[str, list[Any]] = {}
        self._offset_base: dict[str, Any] = {}
        self._tombstone = self.c.tombstones_on_delete
        self._partition = reader.partition

    def send(self) -> None:
        """Hand the collected records over (one batch)."""
        if self.out:
            out, self.out = self.out, []
            self.emit(out)

    def handle(self, lsn: int, payload: bytes) -> None:
        message = decode(payload)
        reader = self.reader
        if isinstance(message, Change):
            self.event += 2  # odd numbers: the delete half of a key change
            txn = self.txn
            assert txn is not None
            if (txn.commit_lsn, self.event) <= reader.emitted:
                return
            table = reader.tables.get(message.relation)
            if table is None or message.op in reader.skipped:
                return
            before = after = None
            if message.old is not None:
                before = table.values(message.old, partial=message.old_is_key)
            if message.new is not None:
                after = table.values(message.new)
            self._flush(None)
            keys = table.events.key_index
            if before is not None and after is not None and keys:
                if any(before[k] != after[k] for k in keys):
                    # A new primary key: as Debezium, a delete (and tombstone) of the old key,
                    # then a create with the new one.
                    self.pending = (table, "d", before, None, lsn, self.event - 1)
                    self._flush(None)
                    self.pending = (table, "c", None, after, lsn, self.event)
                    return
            self.pending = (table, message.op, before, after, lsn, self.event)
        elif isinstance(message, Begin):
            self.txn, self.event = message, 0
            self._sources = {}
            self._offset_base = {
                "lsn_commit": message.commit_lsn,
                "txId": message.xid,
                "ts_usec": message.commit_us,
            }
        elif isinstance(message, Commit):
            self._flush(message.end_lsn)
            txn = self.txn
            if txn is not None:
                position = (txn.commit_lsn, WHOLE)
                if position > reader.emitted:
                    reader.emitted = position
                    self.heartbeat = self._offset(message.end_lsn, 0) | {"txn_end": message.end_lsn}
            reader.last_commit = message.commit_lsn
            self.txn = None
        elif isinstance(message, Relation):
            reader.tables[message.id] = reader.server.table(message)
        elif isinstance(message, Truncate):
            self._truncate(message, lsn)

    def _offset(self, lsn: int, event: int) -> dict[str, Any]:
        return {"lsn": lsn, "lsn_proc": lsn, **self._offset_base, "event": event}

    def _source(self, table: CapturedTable, lsn: int) -> Struct:
        """The source block: built once per table and transaction, then copied per change."""
        values = self._sources.get(table.events.topic)
        if values is None:
            txn = self.txn
            assert txn is not None
            fields = {
                **source_fields(
                    "postgresql",
                    self.c.topic_prefix,
                    self.c.database_dbname,
                    ts_us=txn.commit_us,
                    snapshot="false",
                ),
                "schema": table.schema_name,
                "table": table.name,
                "txId": txn.xid,
            }
            values = [fields.get(name) for name in table.events.source_names]
            self._sources[table.events.topic] = values
        values = values.copy()
        values[_SEQUENCE] = _sequence(self.reader.last_commit, lsn)
        values[_LSN] = lsn
        return source_struct(table.events, values)

    def _flush(self, txn_end: int | None) -> None:
        if self.pending is None:
            return
        table, op, before, after, lsn, event = self.pending
        self.pending = None
        offset = self._offset(lsn, event)
        if txn_end is not None:
            offset["txn_end"] = txn_end
        self.out += change_records(
            table.events,
            op,  # type: ignore[arg-type]
            before,
            after,
            self._source(table, lsn),
            partition=self._partition,
            offset=offset,
            tombstone=self._tombstone,
        )
        assert self.txn is not None
        self.reader.emitted = (self.txn.commit_lsn, event)

    def _truncate(self, message: Truncate, lsn: int) -> None:
        self.event += 2
        txn = self.txn
        if txn is None or (txn.commit_lsn, self.event) <= self.reader.emitted:
            return
        if "t" in self.reader.skipped:
            return
        for relation in message.relations:
            table = self.reader.tables.get(relation)
            if table is None:
                continue
            self._flush(None)
            self.pending = (table, "t", None, None, lsn, self.event)


_FIELDS = [f.name for f in POSTGRES_SOURCE.fields]
_SEQUENCE, _LSN = _FIELDS.index("sequence"), _FIELDS.index("lsn")


def _sequence(last_commit: int | None, lsn: int) -> str:
    """Debezium's ``source.sequence``: ``["<last commit LSN>","<LSN>"]`` as JSON text."""
    last = "null" if last_commit is None else f'"{last_commit}"'
    return f'[{last},"{lsn}"]'
