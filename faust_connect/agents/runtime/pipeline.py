"""One task's record path between the task and Kafka's bytes: converters, transforms, errors.

A source's records go ``transform`` → :meth:`Pipeline.to_bytes`; a sink's fetched messages go
:meth:`Pipeline.from_bytes` (a lazy :class:`~faust_connect.records.SinkRecords` batch) →
``transform`` (both: :meth:`Pipeline.sink_records`). Every failure on the way is handed to the
task's :class:`~faust_connect.agents.runtime.error_policy.ErrorPolicy`, which skips,
dead-letters or fails it. Nothing here talks to Kafka: the runners move the bytes (and
:mod:`faust_connect.testing` runs the same path without a broker).
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from aiokafka.structs import ConsumerRecord, TopicPartition

from faust_connect.agents.runtime.error_policy import DeadLetters, ErrorPolicy, Raw, Stage
from faust_connect.agents.runtime.task_metrics import TaskMetrics
from faust_connect.codecs import Converter, SchemaRegistryClient, converter_from_config
from faust_connect.codecs.base import ConverterPrefix
from faust_connect.config import ConnectorConfig
from faust_connect.data import Schema
from faust_connect.records import (
    EMPTY_HEADERS,
    ConnectRecord,
    Header,
    Headers,
    SinkRecord,
    SinkRecords,
    SourceRecord,
)
from faust_connect.transforms import Chain, chain_from_config

__all__ = ["Messages", "Pipeline", "Serialized", "raw_message", "raw_of"]

R = TypeVar("R", bound=ConnectRecord)
#: Fetched messages by partition, each partition's in offset order.
Messages = Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
#: A source record and its key, value and headers as bytes.
Serialized = tuple[SourceRecord, bytes | None, bytes | None, list[tuple[str, bytes | None]]]
#: A partition's messages and their key schemas, keys, value schemas and values.
_Columns = tuple[
    Sequence[ConsumerRecord[bytes, bytes]],
    Sequence[Schema | None],
    Sequence[Any],
    Sequence[Schema | None],
    Sequence[Any],
]


class _Failed(Exception):
    """One record failed at a converter stage (on its way to the error policy)."""

    def __init__(self, stage: Stage, converter: Converter, error: Exception) -> None:
        super().__init__(stage)
        self.stage, self.converter, self.error = stage, converter, error


class Pipeline:
    """The converters, transform chain and error policy of one task."""

    def __init__(
        self,
        config: Mapping[str, str],
        settings: ConnectorConfig,
        *,
        connector: str,
        task_id: int,
        metrics: TaskMetrics,
        logger: logging.Logger,
        dead_letters: DeadLetters,
        converter_defaults: Mapping[str, str],
        registry_client: Callable[[str], SchemaRegistryClient | None] = lambda url: None,
        chain: Chain | None = None,
    ) -> None:
        self.metrics = metrics
        self.errors = ErrorPolicy(
            settings,
            connector=connector,
            task_id=task_id,
            metrics=metrics,
            logger=logger,
            dead_letters=dead_letters,
        )

        def converter(prefix: ConverterPrefix) -> Converter:
            source = config if config.get(prefix) else converter_defaults
            url = source.get(f"{prefix}.schema.registry.url", "")
            registry = registry_client(url) if url else None
            return converter_from_config(
                config, prefix, converter_defaults, schema_registry=registry
            )

        self.key_converter = converter("key.converter")
        self.value_converter = converter("value.converter")
        self.header_converter = converter("header.converter")
        configured = chain_from_config(config)
        self.chain: Chain = chain | configured if chain is not None else configured

    async def transform(
        self, records: Sequence[R], raw_of: Callable[[R], Raw | None] | None = None
    ) -> list[R]:
        """``records`` through the transform chain; a record that fails goes to the policy."""
        dropped: list[tuple[Any, Exception]] = []
        survivors = self.chain.apply_batch(records, on_error=lambda r, e: dropped.append((r, e)))
        for record, error in dropped:
            raw = raw_of(record) if raw_of is not None else None
            await self.errors.failed("TRANSFORMATION", error, raw=raw, record=record)
        return survivors

    # -- source records to bytes ----------------------------------------------------------

    async def to_bytes(self, records: Sequence[SourceRecord]) -> list[Serialized]:
        """Each record's key, value and headers as bytes; a record that fails goes to the
        policy (and is left out)."""
        out: list[Serialized] = []
        for record in records:
            try:
                out.append(self._serialize(record))
            except _Failed as failed:
                await self.errors.failed(
                    failed.stage, failed.error, record=record, plugin=failed.converter
                )
        return out

    def _serialize(self, record: SourceRecord) -> Serialized:
        topic, headers = record.topic, record.headers
        try:
            key = self.key_converter.from_connect(topic, record.key_schema, record.key, headers)
        except Exception as exc:
            raise _Failed("KEY_CONVERTER", self.key_converter, exc) from exc
        try:
            value = self.value_converter.from_connect(
                topic, record.value_schema, record.value, headers
            )
        except Exception as exc:
            raise _Failed("VALUE_CONVERTER", self.value_converter, exc) from exc
        if not headers:
            return record, key, value, []  # a list: aiokafka's record builder takes no other
        convert = self.header_converter.from_connect_header
        try:
            raw = [(h.key, convert(topic, h.key, h.schema, h.value)) for h in headers]
        except Exception as exc:
            raise _Failed("HEADER_CONVERTER", self.header_converter, exc) from exc
        return record, key, value, raw

    # -- fetched messages to sink records -------------------------------------------------

    async def sink_records(self, messages: Messages) -> Sequence[SinkRecord]:
        """What ``put`` gets for fetched messages: :meth:`from_bytes`, then the transforms
        (without any, the lazy batch itself: no record is built unless ``put`` asks)."""
        records = await self.from_bytes(messages)
        if not self.chain.stages:
            return records
        return await self.transform(records, lambda r: raw_of(messages, r))

    async def from_bytes(self, messages: Messages) -> SinkRecords:
        """Sink records of fetched messages, as columns: keys and values converted a
        partition's batch at a time (one record at a time only after a failure, to find the
        bad ones); a message that fails goes to the policy, in offset order."""
        parts: list[SinkRecords] = []
        failures: list[tuple[ConsumerRecord[bytes, bytes], _Failed]] = []
        key_converter, value_converter = self.key_converter, self.value_converter
        for tp, batch in messages.items():
            topic = tp.topic
            try:
                key_schemas, keys = key_converter.to_connect_columns(topic, [m.key for m in batch])
                value_schemas, values = value_converter.to_connect_columns(
                    topic, [m.value for m in batch]
                )
                columns: _Columns = (batch, key_schemas, keys, value_schemas, values)
            except Exception:
                columns = self._convert_each(topic, batch, failures)
            if any(m.headers for m in columns[0]):
                parts.append(self._with_headers(topic, columns, failures))
            else:
                parts.append(SinkRecords(*columns))
        failures.sort(key=lambda f: (f[0].topic, f[0].partition, f[0].offset))
        for message, failed in failures:
            await self.errors.failed(
                failed.stage, failed.error, raw=raw_message(message), plugin=failed.converter
            )
        return SinkRecords.concat(parts) if parts else SinkRecords([], [], [], [], [])

    def _convert_each(
        self,
        topic: str,
        batch: Sequence[ConsumerRecord[bytes, bytes]],
        failures: list[tuple[ConsumerRecord[bytes, bytes], _Failed]],
    ) -> _Columns:
        to_key = self.key_converter.to_connect
        to_value = self.value_converter.to_connect
        kept, key_pairs, value_pairs = [], [], []
        for m in batch:
            try:
                key = to_key(topic, m.key)
            except Exception as exc:
                failures.append((m, _Failed("KEY_CONVERTER", self.key_converter, exc)))
                continue
            try:
                value = to_value(topic, m.value)
            except Exception as exc:
                failures.append((m, _Failed("VALUE_CONVERTER", self.value_converter, exc)))
                continue
            kept.append(m)
            key_pairs.append(key)
            value_pairs.append(value)
        return (
            kept,
            [schema for schema, _ in key_pairs],
            [key for _, key in key_pairs],
            [schema for schema, _ in value_pairs],
            [value for _, value in value_pairs],
        )

    def _with_headers(
        self,
        topic: str,
        columns: _Columns,
        failures: list[tuple[ConsumerRecord[bytes, bytes], _Failed]],
    ) -> SinkRecords:
        """The records of ``columns`` with their headers converted; a message whose headers
        fail goes to ``failures`` and is left out."""
        kept: list[int] = []
        headers: list[Headers] = []
        for i, m in enumerate(columns[0]):
            if not m.headers:
                converted = EMPTY_HEADERS
            else:
                try:
                    converted = self._headers(topic, m.headers)
                except Exception as exc:
                    failed = _Failed("HEADER_CONVERTER", self.header_converter, exc)
                    failures.append((m, failed))
                    continue
            kept.append(i)
            headers.append(converted)
        if len(kept) < len(columns[0]):
            columns = cast(_Columns, tuple([column[i] for i in kept] for column in columns))
        return SinkRecords(*columns, headers)

    def _headers(self, topic: str, raw: Sequence[tuple[str, bytes]]) -> Headers:
        convert = self.header_converter.to_connect_header
        out = []
        for key, data in raw:
            schema, value = convert(topic, key, data)
            out.append(Header(key, value, schema))
        return Headers(out)


def raw_of(messages: Messages, record: SinkRecord) -> Raw | None:
    """The raw message a sink record came from (by its original topic, partition, offset)."""
    found = messages.get(TopicPartition(record.original_topic, record.original_partition))
    if not found:
        return None
    index = bisect.bisect_left(found, record.original_offset, key=lambda m: m.offset)
    if index < len(found) and found[index].offset == record.original_offset:
        return raw_message(found[index])
    return None


def raw_message(message: ConsumerRecord[bytes, bytes]) -> Raw:
    """A fetched message as the dead letter queue keeps it."""
    return Raw(
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        list(message.headers),
        message.timestamp,
    )
