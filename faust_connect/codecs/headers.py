"""Kafka's ``SimpleHeaderConverter``: header values as text, with types inferred on read.

>>> conv = SimpleHeaderConverter()
>>> conv.from_connect_header("t", "h", None, [1, 2])
b'[1,2]'
>>> conv.to_connect_header("t", "h", b"true")
(Schema(boolean), True)
"""

from __future__ import annotations

from typing import Any

from faust_connect.codecs.base import Converter, SchemaAndValue
from faust_connect.codecs.values import parse_text, to_text
from faust_connect.data import STRING, Schema
from faust_connect.records import Headers

__all__ = ["SimpleHeaderConverter"]


class SimpleHeaderConverter(Converter):
    """Writes values with ``Values.convertToString`` (UTF-8), reads them with ``parseString``.

    Text that cannot be read as anything else is a STRING, so reading never fails on valid
    UTF-8.
    """

    name = "SimpleHeaderConverter"

    def from_connect(
        self, topic: str, schema: Schema | None, value: Any, headers: Headers | None = None
    ) -> bytes | None:
        """The value's text, UTF-8 encoded; None stays None."""
        try:
            text = to_text(schema, value)
        except (TypeError, ValueError) as exc:
            raise self.error(str(exc)) from exc
        return None if text is None else text.encode("utf-8")

    def to_connect(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        """The inferred ``(schema, value)``; None gives ``(None, None)``."""
        if data is None:
            return None, None
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.error(f"header value is not UTF-8: {exc}") from exc
        try:
            return parse_text(text)
        except (ValueError, ArithmeticError):
            return STRING, text
