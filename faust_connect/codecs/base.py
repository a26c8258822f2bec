"""The converter seam: Connect data to bytes and back, plus the registry of converters.

A converter mirrors Kafka's ``Converter`` (and ``HeaderConverter``): it is configured once with
its options and whether it converts keys, then turns ``(schema, value)`` into bytes with
:meth:`Converter.from_connect` and bytes back into ``(schema, value)`` with
:meth:`Converter.to_connect`. ``None`` bytes are a tombstone both ways.

Configs name converters the way Kafka does (``value.converter`` plus ``value.converter.*``
options); :func:`converter_from_config` builds one::

    >>> conv = converter_from_config(
    ...     {"value.converter": "org.apache.kafka.connect.json.JsonConverter",
    ...      "value.converter.schemas.enable": "false"},
    ...     "value.converter", {})
    >>> conv.from_connect("t", None, {"a": 1})
    b'{"a":1}'

Writing one: subclass :class:`Converter`, declare ``Config`` (a PluginConfig) and ``name``,
implement both methods and register it in :data:`converters` (or the entry-point group
``faust_connect.converters``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from faust_connect.codecs.errors import CodecError
from faust_connect.config import PluginConfig, parse_config
from faust_connect.data import Schema
from faust_connect.exceptions import ConfigError, ConfigIssue, PluginNotFound
from faust_connect.records import Headers
from faust_connect.registry import Registry

if TYPE_CHECKING:
    from faust_connect.codecs.registry.client import SchemaRegistryClient

__all__ = [
    "DEFAULT_HEADER_CONVERTER",
    "Columns",
    "Converter",
    "ConverterPrefix",
    "NoOptions",
    "SchemaAndValue",
    "converter_from_config",
    "converters",
]

#: What :meth:`Converter.to_connect` returns: Kafka's SchemaAndValue.
SchemaAndValue = tuple[Schema | None, Any]
#: What :meth:`Converter.to_connect_columns` returns: the schemas and the values.
Columns = tuple[Sequence[Schema | None], Sequence[Any]]
#: The config keys that name a converter.
ConverterPrefix = Literal["key.converter", "value.converter", "header.converter"]
#: The worker's ``header.converter`` when none is configured.
DEFAULT_HEADER_CONVERTER = "org.apache.kafka.connect.storage.SimpleHeaderConverter"


class NoOptions(PluginConfig):
    """The config of a converter without options."""


class Converter(ABC):
    """Turns Connect data into bytes and back; configured once, then used per record.

    ``config`` is the converter's ``Config`` model or a mapping of its options (Kafka's keys
    without the ``value.converter.`` prefix); ``is_key`` says whether it converts record keys.

    >>> class Upper(Converter):
    ...     name = "Upper"
    ...     def from_connect(self, topic, schema, value, headers=None):
    ...         return None if value is None else value.upper().encode()
    ...     def to_connect(self, topic, data, headers=None):
    ...         return (None, None if data is None else data.decode())
    >>> Upper().from_connect("t", None, "hi")
    b'HI'
    """

    #: The converter's options.
    Config: ClassVar[type[PluginConfig]] = NoOptions
    #: A short name used in error messages (Kafka's simple class name).
    name: ClassVar[str] = "Converter"

    config: PluginConfig

    def __init__(
        self, config: PluginConfig | Mapping[str, Any] | None = None, *, is_key: bool = False
    ) -> None:
        if config is None or isinstance(config, Mapping):
            config = parse_config(self.Config, config or {})
        elif not isinstance(config, self.Config):
            raise TypeError(f"{self.name} needs a {self.Config.__name__}, not {config!r}")
        self.config = config
        self.is_key = is_key

    @classmethod
    def from_config(
        cls,
        options: Mapping[str, Any],
        *,
        is_key: bool = False,
        prefix: str = "",
        schema_registry: SchemaRegistryClient | None = None,
    ) -> Self:
        """Build from raw options; a ConfigError names each bad key with ``prefix``.

        ``schema_registry`` is for converters that need one (Avro); others ignore it.
        """
        return cls(parse_config(cls.Config, options, prefix=prefix), is_key=is_key)

    @abstractmethod
    def from_connect(
        self, topic: str, schema: Schema | None, value: Any, headers: Headers | None = None
    ) -> bytes | None:
        """Serialize ``value`` (described by ``schema``, if any); None means a tombstone."""

    @abstractmethod
    def to_connect(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        """Deserialize ``data`` into ``(schema, value)``; None data gives ``(None, None)``."""

    def to_connect_many(self, topic: str, datas: Sequence[bytes | None]) -> list[SchemaAndValue]:
        """:meth:`to_connect` of many messages' data of one topic (no headers), in order.

        Raises as :meth:`to_connect` does on the first data it cannot read; the caller then
        converts one by one to find which. Converters with a cheaper batch path override it.
        """
        to_connect = self.to_connect
        return [to_connect(topic, data) for data in datas]

    def to_connect_columns(self, topic: str, datas: Sequence[bytes | None]) -> Columns:
        """:meth:`to_connect_many` as two columns, the schemas and the values, in order.

        Raises as :meth:`to_connect` does; converters that can read a batch without a
        ``(schema, value)`` tuple per message override it.
        """
        pairs = self.to_connect_many(topic, datas)
        return [schema for schema, _ in pairs], [value for _, value in pairs]

    def from_connect_header(
        self, topic: str, key: str, schema: Schema | None, value: Any
    ) -> bytes | None:
        """Serialize one header value (Kafka's HeaderConverter); defaults to from_connect."""
        return self.from_connect(topic, schema, value)

    def to_connect_header(self, topic: str, key: str, data: bytes | None) -> SchemaAndValue:
        """Deserialize one header value; defaults to to_connect."""
        return self.to_connect(topic, data)

    def error(self, reason: str) -> CodecError:
        """A CodecError naming this converter (raise it, ``from`` the cause)."""
        return CodecError(self.name, reason)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} is_key={self.is_key}>"


