"""Debezium's ``ExtractNewRecordState`` (alias ``unwrap``): a change event becomes its row.

A Debezium value is an envelope ``{before, after, source, op, ts_ms, ...}``; this transform
replaces it with ``after``. Deletes and tombstones follow ``delete.tombstone.handling.mode``:

==========================  ======================  ========================
mode                        delete event (op=d)     tombstone (null value)
==========================  ======================  ========================
``tombstone`` (default)     dropped                 kept
``drop``                    dropped                 dropped
``rewrite``                 ``before`` + __deleted  dropped
``rewrite-with-tombstone``  ``before`` + __deleted  kept
``delete-to-tombstone``     becomes a tombstone     dropped
==========================  ======================  ========================

In the rewrite modes every row gets ``__deleted`` = ``"true"``/``"false"``. ``add.fields`` and
``add.headers`` copy envelope fields (``op``, ``ts_ms``), ``source`` fields (``table``, ``lsn``) or
qualified ones (``source.ts_ms``), named ``<prefix><name>`` (``__source_ts_ms``), or
``<prefix><new>`` with ``field:new``. Truncate events are dropped; other records pass unchanged.

>>> from faust_connect.records import SourceRecord
>>> unwrap = ExtractNewRecordState(add_fields=("op", "table"))
>>> event = {"before": None, "after": {"id": 1}, "op": "c", "source": {"table": "users"}}
>>> unwrap.apply(SourceRecord(topic="db.public.users", value=event)).value
{'id': 1, '__op': 'c', '__table': 'users'}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import Field, field_validator

from faust_connect.config import CommaList, PluginConfig
from faust_connect.data import OPTIONAL_STRING, Schema, Struct, Type
from faust_connect.records import ConnectRecord, Header, Headers
from faust_connect.transforms._util import SchemaCache, rebuild_struct_schema, struct_values
from faust_connect.transforms.base import Transform

__all__ = ["ExtractNewRecordState"]

R = TypeVar("R", bound=ConnectRecord)

Mode = Literal["drop", "tombstone", "rewrite", "rewrite-with-tombstone", "delete-to-tombstone"]

#: The envelope's own fields; other unqualified names are read from ``source``.
ENVELOPE_FIELDS = frozenset(
    {"before", "after", "source", "op", "ts_ms", "ts_us", "ts_ns", "transaction"}
)
DELETED_FIELD = "__deleted"

#: (keep tombstones, what happens to deletes) per mode.
_MODES: dict[str, tuple[bool, Literal["drop", "rewrite", "tombstone"]]] = {
    "drop": (False, "drop"),
    "tombstone": (True, "drop"),
    "rewrite": (False, "rewrite"),
    "rewrite-with-tombstone": (True, "rewrite"),
    "delete-to-tombstone": (False, "tombstone"),
}
_LEGACY_DELETES: dict[str, Literal["drop", "rewrite", "tombstone"]] = {
    "drop": "drop",
    "rewrite": "rewrite",
    "none": "tombstone",
}


def _check_refs(refs: tuple[str, ...]) -> tuple[str, ...]:
    for ref in refs:
        name, _, new = ref.partition(":")
        if not name or name.startswith(".") or name.endswith(".") or (":" in ref and not new):
            raise ValueError(f"invalid field reference {ref!r}; expected field[:new_name]")
    return refs


class ExtractNewRecordStateConfig(PluginConfig):
    """Keys of ExtractNewRecordState."""

    delete_tombstone_handling_mode: Mode = Field(
        "tombstone", description="What happens to delete events and tombstones."
    )
    drop_tombstones: bool = Field(
        True, description="Deprecated: drop tombstones (use delete.tombstone.handling.mode)."
    )
    delete_handling_mode: Literal["drop", "rewrite", "none"] = Field(
        "drop", description="Deprecated: drop, rewrite or pass (none) delete events."
    )
    add_fields: CommaList = Field(
        (), description="Envelope/source fields to add to the row, e.g. op,table,source.ts_ms."
    )
    add_fields_prefix: str = Field("__", description="Prefix of added field names.")
    add_headers: CommaList = Field((), description="Envelope/source fields to add as headers.")
    add_headers_prefix: str = Field("__", description="Prefix of added header names.")
    route_by_field: str = Field("", description="Route to the topic named by this row field.")

    _refs = field_validator("add_fields", "add_headers")(_check_refs)


@dataclasses.dataclass(frozen=True, slots=True)
class _Ref:
    """One add.fields/add.headers entry: where to read (struct or envelope) and the output name."""

    struct: str | None
    field: str
    name: str

    @classmethod
    def parse(cls, ref: str, prefix: str) -> _Ref:
        path, _, new = ref.partition(":")
        struct, dot, field = path.partition(".")
        if not dot:
            struct, field = ("" if path in ENVELOPE_FIELDS else "source"), path
        default = path.replace(".", "_")
        return cls(struct or None, field, prefix + (new or default))

    def read(self, envelope: Any) -> Any:
        holder = envelope if self.struct is None else _get(envelope, self.struct)
        return None if holder is None else _get(holder, self.field)

    def schema(self, envelope: Schema) -> Schema:
        holder: Schema | None = envelope
        if self.struct is not None:
            found = envelope.field(self.struct)
            holder = found.schema if found is not None else None
        field = (
            holder.field(self.field) if holder is not None and holder.type is Type.STRUCT else None
        )
        if field is None:
            where = self.struct or "envelope"
            raise ValueError(f"the {where} schema has no field {self.field!r}")
        return field.schema.as_optional()


def _get(holder: Any, name: str) -> Any:
    if isinstance(holder, Struct):
        field = holder.schema.field(name)
        return None if field is None else holder.values()[field.index]
    if isinstance(holder, Mapping):
        return holder.get(name)
    return None


class ExtractNewRecordState(Transform):
    """Replace a Debezium change event with its row state (``after``, or ``before`` on rewrite)."""

    Config = ExtractNewRecordStateConfig
    config: ExtractNewRecordStateConfig

    def configure(self) -> None:
        c = self.config
        if "delete_tombstone_handling_mode" in c.model_fields_set or not (
            {"drop_tombstones", "delete_handling_mode"} & c.model_fields_set
        ):
            self._keep_tombstones, self._deletes = _MODES[c.delete_tombstone_handling_mode]
        else:
            self._keep_tombstones = not c.drop_tombstones
            self._deletes = _LEGACY_DELETES[c.delete_handling_mode]
        self._rewrite = self._deletes == "rewrite"
        self._fields = [_Ref.parse(r, c.add_fields_prefix) for r in c.add_fields]
        self._headers = [_Ref.parse(r, c.add_headers_prefix) for r in c.add_headers]
        self._schemas: SchemaCache[tuple[Schema, Schema], Schema] = SchemaCache()

    @staticmethod
    def _is_envelope(value: Any) -> bool:
        if isinstance(value, Struct):
            schema = value.schema
            return schema.field("op") is not None and schema.field("after") is not None
        return (
            isinstance(value, Mapping) and "op" in value and ("after" in value or "before" in value)
        )

    def apply(self, record: R) -> R | None:
        """The record with the row state as value; None for dropped deletes/tombstones."""
        envelope = record.value
        if envelope is None:
            return record if self._keep_tombstones else None
        if not self._is_envelope(envelope):
            return record
        op = _get(envelope, "op")
        if op == "t":
            return None
        deleted = op == "d"
        if deleted:
            if self._deletes == "drop":
                return None
            if self._deletes == "tombstone":
                return record.replace(value=None, value_schema=None)
        row = _get(envelope, "before" if deleted else "after")
        headers = record.headers
        if self._headers:
            headers = Headers((*headers, *self._new_headers(envelope)))
        value, schema = self._row(envelope, row, deleted)
        record = record.replace(value=value, value_schema=schema, headers=headers)
        if self.config.route_by_field and value is not None:
            topic = _get(value, self.config.route_by_field)
            if topic is not None:
                record = record.replace(topic=str(topic))
        return record

    def _new_headers(self, envelope: Any) -> list[Header]:
        if not isinstance(envelope, Struct):
            return [Header(ref.name, ref.read(envelope)) for ref in self._headers]
        try:
            return [
                Header(ref.name, ref.read(envelope), ref.schema(envelope.schema))
                for ref in self._headers
            ]
        except ValueError as exc:
            raise self.fail(str(exc)) from exc

    def _row(self, envelope: Any, row: Any, deleted: bool) -> tuple[Any, Schema | None]:
        extra = [(ref.name, ref.read(envelope)) for ref in self._fields]
        if self._rewrite:
            extra.append((DELETED_FIELD, "true" if deleted else "false"))
        if not isinstance(envelope, Struct):
            if row is None or not extra:
                return row, None
            if not isinstance(row, Mapping):
                raise self.fail(f"the row is a {type(row).__name__}, not a map")
            return {**row, **dict(extra)}, None
        part = "before" if deleted else "after"
        row_schema = envelope.schema.require_field(part).schema
        if row is None or not extra:
            return row, row_schema
        try:
            schema = self._schemas.get_or((row_schema, envelope.schema), self._row_schema)
        except ValueError as exc:
            raise self.fail(str(exc)) from exc
        values = [*struct_values(row).values(), *(v for _, v in extra)]
        return Struct.trusted(schema, values), schema

    def _row_schema(self, key: tuple[Schema, Schema]) -> Schema:
        row_schema, envelope_schema = key
        fields = [(f.name, f.schema) for f in row_schema.fields]
        fields.extend((ref.name, ref.schema(envelope_schema)) for ref in self._fields)
        if self._rewrite:
            fields.append((DELETED_FIELD, OPTIONAL_STRING))
        return rebuild_struct_schema(row_schema, fields)
