"""The error every converter raises, and how the runtime adds a record's place to it.

A converter knows its own name and what went wrong, never where the record sits in Kafka.
It raises :class:`CodecError` (a :class:`~faust_connect.exceptions.ConversionError`) with
``converter`` and ``reason``; the runtime catches it around the call and re-raises
``exc.with_context(topic=..., partition=..., offset=..., stage="VALUE_CONVERTER")``, which
returns a copy whose message also names the record::

    try:
        schema, value = converter.to_connect(msg.topic, msg.value)
    except CodecError as exc:
        raise exc.with_context(topic=msg.topic, partition=msg.partition,
                               offset=msg.offset, stage="VALUE_CONVERTER") from exc

>>> str(CodecError("JsonConverter", "malformed JSON").with_context(topic="t", offset=4))
'JsonConverter: malformed JSON (topic t, offset 4)'
"""

from __future__ import annotations

from faust_connect.exceptions import ConversionError

__all__ = ["CodecError"]


class CodecError(ConversionError):
    """A converter failed on one record: ``converter`` names it, ``reason`` says why.

    ``topic``, ``partition``, ``offset`` and ``stage`` are None until the runtime adds them
    with :meth:`with_context`.
    """

    def __init__(
        self,
        converter: str,
        reason: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        stage: str | None = None,
    ) -> None:
        self.converter = converter
        self.reason = reason
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.stage = stage
        super().__init__(self._message())

    def _message(self) -> str:
        where = [
            f"{label} {value}"
            for label, value in (
                ("stage", self.stage),
                ("topic", self.topic),
                ("partition", self.partition),
                ("offset", self.offset),
            )
            if value is not None
        ]
        suffix = f" ({', '.join(where)})" if where else ""
        return f"{self.converter}: {self.reason}{suffix}"

    def with_context(
        self,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        stage: str | None = None,
    ) -> CodecError:
        """A copy that also names the record; unset arguments keep the current values."""
        copy = CodecError(
            self.converter,
            self.reason,
            topic=self.topic if topic is None else topic,
            partition=self.partition if partition is None else partition,
            offset=self.offset if offset is None else offset,
            stage=self.stage if stage is None else stage,
        )
        copy.__cause__ = self.__cause__
        return copy
