"""The demo pipeline ``make run`` starts: generated orders into a topic, a file sink out of it.

Run it yourself with ``faust -A faust_connect.app.demo worker -l info`` (settings from
``CONNECT_*`` variables; the output file from ``FAUST_CONNECT_DEMO_OUTPUT``).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import orjson

from faust_connect.app.base import App

__all__ = ["app"]

app = App()
orders = app.topic("demo-orders", key_serializer="raw", value_serializer="raw", partitions=1)
output = Path(os.environ.get("FAUST_CONNECT_DEMO_OUTPUT", "demo-orders.jsonl"))
_rng = random.Random(42)
_sequence = 0


def _order() -> dict[str, Any]:
    global _sequence
    _sequence += 1
    return {
        "ordertime": int(time.time() * 1000),
        "orderid": _sequence,
        "itemid": f"Item_{_rng.randint(1, 500)}",
        "orderunits": round(_rng.uniform(0.1, 10.0), 2),
        "address": {"city": f"City_{_rng.randint(1, 99)}", "zipcode": _rng.randint(10000, 99999)},
    }


@app.timer(0.5)
async def generate() -> None:
    """Produce ten generated orders every half second."""
    for _ in range(10):
        order = _order()
        await orders.send(key=str(order["orderid"]).encode(), value=orjson.dumps(order))


@app.agent(orders)
async def write(stream: Any) -> None:
    """Append each order as one JSON line to the output file."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("ab") as file:
        async for batch in stream.take(500, within=1.0):
            file.write(b"".join(value + b"\n" for value in batch))
            file.flush()
