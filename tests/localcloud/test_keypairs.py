"""Key pairs as Nova answers them: generation before 2.92, import with validation, fingerprints."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from .conftest import Api, Cli

pytestmark = pytest.mark.integration


def _public_key(comment: str = "me@host") -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{line.decode()} {comment}"


def _md5_fingerprint(public_key: str) -> str:
    digest = hashlib.md5(base64.b64decode(public_key.split()[1]), usedforsecurity=False)
    raw = digest.hexdigest()
    return ":".join(raw[i : i + 2] for i in range(0, len(raw), 2))


def test_generated_key_is_fast_and_loads(api: Api) -> None:
    started = time.monotonic()
    response = api.request(
        "POST", "/compute/v2.1/os-keypairs", "2.2", json={"keypair": {"name": "gen"}}
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 201, response.text
    keypair = response.json()["keypair"]
    assert set(keypair) == {"name", "public_key", "fingerprint", "user_id", "type", "private_key"}
    assert keypair["type"] == "ssh"
    assert keypair["public_key"].startswith("ssh-rsa ")
    assert keypair["public_key"].endswith(" Generated-by-Nova")
    assert keypair["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    private = serialization.load_pem_private_key(keypair["private_key"].encode(), None)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert keypair["public_key"].split()[:2] == public.decode().split()
    assert keypair["fingerprint"] == _md5_fingerprint(keypair["public_key"])
    assert elapsed < 1.0
    shown = api.request("GET", "/compute/v2.1/os-keypairs/gen", "2.2").json()["keypair"]
    assert "private_key" not in shown and shown["fingerprint"] == keypair["fingerprint"]


def test_import_validates_the_key_as_nova_does(api: Api) -> None:
    public_key = _public_key()
    body: dict[str, Any] = {"keypair": {"name": "mine@laptop", "public_key": public_key}}
    created = api.request("POST", "/compute/v2.1/os-keypairs", "2.92", json=body)
    assert created.status_code == 201, created.text
    keypair = created.json()["keypair"]
    assert "private_key" not in keypair
    assert keypair["public_key"] == public_key
    assert keypair["fingerprint"] == _md5_fingerprint(public_key)

    again = api.request("POST", "/compute/v2.1/os-keypairs", "2.92", json=body)
    assert again.status_code == 409
    assert again.json() == {
        "conflictingRequest": {"code": 409, "message": "Key pair 'mine@laptop' already exists."}
    }
    for bad in ("ssh-rsa AAAAB3NzaC1yc2E", "not a key", public_key.replace("AAAA", "BBBB", 1)):
        body = {"keypair": {"name": "bad", "public_key": bad}}
        refused = api.request("POST", "/compute/v2.1/os-keypairs", "2.92", json=body)
        assert refused.status_code == 400, bad
        assert refused.json() == {
            "badRequest": {
                "code": 400,
                "message": "Keypair data is invalid: failed to generate fingerprint",
            }
        }
    missing = api.request(
        "POST", "/compute/v2.1/os-keypairs", "2.92", json={"keypair": {"name": "gen"}}
    )
    assert missing.status_code == 400
    assert "'public_key' is a required property" in missing.json()["badRequest"]["message"]


def test_x509_keypair_at_2_2(api: Api) -> None:
    body = {"keypair": {"name": "cert", "type": "x509"}}
    created = api.request("POST", "/compute/v2.1/os-keypairs", "2.2", json=body)
    assert created.status_code == 201, created.text
    keypair = created.json()["keypair"]
    assert keypair["type"] == "x509"
    assert keypair["public_key"].startswith("-----BEGIN CERTIFICATE-----")
    assert len(keypair["fingerprint"].split(":")) == 20  # SHA-1
    body = {"keypair": {"name": "cert2", "type": "x509", "public_key": "nope"}}
    refused = api.request("POST", "/compute/v2.1/os-keypairs", "2.2", json=body)
    assert refused.status_code == 400
    assert refused.json()["badRequest"]["message"].startswith(
        "Keypair data is invalid: failed to generate X509 fingerprint. Error message: "
    )


def test_sdk_and_cli_import_a_public_key(conn: Any, cli: Cli, tmp_path: Path) -> None:
    public_key = _public_key("sdk")
    made = conn.compute.create_keypair(name="sdk-key", public_key=public_key)
    assert made.fingerprint == _md5_fingerprint(public_key)
    key_file = tmp_path / "id.pub"
    key_file.write_text(_public_key("cli") + "\n")
    shown = json.loads(
        cli.run("keypair", "create", "--public-key", str(key_file), "cli-key", "-f", "json").stdout
    )
    assert shown["fingerprint"] == _md5_fingerprint(key_file.read_text())
    names = {k.name for k in conn.compute.keypairs()}
    assert {"default", "sdk-key", "cli-key"} <= names
    bad_file = tmp_path / "bad.pub"
    bad_file.write_text("ssh-rsa not-base64\n")
    result = cli.run("keypair", "create", "--public-key", str(bad_file), "bad", check=False)
    assert result.returncode != 0
    assert "Keypair data is invalid" in result.stderr
