"""Apache Kafka Connect's own distributed worker, for the differential tests.

``org.apache.kafka.connect.cli.ConnectDistributed`` is started from the class path Maven resolved
out of the ``connect`` profile of ``jvm/pom.xml`` (:mod:`tests.jvm`): connect-runtime with the
FileStream connectors, JsonConverter and the built-in SMTs and predicates. Those plugins are on
the class path and carry ``META-INF/services`` manifests, so no ``plugin.path`` is needed and
discovery is ``service_load`` (a class-path scan costs seconds of the two shared cores). With
``profiles=("connect", "debezium")`` Debezium's connectors join them on the class path (their jars
carry the same manifests); a jar both profiles resolve, in two versions or one, is taken once,
from the first profile that has it (:func:`classpath`).

The worker gets its own ``group.id`` and its own config, offset and status topics on the broker
the faust-connect workers use, a free loopback REST port, JsonConverter as its default key and
value converter (faust-connect's default), and the same 500 ms offset flush interval the test
workers get. It is ready once ``GET /health`` (Kafka 4.0+) says ``healthy``: the herder has then
joined its group and read its config topic, so a create is not answered with a rebalance 409.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path

from faust_connect.app.embedded import free_port
from tests import jvm
from tests.rest import Rest

# Properties, not YAML: the connect class path has no jackson-dataformat-yaml.
_LOG4J = """appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
"""


def _artifact(jar: str) -> str:
    """A jar's Maven artifact id: its folder's parent in the local repository
    (``.../<group>/<artifact>/<version>/<artifact>-<version>.jar``)."""
    return Path(jar).parent.parent.name


def classpath(profiles: Sequence[str]) -> str:
    """The class path of the pom's ``profiles`` together, each artifact once: where two profiles
    resolve one artifact (``zstd-jni`` 1.5.6-10 for connect, 1.5.0-2 for debezium) the first
    profile's jar is kept, so Kafka Connect runs on the versions it was resolved with."""
    seen: set[str] = set()
    jars: list[str] = []
    for profile in profiles:
        for jar in jvm.classpath(profile).split(os.pathsep):
            if _artifact(jar) not in seen:
                seen.add(_artifact(jar))
                jars.append(jar)
    return os.pathsep.join(jars)


class ConnectWorker:
    """One JVM Kafka Connect worker (``ConnectDistributed``) in ``folder``."""

    def __init__(
        self,
        folder: Path,
        bootstrap: str,
        *,
        group_id: str | None = None,
        heap: str = "384m",
        extra: dict[str, str] | None = None,
        profiles: Sequence[str] = ("connect",),
    ) -> None:
        self.folder = folder.resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.bootstrap = bootstrap
        self.group_id = group_id or f"jvm-connect-{uuid.uuid4().hex[:8]}"
        self.heap = heap
        self.port = free_port()
        self.log_path = self.folder / "connect.log"
        self.extra = dict(extra or {})
        self.classpath = classpath(profiles)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The worker's REST address."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def rest(self) -> Rest:
        """A REST client for this worker."""
        return Rest(self.url)

    def topic(self, kind: str) -> str:
        """The name of an internal topic: ``config``, ``offset`` or ``status``."""
        suffix = {"config": "configs", "offset": "offsets", "status": "status"}[kind]
        return f"{self.group_id}-{suffix}"

    def properties(self) -> dict[str, str]:
        """The worker's ``connect-distributed.properties``."""
        return {
            "bootstrap.servers": self.bootstrap,
            "group.id": self.group_id,
            "config.storage.topic": self.topic("config"),
            "offset.storage.topic": self.topic("offset"),
            "status.storage.topic": self.topic("status"),
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "listeners": self.url,
            "rest.advertised.host.name": "127.0.0.1",
            "rest.advertised.port": str(self.port),
            "offset.flush.interval.ms": "500",
            "plugin.discovery": "service_load",
            **self.extra,
        }

    def start(self, timeout: float = 120.0) -> ConnectWorker:
        """Start the process and wait until its REST API says it is healthy."""
        props = self.folder / "connect-distributed.properties"
        props.write_text("".join(f"{k}={v}\n" for k, v in self.properties().items()))
        log4j = self.folder / "log4j2.properties"
        log4j.write_text(_LOG4J.format(log=self.log_path))
        started = time.monotonic()
        with (self.folder / "stdout.log").open("ab") as out:
            self.process = subprocess.Popen(
                [
                    jvm.java(),
                    f"-Xmx{self.heap}",
                    "-Xms64m",
                    "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1",
                    "-Djava.awt.headless=true",
                    f"-Dlog4j2.configurationFile={log4j}",
                    "-cp",
                    self.classpath,
                    "org.apache.kafka.connect.cli.ConnectDistributed",
                    str(props),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_healthy(timeout)
        took = time.monotonic() - started
        print(f"jvm connect: {self.group_id} ready in {took:.1f} s at {self.url}")
        return self

    def health(self) -> str:
        """``GET /health``'s status (``healthy``, ``starting``, ...) or "" if nothing answers."""
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=5) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:  # 503 while starting, with the same body
            try:
                body = json.loads(exc.read())
            except ValueError:
                return ""
        except (OSError, ValueError):
            return ""
        return str(body.get("status", "")) if isinstance(body, dict) else ""

    def wait_healthy(self, timeout: float) -> None:
        """Poll ``/health`` until ``healthy``; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"kafka connect exited ({self.process.returncode}); see {self.log_path}\n"
                    f"{self.tail()}"
                )
            if self.health() == "healthy":
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"kafka connect not healthy after {timeout:.0f}s; see {self.log_path}\n"
                    f"{self.tail()}"
                )
            time.sleep(0.25)

    def tail(self, lines: int = 40) -> str:
        """The last lines of the worker's log and stdout."""
        out = []
        for path in (self.log_path, self.folder / "stdout.log"):
            try:
                out.extend(path.read_text(errors="replace").splitlines()[-lines:])
            except OSError:
                pass
        return "\n".join(out)

    def stop(self, timeout: float = 30.0) -> None:
        """A clean shutdown (SIGTERM), killed after ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
