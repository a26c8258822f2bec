"""Kafka's client ``ssl.*`` settings as an :class:`ssl.SSLContext` for aiokafka.

Stores are PEM (files, or inline text in ``ssl.truststore.certificates``,
``ssl.keystore.certificate.chain`` and ``ssl.keystore.key``), PKCS12 (read by ``cryptography``) or
JKS (Sun's format, read here: no JVM); as in Java 9 and later, the types JKS and PKCS12 each open
either kind of file. Certificates are always verified: an empty
``ssl.endpoint.identification.algorithm`` turns off only the host name check. Python's :mod:`ssl`
cannot choose TLS 1.3 suites, so ``ssl.cipher.suites`` restricts the TLS 1.2 ones (TLS 1.3 suites
only: TLS 1.3 only).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

from faust_connect.exceptions import ConfigIssue, WorkerConfigError

__all__ = ["STORE_TYPES", "ssl_context"]

#: The values of ``ssl.truststore.type`` and ``ssl.keystore.type``.
STORE_TYPES = ("JKS", "PKCS12", "PEM")
_MAGIC = {b"\xfe\xed\xfe\xed": "JKS", b"\xce\xce\xce\xce": "JCEKS"}
_SUN_KEY_PROTECTOR = bytes.fromhex("2b060104012a02110101")  # DER of OID 1.3.6.1.4.1.42.2.17.1.1
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_VERSIONS = {"tlsv1.2": ssl.TLSVersion.TLSv1_2, "tlsv1.3": ssl.TLSVersion.TLSv1_3}
_TLS13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_AES_128_CCM_SHA256"}
_TLS13_SUITES |= {"TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_8_SHA256"}
_PEM, _DER = serialization.Encoding.PEM, serialization.Encoding.DER
_SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
#: A store's private key (keystores only) and certificates (a chain, or the trusted ones).
_Store = tuple[PrivateKeyTypes | None, list[x509.Certificate]]


def ssl_context(options: Mapping[str, str]) -> ssl.SSLContext:
    """The client context for Kafka's ``ssl.*`` settings (keys without a client prefix).

    Raises :class:`WorkerConfigError` with one issue per bad setting, each naming its key.
    """
    # Values are trimmed, as Kafka's ConfigDef does; a blank value is an unset one.
    opts = {k: str(v).strip() for k, v in options.items() if str(v).strip()}
    algorithm = str(options.get("ssl.endpoint.identification.algorithm", "https")).strip()
    issues: list[ConfigIssue] = []
    try:
        context = _truststore(opts)
    except WorkerConfigError as exc:
        issues, context = exc.issues, ssl.create_default_context()
    for step in (_keystore, _protocols):
        try:
            step(opts, context)
        except WorkerConfigError as exc:
            issues += exc.issues
    if algorithm.lower() not in ("https", ""):
        message = f"{algorithm!r}: must be https (check the host name) or empty (do not)"
        issues.append(ConfigIssue("ssl.endpoint.identification.algorithm", message))
    if issues:
        raise WorkerConfigError(issues)
    context.check_hostname = algorithm != ""  # the certificates are verified either way
    return context


def _fail(key: str, message: str) -> NoReturn:
    raise WorkerConfigError([ConfigIssue(key, message)])


def _store_type(opts: Mapping[str, str], kind: str, inline: bool) -> str:
    key = f"ssl.{kind}.type"
    value = opts.get(key, "PEM" if inline else "JKS").upper()
    if value not in STORE_TYPES:
        _fail(key, f"{opts[key]!r}: must be one of {', '.join(STORE_TYPES)}")
    if inline and value != "PEM":
        _fail(key, f"inline PEM certificates or keys need ssl.{kind}.type=PEM, not {value}")
    return value


def _truststore(opts: Mapping[str, str]) -> ssl.SSLContext:
    """A context trusting the truststore's certificates, or the system's CAs without one."""
    location, inline = opts.get("ssl.truststore.location"), opts.get("ssl.truststore.certificates")
    store_type = _store_type(opts, "truststore", inline is not None)
    if inline is not None:
        if location is not None:
            _fail("ssl.truststore.certificates", "set it or ssl.truststore.location, not both")
        field, where = "ssl.truststore.certificates", "the inline text"
        certs = _pem(inline.encode(), where, field, None)[1]
    elif location is not None:
        field, where = "ssl.truststore.location", location
        certs = _open(opts, "truststore", store_type)[1]
    else:
        return ssl.create_default_context()
    if not certs:
        _fail(field, f"{where} holds no certificates")
    cadata = "".join(cert.public_bytes(_PEM).decode() for cert in certs)
    try:
        return ssl.create_default_context(cadata=cadata)
    except ssl.SSLError as exc:
        _fail(field, f"OpenSSL refused the certificates in {where}: {exc}")


def _keystore(opts: Mapping[str, str], context: ssl.SSLContext) -> None:
    """Load the client's key and certificate chain into ``context``, if a keystore is set."""
    location, key_password = opts.get("ssl.keystore.location"), opts.get("ssl.key.password")
    chain_pem, key_pem = opts.get("ssl.keystore.certificate.chain"), opts.get("ssl.keystore.key")
    store_type = _store_type(opts, "keystore", chain_pem is not None or key_pem is not None)
    if chain_pem is not None or key_pem is not None:
        if location is not None:
            _fail("ssl.keystore.location", "set it or ssl.keystore.key, not both")
        if chain_pem is None or key_pem is None:
            missing = "ssl.keystore.key" if key_pem is None else "ssl.keystore.certificate.chain"
            _fail(missing, "ssl.keystore.key and ssl.keystore.certificate.chain go together")
        field, where = "ssl.keystore.certificate.chain", "the inline text"
        key_field = "ssl.keystore.key"
        certs = _pem(chain_pem.encode(), where, field, None)[1]
        key = _pem(key_pem.encode(), where, key_field, key_password or "")[0]
    elif location is not None:
        field = key_field = "ssl.keystore.location"
        where = location
        if store_type != "PEM" and "ssl.keystore.password" not in opts:
            _fail("ssl.keystore.password", f"needed to open {location}")
        key, certs = _open(opts, "keystore", store_type)
    else:
        return
    if key is None:
        _fail(key_field, f"{where} holds no private key (is it a truststore?)")
    spki = [cert.public_key().public_bytes(_DER, _SPKI) for cert in certs]
    if (mine := key.public_key().public_bytes(_DER, _SPKI)) not in spki:
        _fail(field, f"no certificate in {where} matches the private key")
    leaf = certs[spki.index(mine)]
    # load_cert_chain reads only files: a private one (mkstemp: 0600) removed once read, the key
    # in it encrypted with a one-time password.
    secret = secrets.token_urlsafe(32).encode()
    text = b"".join(c.public_bytes(_PEM) for c in [leaf, *(c for c in certs if c is not leaf)])
    encryption = serialization.BestAvailableEncryption(secret)
    text += key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, encryption)
    fd, name = tempfile.mkstemp(prefix="faust-connect-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(text)
        context.load_cert_chain(name, password=secret)
    except ssl.SSLError as exc:
        _fail(key_field, f"OpenSSL refused the key or chain from {where}: {exc}")
    finally:
        os.unlink(name)


def _open(opts: Mapping[str, str], kind: str, store_type: str) -> _Store:
    """A store file: PEM as told; JKS or PKCS12 whichever the file is (as Java 9's compat)."""
    key, path = f"ssl.{kind}.location", Path(opts[f"ssl.{kind}.location"]).expanduser()
    password = opts.get(f"ssl.{kind}.password")
    key_password = opts.get("ssl.key.password") if kind == "keystore" else None
    try:
        data = path.read_bytes()
    except OSError as exc:  # "No such file or directory", "Is a directory", "Permission denied"
        _fail(key, f"cannot read {path}: {exc.strerror or exc}")
    skip = data[1] & 0x7F if len(data) > 1 and data[1] & 0x80 else 0  # a long-form DER length
    found = _MAGIC.get(data[:4]) or ("PEM" if _PEM_BLOCK.search(data) else None)
    if not found and data[:1] == b"\x30" and data[2 + skip : 5 + skip] == b"\x02\x01\x03":
        found = "PKCS12"  # a DER SEQUENCE starting with INTEGER 3: PKCS12's PFX
    if found == "JCEKS":
        _fail(key, f"{path} is a JCEKS store, which is not supported: convert it to PKCS12")
    if found == "PEM" and store_type == "PEM":
        return _pem(data, str(path), key, (key_password or "") if kind == "keystore" else None)
    if found == "PEM":
        _fail(f"ssl.{kind}.type", f"{path} is PEM text: set ssl.{kind}.type=PEM")
    if found == "JKS" and store_type != "PEM":
        return _jks(kind, data, str(path), password, key_password)
    if found == "PKCS12" and store_type != "PEM":
        return _pkcs12(kind, data, str(path), password)
    hint = f"it looks like {found}: set ssl.{kind}.type={found}" if found else "unknown format"
    _fail(key, f"{path} is not a {store_type} store ({hint})")


def _pem(data: bytes, where: str, field: str, key_password: str | None) -> _Store:
    """The certificates and (unless ``key_password`` is None) the first private key in PEM text.

    Whitespace may break the base64 anywhere, as in Kafka's parser: a properties file's folded
    lines lose their line breaks.
    """
    certs: list[x509.Certificate] = []
    keys: list[tuple[bool, bytes]] = []  # encrypted?, block
    for match in _PEM_BLOCK.finditer(data):
        label, body = match.groups()
        if b":" not in body:  # no RFC 1421 headers: fold the base64 again
            b64 = b"".join(body.split())
            body = b"\n" + b"\n".join(b64[i : i + 64] for i in range(0, len(b64), 64)) + b"\n"
        block = b"-----BEGIN %s-----%s-----END %s-----\n" % (label, body, label)
        if label == b"CERTIFICATE":
            try:
                certs.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                _fail(field, f"certificate {len(certs) + 1} in {where} is not valid")
        elif label.endswith(b"PRIVATE KEY"):
            keys.append((b"ENCRYPTED" in label or b"ENCRYPTED" in body, block))
    if key_password is None or not keys:
        return None, certs
    encrypted, block = keys[0]
    if encrypted and not key_password:
        _fail("ssl.key.password", f"the private key in {where} is encrypted: set ssl.key.password")
    password = key_password.encode() if encrypted else None
    try:
        return serialization.load_pem_private_key(block, password), certs
    except UnsupportedAlgorithm:
        _fail(field, f"the private key in {where} is protected by an unsupported algorithm")
    except (ValueError, TypeError):
        if encrypted:
            _fail("ssl.key.password", f"wrong password for the private key in {where}")
        _fail(field, f"the private key in {where} is not valid")


def _pkcs12(kind: str, data: bytes, where: str, password: str | None) -> _Store:
    key = f"ssl.{kind}.password"
    try:
        store = pkcs12.load_pkcs12(data, password.encode() if password else None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        if password is None:
            _fail(key, f"{where} is protected: set {key}")
        _fail(key, f"wrong password for {where} (or the PKCS12 store is damaged)")
    # A Java truststore holds certificate entries only: cryptography lists them as additional_certs.
    entries = ([store.cert] if store.cert else []) + list(store.additional_certs)
    return store.key, [entry.certificate for entry in entries]


def _jks(
    kind: str, data: bytes, where: str, password: str | None, key_password: str | None
) -> _Store:
    """A JKS store: a keystore's first private key entry, or a truststore's certificates.

    Big-endian fields, as Java's DataOutputStream writes them: magic, version, count, entries
    (tag 1: alias, time, protected key, chain; tag 2: alias, time, certificate), then the SHA-1
    of password (UTF-16BE) + "Mighty Aphrodite" + all of the above.
    """
    pos, keys, trusted = 12, list[tuple[str, bytes, list[bytes]]](), list[bytes]()

    def take(size: int) -> bytes:
        nonlocal pos
        if (pos := pos + size) > len(data):
            raise ValueError("it ends early")
        return data[pos - size : pos]

    def number(size: int) -> int:
        return int.from_bytes(take(size), "big")

    def cert() -> bytes:  # a version 1 store does not name the certificate type
        if version == 2 and (cert_type := take(number(2)).decode(errors="replace")) != "X.509":
            raise ValueError(f"it holds a {cert_type} certificate")
        return take(number(4))

    version, count = int.from_bytes(data[4:8], "big"), int.from_bytes(data[8:12], "big")
    try:
        if version not in (1, 2):
            raise ValueError(f"its version is {version}")
        for _ in range(count):
            tag, alias, _time = number(4), take(number(2)).decode(errors="replace"), take(8)
            if tag == 1:
                protected = take(number(4))
                keys.append((alias, protected, [cert() for _ in range(number(4))]))
            elif tag == 2:
                trusted.append(cert())
            else:
                raise ValueError(f"entry {alias!r} has the unknown tag {tag}")
        if len(data) - pos != 20:
            raise ValueError("its digest is missing or followed by other bytes")
    except ValueError as exc:
        _fail(f"ssl.{kind}.location", f"{where} is a damaged JKS store: {exc}")
    if password is not None:  # as Java: a store opened without a password is not checked
        digest = hashlib.sha1(password.encode("utf-16-be") + b"Mighty Aphrodite" + data[:-20])
        if not hmac.compare_digest(digest.digest(), data[-20:]):
            _fail(f"ssl.{kind}.password", f"wrong password for {where} (or the store is damaged)")
    if kind == "truststore" or not keys:  # as Java: certificate entries and key entries' certs
        return None, _ders(trusted + [chain[0] for *_, chain in keys if chain], kind, where)
    alias, protected, chain = keys[0]
    field = "ssl.key.password" if key_password else "ssl.keystore.password"
    try:
        plain = _unprotect(protected, key_password or password or "")
    except ValueError as exc:
        _fail("ssl.keystore.location", f"the key {alias!r} in {where}: {exc}")
    if plain is None:
        hint = "" if key_password else " (set ssl.key.password if it is not the store's)"
        _fail(field, f"wrong password for the key {alias!r} in {where}{hint}")
    certs = _ders(chain, kind, where)
    try:
        return serialization.load_der_private_key(plain, None), certs
    except (ValueError, TypeError, UnsupportedAlgorithm):
        _fail("ssl.keystore.location", f"the key {alias!r} in {where} cannot be read")


def _ders(ders: list[bytes], kind: str, where: str) -> list[x509.Certificate]:
    try:
        return [x509.load_der_x509_certificate(der) for der in ders]
    except ValueError:
        _fail(f"ssl.{kind}.location", f"{where} holds a certificate that is not valid")


def _der(data: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    """The content of the DER element of type ``tag`` at ``pos``, and where the next one starts."""
    size = data[pos + 1] if data[pos : pos + 1] == bytes([tag]) and pos + 2 <= len(data) else -1
    pos += 2
    if size > 0 and size & 0x80:
        octets, pos = size & 0x7F, pos + (size & 0x7F)
        size = int.from_bytes(data[pos - octets : pos], "big") if 0 < octets <= 4 else -1
    if size < 0 or pos + size > len(data):
        raise ValueError("its protected form is not the expected DER")
    return data[pos : pos + size], pos + size


def _unprotect(protected: bytes, password: str) -> bytes | None:
    """The PKCS8 DER under Sun's key protection, or None for a wrong password.

    EncryptedPrivateKeyInfo ::= SEQUENCE { SEQUENCE { OID, NULL }, OCTET STRING } whose octets
    are salt (20) + key XOR keystream + SHA-1(password + key) (20); the keystream is SHA-1 chained
    from the salt: d1 = SHA-1(password + salt), d2 = SHA-1(password + d1), ...
    """
    info, _ = _der(protected, 0, 0x30)
    algorithm, after = _der(info, 0, 0x30)
    if _der(algorithm, 0, 0x06)[0] != _SUN_KEY_PROTECTOR:
        raise ValueError("it is not protected by Sun's JKS key protector")
    if len(blob := _der(info, after, 0x04)[0]) <= 40:
        raise ValueError("its protected form is too short")
    salt, secret, check = blob[:20], blob[20:-20], blob[-20:]
    word, stream, digest = password.encode("utf-16-be"), b"", salt
    while len(stream) < len(secret):
        digest = hashlib.sha1(word + digest).digest()
        stream += digest
    mask = int.from_bytes(stream[: len(secret)], "big")
    plain = (int.from_bytes(secret, "big") ^ mask).to_bytes(len(secret), "big")
    return plain if hmac.compare_digest(hashlib.sha1(word + plain).digest(), check) else None


def _protocols(opts: Mapping[str, str], context: ssl.SSLContext) -> None:
    """TLS versions: ``ssl.enabled.protocols`` capped by ``ssl.protocol``; ``ssl.cipher.suites``."""
    enabled = opts.get("ssl.enabled.protocols", "TLSv1.2,TLSv1.3")
    names = [name.strip() for name in enabled.split(",") if name.strip()]
    if bad := [name for name in names if name.lower() not in _VERSIONS]:
        _fail("ssl.enabled.protocols", f"{', '.join(bad)}: only TLSv1.2 and TLSv1.3 are supported")
    protocol = opts.get("ssl.protocol", "TLSv1.3")
    if (cap := {**_VERSIONS, "tls": ssl.TLSVersion.TLSv1_3}.get(protocol.lower())) is None:
        _fail("ssl.protocol", f"{protocol!r}: must be TLSv1.2, TLSv1.3 or TLS")
    versions = sorted(_VERSIONS[name.lower()] for name in names) or [ssl.TLSVersion.TLSv1_2]
    low, high = versions[0], min(versions[-1], cap)
    suites = [s.strip() for s in opts.get("ssl.cipher.suites", "").split(",") if s.strip()]
    tls12 = [(s, _openssl_suite(s)) for s in suites if s not in _TLS13_SUITES and "SCSV" not in s]
    if suites and not tls12:  # TLS 1.3 suites only: TLS 1.2 has none to use
        low = ssl.TLSVersion.TLSv1_3
    if low > high:
        _fail("ssl.protocol", f"{protocol} allows none of the protocols {enabled} and suites")
    context.minimum_version, context.maximum_version = low, high
    if unknown := [suite for suite, name in tls12 if not _known(name)]:
        _fail("ssl.cipher.suites", f"unknown or unavailable: {', '.join(unknown)}")
    if tls12:
        context.set_ciphers(":".join(name for _, name in tls12))


def _known(suite: str) -> bool:
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ciphers(suite)
    except ssl.SSLError:
        return False
    return True


def _openssl_suite(name: str) -> str:
    """OpenSSL's name for a suite as Java (and IANA) name it: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256.

    Exact for the ECDHE, DHE and RSA suites with AES or ChaCha20 (all Java offers); any other
    name is taken as OpenSSL's own.
    """
    if not name.startswith("TLS_") or "_WITH_" not in name:
        return name
    exchange, cipher = name[4:].split("_WITH_", 1)
    cipher = re.sub(r"^AES_(128|256)_", r"AES\1_", cipher).replace("CBC_", "")
    cipher = cipher.replace("CCM_8", "CCM8").replace("POLY1305_SHA256", "POLY1305")
    return (cipher if exchange == "RSA" else f"{exchange}_{cipher}").replace("_", "-")
