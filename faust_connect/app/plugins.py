"""Plugin config definitions in Kafka Connect's shapes: ConfigKeyInfo, ConfigInfos, plugin lists.

Every plugin declares its keys once, as a :class:`~faust_connect.config.PluginConfig` model; this
module turns such a model into the ``ConfigKeyInfo`` list Kafka Connect serves at
``GET /connector-plugins/{plugin}/config`` and into the ``ConfigInfos`` answer of
``PUT /connector-plugins/{plugin}/config/validate``::

    >>> from faust_connect.agents.connectors.file import FileStreamSinkConnector
    >>> [d["name"] for d in connector_definitions(FileStreamSinkConnector)][:3]
    ['name', 'connector.class', 'tasks.max']

Types come from the annotations (``int`` → INT, ``bool`` → BOOLEAN, ``CommaList`` → LIST,
``SecretStr`` → PASSWORD, ``Literal`` → STRING with recommended values). A field may refine its
definition with ``Field(json_schema_extra={"type": "LONG", "importance": "LOW", "group": ...,
"width": ..., "display_name": ..., "dependents": [...]})``.

:func:`mask_config` hides what must not be shown or logged in clear: values of PASSWORD keys
and values that reference a config provider (``${file:/path:key}``, ``${env:NAME}``).
"""

from __future__ import annotations

import enum
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import version as package_version
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from faust_connect.codecs import converters
from faust_connect.config import ConnectorConfig, PluginConfig
from faust_connect.connector import Connector, SinkConnector, SourceConnector, connectors
from faust_connect.exceptions import ConfigIssue, NotFound, PluginNotFound
from faust_connect.registry import Registry
from faust_connect.transforms import predicates, transforms

__all__ = [
    "MASK",
    "PluginType",
    "config_definitions",
    "config_infos",
    "connector_definitions",
    "definitions_for",
    "find_plugin",
    "is_secret",
    "kafka_worded",
    "key_info",
    "list_plugins",
    "mask_config",
    "plugin_class_name",
    "plugin_version",
    "validation_result",
]

#: What masked values are shown as.
MASK = "********"
#: Kafka Connect's plugin types (``/connector-plugins`` ``type``).
PluginType = Literal[
    "source", "sink", "converter", "header_converter", "transformation", "predicate"
]
ConfigType = Literal[
    "STRING", "INT", "SHORT", "LONG", "DOUBLE", "BOOLEAN", "LIST", "CLASS", "PASSWORD"
]

_PROVIDER_REF = re.compile(r"\$\{[^}:]+:[^}]*\}")
_HEADER_ONLY = {"simple-header"}
#: Keys whose values hold credentials whatever the plugin declares (SASL JAAS, registry auth).
_SECRET_SUFFIXES = ("sasl.jaas.config", "basic.auth.user.info", "bearer.auth.token")


# -- one key ----------------------------------------------------------------------------------


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _type_of(annotation: Any) -> tuple[ConfigType, list[str]]:
    """Kafka's config type for an annotation, and the recommended values it implies."""
    annotation, _ = _strip_optional(annotation)
    origin = get_origin(annotation)
    if origin is Literal:
        values = [str(_text(v)) for v in get_args(annotation)]
        if all(isinstance(v, bool) for v in get_args(annotation)):
            return "BOOLEAN", values
        return "STRING", values
    if isinstance(annotation, type):
        if issubclass(annotation, SecretStr):
            return "PASSWORD", []
        if issubclass(annotation, bool):
            return "BOOLEAN", ["true", "false"]
        if issubclass(annotation, enum.Enum):
            return "STRING", [str(_text(m.value)) for m in annotation]
        if issubclass(annotation, int):
            return "INT", []
        if issubclass(annotation, float):
            return "DOUBLE", []
        if issubclass(annotation, (tuple, list, set, frozenset)):
            return "LIST", []
    if origin in (tuple, list, set, frozenset, Sequence):
        return "LIST", []
    if origin is type or annotation is type:
        return "CLASS", []
    return "STRING", []


def _text(value: Any) -> str | None:
    """A value as Kafka Connect writes it in a config (``true``, ``a,b``)."""
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return "[hidden]"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, enum.Enum):
        return _text(value.value)
    if isinstance(value, (tuple, list, set, frozenset)):
        return ",".join(str(v) for v in value)
    return str(value)


