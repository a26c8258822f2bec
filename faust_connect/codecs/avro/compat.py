"""Avro schema resolution: can a reader schema read what a writer schema wrote?

This is the check behind the registry's compatibility levels (BACKWARD: the new schema reads
the old one's data; FORWARD: the old one reads the new one's; FULL: both). It follows the
Avro specification's resolution rules on parsed JSON schemas (``dict``/``list``/``str``):
primitive promotions (int → long/float/double, long → float/double, float → double,
string ↔ bytes), records matched by full name with reader fields either present in the
writer or carrying a default, enums whose writer symbols the reader knows (or has a default),
and unions branch by branch.

>>> can_read({"type": "long"}, "int")
True
>>> can_read("int", "long")
False
"""

from __future__ import annotations

from typing import Any

__all__ = ["can_read", "incompatibilities"]

_PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "double": {"double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
    "boolean": {"boolean"},
    "null": {"null"},
}
_NAMED = ("record", "error", "enum", "fixed")


def can_read(reader: Any, writer: Any) -> bool:
    """True if data written with ``writer`` can be read with ``reader``."""
    return not incompatibilities(reader, writer)


def incompatibilities(reader: Any, writer: Any) -> list[str]:
    """Why ``reader`` cannot read ``writer``'s data (empty if it can)."""
    problems: list[str] = []
    _check(reader, writer, _names(reader), _names(writer), "", problems, set())
    return problems


def _names(schema: Any, namespace: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {} if out is None else out
    if isinstance(schema, list):
        for branch in schema:
            _names(branch, namespace, out)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in _NAMED:
            full = _full_name(schema, namespace)
            out[full] = schema
            namespace = full.rpartition(".")[0]
            for field in schema.get("fields", ()):
                _names(field.get("type"), namespace, out)
        elif kind == "array":
            _names(schema.get("items"), namespace, out)
        elif kind == "map":
            _names(schema.get("values"), namespace, out)
        elif isinstance(kind, (dict, list)):
            _names(kind, namespace, out)
    return out


def _full_name(schema: dict[str, Any], namespace: str) -> str:
    name = str(schema.get("name", ""))
    if "." in name:
        return name
    space = schema.get("namespace", namespace) or ""
    return f"{space}.{name}" if space else name


def _resolve(schema: Any, names: dict[str, Any]) -> Any:
    """Follow name references and unwrap ``{"type": <primitive or nested>}``."""
    while True:
        if isinstance(schema, str) and schema not in _PROMOTIONS:
            found = names.get(schema) or next(
                (v for k, v in names.items() if k.rpartition(".")[2] == schema), None
            )
            if found is None:
                return schema
            schema = found
        elif isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)):
            schema = schema["type"]
        elif isinstance(schema, dict) and schema.get("type") in _PROMOTIONS:
            return schema["type"]
        else:
            return schema


def _kind(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, dict):
        return str(schema.get("type"))
    return str(schema)


def _check(
    reader: Any,
    writer: Any,
    rnames: dict[str, Any],
    wnames: dict[str, Any],
    path: str,
    problems: list[str],
    seen: set[tuple[int, int]],
) -> None:
    reader, writer = _resolve(reader, rnames), _resolve(writer, wnames)
    key = (id(reader), id(writer))
    if key in seen:  # recursive types: assume the cycle is fine, as Avro does
        return
    seen.add(key)
    rkind, wkind = _kind(reader), _kind(writer)
    where = path or "/"
    if wkind == "union":
        for branch in writer:
            _check(reader, branch, rnames, wnames, path, problems, seen)
        return
    if rkind == "union":
        for branch in reader:
            trial: list[str] = []
            _check(branch, writer, rnames, wnames, path, trial, set(seen))
            if not trial:
                return
        problems.append(f"{where}: reader union has no branch for writer type {wkind}")
        return
    if wkind in _PROMOTIONS:
        if rkind not in _PROMOTIONS[wkind]:
            problems.append(f"{where}: reader type {rkind} cannot read writer type {wkind}")
        return
    if rkind != wkind and not (rkind in ("record", "error") and wkind in ("record", "error")):
        problems.append(f"{where}: reader type {rkind} cannot read writer type {wkind}")
        return
    if (
        rkind in _NAMED
        and reader.get("name", "").rpartition(".")[2] != writer.get("name", "").rpartition(".")[2]
        and writer.get("name") not in reader.get("aliases", ())
    ):
        problems.append(f"{where}: name {reader.get('name')} does not match {writer.get('name')}")
        return
    if rkind == "array":
        _check(reader["items"], writer["items"], rnames, wnames, f"{path}/items", problems, seen)
    elif rkind == "map":
        _check(reader["values"], writer["values"], rnames, wnames, f"{path}/values", problems, seen)
    elif rkind == "fixed":
        if reader.get("size") != writer.get("size"):
            problems.append(f"{where}: fixed size {reader.get('size')} != {writer.get('size')}")
    elif rkind == "enum":
        missing = set(writer.get("symbols", ())) - set(reader.get("symbols", ()))
        if missing and "default" not in reader:
            problems.append(f"{where}: reader enum lacks symbols {sorted(missing)}")
    elif rkind in ("record", "error"):
        written = {f["name"]: f for f in writer.get("fields", ())}
        for field in reader.get("fields", ()):
            source = written.get(field["name"]) or next(
                (written[a] for a in field.get("aliases", ()) if a in written), None
            )
            fpath = f"{path}/fields/{field['name']}"
            if source is None:
                if "default" not in field:
                    problems.append(f"{fpath}: reader field has no default and is not written")
            else:
                _check(field["type"], source["type"], rnames, wnames, fpath, problems, seen)
