"""Kafka's ``ssl.*`` settings as an SSLContext: real stores (PEM, PKCS12, JKS from keytool) proved
by a TLS handshake with a local server that requires a client certificate signed by the CA."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from faust_connect.app.keystores import _openssl_suite, ssl_context
from faust_connect.exceptions import ConfigIssue, WorkerConfigError
from tests.tls import STORE_PASSWORD, Tls, make_tls, to_jks

KEYTOOL = shutil.which("keytool") or "/usr/bin/keytool"
needs_keytool = pytest.mark.skipif(not Path(KEYTOOL).exists(), reason="the JDK's keytool is absent")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"))


def keytool(*args: str) -> None:
    subprocess.run([KEYTOOL, "-noprompt", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def client_jks(tls: Tls) -> Path:
    return to_jks(tls.client.pkcs12, KEYTOOL)


@pytest.fixture(scope="module")
def trust_jks(tls: Tls) -> Path:
    target = tls.ca.parent / "trust.jks"
    keytool(
        "-importcert", "-alias", "ca", "-file", str(tls.ca), "-keystore", str(target),
        "-storetype", "JKS", "-storepass", STORE_PASSWORD,
    )  # fmt: skip
    return target


class Server:
    """A TLS server on 127.0.0.1 with the broker's certificate; it requires a client certificate
    signed by the CA and answers each connection with the client certificate's common name."""

    def __init__(self, tls: Tls) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(tls.broker.cert, tls.broker.key)
        self.context.load_verify_locations(cafile=tls.ca)
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            with conn:
                conn.settimeout(5)
                try:
                    with self.context.wrap_socket(conn, server_side=True) as secure:
                        peer: Any = secure.getpeercert()
                        names = dict(pair for rdn in peer["subject"] for pair in rdn)
                        secure.sendall(names["commonName"].encode())
                except (ssl.SSLError, OSError):
                    pass  # the client's side tells the test what went wrong

    def handshake(self, context: ssl.SSLContext, host: str = "localhost") -> tuple[str, str, str]:
        """(client name the server saw, TLS version, cipher) for one connection."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=host) as secure:
                seen = secure.recv(100).decode()
                if not seen:
                    raise ConnectionError("the server closed the connection")
                version, cipher = secure.version() or "", secure.cipher()
                return seen, version, cipher[0] if cipher else ""


@pytest.fixture(scope="module")
def server(tls: Tls) -> Iterator[Server]:
    server = Server(tls)
    yield server
    server.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() in the thread
    server.listener.close()
    server.thread.join(5)


def issues(options: Mapping[str, str]) -> list[ConfigIssue]:
    with pytest.raises(WorkerConfigError) as caught:
        ssl_context(options)
    return caught.value.issues


def only_issue(options: Mapping[str, str]) -> ConfigIssue:
    found = issues(options)
    assert len(found) == 1, found
    return found[0]


def pem_trust(tls: Tls) -> dict[str, str]:
    return {"ssl.truststore.type": "PEM", "ssl.truststore.location": str(tls.ca)}


def p12_keystore(tls: Tls) -> dict[str, str]:
    return {
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(tls.client.pkcs12),
        "ssl.keystore.password": STORE_PASSWORD,
    }


# -- handshakes -------------------------------------------------------------------------------


def test_pem_files(tls: Tls, server: Server) -> None:
    options = {
        **pem_trust(tls),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(tls.client.chain),
    }
    context = ssl_context(options)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert server.handshake(context)[0] == "client"


def test_inline_pem_even_folded_onto_one_line(tls: Tls, server: Server) -> None:
    def folded(path: Path) -> str:  # a properties file's "\" continuation lines lose the breaks
        return " ".join(path.read_text().splitlines())

    for fold in (Path.read_text, folded):
        options = {
            "ssl.truststore.type": "PEM",
            "ssl.truststore.certificates": fold(tls.ca),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.certificate.chain": fold(tls.client.cert) + fold(tls.ca),
            "ssl.keystore.key": fold(tls.client.key),
        }
        assert server.handshake(ssl_context(options))[0] == "client"


def test_inline_pem_without_a_type(tls: Tls, server: Server) -> None:
    options = {
        "ssl.truststore.certificates": tls.ca.read_text(),
        "ssl.keystore.certificate.chain": tls.client.cert.read_text(),
        "ssl.keystore.key": tls.client.key.read_text(),
    }
    assert server.handshake(ssl_context(options))[0] == "client"


def test_pkcs12(tls: Tls, server: Server) -> None:
    options = {
        "ssl.truststore.type": "PKCS12",
        "ssl.truststore.location": str(tls.ca_pkcs12),
        "ssl.truststore.password": STORE_PASSWORD,
        **p12_keystore(tls),
    }
    assert server.handshake(ssl_context(options))[0] == "client"


@needs_keytool
def test_jks(tls: Tls, server: Server, client_jks: Path, trust_jks: Path) -> None:
    assert client_jks.read_bytes()[:4] == trust_jks.read_bytes()[:4] == b"\xfe\xed\xfe\xed"
    options = {
        "ssl.truststore.type": "JKS",
        "ssl.truststore.location": str(trust_jks),
        "ssl.truststore.password": STORE_PASSWORD,
        "ssl.keystore.type": "JKS",
        "ssl.keystore.location": str(client_jks),
        "ssl.keystore.password": STORE_PASSWORD,
        "ssl.key.password": STORE_PASSWORD,
    }
    assert server.handshake(ssl_context(options))[0] == "client"


@needs_keytool
def test_jks_truststore_without_a_password_is_read_unchecked(
    tls: Tls, server: Server, trust_jks: Path
) -> None:
    options = {"ssl.truststore.location": str(trust_jks), **p12_keystore(tls)}
    assert server.handshake(ssl_context(options))[0] == "client"


@needs_keytool
def test_default_type_jks_opens_pkcs12_and_jks_either(
    tls: Tls, server: Server, client_jks: Path
) -> None:
    # As Java 9+: the type JKS (Kafka's default) opens a PKCS12 file, PKCS12 opens a JKS file.
    options = {
        "ssl.truststore.location": str(tls.ca_pkcs12),
        "ssl.truststore.password": STORE_PASSWORD,
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(client_jks),
        "ssl.keystore.password": STORE_PASSWORD,
    }
    assert server.handshake(ssl_context(options))[0] == "client"


def test_encrypted_pem_key(tls: Tls, server: Server, tmp_path: Path) -> None:
    key = serialization.load_pem_private_key(tls.client.key.read_bytes(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"key-secret"),
    )
    store = tmp_path / "client-encrypted.pem"
    store.write_bytes(encrypted + tls.client.cert.read_bytes())
    options = {**pem_trust(tls), "ssl.keystore.type": "PEM", "ssl.keystore.location": str(store)}
    assert server.handshake(ssl_context({**options, "ssl.key.password": "key-secret"}))[0] == (
        "client"
    )
    issue = only_issue(options)
    assert issue.key == "ssl.key.password" and "encrypted" in issue.message
    assert str(store) in issue.message
    issue = only_issue({**options, "ssl.key.password": "wrong"})
    assert issue.key == "ssl.key.password" and "wrong password" in issue.message
    inline = {
        **pem_trust(tls),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.certificate.chain": tls.client.cert.read_text(),
        "ssl.keystore.key": encrypted.decode(),
    }
    assert only_issue(inline).key == "ssl.key.password"
    assert server.handshake(ssl_context({**inline, "ssl.key.password": "key-secret"}))[0] == (
        "client"
    )


def test_system_cas_without_a_truststore(tls: Tls, server: Server) -> None:
    context = ssl_context(p12_keystore(tls))
    assert context.get_ca_certs() == ssl.create_default_context().get_ca_certs()
    with pytest.raises(ssl.SSLCertVerificationError):
        server.handshake(context)


def test_without_a_keystore_the_server_refuses(tls: Tls, server: Server) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        server.handshake(ssl_context(pem_trust(tls)))


def test_stranger_ca_fails_the_handshake(tls: Tls, server: Server) -> None:
    options = {
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(tls.stranger_ca),
        **p12_keystore(tls),
    }
    with pytest.raises(ssl.SSLCertVerificationError):
        server.handshake(ssl_context(options))


def test_endpoint_identification(tls: Tls, server: Server) -> None:
    options = {**pem_trust(tls), **p12_keystore(tls)}
    with pytest.raises(ssl.SSLCertVerificationError, match=r"[Hh]ostname"):
        server.handshake(ssl_context(options), host="kafka.example.com")
    off = ssl_context({**options, "ssl.endpoint.identification.algorithm": ""})
    assert not off.check_hostname and off.verify_mode == ssl.CERT_REQUIRED
    assert server.handshake(off, host="kafka.example.com")[0] == "client"
    issue = only_issue({**options, "ssl.endpoint.identification.algorithm": "ldaps"})
    assert issue.key == "ssl.endpoint.identification.algorithm"


def test_protocols(tls: Tls, server: Server) -> None:
    options = {**pem_trust(tls), **p12_keystore(tls)}
    assert server.handshake(ssl_context(options))[1] == "TLSv1.3"
    context = ssl_context({**options, "ssl.protocol": "TLSv1.2"})
    assert context.maximum_version == ssl.TLSVersion.TLSv1_2
    assert server.handshake(context)[1] == "TLSv1.2"
    context = ssl_context({**options, "ssl.enabled.protocols": "TLSv1.3"})
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
    issue = only_issue({**options, "ssl.enabled.protocols": "TLSv1.2,TLSv1.1"})
    assert issue.key == "ssl.enabled.protocols" and "TLSv1.1" in issue.message
    assert only_issue({**options, "ssl.protocol": "SSLv3"}).key == "ssl.protocol"
    clash = {**options, "ssl.protocol": "TLSv1.2", "ssl.enabled.protocols": "TLSv1.3"}
    assert only_issue(clash).key == "ssl.protocol"


def test_cipher_suites(tls: Tls, server: Server) -> None:
    options = {**pem_trust(tls), **p12_keystore(tls), "ssl.protocol": "TLSv1.2"}
    chosen = {**options, "ssl.cipher.suites": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}
    assert server.handshake(ssl_context(chosen))[2] == "ECDHE-ECDSA-AES256-GCM-SHA384"
    issue = only_issue({**options, "ssl.cipher.suites": "TLS_ECDHE_RSA_WITH_NOTHING, BOGUS"})
    assert issue.key == "ssl.cipher.suites" and "BOGUS" in issue.message
    tls13 = ssl_context({**pem_trust(tls), "ssl.cipher.suites": "TLS_AES_128_GCM_SHA256"})
    assert tls13.minimum_version == ssl.TLSVersion.TLSv1_3
    assert only_issue({**options, "ssl.cipher.suites": "TLS_AES_128_GCM_SHA256"}).key == (
        "ssl.protocol"
    )


@pytest.mark.parametrize(
    ("java", "openssl"),
    [
        ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"),
        ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"),
        ("TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", "DHE-RSA-AES256-SHA256"),
        ("TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"),
        ("TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", "ECDHE-ECDSA-AES128-CCM8"),
        ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256"),
    ],
)
def test_suite_names(java: str, openssl: str) -> None:
    assert _openssl_suite(java) == openssl


def test_key_file_is_private_and_removed(
    tls: Tls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: list[tuple[int, bytes]] = []
    original = ssl.SSLContext.load_cert_chain

    def spy(self: ssl.SSLContext, certfile: str, *args: Any, **kwargs: Any) -> None:
        seen.append((stat.S_IMODE(os.stat(certfile).st_mode), Path(certfile).read_bytes()))
        original(self, certfile, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    ssl_context({**pem_trust(tls), **p12_keystore(tls)})
    [(mode, text)] = seen
    assert mode == 0o600
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in text  # the key never lies on disk in the clear
    assert list(tmp_path.iterdir()) == []


# -- bad settings ----------------------------------------------------------------------------


def test_wrong_pkcs12_passwords(tls: Tls) -> None:
    issue = only_issue({**p12_keystore(tls), "ssl.keystore.password": "nope"})
    assert issue.key == "ssl.keystore.password"
    assert "wrong password" in issue.message and str(tls.client.pkcs12) in issue.message
    trust = {"ssl.truststore.location": str(tls.ca_pkcs12), "ssl.truststore.password": "nope"}
    issue = only_issue(trust)
    assert issue.key == "ssl.truststore.password" and str(tls.ca_pkcs12) in issue.message


@needs_keytool
def test_wrong_jks_passwords(tls: Tls, client_jks: Path, trust_jks: Path) -> None:
    keystore = {"ssl.keystore.location": str(client_jks), "ssl.keystore.password": "nope"}
    issue = only_issue(keystore)
    assert issue.key == "ssl.keystore.password"
    assert "wrong password" in issue.message and str(client_jks) in issue.message
    trust = {"ssl.truststore.location": str(trust_jks), "ssl.truststore.password": "nope"}
    issue = only_issue(trust)
    assert issue.key == "ssl.truststore.password" and str(trust_jks) in issue.message
    wrong_key = {**keystore, "ssl.keystore.password": STORE_PASSWORD, "ssl.key.password": "nope"}
    issue = only_issue(wrong_key)
    assert issue.key == "ssl.key.password" and "'client'" in issue.message


@needs_keytool
def test_jks_key_password_apart_from_the_store_password(
    tls: Tls, server: Server, tmp_path: Path
) -> None:
    target = tmp_path / "client-keypass.jks"
    keytool(
        "-importkeystore", "-srckeystore", str(tls.client.pkcs12), "-srcstoretype", "PKCS12",
        "-srcstorepass", STORE_PASSWORD, "-srcalias", "client", "-destkeystore", str(target),
        "-deststoretype", "JKS", "-deststorepass", STORE_PASSWORD, "-destkeypass", "key-secret",
    )  # fmt: skip
    options = {
        **pem_trust(tls),
        "ssl.keystore.location": str(target),
        "ssl.keystore.password": STORE_PASSWORD,
    }
    assert server.handshake(ssl_context({**options, "ssl.key.password": "key-secret"}))[0] == (
        "client"
    )
    issue = only_issue(options)  # the store's password does not open the key
    assert issue.key == "ssl.keystore.password" and "ssl.key.password" in issue.message


@needs_keytool
def test_damaged_jks(tmp_path: Path, client_jks: Path) -> None:
    data = client_jks.read_bytes()
    damaged = tmp_path / "damaged.jks"
    damaged.write_bytes(data[: len(data) // 2])
    options = {"ssl.keystore.location": str(damaged), "ssl.keystore.password": STORE_PASSWORD}
    issue = only_issue(options)
    assert issue.key == "ssl.keystore.location" and "damaged" in issue.message
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(flipped))
    assert only_issue(options).key == "ssl.keystore.password"  # the store's digest fails


@needs_keytool
def test_jceks_refused(tls: Tls, tmp_path: Path) -> None:
    target = tmp_path / "client.jceks"
    keytool(
        "-importkeystore", "-srckeystore", str(tls.client.pkcs12), "-srcstoretype", "PKCS12",
        "-srcstorepass", STORE_PASSWORD, "-destkeystore", str(target), "-deststoretype", "JCEKS",
        "-deststorepass", STORE_PASSWORD,
    )  # fmt: skip
    assert target.read_bytes()[:4] == b"\xce\xce\xce\xce"
    options = {"ssl.keystore.location": str(target), "ssl.keystore.password": STORE_PASSWORD}
    issue = only_issue(options)
    assert issue.key == "ssl.keystore.location" and "JCEKS" in issue.message


def test_missing_and_unreadable_files(tls: Tls, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.jks"
    issue = only_issue({"ssl.truststore.location": str(missing)})
    assert issue.key == "ssl.truststore.location" and str(missing) in issue.message
    issue = only_issue({"ssl.keystore.location": str(missing), "ssl.keystore.password": "x"})
    assert issue.key == "ssl.keystore.location" and "No such file" in issue.message
    issue = only_issue({"ssl.truststore.location": str(tmp_path)})
    assert issue.key == "ssl.truststore.location" and "Is a directory" in issue.message
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.p12"
        locked.write_bytes(tls.ca_pkcs12.read_bytes())
        locked.chmod(0)
        issue = only_issue({"ssl.truststore.location": str(locked)})
        assert issue.key == "ssl.truststore.location" and "Permission denied" in issue.message


def test_stores_without_what_they_need(tls: Tls, tmp_path: Path) -> None:
    # a truststore used as keystore: certificates, no private key
    issue = only_issue(
        {
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(tls.ca_pkcs12),
            "ssl.keystore.password": STORE_PASSWORD,
        }
    )
    assert issue.key == "ssl.keystore.location" and "no private key" in issue.message
    issue = only_issue({"ssl.keystore.type": "PEM", "ssl.keystore.location": str(tls.client.cert)})
    assert issue.key == "ssl.keystore.location" and "no private key" in issue.message
    # a PEM truststore with no certificate in it
    issue = only_issue(
        {"ssl.truststore.type": "PEM", "ssl.truststore.location": str(tls.client.key)}
    )
    assert issue.key == "ssl.truststore.location" and "no certificates" in issue.message
    # a key with somebody else's certificate
    other = tmp_path / "mismatch.pem"
    other.write_bytes(tls.client.key.read_bytes() + tls.broker.cert.read_bytes())
    issue = only_issue({"ssl.keystore.type": "PEM", "ssl.keystore.location": str(other)})
    assert issue.key == "ssl.keystore.location" and "matches" in issue.message
    # a keystore password is needed for JKS and PKCS12
    issue = only_issue({"ssl.keystore.location": str(tls.client.pkcs12)})
    assert issue.key == "ssl.keystore.password"


def test_wrong_and_unknown_types(tls: Tls, tmp_path: Path) -> None:
    issue = only_issue({"ssl.truststore.type": "BKS", "ssl.truststore.location": str(tls.ca)})
    assert issue.key == "ssl.truststore.type" and "BKS" in issue.message
    issue = only_issue({"ssl.truststore.location": str(tls.ca)})  # default JKS, PEM file
    assert issue.key == "ssl.truststore.type" and "PEM" in issue.message
    issue = only_issue(
        {"ssl.truststore.type": "PEM", "ssl.truststore.location": str(tls.ca_pkcs12)}
    )
    assert issue.key == "ssl.truststore.location" and "PKCS12" in issue.message
    garbage = tmp_path / "garbage.jks"
    garbage.write_bytes(b"not a store at all")
    issue = only_issue({"ssl.truststore.location": str(garbage)})
    assert issue.key == "ssl.truststore.location" and "not a JKS store" in issue.message
    inline = {"ssl.truststore.type": "JKS", "ssl.truststore.certificates": tls.ca.read_text()}
    assert only_issue(inline).key == "ssl.truststore.type"
    both = {**pem_trust(tls), "ssl.truststore.certificates": tls.ca.read_text()}
    assert only_issue(both).key == "ssl.truststore.certificates"
    half = {"ssl.keystore.key": tls.client.key.read_text()}
    assert only_issue(half).key == "ssl.keystore.certificate.chain"
    bad_pem = {
        "ssl.truststore.certificates": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
    }
    assert only_issue(bad_pem).key == "ssl.truststore.certificates"


def test_every_bad_setting_is_reported_at_once(tls: Tls, tmp_path: Path) -> None:
    found = issues(
        {
            "ssl.truststore.location": str(tmp_path / "missing.jks"),
            "ssl.keystore.location": str(tls.client.pkcs12),
            "ssl.keystore.password": "nope",
            "ssl.enabled.protocols": "TLSv1",
            "ssl.endpoint.identification.algorithm": "nope",
        }
    )
    assert [issue.key for issue in found] == [
        "ssl.truststore.location",
        "ssl.keystore.password",
        "ssl.enabled.protocols",
        "ssl.endpoint.identification.algorithm",
    ]
    message = str(WorkerConfigError(found))
    assert "Traceback" not in message and "4 error(s)" in message
