"""Key pairs as Nova makes them (nova/crypto.py), with the `cryptography` package.

`cryptography` comes with openstacksdk (and Nova itself uses it to validate keys);
generation is a few milliseconds where the earlier hand-written RSA took seconds.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

INVALID_SSH = "failed to generate fingerprint"


class InvalidKeypair(ValueError):
    """Nova's InvalidKeypair: the reason goes after "Keypair data is invalid: "."""


@dataclass(frozen=True)
class GeneratedKey:
    public_key: str
    private_key: str
    fingerprint: str


def _colon_hex(raw: str) -> str:
    return ":".join(a + b for a, b in zip(raw[::2], raw[1::2], strict=True))


def generate_rsa(bits: int = 2048) -> GeneratedKey:
    """What Nova's generate_key_pair returns: a PEM "RSA PRIVATE KEY" (paramiko's
    write_private_key form) and "ssh-rsa <base64> Generated-by-Nova"."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public_line = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    public = f"{public_line.decode()} Generated-by-Nova"
    return GeneratedKey(public, private, fingerprint(public))


def fingerprint(public_key: str) -> str:
    """nova.crypto.generate_fingerprint: the line must load as an OpenSSH public key, then
    MD5 of its base64 blob (the text after the first space), colon-separated hex.

    Raises InvalidKeypair("failed to generate fingerprint") for anything else.
    """
    try:
        serialization.load_ssh_public_key(public_key.encode("utf-8"))
        blob = base64.b64decode(public_key.split(" ")[1])
    except (ValueError, IndexError, UnsupportedAlgorithm, UnicodeError, binascii.Error) as exc:
        raise InvalidKeypair(INVALID_SSH) from exc
    return _colon_hex(hashlib.md5(blob, usedforsecurity=False).hexdigest())


def x509_fingerprint(pem: str) -> str:
    """nova.crypto.generate_x509_fingerprint: SHA-1 of the certificate, colon hex."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("utf-8"))
    except (ValueError, TypeError) as exc:
        raise InvalidKeypair(f"failed to generate X509 fingerprint. Error message: {exc}") from exc
    return _colon_hex(cert.fingerprint(hashes.SHA1()).hex())  # SHA-1: what Nova uses


def generate_x509(user_id: str, bits: int = 2048) -> GeneratedKey:
    """nova.crypto.generate_winrm_x509_cert: a self-signed client certificate for
    CN=<user_id> (10 years) and its key as a base64 PKCS#12 bundle with an empty password."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    start = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    bundle = pkcs12.serialize_key_and_certificates(
        None, key, cert, None, serialization.NoEncryption()
    )
    return GeneratedKey(pem, base64.b64encode(bundle).decode("ascii"), x509_fingerprint(pem))
