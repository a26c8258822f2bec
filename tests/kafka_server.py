"""Apache Kafka in KRaft mode for the tests: one node, or a cluster of three, on free loopback ports.

Every node is a combined broker and controller (``process.roles=broker,controller``) started from
the class path Maven resolved (:mod:`tests.jvm`), its storage formatted at start in the test's
folder, with a small heap. Each node listens on:

- ``PLAINTEXT``: inter-broker traffic and the tests' default bootstrap;
- ``SASL_PLAINTEXT``: PLAIN and SCRAM-SHA-512 (users in :data:`USERS`);
- ``SSL``: TLS with client certificates required;
- ``SASL_SSL``: TLS (no client certificate) with PLAIN and SCRAM-SHA-512.

The certificates are made at start (:mod:`tests.tls`); the SCRAM credentials are written into the
metadata log by the storage tool, as a KRaft cluster bootstraps them.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiokafka.client import AIOKafkaClient

from faust_connect.app.embedded import free_port, port_closed
from tests import jvm
from tests.tls import Tls, make_tls

#: SASL users known to the broker: name → password (PLAIN and SCRAM-SHA-512 alike).
USERS = {"connect": "connect-secret", "admin": "admin-secret"}
#: The client listeners, by name (= security protocol).
LISTENERS = ("PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL")

_LOG4J = """Configuration:
  Appenders:
    File:
      name: file
      fileName: "{log}"
      PatternLayout: {{pattern: "[%d] %p %m (%c)%n"}}
  Loggers:
    Root: {{level: INFO, AppenderRef: [{{ref: file}}]}}
    Logger:
      - {{name: kafka.request.logger, level: WARN}}
      - {{name: org.apache.kafka.controller, level: WARN}}
      - {{name: kafka.log.LogCleaner, level: WARN}}
