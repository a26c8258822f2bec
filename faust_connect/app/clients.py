"""Every Kafka client of a worker, built in one place from its settings.

Kafka Connect users configure clients with the Java clients' keys: ``bootstrap.servers``,
``security.protocol``, ``sasl.mechanism``, ``sasl.jaas.config``, ``ssl.*``, and the
``producer.*``, ``consumer.*`` and ``admin.*`` prefixes, with ``producer.override.*`` /
``consumer.override.*`` / ``admin.override.*`` per connector as
``connector.client.config.override.policy`` allows. :class:`Clients` turns them into aiokafka's
options once, checks them (every bad value names its key), and makes the Faust app's
credentials, the task producers and consumers, the admin and metadata clients, the dead letter
queue producer and the state readers from them. Nothing else constructs a Kafka client.

Layering: worker-level security settings apply to every client; ``producer.*`` (and so on) are
laid over them for that kind of client, and a connector's allowed overrides over those.
"""

from __future__ import annotations

import asyncio
import errno
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.conn import create_conn
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    SaslAuthenticationFailed,
    TopicAlreadyExistsError,
    UnsupportedSaslMechanismError,
)
from aiokafka.structs import TopicPartition

from faust_connect.app.settings import WorkerSettings
from faust_connect.exceptions import ConfigIssue, WorkerConfigError

__all__ = ["KINDS", "Clients", "Kind", "parse_jaas"]

Kind = Literal["producer", "consumer", "admin"]
KINDS: tuple[Kind, ...] = ("producer", "consumer", "admin")

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}
#: What the ``Principal`` override policy lets a connector change (Kafka's list).
PRINCIPAL_KEYS = frozenset({"sasl.jaas.config", "sasl.mechanism", "security.protocol"})


def _int(value: str) -> int:
    return int(value.strip())


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise ValueError("must be true or false")
    return lowered == "true"


def _acks(value: str) -> int | str:
    lowered = value.strip().lower()
    if lowered in ("all", "-1"):
        return "all"
    if lowered in ("0", "1"):
        return int(lowered)
    raise ValueError("must be all, -1, 0 or 1")


def _compression(value: str) -> str | None:
    lowered = value.strip().lower()
    if lowered not in ("none", "gzip", "snappy", "lz4", "zstd"):
        raise ValueError("must be none, gzip, snappy, lz4 or zstd")
    return None if lowered == "none" else lowered