converters: Registry[type[Converter]] = Registry(
    "converter", Converter, entry_point_group="faust_connect.converters"
)

_KAFKA = "org.apache.kafka.connect"
_BUILTIN: list[tuple[str, str, tuple[str, ...]]] = [
    ("json", "json.converter:JsonConverter", (f"{_KAFKA}.json.JsonConverter", "JsonConverter")),
    ("string", "primitives:StringConverter", (f"{_KAFKA}.storage.StringConverter",)),
    ("bytes", "primitives:ByteArrayConverter", (f"{_KAFKA}.converters.ByteArrayConverter",)),
    ("short", "primitives:ShortConverter", (f"{_KAFKA}.converters.ShortConverter",)),
    ("integer", "primitives:IntegerConverter", (f"{_KAFKA}.converters.IntegerConverter",)),
    ("long", "primitives:LongConverter", (f"{_KAFKA}.converters.LongConverter",)),
    ("float", "primitives:FloatConverter", (f"{_KAFKA}.converters.FloatConverter",)),
    ("double", "primitives:DoubleConverter", (f"{_KAFKA}.converters.DoubleConverter",)),
    ("boolean", "primitives:BooleanConverter", (f"{_KAFKA}.converters.BooleanConverter",)),
    ("simple-header", "headers:SimpleHeaderConverter", (DEFAULT_HEADER_CONVERTER,)),
    ("avro", "avro.converter:AvroConverter", ("io.confluent.connect.avro.AvroConverter",)),
    ("avro-plain", "avro.plain:PlainAvroConverter", ()),
]
for _name, _target, _aliases in _BUILTIN:
    _simple = tuple(a.rsplit(".", 1)[-1] for a in _aliases if "." in a)
    converters.register(
        _name,
        f"faust_connect.codecs.{_target}",
        aliases=tuple(dict.fromkeys((*_aliases, *_simple))),
    )


def converter_from_config(
    config: Mapping[str, Any],
    prefix: ConverterPrefix,
    defaults: Mapping[str, Any],
    *,
    schema_registry: SchemaRegistryClient | None = None,
) -> Converter:
    """The converter that ``prefix`` names, configured from its ``<prefix>.*`` options.

    As in Kafka, a connector config that names the converter class wins as a whole: its own
    ``<prefix>.*`` options are used and the worker's (``defaults``) are not merged in. Without
    a class in ``config``, the worker's class and options apply. ``header.converter`` falls back
    to SimpleHeaderConverter. Raises ConfigError naming each bad key with its full prefix.
    """
    source = config if config.get(prefix) else defaults
    class_name = source.get(prefix)
    if not class_name and prefix == "header.converter":
        class_name = DEFAULT_HEADER_CONVERTER
    if not class_name:
        raise ConfigError([ConfigIssue(prefix, "Missing required configuration.")])
    try:
        cls = converters.get(str(class_name).strip())
    except PluginNotFound as exc:
        raise ConfigError([ConfigIssue(prefix, str(exc))]) from None
    start = prefix + "."
    options = {k[len(start) :]: v for k, v in source.items() if k.startswith(start)}
    return cls.from_config(
        options, is_key=prefix == "key.converter", prefix=start, schema_registry=schema_registry
    )
