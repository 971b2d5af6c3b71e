"""Golden values of the ownership marker and fingerprint declstack stores on every server.

A CHANGE TO ANY LITERAL HERE REPLACES EVERY SERVER IN EVERY DEPLOYED STACK.

The fingerprint (`declstack:fingerprint`) is compared with the spec on every
plan: if the hashing, the encoding of an attribute, or the order of attributes
changes, every server already running reads as "created from something else"
and is replaced after an upgrade, with every other test still green. The stack
marker (metadata `declstack:stack`, tag `declstack:stack=<stack>`) decides what
declstack owns: a change makes it forget (and never delete) every server it
made, and create them all again. `declstack:managed-metadata` / `-tags` say
which keys and tags declstack may remove.

These literals were computed once from the code (declstack/ownership.py) and
pasted in. Never regenerate them to make a failure go away: a change needs a
migration (read the old format too) and a FINGERPRINT_VERSION bump.

Each spec goes through the pure core exactly as a create does: parse_spec ->
planner.plan (no servers yet: every server is a create) -> resolve with a
catalog -> CreateRequest.metadata / .tags, which are sent to Nova verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from declstack import ownership
from declstack.model import (
    Action,
    Catalog,
    CreateRequest,
    NamedResource,
    ObservedServer,
    frozen_map,
)
from declstack.planner import plan
from declstack.resolve import resolve
from declstack.spec import parse_spec

pytestmark = pytest.mark.unit

CATALOG = Catalog(
    images=(
        NamedResource("img-cirros", "cirros", "active"),
        NamedResource("img-ubuntu", "ubuntu-22.04", "active"),
    ),
    flavors=(NamedResource("1", "m1.tiny"), NamedResource("2", "m1.small")),
    networks=(NamedResource("net-priv", "private"), NamedResource("net-pub", "public")),
    keypairs=(NamedResource("ops", "ops"),),
    security_groups=(NamedResource("sg-default", "default"), NamedResource("sg-web", "web")),
)

CLOUD_INIT = "#cloud-config\npackages: [nginx]\nruncmd:\n  - systemctl start nginx\n"


@dataclass(frozen=True)
class Golden:
    """Exactly the metadata and tags one server's create request carries."""

    metadata: dict[str, str]
    tags: tuple[str, ...]


def create_requests(spec_text: str, base_dir: Path) -> dict[str, CreateRequest]:
    """The create requests the pure core builds for a spec on an empty stack."""
    spec = parse_spec(spec_text, "golden.yaml", environ={}, base_dir=base_dir)
    resolved = resolve(plan(spec, []), CATALOG)
    assert [d for d in resolved.diagnostics if d.severity == "error"] == []
    requests: dict[str, CreateRequest] = {}
    for change in resolved.changes:
        assert change.action is Action.CREATE and change.create is not None, change
        requests[change.name] = change.create
    return requests


SPECS: dict[str, str] = {
    "simple": """
version: 1
stack: demo
servers:
  - name: web
    image: cirros
    flavor: m1.tiny
    networks: [private]
""",
    "count_group": """
version: 1
stack: shop
defaults:
  image: cirros
  flavor: m1.small
  networks: [private]
servers:
  - name: app
    count: 3
""",
    "user_data_file": """
version: 1
stack: demo
servers:
  - name: init
    image: ubuntu-22.04
    flavor: m1.tiny
    networks: none
    user_data: {file: cloud-init.yaml}
""",
    "user_data_inline": """
version: 1
stack: demo
servers:
  - name: inline
    image: cirros
    flavor: m1.tiny
    networks: none
    user_data: |
      #!/bin/sh
      echo hello
""",
    "networks_auto": """
version: 1
stack: demo
servers:
  - name: auto
    image: cirros
    flavor: m1.tiny
    networks: auto
""",
    "networks_none": """
version: 1
stack: demo
servers:
  - name: none
    image: cirros
    flavor: m1.tiny
    networks: none
""",
    "networks_default": """
version: 1
stack: demo
servers:
  - name: implicit
    image: cirros
    flavor: m1.tiny
""",
    "two_networks_security_groups": """
version: 1
stack: demo
servers:
  - name: edge
    image: cirros
    flavor: m1.tiny
    networks: [public, private]
    security_groups: [web, default]
""",
    "key_az_description": """
version: 1
stack: prod-eu
servers:
  - name: bastion
    image: cirros
    flavor: m1.small
    networks: [private]
    key_name: ops
    availability_zone: nova
    description: jump host
""",
    "metadata_and_tags": """
version: 1
stack: demo
defaults:
  image: cirros
  flavor: m1.tiny
  networks: [private]
  metadata: {env: prod}
  tags: [managed]
servers:
  - name: db
    metadata: {role: db, tier: data}
    tags: [db, green]
""",
}

