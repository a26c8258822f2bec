"""A data generator source for demos and benchmarks, configured like Confluent's datagen.

``quickstart`` picks the record shape (``orders``, ``users``, ``pageviews``); ``iterations`` how
many records in all (-1: no end); ``max.interval`` the pause between polls in ms, or
``records.per.second`` a steady rate. Records are a pure function of ``random.seed`` and their
sequence number, and the sequence number is the source offset, so a restart continues the same
sequence exactly where it stopped.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import Field

from faust_connect.config import PluginConfig
from faust_connect.connector import ExactlyOnceSupport, SourceConnector, SourceTask
from faust_connect.data import FLOAT64, INT32, INT64, STRING, Schema, Struct, struct_schema
from faust_connect.records import SourceRecord

__all__ = ["QUICKSTARTS", "DatagenConnector"]

_ADDRESS = struct_schema(
    [("city", STRING), ("state", STRING), ("zipcode", INT64)], name="ksql.address"
)
_SCHEMAS = {
    "orders": struct_schema(
        [
            ("ordertime", INT64),
            ("orderid", INT32),
            ("itemid", STRING),
            ("orderunits", FLOAT64),
            ("address", _ADDRESS),
        ],
        name="ksql.orders",
    ),
    "users": struct_schema(
        [("registertime", INT64), ("userid", STRING), ("regionid", STRING), ("gender", STRING)],
        name="ksql.users",
    ),
    "pageviews": struct_schema(
        [("viewtime", INT64), ("userid", STRING), ("pageid", STRING)], name="ksql.pageviews"
    ),
}
_EPOCH = 1_500_000_000_000


def _orders(n: int, rng: random.Random) -> tuple[str, list[Any]]:
    address = Struct.trusted(
        _ADDRESS,
        [f"City_{rng.randint(1, 99)}", f"State_{rng.randint(1, 99)}", rng.randint(10000, 99999)],
    )
    units = round(rng.uniform(0.1, 10.0), 2)
    return str(n), [_EPOCH + n * 1000, n, f"Item_{rng.randint(1, 999)}", units, address]


def _users(n: int, rng: random.Random) -> tuple[str, list[Any]]:
    user = f"User_{rng.randint(1, 9)}"
    region = f"Region_{rng.randint(1, 9)}"
    return user, [_EPOCH + n * 1000, user, region, rng.choice(("MALE", "FEMALE", "OTHER"))]


def _pageviews(n: int, rng: random.Random) -> tuple[str, list[Any]]:
    return str(_EPOCH + n), [
        _EPOCH + n,
        f"User_{rng.randint(1, 9)}",
        f"Page_{rng.randint(1, 99)}",
    ]


#: quickstart name -> (value schema, row maker)
QUICKSTARTS: dict[str, tuple[Schema, Callable[[int, random.Random], tuple[str, list[Any]]]]] = {
    "orders": (_SCHEMAS["orders"], _orders),
    "users": (_SCHEMAS["users"], _users),
    "pageviews": (_SCHEMAS["pageviews"], _pageviews),
}


class DatagenConnector(SourceConnector):
    """Generates records of a quickstart shape."""

    class Config(PluginConfig):
        kafka_topic: str = Field(description="Topic to write to.", min_length=1)
        quickstart: Literal["orders", "users", "pageviews"] = Field(
            "orders", description="Which record shape to generate."
        )
        iterations: int = Field(-1, ge=-1, description="Records in all; -1 for no end.")
        max_interval: int = Field(
            500, ge=0, description="Milliseconds between polls (ignored with records.per.second)."
        )
        records_per_second: float = Field(
            0, ge=0, description="A steady rate; 0 to use max.interval."
        )
        batch_size: int = Field(500, ge=1, description="Records per poll, at most.")
        random_seed: int = Field(0, description="Seed: the same seed gives the same records.")

    def exactly_once_support(self) -> ExactlyOnceSupport | None:
        """Each task's sequence goes on from the stored number."""
        return "SUPPORTED"

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """Each task generates its own numbered sequence."""
        return [{**self.raw, "task.id": str(i)} for i in range(max_tasks)]


class DatagenTask(SourceTask):
    """Generates records from the stored sequence number on."""

    class Config(DatagenConnector.Config):
        task_id: int = Field(0, ge=0, description="Which task this is (set by the connector).")

    settings: Config

    async def start(self) -> None:
        self.task = self.settings.task_id
        self.partition = {"datagen": self.context.connector, "task": self.task}
        stored = self.context.offset(self.partition)
        self.next = int(stored["iteration"]) if stored else 0
        self.schema, self.make = QUICKSTARTS[self.settings.quickstart]
        self._started = time.monotonic()
        self._start_count = self.next

    def _due(self) -> int:
        s = self.settings
        if s.records_per_second <= 0:
            return s.batch_size
        elapsed = time.monotonic() - self._started
        return min(
            s.batch_size, int(elapsed * s.records_per_second) - (self.next - self._start_count)
        )

    async def poll(self) -> Sequence[SourceRecord]:
        s = self.settings
        if 0 <= s.iterations <= self.next:
            await asyncio.sleep(0.5)
            return []
        count = self._due()
        if s.iterations >= 0:
            count = min(count, s.iterations - self.next)
        if count <= 0:
            await asyncio.sleep(0.01)
            return []
        records = []
        seed = s.random_seed * 1_000_003 + self.task * 7_919
        for n in range(self.next, self.next + count):
            key, row = self.make(n, random.Random(seed + n))
            records.append(
                SourceRecord(
                    topic=s.kafka_topic,
                    key=key,
                    key_schema=STRING,
                    value=Struct.trusted(self.schema, row),
                    value_schema=self.schema,
                    source_partition=self.partition,
                    source_offset={"iteration": n + 1},
                )
            )
        self.next += count
        if s.records_per_second <= 0 and s.max_interval:
            await asyncio.sleep(s.max_interval / 1000)
        return records


DatagenConnector.task_class = DatagenTask
