"""Stage, Chain and plugin construction: Kafka's TransformationStage semantics, batches, Faust."""

from __future__ import annotations

from typing import Any, TypeVar

import faust
import pytest

from faust_connect.data import INT32, STRING, Schema, Struct, Type, struct_schema
from faust_connect.exceptions import ConfigError, TransformError
from faust_connect.records import ConnectRecord, SinkRecord
from faust_connect.transforms import (
    Cast,
    Chain,
    Filter,
    Flatten,
    HoistField,
    InsertField,
    MaskField,
    Predicate,
    RecordIsTombstone,
    RegexRouter,
    ReplaceField,
    Stage,
    TimestampConverter,
    TopicNameMatches,
    Transform,
)

from .helpers import USER, src, user

R = TypeVar("R", bound=ConnectRecord)


class Upper(Transform):
    """Upper-cases the topic."""

    def apply(self, record: R) -> R | None:
        return record.replace(topic=record.topic.upper())


class Boom(Transform):
    """Fails on values equal to 'bad' with a plain exception."""

    def apply(self, record: R) -> R | None:
        if record.value == "bad":
            raise KeyError("no such thing")
        return record


class Always(Predicate):
    """A predicate with a fixed answer (set after construction)."""

    answer = True

    def test(self, record: ConnectRecord) -> bool:
        return self.answer


@pytest.mark.parametrize(
    ("answer", "negate", "applied"),
    [(True, False, True), (False, False, False), (True, True, False), (False, True, True)],
)
def test_stage_applies_when_negate_xor_predicate(answer: bool, negate: bool, applied: bool) -> None:
    predicate = Always()
    predicate.answer = answer
    stage = Stage(Upper(), predicate, negate)
    out = stage.apply(src(1, topic="t"))
    assert out is not None
    assert (out.topic == "T") is applied


def test_stage_without_predicate_always_applies() -> None:
    assert Stage(Filter()).apply(src(1)) is None
    assert Stage(Filter(), None, negate=True).apply(src(1)) is None


def test_pipe_builds_chain_in_order() -> None:
    chain = Upper() | RegexRouter(regex="T", replacement="u") | Upper()
    assert isinstance(chain, Chain)
    assert len(chain) == 3
    out = chain.apply(src(1, topic="t"))
    assert out is not None and out.topic == "U"
    longer = chain | (Upper() | Filter())
    assert len(longer) == 5
    assert longer.apply(src(1)) is None


def test_stage_and_when_compose() -> None:
    chain = Filter().when(RecordIsTombstone()) | Upper()
    assert [s.predicate is not None for s in chain.stages] == [True, False]
    assert Stage(Upper()) | Upper() is not None


def test_empty_chain_is_identity() -> None:
    records = [src(i) for i in range(3)]
    assert Chain().apply_batch(records) == records
    assert Chain().apply(records[0]) is records[0]


def test_batch_matches_per_record_and_keeps_order() -> None:
    chain = Filter().when(TopicNameMatches(pattern="drop-.*")) | HoistField(field="v") | Upper()
    records = [src(i, topic="drop-me" if i % 3 == 0 else f"keep{i}") for i in range(20)]
    expected = [r for r in map(chain.apply, records) if r is not None]
    assert chain.apply_batch(records) == expected
    assert [r.value for r in expected] == [{"v": i} for i in range(20) if i % 3]
    assert all(r.topic.startswith("KEEP") for r in expected)


def test_batch_does_not_mutate_input() -> None:
    value = {"a": 1}
    records = [src(value)]
    result = (InsertField(static_field="s", static_value="x") | Upper()).apply_batch(records)
    assert value == {"a": 1}
    assert records[0].value is value and records[0].topic == "t"
    assert result[0].value == {"a": 1, "s": "x"}


def test_errors_name_the_transform_alias() -> None:
    chain = Chain([Stage(Upper()), Stage(Boom(alias="explode"))])
    with pytest.raises(TransformError, match=r"^explode: KeyError"):
        chain.apply(src("bad"))
    with pytest.raises(TransformError, match="explode"):
        chain.apply_batch([src("ok"), src("bad")])


