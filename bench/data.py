"""The records every row works on, and the four transforms in both forms.

:func:`datagen_bytes` gives the exact key and value bytes the datagen source writes with the
default JSON converter (schemas on): the ``orders`` quickstart, seed 0. Bare aiokafka, the
raw-bytes rows and the sink rows all move these bytes. A pool of :data:`POOL` distinct records is
cycled, so holding the data costs a few MB, not one object per record.

:data:`TRANSFORMS` is the four-transform chain of the JSON sink row as connector config;
:func:`transform_dict` is the same work on a plain dict, for Quix Streams.
"""

from __future__ import annotations

import functools
import random
from typing import Any

from faust_connect.agents.connectors.datagen import QUICKSTARTS
from faust_connect.codecs import JsonConverter
from faust_connect.data import STRING, Struct

__all__ = [
    "JSON_CONVERTERS",
    "POOL",
    "RAW_CONVERTERS",
    "TRANSFORMS",
    "datagen_bytes",
    "datagen_structs",
    "transform_dict",
]

#: Distinct records built; longer runs cycle through them.
POOL = 5_000

RAW_CONVERTERS = {
    "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
    "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
}
JSON_CONVERTERS = {
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
}

#: Flatten the address, rename and drop fields, cast one, insert a static and a timestamp field.
TRANSFORMS = {
    "transforms": "flatten,replace,cast,insert",
    "transforms.flatten.type": "org.apache.kafka.connect.transforms.Flatten$Value",
    "transforms.flatten.delimiter": "_",
    "transforms.replace.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
    "transforms.replace.renames": "orderunits:units,itemid:item",
    "transforms.replace.exclude": "address_zipcode",
    "transforms.cast.type": "org.apache.kafka.connect.transforms.Cast$Value",
    "transforms.cast.spec": "orderid:string",
    "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
    "transforms.insert.static.field": "pipeline",
    "transforms.insert.static.value": "bench",
    "transforms.insert.timestamp.field": "ts",
}
_RENAMES = {"orderunits": "units", "itemid": "item"}


def transform_dict(value: dict[str, Any], timestamp_ms: int) -> dict[str, Any]:
    """:data:`TRANSFORMS` on a plain dict (what the Quix row runs per record)."""
    flat: dict[str, Any] = {}
    for name, field in value.items():
        if isinstance(field, dict):
            for inner, item in field.items():
                flat[f"{name}_{inner}"] = item
        else:
            flat[name] = field
    out = {_RENAMES.get(k, k): v for k, v in flat.items() if k != "address_zipcode"}
    out["orderid"] = str(out["orderid"])
    out["pipeline"] = "bench"
    out["ts"] = timestamp_ms
    return out


def datagen_structs(n: int) -> list[tuple[str, Struct]]:
    """``n`` datagen ``orders`` records (key, value), as the datagen source builds them."""
    schema, make = QUICKSTARTS["orders"]
    rows = (make(i, random.Random(i)) for i in range(n))
    return [(key, Struct.trusted(schema, row)) for key, row in rows]


@functools.cache
def _pool() -> tuple[tuple[bytes, bytes], ...]:
    schema, _ = QUICKSTARTS["orders"]
    keys, values = JsonConverter(is_key=True), JsonConverter()
    return tuple(
        (keys.from_connect("t", STRING, key) or b"", values.from_connect("t", schema, value) or b"")
        for key, value in datagen_structs(POOL)
    )


def datagen_bytes(n: int) -> list[tuple[bytes, bytes]]:
    """``n`` (key, value) pairs of datagen's JSON bytes, cycling a pool of :data:`POOL`."""
    pool = _pool()
    return [pool[i % len(pool)] for i in range(n)]