"""


def _jaas_plain() -> str:
    users = " ".join(f'user_{name}="{secret}"' for name, secret in USERS.items())
    return f"org.apache.kafka.common.security.plain.PlainLoginModule required {users};"


class KafkaNode:
    """One Kafka process: broker and controller."""

    def __init__(self, cluster: KafkaCluster, node_id: int) -> None:
        self.cluster = cluster
        self.node_id = node_id
        self.folder = cluster.folder / f"node-{node_id}"
        self.ports = {name: free_port() for name in (*LISTENERS, "CONTROLLER")}
        self.log_path = self.folder / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def address(self, listener: str = "PLAINTEXT") -> str:
        """``host:port`` of one of this node's listeners."""
        return f"127.0.0.1:{self.ports[listener]}"

    def properties(self) -> dict[str, str]:
        """This node's ``server.properties``."""
        tls, size = self.cluster.tls, len(self.cluster.nodes)
        replicas = str(min(size, 3))
        isr = "2" if size >= 3 else "1"
        jaas_scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        props = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.cluster.voters,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listeners": ",".join(
                f"{name}://127.0.0.1:{port}" for name, port in self.ports.items()
            ),
            "advertised.listeners": ",".join(
                f"{name}://127.0.0.1:{self.ports[name]}" for name in LISTENERS
            ),
            "listener.security.protocol.map": ",".join(
                [*(f"{name}:{name}" for name in LISTENERS), "CONTROLLER:PLAINTEXT"]
            ),
            "log.dirs": str(self.folder / "data"),
            "num.partitions": "1",
            "default.replication.factor": replicas,
            "min.insync.replicas": isr,
            "offsets.topic.replication.factor": replicas,
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": isr,
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": isr,
            "group.initial.rebalance.delay.ms": "0",
            "group.min.session.timeout.ms": "1000",
            "auto.create.topics.enable": "true",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "log.cleaner.threads": "1",
            "message.max.bytes": "1048588",
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": _jaas_plain(),
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": jaas_scram,
            "listener.name.sasl_ssl.plain.sasl.jaas.config": _jaas_plain(),
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas_scram,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(tls.broker.chain),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(tls.ca),
            "listener.name.ssl.ssl.client.auth": "required",
        }
        return props

    def format(self, cluster_id: str) -> None:
        """Write ``server.properties`` and format the storage (with the SCRAM users)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "server.properties").write_text(
            "".join(f"{k}={v}\n" for k, v in self.properties().items())
        )
        (self.folder / "log4j2.yaml").write_text(_LOG4J.format(log=self.log_path))
        scram = [
            arg
            for name, secret in USERS.items()
            for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={secret}]")
        ]
        done = subprocess.run(
            [
                *self._java("kafka.tools.StorageTool"),
                "format",
                f"--cluster-id={cluster_id}",  # an id may start with "-"
                "--config",
                str(self.folder / "server.properties"),
                "--ignore-formatted",
                *scram,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"kafka storage format failed:\n{done.stdout}{done.stderr}")

    def _java(self, main: str) -> list[str]:
        return [
            jvm.java(),
            f"-Xmx{self.cluster.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.folder / 'log4j2.yaml'}",
            "-cp",
            self.cluster.classpath,
            main,
        ]

    def start(self) -> None:
        """Start the process (the storage must be formatted)."""
        if self.running:
            return
        with (self.folder / "stdout.log").open("ab") as out:
            self.process = subprocess.Popen(
                [*self._java("kafka.Kafka"), str(self.folder / "server.properties")],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        """Whether the process is alive (a paused one counts)."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """A clean shutdown (SIGTERM), killed after ``timeout``."""
        if not self.running:
            return
        assert self.process is not None
        self.resume()
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """``kill -9``."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def pause(self) -> None:
        """SIGSTOP: the process stays but answers nothing."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGCONT)


class KafkaCluster:
    """``nodes`` Kafka nodes in ``folder``; replication factor min(nodes, 3)."""

    name = "kafka"

    def __init__(self, folder: Path, *, nodes: int = 1, heap: str = "512m") -> None:
        self.folder = folder.resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.heap = heap
        self.classpath = jvm.classpath("broker")
        self.tls: Tls = make_tls(self.folder / "tls")
        self.nodes: list[KafkaNode] = []
        self.nodes = [KafkaNode(self, i + 1) for i in range(nodes)]
        self.cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")

    @property
    def voters(self) -> str:
        """``controller.quorum.voters``."""
        return ",".join(f"{n.node_id}@{n.address('CONTROLLER')}" for n in self.nodes)

    def bootstrap_for(self, listener: str) -> str:
        """``bootstrap.servers`` for one listener of every node."""
        return ",".join(node.address(listener) for node in self.nodes)

    @property
    def bootstrap(self) -> str:
        """``bootstrap.servers`` of the PLAINTEXT listeners."""
        return self.bootstrap_for("PLAINTEXT")

    @property
    def log_path(self) -> Path:
        """The first node's server log (each node has its own in its folder)."""
        return self.nodes[0].log_path

    def start(self, timeout: float = 90.0) -> None:
        """Format and start every node; return once each one serves metadata."""
        started = time.monotonic()
        with ThreadPoolExecutor(len(self.nodes)) as pool:  # each format is a JVM start
            list(pool.map(lambda node: node.format(self.cluster_id), self.nodes))
        for node in self.nodes:
            node.start()
        self.wait_ready(timeout)
        took = time.monotonic() - started
        print(f"kafka: {len(self.nodes)} node(s) ready in {took:.1f} s ({self.folder})")

    def wait_ready(self, timeout: float = 90.0, nodes: list[KafkaNode] | None = None) -> None:
        """Wait until ``nodes`` (all) are in the cluster's metadata; fail if one exits."""
        want = {n.node_id for n in (nodes or self.nodes)}
        deadline = time.monotonic() + timeout
        while True:
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None:
                    raise RuntimeError(
                        f"kafka node {node.node_id} exited ({node.process.returncode}); "
                        f"see {node.log_path}\n{_tail(node.folder / 'stdout.log')}"
                    )
            if want <= asyncio.run(self._brokers()):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"kafka nodes {sorted(want)} not ready after {timeout:.0f}s")
            time.sleep(0.2)

    async def _brokers(self) -> set[int]:
        live = ",".join(
            n.address() for n in self.nodes if n.running and not port_closed(n.ports["PLAINTEXT"])
        )
        if not live:
            return set()
        client = AIOKafkaClient(bootstrap_servers=live, request_timeout_ms=3000)
        try:
            await client.bootstrap()
            return {broker.nodeId for broker in client.cluster.brokers()}
        except Exception:  # not up yet: the caller polls until its deadline
            return set()
        finally:
            await client.close()

    def stop(self) -> None:
        """Stop every node (their folders stay for the logs)."""
        for node in self.nodes:
            node.resume()
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            node.stop()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


if __name__ == "__main__":  # a broker for trying things by hand: python -m tests.kafka_server
    import tempfile

    cluster = KafkaCluster(
        Path(tempfile.mkdtemp(prefix="kafka-")), nodes=int(os.environ.get("NODES", "1"))
    )
    cluster.start()
    for listener in LISTENERS:
        print(f"{listener}: {cluster.bootstrap_for(listener)}")
    try:
        signal.pause()
    finally:
        cluster.stop()
