"""The embedded Kafka-protocol broker behind ``make run``, and the demo it runs.

``python -m faust_connect.app.embedded broker`` starts only the broker (noida-db's Kafka service
from PyPI, the ``[embedded]`` extra, data kept in ``.data/broker``) and prints its address;
``... demo`` also starts a worker with the demo pipeline. Ctrl-C stops everything cleanly.

The broker takes Kafka's port 9092 and the demo worker's web server Kafka Connect's 8083, or a
free port (said in one line) when that one is taken; a port given with ``--port`` or
``--web-port`` must be free. What stands in the way of a start (a port in use, the broker of the
same data folder already running) ends it with one line saying what to do, and exit code 2.

It is there for trying faust-connect on a machine without Java. It is not Kafka: a second member
breaks its consumer groups and it answers empty fetches at once (../shared/BROKERS.md). Tests and
benchmarks run on real Apache Kafka; production runs point ``bootstrap.servers`` at a cluster.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "BROKER_PORT",
    "WEB_PORT",
    "NoidaBroker",
    "free_port",
    "main",
    "port_free",
    "wait_for_port",
]

BIN = Path(sys.executable).parent
#: The broker's port unless it is taken (Kafka's usual one).
BROKER_PORT = 9092
#: The demo worker's web port unless it is taken (Kafka Connect's usual one).
WEB_PORT = 8083


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``host:port`` right now."""
    with socket.socket() as sock:
        # as servers do: connections still closing on that port do not hold it
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def wait_for_port(port: int, *, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    """Return once ``host:port`` accepts connections; TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")
        time.sleep(0.05)


def port_closed(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing accepts connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return False
    except OSError:
        return True


class NoidaBroker:
    """noida-db's Kafka service, run in the background with its data in ``data_dir``."""

    name = "noida"

    def __init__(self, data_dir: str | os.PathLike[str], port: int | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.log_path = self.data_dir / "noida.log"

    @property
    def bootstrap(self) -> str:
        """``host:port`` for ``bootstrap.servers``."""
        return f"127.0.0.1:{self.port}"

    def _cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "noida-db"), *args, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            check=False,
        )

    def running_at(self) -> str | None:
        """The address of the broker already running on ``data_dir`` (None if there is none)."""
        if not (self.data_dir / "noida.control.json").exists():
            return None
        done = self._cli("status")
        found = re.search(r"kafka\s+(\S+:\d+)", done.stdout) if done.returncode == 0 else None
        return found.group(1) if found else None

    def start(self, timeout: float = 15.0) -> None:
        """Start the broker and wait until it accepts connections."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        done = self._cli("up", "--only", "kafka", "--kafka-port", str(self.port))
        if done.returncode != 0:
            raise RuntimeError(f"noida-db did not start: {done.stdout}{done.stderr}")
        wait_for_port(self.port, timeout=timeout)

    def stop(self) -> None:
        """Stop the broker (its data stays in ``data_dir``)."""
        self._cli("down")

    def __enter__(self) -> NoidaBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the command line -------------------------------------------------------------------------


class _CannotStart(Exception):
    """Something stands in the way of the start; the message says what and what to do."""


def _choose_port(given: int | None, default: int, what: str, option: str) -> int:
    """``given`` if it is free; else ``default``, or a free port (said) if that is taken."""
    if given is not None:
        if not port_free(given):
            raise _CannotStart(
                f"port {given} ({what}) is already in use: stop what listens there, or pass"
                f" another {option}"
            )
        return given
    if port_free(default):
        return default
    port = free_port()
    print(f"port {default} is in use: the {what} takes port {port} instead", flush=True)
    return port


@contextlib.contextmanager
def _running_broker(data_dir: Path, port: int | None) -> Iterator[NoidaBroker]:
    folder = data_dir / "broker"
    running = NoidaBroker(folder, BROKER_PORT).running_at()
    if running:
        raise _CannotStart(
            f"the embedded broker of {data_dir} already runs at {running} (`make broker`?): stop"
            f" it first (Ctrl-C where it runs, or {BIN / 'noida-db'} down --data-dir"
            f" {folder.resolve()}), or start a worker against it as the README's Quickstart does"
        )
    broker = NoidaBroker(folder, _choose_port(port, BROKER_PORT, "embedded broker", "--port"))
    try:
        broker.start()
    except (RuntimeError, TimeoutError) as exc:
        broker.stop()
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _CannotStart(
            f"the embedded broker did not start ({reason}): see {broker.log_path}"
        ) from None
    try:
        yield broker
    finally:
        broker.stop()
        print("broker stopped", flush=True)


class _Stop(Exception):
    """Ctrl-C or SIGTERM arrived."""


def _raise_stop(signum: int, frame: object) -> None:
    # Further signals during the clean-up are ignored, so the clean-up runs to its end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stop


def _wait_for_stop(child: subprocess.Popen[bytes] | None = None) -> None:
    """Return on Ctrl-C or SIGTERM, or when ``child`` exits."""
    with contextlib.suppress(_Stop):
        while child is None:
            signal.pause()
        while child.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(0.5)


def _run_demo(broker: NoidaBroker, data_dir: Path, web_port: int) -> int:
    output = data_dir / "demo" / "orders.jsonl"
    output.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CONNECT_BOOTSTRAP_SERVERS": broker.bootstrap,
        "CONNECT_GROUP_ID": "faust-connect-demo",
        "CONNECT_LISTENERS": f"http://127.0.0.1:{web_port}",
        "CONNECT_OFFSET_FLUSH_INTERVAL_MS": "1000",
        "FAUST_CONNECT_DEMO_OUTPUT": str(output),
    }
    worker = subprocess.Popen(
        [str(BIN / "faust"), "-A", "faust_connect.app.demo", "worker", "-l", "info"],
        cwd=data_dir,
        env=env,
    )
    print(
        f"\nfaust-connect demo\n  web:    http://127.0.0.1:{web_port}/\n"
        f"  output: {output} (grows as records flow)\n  Ctrl-C stops worker and broker\n",
        flush=True,
    )
    try:
        _wait_for_stop(worker)
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        try:
            code = worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            code = worker.wait()
        print("worker stopped", flush=True)
    return 0 if code in (0, -signal.SIGINT, -signal.SIGTERM) else code


def main(argv: list[str] | None = None) -> int:
    """``broker``: the embedded broker only; ``demo``: broker, worker and demo pipeline."""
    parser = argparse.ArgumentParser(prog="python -m faust_connect.app.embedded")
    parser.add_argument("command", choices=["broker", "demo"])
    parser.add_argument("--data-dir", default=".data", help="where the broker keeps its data")
    parser.add_argument(
        "--port", type=int, default=None, help=f"broker port (default: {BROKER_PORT} if free)"
    )
    parser.add_argument(
        "--web-port", type=int, default=None, help=f"worker web port (default: {WEB_PORT} if free)"
    )
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir).resolve()
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    try:
        if args.command == "demo":  # before the broker starts: a taken port stops nothing
            web_port = _choose_port(args.web_port, WEB_PORT, "worker's web server", "--web-port")
        with _running_broker(data_dir, args.port) as broker:
            print(f"broker: {broker.bootstrap} (data in {broker.data_dir})", flush=True)
            if args.command == "broker":
                print(f"  e.g. CONNECT_BOOTSTRAP_SERVERS={broker.bootstrap}", flush=True)
                _wait_for_stop()
                return 0
            return _run_demo(broker, data_dir, web_port)
    except _CannotStart as exc:
        print(f"faust-connect: {exc}", file=sys.stderr, flush=True)
        return 2
    except _Stop:  # Ctrl-C while starting; whatever had started is stopped
        return 0


if __name__ == "__main__":
    sys.exit(main())
