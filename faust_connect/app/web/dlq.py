"""A connector's dead letter queue, browsable: list, replay and discard its records.

A REST extension under our own prefix (not Kafka Connect's paths), behind the same
authentication as the rest of the API (:mod:`faust_connect.app.web.auth` guards every route);
errors have Kafka Connect's shape, ``{"error_code", "message"}``:

``GET /faust-connect/connectors/{name}/dlq?partition=&offset=&limit=&discarded=``
    The records of the topic named by the connector's ``errors.deadletterqueue.topic.name``,
    from ``offset`` (default: each partition's start) on ``partition`` (default: every one), at
    most ``limit`` (default 50, at most 500) per partition; discarded records are left out
    unless ``discarded=true``. Answer::

        {"connector": "c", "topic": "dlq", "exists": true,
         "partitions": [{"partition": 0, "start": 0, "end": 7, "next_offset": 7}],
         "records": [{"partition": 0, "offset": 3, "timestamp": 1764750000000,
                      "key": null | PAYLOAD, "value": null | PAYLOAD,
                      "headers": [{"key": "h", "value": "text", "encoding": "utf-8"}],
                      "errors": {"stage": "VALUE_CONVERTER", "class.name": "...",
                                 "exception.class.name": "...", "exception.message": "...",
                                 "exception.stacktrace": "...", "topic": "orders", ...},
                      "original": {"topic": "orders", "partition": 0, "offset": 41},
                      "state": null | {"action": "replayed", "at": 1764750100.0, "topic": "orders"}}]}

    where PAYLOAD is ``{"decoded": true, "converter": "JsonConverter", "data": <JSON>,
    "base64": "...", "size": 12}`` when the connector's converter reads the bytes, else
    ``{"decoded": false, "converter": ..., "error": "...", "base64": "...", "text": "..."}``
    (``text``: the bytes as UTF-8 with undecodable bytes escaped). A DLQ topic not created yet
    (nothing failed so far) gives ``"exists": false`` and no records.

``POST /faust-connect/connectors/{name}/dlq/replay``
    Body ``{"records": [{"partition": 0, "offset": 3}, ...], "topic": "optional-target"}`` (or
    ``{"offsets": [3, 4], "partition": 0}``). Each record's key, value and headers, without the
    ``__connect.errors.*`` ones, are produced to ``topic`` or else to the original topic named
    in its ``__connect.errors.topic`` header; all are checked before any is sent. Answer
    ``{"replayed": [{"partition", "offset", "topic", "target_partition", "target_offset"}]}``.
    A replayed record stays listed, marked ``"state": {"action": "replayed", ...}``.

``POST /faust-connect/connectors/{name}/dlq/discard``
    The same body (without ``topic``): the records are marked discarded and no longer listed.
    Answer ``{"discarded": [{"partition", "offset"}]}``.

400 for bad input (an offset outside the partition, a record not found, no target topic, a
target topic that does not exist, a body that is not JSON); 404 for an unknown connector or one
without a dead letter queue.

Where the marks live: a compacted topic of the cluster, ``<group.id>-dlq-state`` (one
partition, created on first use), keyed ``<dlq topic>/<partition>/<offset>`` with a JSON value.
A topic because the marks must outlive workers and be seen by every worker of the cluster, as
Kafka Connect's own state is; compacted, because only the last mark of a record matters; not
the status table, because that one has a single writer (the runtime) and the DLQ topic's
records are not the runtime's business. Every worker reads the topic from where it stopped on
each request, so a mark made on one worker is seen by the next request to any other.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import faust
import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition
from faust.web import Request, Response

from faust_connect.app.web.rest import ConnectView, error_body
from faust_connect.codecs import Converter, converter_from_config
from faust_connect.codecs.base import ConverterPrefix
from faust_connect.data import Struct
from faust_connect.exceptions import BadRequest, ConfigError, NotFound

if TYPE_CHECKING:
    from faust_connect.app.worker import Worker

__all__ = [
    "DEFAULT_LIMIT",
    "ERROR_PREFIX",
    "MAX_LIMIT",
    "PREFIX",
    "QUEUES",
    "DeadLetterQueues",
    "blueprint",
    "selected_records",
]

#: The extension's path prefix.
PREFIX = "/faust-connect"
#: Records listed per partition unless ``limit`` says otherwise, and the most it may say.
DEFAULT_LIMIT, MAX_LIMIT = 50, 500
#: The most records one replay or discard may name.
MAX_SELECTED = 1000
#: The headers the error policy adds to a dead-lettered record.
ERROR_PREFIX = "__connect.errors."
#: Seconds a read of a topic may take before it gives up with what it has.
READ_TIMEOUT = 10.0
_DLQ_KEY = "errors.deadletterqueue.topic.name"

blueprint = faust.web.Blueprint("dlq")


# -- rendering --------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Connect data as JSON-ready values (structs as objects, bytes as base64)."""
    if isinstance(value, Struct):
        return _plain(value.as_dict())
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return orjson.loads(orjson.dumps(value, default=str))


