"""FileStream source and sink, with Kafka's configs and offsets.

The source reads a file line by line as Kafka's task does: a line ends at ``\n``, ``\r\n`` or a
lone ``\r``, and becomes a STRING value (not optional) with no key, stamped with the time it was
read. Its source partition is ``{"filename": path}`` and its offset ``{"position": <byte offset
after the line>}``, so a restart goes on after the last line whose record the broker
acknowledged. At the end of the file it waits for more lines. The sink appends each record's value as one line: strings as they are,
bytes decoded as UTF-8, structs, maps and lists as JSON.
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, cast

import orjson
from pydantic import Field

from faust_connect.config import CommaList, PluginConfig
from faust_connect.connector import (
    ExactlyOnceSupport,
    SinkConnector,
    SinkTask,
    SourceConnector,
    SourceTask,
    TopicPartition,
)
from faust_connect.data import STRING, Struct
from faust_connect.records import SinkRecord, SourceRecord

__all__ = ["FileStreamSinkConnector", "FileStreamSourceConnector"]

_CHUNK = 64 * 1024


class FileStreamSourceConnector(SourceConnector):
    """Reads lines from a file into a topic."""

    class Config(PluginConfig):
        file: str = Field("", description="Source filename. If not specified, stdin is used.")
        topic: str = Field(description="The topic to publish data to.", min_length=1)
        batch_size: int = Field(
            2000, ge=1, description="The maximum number of records the task returns per poll."
        )

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """One task: a file is read in order."""
        return [dict(self.raw)]

    def exactly_once_support(self) -> ExactlyOnceSupport | None:
        """A file is read again from the stored position; stdin cannot be."""
        return "SUPPORTED" if self.raw.get("file", "").strip() else "UNSUPPORTED"


class FileStreamSourceTask(SourceTask):
    """Reads the file from the stored position."""

    Config = FileStreamSourceConnector.Config
    settings: FileStreamSourceConnector.Config

    async def start(self) -> None:
        self.topic = self.settings.topic
        self.batch_size = self.settings.batch_size
        self.path = self.settings.file
        self.partition = {"filename": self.path or "stdin"}
        stored = self.context.offset(self.partition)
        self.position = int(stored["position"]) if stored else 0
        self._file: io.BufferedReader | None = None
        self._pending = b""  # read from the file, not yet returned as lines (from _start)
        self._start = 0

    def _open(self) -> io.BufferedReader | None:
        if self._file is None:
            if not self.path:
                # sys.__stdin__.buffer is a BufferedReader; typeshed calls it BinaryIO
                self._file = cast(io.BufferedReader, _std("stdin"))
            elif Path(self.path).exists():
                self._file = open(self.path, "rb")  # held open across polls
                self._file.seek(self.position)
        return self._file

    def _read_lines(self) -> list[tuple[bytes, int]]:
        file = self._open()
        if file is None:
            return []
        lines: list[tuple[bytes, int]] = []
        while len(lines) < self.batch_size:
            line = self._extract_line()
            if line is not None:
                lines.append(line)
                continue
            chunk = file.read1(_CHUNK)  # what is there: stdin must not wait for a full chunk
            if not chunk:
                break
            self._pending = self._pending[self._start :] + chunk
            self._start = 0
        return lines

    def _extract_line(self) -> tuple[bytes, int] | None:
        # Kafka's task ends a line at "\n", "\r\n" or a lone "\r"; a "\r" that ends the data
        # read so far waits for the next byte, which may be its "\n".
        buffer, start = self._pending, self._start
        newline, carriage = buffer.find(b"\n", start), buffer.find(b"\r", start)
        if carriage != -1 and (newline == -1 or carriage < newline):
            if carriage + 1 >= len(buffer):
                return None
            until = carriage
            after = carriage + (2 if buffer[carriage + 1] == 0x0A else 1)
        elif newline != -1:
            until, after = newline, newline + 1
        else:
            return None
        self._start = after
        self.position += after - start
        return buffer[start:until], self.position

    async def poll(self) -> Sequence[SourceRecord]:
        lines = await asyncio.to_thread(self._read_lines)
        now = int(time.time() * 1000)
        return [
            SourceRecord(
                topic=self.topic,
                value=line.decode("utf-8", errors="replace"),
                value_schema=STRING,  # Kafka's task: Schema.STRING_SCHEMA, not optional
                timestamp=now,  # and the time it read the line (System.currentTimeMillis())
                source_partition=self.partition,
                source_offset={"position": end},
            )
            for line, end in lines
        ]

    async def stop(self) -> None:
        if self._file is not None and self.path:
            self._file.close()


FileStreamSourceConnector.task_class = FileStreamSourceTask


class FileStreamSinkConnector(SinkConnector):
    """Appends record values to a file, one per line."""

    class Config(PluginConfig):
        file: str = Field("", description="Destination filename. If not specified, stdout.")
        topics: CommaList = Field((), description="Topics to consume.")


class FileStreamSinkTask(SinkTask):
    """Writes each value as a line; flush makes them durable."""

    Config = FileStreamSinkConnector.Config
    settings: FileStreamSinkConnector.Config

    async def start(self) -> None:
        path = self.settings.file
        self._owned = bool(path)
        self._out: IO[bytes] = open(path, "ab") if path else _std("stdout")

    async def put(self, records: Sequence[SinkRecord]) -> None:
        self._out.write(b"".join([_line(record.value) for record in records]))

    async def flush(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._out.flush()

    async def stop(self) -> None:
        self._out.flush()
        if self._owned:
            self._out.close()


FileStreamSinkConnector.task_class = FileStreamSinkTask


def _std(name: str) -> IO[bytes]:
    # The process's own stdin/stdout: Faust's worker replaces sys.stdout with a logger.
    stream = getattr(sys, f"__{name}__")
    if stream is None:
        raise OSError(f"this process has no {name}")
    buffer: IO[bytes] = stream.buffer
    return buffer


def _line(value: Any) -> bytes:
    if type(value) is Struct:  # the common case first
        return orjson.dumps(value.as_dict(), default=str, option=orjson.OPT_APPEND_NEWLINE)
    if isinstance(value, str):
        return value.encode() + b"\n"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value) + b"\n"
    if isinstance(value, Struct):
        value = value.as_dict()
    return orjson.dumps(value, default=str, option=orjson.OPT_APPEND_NEWLINE)
