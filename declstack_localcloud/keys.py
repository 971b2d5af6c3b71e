"""SSH key pairs without third-party crypto: RSA generation, OpenSSH encoding, fingerprints.

Nova generated key pairs server-side before microversion 2.92; this keeps that path
working with the standard library only (Miller-Rabin primes, PKCS#1 DER by hand).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import struct
from dataclasses import dataclass

_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p**0.5) + 1))]


@dataclass(frozen=True)
class GeneratedKey:
    public_key: str
    private_key: str


def _is_probable_prime(n: int, rounds: int = 24) -> bool:
    if n < 2:
        return False
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(rounds):
        a = secrets.randbelow(n - 3) + 2
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int) -> int:
    while True:
        candidate = secrets.randbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if _is_probable_prime(candidate):
            return candidate


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der_int(value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return b"\x02" + _der_length(len(raw)) + raw


def _ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _ssh_mpint(value: int) -> bytes:
    return _ssh_string(value.to_bytes(value.bit_length() // 8 + 1, "big"))


def generate_rsa(bits: int = 2048, comment: str = "Generated-by-Nova") -> GeneratedKey:
    """A fresh RSA key: OpenSSH public line and PEM PKCS#1 private key."""
    e = 65537
    while True:
        p, q = _prime(bits // 2), _prime(bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e != 0:
            break
    n, d = p * q, pow(e, -1, (p - 1) * (q - 1))
    fields = [0, n, e, d, p, q, d % (p - 1), d % (q - 1), pow(q, -1, p)]
    content = b"".join(_der_int(v) for v in fields)
    der = b"\x30" + _der_length(len(content)) + content
    b64 = base64.b64encode(der).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    pem = "\n".join(["-----BEGIN RSA PRIVATE KEY-----", *lines, "-----END RSA PRIVATE KEY-----"])
    blob = _ssh_string(b"ssh-rsa") + _ssh_mpint(e) + _ssh_mpint(n)
    public = f"ssh-rsa {base64.b64encode(blob).decode()} {comment}"
    return GeneratedKey(public_key=public, private_key=pem + "\n")


def fingerprint(public_key: str) -> str:
    """Nova's fingerprint: MD5 of the decoded key blob, colon-separated hex.

    Raises ValueError for text that is not an OpenSSH public key line.
    """
    parts = public_key.strip().split()
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-")):
        raise ValueError("not an OpenSSH public key")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except ValueError as exc:
        raise ValueError("public key is not valid base64") from exc
    if len(blob) < 4:
        raise ValueError("public key blob is too short")
    (type_len,) = struct.unpack(">I", blob[:4])
    if blob[4 : 4 + type_len].decode(errors="replace") != parts[0]:
        raise ValueError("public key type does not match its blob")
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