def test_builtin_errors_name_alias_or_class() -> None:
    with pytest.raises(TransformError, match=r"^HoistField|^InsertField"):
        InsertField(static_field="s", static_value="x").apply(src("not a map"))
    with pytest.raises(TransformError, match=r"^ins:"):
        InsertField(alias="ins", static_field="s", static_value="x").apply(src(5))


def test_batch_on_error_reports_original_record_and_keeps_others() -> None:
    failed: list[tuple[Any, TransformError]] = []
    chain = Upper() | Boom(alias="b") | HoistField(field="v")
    records = [src("a"), src("bad"), src("c")]
    out = chain.apply_batch(records, on_error=lambda r, e: failed.append((r, e)))
    assert [r.value for r in out] == [{"v": "a"}, {"v": "c"}]
    assert [r for r, _ in failed] == [records[1]]
    assert "b:" in str(failed[0][1])


def test_construction_is_keyword_only_and_validated() -> None:
    with pytest.raises(TypeError):
        HoistField("line")  # type: ignore[call-arg]  # positional on purpose
    with pytest.raises(ConfigError) as info:
        HoistField(feild="line")
    assert {i.key for i in info.value.issues} == {"field", "feild"}


def test_from_config_reads_dotted_keys_and_prefixes_issues() -> None:
    t = InsertField.from_config({"static.field": "s", "static.value": "v"})
    assert t.apply(src({})).value == {"s": "v"}  # type: ignore[union-attr]
    with pytest.raises(ConfigError) as info:
        InsertField.from_config({"static.feld": "s"}, prefix="transforms.i.")
    assert [i.key for i in info.value.issues] == ["transforms.i.static.feld"]


def test_repr_shows_settings() -> None:
    assert repr(HoistField(field="line")) == "HoistField(field='line')"
    assert repr(Upper() | Filter()) == "Upper | Filter"


# -- Faust ------------------------------------------------------------------------------------


@pytest.fixture
def app() -> faust.App:
    return faust.App("faust-connect-transforms-test", store="memory://")


async def test_chain_stream_over_a_faust_stream(app: faust.App) -> None:
    chain = Filter().when(RecordIsTombstone()) | HoistField(field="v")
    stream = app.stream([src(1), src(None), src(2)])
    out = [r.value async for r in chain.stream(stream)]
    assert out == [{"v": 1}, {"v": 2}]


async def test_chain_processor_on_a_faust_stream(app: faust.App) -> None:
    chain = Filter().when(RecordIsTombstone()) | Upper()
    stream = app.stream([src(1, topic="a"), src(None), src(2, topic="b")])
    stream.add_processor(chain.processor)
    topics = [r.topic async for r in stream]
    assert topics == ["A", "B"]


async def test_chain_stream_passes_batches(app: faust.App) -> None:
    chain = Filter().when(RecordIsTombstone()) | Upper()
    stream = app.stream([[src(1, topic="a"), src(None)], [src(None)]])
    batches = [[r.topic for r in batch] async for batch in chain.stream(stream)]
    assert batches == [["A"], []]


# -- runs of PartTransforms: one copy per record for the whole run -------------------------------


def _four(target: str = "value") -> Chain:
    return (
        Flatten(target=target, delimiter="_")
        | ReplaceField(target=target, renames=("id:uid",), exclude=("visits",))
        | Cast(target=target, spec=("uid:string",))
        | InsertField(target=target, static_field="s", static_value="x", offset_field="o")
    )


@pytest.mark.parametrize("target", ["value", "key"])
def test_a_run_of_part_transforms_matches_stage_by_stage(target: str) -> None:
    chain = _four(target)

    def record(value: Any, schema: Any = None, offset: int = 42) -> SinkRecord:
        if target == "value":
            return SinkRecord(topic="t", offset=offset, value=value, value_schema=schema)
        return SinkRecord(topic="t", offset=offset, key=value, key_schema=schema)

    def part(r: SinkRecord) -> Any:
        return r.value if target == "value" else r.key

    records = [record(user(id=i), USER, i) for i in range(5)]
    records += [record({"id": 9, "nested": {"a": 1}}), record(None)]  # schemaless; tombstone
    by_stage = [r for r in map(chain.apply, records) if r is not None]
    batch = chain.apply_batch(records)
    assert batch == by_stage
    assert part(batch[1]).as_dict() == {
        "uid": "1", "name": "ann", "email": "ann@example.com", "s": "x", "o": 1
    }  # fmt: skip
    assert part(batch[5]) == {"uid": "9", "nested_a": 1, "s": "x", "o": 42}
    assert batch[6] is records[6]
    assert part(records[0]) == user(id=0)  # inputs untouched


