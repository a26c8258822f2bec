"""The demo pipeline ``make run`` starts: generated orders into a topic, a file sink out of it.

Two connectors, declared in code: a datagen source writing ``orders`` records (JSON with
schemas) to ``demo-orders``, and a FileStream sink appending them to a file as JSON lines. Both
show up in ``app.connectors`` (and the REST API) like connectors created at runtime.

Run it yourself with ``faust -A faust_connect.app.demo worker -l info`` (settings from
``CONNECT_*`` variables; the output file from ``FAUST_CONNECT_DEMO_OUTPUT``).
"""

from __future__ import annotations

import os

from faust_connect.app.base import App

__all__ = ["app"]

app = App()
output = os.environ.get("FAUST_CONNECT_DEMO_OUTPUT", "demo-orders.jsonl")

app.connector(
    "demo-orders-source",
    {
        "connector.class": "io.confluent.kafka.connect.datagen.DatagenConnector",
        "kafka.topic": "demo-orders",
        "quickstart": "orders",
        "max.interval": 500,
        "batch.size": 10,
    },
)
app.connector(
    "demo-orders-sink",
    {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "topics": "demo-orders",
        "file": output,
    },
)
