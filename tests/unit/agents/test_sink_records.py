"""A sink's lazy batch (SinkRecords): columns for tasks that want them, and records built only
when asked, the same records a record-at-a-time task always saw."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest
from aiokafka.structs import ConsumerRecord, TopicPartition

from faust_connect.codecs.errors import CodecError
from faust_connect.codecs.primitives import ByteArrayConverter, StringConverter
from faust_connect.connector import SinkConnector, SinkTask
from faust_connect.data import OPTIONAL_BYTES, OPTIONAL_STRING
from faust_connect.records import Header, Headers, SinkRecord, SinkRecords
from faust_connect.testing import TaskHarness

_names = itertools.count()
RAW = {
    "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
    "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
}
DLQ = {"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "dlq"}
JSON_HEADERS = {
    "header.converter": "org.apache.kafka.connect.json.JsonConverter",
    "header.converter.schemas.enable": "false",
}


class _ColumnsTask(SinkTask):
    """Keeps what ``put`` got and reads only its values column."""

    seen: ClassVar[list[Sequence[SinkRecord]]] = []
    values: ClassVar[list[Any]] = []
    built: ClassVar[list[bool]] = []

    async def put(self, records: Sequence[SinkRecord]) -> None:
        self.seen.append(records)
        if isinstance(records, SinkRecords):
            self.values.extend(records.values)
            self.built.append(records._built is not None)  # a record built before put?


class _ColumnsSink(SinkConnector):
    task_class = _ColumnsTask


def _harness(**config: str) -> TaskHarness:
    _ColumnsTask.seen.clear()
    _ColumnsTask.values.clear()
    _ColumnsTask.built.clear()
    return TaskHarness(_ColumnsSink, {"name": f"c{next(_names)}", "topics": "in", **config})


def _message(offset: int, value: bytes | None, *, partition: int = 0) -> ConsumerRecord[Any, Any]:
    size = len(value or b"")
    return ConsumerRecord("in", partition, offset, 5, 1, b"k", value, None, 1, size, [])


def _batch(n: int) -> SinkRecords:
    messages = [_message(i, b"%d" % i) for i in range(n)]
    return SinkRecords(
        messages,
        [OPTIONAL_BYTES] * n,
        [m.key for m in messages],
        [OPTIONAL_BYTES] * n,
        [m.value for m in messages],
    )


def test_a_record_is_the_one_the_eager_path_built() -> None:
    assert _batch(2)[1] == SinkRecord(
        topic="in",
        partition=0,
        offset=1,
        key=b"k",
        key_schema=OPTIONAL_BYTES,
        value=b"1",
        value_schema=OPTIONAL_BYTES,
        timestamp=5,
        timestamp_type="LogAppendTime",
        original_topic="in",
        original_partition=0,
        original_offset=1,
    )


def test_records_are_built_once_and_kept() -> None:
    batch = _batch(4)
    last = batch[-1]
    assert batch[3] is last and list(batch)[3] is last  # the same object, indexed or iterated
    assert [r.offset for r in batch] == [0, 1, 2, 3] and list(batch) == list(batch)
    assert batch[1:3][0] is batch[1] and len(batch[1:3]) == 2
    with pytest.raises(IndexError):
        batch[4]


def test_the_columns_are_read_off_the_messages() -> None:
    batch = _batch(3)
    assert batch.values == [b"0", b"1", b"2"] and batch.keys == [b"k"] * 3
    assert batch.offsets == [0, 1, 2] and batch.timestamps == [5, 5, 5]
    assert batch.topics == ["in"] * 3 and batch.partitions == [0, 0, 0]
    assert batch.headers is None and batch[0].headers == Headers()
    assert batch[1:].offsets == [1, 2] and len(batch[5:]) == 0


async def test_without_transforms_put_gets_the_lazy_batch_and_no_record_is_built() -> None:
    harness = _harness(**RAW)
    await harness.start()
    _ = await harness.deliver("in", [(b"a", b"1"), (None, b"2")])
    [put] = _ColumnsTask.seen
    assert isinstance(put, SinkRecords) and _ColumnsTask.values == [b"1", b"2"]
    assert _ColumnsTask.built == [False]
    assert [(r.key, r.value, r.offset) for r in put] == [(b"a", b"1", 0), (None, b"2", 1)]


async def test_with_transforms_put_gets_transformed_records_as_before() -> None:
    harness = _harness(
        **RAW,
        transforms="route",
        **{
            "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
            "transforms.route.regex": "in",
            "transforms.route.replacement": "out",
        },
    )
    await harness.start()
    put = await harness.deliver("in", [(b"a", b"1")])
    assert [(r.topic, r.original_topic, r.value) for r in put] == [("out", "in", b"1")]
    assert not isinstance(_ColumnsTask.seen[0], SinkRecords)


async def test_a_failed_conversion_is_dead_lettered_and_left_out_of_the_columns() -> None:
    harness = _harness(**DLQ, **{"value.converter": "StringConverter"})
    await harness.start()
    put = await harness.deliver("in", [(None, b"a"), (None, b"\xff"), (None, b"c")])
    assert [r.value for r in put] == ["a", "c"] and [r.offset for r in put] == [0, 2]
    assert [raw.offset for _, raw, _ in harness.dead_letters.records] == [1]


async def test_headers_are_converted_and_a_bad_one_goes_to_the_policy_in_offset_order() -> None:
    harness = _harness(**RAW, **DLQ, **JSON_HEADERS)
    await harness.start()
    put = await harness.deliver(
        "in",
        [
            (None, b"0", [("h", b"{bad")]),
            (None, b"1"),
            (None, b"2", [("h", b'{"n": 2}')]),
            (None, b"3", [("h", b"[bad")]),
        ],
    )
    assert [r.offset for r in put] == [1, 2]
    assert [list(r.headers) for r in put] == [[], [Header("h", {"n": 2})]]
    [raws] = [[raw.offset for _, raw, _ in harness.dead_letters.records]]
    assert raws == [0, 3]


async def test_several_partitions_make_one_batch_in_fetch_order() -> None:
    harness = _harness(**RAW, **JSON_HEADERS)
    with_header = ConsumerRecord("in", 1, 7, 5, 0, None, b"b", None, 0, 1, [("h", b"1")])
    batch = await harness.pipeline.from_bytes(
        {
            TopicPartition("in", 1): [with_header],
            TopicPartition("in", 0): [_message(3, b"a")],
        }
    )
    assert [(r.partition, r.offset, r.value) for r in batch] == [(1, 7, b"b"), (0, 3, b"a")]
    assert batch.headers is not None and [len(h) for h in batch.headers] == [1, 0]
    assert (batch.partitions, batch.offsets) == ([1, 0], [7, 3])


def test_string_and_bytes_columns_are_what_to_connect_gives() -> None:
    datas: list[bytes | None] = [b"x", None, b"y"]
    for converter, schema in ((StringConverter(), OPTIONAL_STRING), (ByteArrayConverter(), None)):
        schemas, values = converter.to_connect_columns("t", datas)
        pairs = [converter.to_connect("t", d) for d in datas]
        assert list(zip(schemas, values, strict=True)) == pairs
        assert schema is None or set(schemas) == {schema}
    with pytest.raises(CodecError):
        StringConverter().to_connect_columns("t", [b"\xff"])
