"""Private PostgreSQL and MariaDB servers for the SQL connector tests (see shared/DATABASES.md).

Each server runs from a fresh data folder in /tmp (PostgreSQL's folder belongs to the
``postgres`` user, which cannot enter pytest's root-only tmp folders) on a free loopback port,
and is stopped at the end of the session. The folder, with the server's log, is kept when a test
failed. A missing server is installed with apt (CI runs as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from faust_connect.app.embedded import free_port

__all__ = ["MariaDB", "PostgreSQL", "ensure_installed"]

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
MARIADBD = "/usr/sbin/mariadbd"


def _pg_bin() -> Path | None:
    found = sorted(glob.glob(PG_BIN_GLOB), key=lambda p: int(Path(p).parent.name))
    return Path(found[-1]) if found and Path(found[-1], "initdb").exists() else None


def ensure_installed() -> None:
    """Install PostgreSQL and MariaDB with apt when their binaries are missing."""
    if _pg_bin() is not None and Path(MARIADBD).exists():
        return
    if os.geteuid() != 0:
        raise RuntimeError("PostgreSQL/MariaDB are missing: run `make test` as root to install")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "postgresql", "mariadb-server"], check=True, env=env
    )


def _run(args: list[str], *, user: str | None = None) -> None:
    if user is not None and os.geteuid() == 0:
        args = ["runuser", "-u", user, "--", *args]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


class PostgreSQL:
    """A private PostgreSQL cluster (trust auth, user ``postgres``)."""

    name = "postgresql"

    def __init__(self) -> None:
        bin_dir = _pg_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed")
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="fc-pg-"))
        self.data = self.folder / "data"
        self.log_path = self.folder / "postgresql.log"
        self.port = free_port()

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        user = "postgres"
        _run(
            [
                str(self.bin / "initdb"),
                *("-D", str(self.data), "-U", "postgres", "--auth=trust"),
                *("-E", "UTF8", "--locale=C.UTF-8"),
            ],
            user=user,
        )
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c timezone=UTC -c wal_level=logical "
            "-c max_replication_slots=20 -c max_wal_senders=20"
        )
        _run(
            [
                str(self.bin / "pg_ctl"),
                *("-D", str(self.data), "-l", str(self.log_path), "-w", "start"),
                *("-o", options),
            ],
            user=user,
        )

    def stop(self) -> None:
        _run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
            user="postgres",
        )

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.url("postgres").replace("+psycopg", ""), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def jdbc_url(self, database: str) -> str:
        """The JDBC URL of one database."""
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{database}"


class MariaDB:
    """A private MariaDB server (user ``root`` without a password, utf8mb4)."""

    name = "mariadb"

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="fc-maria-"))
        self.data = self.folder / "data"
        self.socket = self.data / "mysql.sock"
        self.log_path = self.folder / "mariadb.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        _run(
            [
                "mariadb-install-db",
                "--user=root",
                f"--datadir={self.data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ]
        )
        self.process = subprocess.Popen(
            [
                MARIADBD,
                "--no-defaults",
                "--user=root",
                f"--datadir={self.data}",
                f"--socket={self.socket}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={self.folder / 'mariadb.pid'}",
                f"--log-error={self.log_path}",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
                # the binlog as the CDC source needs it (shared/DATABASES.md)
                f"--log-bin={self.data / 'binlog'}",
                "--binlog-format=ROW",
                "--binlog-row-image=FULL",
                "--binlog-row-metadata=FULL",
                "--server-id=1",
                "--expire-logs-days=1",
                "--innodb-flush-log-at-trx-commit=0",
                "--default-time-zone=+00:00",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        import pymysql

        deadline = time.monotonic() + timeout
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=self.port, user="root").close()
                return
            except pymysql.err.OperationalError:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"mariadbd exited; see {self.log_path}") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        _run(["mariadb-admin", f"--socket={self.socket}", "-uroot", "shutdown"])
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import pymysql

        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root")
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        finally:
            conn.close()
        return self.url(name)

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one database."""
        return f"mariadb+pymysql://root@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    def jdbc_url(self, database: str) -> str:
        """The JDBC URL of one database."""
        return f"jdbc:mariadb://127.0.0.1:{self.port}/{database}"
