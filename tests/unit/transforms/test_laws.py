"""Properties that hold for any input (Hypothesis)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faust_connect.data import INT64, OPTIONAL_STRING, Struct, struct_schema
from faust_connect.exceptions import TransformError
from faust_connect.records import Header, Headers, SourceRecord
from faust_connect.transforms import (
    Chain,
    DropHeaders,
    Filter,
    Flatten,
    InsertField,
    RecordIsTombstone,
    RegexRouter,
    ReplaceField,
    Stage,
    TimestampConverter,
    TopicNameMatches,
)
from faust_connect.transforms.dateformat import DateFormat

names = st.from_regex(r"[a-z]{1,6}", fullmatch=True)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=8))
flat_maps = st.dictionaries(names, scalars, max_size=8)
topics = st.from_regex(r"[a-z][a-z.\-]{0,10}", fullmatch=True)


@st.composite
def records(draw: st.DrawFn) -> SourceRecord:
    value = draw(st.one_of(st.none(), flat_maps))
    header_keys = draw(st.lists(names, max_size=3))
    return SourceRecord(
        topic=draw(topics),
        key=draw(st.one_of(st.none(), st.text(max_size=4))),
        value=value,
        headers=Headers(Header(k, i) for i, k in enumerate(header_keys)),
        timestamp=draw(st.one_of(st.none(), st.integers(0, 2**41))),
    )


@st.composite
def renames(draw: st.DrawFn) -> tuple[dict[str, int], dict[str, str]]:
    """A flat map and an injective rename of some of its fields (prefixes or a permutation)."""
    value = draw(st.dictionaries(names, st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=8))
    chosen = draw(st.lists(st.sampled_from(sorted(value)), unique=True))
    if draw(st.booleans()):
        mapping = {n: "r_" + n for n in chosen}
    else:
        shuffled = draw(st.permutations(chosen))
        mapping = dict(zip(chosen, shuffled, strict=True))
    return value, mapping


def _spec(mapping: dict[str, str]) -> tuple[str, ...]:
    return tuple(f"{old}:{new}" for old, new in mapping.items())


@given(renames())
def test_rename_then_reverse_rename_is_identity_schemaless(
    case: tuple[dict[str, int], dict[str, str]],
) -> None:
    value, mapping = case
    forward = ReplaceField(renames=_spec(mapping))
    back = ReplaceField(renames=_spec({new: old for old, new in mapping.items()}))
    out = (forward | back).apply(SourceRecord(topic="t", value=value))
    assert out is not None and out.value == value and list(out.value) == list(value)


@given(renames())
def test_rename_then_reverse_rename_is_identity_with_schema(
    case: tuple[dict[str, int], dict[str, str]],
) -> None:
    value, mapping = case
    schema = struct_schema([(k, INT64) for k in value], name="rec", version=2)
    record = SourceRecord(topic="t", value=Struct(schema, value), value_schema=schema)
    forward = ReplaceField(renames=_spec(mapping))
    back = ReplaceField(renames=_spec({new: old for old, new in mapping.items()}))
    out = (forward | back).apply(record)
    assert out is not None and out.value_schema == schema and out.value == record.value


@given(flat_maps)
def test_flatten_of_flat_map_is_identity(value: dict[str, object]) -> None:
    out = Flatten().apply(SourceRecord(topic="t", value=value))
    assert out is not None and out.value == value


@given(st.dictionaries(names, st.one_of(st.none(), st.text(max_size=5)), max_size=8))
def test_flatten_of_flat_struct_is_identity(value: dict[str, str | None]) -> None:
    schema = struct_schema([(k, OPTIONAL_STRING) for k in value], name="flat")
    record = SourceRecord(topic="t", value=Struct(schema, value), value_schema=schema)
    out = Flatten().apply(record)
    assert out is not None and out.value_schema == schema and out.value == record.value


@given(st.lists(records(), max_size=20))
def test_filter_under_false_predicate_passes_all(batch: list[SourceRecord]) -> None:
    never = Stage(Filter(), TopicNameMatches(pattern="[0-9]+"))
    assert Chain([never]).apply_batch(batch) == batch
    not_tombstones = [r for r in batch if r.value is not None]
    assert Chain([Stage(Filter(), RecordIsTombstone())]).apply_batch(batch) == not_tombstones
    assert Chain([Stage(Filter(), RecordIsTombstone(), negate=True)]).apply_batch(batch) == [
        r for r in batch if r.value is None
    ]


@given(st.lists(records(), max_size=20))
def test_chain_of_identity_like_transforms_preserves_records(batch: list[SourceRecord]) -> None:
    chain = (
        ReplaceField()
        | Flatten()
        | InsertField()
        | RegexRouter(regex="[0-9]+", replacement="x")
        | DropHeaders(headers=("NOT_A_HEADER",))
    )
    assert chain.apply_batch(batch) == batch
    assert [chain.apply(r) for r in batch] == batch


@given(st.integers(-(2**34), 2**34), st.sampled_from(["seconds", "milliseconds", "microseconds"]))
def test_unix_timestamp_round_trip(unix: int, precision: str) -> None:
    to_ts = TimestampConverter(target_type="Timestamp", unix_precision=precision)
    to_unix = TimestampConverter(target_type="unix", unix_precision=precision)
    out = (to_ts | to_unix).apply(SourceRecord(topic="t", value=unix))
    assert out is not None and out.value == unix


@given(
    st.datetimes(
        min_value=dt.datetime(1000, 1, 1),
        max_value=dt.datetime(9999, 12, 31),
        timezones=st.just(dt.UTC),
    )
)
def test_date_format_round_trip(when: dt.datetime) -> None:
    when = when.replace(microsecond=when.microsecond // 1000 * 1000)
    fmt = DateFormat("yyyy-MM-dd'T'HH:mm:ss.SSSZ")
    assert fmt.parse(fmt.format(when)) == when


def test_unix_timestamp_out_of_range_is_a_transform_error() -> None:
    with pytest.raises(TransformError, match="out of range"):
        TimestampConverter(target_type="Timestamp", unix_precision="seconds").apply(
            SourceRecord(topic="t", value=-(2**40))
        )
