"""The README's Python example: connectors written as decorated functions and declared in code."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson

import faust_connect
from faust_connect.records import SinkRecord
from faust_connect.transforms import InsertField

app = faust_connect.App()
OUT = os.environ["DECORATED_OUT"]
TOPIC = os.environ["DECORATED_TOPIC"]
ticked = 0


@app.source(topic=TOPIC, interval=0.2)
async def ticks(context: Any) -> AsyncIterator[Any]:
    global ticked
    ticked += 1
    yield {"at": ticked}


@app.sink(topics=[TOPIC], transforms=InsertField(static_field="via", static_value="py"))
async def show(records: Sequence[SinkRecord]) -> None:
    with open(OUT, "ab") as out:
        out.writelines(orjson.dumps(record.value) + b"\n" for record in records)


app.connector("orders", {"connector.class": "DatagenConnector", "kafka.topic": f"{TOPIC}-orders"})
