"""OpenSSH public key lines (`ssh-ed25519 AAAA... comment`), checked before a cloud sees them.

Pure and standard library only. `parse_public_key` accepts what `ssh-keygen`
writes to a .pub file and refuses, with a precise reason, what OpenSSH and
Nova would refuse later (Nova loads the key with pyca/cryptography, which
checks that the key type inside the base64 data is the one in front of it):
several lines, an unknown type, base64 that does not decode, data of another
type or cut short. A private key pasted by mistake is a `PrivateKeyError`,
and no message ever quotes the text it was given (only a known key type).
"""

from __future__ import annotations

import base64
import binascii
import difflib
import re
from dataclasses import dataclass

#: Key type -> the curve named inside the data (ECDSA keys), else None.
KEY_TYPES: dict[str, str | None] = {
    "ssh-ed25519": None,
    "ssh-rsa": None,
    "ecdsa-sha2-nistp256": "nistp256",
    "ecdsa-sha2-nistp384": "nistp384",
    "ecdsa-sha2-nistp521": "nistp521",
    "sk-ssh-ed25519@openssh.com": None,
    "sk-ecdsa-sha2-nistp256@openssh.com": "nistp256",
}
#: The bytes of an uncompressed point (0x04, x, y) on each curve.
_POINT_BYTES = {"nistp256": 65, "nistp384": 97, "nistp521": 133}
#: OpenSSH refuses shorter RSA keys (SSH_RSA_MINIMUM_MODULUS_SIZE).
MIN_RSA_BITS = 1024
#: Longer than any real key line (an RSA 16384-bit key is about 2.8 KB).
MAX_KEY_LINE = 16 * 1024

PRIVATE_KEY_MESSAGE = "this is a PRIVATE key; give the public one (the .pub file)"

#: What a private key looks like in every format ssh-keygen, OpenSSL and PuTTY write;
#: `b3BlbnNzaC1rZXktdjE` is "openssh-key-v1" in base64 (a body without its armour).
_PRIVATE = re.compile(
    r"PRIVATE KEY-----|PRIVATE KEY ----|PuTTY-User-Key-File-|(?:^|\s)b3BlbnNzaC1rZXktdjE"
)
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


class PrivateKeyError(ValueError):
    """The text is (or holds) a private key; the message never quotes it."""

    def __init__(self) -> None:
        super().__init__(PRIVATE_KEY_MESSAGE)


@dataclass(frozen=True)
class SshKey:
    """One public key: its type, its base64 data as written, and the comment (may be "")."""

    type: str
    blob: str
    comment: str = ""

    @property
    def data(self) -> str:
        """`type blob`: what identifies the key, whatever its comment."""
        return f"{self.type} {self.blob}"

    def __str__(self) -> str:
        return f"{self.data} {self.comment}" if self.comment else self.data


def parse_public_key(text: str) -> SshKey:
    """The public key on the one line of `text` (surrounding whitespace ignored).

    Raises `PrivateKeyError` for a private key and `ValueError` with the reason
    for anything else that is not an OpenSSH public key.
    """
    if _PRIVATE.search(text):
        raise PrivateKeyError()
    line = text.strip()
    if not line:
        raise ValueError("it is empty; give the line of the .pub file (ssh-ed25519 AAAA...)")
    if len(line) > MAX_KEY_LINE:
        raise ValueError(
            f"it is {len(line)} characters long, and a public key line is at most "
            f"{MAX_KEY_LINE} (an RSA 16384-bit key is about 2800)"
        )
    lines = line.splitlines()
    if len(lines) > 1:
        raise ValueError(
            f"it has {len(lines)} lines; a key pair is one public key on one line "
            "(an authorized_keys file lists several: pick one; a key wrapped over "
            "lines must be joined)"
        )
    _refuse_other_formats(line)
    if any((ord(char) < 32 and char != "\t") or ord(char) == 127 for char in line):
        raise ValueError("it contains a control character")
    words = line.split(None, 2)
    key_type = words[0]
    if key_type not in KEY_TYPES:
        raise ValueError(_unknown_type(key_type))
    if len(words) < 2:
        raise ValueError(f"{key_type} is not followed by the key's base64 data")
    if line[len(key_type)] != " " or line[len(key_type) + 1].isspace():
        # Nova takes the data after the first space (public_key.split(' ')[1]).
        raise ValueError(f"separate {key_type} from the key's data with one space")
    blob = words[1]
    _check_blob(key_type, blob)
    return SshKey(key_type, blob, words[2].strip() if len(words) > 2 else "")


def key_data(text: str) -> str:
    """`type blob` of the public key in `text`: the key, regardless of its comment."""
    return parse_public_key(text).data


