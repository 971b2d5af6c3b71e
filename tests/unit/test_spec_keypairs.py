"""Top-level `keypairs:` (issue 8 item 4) and the OpenSSH public key parser behind it.

Every key is checked before anything changes: a malformed key, a private key
pasted by mistake (never quoted back), a file that cannot be read, bad names,
each reported where it is written in the spec.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from declstack.model import DesiredKeypair, SourceLocation
from declstack.spec import MAX_PUBLIC_KEY_BYTES, SpecError, load_spec, parse_spec
from declstack.sshkeys import (
    PRIVATE_KEY_MESSAGE,
    PrivateKeyError,
    SshKey,
    key_data,
    parse_public_key,
)

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH//+MeDTvFmLIMG+CJT5isNZQBVPzqD72rgnET9kQ07"
#: The body of an ed25519 private key as ssh-keygen writes it (a throwaway key).
PRIVATE_BODY = (
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACDHzqDDSERETSECRETSECRETSECRETSECRETSECRETAAAAJgAAAAAAAAAAA\n"
)
OPENSSH_PRIVATE = (
    f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PRIVATE_BODY}-----END OPENSSH PRIVATE KEY-----\n"
)
HEADER = "version: 1\nstack: demo\nservers: []\n"


def field(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def line(key_type: str, *fields: bytes, comment: str = "") -> str:
    blob = base64.b64encode(b"".join(field(f) for f in fields)).decode()
    return f"{key_type} {blob}" + (f" {comment}" if comment else "")


def reason(text: str) -> str:
    with pytest.raises(ValueError) as caught:
        parse_public_key(text)
    return str(caught.value)


# -- the parser ------------------------------------------------------------------


def test_a_key_line_is_parsed_into_type_data_and_comment() -> None:
    key = parse_public_key(f"  {ED25519} deploy@web app \n")
    assert key == SshKey("ssh-ed25519", ED25519.split()[1], "deploy@web app")
    assert key.data == ED25519
    assert str(key) == f"{ED25519} deploy@web app"
    assert parse_public_key(ED25519).comment == ""
    assert key_data(f"{ED25519} laptop") == key_data(f"{ED25519}   other comment") == ED25519


def test_keys_of_every_type_cryptography_writes_are_accepted() -> None:
    """pyca/cryptography (what Nova loads keys with) writes them; the parser agrees."""
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private_keys: list[
        ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    ] = [
        ed25519.Ed25519PrivateKey.generate(),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP384R1()),
        ec.generate_private_key(ec.SECP521R1()),
    ]
    types = []
    for private in private_keys:
        text = private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
        key = parse_public_key(text + " me@host")
        types.append(key.type)
        assert key.data == text
    assert types == [
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
    ]


def test_security_key_types_are_accepted() -> None:
    point = b"\x04" + b"\x01" * 64
    ed = line("sk-ssh-ed25519@openssh.com", b"sk-ssh-ed25519@openssh.com", b"k" * 32, b"ssh:")
    ecdsa = line(
        "sk-ecdsa-sha2-nistp256@openssh.com",
        b"sk-ecdsa-sha2-nistp256@openssh.com",
        b"nistp256",
        point,
        b"ssh:",
    )
    assert parse_public_key(ed).type == "sk-ssh-ed25519@openssh.com"
    assert parse_public_key(ecdsa).type == "sk-ecdsa-sha2-nistp256@openssh.com"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "it is empty; give the line of the .pub file (ssh-ed25519 AAAA...)"),
        (" \n ", "it is empty; give the line of the .pub file (ssh-ed25519 AAAA...)"),
        (
            f"{ED25519} a\n{ED25519} b",
            "it has 2 lines; a key pair is one public key on one line (an authorized_keys "
            "file lists several: pick one; a key wrapped over lines must be joined)",
        ),
        (
            "ssh-ed2559 AAAA",
            "unknown key type 'ssh-ed2559' (did you mean 'ssh-ed25519'?)",
        ),
        (
            "hunter2secret AAAA",
            "it does not start with a key type (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, "
            "ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, sk-ssh-ed25519@openssh.com, "
            "sk-ecdsa-sha2-nistp256@openssh.com)",
        ),
        (
            "ssh-dss AAAAB3NzaC1kc3M=",
            "ssh-dss (DSA) keys are refused: OpenSSH disabled them in 7.0 and removed them in "
            "10.0; make an ed25519 key (ssh-keygen -t ed25519)",
        ),
        (
            "ssh-ed25519-cert-v01@openssh.com AAAA",
            "it is an OpenSSH certificate (-cert.pub), not a public key; give the key itself "
            "(the .pub file without -cert)",
        ),
        (
            f'from="10.0.0.0/8" {ED25519}',
            "it starts with authorized_keys options; give the key alone, from its type on "
            "(ssh-ed25519 AAAA...)",
        ),
        ("ssh-ed25519", "ssh-ed25519 is not followed by the key's base64 data"),
        (
            ED25519.replace(" ", "\t"),
            "separate ssh-ed25519 from the key's data with one space",
        ),
        (
            ED25519.replace(" ", "  "),
            "separate ssh-ed25519 from the key's data with one space",
        ),
        (
            ED25519[:-3],
            "the data after ssh-ed25519 is not base64 (cut short, or changed by copying?)",
        ),
        (
            ED25519.replace("+", "-"),
            "the data after ssh-ed25519 is not base64 (cut short, or changed by copying?)",
        ),
        (
            ED25519[:-4],
            "the ssh-ed25519 data ends before the ed25519 key (cut short when copied?)",
        ),
        (
            "ssh-ed25519 aGVsbG8gd29ybGQh",
            "the data after ssh-ed25519 is not an SSH key (it does not start with its key type)",
        ),
        (
            "ssh-rsa " + ED25519.split()[1],
            "the line says ssh-rsa, but its data is a ssh-ed25519 key (a changed line, or "
            "data from another key)",
        ),
        (
            line("ssh-ed25519", b"ssh-ed25520", b"k" * 32),
            "the line says ssh-ed25519, but its data is not a key of that type (a changed "
            "line, or data from another key)",
        ),
        (
            line("ssh-ed25519", b"ssh-ed25519", b"k" * 31),
            "the ed25519 key is not 32 bytes long (a damaged key)",
        ),
        (
            line("ssh-ed25519", b"ssh-ed25519", b"k" * 32, b"more"),
            "the ssh-ed25519 data has 8 bytes more than a key (two keys run together, or a "
            "changed line?)",
        ),
        (
            line("ssh-rsa", b"ssh-rsa", b"\x01\x00\x01", b"\x00" + b"\xc3" * 64),
            "the RSA key has 512 bits; OpenSSH refuses RSA keys under 1024 (make an ed25519 "
            "key: ssh-keygen -t ed25519)",
        ),
        (
            line("ecdsa-sha2-nistp256", b"ecdsa-sha2-nistp256", b"nistp384", b"\x04" * 65),
            "the ecdsa-sha2-nistp256 key names another curve than nistp256",
        ),
        (
            line("ecdsa-sha2-nistp384", b"ecdsa-sha2-nistp384", b"nistp384", b"\x04" * 65),
            "the ecdsa-sha2-nistp384 key's point is not a nistp384 point (damaged)",
        ),
        (
            line("sk-ssh-ed25519@openssh.com", b"sk-ssh-ed25519@openssh.com", b"k" * 32),
            "the sk-ssh-ed25519@openssh.com data ends before the security key's application "
            "(cut short when copied?)",
        ),
        (f"{ED25519} a\x1bb", "it contains a control character"),
        (
            "---- BEGIN SSH2 PUBLIC KEY ----",
            "it is an RFC 4716 (SSH2) public key; convert it to OpenSSH's one-line form with: "
            "ssh-keygen -i -f FILE",
        ),
        (
            "-----BEGIN PUBLIC KEY-----",
            "it is a PEM public key; convert it to OpenSSH's one-line form with: "
            "ssh-keygen -i -m PKCS8 -f FILE",
        ),
        (
            "-----BEGIN CERTIFICATE-----",
            "it is an X.509 certificate, not an OpenSSH public key",
        ),
    ],
)
def test_a_malformed_key_is_refused_with_its_reason(text: str, expected: str) -> None:
    assert reason(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        OPENSSH_PRIVATE,
        OPENSSH_PRIVATE.strip(),
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7SECRET\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEISECRET\n-----END PRIVATE KEY-----",
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEISECRET\n-----END EC PRIVATE KEY-----",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFSECRET\n",
        "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nP2/56wAAASECRET\n",
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 1\nSECRET\n",
        PRIVATE_BODY,  # the body alone, without its armour
        f"{ED25519} me\n{OPENSSH_PRIVATE}",  # both halves pasted
    ],
)
def test_a_private_key_is_named_and_never_quoted(text: str) -> None:
    with pytest.raises(PrivateKeyError) as caught:
        parse_public_key(text)
    assert str(caught.value) == PRIVATE_KEY_MESSAGE
    assert "SECRET" not in str(caught.value)


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(st.integers(0, len(ED25519) + 5), st.text(max_size=3), st.integers(0, 3))
def test_what_the_parser_accepts_nova_accepts(at: int, insert: str, cut: int) -> None:
    """Mutated lines: a ValueError or a key; an accepted key is one pyca/cryptography loads
    (Nova's check), so no malformed key gets past declstack to fail at apply."""
    crypto = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    text = f"{ED25519} me"
    text = text[:at] + insert + text[at + cut :]
    try:
        key = parse_public_key(text)
    except ValueError:
        return
    crypto.load_ssh_public_key(key.data.encode())
    assert key.data.split(" ")[1] == key.blob  # Nova's split(' ')[1]


# -- the spec ------------------------------------------------------------------


def spec_problems(text: str, base_dir: Path | None = None) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(HEADER + text, "spec.yaml", base_dir=base_dir)
    return [str(p) for p in caught.value.problems]


def test_keypairs_inline_and_from_files_sorted_by_name(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "deploy.pub").write_text(f"{ED25519} deploy@ci\n")
    spec = parse_spec(
        HEADER + "keypairs:\n"
        "  zeta:\n"
        f"    public_key: '  {ED25519}  '\n"
        "  deploy:\n"
        "    public_key: {file: keys/deploy.pub}\n"
        "  my key.v2@home:\n"
        f"    public_key: |\n      {ED25519} laptop\n",
        "spec.yaml",
        base_dir=tmp_path,
    )
    assert spec.keypairs == (
        DesiredKeypair("deploy", f"{ED25519} deploy@ci", SourceLocation("spec.yaml", 7, 3)),
        DesiredKeypair("my key.v2@home", f"{ED25519} laptop", SourceLocation("spec.yaml", 9, 3)),
        DesiredKeypair("zeta", ED25519, SourceLocation("spec.yaml", 5, 3)),
    )


def test_no_keypairs_is_an_empty_tuple() -> None:
    assert parse_spec(HEADER, "spec.yaml").keypairs == ()
    assert parse_spec(HEADER + "keypairs: {}\n", "spec.yaml").keypairs == ()


def test_servers_still_name_key_pairs_by_name() -> None:
    spec = parse_spec(
        "version: 1\nstack: demo\n"
        f"keypairs: {{deploy: {{public_key: '{ED25519}'}}}}\n"
        "servers:\n"
        "  - {name: a, image: cirros, flavor: m1.tiny, key_name: deploy}\n"
        "  - {name: b, image: cirros, flavor: m1.tiny, key_name: existing-one}\n",
        "spec.yaml",
    )
    assert [s.key_name for s in spec.servers] == ["deploy", "existing-one"]


def test_the_web_app_example_uploads_its_deploy_key() -> None:
    spec = load_spec(REPO / "specs" / "web-app.yaml", environ={})
    (deploy,) = spec.keypairs
    assert deploy.name == "deploy"
    assert parse_public_key(deploy.public_key).type == "ssh-ed25519"
    assert deploy.public_key == (REPO / "specs" / "deploy.pub").read_text().strip()
    assert {s.key_name for s in spec.servers} == {"deploy"}


def test_a_malformed_inline_key_is_reported_at_its_value() -> None:
    assert spec_problems(
        f"keypairs:\n  a:\n    public_key: {ED25519[:-4]}\n  b:\n    public_key: ssh-ed2559 AAAA\n"
    ) == [
        "spec.yaml:6:17: keypairs.a.public_key: a malformed public key: the ssh-ed25519 "
        "data ends before the ed25519 key (cut short when copied?)",
        "spec.yaml:8:17: keypairs.b.public_key: a malformed public key: unknown key type "
        "'ssh-ed2559' (did you mean 'ssh-ed25519'?)",
    ]


def test_a_private_key_inline_is_refused_without_quoting_it() -> None:
    indented = "".join(f"      {row}\n" for row in OPENSSH_PRIVATE.splitlines())
    problems = spec_problems(f"keypairs:\n  deploy:\n    public_key: |\n{indented}")
    assert problems == [
        "spec.yaml:6:17: keypairs.deploy.public_key: this is a PRIVATE key; give the public "
        "one (the .pub file)"
    ]


def test_a_private_key_file_is_refused_without_quoting_it(tmp_path: Path) -> None:
    (tmp_path / "id_ed25519").write_text(OPENSSH_PRIVATE)
    problems = spec_problems("keypairs:\n  deploy:\n    public_key: {file: id_ed25519}\n", tmp_path)
    shown = repr(str(tmp_path / "id_ed25519"))
    assert problems == [
        f"spec.yaml:6:24: keypairs.deploy.public_key.file: public_key file {shown}: this is a "
        "PRIVATE key; give the public one (the .pub file)"
    ]
    assert not any(part in problems[0] for part in ("SECRET", "b3BlbnNzaC1rZXktdjE"))


def test_a_malformed_key_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "two.pub").write_text(f"{ED25519} a\n{ED25519} b\n")
    shown = repr(str(tmp_path / "two.pub"))
    assert spec_problems("keypairs:\n  k:\n    public_key: {file: two.pub}\n", tmp_path) == [
        f"spec.yaml:6:24: keypairs.k.public_key.file: a malformed public key in {shown}: it "
        "has 2 lines; a key pair is one public key on one line (an authorized_keys file "
        "lists several: pick one; a key wrapped over lines must be joined)"
    ]