def _payload(data: bytes | None, converter: Converter | str, topic: str) -> dict[str, Any] | None:
    if data is None:
        return None
    raw = {"base64": base64.b64encode(data).decode(), "size": len(data)}
    if isinstance(converter, str):  # the converter could not be built: say why
        return {"decoded": False, "converter": None, "error": converter, **raw, "text": _text(data)}
    try:
        _, value = converter.to_connect(topic, data)
        return {"decoded": True, "converter": converter.name, "data": _plain(value), **raw}
    except Exception as exc:  # any converter failure means "show the bytes": say why
        return {
            "decoded": False,
            "converter": converter.name,
            "error": f"{type(exc).__name__}: {exc}",
            **raw,
            "text": _text(data),
        }


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def _header(key: str, value: bytes | None) -> dict[str, Any]:
    if value is None:
        return {"key": key, "value": None, "encoding": None}
    try:
        return {"key": key, "value": value.decode("utf-8"), "encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"key": key, "value": base64.b64encode(value).decode(), "encoding": "base64"}


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "") else None
    except ValueError:
        return None


def _record(
    message: ConsumerRecord[bytes, bytes],
    converters: tuple[Converter | str, Converter | str],
    state: dict[str, Any] | None,
) -> dict[str, Any]:
    headers = list(message.headers or ())
    errors = {
        k[len(ERROR_PREFIX) :]: (v or b"").decode("utf-8", "backslashreplace")
        for k, v in headers
        if k.startswith(ERROR_PREFIX)
    }
    topic = errors.get("topic", "")
    return {
        "partition": message.partition,
        "offset": message.offset,
        "timestamp": message.timestamp,
        "key": _payload(message.key, converters[0], topic),
        "value": _payload(message.value, converters[1], topic),
        "headers": [_header(k, v) for k, v in headers if not k.startswith(ERROR_PREFIX)],
        "errors": errors,
        "original": {
            "topic": topic or None,
            "partition": _int_or_none(errors.get("partition")),
            "offset": _int_or_none(errors.get("offset")),
        },
        "state": state,
    }


# -- the marks --------------------------------------------------------------------------------


class _Marks:
    """The replayed/discarded marks, read from the compacted state topic (see the module)."""

    def __init__(self, app: Worker) -> None:
        self.app = app
        settings = app.connect_settings
        self.topic = f"{settings.group_id}-dlq-state"
        self._replicas = settings.status_storage_replication_factor
        self.marks: dict[str, dict[str, Any]] = {}
        self._position = 0
        self._created = False
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None

    async def _ensure(self) -> None:
        if not self._created:
            replicas = self._replicas if self._replicas > 0 else 1
            topic = NewTopic(self.topic, 1, replicas, topic_configs={"cleanup.policy": "compact"})
            await self.app.clients.create_topics([topic], timeout=30.0)
            self._created = True

    async def refresh(self) -> None:
        """Read the marks written since the last refresh (by any worker)."""
        async with self._lock:
            await self._ensure()
            tp = TopicPartition(self.topic, 0)
            if self._consumer is None:  # kept: one assignment, not one per request
                consumer = self.app.clients.consumer(group_id=None, enable_auto_commit=False)
                await consumer.start()
                consumer.assign([tp])
                self._consumer = consumer
            consumer = self._consumer
            end = (await consumer.end_offsets([tp]))[tp]
            if end < self._position:  # the topic was deleted and made again
                self.marks, self._position = {}, 0
            consumer.seek(tp, self._position)
            for message in await _read(consumer, tp, end):
                key = (message.key or b"").decode()
                if message.value is None:
                    self.marks.pop(key, None)
                else:
                    self.marks[key] = orjson.loads(message.value)
            self._position = max(self._position, await consumer.position(tp))

    async def close(self) -> None:
        """Release the consumer."""
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def put(self, marks: Mapping[str, dict[str, Any]]) -> None:
        """Store marks (and see them at once on this worker)."""
        await self._ensure()
        producer = self.app.clients.producer()
        await producer.start()
        try:
            for key, value in marks.items():
                await producer.send(self.topic, orjson.dumps(value), key=key.encode())
            await producer.flush()
        finally:
            await producer.stop()
        self.marks.update(marks)


