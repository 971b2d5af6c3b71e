"""Fixtures for the conformance tier: the real OpenStack services started by realstack/start.sh.

The realstack cloud is found through `<repo>/.realstack/clouds.yaml` (env
DECLSTACK_REALSTACK_CLOUDS overrides). When it is not running the tests skip
with the reason, unless DECLSTACK_REQUIRE_REALSTACK=1 (CI), where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.conformance.differential import local_raw_cloud
from tests.conformance.rawcloud import Credentials, RawCloud

REPO = Path(__file__).resolve().parents[2]
REALSTACK_CLOUD = "realstack"
REALSTACK_ADMIN_CLOUD = "realstack-admin"


def realstack_clouds_yaml() -> Path:
    """The clouds.yaml that realstack/start.sh wrote (or the one named by the env)."""
    env = os.environ.get("DECLSTACK_REALSTACK_CLOUDS")
    return Path(env) if env else REPO / ".realstack" / "clouds.yaml"


def _unavailable(reason: str) -> None:
    if os.environ.get("DECLSTACK_REQUIRE_REALSTACK") == "1":
        pytest.fail(f"realstack required (DECLSTACK_REQUIRE_REALSTACK=1) but {reason}")
    pytest.skip(f"realstack not running: {reason} (start it with realstack/start.sh)")


def _connect(cloud: str) -> RawCloud:
    path = realstack_clouds_yaml()
    if not path.is_file():
        _unavailable(f"{path} does not exist")
    clouds = (yaml.safe_load(path.read_text()) or {}).get("clouds", {})
    if cloud not in clouds:
        _unavailable(f"cloud {cloud!r} is not in {path}")
    raw = RawCloud(Credentials.from_cloud_entry(clouds[cloud]), timeout=10.0)
    try:
        raw.authenticate()
    except (requests.ConnectionError, requests.Timeout, RuntimeError) as exc:
        _unavailable(f"cannot authenticate to {raw.creds.auth_url}: {exc}")
    return raw


@pytest.fixture(scope="session")
def realstack() -> RawCloud:
    """An authenticated raw session as the realstack tenant user (demo)."""
    return _connect(REALSTACK_CLOUD)


@pytest.fixture(scope="session")
def realstack_admin() -> RawCloud:
    """An authenticated raw session as the realstack admin."""
    return _connect(REALSTACK_ADMIN_CLOUD)


@pytest.fixture(scope="session")
def localcloud() -> Iterator[RawCloud]:
    """declstack's own local cloud, started for the session, as a raw session."""
    with local_raw_cloud() as raw:
        yield raw
