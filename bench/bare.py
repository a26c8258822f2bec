"""Bare clients, the limits the runtime is measured against: ``python -m bench.bare``.

``produce``: aiokafka's ``send`` per record, as fast as the producer takes them (the runtime's
producer settings: acks=all, linger 5 ms, 256 KB batches), awaiting acks in the background.
``produce-batch``: the same producer filled the way the source runner fills it (aiokafka's batch
API, ``create_batch``/``send_batch``: one ack future per batch, at most 16 polls of 2,000 records
in flight, a poll's last batch sent at once). ``rdkafka-produce``: confluent-kafka (librdkafka)
with the same acks, linger and batch size, ``produce`` per record. For all three the bench
watches the topic from outside, as for a source row.

``consume``: aiokafka ``getmany`` until ``n`` records came, timed from the first fetch (as the
bench sink is). ``rdkafka-consume``: confluent-kafka's ``consume(num_messages)`` (librdkafka fetches on its
own threads), timed from the first batch handed over, over the records after it. Prints one JSON line with the process's own peak RSS,
so memory is comparable with a worker's.
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


#: What the source runner hands over per poll (``batch.size``) and how many polls it keeps in
#: flight (``faust_connect.agents.runtime.source.MAX_IN_FLIGHT``).
POLL, IN_FLIGHT = 2000, 16


async def produce_batch(bootstrap: str, topic: str, n: int) -> dict[str, Any]:
    pairs = datagen_bytes(n)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    started = time.time()
    try:
        (partition, *_) = sorted(await producer.partitions_for(topic))
        in_flight: list[list[asyncio.Future[Any]]] = []
        for start in range(0, n, POLL):
            futures = []
            builder = producer.create_batch()
            for key, value in pairs[start : start + POLL]:
                if builder.append(key=key, value=value, timestamp=None) is None:  # full
                    futures.append(await producer.send_batch(builder, topic, partition=partition))
                    builder = producer.create_batch()
                    builder.append(key=key, value=value, timestamp=None)
            builder.close()  # the poll's last batch goes out at once, as the runner's does
            futures.append(await producer.send_batch(builder, topic, partition=partition))
            in_flight.append(futures)
            if len(in_flight) >= IN_FLIGHT:
                await asyncio.gather(*in_flight.pop(0))
        for futures in in_flight:
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return {"first": started, "last": time.time(), "count": n}


def rdkafka_produce(bootstrap: str, topic: str, n: int) -> dict[str, Any]:
    from confluent_kafka import Producer

    pairs = datagen_bytes(n)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "linger.ms": 5,
            "batch.size": 256 * 1024,
        }
    )
    started = time.time()
    for key, value in pairs:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:  # the local queue is full: serve delivery reports, go on
                producer.poll(0.01)
    producer.flush(60)
    return {"first": started, "last": time.time(), "count": n}


def rdkafka_consume(bootstrap: str, topic: str, n: int, max_records: int | None) -> dict[str, Any]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer
    from confluent_kafka import TopicPartition as RdTopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-rdkafka-{time.time_ns()}",  # required; never joined (assign)
            "enable.auto.commit": False,
        }
    )
    try:
        parts = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        consumer.assign([RdTopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(parts)])
        # On assign librdkafka looks up the start offset and connects to the leader (a broker
        # it knows by id, apart from the bootstrap connection): timed from the first batch
        # handed over, counting the records after it.
        count, first, skipped = 0, 0.0, 0
        while count < n:
            messages = consumer.consume(num_messages=max_records or 500, timeout=0.2)
            got = sum(1 for m in messages if m.error() is None)
            if got and not first:
                first, skipped = time.time(), got
            count += got
        return {"first": first, "last": time.time(), "count": count - skipped}
    finally:
        consumer.close()


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
    parser.add_argument(
        "mode",
        choices=["produce", "produce-batch", "rdkafka-produce", "consume", "rdkafka-consume"],
    )
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("-n", type=int, required=True)
    parser.add_argument("--max-records", type=int, default=None)
    parser.add_argument("--latency", action="store_true")
    args = parser.parse_args()
    if args.mode == "produce":
        result = asyncio.run(produce(args.bootstrap, args.topic, args.n))
    elif args.mode == "produce-batch":
        result = asyncio.run(produce_batch(args.bootstrap, args.topic, args.n))
    elif args.mode == "rdkafka-produce":
        result = rdkafka_produce(args.bootstrap, args.topic, args.n)
    elif args.mode == "rdkafka-consume":
        result = rdkafka_consume(args.bootstrap, args.topic, args.n, args.max_records)
    else:
        result = asyncio.run(
            consume(args.bootstrap, args.topic, args.n, args.max_records, args.latency)
        )
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
