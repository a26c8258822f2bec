"""Hypothesis strategies: Connect schemas and values that fit them."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from hypothesis import strategies as st

from faust_connect.data import (
    BOOLEAN,
    BYTES,
    DATE,
    FLOAT32,
    FLOAT64,
    INT8,
    INT16,
    INT32,
    INT64,
    STRING,
    TIME,
    TIMESTAMP,
    Logical,
    Schema,
    Struct,
    Type,
    array_schema,
    decimal_schema,
    map_schema,
    struct_schema,
)

_PRIMITIVES = [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]
_LOGICAL = [DATE, TIME, TIMESTAMP]
_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
_RANGES = {
    Type.INT8: 2**7,
    Type.INT16: 2**15,
    Type.INT32: 2**31,
    Type.INT64: 2**63,
}


def _maybe_optional(schema: Schema) -> st.SearchStrategy[Schema]:
    return st.sampled_from([schema, schema.as_optional()])


def primitive_schemas() -> st.SearchStrategy[Schema]:
    """Primitive and logical schemas, optional or not."""
    base = st.one_of(
        st.sampled_from(_PRIMITIVES + _LOGICAL),
        st.integers(0, 6).map(decimal_schema),
    )
    return base.flatmap(_maybe_optional)


def key_schemas() -> st.SearchStrategy[Schema]:
    """Map key schemas (required primitives)."""
    return st.sampled_from([INT8, INT32, INT64, STRING, BOOLEAN])


def schemas(*, named_structs: bool = False) -> st.SearchStrategy[Schema]:
    """Nested schemas: primitives, arrays, maps and structs."""

    def extend(children: st.SearchStrategy[Schema]) -> st.SearchStrategy[Schema]:
        arrays = children.map(array_schema)
        maps = st.builds(map_schema, key_schemas(), children)
        structs = st.lists(
            st.tuples(_NAMES, children), min_size=1, max_size=4, unique_by=lambda f: f[0]
        ).map(lambda fields: struct_schema(fields))
        nested = st.one_of(arrays, maps, structs)
        return nested.flatmap(_maybe_optional)

    tree = st.recursive(primitive_schemas(), extend, max_leaves=8)
    top = st.lists(st.tuples(_NAMES, tree), min_size=1, max_size=5, unique_by=lambda f: f[0])
    names = (
        st.just(None)
        if not named_structs
        else st.from_regex(r"ns\.[A-Z][a-z]{0,5}", fullmatch=True)
    )
    return st.builds(lambda fields, name: struct_schema(fields, name=name), top, names)


def values(schema: Schema, *, float32_exact: bool = False) -> st.SearchStrategy[Any]:
    """Values that fit ``schema`` (None sometimes, when it is optional)."""
    strategy = _non_null(schema, float32_exact)
    if schema.optional:
        return st.one_of(st.none(), strategy)
    return strategy


def _non_null(schema: Schema, f32: bool) -> st.SearchStrategy[Any]:
    name = schema.name
    if name == Logical.DECIMAL:
        scale = int(schema.parameters["scale"])
        return st.integers(-(10**20), 10**20).map(lambda n: decimal.Decimal(n).scaleb(-scale))
    if name == Logical.DATE:
        return st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))
    if name == Logical.TIME:
        return st.integers(0, 86_399_999).map(
            lambda ms: dt.time(
                ms // 3_600_000, ms // 60_000 % 60, ms // 1000 % 60, ms % 1000 * 1000
            )
        )
    if name == Logical.TIMESTAMP:
        return st.integers(-(10**13), 10**13).map(
            lambda ms: dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)
        )
    kind = schema.type
    if kind in _RANGES:
        return st.integers(-_RANGES[kind], _RANGES[kind] - 1)
    if kind is Type.FLOAT32:
        return st.floats(allow_nan=False, allow_infinity=False, width=32 if f32 else 64)
    if kind is Type.FLOAT64:
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind is Type.BOOLEAN:
        return st.booleans()
    if kind is Type.STRING:
        return st.text(max_size=20)
    if kind is Type.BYTES:
        return st.binary(max_size=20)
    if kind is Type.ARRAY:
        assert schema.value_schema is not None
        return st.lists(values(schema.value_schema, float32_exact=f32), max_size=4)
    if kind is Type.MAP:
        assert schema.key_schema is not None and schema.value_schema is not None
        return st.dictionaries(
            values(schema.key_schema, float32_exact=f32),
            values(schema.value_schema, float32_exact=f32),
            max_size=4,
        )
    fields = {f.name: values(f.schema, float32_exact=f32) for f in schema.fields}
    return st.fixed_dictionaries(fields).map(lambda d: Struct(schema, d))


def schema_and_value(
    *, named_structs: bool = False, float32_exact: bool = False
) -> st.SearchStrategy[tuple[Schema, Any]]:
    """A struct schema and a value of it."""
    return schemas(named_structs=named_structs).flatmap(
        lambda s: st.tuples(st.just(s), values(s, float32_exact=float32_exact))
    )


def plain_json() -> st.SearchStrategy[Any]:
    """Schemaless JSON-ready values (as a schemaless read gives them back)."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=10),
    )
    return st.recursive(
        scalars,
        lambda c: st.one_of(
            st.lists(c, max_size=4), st.dictionaries(st.text(max_size=5), c, max_size=4)
        ),
        max_leaves=10,
    )
