"""Session fixtures: a private PostgreSQL and a private MariaDB server (see databases.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.integration.sql.databases import MariaDB, PostgreSQL, ensure_installed

_started: list[PostgreSQL | MariaDB] = []


def _serve(
    server: PostgreSQL | MariaDB, request: pytest.FixtureRequest
) -> Iterator[PostgreSQL | MariaDB]:
    _started.append(server)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if not request.session.testsfailed:
            shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(request: pytest.FixtureRequest) -> Iterator[PostgreSQL | MariaDB]:
    """A private PostgreSQL 15 server for the whole session."""
    ensure_installed()
    yield from _serve(PostgreSQL(), request)


@pytest.fixture(scope="session")
def mariadb(request: pytest.FixtureRequest) -> Iterator[PostgreSQL | MariaDB]:
    """A private MariaDB server for the whole session."""
    ensure_installed()
    yield from _serve(MariaDB(), request)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """On failure, say where the database logs are (their folders are kept)."""
    if terminalreporter.stats.get("failed") or terminalreporter.stats.get("error"):
        for server in _started:
            terminalreporter.write_line(f"{server.name} log: {server.log_path}")