def _display_name(key: str) -> str:
    words = key.replace(".", " ").replace("_", " ")
    return words[:1].upper() + words[1:]


def _width(kind: ConfigType) -> str:
    if kind in ("BOOLEAN", "INT", "SHORT", "DOUBLE"):
        return "SHORT"
    if kind in ("LIST", "CLASS"):
        return "LONG"
    return "MEDIUM"


def key_info(
    key: str, field: FieldInfo, *, group: str | None = None, order: int = -1
) -> dict[str, Any]:
    """Kafka's ConfigKeyInfo for one model field (``key`` is the dotted, prefixed key)."""
    kind, recommended = _type_of(field.annotation)
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    kind = extra.get("type", kind)  # type: ignore[assignment]  # a field's explicit override
    required = field.is_required()
    default = None if required else field.get_default(call_default_factory=True)
    info: dict[str, Any] = {
        "name": key,
        "type": kind,
        "required": required,
        "default_value": None if required else _text(default),
        "importance": extra.get("importance", "HIGH" if required else "MEDIUM"),
        "documentation": field.description or "",
        "group": extra.get("group", group),
        "order": order,
        "width": extra.get("width", _width(kind)),
        "display_name": extra.get("display_name", field.title or _display_name(key)),
        "dependents": list(extra.get("dependents") or []),  # type: ignore[arg-type]  # JSON extra
    }
    if recommended:
        info["recommended_values"] = recommended
    return info


def config_definitions(
    model: type[PluginConfig],
    *,
    prefix: str = "",
    group: str | None = None,
    kind: str | None = None,
) -> list[dict[str, Any]]:
    """ConfigKeyInfo for every key of ``model``, keys with ``prefix``, in declaration order.

    A field's own ``group`` (in its ``json_schema_extra``) wins over ``group``; keys are
    numbered within their group. With ``kind``, fields whose ``kinds`` leave it out are skipped.
    """
    out = []
    numbered: dict[str | None, int] = {}
    for key, field in _keyed_fields(model, prefix):
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        kinds = extra.get("kinds")
        if kind is not None and isinstance(kinds, list) and kind not in kinds:
            continue
        own_group = extra.get("group", group)
        own_group = own_group if isinstance(own_group, str) else group
        numbered[own_group] = order = numbered.get(own_group, 0) + 1
        out.append(key_info(key, field, group=own_group, order=order))
    return out


def _keyed_fields(model: type[PluginConfig], prefix: str = "") -> list[tuple[str, FieldInfo]]:
    """``(dotted key, field)`` for every field of ``model``, in declaration order."""
    return [
        (prefix + (field.alias or name.replace("_", ".")), field)
        for name, field in model.model_fields.items()
    ]


def _defined(
    name: str,
    kind: ConfigType,
    default: str | None,
    importance: str,
    doc: str,
    group: str,
    order: int,
    display: str,
    *,
    required: bool = False,
    recommended: Sequence[str] = (),
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": name,
        "type": kind,
        "required": required,
        "default_value": default,
        "importance": importance,
        "documentation": doc,
        "group": group,
        "order": order,
        "width": _width(kind),
        "display_name": display,
        "dependents": [],
    }
    if recommended or kind == "BOOLEAN":
        info["recommended_values"] = list(recommended or ("true", "false"))
    return info


def connector_definitions(plugin: type[Connector]) -> list[dict[str, Any]]:
    """The common connector keys, then the connector's own (group: its class name)."""
    common = config_definitions(ConnectorConfig, kind=plugin.kind)
    taken = {d["name"] for d in common}
    own = [
        d
        for d in config_definitions(plugin.Config, group=plugin_class_name(plugin).rsplit(".")[-1])
        if d["name"] not in taken
    ]
    return common + own


# -- finding plugins ------------------------------------------------------------------------


def plugin_class_name(plugin: type[Any], registry: Registry[Any] | None = None) -> str:
    """The name ``/connector-plugins`` shows: the Kafka class alias if any, else the name."""
    registry = registry or connectors
    for name in registry.names():
        try:
            found = registry.get(name)
        except Exception:  # a broken lazy plugin is reported where it is used
            continue
        if found is plugin:
            dotted = [a for a in registry.aliases_of(name) if "." in a and "$" not in a]
            return dotted[0] if dotted else name
    return plugin.__name__


