"""In-process micro benchmarks: converters against bare orjson/fastavro, and the transform chain.

All work on the same :data:`bench.data.POOL` datagen ``orders`` records. Each operation runs over
the pool repeatedly for ``seconds`` per run; a row is the median of the runs. The bare rows do
the least work that gives the same bytes (or the same values back): ``orjson.dumps`` of the
envelope as plain dicts, ``orjson.loads``, fastavro's schemaless writer/reader with the same
parsed schema on plain dicts.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import fastavro
import orjson

from bench.data import TRANSFORMS, datagen_structs
from bench.report import Row, Sample
from faust_connect.codecs import JsonConverter
from faust_connect.codecs.avro.converter import AvroConverter, compile_schema
from faust_connect.codecs.registry.logic import SchemaRegistry
from faust_connect.data import Struct
from faust_connect.records import SinkRecord
from faust_connect.transforms import Chain, Transform, chain_from_config

__all__ = ["micro_rows"]

TOPIC = "bench"


class Identity(Transform):
    """Passes the record through: four of these are the chain's own cost, with no work."""

    def apply(self, record: Any) -> Any:
        return record


def _measure(
    op: Callable[[], Any], items: int, seconds: float, runs: int, size: float
) -> list[Sample]:
    samples = []
    op()  # warm caches (schemas, compiled encoders)
    for _ in range(runs):
        loops, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            op()
            loops += 1
        samples.append(Sample(elapsed, loops * items, size))
    return samples


def _avro_converter() -> AvroConverter:
    return AvroConverter({"schema.registry.url": "mock://bench"}, schema_registry=SchemaRegistry())


def micro_rows(n: int, seconds: float, runs: int) -> list[Row]:
    """The converter and transform rows (``n`` records in the pool)."""
    pairs = datagen_structs(n)
    structs: list[Struct] = [value for _, value in pairs]
    schema = structs[0].schema
    json_conv = JsonConverter()
    encoded = [json_conv.from_connect(TOPIC, schema, s) or b"" for s in structs]
    plain = [orjson.loads(data) for data in encoded]
    json_size = sum(map(len, encoded)) / len(encoded)

    avro_conv = _avro_converter()
    avro_encoded = [avro_conv.from_connect(TOPIC, schema, s) or b"" for s in structs]
    compiled = compile_schema(schema)
    avro_plain = [compiled.write(s) for s in structs]
    avro_size = sum(map(len, avro_encoded)) / len(avro_encoded)

    def fastavro_write() -> None:
        for value in avro_plain:
            out = io.BytesIO()
            fastavro.schemaless_writer(out, compiled.parsed, value)
            out.getvalue()

    def fastavro_read() -> None:
        for data in avro_encoded:
            fastavro.schemaless_reader(io.BytesIO(data[5:]), compiled.parsed, None)

    records = [
        SinkRecord(topic=TOPIC, partition=0, offset=i, key=key, value=value, value_schema=schema,
                   timestamp=1_700_000_000_000 + i)
        for i, (key, value) in enumerate(pairs)
    ]  # fmt: skip
    chain, identity = chain_from_config(TRANSFORMS), Chain([Identity() for _ in range(4)])
    runs_of: list[tuple[str, str, Callable[[], Any], float, str]] = [
        ("orjson-dumps", "orjson.dumps (bare, JSON envelope)",
         lambda: [orjson.dumps(v) for v in plain], json_size, ""),
        ("json-encode", "JsonConverter encode (schemas)",
         lambda: [json_conv.from_connect(TOPIC, schema, s) for s in structs], json_size,
         "orjson-dumps"),
        ("orjson-loads", "orjson.loads (bare)", lambda: [orjson.loads(d) for d in encoded],
         json_size, ""),
        ("json-decode", "JsonConverter decode (schemas)",
         lambda: [json_conv.to_connect(TOPIC, d) for d in encoded], json_size, "orjson-loads"),
        ("fastavro-write", "fastavro schemaless_writer (bare)", fastavro_write, avro_size, ""),
        ("avro-encode", "AvroConverter encode (registry)",
         lambda: [avro_conv.from_connect(TOPIC, schema, s) for s in structs], avro_size,
         "fastavro-write"),
        ("fastavro-read", "fastavro schemaless_reader (bare)", fastavro_read, avro_size, ""),
        ("avro-decode", "AvroConverter decode (registry)",
         lambda: [avro_conv.to_connect(TOPIC, d) for d in avro_encoded], avro_size,
         "fastavro-read"),
        ("chain-identity", "Chain of 4 identity transforms",
         lambda: identity.apply_batch(records), json_size, ""),
        ("chain-4", "4-transform Chain.apply_batch", lambda: chain.apply_batch(records),
         json_size, "chain-identity"),
    ]  # fmt: skip
    rows = []
    for key, title, op, size, baseline in runs_of:
        samples = _measure(op, len(structs), seconds, runs, size)
        rows.append(Row(key, title, "-", samples, baseline=baseline))
    return rows
