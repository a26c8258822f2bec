"""Client options from worker settings: translation, layering, override policy, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from faust_connect.app.clients import Clients, parse_jaas
from faust_connect.app.settings import load_settings
from faust_connect.exceptions import WorkerConfigError
from tests.tls import make_tls

PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"


def _clients(**settings: str) -> Clients:
    return Clients(load_settings({"group.id": "g", **settings}, environ={}))


def test_jaas_lines_as_users_write_them() -> None:
    module, options = parse_jaas(f'{SCRAM} required username="alice" password="a \\"b\\" c";')
    assert module == SCRAM and options == {"username": "alice", "password": 'a "b" c'}
    assert parse_jaas(f"{PLAIN} required username=bob password=x;")[1] == {
        "username": "bob",
        "password": "x",
    }
    for bad in ("", "username=a password=b", f'{PLAIN} username="a";', f'{PLAIN} required a="b"'):
        with pytest.raises(ValueError, match="is not a JAAS line"):
            parse_jaas(bad)


def test_java_client_keys_become_aiokafka_options_and_layer() -> None:
    clients = _clients(
        **{
            "producer.linger.ms": "20",
            "producer.compression.type": "zstd",
            "producer.batch.size": "65536",
            "producer.buffer.memory": "33554432",  # a Java-only key: accepted, not passed on
            "consumer.max.poll.records": "100",
            "consumer.isolation.level": "read_committed",
        }
    )
    producer = clients.options("producer")
    assert producer["linger_ms"] == 20 and producer["compression_type"] == "zstd"
    assert producer["max_batch_size"] == 65536 and "buffer_memory" not in producer
    assert producer["security_protocol"] == "PLAINTEXT"
    consumer = clients.options("consumer", {"consumer.override.max.poll.records": "7"})
    assert consumer["max_poll_records"] == 7 and consumer["isolation_level"] == "read_committed"
    assert clients.options("producer", {"producer.override.acks": "1"})["acks"] == 1


def test_sasl_settings_reach_every_kind_and_a_prefix_overrides_them() -> None:
    jaas = f'{SCRAM} required username="connect" password="secret";'
    clients = _clients(
        **{
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.jaas.config": jaas,
            "consumer.sasl.jaas.config": jaas.replace("connect", "reader"),
        }
    )
    for kind in ("producer", "admin"):
        options = clients.options(kind)  # type: ignore[arg-type]
        assert options["sasl_mechanism"] == "SCRAM-SHA-512"
        assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
            "connect",
            "secret",
        )
    assert clients.options("consumer")["sasl_plain_username"] == "reader"
    credentials = clients.faust_credentials()
    assert credentials.username == "connect" and credentials.mechanism.value == "SCRAM-SHA-512"


def test_ssl_settings_make_one_context_per_distinct_store(tmp_path: Path) -> None:
    tls = make_tls(tmp_path)
    clients = _clients(
        **{
            "security.protocol": "SSL",
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(tls.ca),
        }
    )
    producer, consumer = clients.options("producer"), clients.options("consumer")
    assert producer["security_protocol"] == "SSL"
    assert producer["ssl_context"] is consumer["ssl_context"]
    assert clients.faust_credentials().context is producer["ssl_context"]


@pytest.mark.parametrize(
    ("settings", "key", "says"),
    [
        ({"producer.linger.ms": "soon"}, "producer.linger.ms", "invalid literal"),
        ({"producer.acks": "2"}, "producer.acks", "must be all, -1, 0 or 1"),
        ({"consumer.isolation.level": "dirty"}, "consumer.isolation.level", "must be one of"),
        ({"security.protocol": "SASL_SSL"}, "sasl.mechanism", "GSSAPI is Kafka's default"),
        (
            {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"},
            "sasl.jaas.config",
            "required with sasl.mechanism PLAIN",
        ),
        (
            {
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "PLAIN",
                "sasl.jaas.config": f'{SCRAM} required username="a" password="b";',
            },
            "sasl.jaas.config",
            f"PLAIN needs {PLAIN}",
        ),
        (
            {
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "PLAIN",
                "sasl.jaas.config": f'{PLAIN} required username="a";',
            },
            "sasl.jaas.config",
            "has no password",
        ),
        (
            {"security.protocol": "SSL", "ssl.truststore.location": "/no/such/file.jks"},
            "ssl.truststore.location",
            "/no/such/file.jks",
        ),
        (
            {"producer.security.protocol": "SASL_SSL", "producer.sasl.mechanism": "OAUTHBEARER"},
            "producer.sasl.mechanism",
            "not supported",
        ),
    ],
)
def test_bad_client_settings_name_their_key(settings: dict[str, str], key: str, says: str) -> None:
    with pytest.raises(WorkerConfigError) as caught:
        _clients(**settings)
    issues = {i.key: i.message for i in caught.value.issues}
    assert key in issues and says in issues[key], issues


def test_security_keys_are_checked_for_typos() -> None:
    with pytest.raises(WorkerConfigError) as caught:
        _clients(**{"ssl.truststore.locaton": "/x"})
    assert caught.value.issues[0].message == (
        "unknown key (did you mean 'ssl.truststore.location'?)"
    )
    _clients(**{"ssl.keymanager.algorithm": "SunX509"})  # Java-only: accepted as it is


@pytest.mark.parametrize(
    ("policy", "key", "refused"),
    [
        ("All", "producer.override.linger.ms", False),
        ("Principal", "producer.override.linger.ms", True),
        ("Principal", "consumer.override.sasl.jaas.config", False),
        ("None", "consumer.override.security.protocol", True),
    ],
)
def test_the_override_policy_decides_which_overrides_a_connector_may_set(
    policy: str, key: str, refused: bool
) -> None:
    clients = _clients(**{"connector.client.config.override.policy": policy})
    value = f'{PLAIN} required username="a" password="b";' if "jaas" in key else "PLAINTEXT"
    value = "5" if key.endswith("linger.ms") else value
    issues = clients.override_issues({key: value})
    assert bool(issues) == refused, issues
    if refused:
        assert issues[0].key == key and f"({policy})" in issues[0].message


def test_a_bad_override_value_is_an_issue_of_that_key() -> None:
    issues = _clients().override_issues({"consumer.override.max.poll.records": "many"})
    assert [i.key for i in issues] == ["consumer.override.max.poll.records"]