def test_runs_split_at_a_predicate_or_another_part() -> None:
    hoisted: list[Any] = []

    class Spy(Transform):
        def apply(self, record: R) -> R | None:
            hoisted.append(record.value)
            return record

    chain = (
        InsertField(static_field="a", static_value="1")
        | InsertField(target="key", static_field="k", static_value="2")
        | InsertField(static_field="b", static_value="3").when(RecordIsTombstone(), negate=True)
        | Spy()
        | InsertField(static_field="c", static_value="4")
    )
    records = [src({"x": 0}, key={"y": 0})]
    out = chain.apply_batch(records)
    assert out == [r for r in map(chain.apply, records) if r is not None]
    assert out[0].value == {"x": 0, "a": "1", "b": "3", "c": "4"} and out[0].key == {
        "y": 0,
        "k": "2",
    }
    assert hoisted == [{"x": 0, "a": "1", "b": "3"}, {"x": 0, "a": "1", "b": "3"}]


def test_a_failure_inside_a_run_names_its_stage_and_reports_the_original() -> None:
    chain = (
        InsertField(static_field="a", static_value="one")
        | Cast(alias="caster", spec=("a:int32",))
        | InsertField(static_field="b", static_value="2")
    )
    with pytest.raises(TransformError, match=r"^caster:"):
        chain.apply_batch([src({"x": 1})])
    failed: list[Any] = []
    good = Chain([InsertField(static_field="a", static_value="1"), Flatten()])
    mixed = good | Cast(alias="caster", spec=("x:int32",))
    records = [src({"x": "1"}), src({"x": "nope"}), src({"x": "3"})]
    out = mixed.apply_batch(records, on_error=lambda r, e: failed.append((r, str(e))))
    assert [r.value["x"] for r in out] == [1, 3]
    assert failed[0][0] is records[1] and failed[0][1].startswith("caster:")


def test_a_run_on_nested_structs_with_nulls_matches_stage_by_stage() -> None:
    address = struct_schema(
        [("city", STRING), ("zip", Schema(Type.INT32, optional=True, default=7))], optional=True
    )
    schema = struct_schema(
        [
            ("id", INT32),
            ("address", address),
            ("note", Schema(Type.STRING, optional=True, default="-")),
        ]
    )
    values = [
        Struct(schema, id=1, address=Struct(address, city="x", zip=None), note=None),
        Struct(schema, id=2, address=None, note="n"),
    ]
    chain = _four()
    records = [SinkRecord(topic="t", value=v, value_schema=schema) for v in values]
    by_stage = [chain.apply(r) for r in records]
    assert chain.apply_batch(records) == by_stage
    assert [r.value.as_dict() for r in by_stage if r is not None] == [
        {"uid": "1", "address_city": "x", "address_zip": 7, "note": "-", "s": "x", "o": 0},
        {"uid": "2", "address_city": None, "address_zip": 7, "note": "n", "s": "x", "o": 0},
    ]


def test_masking_and_timestamp_conversion_join_a_run_and_match_stage_by_stage() -> None:
    chain = (
        MaskField(fields=("name",))
        | TimestampConverter(target_type="string", field="visits", format="yyyy")
        | InsertField(static_field="s", static_value="x")
    )
    other = struct_schema([(f.name, f.schema) for f in USER.fields], name="user", version=1)
    records = [
        src(user(), schema=USER),
        src(Struct(other, user().as_dict()), schema=USER),
        src({"name": "bo", "visits": 0}),
        src(None, schema=USER),
    ]
    batch = chain.apply_batch(records)
    assert batch == [r for r in map(chain.apply, records) if r is not None]
    assert batch[0].value.as_dict() == {
        "id": 1, "name": "", "email": "ann@example.com", "visits": "1970", "s": "x"
    }  # fmt: skip
    assert batch[2].value == {"name": "", "visits": "1970", "s": "x"}
