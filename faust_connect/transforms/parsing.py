"""Build a Chain from a connector's ``transforms.*`` and ``predicates.*`` keys, as Kafka does.

::

    transforms=route,insert
    transforms.route.type=org.apache.kafka.connect.transforms.RegexRouter
    transforms.route.regex=(.*)-raw
    transforms.route.replacement=$1
    transforms.route.predicate=isRaw
    transforms.insert.type=org.apache.kafka.connect.transforms.InsertField$Value
    transforms.insert.static.field=MessageSource
    transforms.insert.static.value=Kafka Connect framework
    predicates=isRaw
    predicates.isRaw.type=org.apache.kafka.connect.transforms.predicates.TopicNameMatches
    predicates.isRaw.pattern=.*-raw

``transform_config_issues(config)`` lists every problem, one per key (``transforms.insert.type``,
``predicates.isRaw.pattern``); ``chain_from_config(config)`` raises them as a ConfigError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from faust_connect.config import split_commas
from faust_connect.exceptions import ConfigError, ConfigIssue, PluginNotFound
from faust_connect.registry import Registry
from faust_connect.transforms.base import Chain, Predicate, Stage, Transform
from faust_connect.transforms.registry import predicates, transforms

__all__ = ["chain_from_config", "transform_config_issues"]

_MISSING = "Missing required configuration with no default value."
#: Keys of ``transforms.<alias>.`` that belong to the stage, not to the transform.
_STAGE_KEYS = frozenset({"type", "predicate", "negate"})
_VARIANTS = {"$Key": "key", "$Value": "value"}

P = TypeVar("P", Transform, Predicate)


def transform_config_issues(config: Mapping[str, Any]) -> list[ConfigIssue]:
    """Every problem with the ``transforms``/``predicates`` keys of ``config``, one per key."""
    return _build(config)[1]


def chain_from_config(config: Mapping[str, Any]) -> Chain:
    """The chain the connector config describes; ConfigError listing every bad key."""
    chain, issues = _build(config)
    if issues:
        raise ConfigError(issues, "transforms configuration")
    return chain


def _aliases(config: Mapping[str, Any], key: str, issues: list[ConfigIssue]) -> list[str]:
    aliases = list(split_commas(config.get(key) or ""))
    duplicates = sorted({a for a in aliases if aliases.count(a) > 1})
    if duplicates:
        issues.append(ConfigIssue(key, f"Duplicate alias(es): {', '.join(duplicates)}."))
    return list(dict.fromkeys(aliases))


def _sub_config(config: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {
        key[len(prefix) :]: value
        for key, value in config.items()
        if key.startswith(prefix) and key[len(prefix) :] not in _STAGE_KEYS
    }


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return {"true": True, "false": False}.get(text)


def _build(config: Mapping[str, Any]) -> tuple[Chain, list[ConfigIssue]]:
    issues: list[ConfigIssue] = []
    built_predicates: dict[str, Predicate | None] = {}
    for alias in _aliases(config, "predicates", issues):
        prefix = f"predicates.{alias}."
        built_predicates[alias] = _plugin(predicates, config, alias, prefix, issues)

    stages: list[Stage] = []
    for alias in _aliases(config, "transforms", issues):
        prefix = f"transforms.{alias}."
        transform = _plugin(transforms, config, alias, prefix, issues, variants=True)
        predicate: Predicate | None = None
        negate = False
        predicate_alias = str(config.get(prefix + "predicate") or "").strip()
        if predicate_alias:
            if predicate_alias not in built_predicates:
                issues.append(
                    ConfigIssue(
                        prefix + "predicate",
                        f"Unknown predicate alias {predicate_alias!r}; declare it in 'predicates'.",
                    )
                )
            predicate = built_predicates.get(predicate_alias)
        raw_negate = config.get(prefix + "negate")
        if raw_negate is not None and str(raw_negate).strip():
            parsed = _bool(raw_negate)
            if parsed is None:
                issues.append(ConfigIssue(prefix + "negate", "Expected true or false."))
            else:  # without a predicate Kafka ignores negate and always applies the transform
                negate = parsed
        if transform is not None:
            stages.append(Stage(transform, predicate, negate))
    return Chain(stages), issues


def _plugin(
    registry: Registry[type[P]],
    config: Mapping[str, Any],
    alias: str,
    prefix: str,
    issues: list[ConfigIssue],
    *,
    variants: bool = False,
) -> P | None:
    """The plugin ``<prefix>type`` names, configured from the other ``<prefix>`` keys; None,
    with the problems added to ``issues``, if it cannot be built. With ``variants``, a type
    ending in ``$Key``/``$Value`` sets the plugin's ``target``."""
    key = prefix + "type"
    written = str(config.get(key) or "").strip()
    if not written:
        issues.append(ConfigIssue(key, _MISSING))
        return None
    type_name, target = written, None
    for suffix, part in _VARIANTS.items() if variants else ():
        if type_name.endswith(suffix):
            type_name, target = type_name.removesuffix(suffix), part
    try:
        cls = registry.get(type_name)
    except PluginNotFound:
        try:  # name the type as written in the config (with its $Key/$Value) in the error
            registry.get(written)
        except PluginNotFound as exc:
            issues.append(ConfigIssue(key, str(exc)))
        return None
    raw = _sub_config(config, prefix)
    if target is not None:
        if "target" not in cls.Config.model_fields:
            issues.append(ConfigIssue(key, f"{cls.__name__} has no $Key/$Value variants."))
            return None
        raw["target"] = target
    try:
        return cls.from_config(raw, prefix=prefix, alias=alias)
    except ConfigError as exc:
        issues.extend(exc.issues)
        return None