def plugin_version(plugin: type[Any]) -> str:
    """The version ``/connector-plugins`` and the status answers report for ``plugin``: its own
    ``version``, else this package's."""
    found = getattr(plugin, "version", None)
    return found if isinstance(found, str) else package_version("faust-connect")


def list_plugins(*, connectors_only: bool = True) -> list[dict[str, str]]:
    """``GET /connector-plugins``: ``[{"class", "type", "version"}]``, sorted by class."""
    out: list[dict[str, str]] = []
    for _name, plugin in _loaded(connectors):
        if issubclass(plugin, (SourceConnector, SinkConnector)):
            out.append(_entry(plugin, connectors, plugin.kind))
    if not connectors_only:
        for name, plugin in _loaded(converters):
            if name not in _HEADER_ONLY:
                out.append(_entry(plugin, converters, "converter"))
            out.append(_entry(plugin, converters, "header_converter"))
        for name, plugin in _loaded(transforms):
            out.append(_entry(plugin, transforms, "transformation"))
            # Kafka lists the $Key and $Value classes (the outer one is abstract there)
            version = plugin_version(plugin)
            for alias in transforms.aliases_of(name):
                if "." in alias and "$" in alias:
                    out.append({"class": alias, "type": "transformation", "version": version})
        for _name, plugin in _loaded(predicates):
            out.append(_entry(plugin, predicates, "predicate"))
    return sorted(out, key=lambda e: (e["class"], e["type"]))


def _entry(plugin: type[Any], registry: Registry[Any], kind: str) -> dict[str, str]:
    return {
        "class": plugin_class_name(plugin, registry),
        "type": kind,
        "version": plugin_version(plugin),
    }


def _loaded(registry: Registry[Any]) -> Iterable[tuple[str, Any]]:
    for name in registry.names():
        try:
            yield name, registry.get(name)
        except Exception:  # e.g. a missing optional extra: not listed
            continue


def find_plugin(name: str) -> tuple[PluginType, type[Any]]:
    """A plugin of any kind by class name, alias or simple name; NotFound if there is none."""
    simple = name.rsplit(".", 1)[-1]
    candidates = [name, simple, simple.removesuffix("Connector")]
    kinds: list[tuple[Registry[Any], PluginType | None]] = [
        (connectors, None),
        (converters, "converter"),
        (transforms, "transformation"),
        (predicates, "predicate"),
    ]
    for registry, kind in kinds:
        for candidate in candidates:
            try:
                plugin = registry.get(candidate)
            except PluginNotFound:
                continue
            if kind is None:
                if isinstance(plugin, type) and issubclass(
                    plugin, (SourceConnector, SinkConnector)
                ):
                    return plugin.kind, plugin
                continue
            if registry.canonical(candidate) in _HEADER_ONLY:
                return "header_converter", plugin
            return kind, plugin
    raise NotFound(f"Unknown plugin {name}.")


def definitions_for(name: str) -> list[dict[str, Any]]:
    """``GET /connector-plugins/{plugin}/config``; NotFound for an unknown plugin."""
    kind, plugin = find_plugin(name)
    if kind in ("source", "sink"):
        found = connector_definitions(plugin)
    else:
        model: type[PluginConfig] = getattr(plugin, "Config", PluginConfig)
        found = config_definitions(model, group=plugin.__name__)
    # recommended values belong to ConfigValueInfo (the validate answer), not ConfigKeyInfo
    return [{k: v for k, v in d.items() if k != "recommended_values"} for d in found]


# -- validation results ---------------------------------------------------------------------


