"""Named plugins: one typed registry per kind, with aliases and entry points.

::

    transforms = Registry[type[Transform]]("transform", Transform,
                                           entry_point_group="faust_connect.transforms")
    transforms.register("InsertField", InsertField,
                        aliases=["org.apache.kafka.connect.transforms.InsertField"])

    @transforms.register("MyTransform")
    class MyTransform(...): ...

Lookups accept a registered name, an alias, or a dotted ``module:attr`` / ``module.attr`` path
(Kafka's ``connector.class``). An unknown name raises PluginNotFound listing close matches; so
does a name that finds something other than a subclass of the registry's base class.
Entry points of the group are loaded once, on the first lookup; a broken one warns.
"""

from __future__ import annotations

import difflib
import importlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar, overload

from faust_connect.exceptions import PluginNotFound

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Plugins of one kind, by name."""

    def __init__(
        self, kind: str, base: type | None = None, *, entry_point_group: str | None = None
    ) -> None:
        self.kind = kind
        #: What every plugin here is a subclass of (checked on each lookup).
        self.base = base
        self.entry_point_group = entry_point_group
        self._plugins: dict[str, T | str] = {}
        self._aliases: dict[str, str] = {}
        self._loaded_entry_points = entry_point_group is None

    @overload
    def register(
        self, name: str, plugin: None = None, *, aliases: Iterable[str] = ()
    ) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, plugin: T | str, *, aliases: Iterable[str] = ()) -> T | str: ...

    def register(
        self, name: str, plugin: T | str | None = None, *, aliases: Iterable[str] = ()
    ) -> Any:
        """Register ``plugin`` (or a lazy ``"module:attr"`` string) as ``name``.

        Without ``plugin``, returns a decorator.
        """
        if plugin is None:

            def decorator(obj: T) -> T:
                self.register(name, obj, aliases=aliases)
                return obj

            return decorator
        self._plugins[name] = plugin
        for alias in aliases:
            self._aliases[alias] = name
        return plugin

    def names(self) -> list[str]:
        """Registered names (not aliases), sorted."""
        self._load_entry_points()
        return sorted(self._plugins)

    def aliases_of(self, name: str) -> list[str]:
        """The aliases registered for ``name``."""
        return sorted(a for a, n in self._aliases.items() if n == name)

    def canonical(self, name: str) -> str:
        """The registered name behind a name or alias (the name itself if unknown)."""
        self._load_entry_points()
        return self._aliases.get(name, name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.get(name)
        except PluginNotFound:
            return False
        return True

    def __iter__(self) -> Iterator[tuple[str, T]]:
        for name in self.names():
            yield name, self.get(name)

    def get(self, name: str) -> T:
        """The plugin registered as ``name`` (or an alias, or a dotted import path)."""
        self._load_entry_points()
        key = self._aliases.get(name, name)
        plugin = self._plugins.get(key)
        if plugin is None:
            imported = self._import_path(name)
            if imported is None:
                raise PluginNotFound(self._not_found(name))
            return self._checked(name, imported)
        if isinstance(plugin, str):
            plugin = self._checked(name, self._resolve(plugin))
            self._plugins[key] = plugin
        return plugin

    def _checked(self, name: str, found: T) -> T:
        base = self.base
        if base is not None and not (isinstance(found, type) and issubclass(found, base)):
            raise PluginNotFound(f"{name} is not a {self.kind}.")
        return found

    def _import_path(self, path: str) -> T | None:
        if ":" in path:
            module, _, attr = path.partition(":")
        elif "." in path:
            module, _, attr = path.rpartition(".")
        else:
            return None
        if not module or not attr:
            return None
        try:
            found: T = getattr(importlib.import_module(module), attr)
        except Exception:  # not importable (a bad name, a module that fails): not found
            return None
        return found

    def _resolve(self, spec: str) -> T:
        module, _, attr = spec.partition(":")
        resolved: T = getattr(importlib.import_module(module), attr)
        return resolved

    def _not_found(self, name: str) -> str:
        known = sorted({*self._plugins, *self._aliases})
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        valid = ", ".join(sorted(self._plugins))
        return f"no {self.kind} named {name!r}{hint} (known: {valid})"

    def _load_entry_points(self) -> None:
        if self._loaded_entry_points:
            return
        self._loaded_entry_points = True
        assert self.entry_point_group is not None
        for ep in entry_points(group=self.entry_point_group):
            try:
                self.register(ep.name, ep.load())
            except Exception as exc:  # a broken plugin must not stop the worker
                warnings.warn(
                    f"cannot load {self.kind} plugin {ep.name!r} from {ep.value}: {exc!r}",
                    RuntimeWarning,
                    stacklevel=2,
                )
