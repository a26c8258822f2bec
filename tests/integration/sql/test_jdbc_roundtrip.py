"""Rows go from a table of one database through Kafka into a table of another, and back out.

A JDBC source (timestamp+incrementing, ValueToKey) feeds a JDBC sink (upsert, record_key,
ReplaceField) over JsonConverter with schemas, on real PostgreSQL and MariaDB servers and SQLite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import Broker
from tests.integration.sql.helpers import (
    create_source,
    expected,
    insert,
    read,
    row,
    sink_config,
    source_config,
    uid,
    update,
)
from tests.kafka import produce
from tests.workers import WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

KEY_SCHEMA = {
    "type": "struct",
    "optional": False,
    "fields": [{"field": "id", "type": "int32", "optional": False}],
}


def _tombstone(i: int) -> tuple[bytes, None]:
    return orjson.dumps({"schema": KEY_SCHEMA, "payload": {"id": i}}), None


PAIRS = [
    "sqlite->postgresql",
    "postgresql->mariadb",
    "mariadb->sqlite",
    "postgresql->sqlite",
    "mariadb->postgresql",
    "sqlite->mariadb",
]


@pytest.mark.parametrize("pair", PAIRS)
def test_rows_inserted_updated_and_deleted_arrive_in_the_other_database(
    pair: str,
    request: pytest.FixtureRequest,
    broker: Broker,
    workers: WorkerFactory,
    tmp_path: Path,
) -> None:
    urls: dict[str, Callable[[], str]] = {
        "sqlite": lambda: f"sqlite:///{tmp_path / f'{uid()}.db'}",
        "postgresql": lambda: request.getfixturevalue("postgres").create_database(),
        "mariadb": lambda: request.getfixturevalue("mariadb").create_database(),
    }
    source_kind, sink_kind = pair.split("->")
    source_url, sink_url = urls[source_kind](), urls[sink_kind]()
    table, copy, prefix = "items", "items_copy", f"jdbc-{uid()}-"
    create_source(source_url, table)
    first = [row(i) for i in range(1, 201)]
    insert(source_url, table, first)

    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    worker.rest.create("source", source_config(source_url, table, prefix))
    worker.rest.create("sink", sink_config(sink_url, prefix + table, copy))

    want = {r["id"]: expected(r) for r in first}
    _wait_for(sink_url, copy, want, worker)

    changed = [row(i, version=1, tick=1) for i in range(1, 201, 10)]
    update(source_url, table, changed)
    later = [row(i, tick=2) for i in range(201, 251)]
    insert(source_url, table, later)
    want.update({r["id"]: expected(r) for r in changed + later})
    _wait_for(sink_url, copy, want, worker)

    # The JDBC source cannot see deletes; a tombstone for the key deletes the row.
    asyncio.run(produce(broker.bootstrap, prefix + table, [_tombstone(3), _tombstone(4)]))
    del want[3], want[4]
    _wait_for(sink_url, copy, want, worker)
    assert worker.rest.state("source") == ("RUNNING", ["RUNNING"])
    assert worker.rest.state("sink") == ("RUNNING", ["RUNNING"])


def _wait_for(url: str, table: str, want: dict[int, dict[str, Any]], worker: Any) -> None:
    last: dict[int, dict[str, Any]] = {}

    def arrived() -> bool:
        nonlocal last
        last = read(url, table)
        return last == want

    try:
        wait_until(arrived, timeout=60, interval=0.3, what=f"{len(want)} rows in {table}")
    except AssertionError:
        missing = sorted(set(want) - set(last))[:5]
        wrong = [(last[i], want[i]) for i in want if i in last and last[i] != want[i]][:2]
        raise AssertionError(
            f"{len(last)} rows, missing {missing}, wrong {wrong}\n{worker.log()[-4000:]}"
        ) from None
