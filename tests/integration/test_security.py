"""A worker on secured listeners only: SASL_SSL with SCRAM-SHA-512, and SSL with client certificates.

The worker's bootstrap and the broker's advertised address are the secured listener, so any
client of the worker that ignored the security settings (Faust's, a task's producer or consumer,
the dead letter queue's producer, the admin and metadata clients, the state readers, the
embedded schema registry's storage) would fail to connect. Bad security input stops the worker
at start with one line naming the setting.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from pathlib import Path

import orjson
import pytest

from faust_connect.app.embedded import free_port
from tests.kafka import consume, produce
from tests.kafka_server import USERS, KafkaCluster
from tests.tls import STORE_PASSWORD, to_jks
from tests.workers import FAUST, ROOT, WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
AVRO = "io.confluent.connect.avro.AvroConverter"


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _jaas(module: str, password: str) -> str:
    return f'{module} required username="connect" password="{password}";'


def _scram_env(kafka: KafkaCluster, password: str = USERS["connect"]) -> dict[str, str]:
    return {
        "CONNECT_BOOTSTRAP_SERVERS": kafka.bootstrap_for("SASL_SSL"),
        "CONNECT_SECURITY_PROTOCOL": "SASL_SSL",
        "CONNECT_SASL_MECHANISM": "SCRAM-SHA-512",
        "CONNECT_SASL_JAAS_CONFIG": _jaas(SCRAM, password),
        "CONNECT_SSL_TRUSTSTORE_TYPE": "PEM",
        "CONNECT_SSL_TRUSTSTORE_LOCATION": str(kafka.tls.ca),
    }


def _client_cert_env(kafka: KafkaCluster) -> dict[str, str]:
    # The stores as a Kafka Connect user on the JVM holds them: a JKS truststore, a PKCS12 keystore.
    truststore = to_jks(kafka.tls.ca_pkcs12)
    return {
        "CONNECT_BOOTSTRAP_SERVERS": kafka.bootstrap_for("SSL"),
        "CONNECT_SECURITY_PROTOCOL": "SSL",
        "CONNECT_SSL_TRUSTSTORE_TYPE": "JKS",
        "CONNECT_SSL_TRUSTSTORE_LOCATION": str(truststore),
        "CONNECT_SSL_TRUSTSTORE_PASSWORD": STORE_PASSWORD,
        "CONNECT_SSL_KEYSTORE_TYPE": "PKCS12",
        "CONNECT_SSL_KEYSTORE_LOCATION": str(kafka.tls.client.pkcs12),
        "CONNECT_SSL_KEYSTORE_PASSWORD": STORE_PASSWORD,
        "CONNECT_SSL_KEY_PASSWORD": STORE_PASSWORD,
    }


@pytest.mark.parametrize("listener", ["SASL_SSL", "SSL"])
def test_source_sink_dlq_and_registry_run_on_a_secured_listener(
    listener: str, kafka: KafkaCluster, workers: WorkerFactory, tmp_path: Path
) -> None:
    env = _scram_env(kafka) if listener == "SASL_SSL" else _client_cert_env(kafka)
    worker = workers.start("tests.apps.worker", bootstrap=env["CONNECT_BOOTSTRAP_SERVERS"], env=env)
    rest = worker.rest
    uid = _uid()
    orders, out = f"orders-{uid}", tmp_path / "orders.jsonl"
    avro = {
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": AVRO,
        "value.converter.schema.registry.url": f"{worker.url}/schema-registry",
    }
    rest.create(
        f"datagen-{uid}",
        {
            "connector.class": "io.confluent.kafka.connect.datagen.DatagenConnector",
            "kafka.topic": orders,
            "quickstart": "orders",
            "iterations": "30",
            "max.interval": "0",
            **avro,
        },
    )
    rest.create(
        f"file-{uid}",
        {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "topics": orders,
            "file": str(out),
            **avro,
        },
    )
    # A sink with a dead letter queue, fed 5 good and 2 bad JSON records by the test.
    plain, dlq, recorded = f"plain-{uid}", f"dlq-{uid}", tmp_path / "recorded.jsonl"
    rest.create(
        f"recording-{uid}",
        {
            "connector.class": "RecordingSink",
            "topics": plain,
            "file": str(recorded),
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.deadletterqueue.context.headers.enable": "true",
        },
    )
    sent = [(None, orjson.dumps({"n": i})) for i in range(5)] + [(None, b"{nope"), (None, b"[")]
    asyncio.run(produce(kafka.bootstrap, plain, sent))

    def lines(path: Path) -> list[dict[str, object]]:
        return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []

    wait_until(lambda: len(lines(out)) >= 30, timeout=60, what="30 orders in the sink file")
    assert [row["orderid"] for row in lines(out)] == list(range(30))
    wait_until(lambda: len(lines(recorded)) >= 5, timeout=60, what="5 good records recorded")
    assert sorted(int(str(row["n"])) for row in lines(recorded)) == list(range(5))
    dead = asyncio.run(consume(kafka.bootstrap, dlq, 2, timeout=60))
    assert sorted(r.value for r in dead) == [b"[", b"{nope"]
    assert all(dict(r.headers)["__connect.errors.stage"] == b"VALUE_CONVERTER" for r in dead)
    # the embedded registry stored the orders' schema (in its topic, through the secured client)
    status, subjects = rest.call("GET", "/schema-registry/subjects")
    assert status == 200 and f"{orders}-value" in subjects


def _start_fails(env: dict[str, str], tmp_path: Path) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_")}
    done = subprocess.run(
        [FAUST, "-A", "faust_connect.app", "worker", "-l", "info"],
        env={
            **clean,
            "CONNECT_GROUP_ID": f"bad-{_uid()}",
            "CONNECT_LISTENERS": f"http://127.0.0.1:{free_port()}",
            "PYTHONPATH": str(ROOT),
            **env,
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [x for x in (done.stdout + done.stderr).splitlines() if "faust-connect: worker" in x]
    return done.returncode, "\n".join(lines)


def _wrong_password(kafka: KafkaCluster) -> dict[str, str]:
    return _scram_env(kafka, password="not-the-password")


def _unknown_mechanism(kafka: KafkaCluster) -> dict[str, str]:
    return {**_scram_env(kafka), "CONNECT_SASL_MECHANISM": "SCRAM-SHA-256"}


def _stranger_truststore(kafka: KafkaCluster) -> dict[str, str]:
    return {**_scram_env(kafka), "CONNECT_SSL_TRUSTSTORE_LOCATION": str(kafka.tls.stranger_ca)}


def _plaintext_on_ssl(kafka: KafkaCluster) -> dict[str, str]:
    return {"CONNECT_BOOTSTRAP_SERVERS": kafka.bootstrap_for("SSL")}


def _no_client_certificate(kafka: KafkaCluster) -> dict[str, str]:
    env = _client_cert_env(kafka)
    return {k: v for k, v in env.items() if "KEYSTORE" not in k and "KEY_PASSWORD" not in k}


def _malformed_jaas(kafka: KafkaCluster) -> dict[str, str]:
    return {**_scram_env(kafka), "CONNECT_SASL_JAAS_CONFIG": "username=connect password=x"}


@pytest.mark.parametrize(
    ("make_env", "setting", "says"),
    [
        (_wrong_password, "sasl.jaas.config", "refused these credentials"),
        (_unknown_mechanism, "sasl.mechanism", "does not enable SCRAM-SHA-256"),
        (_stranger_truststore, "ssl.truststore.location", "does not verify the certificate"),
        (_plaintext_on_ssl, "security.protocol", "closed the connection at once"),
        (_no_client_certificate, "security.protocol", "requires a client certificate"),
        (_malformed_jaas, "sasl.jaas.config", "is not a JAAS line"),
    ],
)
def test_bad_security_input_stops_the_start_with_one_line_naming_the_setting(
    make_env: object, setting: str, says: str, kafka: KafkaCluster, tmp_path: Path
) -> None:
    assert callable(make_env)
    code, lines = _start_fails(make_env(kafka), tmp_path)
    assert code == 2, lines
    assert len(lines.splitlines()) == 1, lines
    assert f"worker setting {setting!r}" in lines and says in lines, lines


def test_a_refused_client_override_is_a_400_and_stores_nothing(
    kafka: KafkaCluster, workers: WorkerFactory, tmp_path: Path
) -> None:
    worker = workers.start(
        "tests.apps.worker",
        bootstrap=kafka.bootstrap,
        env={"CONNECT_CONNECTOR_CLIENT_CONFIG_OVERRIDE_POLICY": "Principal"},
    )
    config = {
        "connector.class": "CountingSource",
        "topic": f"t-{_uid()}",
        "producer.override.linger.ms": "50",
    }
    status, body = worker.rest.call("POST", "/connectors", {"name": "over", "config": config})
    assert status == 400, body
    assert "producer.override.linger.ms" in body["message"]
    assert worker.rest.get("/connectors") == []
    # what Principal allows goes through, checked like any client setting
    config = {**config, "producer.override.linger.ms": None}
    config = {k: v for k, v in config.items() if v is not None}
    bad = {**config, "producer.override.security.protocol": "TLS"}
    status, body = worker.rest.call("POST", "/connectors", {"name": "over", "config": bad})
    assert status == 400 and "producer.override.security.protocol" in body["message"], body
    good = {**config, "producer.override.security.protocol": "PLAINTEXT"}
    status, body = worker.rest.call("POST", "/connectors", {"name": "over", "config": good})
    assert status == 201, body
