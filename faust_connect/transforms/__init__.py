"""Single message transforms (SMTs) and predicates, as in Kafka Connect.

Build them in code (``InsertField(static_field="src", static_value="db") | Flatten()``) or from
a connector config (:func:`chain_from_config`). Every transform works on records with a schema
(Struct) and without one (dict); Kafka's ``$Key``/``$Value`` variants are one class with
``target="key"|"value"``. See :mod:`faust_connect.transforms.base` for composition and Faust use.
"""

from __future__ import annotations

from faust_connect.transforms.base import (
    Chain,
    ErrorHandler,
    PartTransform,
    Predicate,
    Stage,
    Transform,
)
from faust_connect.transforms.cast import Cast
from faust_connect.transforms.fields import InsertField, MaskField, ReplaceField, ValueToKey
from faust_connect.transforms.filtering import (
    Filter,
    HasHeaderKey,
    RecordIsTombstone,
    TopicNameMatches,
)
from faust_connect.transforms.headers import DropHeaders, HeaderFrom, InsertHeader
from faust_connect.transforms.parsing import chain_from_config, transform_config_issues
from faust_connect.transforms.registry import predicates, transforms
from faust_connect.transforms.routing import RegexRouter, TimestampRouter
from faust_connect.transforms.structure import ExtractField, Flatten, HoistField, SetSchemaMetadata
from faust_connect.transforms.timestamps import TimestampConverter
from faust_connect.transforms.unwrap import ExtractNewRecordState

__all__ = [
    "Cast",
    "Chain",
    "DropHeaders",
    "ErrorHandler",
    "ExtractField",
    "ExtractNewRecordState",
    "Filter",
    "Flatten",
    "HasHeaderKey",
    "HeaderFrom",
    "HoistField",
    "InsertField",
    "InsertHeader",
    "MaskField",
    "PartTransform",
    "Predicate",
    "RecordIsTombstone",
    "RegexRouter",
    "ReplaceField",
    "SetSchemaMetadata",
    "Stage",
    "TimestampConverter",
    "TimestampRouter",
    "TopicNameMatches",
    "Transform",
    "ValueToKey",
    "chain_from_config",
    "predicates",
    "transform_config_issues",
    "transforms",
]
