"""Field-level transforms: InsertField, ReplaceField, MaskField, ValueToKey.

Each works on a Struct when the record part has a schema (the output schema is derived once per
input schema and cached) and on a dict when it has none.

>>> from faust_connect.records import SourceRecord
>>> t = ReplaceField(renames=("foo:c1", "bar:c2"))
>>> t.apply(SourceRecord(topic="t", value={"foo": 1, "bar": 2, "baz": 3})).value
{'c1': 1, 'c2': 2, 'baz': 3}
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import Field, field_validator

from faust_connect.config import CommaList, PluginConfig
from faust_connect.data import (
    INT32,
    INT64,
    STRING,
    TIMESTAMP,
    Schema,
    Struct,
    Type,
    struct_schema,
)
from faust_connect.records import ConnectRecord, SinkRecord
from faust_connect.transforms._util import (
    NULL_DEFAULT_DOC,
    SchemaCache,
    StructMapTransform,
    TargetConfig,
    Values,
    describe,
    rebuild_struct_schema,
    struct_values,
)
from faust_connect.transforms.base import Transform

__all__ = ["InsertField", "MaskField", "ReplaceField", "ValueToKey"]

R = TypeVar("R", bound=ConnectRecord)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# -- InsertField ------------------------------------------------------------------------------


class InsertFieldConfig(TargetConfig):
    """Keys of InsertField. A ``!`` suffix makes the field required, ``?`` (default) optional."""

    topic_field: str | None = Field(None, description="Field name for the record topic.")
    partition_field: str | None = Field(None, description="Field name for the partition.")
    offset_field: str | None = Field(None, description="Field name for the offset (sinks).")
    timestamp_field: str | None = Field(None, description="Field name for the record timestamp.")
    static_field: str | None = Field(None, description="Field name for a static data field.")
    static_value: str | None = Field(None, description="The static value for static.field.")
    replace_null_with_default: bool = Field(True, description=NULL_DEFAULT_DOC)


def _field_spec(spec: str | None) -> tuple[str, bool] | None:
    if not spec:
        return None
    if spec.endswith("!"):
        return spec[:-1], False
    return spec.removesuffix("?"), True


class InsertField(StructMapTransform):
    """Insert the record's topic, partition, offset, timestamp and/or a static value as fields.

    Tombstones (null key/value) pass unchanged. Timestamps are Timestamp (``datetime``) values
    with a schema and epoch milliseconds without one.
    """

    Config = InsertFieldConfig
    config: InsertFieldConfig
    action = "field insertion"

    def configure(self) -> None:
        c = self.config
        specs = [
            ("topic", _field_spec(c.topic_field), STRING),
            ("partition", _field_spec(c.partition_field), INT32),
            ("offset", _field_spec(c.offset_field), INT64),
            ("timestamp", _field_spec(c.timestamp_field), TIMESTAMP),
            ("static", _field_spec(c.static_field), STRING),
        ]
        self._fields = [
            (kind, name, schema.as_optional() if optional else schema)
            for kind, spec, schema in specs
            if spec is not None
            for name, optional in [spec]
        ]
        self._schemas: SchemaCache[Schema, Schema] = SchemaCache()
        self._last_ts: int | None = None
        self._last_time: dt.datetime | None = None

    def _values(self, record: ConnectRecord, schemaless: bool) -> list[Any]:
        out: list[Any] = []
        for kind, name, schema in self._fields:
            if kind == "static":
                value: Any = self.config.static_value
            elif kind == "timestamp":
                ts = record.timestamp
                if schemaless or ts is None:
                    value = ts
                elif ts == self._last_ts:  # records of a batch often share a millisecond
                    value = self._last_time
                else:
                    value = _EPOCH + dt.timedelta(milliseconds=ts)
                    self._last_ts, self._last_time = ts, value
            elif kind == "topic":
                value = record.topic
            elif kind == "partition":
                value = record.partition
            else:
                if not isinstance(record, SinkRecord):
                    raise self.fail(
                        f"offset.field needs a sink record, not {type(record).__name__}"
                    )
                value = record.offset
            if value is None and not schema.optional:
                raise self.fail(f"no {kind} for required field {name!r}")
            out.append(value)
        return out

    def on_map(self, record: ConnectRecord, value: Mapping[str, Any]) -> dict[str, Any]:
        """The map with the configured fields added."""
        updated = dict(value)
        for (_, name, _), new in zip(self._fields, self._values(record, True), strict=True):
            updated[name] = new
        return updated

    def on_values(
        self, record: ConnectRecord, schema: Schema, values: Values, fields: Schema | None = None
    ) -> tuple[Schema, list[Any]]:
        """The struct with the configured fields added."""
        new_schema = self._schemas.get_or(schema, self._new_schema)
        out = list(self.filled(schema, values, fields)[1])
        out.extend(self._values(record, False))
        return new_schema, out

    def _new_schema(self, schema: Schema) -> Schema:
        fields = [(f.name, f.schema) for f in schema.fields]
        fields.extend((name, field_schema) for _, name, field_schema in self._fields)
        return rebuild_struct_schema(schema, fields)


# -- ReplaceField -----------------------------------------------------------------------------


class ReplaceFieldConfig(TargetConfig):
    """Keys of ReplaceField; ``blacklist``/``whitelist`` are the pre-4.0 names."""

    exclude: CommaList = Field((), description="Fields to drop; wins over include.")
    include: CommaList = Field((), description="Fields to keep; empty keeps all.")
    renames: CommaList = Field((), description="Renames as old:new pairs, e.g. foo:c1,bar:c2.")
    blacklist: CommaList = Field((), description="Deprecated alias of exclude.")
    whitelist: CommaList = Field((), description="Deprecated alias of include.")
    replace_null_with_default: bool = Field(True, description=NULL_DEFAULT_DOC)

    @field_validator("renames")
    @classmethod
    def _check_renames(cls, renames: tuple[str, ...]) -> tuple[str, ...]:
        for pair in renames:
            old, sep, new = pair.partition(":")
            if not sep or not old or not new or ":" in new:
                raise ValueError(f"invalid rename mapping {pair!r}; expected old:new")
        return renames


class ReplaceField(StructMapTransform):
    """Drop, keep and rename fields; excluded fields go, then included ones stay, then renames."""

    Config = ReplaceFieldConfig
    config: ReplaceFieldConfig
    action = "field replacement"

    def configure(self) -> None:
        c = self.config
        self._exclude = frozenset(c.exclude) | frozenset(c.blacklist)
        self._include = frozenset(c.include) | frozenset(c.whitelist)
        self._renames = dict(pair.split(":", 1) for pair in c.renames)
        #: Per input schema: the output schema and, per output field, its input field index.
        self._plans: SchemaCache[Schema, tuple[Schema, list[int]]] = SchemaCache()

    def _keep(self, name: str) -> bool:
        return name not in self._exclude and (not self._include or name in self._include)

    def on_map(self, record: ConnectRecord, value: Mapping[str, Any]) -> dict[str, Any]:
        """The map with its fields filtered and renamed."""
        rename, keep = self._renames.get, self._keep
        return {rename(k, k): v for k, v in value.items() if keep(k)}

    def on_values(
        self, record: ConnectRecord, schema: Schema, values: Values, fields: Schema | None = None
    ) -> tuple[Schema, list[Any]]:
        """The struct with its fields filtered and renamed."""
        new_schema, indices = self._plans.get_or(schema, self._plan)
        current = self.filled(schema, values, fields)[1]
        return new_schema, [current[i] for i in indices]

    def _plan(self, schema: Schema) -> tuple[Schema, list[int]]:
        kept = [f for f in schema.fields if self._keep(f.name)]
        new_schema = rebuild_struct_schema(
            schema, [(self._renames.get(f.name, f.name), f.schema) for f in kept]
        )
        return new_schema, [f.index for f in kept]


# -- MaskField --------------------------------------------------------------------------------


class MaskFieldConfig(TargetConfig):
    """Keys of MaskField."""

    fields: CommaList = Field(description="Names of fields to mask.", min_length=1)
    replacement: str | None = Field(
        None, description="Custom replacement for numbers and strings; default: an empty value."
    )
    replace_null_with_default: bool = Field(True, description=NULL_DEFAULT_DOC)


_INT_RANGES = {
    Type.INT8: 2**7,
    Type.INT16: 2**15,
    Type.INT32: 2**31,
    Type.INT64: 2**63,
}


class MaskField(StructMapTransform):
    """Replace fields with their type's empty value (0, False, "", epoch, []), or a replacement.

    Null fields stay null. A custom replacement applies to numbers and strings only. As in Kafka,
    a masked field missing from a map is added as null, and one missing from a schema is ignored.
    """

    Config = MaskFieldConfig
    config: MaskFieldConfig
    action = "masking"

    def configure(self) -> None:
        self._fields = frozenset(self.config.fields)

    def _empty(self, value: Any, name: str) -> Any:
        if isinstance(value, bool):
            return False
        if isinstance(value, (int, float, decimal.Decimal, str, list, dict)):
            return type(value)()
        if isinstance(value, dt.datetime):
            return _EPOCH if value.tzinfo else _EPOCH.replace(tzinfo=None)
        if isinstance(value, dt.date):
            return _EPOCH.date()
        if isinstance(value, dt.time):
            return dt.time(0)
        raise self.fail(f"cannot mask field {name!r} of type {type(value).__name__}")

    def _masked(self, value: Any, name: str, schema: Schema | None) -> Any:
        if value is None:
            return None
        replacement = self.config.replacement
        if replacement is None:
            return self._empty(value, name)
        try:
            if isinstance(value, str):
                return replacement
            if isinstance(value, bool):
                pass
            elif isinstance(value, int):
                number = int(replacement)
                bound = _INT_RANGES.get(schema.type) if schema is not None else None
                if bound is not None and not -bound <= number < bound:
                    raise ValueError(f"{number} is out of range for {schema.type}")  # type: ignore[union-attr]  # bound implies schema
                return number
            elif isinstance(value, float):
                return float(replacement)
            elif isinstance(value, decimal.Decimal):
                return decimal.Decimal(replacement)
        except (ValueError, decimal.InvalidOperation) as exc:
            raise self.fail(
                f"replacement {replacement!r} does not fit field {name!r}: {exc}"
            ) from exc
        raise self.fail(
            f"cannot mask field {name!r} of type {type(value).__name__} with a custom replacement"
        )

    def on_map(self, record: ConnectRecord, value: Mapping[str, Any]) -> dict[str, Any]:
        """The map with the configured fields masked."""
        updated = dict(value)
        for name in self.config.fields:  # like Kafka, a missing field is added as null
            updated[name] = self._masked(value.get(name), name, None)
        return updated

    def on_values(
        self, record: ConnectRecord, schema: Schema, values: Values, fields: Schema | None = None
    ) -> tuple[Schema, list[Any]]:
        """The struct with the configured fields masked."""
        fields, filled = self.filled(schema, values, fields)
        current = dict(zip((f.name for f in fields.fields), filled, strict=True))
        return schema, [
            self._masked(current[f.name], f.name, f.schema)
            if f.name in self._fields
            else current[f.name]
            for f in schema.fields
        ]


# -- ValueToKey -------------------------------------------------------------------------------


class ValueToKeyConfig(PluginConfig):
    """Keys of ValueToKey (it always reads the value and writes the key)."""

    fields: CommaList = Field(description="Value fields to copy into the key.", min_length=1)
    replace_null_with_default: bool = Field(True, description=NULL_DEFAULT_DOC)


class ValueToKey(Transform):
    """Replace the key with a struct (or map) of some of the value's fields."""

    Config = ValueToKeyConfig
    config: ValueToKeyConfig

    def configure(self) -> None:
        self._schemas: SchemaCache[Schema, Schema] = SchemaCache()

    def apply(self, record: R) -> R | None:
        """The record with its key built from value fields."""
        fields = self.config.fields
        value = record.value
        if record.value_schema is None:
            if not isinstance(value, Mapping):
                raise self.fail(f"schemaless copy to key needs a map value, not {describe(value)}")
            return record.replace(key_schema=None, key={f: value.get(f) for f in fields})
        if not isinstance(value, Struct):
            raise self.fail(f"copy to key needs a struct value, not {describe(value)}")
        key_schema = self._schemas.get_or(value.schema, self._key_schema)
        current = struct_values(value, self.config.replace_null_with_default)
        key = Struct.trusted(key_schema, [current[f] for f in fields])
        return record.replace(key_schema=key_schema, key=key)

    def _key_schema(self, schema: Schema) -> Schema:
        missing = [f for f in self.config.fields if schema.field(f) is None]
        if missing:
            raise self.fail(f"{missing[0]!r} is not a field of the value schema")
        return struct_schema([(f, schema.require_field(f).schema) for f in self.config.fields])
