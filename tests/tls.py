"""Certificates made at test time: a CA, the broker's certificate and a client's, in PEM and PKCS12.

The broker reads PEM stores (``ssl.keystore.type=PEM``); the client files come in every form a
Kafka Connect user may hold them in: PEM files, PKCS12 and (through the JDK's ``keytool``) JKS.
"""

from __future__ import annotations

import datetime
import subprocess
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The password of every PKCS12 and JKS store made here.
STORE_PASSWORD = "store-secret"


@dataclass(frozen=True)
class Identity:
    """One certificate and its key, as files."""

    cert: Path  #: the certificate (PEM)
    key: Path  #: its private key (PKCS8 PEM, unencrypted)
    chain: Path  #: key + certificate + CA in one PEM file (Kafka's PEM keystore)
    pkcs12: Path  #: key + certificate + CA as PKCS12, password STORE_PASSWORD


@dataclass(frozen=True)
class Tls:
    """The CA and the identities signed by it."""

    ca: Path  #: the CA certificate (PEM): the truststore
    ca_pkcs12: Path  #: the CA as a PKCS12 truststore
    broker: Identity
    client: Identity
    #: A CA nobody signed the broker with: a truststore that must not verify it.
    stranger_ca: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_pem(path: Path, *parts: bytes) -> Path:
    path.write_bytes(b"".join(parts))
    return path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    usage: list[x509.ObjectIdentifier] | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            False,
        ).add_extension(x509.ExtendedKeyUsage(usage or []), False)
    return builder.sign(issuer_key, hashes.SHA256())


def _identity(
    folder: Path,
    name: str,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    usage: list[x509.ObjectIdentifier],
) -> Identity:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(name, key, (ca[0].subject, ca[1]), usage=usage)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    ca_pem = ca[0].public_bytes(serialization.Encoding.PEM)
    p12 = pkcs12.serialize_key_and_certificates(
        name.encode(),
        key,
        cert,
        [ca[0]],
        serialization.BestAvailableEncryption(STORE_PASSWORD.encode()),
    )
    return Identity(
        cert=_write_pem(folder / f"{name}.crt", cert_pem),
        key=_write_pem(folder / f"{name}.key", _key_pem(key)),
        chain=_write_pem(folder / f"{name}-chain.pem", _key_pem(key), cert_pem, ca_pem),
        pkcs12=_write_pem(folder / f"{name}.p12", p12),
    )


def make_tls(folder: Path) -> Tls:
    """A fresh CA with a broker and a client certificate, written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("faust-connect test CA", ca_key, None)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    stranger = _certificate("a CA nobody uses", stranger_key, None)
    ca_p12 = pkcs12.serialize_java_truststore(
        [pkcs12.PKCS12Certificate(ca_cert, b"ca")],
        serialization.BestAvailableEncryption(STORE_PASSWORD.encode()),
    )
    return Tls(
        ca=_write_pem(folder / "ca.crt", ca_pem),
        ca_pkcs12=_write_pem(folder / "ca.p12", ca_p12),
        broker=_identity(folder, "broker", (ca_cert, ca_key), [ExtendedKeyUsageOID.SERVER_AUTH]),
        client=_identity(folder, "client", (ca_cert, ca_key), [ExtendedKeyUsageOID.CLIENT_AUTH]),
        stranger_ca=_write_pem(
            folder / "stranger-ca.crt", stranger.public_bytes(serialization.Encoding.PEM)
        ),
    )


def to_jks(pkcs12_store: Path, keytool: str = "keytool") -> Path:
    """The same store as JKS (the JDK's ``keytool``), password STORE_PASSWORD."""
    target = pkcs12_store.with_suffix(".jks")
    target.unlink(missing_ok=True)
    subprocess.run(
        [
            keytool,
            "-importkeystore",
            "-noprompt",
            "-srckeystore",
            str(pkcs12_store),
            "-srcstoretype",
            "PKCS12",
            "-srcstorepass",
            STORE_PASSWORD,
            "-destkeystore",
            str(target),
            "-deststoretype",
            "JKS",
            "-deststorepass",
            STORE_PASSWORD,
        ],
        check=True,
        capture_output=True,
    )
    return target
