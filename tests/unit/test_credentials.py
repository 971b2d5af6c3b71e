"""Credentials as the openstack CLI takes them: precedence, prompts, legacy variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from declstack.credentials import CloudChoice, choose_cloud, load_region
from declstack.errors import UserError


@pytest.mark.parametrize(
    ("flag", "spec_cloud", "environ", "expected"),
    [
        ("cli", "spec", {"OS_CLOUD": "env"}, CloudChoice("cli", "--cloud")),
        (None, "spec", {"OS_CLOUD": "env"}, CloudChoice("spec", "the spec's `cloud`")),
        (None, None, {"OS_CLOUD": "env"}, CloudChoice("env", "OS_CLOUD")),
        (None, None, {}, CloudChoice(None, "OS_* environment variables")),
    ],
)
def test_precedence(
    flag: str | None, spec_cloud: str | None, environ: dict[str, str], expected: CloudChoice
) -> None:
    assert choose_cloud(flag, spec_cloud, environ) == expected


@pytest.fixture
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OS_CLOUD", "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "none.yaml"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))


def test_missing_values_are_prompted_for_password_hidden(no_config: None) -> None:
    asked: list[tuple[str, bool]] = []
    answers = {
        "auth_url": "http://127.0.0.1:5000/v3",
        "username": "alice",
        "password": "s3cret",
        "project_name": "web",
    }

    def prompt(label: str, secret: bool) -> str:
        asked.append((label, secret))
        key = next(k for k in answers if label.lower().startswith(k.replace("_", " ")[:4]))
        return answers[key]

    region = load_region(CloudChoice(None, "env"), prompt)
    auth = region.config["auth"]
    assert auth["username"] == "alice" and auth["password"] == "s3cret"
    assert auth["user_domain_name"] == "Default" and auth["project_domain_name"] == "Default"
    secret_prompts = [label for label, secret in asked if secret]
    assert len(secret_prompts) == 1 and secret_prompts[0].startswith("Password")


def test_legacy_tenant_name_and_no_terminal(
    no_config: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OS_AUTH_URL", "http://127.0.0.1:5000/v3")
    monkeypatch.setenv("OS_USERNAME", "bob")
    monkeypatch.setenv("OS_PASSWORD", "pw")
    monkeypatch.setenv("OS_TENANT_NAME", "legacy")
    region = load_region(CloudChoice(None, "env"), None)
    assert region.config["auth"]["project_name"] == "legacy"

    monkeypatch.delenv("OS_PASSWORD")
    with pytest.raises(UserError, match="missing credentials: password"):
        load_region(CloudChoice(None, "env"), None)
