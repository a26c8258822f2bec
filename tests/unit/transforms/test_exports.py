"""The package facade and the runnable examples in the docstrings."""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

import faust_connect.transforms as package
from faust_connect.transforms import Predicate, Transform, predicates, transforms

MODULES = [
    "base",
    "cast",
    "dateformat",
    "fields",
    "filtering",
    "headers",
    "parsing",
    "registry",
    "routing",
    "structure",
    "timestamps",
    "unwrap",
]


def test_all_is_sorted_and_complete() -> None:
    assert package.__all__ == sorted(package.__all__)
    for name in package.__all__:
        assert hasattr(package, name), name
    plugins = {name for name, _ in transforms} | {name for name, _ in predicates}
    assert plugins <= set(package.__all__)


def test_every_registered_plugin_declares_documented_keys() -> None:
    for name, cls in [*transforms, *predicates]:
        assert issubclass(cls, (Transform, Predicate)), name
        assert inspect.getdoc(cls), name
        for key, field in cls.Config.model_fields.items():
            assert field.description, f"{name}.{key}"


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    mod = importlib.import_module(f"faust_connect.transforms.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