def _choice(*choices: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        lowered = value.strip().lower()
        if lowered not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return lowered

    return check


Option = tuple[str, Callable[[str], Any]]
_COMMON: dict[str, Option] = {
    "client.id": ("client_id", str),
    "request.timeout.ms": ("request_timeout_ms", _int),
    "metadata.max.age.ms": ("metadata_max_age_ms", _int),
    "retry.backoff.ms": ("retry_backoff_ms", _int),
    "connections.max.idle.ms": ("connections_max_idle_ms", _int),
}
#: Kafka client keys → aiokafka options, per kind of client.
TRANSLATED: dict[Kind, dict[str, Option]] = {
    "producer": {
        **_COMMON,
        "acks": ("acks", _acks),
        "compression.type": ("compression_type", _compression),
        "batch.size": ("max_batch_size", _int),
        "linger.ms": ("linger_ms", _int),
        "max.request.size": ("max_request_size", _int),
        "enable.idempotence": ("enable_idempotence", _bool),
        "transaction.timeout.ms": ("transaction_timeout_ms", _int),
    },
    "consumer": {
        **_COMMON,
        "max.poll.records": ("max_poll_records", _int),
        "fetch.max.bytes": ("fetch_max_bytes", _int),
        "fetch.min.bytes": ("fetch_min_bytes", _int),
        "fetch.max.wait.ms": ("fetch_max_wait_ms", _int),
        "max.partition.fetch.bytes": ("max_partition_fetch_bytes", _int),
        "isolation.level": ("isolation_level", _choice("read_uncommitted", "read_committed")),
        "auto.offset.reset": ("auto_offset_reset", _choice("earliest", "latest", "none")),
        "session.timeout.ms": ("session_timeout_ms", _int),
        "heartbeat.interval.ms": ("heartbeat_interval_ms", _int),
        "max.poll.interval.ms": ("max_poll_interval_ms", _int),
        "check.crcs": ("check_crcs", _bool),
        "client.rack": ("client_rack", str),
    },
    "admin": dict(_COMMON),
}
#: Keys the worker sets itself (its group, its commits, its serialization): never passed on.
OWNED = frozenset(
    {
        "bootstrap.servers",
        "group.id",
        "enable.auto.commit",
        "key.serializer",
        "value.serializer",
        "key.deserializer",
        "value.deserializer",
        "transactional.id",
    }
)


def _listen_issue(host: str, port: int) -> ConfigIssue | None:
    """Why the web server could not listen on ``host:port``, or None if it can (right now)."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return ConfigIssue("listeners", f"cannot listen on {host}:{port} ({exc.strerror})")
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            # as asyncio's server binds: connections still closing do not hold the port, and
            # an IPv6 socket leaves IPv4 to its own
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return ConfigIssue(
                        "listeners",
                        f"port {port} on {host} is already in use (another worker?): stop what "
                        "listens there, or set another port in listeners (CONNECT_LISTENERS)",
                    )
                return ConfigIssue("listeners", f"cannot listen on {host}:{port} ({exc.strerror})")
    return None


def _is_security(key: str) -> bool:
    return key == "security.protocol" or key.startswith(("ssl.", "sasl."))


_JAAS = re.compile(
    r"""\s*(?P<module>[\w.$]+)\s+(?P<flag>required|requisite|sufficient|optional)
        (?P<options>(?:\s+[\w.\-]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^\s;"]+))*)\s*;\s*$""",
    re.VERBOSE,
)
_JAAS_OPTION = re.compile(r"""([\w.\-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]+))""")


def parse_jaas(text: str) -> tuple[str, dict[str, str]]:
    """``sasl.jaas.config`` as its login module class and options; ValueError if malformed."""
    found = _JAAS.match(text)
    if found is None:
        raise ValueError(
            'is not a JAAS line like \'<LoginModule class> required username="..." '
            'password="...";\''
        )
    options = {
        name: re.sub(r"\\(.)", r"\1", quoted) if quoted or not bare else bare
        for name, quoted, bare in _JAAS_OPTION.findall(found["options"])
    }
    return found["module"], options


class Clients:
    """Kafka clients for one worker (see the module's docstring).

    Raises :class:`WorkerConfigError` naming each bad key when the settings do not make valid
    clients (a store that cannot be read, a malformed ``sasl.jaas.config``, a wrong type).
    """

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.bootstrap_servers = settings.bootstrap_servers
        self._security_cache: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
        worker = {"security.protocol": settings.security_protocol, **settings.security_options()}
        self._worker_security = worker
        self._kinds: dict[Kind, dict[str, str]] = {k: settings.prefixed(f"{k}.") for k in KINDS}
        self.security()  # first: the kinds' security builds on the worker's
        issues = [i for k in KINDS for i in self.issues(k, self._kinds[k], prefix=f"{k}.")]
        if issues:
            raise WorkerConfigError(issues)

    # -- checks -----------------------------------------------------------------------------

    def issues(self, kind: Kind, raw: Mapping[str, str], *, prefix: str) -> list[ConfigIssue]:
        """What is wrong with client keys ``raw`` (keys without ``prefix``) for ``kind``."""
        out: list[ConfigIssue] = []
        table = TRANSLATED[kind]
        for key, value in raw.items():
            if key in table:
                try:
                    table[key][1](value)
                except ValueError as exc:
                    out.append(ConfigIssue(prefix + key, f"{value!r}: {exc}"))
        if any(_is_security(k) for k in raw):
            try:
                self.security({k: v for k, v in raw.items() if _is_security(k)}, prefix=prefix)
            except WorkerConfigError as exc:
                out.extend(exc.issues)
        return out

    def override_issues(self, config: Mapping[str, str]) -> list[ConfigIssue]:
        """A connector's ``*.override.*`` keys the worker's policy or the clients refuse."""
        policy = self.settings.connector_client_config_override_policy
        out: list[ConfigIssue] = []
        for kind in KINDS:
            prefix = f"{kind}.override."
            raw = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}
            refused = [
                key
                for key in raw
                if policy == "None" or (policy == "Principal" and key not in PRINCIPAL_KEYS)
            ]
            out.extend(
                ConfigIssue(
                    prefix + key,
                    f"the worker's connector.client.config.override.policy ({policy}) does not "
                    "allow this client setting to be overridden",
                )
                for key in refused
            )
            if not refused:
                out.extend(self.issues(kind, raw, prefix=prefix))
        return out

    # -- options ----------------------------------------------------------------------------

    def security(
        self, layered: Mapping[str, str] | None = None, *, prefix: str = ""
    ) -> dict[str, Any]:
        """aiokafka's security options for the worker's settings with ``layered`` laid over."""
        merged = {**self._worker_security, **(layered or {})}
        key = tuple(sorted(merged.items()))
        if (cached := self._security_cache.get(key)) is not None:
            return cached
        where = prefix if layered else ""
        protocol = merged.get("security.protocol", "PLAINTEXT").strip().upper()
        if protocol not in PROTOCOLS:
            raise WorkerConfigError(
                [
                    ConfigIssue(
                        f"{where}security.protocol",
                        f"{protocol!r}: must be one of {', '.join(PROTOCOLS)}",
                    )
                ]
            )
        out: dict[str, Any] = {"security_protocol": protocol}
        if protocol in ("SSL", "SASL_SSL"):
            from faust_connect.app.keystores import ssl_context  # cryptography only when used

            ssl_keys = {k: v for k, v in merged.items() if k.startswith("ssl.")}
            try:
                out["ssl_context"] = ssl_context(ssl_keys)
            except WorkerConfigError as exc:
                raise WorkerConfigError(
                    [ConfigIssue(where + i.key, i.message) for i in exc.issues]
                ) from None
        if protocol.startswith("SASL_"):
            out.update(self._sasl(merged, where))
        self._security_cache[key] = out
        return out

    @staticmethod
    def _sasl(merged: Mapping[str, str], where: str) -> dict[str, Any]:
        mechanism = merged.get("sasl.mechanism", "GSSAPI").strip().upper()
        if mechanism not in MECHANISMS:
            raise WorkerConfigError(
                [
                    ConfigIssue(
                        f"{where}sasl.mechanism",
                        f"{mechanism!r} is not supported: use {', '.join(MECHANISMS)}"
                        + (" (GSSAPI is Kafka's default)" if mechanism == "GSSAPI" else ""),
                    )
                ]
            )
        jaas = merged.get("sasl.jaas.config", "")
        key = f"{where}sasl.jaas.config"
        if not jaas.strip():
            raise WorkerConfigError([ConfigIssue(key, f"required with sasl.mechanism {mechanism}")])
        try:
            module, options = parse_jaas(jaas)
        except ValueError as exc:
            raise WorkerConfigError([ConfigIssue(key, str(exc))]) from None
        if module != MECHANISMS[mechanism]:
            raise WorkerConfigError(
                [ConfigIssue(key, f"{mechanism} needs {MECHANISMS[mechanism]}, not {module}")]
            )
        missing = [name for name in ("username", "password") if name not in options]
        if missing:
            raise WorkerConfigError([ConfigIssue(key, f"has no {' or '.join(missing)}")])
        return {
            "sasl_mechanism": mechanism,
            "sasl_plain_username": options["username"],
            "sasl_plain_password": options["password"],
        }

    def options(self, kind: Kind, config: Mapping[str, str] | None = None) -> dict[str, Any]:
        """aiokafka options for a ``kind`` client: worker settings, ``kind.*``, then overrides."""
        raw = dict(self._kinds[kind])
        if config is not None:
            prefix = f"{kind}.override."
            raw.update({k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)})
        table = TRANSLATED[kind]
        out: dict[str, Any] = {
            "bootstrap_servers": raw.get("bootstrap.servers") or self.bootstrap_servers
        }
        for key, value in raw.items():
            if key in table:
                name, convert = table[key]
                out[name] = convert(value)
        out.update(self.security({k: v for k, v in raw.items() if _is_security(k)}))
        return out

    # -- clients ----------------------------------------------------------------------------

    def producer(self, config: Mapping[str, str] | None = None, **extra: Any) -> AIOKafkaProducer:
        """A producer; ``config`` is a connector's config (its ``producer.override.*``)."""
        base: dict[str, Any] = {"acks": "all", "linger_ms": 5, "max_batch_size": 256 * 1024}
        return AIOKafkaProducer(**{**base, **self.options("producer", config), **extra})

    def consumer(
        self, *topics: str, config: Mapping[str, str] | None = None, **extra: Any
    ) -> AIOKafkaConsumer:
        """A consumer; ``config`` is a connector's config (its ``consumer.override.*``)."""
        # Kafka's max.poll.records default (Kafka Connect's sink consumers use it): a sink batch
        # is at most this many records, whatever one fetch brought.
        # Kafka Connect's sink consumers start from the earliest offset of a new group.
        base: dict[str, Any] = {"max_poll_records": 500, "auto_offset_reset": "earliest"}
        return AIOKafkaConsumer(*topics, **{**base, **self.options("consumer", config), **extra})

    def admin(self, **extra: Any) -> AIOKafkaAdminClient:
        """An admin client (topic creation)."""
        return AIOKafkaAdminClient(**{**self.options("admin"), **extra})

    def metadata(self, **extra: Any) -> AIOKafkaClient:
        """A bare client for metadata look-ups."""
        return AIOKafkaClient(**{**self.options("admin"), **extra})

    async def check(self, *, timeout: float = 30.0) -> None:
        """Check that the worker can start: :class:`WorkerConfigError` naming the setting if not.

        The web port (``listeners``) must be free: taken, it fails at once (Faust would bind it
        only later, and fail with a traceback). Then a broker must be reachable with the
        worker's settings: a refused credential, mechanism or certificate fails at once, naming
        its setting; unreachable brokers are tried again until ``timeout``. aiokafka's own
        bootstrap reports every such failure as "Unable to bootstrap", so one connection is
        opened by hand here.
        """
        listen = _listen_issue(self.settings.web_bind, self.settings.web_port)
        if listen is not None:
            raise WorkerConfigError([listen])
        options = self.security({k: v for k, v in self._kinds["admin"].items() if _is_security(k)})
        deadline = time.monotonic() + timeout
        while True:
            reasons = []
            for server in self.settings.servers:
                host, _, port = server.rpartition(":")
                try:
                    conn = await asyncio.wait_for(
                        create_conn(host, int(port), request_timeout_ms=10000, **options),
                        timeout=15,
                    )
                except (
                    SaslAuthenticationFailed,
                    UnsupportedSaslMechanismError,
                    ssl.SSLError,
                ) as exc:
                    raise WorkerConfigError([self._refused(server, exc)]) from None
                except KafkaConnectionError as exc:
                    if "closed" in str(exc):  # it took the connection and dropped it at once
                        raise WorkerConfigError([self._mismatch(server)]) from None
                    reasons.append(f"cannot reach {server} ({exc})")
                    continue
                except (TimeoutError, OSError, KafkaError) as exc:
                    reasons.append(f"cannot reach {server} ({exc or 'no answer'})")
                    continue
                conn.close()
                return
            if time.monotonic() > deadline:
                advice = (
                    f"for {timeout:.0f}s: start the broker, or correct bootstrap.servers"
                    " (CONNECT_BOOTSTRAP_SERVERS)"
                )
                raise WorkerConfigError(
                    [ConfigIssue("bootstrap.servers", f"{'; '.join(reasons)} {advice}")]
                )
            await asyncio.sleep(1.0)

    def _refused(self, server: str, exc: BaseException) -> ConfigIssue:
        security = self._worker_security
        if isinstance(exc, SaslAuthenticationFailed):
            detail = str(exc).split(": ", 1)[-1] if str(exc) else "invalid credentials"
            return ConfigIssue("sasl.jaas.config", f"{server} refused these credentials ({detail})")
        if isinstance(exc, UnsupportedSaslMechanismError):
            mechanism = security.get("sasl.mechanism", "GSSAPI")
            return ConfigIssue("sasl.mechanism", f"{server} does not enable {mechanism}")
        key = (
            "ssl.truststore.certificates"
            if security.get("ssl.truststore.certificates")
            else "ssl.truststore.location"
        )
        reason = getattr(exc, "verify_message", "") or getattr(exc, "reason", "") or str(exc)
        return ConfigIssue(key, f"does not verify the certificate of {server} ({reason})")

    def _mismatch(self, server: str) -> ConfigIssue:
        protocol = self.settings.security_protocol
        hint = (
            "a listener of another security protocol, or one that requires a client "
            "certificate (ssl.keystore.location)"
            if "SSL" in protocol
            else "a listener of another security protocol"
        )
        return ConfigIssue(
            "security.protocol", f"{server} closed the connection at once with {protocol}: {hint}"
        )

    async def create_topics(self, topics: Sequence[NewTopic], *, timeout: float = 60.0) -> None:
        """Create those of ``topics`` that do not exist; return once each partition has a leader.

        Kafka answers CreateTopics before every broker's metadata shows the new partitions, and a
        consumer that subscribes in between sees a topic without partitions until its next
        metadata refresh; so this waits for the metadata too.
        """
        if not topics:
            return
        admin = self.admin()
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [t for t in topics if t.name not in existing]
            for topic in missing:  # one by one: a topic made meanwhile must not fail the rest
                try:
                    await admin.create_topics([topic])
                except TopicAlreadyExistsError:
                    pass
        finally:
            await admin.close()
        await self.wait_for_leaders({t.name: t.num_partitions for t in topics}, timeout=timeout)

    async def partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        """Every partition of ``topics``, sorted, from metadata of all topics fetched now (asking
        for one topic could auto-create it; a consumer's own metadata holds only the topics it
        subscribes to). A topic without partitions in the metadata yet has none here."""
        client = self.metadata()
        await client.bootstrap()
        try:
            cluster = await client.fetch_all_metadata()
        finally:
            await client.close()
        return [
            TopicPartition(topic, p)
            for topic in sorted(set(topics))
            for p in sorted(cluster.partitions_for_topic(topic) or ())
        ]

    async def wait_for_leaders(self, topics: Mapping[str, int], *, timeout: float = 60.0) -> None:
        """Return once the metadata shows at least ``n`` partitions with leaders per topic."""
        client = self.metadata()
        await client.bootstrap()
        deadline = time.monotonic() + timeout
        try:
            while True:
                cluster = await client.fetch_all_metadata()
                waiting = sorted(
                    name
                    for name, count in topics.items()
                    if len(parts := cluster.partitions_for_topic(name) or set()) < max(count, 1)
                    or any(
                        (cluster.leader_for_partition(TopicPartition(name, p)) or -1) < 0
                        for p in parts
                    )
                )
                if not waiting:
                    return
                if time.monotonic() > deadline:
                    raise KafkaTimeoutError(
                        f"topics {', '.join(waiting)} have no leaders after {timeout:.0f}s"
                    )
                await asyncio.sleep(0.1)
        finally:
            await client.close()

    def faust_credentials(self) -> Any:
        """The Faust app's ``broker_credentials`` (None for PLAINTEXT)."""
        import faust

        options = self.security()
        context: ssl.SSLContext | None = options.get("ssl_context")
        if "sasl_mechanism" in options:
            return faust.SASLCredentials(
                username=options["sasl_plain_username"],
                password=options["sasl_plain_password"],
                mechanism=options["sasl_mechanism"],
                ssl_context=context,
            )
        if context is not None:
            return faust.SSLCredentials(context)
        return None
