"""The public facade: a complete `__all__`; importing the package configures nothing."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import faust_connect

MODULES = [
    "faust_connect",
    "faust_connect.config",
    "faust_connect.data",
    "faust_connect.exceptions",
    "faust_connect.records",
    "faust_connect.registry",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_unique_and_resolves(name: str) -> None:
    # ruff's RUF022 keeps each __all__ sorted; this checks it is complete and importable
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(set(exported)) == len(exported)
    for symbol in exported:
        assert hasattr(module, symbol), f"{name}.{symbol}"


def test_importing_the_app_package_builds_no_app() -> None:
    # The default app is built only when `.app` is asked for (by `faust -A faust_connect.app`).
    code = "import faust_connect.app, faust_connect.app.settings; print('ok')"
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


def test_the_author_api_imports_without_faust_or_the_worker() -> None:
    code = (
        "import sys, faust_connect, faust_connect.records, faust_connect.connector,"
        " faust_connect.data, faust_connect.transforms, faust_connect.codecs;"
        "print(sorted(m for m in ('faust', 'mode', 'faust_connect.app') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_package_has_no_import_cycle() -> None:
    # Every import counts, deferred and TYPE_CHECKING ones too (tests/import_cycles.py).
    root = Path(faust_connect.__file__).parent
    done = subprocess.run(
        [sys.executable, "-m", "tests.import_cycles", str(root)],
        capture_output=True,
        text=True,
        check=False,
        cwd=root.parent,
    )
    assert done.returncode == 0, done.stdout
    assert done.stdout.strip().endswith(", 0 import cycles")


def test_the_cycle_check_finds_a_type_only_cycle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import B\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\nB = 1\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.import_cycles", str(package)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "import cycle: pkg.a ↔ pkg.b" in done.stdout