def _refuse_other_formats(line: str) -> None:
    if "BEGIN SSH2 PUBLIC KEY" in line:
        raise ValueError(
            "it is an RFC 4716 (SSH2) public key; convert it to OpenSSH's one-line form "
            "with: ssh-keygen -i -f FILE"
        )
    if "-----BEGIN PUBLIC KEY-----" in line or "-----BEGIN RSA PUBLIC KEY-----" in line:
        raise ValueError(
            "it is a PEM public key; convert it to OpenSSH's one-line form with: "
            "ssh-keygen -i -m PKCS8 -f FILE"
        )
    if "-----BEGIN CERTIFICATE-----" in line:
        raise ValueError("it is an X.509 certificate, not an OpenSSH public key")


def _unknown_type(word: str) -> str:
    known = ", ".join(KEY_TYPES)
    if word == "ssh-dss":
        return (
            "ssh-dss (DSA) keys are refused: OpenSSH disabled them in 7.0 and removed them "
            "in 10.0; make an ed25519 key (ssh-keygen -t ed25519)"
        )
    if word.endswith("-cert-v01@openssh.com"):
        return (
            "it is an OpenSSH certificate (-cert.pub), not a public key; give the key "
            "itself (the .pub file without -cert)"
        )
    if "=" in word or word in ("restrict", "no-pty", "no-port-forwarding", "cert-authority"):
        return (
            "it starts with authorized_keys options; give the key alone, from its "
            "type on (ssh-ed25519 AAAA...)"
        )
    # Only a near miss of a known type is quoted: the word could be anything (a secret).
    close = difflib.get_close_matches(word, list(KEY_TYPES), n=1, cutoff=0.8)
    if close:
        return f"unknown key type {word!r} (did you mean {close[0]!r}?)"
    return f"it does not start with a key type ({known})"


def _check_blob(key_type: str, blob: str) -> None:
    if not _BASE64.match(blob) or len(blob) % 4:
        raise ValueError(
            f"the data after {key_type} is not base64 (cut short, or changed by copying?)"
        )
    try:
        data = base64.b64decode(blob, validate=True)
    except binascii.Error as error:
        raise ValueError(f"the data after {key_type} is not base64 ({error})") from None
    fields = _Fields(data, key_type)
    inner = fields.string("its key type")
    if inner != key_type.encode():
        shown = inner.decode("ascii", "replace")
        what = f"a {shown} key" if shown in (*KEY_TYPES, "ssh-dss") else "not a key of that type"
        raise ValueError(
            f"the line says {key_type}, but its data is {what} (a changed line, or "
            "data from another key)"
        )
    curve = KEY_TYPES[key_type]
    if key_type == "ssh-rsa":
        fields.string("the RSA exponent")
        modulus = fields.string("the RSA modulus")
        bits = int.from_bytes(modulus, "big").bit_length()
        if bits < MIN_RSA_BITS:
            raise ValueError(
                f"the RSA key has {bits} bits; OpenSSH refuses RSA keys under {MIN_RSA_BITS} "
                "(make an ed25519 key: ssh-keygen -t ed25519)"
            )
    elif curve is None:  # ed25519, plain or on a security key
        if len(fields.string("the ed25519 key")) != 32:
            raise ValueError("the ed25519 key is not 32 bytes long (a damaged key)")
    else:
        named = fields.string("the curve name")
        if named != curve.encode():
            raise ValueError(f"the {key_type} key names another curve than {curve}")
        point = fields.string("the ECDSA point")
        if len(point) != _POINT_BYTES[curve] or point[0] != 4:
            raise ValueError(f"the {key_type} key's point is not a {curve} point (damaged)")
    if key_type.startswith("sk-"):
        fields.string("the security key's application")
    if fields.rest:
        raise ValueError(
            f"the {key_type} data has {fields.rest} bytes more than a key (two keys run "
            "together, or a changed line?)"
        )


class _Fields:
    """Reads the uint32-length-prefixed strings of an SSH key blob (RFC 4253 section 6.6)."""

    def __init__(self, data: bytes, key_type: str) -> None:
        self.data = data
        self.at = 0
        self.key_type = key_type

    @property
    def rest(self) -> int:
        return len(self.data) - self.at

    def string(self, what: str) -> bytes:
        if self.rest < 4:
            raise self.short(what)
        size = int.from_bytes(self.data[self.at : self.at + 4], "big")
        if size > self.rest - 4:
            raise self.short(what)
        value = self.data[self.at + 4 : self.at + 4 + size]
        self.at += 4 + size
        return value

    def short(self, what: str) -> ValueError:
        return ValueError(
            f"the {self.key_type} data ends before {what} (cut short when copied?)"
            if self.at
            else f"the data after {self.key_type} is not an SSH key (it does not start "
            "with its key type)"
        )