def test_key_files_are_read_like_user_data_files(tmp_path: Path) -> None:
    spec_dir = tmp_path / "spec"
    spec_dir.mkdir()
    (tmp_path / "outside.pub").write_text(ED25519)
    (spec_dir / "big.pub").write_text(ED25519 + " " + "x" * MAX_PUBLIC_KEY_BYTES)
    (spec_dir / "folder.pub").mkdir()
    (spec_dir / "latin1.pub").write_bytes(ED25519.encode() + b" caf\xe9")
    problems = spec_problems(
        "keypairs:\n"
        "  a: {public_key: {file: ../outside.pub}}\n"
        "  b: {public_key: {file: missing.pub}}\n"
        "  c: {public_key: {file: big.pub}}\n"
        "  d: {public_key: {file: folder.pub}}\n"
        "  e: {public_key: {file: latin1.pub}}\n",
        spec_dir,
    )
    at = repr(str(spec_dir)).strip("'")
    assert problems == [
        f"spec.yaml:5:26: keypairs.a.public_key.file: '../outside.pub' is outside the spec's "
        f"folder {spec_dir.resolve()}; move it there or pass --allow-outside-files",
        f"spec.yaml:6:26: keypairs.b.public_key.file: cannot read public_key file "
        f"'{at}/missing.pub': No such file or directory",
        f"spec.yaml:7:26: keypairs.c.public_key.file: public_key file '{at}/big.pub' is "
        f"{len(ED25519) + 1 + MAX_PUBLIC_KEY_BYTES} bytes, more than the 16384 a public key "
        "file may have (a key line is under 3 KB): is it the .pub file?",
        f"spec.yaml:8:26: keypairs.d.public_key.file: public_key file '{at}/folder.pub' is a "
        "folder, not a regular file",
        f"spec.yaml:9:26: keypairs.e.public_key.file: public_key file '{at}/latin1.pub' is not "
        "UTF-8 text: is it the .pub file?",
    ]
    allowed = parse_spec(
        HEADER + "keypairs:\n  a: {public_key: {file: ../outside.pub}}\n",
        "spec.yaml",
        base_dir=spec_dir,
        allow_outside_files=True,
    )
    assert allowed.keypairs[0].public_key == ED25519


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.pub")
    problems = spec_problems("keypairs:\n  a: {public_key: {file: pipe.pub}}\n", tmp_path)
    assert problems[0].endswith("is a FIFO (named pipe), not a regular file")


