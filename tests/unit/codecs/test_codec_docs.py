"""The codecs modules' docstring examples run, and their ``__all__`` lists are sorted."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import pytest

import faust_connect.codecs


def _modules() -> list[ModuleType]:
    # every module, in the sub-packages too (a sub-package's __init__ holds only its docstring)
    found = pkgutil.walk_packages(faust_connect.codecs.__path__, "faust_connect.codecs.")
    names = sorted(m.name for m in found if not m.ispkg)
    return [faust_connect.codecs] + [importlib.import_module(name) for name in names]


@pytest.mark.parametrize("module", _modules(), ids=lambda m: m.__name__)
def test_doctests(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize("module", _modules(), ids=lambda m: m.__name__)
def test_all_is_sorted_and_defined(module: ModuleType) -> None:
    exported = list(module.__all__)
    constants = sorted(n for n in exported if n.isupper())
    others = sorted((n for n in exported if not n.isupper()), key=lambda n: (n[0].islower(), n))
    assert exported == constants + others
    for name in exported:
        assert hasattr(module, name), name
