"""TimestampConverter: convert timestamps between strings, unix numbers and the logical types.

Input kinds come from the schema (Timestamp, Date, Time, INT64 = unix, STRING) or, without one,
from the Python value (datetime, date, time, int, str). All conversions are in UTC.

>>> from faust_connect.records import SourceRecord
>>> t = TimestampConverter(target_type="string", field="ts", format="yyyy-MM-dd")
>>> t.apply(SourceRecord(topic="t", value={"ts": 1_700_000_000_000})).value
{'ts': '2023-11-14'}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from faust_connect.data import (
    DATE,
    INT64,
    STRING,
    TIME,
    TIMESTAMP,
    Logical,
    Schema,
    Type,
)
from faust_connect.records import ConnectRecord
from faust_connect.transforms._util import (
    NULL_DEFAULT_DOC,
    SchemaCache,
    StructMapTransform,
    TargetConfig,
    Values,
    rebuild_struct_schema,
)
from faust_connect.transforms.base import StructValuesFn
from faust_connect.transforms.dateformat import DateFormat

__all__ = ["TimestampConverter"]

TargetType = Literal["string", "unix", "Date", "Time", "Timestamp"]
Precision = Literal["seconds", "milliseconds", "microseconds", "nanoseconds"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: Nanoseconds per unit of unix.precision.
_NANOS: dict[str, int] = {
    "seconds": 1_000_000_000,
    "milliseconds": 1_000_000,
    "microseconds": 1_000,
    "nanoseconds": 1,
}
_SCHEMAS: dict[str, Schema] = {
    "string": STRING,
    "unix": INT64,
    "Date": DATE,
    "Time": TIME,
    "Timestamp": TIMESTAMP,
}


class TimestampConverterConfig(TargetConfig):
    """Keys of TimestampConverter."""

    target_type: TargetType = Field(
        description="The output: string, unix, Date, Time or Timestamp."
    )
    field: str = Field("", description="The field holding the timestamp; empty: the whole value.")
    format: str = Field(
        "",
        description="A SimpleDateFormat pattern; required when reading or writing strings.",
        validate_default=True,
    )
    unix_precision: Precision = Field(
        "milliseconds", description="Unit of unix timestamps read or written."
    )
    replace_null_with_default: bool = Field(True, description=NULL_DEFAULT_DOC)

    @field_validator("format")
    @classmethod
    def _check_format(cls, pattern: str, info: ValidationInfo) -> str:
        if pattern:
            DateFormat(pattern)
        elif info.data.get("target_type") == "string":
            raise ValueError("a format is required when target.type is string")
        return pattern


class TimestampConverter(StructMapTransform):
    """Convert a timestamp field (or the whole key/value) to another representation."""

    Config = TimestampConverterConfig
    config: TimestampConverterConfig
    action = "field conversion"

    def configure(self) -> None:
        c = self.config
        self._format = DateFormat(c.format) if c.format else None
        self._unit = _NANOS[c.unix_precision]
        self._schemas: SchemaCache[Schema, Schema] = SchemaCache()

    # -- conversions --------------------------------------------------------------------------

    def _read(self, value: Any, schema: Schema | None) -> dt.datetime:
        kind = _kind(schema) if schema is not None else _kind_of(value)
        if kind is None:
            raise self.fail(f"schema {schema!r} is not a timestamp schema")
        if kind == "Timestamp" and isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        if kind == "Date" and isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
        if kind == "Time" and isinstance(value, dt.time):
            return dt.datetime.combine(_EPOCH.date(), value.replace(tzinfo=None), dt.UTC)
        if kind == "unix" and isinstance(value, int) and not isinstance(value, bool):
            try:
                return _EPOCH + dt.timedelta(microseconds=value * self._unit // 1000)
            except OverflowError:
                raise self.fail(f"unix timestamp {value} is out of range") from None
        if kind == "string" and isinstance(value, str):
            if self._format is None:
                raise self.fail("reading a string timestamp needs the format option")
            try:
                return self._format.parse(value)
            except ValueError as exc:
                raise self.fail(str(exc)) from exc
        raise self.fail(f"cannot read a timestamp from {type(value).__name__} ({kind})")

    def _write(self, when: dt.datetime) -> Any:
        target = self.config.target_type
        if target == "Timestamp":
            return when
        if target == "unix":
            micros = (when - _EPOCH) // dt.timedelta(microseconds=1)
            return micros * 1000 // self._unit
        if target == "Date":
            return when.date()
        if target == "Time":
            return when.time()
        assert self._format is not None  # the config requires a format for strings
        return self._format.format(when)

    def _convert(self, value: Any, schema: Schema | None) -> Any:
        return None if value is None else self._write(self._read(value, schema))

    # -- records ------------------------------------------------------------------------------

    def apply_part(
        self, record: ConnectRecord, schema: Schema | None, value: Any
    ) -> tuple[Schema | None, Any]:
        """The key or value with the timestamp (field) converted."""
        if self.config.field:
            return super().apply_part(record, schema, value)
        new_schema = None if schema is None else self._schemas.get_or(schema, self._out_schema)
        return new_schema, self._convert(value, schema)

    def values_path(self) -> StructValuesFn | None:
        """The struct case on values (see PartTransform); none when converting the whole part."""
        return self.on_values if self.config.field else None

    def on_map(self, record: ConnectRecord, value: Mapping[str, Any]) -> dict[str, Any]:
        """The map with the timestamp field converted."""
        name = self.config.field
        updated = dict(value)
        if name in updated:
            updated[name] = self._convert(updated[name], None)
        return updated

    def on_values(
        self, record: ConnectRecord, schema: Schema, values: Values, fields: Schema | None = None
    ) -> tuple[Schema, list[Any]]:
        """The struct with the timestamp field converted."""
        name = self.config.field
        field = schema.field(name)
        if field is None:
            raise self.fail(f"{name!r} is not a field of the {self.target} schema")
        new_schema = self._schemas.get_or(schema, self._struct_schema)
        fields, filled = self.filled(schema, values, fields)
        current = dict(zip((f.name for f in fields.fields), filled, strict=True))
        current[name] = self._convert(current[name], field.schema)
        return new_schema, [current[f.name] for f in new_schema.fields]

    def _out_schema(self, schema: Schema) -> Schema:
        if _kind(schema) is None:
            raise self.fail(f"schema {schema!r} is not a timestamp schema")
        out = _SCHEMAS[self.config.target_type]
        return out.as_optional() if schema.optional else out

    def _struct_schema(self, schema: Schema) -> Schema:
        if schema.type is not Type.STRUCT:
            raise self.fail(f"field conversion needs a struct schema, not {schema.type}")
        return rebuild_struct_schema(
            schema,
            [
                (f.name, self._out_schema(f.schema) if f.name == self.config.field else f.schema)
                for f in schema.fields
            ],
        )


def _kind(schema: Schema) -> str | None:
    if schema.name == Logical.TIMESTAMP:
        return "Timestamp"
    if schema.name == Logical.DATE:
        return "Date"
    if schema.name == Logical.TIME:
        return "Time"
    if schema.type is Type.INT64:
        return "unix"
    if schema.type is Type.STRING:
        return "string"
    return None


def _kind_of(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return "Timestamp"
    if isinstance(value, dt.date):
        return "Date"
    if isinstance(value, dt.time):
        return "Time"
    if isinstance(value, str):
        return "string"
    return "unix"
