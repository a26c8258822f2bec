"""The shared Debezium event builder, filters and threaded reader."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable

import orjson
import pytest

from faust_connect.agents.connectors.cdc.debezium import (
    POSTGRES_SOURCE,
    CdcConfig,
    Filters,
    ThreadedReader,
    change_records,
    table_schema,
    zoned_timestamp,
)
from faust_connect.codecs.json.converter import JsonConverter
from faust_connect.data import OPTIONAL_STRING, Schema, Type

TOPIC = "server1.public.customers"
TABLE = table_schema(
    TOPIC, [("id", Schema(Type.INT32)), ("email", OPTIONAL_STRING)], ["id"], POSTGRES_SOURCE
)
SOURCE = {
    "version": "x",
    "connector": "postgresql",
    "name": "server1",
    "ts_ms": 1,
    "snapshot": "false",
    "db": "db",
    "schema": "public",
    "table": "customers",
}


def _config(**keys: str) -> CdcConfig:
    base = {"topic.prefix": "server1", "database.hostname": "h", "database.user": "u"}
    return CdcConfig.model_validate({**base, **keys})


def test_a_delete_is_followed_by_a_tombstone_with_the_same_key() -> None:
    before = {"id": 7, "email": "a@b"}
    event, tombstone = change_records(
        TABLE,
        "d",
        before,
        None,
        SOURCE,
        partition={"server": "s"},
        offset={"lsn": 1},
        tombstone=True,
    )
    assert event.key == tombstone.key and event.key["id"] == 7
    assert event.value["op"] == "d" and event.value["after"] is None
    assert event.value["before"]["email"] == "a@b"
    assert tombstone.value is None and tombstone.value_schema is None
    assert tombstone.source_offset == {"lsn": 1}


def test_the_envelope_renders_with_debezium_names_through_the_json_converter() -> None:
    (event,) = change_records(
        TABLE,
        "c",
        None,
        {"id": 1, "email": None},
        SOURCE,
        partition={},
        offset={},
        now_ns=5_000_000,
    )
    doc = orjson.loads(JsonConverter().from_connect(TOPIC, event.value_schema, event.value, None))
    assert doc["schema"]["name"] == f"{TOPIC}.Envelope"
    assert [f["field"] for f in doc["schema"]["fields"]] == [
        "before",
        "after",
        "source",
        "transaction",
        "op",
        "ts_ms",
        "ts_us",
        "ts_ns",
    ]
    assert doc["schema"]["fields"][0]["name"] == f"{TOPIC}.Value"
    payload = doc["payload"]
    assert payload["after"] == {"id": 1, "email": None}
    assert payload["source"]["connector"] == "postgresql" and payload["source"]["lsn"] is None
    assert (payload["op"], payload["ts_ms"], payload["ts_us"]) == ("c", 5, 5000)


def test_filters_match_whole_names_ignoring_case() -> None:
    filters = Filters(_config(**{"table.include.list": "public\\.cust.*"}))
    assert filters.table("PUBLIC", "Customers") and not filters.table("other", "customers")
    filters = Filters(_config(**{"column.exclude.list": "public.customers.email"}))
    assert filters.column("public", "customers", "id")
    assert not filters.column("public", "customers", "email")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "2024-01-02T03:04:05Z"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=dt.UTC), "2024-01-02T03:04:05.120Z"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC), "2024-01-02T03:04:05.123456Z"),
        (
            dt.datetime(2024, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2024-01-02T03:04:05Z",
        ),
    ],
)
def test_zoned_timestamps_are_utc_iso_text(value: dt.datetime, text: str) -> None:
    assert zoned_timestamp(value) == text


def test_the_threaded_reader_hands_over_every_item_then_the_error() -> None:
    release = threading.Event()

    def read(emit: Callable[[list[int]], None], stopped: Callable[[], bool]) -> None:
        for i in range(10):
            emit([i])
        release.wait(5)
        raise ValueError("connection lost")

    async def main() -> list[int]:
        reader: ThreadedReader[int] = ThreadedReader(read, max_queue=3, name="reader")
        reader.start()
        got: list[int] = []
        while len(got) < 10:
            got += await reader.take(4, timeout=5)
        release.set()
        with pytest.raises(ValueError, match="connection lost"):
            await reader.take(4, timeout=5)
        await reader.stop()
        return got

    assert asyncio.run(main()) == list(range(10))


def test_the_threaded_reader_stops_a_reader_blocked_on_a_full_queue() -> None:
    def read(emit: Callable[[list[int]], None], stopped: Callable[[], bool]) -> None:
        i = 0
        while not stopped():
            emit([i])
            i += 1

    async def main() -> None:
        reader: ThreadedReader[int] = ThreadedReader(read, max_queue=2, name="reader")
        reader.start()
        assert await reader.take(1, timeout=5) == [0]
        await reader.stop()
        assert not reader._thread.is_alive()

    asyncio.run(main())


def test_the_threaded_reader_splits_and_joins_batches_up_to_max_items() -> None:
    def read(emit: Callable[[list[int]], None], stopped: Callable[[], bool]) -> None:
        emit(list(range(10)))
        emit([10])
        emit([11, 12])

    async def main() -> list[list[int]]:
        reader: ThreadedReader[int] = ThreadedReader(read, max_queue=100, name="reader")
        reader.start()
        await asyncio.to_thread(reader._thread.join, 5)
        got = [await reader.take(4, timeout=5) for _ in range(4)]
        await reader.stop()
        return got

    assert asyncio.run(main()) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10], [11, 12]]


def test_rows_as_value_lists_give_the_same_records_as_mappings() -> None:
    row = {"id": 7, "email": "a@b"}
    by_name = change_records(TABLE, "d", row, None, SOURCE, partition={}, offset={}, now_ns=1)
    by_place = change_records(
        TABLE, "d", [7, "a@b"], None, SOURCE, partition={}, offset={}, now_ns=1
    )
    assert by_name == by_place