def test_a_symlink_out_of_the_folder_is_outside(tmp_path: Path) -> None:
    spec_dir = tmp_path / "spec"
    spec_dir.mkdir()
    (tmp_path / "real.pub").write_text(ED25519)
    (spec_dir / "link.pub").symlink_to(tmp_path / "real.pub")
    problems = spec_problems("keypairs:\n  a: {public_key: {file: link.pub}}\n", spec_dir)
    assert problems == [
        f"spec.yaml:5:26: keypairs.a.public_key.file: 'link.pub' is outside the spec's folder "
        f"{spec_dir.resolve()}; move it there or pass --allow-outside-files"
    ]


def test_the_schema_refuses_bad_names_and_shapes() -> None:
    hint = (
        "key pair names must be 1-255 letters, digits, spaces, '_', '-', '.' or '@', not "
        "starting or ending with a space (Nova's rule)"
    )
    long_name = "k" * 256
    problems = spec_problems(
        "keypairs:\n"
        f"  'a/b': {{public_key: '{ED25519}'}}\n"
        f"  ' lead': {{public_key: '{ED25519}'}}\n"
        f"  {long_name}: {{public_key: '{ED25519}'}}\n"
        f"  ok: {{public_key: '{ED25519}', comment: x}}\n"
        f"  ok2: {{pubkey: '{ED25519}'}}\n"
        "  ok3: {public_key: 42}\n"
        "  ok4: {public_key: ''}\n"
        "  ok5: {public_key: {path: x.pub}}\n"
        "  ok6: ssh-ed25519 AAAA\n"
        f"  ok7: {{public_key: '{'A' * (MAX_PUBLIC_KEY_BYTES + 1)}'}}\n"
    )
    assert problems == [
        f"spec.yaml:5:3: keypairs[\"a/b\"]: {hint}; got 'a/b'",
        f"spec.yaml:6:3: keypairs[\" lead\"]: {hint}; got ' lead'",
        f"spec.yaml:7:3: keypairs.{long_name}: {hint}; got '{long_name}'",
        "spec.yaml:8:104: keypairs.ok.comment: unknown key 'comment' (expected one of: public_key)",
        "spec.yaml:9:8: keypairs.ok2: missing required key 'public_key'",
        "spec.yaml:9:9: keypairs.ok2.pubkey: unknown key 'pubkey' (did you mean 'public_key'?)",
        "spec.yaml:10:21: keypairs.ok3.public_key: must be the public key line "
        "(ssh-ed25519 AAAA...), or {file: <path of the .pub file, relative to the spec>}; "
        "got the number 42",
        "spec.yaml:11:21: keypairs.ok4.public_key: must not be empty",
        "spec.yaml:12:21: keypairs.ok5.public_key: missing required key 'file'",
        "spec.yaml:12:22: keypairs.ok5.public_key.path: unknown key 'path' (expected one of: file)",
        'spec.yaml:13:8: keypairs.ok6: must be a mapping, got the string "ssh-ed25519 AAAA"',
        "spec.yaml:14:21: keypairs.ok7.public_key: must be at most 16384 characters, got 16385",
    ]


def test_a_typo_of_keypairs_is_suggested() -> None:
    problems = spec_problems(f"keypair: {{a: {{public_key: '{ED25519}'}}}}\n")
    assert problems == ["spec.yaml:4:1: keypair: unknown key 'keypair' (did you mean 'keypairs'?)"]