# ---------------------------------------------------------------------------
# A change to any literal below replaces every server in every deployed stack.
# ---------------------------------------------------------------------------

EXPECTED: dict[str, dict[str, Golden]] = {
    "count_group": {
        "app-1": Golden(
            metadata={
                "declstack:stack": "shop",
                "declstack:fingerprint": (
                    "v1;image=48c9ce6395;flavor=30829d72b8;"
                    "key_name=74234e98af;networks=b14926703f;"
                    "security_groups=4f53cda18c;user_data=74234e98af;"
                    "availability_zone=74234e98af"
                ),
                "declstack:managed-metadata": "[]",
                "declstack:managed-tags": "[]",
            },
            tags=("declstack:stack=shop",),
        ),
        "app-2": Golden(
            metadata={
                "declstack:stack": "shop",
                "declstack:fingerprint": (
                    "v1;image=48c9ce6395;flavor=30829d72b8;"
                    "key_name=74234e98af;networks=b14926703f;"
                    "security_groups=4f53cda18c;user_data=74234e98af;"
                    "availability_zone=74234e98af"
                ),
                "declstack:managed-metadata": "[]",
                "declstack:managed-tags": "[]",
            },
            tags=("declstack:stack=shop",),
        ),
        "app-3": Golden(
            metadata={
                "declstack:stack": "shop",
                "declstack:fingerprint": (
                    "v1;image=48c9ce6395;flavor=30829d72b8;"
                    "key_name=74234e98af;networks=b14926703f;"
                    "security_groups=4f53cda18c;user_data=74234e98af;"
                    "availability_zone=74234e98af"
                ),
                "declstack:managed-metadata": "[]",
                "declstack:managed-tags": "[]",
            },
            tags=("declstack:stack=shop",),
        ),
    },
    "key_az_description": {
        "bastion": Golden(
            metadata={
                "declstack:stack": "prod-eu",
                "declstack:fingerprint": (
                    "v1;image=48c9ce6395;flavor=30829d72b8;"
                    "key_name=145d8954ca;networks=b14926703f;"
                    "security_groups=4f53cda18c;user_data=74234e98af;"
                    "availability_zone=2e8aeca124"
                ),
                "declstack:managed-metadata": "[]",
                "declstack:managed-tags": "[]",
            },
            tags=("declstack:stack=prod-eu",),
        ),
    },
    "metadata_and_tags": {
        "db": Golden(
            metadata={
                "env": "prod",
                "role": "db",
                "tier": "data",
                "declstack:stack": "demo",
                "declstack:fingerprint": (
                    "v1;image=48c9ce6395;flavor=3691129630;"
                    "key_name=74234e98af;networks=b14926703f;"
                    "security_groups=4f53cda18c;user_data=74234e98af;"
                    "availability_zone=74234e98af"
                ),
                "declstack:managed-metadata": '["env","role","tier"]',
                "declstack:managed-tags": '["db","green","managed"]',
            },
            tags=("managed", "db", "green", "declstack:stack=demo"),
        ),
    },
    "networks_auto": {
        "auto": Golden(
            metadata={
                "declstack:stack": "demo",
                "declstack:fingerprint": (
                    "v1;image=48c9ce6395;flavor=3691129630;"
                    "key_name=74234e98af;networks=634635a216;"
                    "security_groups=4f53cda18c;user_data=74234e98af;"
                    "availability_zone=74234e98af"
                ),
                "declstack:managed-metadata": "[]",
                "declstack:managed-tags": "[]",
            },
            tags=("declstack:stack=demo",),
        ),
    },
    "networks_default": {
        "implicit": Golden(
            metadata={
                "declstack:stack": "demo",
                "declstack:fingerprint": (
                    "v1;image=48c9ce6395;flavor=3691129630;"
                    "key_name=74234e98af;networks=634635a216;"
                    "security_groups=4f53cda18c;user_data=74234e98af;"
                    "availability_zone=74234e98af"
                ),
                "declstack:managed-metadata": "[]",
                "declstack:managed-tags": "[]",
            },
            tags=("declstack:stack=demo",),
        ),
    },
    "networks_none": {
        "none": Golden(
            metadata={
                "declstack:stack": "demo",
                "declstack:fingerprint": (
                    "v1;image=48c9ce6395;flavor=3691129630;"
                    "key_name=74234e98af;networks=30a0924a33;"
                    "security_groups=4f53cda18c;user_data=74234e98af;"
                    "availability_zone=74234e98af"
                ),
                "declstack:managed-metadata": "[]",
                "declstack:managed-tags": "[]",
            },
            tags=("declstack:stack=demo",),
        ),
    },
    "simple": {
        "web": Golden(
            metadata={
                "declstack:stack": "demo",
                "declstack:fingerprint": (
                    "v1;image=48c9ce6395;flavor=3691129630;"
                    "key_name=74234e98af;networks=b14926703f;"
                    "security_groups=4f53cda18c;user_data=74234e98af;"
                    "availability_zone=74234e98af"
                ),
                "declstack:managed-metadata": "[]",
                "declstack:managed-tags": "[]",
            },
            tags=("declstack:stack=demo",),
        ),
    },
    "two_networks_security_groups": {
        "edge": Golden(
            metadata={
                "declstack:stack": "demo",
                "declstack:fingerprint": (
                    "v1;image=48c9ce6395;flavor=3691129630;"
                    "key_name=74234e98af;networks=9a0d8d56dd;"
                    "security_groups=78aed70e4f;user_data=74234e98af;"
                    "availability_zone=74234e98af"
                ),
                "declstack:managed-metadata": "[]",
                "declstack:managed-tags": "[]",
            },
            tags=("declstack:stack=demo",),
        ),
    },
    "user_data_file": {
        "init": Golden(
            metadata={
                "declstack:stack": "demo",
                "declstack:fingerprint": (
                    "v1;image=c664eadc1b;flavor=3691129630;"
                    "key_name=74234e98af;networks=30a0924a33;"
                    "security_groups=4f53cda18c;user_data=6b879db9c8;"
                    "availability_zone=74234e98af"
                ),
                "declstack:managed-metadata": "[]",
                "declstack:managed-tags": "[]",
            },
            tags=("declstack:stack=demo",),
        ),
    },
    "user_data_inline": {
        "inline": Golden(
            metadata={
                "declstack:stack": "demo",
                "declstack:fingerprint": (
                    "v1;image=48c9ce6395;flavor=3691129630;"
                    "key_name=74234e98af;networks=30a0924a33;"
                    "security_groups=4f53cda18c;user_data=36484f6268;"
                    "availability_zone=74234e98af"
                ),
                "declstack:managed-metadata": "[]",
                "declstack:managed-tags": "[]",
            },
            tags=("declstack:stack=demo",),
        ),
    },
}


