"""The ``transforms`` and ``predicates`` registries, with every built-in plugin.

Built-ins are registered lazily (``"module:Class"``) under a short name, with Kafka's Java class
names (``org.apache.kafka.connect.transforms.InsertField$Value``, ``...$Key``) and a snake_case
name as aliases. Register your own with the decorator, or ship them as entry points in the
``faust_connect.transforms`` / ``faust_connect.predicates`` groups::

    from faust_connect.transforms import Transform, transforms

    @transforms.register("UpperTopic", aliases=["com.example.UpperTopic"])
    class UpperTopic(Transform):
        def apply(self, record):
            return record.replace(topic=record.topic.upper())
"""

from __future__ import annotations

import re

from faust_connect.registry import Registry
from faust_connect.transforms.base import Predicate, Transform

__all__ = ["KAFKA_PREDICATES_PACKAGE", "KAFKA_TRANSFORMS_PACKAGE", "predicates", "transforms"]

KAFKA_TRANSFORMS_PACKAGE = "org.apache.kafka.connect.transforms"
KAFKA_PREDICATES_PACKAGE = "org.apache.kafka.connect.transforms.predicates"

#: Transforms by name.
transforms: Registry[type[Transform]] = Registry(
    "transform", Transform, entry_point_group="faust_connect.transforms"
)
#: Predicates by name.
predicates: Registry[type[Predicate]] = Registry(
    "predicate", Predicate, entry_point_group="faust_connect.predicates"
)

_M = "faust_connect.transforms."
#: Kafka's SMTs with ``$Key``/``$Value`` variants, by module.
_KEY_VALUE = {
    "Cast": "cast",
    "ExtractField": "structure",
    "Flatten": "structure",
    "HeaderFrom": "headers",
    "HoistField": "structure",
    "InsertField": "fields",
    "MaskField": "fields",
    "ReplaceField": "fields",
    "SetSchemaMetadata": "structure",
    "TimestampConverter": "timestamps",
}
_PLAIN = {
    "DropHeaders": "headers",
    "Filter": "filtering",
    "InsertHeader": "headers",
    "RegexRouter": "routing",
    "TimestampRouter": "routing",
    "ValueToKey": "fields",
}
_PREDICATES = {
    "HasHeaderKey": "filtering",
    "RecordIsTombstone": "filtering",
    "TopicNameMatches": "filtering",
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _register_builtins() -> None:
    for name, module in {**_KEY_VALUE, **_PLAIN}.items():
        java = f"{KAFKA_TRANSFORMS_PACKAGE}.{name}"
        aliases = [java, _snake(name)]
        if name in _KEY_VALUE:
            aliases += [f"{java}$Key", f"{java}$Value", f"{name}$Key", f"{name}$Value"]
        transforms.register(name, f"{_M}{module}:{name}", aliases=aliases)
    transforms.register(
        "ExtractNewRecordState",
        f"{_M}unwrap:ExtractNewRecordState",
        aliases=["io.debezium.transforms.ExtractNewRecordState", "unwrap"],
    )
    for name, module in _PREDICATES.items():
        predicates.register(
            name,
            f"{_M}{module}:{name}",
            aliases=[f"{KAFKA_PREDICATES_PACKAGE}.{name}", _snake(name)],
        )


_register_builtins()