def _enrichment(config: Mapping[str, str]) -> list[dict[str, Any]]:
    """Definitions of the keys the config's transforms, predicates and converters add."""
    out: list[dict[str, Any]] = []
    for list_key, registry, group in (
        ("predicates", predicates, "Predicates"),
        ("transforms", transforms, "Transforms"),
    ):
        aliases = [a.strip() for a in str(config.get(list_key, "")).split(",") if a.strip()]
        for alias in aliases:
            prefix = f"{list_key}.{alias}."
            title = f"{group}: {alias}"
            out.append(
                _defined(prefix + "type", "CLASS", None, "HIGH",
                         f"Class for the '{alias}' {registry.kind}.", title, 0, "Type",
                         required=True)
            )  # fmt: skip
            if list_key == "transforms":
                out.append(
                    _defined(prefix + "predicate", "STRING", "", "MEDIUM",
                             "The alias of a predicate deciding where this transform applies.",
                             title, 0, "Predicate")
                )  # fmt: skip
                out.append(
                    _defined(prefix + "negate", "BOOLEAN", "false", "MEDIUM",
                             "Apply the transform where the predicate does not hold.", title, 0,
                             "Negate")
                )  # fmt: skip
            try:
                plugin = registry.get(str(config.get(prefix + "type", "")).strip())
            except PluginNotFound:
                continue
            out += config_definitions(plugin.Config, prefix=prefix, group=title)
    for prefix in ("key.converter", "value.converter", "header.converter"):
        name = str(config.get(prefix, "")).strip()
        if not name:
            continue
        try:
            converter = converters.get(name)
        except PluginNotFound:
            continue
        out += config_definitions(
            converter.Config, prefix=prefix + ".", group=_display_name(prefix)
        )
    return out


def _value(definition: Mapping[str, Any], config: Mapping[str, Any], errors: list[str]) -> Any:
    key = definition["name"]
    raw = config.get(key, definition.get("default_value"))
    shown = MASK if raw and definition["type"] == "PASSWORD" else raw
    return {
        "name": key,
        "value": None if shown is None else str(shown),
        "recommended_values": list(definition.get("recommended_values", [])),
        "errors": errors,
        "visible": True,
    }


def config_infos(
    name: str,
    definitions: Sequence[Mapping[str, Any]],
    config: Mapping[str, Any],
    issues: Sequence[ConfigIssue],
) -> dict[str, Any]:
    """Kafka's ConfigInfos: one entry per defined key (and per other key with an error)."""
    errors: dict[str, list[str]] = {}
    for issue in issues:
        errors.setdefault(issue.key, []).append(issue.message)
    defs: dict[str, dict[str, Any]] = {}
    for definition in definitions:
        defs.setdefault(definition["name"], dict(definition))
    for key in errors:
        if key not in defs:
            defs[key] = _defined(key, "STRING", None, "MEDIUM", "", "", -1, key)
    groups = list(dict.fromkeys(d["group"] for d in defs.values() if d["group"]))
    configs = []
    for key, definition in defs.items():
        shown = {k: v for k, v in definition.items() if k != "recommended_values"}
        configs.append(
            {"definition": shown, "value": _value(definition, config, errors.get(key, []))}
        )
    return {"name": name, "error_count": len(issues), "groups": groups, "configs": configs}


def validation_result(
    plugin: type[Connector], config: Mapping[str, Any], issues: Sequence[ConfigIssue]
) -> dict[str, Any]:
    """The validate endpoint's answer for a connector config and its issues, worded and
    counted as Kafka's (see :func:`kafka_worded`)."""
    issues = kafka_worded(plugin, config, issues)
    definitions = connector_definitions(plugin) + _enrichment(config)
    return config_infos(plugin_class_name(plugin), definitions, config, issues)


#: Java's integer types: the bound of their range.
_JAVA_INTS = {"SHORT": 2**15, "INT": 2**31, "LONG": 2**63}
_JAVA_INT = re.compile(r"[+-]?[0-9]+")


def kafka_worded(
    plugin: type[Connector], config: Mapping[str, Any], issues: Sequence[ConfigIssue]
) -> list[ConfigIssue]:
    """``issues`` with the errors of the connector's declared keys (the common ones, then the
    connector's own) worded as Kafka's ConfigDef words them, where the declaration tells which
    of its rules fails: a required key missing, a value that is not a number of the key's type
    (then also the null its validator sees, if the key has bounds), a string outside the key's
    choices, a converter class that is not installed. Other errors keep their words.

    >>> from faust_connect.agents.connectors.file import FileStreamSinkConnector
    >>> ours = [ConfigIssue("tasks.max", "Input should be a valid integer")]
    >>> for issue in kafka_worded(FileStreamSinkConnector, {"tasks.max": "x"}, ours):
    ...     print(issue.message)
    Invalid value x for configuration tasks.max: Not a number of type INT
    Invalid value null for configuration tasks.max: Value must be non-null
    """
    fields = dict(_keyed_fields(plugin.Config))
    fields.update(_keyed_fields(ConnectorConfig))  # the common keys win, as in the definitions
    out: list[ConfigIssue] = []
    done: set[str] = set()
    for issue in issues:
        key = issue.key
        field = fields.get(key)
        messages = None if field is None else _kafka_errors(key, field, config.get(key))
        if messages is None:
            out.append(issue)
        elif key not in done:  # Kafka's messages replace all of the key's
            done.add(key)
            out.extend(ConfigIssue(key, message) for message in messages)
    return out


