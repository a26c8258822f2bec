"""The dashboard's per-task history (rates from counter samples, moves) and the DLQ request
bodies, without a broker."""

from __future__ import annotations

from typing import Any

import pytest

from faust_connect.app.web.dlq import selected_records
from faust_connect.app.web.history import History, merge_series
from faust_connect.exceptions import BadRequest


class Fake:
    """Task metrics and statuses that a test sets by hand."""

    def __init__(self) -> None:
        self.metrics: list[dict[str, Any]] = []
        self.states: dict[tuple[str, int], tuple[str, str]] = {}

    def sink(self, consumed: int, put: int, lag: int = 0, state: str = "RUNNING") -> None:
        self.metrics = [
            {
                "connector": "c",
                "task": 0,
                "kind": "sink",
                "consumed": consumed,
                "put": put,
                "lag": lag,
                "commit_age_seconds": 1.5,
            }
        ]
        self.states[("c", 0)] = (state, "w1:8083")


def _history(fake: Fake) -> History:
    return History(lambda: fake.metrics, lambda: fake.states, interval=2.0, window=10.0)


def test_a_rate_is_none_until_measured_then_records_per_second() -> None:
    fake = Fake()
    history = _history(fake)
    fake.sink(0, 0)
    history.sample(100.0)
    [only] = history.series()
    assert only["t"] == [100.0] and only["in"] == [None] and only["out"] == [None]
    fake.sink(40, 20, lag=7)
    history.sample(102.0)
    [task] = history.series()
    assert task["in"] == [None, 20.0] and task["out"] == [None, 10.0]
    assert task["lag"] == [0, 7] and task["commit_age"] == [1.5, 1.5]


def test_a_paused_task_has_no_rate_and_a_restarted_one_starts_over() -> None:
    fake = Fake()
    history = _history(fake)
    fake.sink(0, 0)
    history.sample(100.0)
    fake.sink(10, 10, state="PAUSED")
    history.sample(102.0)
    fake.sink(10, 10)
    history.sample(104.0)
    fake.sink(2, 2)  # counters went back: the task was restarted
    history.sample(106.0)
    fake.sink(6, 6)
    history.sample(108.0)
    assert history.series()[0]["out"] == [None, None, None, None, 2.0]


def test_samples_fall_on_shared_ticks_and_age_out_of_the_window() -> None:
    fake = Fake()
    history = _history(fake)
    fake.sink(0, 0)
    history.sample(100.7)
    history.sample(101.9)  # the same tick: replaced
    assert history.series()[0]["t"] == [100.0]
    history.sample(109.0)
    assert history.series(window=4.0)[0]["t"] == [108.0]
    fake.metrics = []  # the task left this worker: its history stays until it ages out
    history.sample(112.0)
    assert history.series()[0]["t"] == [100.0, 108.0]
    history.sample(130.0)
    assert history.series() == []


def test_a_task_that_changes_worker_is_recorded_as_a_move() -> None:
    fake = Fake()
    history = _history(fake)
    fake.states = {("c", 0): ("RUNNING", "w1:8083"), ("c", 1): ("UNASSIGNED", "")}
    history.sample(100.0)
    fake.states = {("c", 0): ("RUNNING", "w2:8083"), ("c", 1): ("RUNNING", "w2:8083")}
    history.sample(102.0)
    assert list(history.moves) == [
        {"at": 102.0, "connector": "c", "task": 0, "from": "w1:8083", "to": "w2:8083"}
    ]


def test_merging_adds_rates_per_tick_and_keeps_the_oldest_commit() -> None:
    a = {"t": [2.0, 4.0], "in": [None, 1.0], "out": [3.0, 1.0], "lag": [1, 2], "commit_age": [5, 1]}
    b = {
        "t": [4.0, 6.0],
        "in": [2.0, 2.0],
        "out": [None, 4.0],
        "lag": [3, None],
        "commit_age": [9, None],
    }
    assert merge_series([a, b]) == {
        "t": [2.0, 4.0, 6.0],
        "in": [None, 3.0, 2.0],
        "out": [3.0, 1.0, 4.0],
        "lag": [1, 5, None],
        "commit_age": [5, 9, None],
    }


def test_a_replay_body_names_records_by_partition_and_offset() -> None:
    assert selected_records({"records": [{"partition": 1, "offset": 3}, {"offset": 4}]}) == [
        (1, 3),
        (0, 4),
    ]
    assert selected_records({"offsets": [5, 5, 2], "partition": 2}) == [(2, 5), (2, 2)]
    bad: Any
    for bad in (
        [],
        {},
        {"offsets": []},
        {"offsets": "1"},
        {"offsets": [True]},
        {"offsets": [-1]},
        {"records": [{"partition": 0}]},
        {"records": [3]},
        {"offsets": list(range(1001))},
    ):
        with pytest.raises(BadRequest):
            selected_records(bad)
