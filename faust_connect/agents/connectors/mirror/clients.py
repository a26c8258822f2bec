"""Kafka clients of the two clusters a mirror connector joins, from its prefixed keys.

As Kafka's ``MirrorConnectorConfig`` builds them: a ``source`` consumer takes the cluster keys
under ``source.cluster.`` (connection and security only), then ``consumer.*``, then
``source.consumer.*``; likewise producers and admin clients, and the ``target`` side.
Consumers never auto-commit and start from the earliest offset unless told otherwise.

Security: ``security.protocol`` PLAINTEXT, SASL_PLAINTEXT, SSL and SASL_SSL; SASL PLAIN and
SCRAM-SHA-256/512 from ``sasl.jaas.config``; SSL trusts ``ssl.truststore.location`` as a PEM
file (JKS and PKCS12 stores are not read here).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Mapping
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

__all__ = ["Side", "client_settings", "new_admin", "new_consumer", "new_producer", "options"]

Side = Literal["source", "target"]
Kind = Literal["consumer", "producer", "admin"]

#: Keys taken from ``<side>.cluster.`` (Kafka's MirrorClientConfig client keys).
_CLUSTER_KEYS = ("bootstrap.servers", "client.id", "security.protocol", "sasl.", "ssl.")


def _int(value: str) -> int:
    return int(value.strip())


def _lower(value: str) -> str:
    return value.strip().lower()


_OPTIONS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "bootstrap.servers": ("bootstrap_servers", str.strip),
    "client.id": ("client_id", str.strip),
    "request.timeout.ms": ("request_timeout_ms", _int),
    "metadata.max.age.ms": ("metadata_max_age_ms", _int),
    "retry.backoff.ms": ("retry_backoff_ms", _int),
}
_KIND_OPTIONS: dict[Kind, dict[str, tuple[str, Callable[[str], Any]]]] = {
    "consumer": {
        "isolation.level": ("isolation_level", _lower),
        "auto.offset.reset": ("auto_offset_reset", _lower),
        "max.poll.records": ("max_poll_records", _int),
        "fetch.max.bytes": ("fetch_max_bytes", _int),
        "fetch.min.bytes": ("fetch_min_bytes", _int),
        "fetch.max.wait.ms": ("fetch_max_wait_ms", _int),
        "max.partition.fetch.bytes": ("max_partition_fetch_bytes", _int),
    },
    "producer": {
        "acks": ("acks", lambda v: "all" if _lower(v) in ("all", "-1") else int(v)),
        "linger.ms": ("linger_ms", _int),
        "compression.type": ("compression_type", lambda v: None if _lower(v) == "none" else v),
    },
    "admin": {},
}
_JAAS_OPTION = re.compile(r"""([\w.\-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]+))""")


def client_settings(config: Mapping[str, str], side: Side, kind: Kind) -> dict[str, str]:
    """The Kafka client keys of ``side``'s ``kind`` client, unprefixed, in Kafka's layering."""
    cluster = f"{side}.cluster."
    out = {
        k[len(cluster) :]: v
        for k, v in config.items()
        if k.startswith(cluster) and k[len(cluster) :].startswith(_CLUSTER_KEYS)
    }
    for prefix in (f"{kind}.", f"{side}.{kind}."):
        out.update(
            {
                k[len(prefix) :]: v
                for k, v in config.items()
                if k.startswith(prefix) and not k[len(prefix) :].startswith("override.")
            }
        )
    return out


def options(config: Mapping[str, str], side: Side, kind: Kind) -> dict[str, Any]:
    """aiokafka options of ``side``'s ``kind`` client; ValueError naming a bad key."""
    raw = client_settings(config, side, kind)
    table = {**_OPTIONS, **_KIND_OPTIONS[kind]}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in table:
            name, convert = table[key]
            try:
                out[name] = convert(value)
            except ValueError as exc:
                raise ValueError(f"{side}.{kind} {key}={value!r}: {exc}") from None
    if not out.get("bootstrap_servers"):
        raise ValueError(f"{side}.cluster.bootstrap.servers is not set")
    out.update(_security(raw, side))
    return out


def _security(raw: Mapping[str, str], side: Side) -> dict[str, Any]:
    protocol = raw.get("security.protocol", "PLAINTEXT").strip().upper()
    if protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise ValueError(f"{side}.cluster.security.protocol {protocol!r} is not supported")
    out: dict[str, Any] = {"security_protocol": protocol}
    if protocol.endswith("SSL"):
        context = ssl.create_default_context(cafile=raw.get("ssl.truststore.location") or None)
        if raw.get("ssl.endpoint.identification.algorithm", "https").strip() == "":
            context.check_hostname = False
        out["ssl_context"] = context
    if protocol.startswith("SASL_"):
        mechanism = raw.get("sasl.mechanism", "GSSAPI").strip().upper()
        if mechanism not in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            raise ValueError(f"{side}.cluster.sasl.mechanism {mechanism!r} is not supported")
        found = {
            name: quoted or bare
            for name, quoted, bare in _JAAS_OPTION.findall(raw.get("sasl.jaas.config", ""))
        }
        out.update(
            sasl_mechanism=mechanism,
            sasl_plain_username=found.get("username", ""),
            sasl_plain_password=found.get("password", ""),
        )
    return out


def new_consumer(
    config: Mapping[str, str], side: Side, *topics: str, **extra: Any
) -> AIOKafkaConsumer:
    """A consumer of ``side`` (no auto-commit; earliest unless ``auto.offset.reset`` says)."""
    base: dict[str, Any] = {"auto_offset_reset": "earliest"}
    return AIOKafkaConsumer(
        *topics,
        **{**base, **options(config, side, "consumer"), "enable_auto_commit": False, **extra},
    )


def new_producer(config: Mapping[str, str], side: Side, **extra: Any) -> AIOKafkaProducer:
    """A producer of ``side``."""
    return AIOKafkaProducer(**{"acks": "all", **options(config, side, "producer"), **extra})


def new_admin(config: Mapping[str, str], side: Side) -> AIOKafkaAdminClient:
    """An admin client of ``side``."""
    return AIOKafkaAdminClient(**options(config, side, "admin"))