def _kafka_errors(key: str, field: FieldInfo, raw: Any) -> list[str] | None:
    """Kafka's messages for ``key``'s value, or None if its declaration does not tell them."""
    if raw is None:
        if field.is_required():
            return [f'Missing required configuration "{key}" which has no default value.']
        return None
    text = str(raw).strip()
    invalid = f"Invalid value {raw} for configuration {key}: "
    kind, choices = _type_of(field.annotation)
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    kind = extra.get("type", kind)  # type: ignore[assignment]  # a field's explicit override
    if kind in _JAVA_INTS:
        bound = _JAVA_INTS[kind]
        if not (_JAVA_INT.fullmatch(text) and -bound <= int(text) < bound):
            messages = [invalid + f"Not a number of type {kind}"]
            if _bounds(field):  # Kafka's Range validator then sees the null parse
                messages.append(
                    f"Invalid value null for configuration {key}: Value must be non-null"
                )
            return messages
        low, high = _bounds(field) or (None, None)
        if low is not None and int(text) < low:
            return [invalid + f"Value must be at least {low}"]
        if high is not None and int(text) > high:
            return [invalid + f"Value must be no more than {high}"]
        return None
    if kind == "STRING" and choices and text not in choices:
        return [invalid + "String must be one of: " + ", ".join(choices)]
    if kind == "CLASS" and key.endswith("converter") and text:
        try:
            converters.get(text)
        except PluginNotFound:
            return [invalid + f"Class {text} could not be found."]
    return None


def _bounds(field: FieldInfo) -> tuple[int | None, int | None] | None:
    """A field's inclusive bounds (pydantic's ``ge``/``le`` metadata), None if it has none."""
    low = next((m.ge for m in field.metadata if getattr(m, "ge", None) is not None), None)
    high = next((m.le for m in field.metadata if getattr(m, "le", None) is not None), None)
    return None if low is None and high is None else (low, high)


# -- masking --------------------------------------------------------------------------------


def _password_keys(config: Mapping[str, Any], plugin: type[Connector] | None) -> set[str]:
    if plugin is None:
        try:
            plugin = connectors.get(str(config.get("connector.class", "")))
        except PluginNotFound:
            plugin = None
    definitions: list[dict[str, Any]] = _enrichment(config)
    if plugin is not None and isinstance(plugin, type) and issubclass(plugin, Connector):
        definitions += connector_definitions(plugin)
    return {d["name"] for d in definitions if d["type"] == "PASSWORD"}


def is_secret(key: str, value: Any, password_keys: Iterable[str] = ()) -> bool:
    """Whether a value must be masked: a PASSWORD key, a provider reference, a secret name."""
    if key in password_keys:
        return True
    if isinstance(value, str) and _PROVIDER_REF.search(value):
        return True
    last = key.rsplit(".", 1)[-1].lower()
    return last in ("password", "secret", "token") or key.endswith(_SECRET_SUFFIXES)


def mask_config(config: Mapping[str, Any], plugin: type[Connector] | None = None) -> dict[str, Any]:
    """A copy of ``config`` safe to show or log: secrets and ``${provider:...}`` values masked.

    ``plugin`` is the connector class; by default the one ``connector.class`` names.

    >>> mask_config({"connection.password": "s3cret", "file": "${file:/etc/x:path}", "a": "1"})
    {'connection.password': '********', 'file': '********', 'a': '1'}
    """
    secret = _password_keys(config, plugin)
    return {
        key: MASK if value not in (None, "") and is_secret(key, value, secret) else value
        for key, value in config.items()
    }
