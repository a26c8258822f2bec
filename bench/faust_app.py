"""A bare Faust app for the per-event baseline: one agent counting ``BENCH_TOPIC``'s records.

Run as ``faust -A bench.faust_app worker``; ``BENCH_RESULT``/``BENCH_EXPECT`` say where to write
the first and last arrival times once ``BENCH_EXPECT`` records have passed through.
"""

from __future__ import annotations

import os
from typing import Any

import faust

from bench.recorder import Recorder

app = faust.App(
    os.environ.get("BENCH_GROUP", "bench-faust"),
    broker=f"kafka://{os.environ.get('CONNECT_BOOTSTRAP_SERVERS', 'localhost:9092')}",
    store="memory://",
    web_port=int(os.environ.get("BENCH_WEB_PORT", "6066")),
    consumer_auto_offset_reset="earliest",
    stream_wait_empty=False,
)
_topic = app.topic(os.environ.get("BENCH_TOPIC", "bench"), value_serializer="raw")
_recorder = Recorder(
    os.environ.get("BENCH_RESULT", ""), int(os.environ.get("BENCH_EXPECT", "0")), False
)


@app.agent(_topic)
async def passthrough(stream: Any) -> None:
    async for _value in stream:
        _recorder.add(1)
