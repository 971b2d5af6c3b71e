"""End-to-end scenarios, written once, run against two targets.

- `local`: declstack's own local cloud, started in-process for the session
  (tier `integration`).
- `realstack`: the real Keystone/Nova/Glance/Neutron/Placement services started
  by `realstack/start.sh` (tier `conformance`). Skipped with a reason when they are
  not running, unless DECLSTACK_REQUIRE_REALSTACK=1, which makes that a failure.

Scenarios drive the real CLI (in-process, through typer's runner) with a
clouds.yaml, exactly as a user would, and use openstacksdk only for what happens
behind declstack's back (a server deleted or created by somebody else).
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openstack
import pytest
import yaml
from openstack.exceptions import ConflictException
from typer.testing import CliRunner, Result

from declstack.cli import app

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Target:
    """One cloud the scenarios run against, and how to misbehave it on purpose."""

    name: str
    clouds_yaml: Path
    cloud: str
    admin_cloud: str
    image: str = "cirros"
    flavor: str = "m1.tiny"
    other_flavor: str = "m1.nano"
    network: str = "private"
    keypair: str = "default"
    local: Any = None  # the LocalCloud, for the local target
    _conns: dict[str, Any] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {"OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml), "OS_CLOUD": ""}

    def connection(self, admin: bool = False) -> Any:
        name = self.admin_cloud if admin else self.cloud
        if name not in self._conns:
            config = openstack.config.OpenStackConfig(config_files=[str(self.clouds_yaml)])
            self._conns[name] = openstack.connection.Connection(config=config.get_one(cloud=name))
        return self._conns[name]

    def break_boots(self, flavor: str) -> None:
        """Make servers of `flavor` go to ERROR at boot ("No valid host was found")."""
        if self.local is not None:
            self.local.set_faults(boot_error_rate=1.0)
            return
        admin = self.connection(admin=True)
        _delete_flavor(admin, flavor)
        # More disk than the fake compute host has (and disk has no quota): Nova's
        # scheduler finds no host and the server goes to ERROR at boot.
        admin.compute.create_flavor(name=flavor, ram=64, vcpus=1, disk=2_000_000, is_public=True)

    def heal_boots(self, flavor: str) -> None:
        """Undo `break_boots`: same flavor name, now bootable (a new id, same name)."""
        if self.local is not None:
            self.local.set_faults(boot_error_rate=0.0)
            return
        admin = self.connection(admin=True)
        _delete_flavor(admin, flavor)
        admin.compute.create_flavor(name=flavor, ram=64, vcpus=1, disk=1, is_public=True)

    def boot_flavor(self) -> str:
        return self.flavor if self.local is not None else f"ds-boot-{uuid.uuid4().hex[:6]}"


def _delete_flavor(admin: Any, name: str) -> None:
    for flavor in admin.compute.flavors():
        if flavor.name == name:
            admin.compute.delete_flavor(flavor.id)


def _realstack_clouds() -> Path:
    return Path(os.environ.get("DECLSTACK_REALSTACK_CLOUDS", REPO / ".realstack" / "clouds.yaml"))


def _realstack_reachable(clouds: Path) -> str | None:
    """None when realstack answers, else why not."""
    if not clouds.exists():
        return f"{clouds} does not exist (start it with realstack/start.sh)"
    try:
        config = openstack.config.OpenStackConfig(config_files=[str(clouds)])
        conn = openstack.connection.Connection(config=config.get_one(cloud="realstack"))
        conn.authorize()
    except Exception as exc:
        return f"realstack does not answer: {type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def local_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    from declstack_localcloud import LocalCloud

    home = tmp_path_factory.mktemp("local-cloud")
    with LocalCloud(
        state_path=home / "state.sqlite", boot_seconds=0.5, delete_seconds=0.3
    ) as cloud:
        clouds = home / "clouds.yaml"
        clouds.write_text(
            yaml.safe_dump(
                {
                    "clouds": {
                        "scenario": cloud.cloud_config(),
                        "scenario-admin": cloud.admin_cloud_config(),
                    }
                }
            )
        )
        yield Target("local", clouds, "scenario", "scenario-admin", local=cloud)


@pytest.fixture(scope="session")
def realstack_target() -> Target:
    clouds = _realstack_clouds()
    problem = _realstack_reachable(clouds)
    if problem is not None:
        if os.environ.get("DECLSTACK_REQUIRE_REALSTACK") == "1":
            pytest.fail(f"DECLSTACK_REQUIRE_REALSTACK=1 but {problem}")
        pytest.skip(problem)
    target = Target("realstack", clouds, "realstack", "realstack-admin", keypair="declstack-test")
    conn = target.connection()
    if conn.compute.find_keypair(target.keypair) is None:
        conn.compute.create_keypair(name=target.keypair)
    return target


@pytest.fixture(
    params=[
        pytest.param("local", marks=pytest.mark.integration),
        pytest.param("realstack", marks=pytest.mark.conformance),
    ]
)
def target(request: pytest.FixtureRequest) -> Target:
    fixture = "local_target" if request.param == "local" else "realstack_target"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


def assert_exited(result: Result, code: int) -> None:
    """The command ended on purpose with exit code `code`, not by a crash.

    typer's CliRunner never prints a traceback: an uncaught exception becomes
    exit code 1 with the exception in `result.exception`. A deliberate exit
    (`typer.Exit(n)`) shows as `SystemExit(n)` there when n != 0, and as None when
    n == 0. So "exit code 1" alone passes on a crash; this does not.
    """
    detail = (
        f"exited {result.exit_code} with {result.exception!r}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    assert result.exit_code == code, detail
    if code == 0:
        assert result.exception is None, detail
    else:
        assert isinstance(result.exception, SystemExit), detail
        assert result.exception.code == code, detail


@dataclass
class Stack:
    """A uniquely named stack on a target, its spec file, and a CLI to drive it."""

    target: Target
    name: str
    path: Path
    runner: CliRunner = field(default_factory=CliRunner)

    def write(self, servers: list[dict[str, Any]], defaults: dict[str, Any] | None = None) -> Path:
        base = {
            "image": self.target.image,
            "flavor": self.target.flavor,
            "networks": [self.target.network],
        }
        base.update(defaults or {})
        doc = {"version": 1, "stack": self.name, "defaults": base, "servers": servers}
        self.path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return self.path

    def run(self, *args: str) -> Result:
        command = [args[0], str(self.path), "--cloud", self.target.cloud, *args[1:]]
        return self.runner.invoke(app, command, env=self.target.env())

    def ok(self, *args: str, code: int = 0) -> Result:
        result = self.run(*args)
        assert result.exit_code == code, (
            f"declstack {' '.join(args)} exited {result.exit_code}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n{result.exception!r}"
        )
        assert_exited(result, code)
        return result

    def live(self) -> list[Any]:
        """Every live server the stack owns, seen through openstacksdk (not declstack)."""
        conn = self.target.connection()
        found = conn.compute.servers(details=True, tags=f"declstack:stack={self.name}")
        return [s for s in found if s.status not in ("DELETED", "SOFT_DELETED")]

    def servers(self) -> dict[str, Any]:
        """name -> server; fails if a name has two servers (use `names()` to count them)."""
        live = self.live()
        duplicated = [name for name, n in self.names().items() if n > 1]
        assert not duplicated, f"duplicate servers for {duplicated}"
        return {s.name: s for s in live}

    def names(self) -> Counter[str]:
        """How many live servers the stack owns per name."""
        return Counter(s.name for s in self.live())


def when_free(delete: Callable[[], object], timeout: float = 60) -> None:
    """Run a Neutron delete, again while it answers 409 "in use": a deleted server's
    port can take a moment to go on the real services."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            delete()
            return
        except ConflictException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def floating_address(stack: Stack, name: str, timeout: float = 30) -> str | None:
    """The floating address Nova shows on server `name` (Neutron tells Nova within
    seconds on the real services), or None once `timeout` has passed."""
    conn = stack.target.connection()
    deadline = time.monotonic() + timeout
    while True:
        server = conn.compute.get_server(stack.servers()[name].id)
        found = [
            a["addr"]
            for entries in server.addresses.values()
            for a in entries
            if a.get("OS-EXT-IPS:type") == "floating"
        ]
        if found or time.monotonic() > deadline:
            return found[0] if found else None
        time.sleep(0.3)


@pytest.fixture
def stack(target: Target, tmp_path: Path) -> Iterator[Stack]:
    the_stack = Stack(target, f"t-{uuid.uuid4().hex[:8]}", tmp_path / "spec.yaml")
    yield the_stack
    if the_stack.path.exists():
        doc = yaml.safe_load(the_stack.path.read_text())
        for server in doc.get("servers", []):
            server.pop("lifecycle", None)
        the_stack.path.write_text(yaml.safe_dump(doc))
        result = the_stack.run("destroy", "--yes")
        assert result.exit_code == 0, result.stdout + result.stderr
