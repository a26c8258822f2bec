"""Bare aiokafka, the limits the runtime is measured against: ``python -m bench.bare``.

``produce``: send the datagen bytes as fast as the producer takes them (the runtime's producer
settings: acks=all, linger 5 ms, 256 KB batches), awaiting acks in the background; the bench
watches the topic from outside, as for a source row. ``consume``: ``getmany`` until ``n``
records came, timed from the first fetch (as the bench sink is). Prints one JSON line with the
process's own peak RSS, so memory is comparable with a worker's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from bench.data import datagen_bytes


async def produce(bootstrap: str, topic: str, n: int) -> dict[str, Any]:
    pairs = datagen_bytes(n)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    started = time.time()
    try:
        pending = []
        for key, value in pairs:
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 16 * 2000:  # about the runner's in-flight bound
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return {"first": started, "last": time.time(), "count": n}


async def consume(
    bootstrap: str, topic: str, n: int, max_records: int | None, latency: bool
) -> dict[str, Any]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=max_records
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or {0}
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        count, latencies = 0, []
        first = time.time()
        while count < n:
            batches = await consumer.getmany(timeout_ms=200)
            now = time.time() * 1000
            for messages in batches.values():
                count += len(messages)
                if latency:
                    latencies.extend(now - m.timestamp for m in messages)
        result = {"first": first, "last": time.time(), "count": count}
        if latency:
            result["latencies"] = latencies
        return result
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("mode", choices=["produce", "consume"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("-n", type=int, required=True)
    parser.add_argument("--max-records", type=int, default=None)
    parser.add_argument("--latency", action="store_true")
    args = parser.parse_args()
    if args.mode == "produce":
        result = asyncio.run(produce(args.bootstrap, args.topic, args.n))
    else:
        result = asyncio.run(
            consume(args.bootstrap, args.topic, args.n, args.max_records, args.latency)
        )
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