def test_every_spec_has_golden_values() -> None:
    assert sorted(EXPECTED) == sorted(SPECS)


@pytest.mark.parametrize("case", sorted(SPECS))
def test_create_request_carries_the_golden_marker(case: str, tmp_path: Path) -> None:
    """Metadata and tags of each create request, compared whole (a new key fails too)."""
    (tmp_path / "cloud-init.yaml").write_text(CLOUD_INIT)
    requests = create_requests(SPECS[case], tmp_path)
    expected = EXPECTED[case]
    assert sorted(requests) == sorted(expected)
    for name, golden in expected.items():
        assert dict(requests[name].metadata) == golden.metadata, name
        assert requests[name].tags == golden.tags, name


def test_ownership_constants_are_the_stored_names() -> None:
    """The key and tag names themselves, as every deployed server carries them."""
    assert ownership.STACK_KEY == "declstack:stack"
    assert ownership.FINGERPRINT_KEY == "declstack:fingerprint"
    assert ownership.MANAGED_METADATA_KEY == "declstack:managed-metadata"
    assert ownership.MANAGED_TAGS_KEY == "declstack:managed-tags"
    assert ownership.stack_tag("demo") == "declstack:stack=demo"
    assert ownership.FINGERPRINT_VERSION == "v1"


def test_servers_created_from_the_golden_values_plan_no_change(tmp_path: Path) -> None:
    """The other direction: a server that carries these literals (as one created by an
    earlier release does) is recognised as the stack's and left alone."""
    (tmp_path / "cloud-init.yaml").write_text(CLOUD_INIT)
    for case, spec_text in sorted(SPECS.items()):
        spec = parse_spec(spec_text, "golden.yaml", environ={}, base_dir=tmp_path)
        by_name = {s.name: s for s in spec.servers}
        observed = [
            ObservedServer(
                id=f"id-{name}",
                name=name,
                status="ACTIVE",
                metadata=frozen_map(golden.metadata),
                tags=golden.tags,
                description=by_name[name].description,
                flavor_name=by_name[name].flavor,
            )
            for name, golden in EXPECTED[case].items()
        ]
        the_plan = plan(spec, observed)
        actions = {c.name: c.action for c in the_plan.changes}
        assert actions == dict.fromkeys(EXPECTED[case], Action.NOOP), (case, the_plan.changes)