def _mark_key(topic: str, partition: int, offset: int) -> str:
    return f"{topic}/{partition}/{offset}"


async def _read(
    consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, limit: int | None = None
) -> list[ConsumerRecord[bytes, bytes]]:
    """Messages from the consumer's position on ``tp`` up to ``end`` (or ``limit`` of them)."""
    found: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + READ_TIMEOUT
    while await consumer.position(tp) < end and time.monotonic() < deadline:
        if limit is not None and len(found) >= limit:
            break
        batch = await consumer.getmany(tp, timeout_ms=500, max_records=500)
        found.extend(m for m in batch.get(tp, ()) if m.offset < end)
    return found[:limit] if limit is not None else found


# -- the queues -------------------------------------------------------------------------------


class DeadLetterQueues:
    """Lists, replays and discards the records of connectors' dead letter queues."""

    def __init__(self, app: Worker) -> None:
        self.app = app
        self.marks = _Marks(app)

    async def close(self) -> None:
        """Release what the queues keep open (at the web server's cleanup)."""
        await self.marks.close()

    def _config(self, name: str) -> tuple[dict[str, str], str]:
        herder = getattr(self.app, "connectors")  # noqa: B009  # the App, typed as a Worker here
        config: dict[str, str] = dict(herder.config(name))  # NotFound for an unknown connector
        topic = config.get(_DLQ_KEY, "").strip()
        if not topic:
            raise NotFound(
                f"Connector {name} has no dead letter queue: set {_DLQ_KEY} "
                "(with errors.tolerance=all) to have one."
            )
        return config, topic

    def _converters(self, config: Mapping[str, str]) -> tuple[Converter | str, Converter | str]:
        defaults = self.app.connect_settings.converter_defaults()
        built: list[Converter | str] = []
        prefixes: tuple[ConverterPrefix, ...] = ("key.converter", "value.converter")
        for prefix in prefixes:
            source = config if config.get(prefix) else defaults
            url = source.get(f"{prefix}.schema.registry.url", "")
            # the runtime's in-process registry when the URL names this worker's embedded one
            # (RuntimeView, the type the app gives here, does not declare the method)
            registry = getattr(self.app.runtime, "registry_client", lambda url: None)(url)
            try:
                built.append(
                    converter_from_config(
                        config,
                        prefix,
                        defaults,
                        schema_registry=registry if url else None,
                    )
                )
            except ConfigError as exc:
                built.append(f"{prefix} cannot be built: {exc}")
        return built[0], built[1]

    async def _partitions(self, topic: str) -> set[int] | None:
        """The partitions of ``topic``; None if it does not exist."""
        client = self.app.clients.metadata()
        await client.bootstrap()
        try:
            cluster = await client.fetch_all_metadata()
        finally:
            await client.close()
        found = cluster.partitions_for_topic(topic)
        return None if found is None else set(found)

    async def _consumer(self) -> AIOKafkaConsumer:
        consumer = self.app.clients.consumer(group_id=None, enable_auto_commit=False)
        await consumer.start()
        return consumer

    async def browse(
        self,
        name: str,
        *,
        partition: int | None,
        offset: int | None,
        limit: int,
        discarded: bool,
    ) -> dict[str, Any]:
        """``GET .../dlq`` (see the module)."""
        config, topic = self._config(name)
        converters = self._converters(config)
        await self.marks.refresh()
        answer: dict[str, Any] = {"connector": name, "topic": topic, "exists": False}
        answer.update(partitions=[], records=[])
        found = await self._partitions(topic)
        if found is None:
            return answer
        answer["exists"] = True
        partitions = sorted(found)
        if partition is not None:
            if partition not in partitions:
                raise BadRequest(
                    f"Topic {topic} has no partition {partition} (it has {len(partitions)})."
                )
            partitions = [partition]
        consumer = await self._consumer()
        try:
            tps = [TopicPartition(topic, p) for p in partitions]
            starts = await consumer.beginning_offsets(tps)
            ends = await consumer.end_offsets(tps)
            consumer.assign(tps)
            for tp in tps:
                start, end = starts[tp], ends[tp]
                position = max(start, offset or 0)
                shown: list[dict[str, Any]] = []
                next_offset = end
                if position < end:
                    consumer.seek(tp, position)
                    for message in await _read(consumer, tp, end):
                        state = self.marks.marks.get(_mark_key(topic, tp.partition, message.offset))
                        hidden = state is not None and state.get("action") == "discarded"
                        if hidden and not discarded:
                            continue
                        if len(shown) >= limit:
                            next_offset = message.offset
                            break
                        shown.append(_record(message, converters, state))
                answer["partitions"].append(
                    {
                        "partition": tp.partition,
                        "start": start,
                        "end": end,
                        "next_offset": next_offset,
                    }
                )
                answer["records"].extend(shown)
        finally:
            await consumer.stop()
        return answer

    async def _fetch(
        self, topic: str, selected: Sequence[tuple[int, int]]
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The selected records, in the order given; BadRequest naming any that is not there."""
        partitions = await self._partitions(topic)
        if partitions is None:
            raise BadRequest(f"The dead letter queue topic {topic} does not exist yet.")
        unknown = sorted({p for p, _ in selected if p not in partitions})
        if unknown:
            raise BadRequest(
                f"Topic {topic} has no partition {', '.join(map(str, unknown))} "
                f"(it has {len(partitions)}). Nothing was done."
            )
        consumer = await self._consumer()
        try:
            tps = [TopicPartition(topic, p) for p in sorted({p for p, _ in selected})]
            starts = await consumer.beginning_offsets(tps)
            ends = await consumer.end_offsets(tps)
            consumer.assign(tps)
            found: dict[tuple[int, int], ConsumerRecord[bytes, bytes]] = {}
            missing = []
            for p, o in selected:
                tp = TopicPartition(topic, p)
                if not starts[tp] <= o < ends[tp]:
                    missing.append(f"{p}/{o} (partition {p} holds {starts[tp]}..{ends[tp] - 1})")
                    continue
                consumer.seek(tp, o)
                messages = await _read(consumer, tp, min(o + 1, ends[tp]))
                hit = next((m for m in messages if m.offset == o), None)
                if hit is None:
                    missing.append(f"{p}/{o} (no record there)")
                else:
                    found[(p, o)] = hit
        finally:
            await consumer.stop()
        if missing:
            raise BadRequest(
                f"Not in the dead letter queue {topic}: {', '.join(missing[:20])}."
                " Nothing was done."
            )
        return [found[key] for key in selected]

    async def replay(
        self, name: str, selected: Sequence[tuple[int, int]], target: str | None
    ) -> dict[str, Any]:
        """``POST .../dlq/replay`` (see the module)."""
        _, topic = self._config(name)
        records = await self._fetch(topic, selected)
        plans = []
        for message in records:
            headers = list(message.headers or ())
            original = dict(headers).get(ERROR_PREFIX + "topic")
            to = target or (original.decode() if original else "")
            if not to:
                raise BadRequest(
                    f"Record {message.partition}/{message.offset} names no original topic (no "
                    f"{ERROR_PREFIX}topic header): give a target topic. Nothing was done."
                )
            kept = [(k, v) for k, v in headers if not k.startswith(ERROR_PREFIX)]
            plans.append((message, to, kept))
        await self._check_topics({to for _, to, _ in plans})
        replayed = []
        producer = self.app.clients.producer()
        await producer.start()
        try:
            sent = [
                await producer.send(to, message.value, key=message.key, headers=kept)
                for message, to, kept in plans
            ]
            metadata = await asyncio.gather(*sent)
        finally:
            await producer.stop()
        marks = {}
        now = round(time.time(), 3)
        for (message, to, _), meta in zip(plans, metadata, strict=True):
            replayed.append(
                {
                    "partition": message.partition,
                    "offset": message.offset,
                    "topic": to,
                    "target_partition": meta.partition,
                    "target_offset": meta.offset,
                }
            )
            marks[_mark_key(topic, message.partition, message.offset)] = {
                "action": "replayed",
                "at": now,
                "topic": to,
            }
        await self.marks.put(marks)
        return {"replayed": replayed}

    async def _check_topics(self, topics: set[str]) -> None:
        absent = sorted([t for t in topics if await self._partitions(t) is None])
        if absent:
            raise BadRequest(
                f"Target topic {', '.join(absent)} does not exist. Nothing was replayed."
            )

    async def discard(self, name: str, selected: Sequence[tuple[int, int]]) -> dict[str, Any]:
        """``POST .../dlq/discard`` (see the module)."""
        _, topic = self._config(name)
        records = await self._fetch(topic, selected)
        now = round(time.time(), 3)
        await self.marks.put(
            {
                _mark_key(topic, m.partition, m.offset): {"action": "discarded", "at": now}
                for m in records
            }
        )
        return {"discarded": [{"partition": m.partition, "offset": m.offset} for m in records]}


# -- request parsing --------------------------------------------------------------------------


def _query_int(request: Request, key: str, *, minimum: int) -> int | None:
    text = request.query.get(key)
    if text in (None, ""):
        return None
    try:
        value = int(str(text))
    except ValueError:
        raise BadRequest(f"Query parameter {key} must be an integer, got {text!r}.") from None
    if value < minimum:
        raise BadRequest(f"Query parameter {key} must be at least {minimum}, got {value}.")
    return value


def _offset(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest(f"{what} must be a non-negative integer, got {value!r}.")
    return value


def selected_records(body: Any) -> list[tuple[int, int]]:
    """The ``(partition, offset)`` pairs a replay or discard body names, in order, once each."""
    if not isinstance(body, dict):
        raise BadRequest('The body must be a JSON object: {"records": [{"partition", "offset"}]}.')
    pairs: list[tuple[int, int]] = []
    if "records" in body:
        records = body["records"]
        if not isinstance(records, list):
            raise BadRequest('"records" must be a list of {"partition", "offset"} objects.')
        for entry in records:
            if not isinstance(entry, dict) or "offset" not in entry:
                raise BadRequest(f'Each record must be {{"partition", "offset"}}, got {entry!r}.')
            partition = _offset(entry.get("partition", 0), "partition")
            pairs.append((partition, _offset(entry["offset"], "offset")))
    elif "offsets" in body:
        offsets = body["offsets"]
        if not isinstance(offsets, list):
            raise BadRequest('"offsets" must be a list of integers.')
        partition = _offset(body.get("partition", 0), "partition")
        pairs = [(partition, _offset(o, "offset")) for o in offsets]
    else:
        raise BadRequest('Name the records: {"records": [{"partition": 0, "offset": 3}]}.')
    if not pairs:
        raise BadRequest("No records selected.")
    if len(pairs) > MAX_SELECTED:
        raise BadRequest(f"At most {MAX_SELECTED} records at once, got {len(pairs)}.")
    return list(dict.fromkeys(pairs))


# -- views ------------------------------------------------------------------------------------


class _DlqView(ConnectView):
    @property
    def queues(self) -> DeadLetterQueues:
        found: DeadLetterQueues = self.app.web.web_app[QUEUES]  # type: ignore[attr-defined]  # aiohttp driver
        return found

    async def dispatch(self, request: Any) -> Any:
        try:
            return await super().dispatch(request)
        except KafkaError as exc:  # the broker, not the request: say so
            body = error_body(503, f"Kafka is not answering as expected: {exc!r}")
            return self.json(body, status=503)


#: Where a worker's :class:`DeadLetterQueues` is kept on its aiohttp application.
QUEUES = web.AppKey("faust_connect.dlq", DeadLetterQueues)


@blueprint.route(PREFIX + "/connectors/{name}/dlq", name="dlq")
class DeadLetterQueueView(_DlqView):
    """``GET /faust-connect/connectors/{name}/dlq``."""

    async def get(self, request: Request, name: str) -> Response:
        limit = _query_int(request, "limit", minimum=1) or DEFAULT_LIMIT
        if limit > MAX_LIMIT:
            raise BadRequest(f"Query parameter limit must be at most {MAX_LIMIT}, got {limit}.")
        listed = await self.queues.browse(
            name,
            partition=_query_int(request, "partition", minimum=0),
            offset=_query_int(request, "offset", minimum=0),
            limit=limit,
            discarded=str(request.query.get("discarded", "false")).lower() == "true",
        )
        return self.json(listed)


@blueprint.route(PREFIX + "/connectors/{name}/dlq/replay", name="dlq-replay")
class ReplayView(_DlqView):
    """``POST /faust-connect/connectors/{name}/dlq/replay``."""

    async def post(self, request: Request, name: str) -> Response:
        body = await self.body(request)
        selected = selected_records(body)
        target = body.get("topic")
        if target is not None and (not isinstance(target, str) or not target.strip()):
            raise BadRequest(f'"topic" must be a topic name, got {target!r}.')
        return self.json(await self.queues.replay(name, selected, target and target.strip()))


@blueprint.route(PREFIX + "/connectors/{name}/dlq/discard", name="dlq-discard")
class DiscardView(_DlqView):
    """``POST /faust-connect/connectors/{name}/dlq/discard``."""

    async def post(self, request: Request, name: str) -> Response:
        selected = selected_records(await self.body(request))
        return self.json(await self.queues.discard(name, selected))
