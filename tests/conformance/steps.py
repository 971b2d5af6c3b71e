"""The differential request sequence: what declstack, `openstack` and Ansible send, in order.

Names are prefixed with the run id (`{run}`) so that the listings only see this
run's servers even when others use the same project. Both clouds are expected
to carry the realstack bootstrap: flavors m1.nano..m1.large (ids 1-5), a public
image `cirros` and a shared network `private`.
"""

from __future__ import annotations

import uuid

from tests.conformance.rawcloud import JSON
from tests.conformance.sequence import SDK_MV, Poll, Step

__all__ = ["STEPS", "Step"]

ACTIVE = Poll(path="server.status", until=("ACTIVE", "ERROR"), timeout=90)
GONE = Poll(path="server.OS-EXT-STS:task_state", until_status=404, timeout=60, interval=0.1)


def _create(
    name: str,
    networks: object,
    tags: list[str],
    save: str,
    why: str,
    metadata: dict[str, str] | None = None,
) -> Step:
    server: dict[str, object] = {
        "name": name,
        "imageRef": "{image_id}",
        "flavorRef": "1",
        "networks": networks,
        "tags": tags,
    }
    if metadata is not None:
        server["metadata"] = metadata
    return Step(
        f"server-create-{save}",
        "POST",
        "compute",
        "/servers",
        "2.52",
        body={"server": server},
        save={save: "server.id"},
        why=why,
    )


def _wait(var: str) -> Step:
    return Step(
        f"server-wait-active-{var}",
        "GET",
        "compute",
        "/servers/{" + var + "}",
        "2.47",
        poll=ACTIVE,
        why="what a client polls until ACTIVE (2.47 body)",
    )


KEY_1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO1tjb1+0lO+Mf5bOwtk2e67QRASP+VTMnn8oNcI5VS3 dsd-k1"
KEY_2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAyc21FtbmuX0KGKUrbGJ0dQMmBfRgcx20RqObscEkKM dsd-k2"
"""Two fixed OpenSSH public keys (no private half kept): the fingerprint is compared exactly."""

_FLOATING = "server.addresses.private.[OS-EXT-IPS:type=floating].OS-EXT-IPS:type"
FLOATING_SHOWN = Poll(path=_FLOATING, until=("floating",), timeout=20, interval=0.2)
"""Real Nova lists an associated floating IP 0.3-2.3 s after Neutron's 200 (Neutron batches
its network-changed event every 2 s): a client polls the server until it is there."""
FLOATING_GONE = Poll(path=_FLOATING, until=("<absent>",), timeout=20, interval=0.2)

_RULE = {
    "direction": "ingress",
    "ethertype": "IPv4",
    "protocol": "tcp",
    "remote_ip_prefix": "0.0.0.0/0",
}

SECURITY_GROUP_STEPS: tuple[Step, ...] = (
    Step(
        "secgroup-create",
        "POST",
        "network",
        "/v2.0/security-groups",
        body={"security_group": {"name": "{run}-web", "description": "declstack web"}},
        save={"sg_web": "security_group.id"},
        sort=(("security_group.security_group_rules", "ethertype"),),
        why="201 with two default egress rules (IPv4, IPv6)",
    ),
    Step(
        "secgroup-tags-replace",
        "PUT",
        "network",
        "/v2.0/security-groups/{sg_web}/tags",
        body={"tags": ["stack={run}", "managed-by=declstack"]},
        why="replace all tags: 200, echoed in the order sent",
    ),
    Step(
        "secgroup-list-by-tags",
        "GET",
        "network",
        "/v2.0/security-groups?tags=stack%3D{run}",
        fields=(
            "security_groups.#",
            "security_groups.*.name",
            "security_groups.*.tags|sorted",
            "security_groups.*.security_group_rules.#",
        ),
        why="the run's groups found by tag (declstack's listing)",
    ),
    Step(
        "secgroup-rules-bulk-create",
        "POST",
        "network",
        "/v2.0/security-group-rules",
        body={
            "security_group_rules": [
                {**_RULE, "security_group_id": "{sg_web}", "port_range_min": p, "port_range_max": p}
                for p in (22, 80)
            ]
        },
        save={
            "rule_ssh": "security_group_rules.[port_range_min=22].id",
            "rule_http": "security_group_rules.[port_range_min=80].id",
        },
        sort=(("security_group_rules", "port_range_min"),),
        why="bulk create: 201 with every rule",
    ),
    Step(
        "secgroup-rule-duplicate",
        "POST",
        "network",
        "/v2.0/security-group-rules",
        body={
            "security_group_rule": {
                **_RULE,
                "security_group_id": "{sg_web}",
                "port_range_min": 22,
                "port_range_max": 22,
            }
        },
        why="409 SecurityGroupRuleExists naming the existing rule",
    ),
    Step(
        "secgroup-rule-delete",
        "DELETE",
        "network",
        "/v2.0/security-group-rules/{rule_http}",
        why="204",
    ),
    Step(
        "secgroup-show-after-rule-delete",
        "GET",
        "network",
        "/v2.0/security-groups/{sg_web}",
        # Neutron's rule order varies between runs: direction, then ethertype (stable sorts)
        sort=(
            ("security_group.security_group_rules", "ethertype"),
            ("security_group.security_group_rules", "direction"),
        ),
        fields=(
            "security_group.security_group_rules.#",
            "security_group.security_group_rules.*.direction",
            "security_group.security_group_rules.*.port_range_min",
            "security_group.tags|sorted",
        ),
        keys=("security_group", "security_group.security_group_rules.0"),
        why="the group's rules: two egress and the ssh rule",
    ),
    Step(
        "server-add-secgroup",
        "POST",
        "compute",
        "/servers/{srv_a}/action",
        SDK_MV,
        body={"addSecurityGroup": {"name": "{run}-web"}},
        why="202, no body",
    ),
    Step(
        "server-add-secgroup-again",
        "POST",
        "compute",
        "/servers/{srv_a}/action",
        SDK_MV,
        body={"addSecurityGroup": {"name": "{run}-web"}},
        why="400: Neutron's duplicate-items message passed through",
    ),
    Step(
        "server-show-secgroups",
        "GET",
        "compute",
        "/servers/{srv_a}",
        SDK_MV,
        fields=("server.security_groups.*.name|sorted",),
        why="both groups at once (no delay)",
    ),
    Step(
        "secgroup-delete-in-use",
        "DELETE",
        "network",
        "/v2.0/security-groups/{sg_web}",
        why="409 SecurityGroupInUse while a port has it",
    ),
    Step(
        "server-remove-secgroup",
        "POST",
        "compute",
        "/servers/{srv_a}/action",
        SDK_MV,
        body={"removeSecurityGroup": {"name": "{run}-web"}},
        why="202, no body",
    ),
    Step(
        "server-remove-secgroup-again",
        "POST",
        "compute",
        "/servers/{srv_a}/action",
        SDK_MV,
        body={"removeSecurityGroup": {"name": "{run}-web"}},
        why="404: not associated with the instance",
    ),
    Step(
        "secgroup-delete",
        "DELETE",
        "network",
        "/v2.0/security-groups/{sg_web}",
        why="204 once no port uses it",
    ),
    Step(
        "secgroup-list-after-delete",
        "GET",
        "network",
        "/v2.0/security-groups?tags=stack%3D{run}",
        why="nothing of the run is left",
    ),
)
"""declstack's security group kind: create, tag, rules, attach to a server, delete."""

FLOATING_IP_STEPS: tuple[Step, ...] = (
    Step(
        "networks-external",
        "GET",
        "network",
        "/v2.0/networks?router:external=True",
        save={"public_id": "networks.[name=public].id"},
        fields=(
            "networks.*.name|sorted",
            "networks.*.router:external",
            "networks.*.shared",
        ),
        keys=("networks.0",),
        why="where floating IPs come from (declstack resolves `public`)",
    ),
    Step(
        "floatingip-create",
        "POST",
        "network",
        "/v2.0/floatingips",
        body={"floatingip": {"floating_network_id": "{public_id}"}},
        save={"fip_id": "floatingip.id"},
        why="201, the 15 keys, status DOWN",
    ),
    Step(
        "floatingip-tags-replace",
        "PUT",
        "network",
        "/v2.0/floatingips/{fip_id}/tags",
        body={"tags": ["stack={run}", "managed-by=declstack"]},
        why="tags after creating (POST refuses them)",
    ),
    Step(
        "floatingip-list-by-tags",
        "GET",
        "network",
        "/v2.0/floatingips?tags=stack%3D{run}",
        why="the run's floating IPs found by tag",
    ),
    Step(
        "floatingip-associate",
        "PUT",
        "network",
        "/v2.0/floatingips/{fip_id}",
        body={"floatingip": {"port_id": "{port_a}"}},
        why="200 with fixed_ip_address, router_id and port_details; still DOWN",
    ),
    Step(
        "server-wait-floating-shown",
        "GET",
        "compute",
        "/servers/{srv_a}",
        SDK_MV,
        poll=FLOATING_SHOWN,
        fields=("server.addresses",),
        why="Nova shows the floating entry 0.3-2.3 s later: a client polls",
    ),
    Step(
        "floatingip-disassociate",
        "PUT",
        "network",
        "/v2.0/floatingips/{fip_id}",
        body={"floatingip": {"port_id": None}},
        why="200, port fields null, the IP stays allocated",
    ),
    Step(
        "server-wait-floating-gone",
        "GET",
        "compute",
        "/servers/{srv_a}",
        SDK_MV,
        poll=FLOATING_GONE,
        fields=("server.addresses",),
        why="until Nova no longer lists it",
    ),
    Step("floatingip-delete", "DELETE", "network", "/v2.0/floatingips/{fip_id}", why="204"),
    Step(
        "floatingip-list-after-delete",
        "GET",
        "network",
        "/v2.0/floatingips?tags=stack%3D{run}",
        why="nothing of the run is left",
    ),
    Step(
        "floatingip-create-not-external",
        "POST",
        "network",
        "/v2.0/floatingips",
        body={"floatingip": {"floating_network_id": "{network_id}"}},
        why="400 on `private`: not a valid external network",
    ),
)
"""declstack's floating IP kind: allocate on `public`, tag, associate, disassociate, delete."""

KEYPAIR_STEPS: tuple[Step, ...] = (
    Step(
        "keypair-import-2.2",
        "POST",
        "compute",
        "/os-keypairs",
        "2.2",
        body={"keypair": {"name": "{run}-k1", "public_key": KEY_1}},
        why="import at 2.2+: 201 with type and the key's fingerprint",
    ),
    Step(
        "keypair-import-2.92",
        "POST",
        "compute",
        "/os-keypairs",
        "2.92",
        body={"keypair": {"name": "{run}-k2@x.y", "public_key": KEY_2, "type": "ssh"}},
        why="import at 2.92 (public_key required, '@' and '.' allowed in names)",
    ),
    Step(
        "keypair-import-duplicate",
        "POST",
        "compute",
        "/os-keypairs",
        "2.92",
        body={"keypair": {"name": "{run}-k1", "public_key": KEY_2}},
        why="409: the name is taken",
    ),
    Step(
        "keypair-list-page",
        "GET",
        "compute",
        "/os-keypairs?limit=1&marker={run}-k1",
        "2.35",
        why="paging by name from 2.35: one key, a next link with the last name",
    ),
    Step(
        "keypair-delete-1",
        "DELETE",
        "compute",
        "/os-keypairs/{run}-k1",
        SDK_MV,
        why="204",
    ),
    Step(
        "keypair-delete-2",
        "DELETE",
        "compute",
        "/os-keypairs/{run}-k2@x.y",
        SDK_MV,
        why="204",
    ),
    Step(
        "keypair-delete-missing",
        "DELETE",
        "compute",
        "/os-keypairs/{run}-k1",
        SDK_MV,
        why="404 once gone",
    ),
)
"""declstack's key pair kind: import, the duplicate, paged list, delete."""

FIXED_IP_STEPS: tuple[Step, ...] = (
    Step(
        "network-create-own",
        "POST",
        "network",
        "/v2.0/networks",
        body={"network": {"name": "{run}-own"}},
        save={"own_net": "network.id"},
        fields=("network.name", "network.shared", "network.router:external", "network.status"),
        keys=("network",),
        why="a network the project owns: only there may a tenant choose a fixed IP",
    ),
    Step(
        "subnet-create-own",
        "POST",
        "network",
        "/v2.0/subnets",
        body={
            "subnet": {
                "name": "{run}-own",
                "network_id": "{own_net}",
                "cidr": "192.168.77.0/24",
                "ip_version": 4,
            }
        },
        save={"own_subnet": "subnet.id"},
        why="201, its body",
    ),
    Step(
        "server-create-srv_d",
        "POST",
        "compute",
        "/servers",
        "2.52",
        body={
            "server": {
                "name": "{run}-fixed",
                "imageRef": "{image_id}",
                "flavorRef": "1",
                "networks": [{"uuid": "{own_net}", "fixed_ip": "192.168.77.50"}],
                "config_drive": True,
                "tags": ["stack={run}"],
            }
        },
        save={"srv_d": "server.id"},
        why="a chosen fixed IP on the project's network, with a config drive",
    ),
    _wait("srv_d"),
    Step(
        "server-show-fixed",
        "GET",
        "compute",
        "/servers/{srv_d}",
        SDK_MV,
        fields=(
            "server.status",
            "server.addresses",
            "server.config_drive",
            "server.security_groups",
        ),
        why="the fixed IP as asked and config_drive read back",
    ),
    Step(
        "server-create-fixed-in-use",
        "POST",
        "compute",
        "/servers",
        "2.52",
        body={
            "server": {
                "name": "{run}-fixed-2",
                "imageRef": "{image_id}",
                "flavorRef": "1",
                "networks": [{"uuid": "{own_net}", "fixed_ip": "192.168.77.50"}],
            }
        },
        why="400 FixedIpAlreadyInUse, before anything is created",
    ),
    Step("server-delete-d", "DELETE", "compute", "/servers/{srv_d}", why="204"),
    Step(
        "server-wait-gone-d",
        "GET",
        "compute",
        "/servers/{srv_d}",
        SDK_MV,
        poll=GONE,
        why="until 404",
    ),
    Step(
        "subnet-delete-own",
        "DELETE",
        "network",
        "/v2.0/subnets/{own_subnet}",
        why="204 once the server's port is gone",
    ),
    Step(
        "network-delete-own",
        "DELETE",
        "network",
        "/v2.0/networks/{own_net}",
        why="204",
    ),
    Step(
        "network-list-own-after-delete",
        "GET",
        "network",
        "/v2.0/networks?name={run}-own",
        why="nothing of the run is left",
    ),
)
"""A server with `networks: [{uuid, fixed_ip}]` on a network the project owns."""


LOCK_IMAGE_ID = str(uuid.uuid4())
"""The client-chosen image id, new for every run (process): Glance refuses an id that
exists or ever existed, so a capture run and later live runs must not share one."""

JSON_PATCH = "application/openstack-images-v2.1-json-patch"
_LOCK_IMAGE = {
    "id": LOCK_IMAGE_ID,
    "name": "{run}-lock",
    "visibility": "private",
    "os_hidden": True,
    "tags": ["declstack-lock", "{run}"],
    "declstack_stack": "{run}",
}
_IMAGE_FIELDS = (
    "id",
    "name",
    "status",
    "visibility",
    "owner",
    "protected",
    "os_hidden",
    "disk_format",
    "container_format",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "min_disk",
    "min_ram",
    "self",
    "file",
    "schema",
    "created_at",
    "updated_at",
    "declstack_stack",
    "declstack_holder",
    "tags|sorted",  # Glance keeps tags in a set: their order varies by run
)

IMAGE_WRITE_STEPS: tuple[Step, ...] = (
    Step(
        "image-create-with-id",
        "POST",
        "image",
        "/v2/images",
        body=_LOCK_IMAGE,
        save={"lock_image": "id"},
        fields=_IMAGE_FIELDS,
        keys=("",),
        why="201 queued with the id asked for: how a per-stack lock is taken",
    ),
    Step(
        "image-create-same-id",
        "POST",
        "image",
        "/v2/images",
        body=_LOCK_IMAGE,
        why="409 Image ID ... already exists!: one winner per id",
    ),
    Step(
        "image-patch-not-json-patch",
        "PATCH",
        "image",
        "/v2/images/{lock_image}",
        body=[{"op": "replace", "path": "/name", "value": "{run}-x"}],
        why="415 with Accept-Patch: a PATCH must be JSON patch",
    ),
    Step(
        "image-patch-property",
        "PATCH",
        "image",
        "/v2/images/{lock_image}",
        body=[
            {"op": "add", "path": "/declstack_holder", "value": "{run}-holder"},
            {"op": "replace", "path": "/name", "value": "{run}-lock-held"},
            {"op": "replace", "path": "/protected", "value": True},
        ],
        content_type=JSON_PATCH,
        fields=_IMAGE_FIELDS,
        keys=("",),
        why="200: a property added, the name replaced, protected",
    ),
    Step(
        "image-patch-remove-missing",
        "PATCH",
        "image",
        "/v2/images/{lock_image}",
        body=[{"op": "remove", "path": "/declstack_absent"}],
        content_type=JSON_PATCH,
        why="409 Property ... does not exist.",
    ),
    Step(
        "image-list-by-tag-hidden",
        "GET",
        "image",
        "/v2/images?tag=declstack-lock&tag={run}&os_hidden=true",
        fields=(
            "images.#",
            "images.*.id",
            "images.*.name",
            "images.*.declstack_holder",
            "images.0.tags|sorted",
            "first",
            "next",
        ),
        why="every tag must match; hidden images only with os_hidden=true",
    ),
    Step(
        "image-list-by-tag",
        "GET",
        "image",
        "/v2/images?tag={run}",
        fields=("images.#", "first"),
        why="a hidden image is left out of a plain list",
    ),
    Step(
        "image-list-by-property",
        "GET",
        "image",
        "/v2/images?declstack_holder={run}-holder&os_hidden=true",
        fields=("images.#", "images.*.id"),
        why="any other query parameter filters on a property",
    ),
    Step(
        "image-delete-protected",
        "DELETE",
        "image",
        "/v2/images/{lock_image}",
        why="403 ... is protected and cannot be deleted.",
    ),
    Step(
        "image-unprotect",
        "PATCH",
        "image",
        "/v2/images/{lock_image}",
        body=[{"op": "replace", "path": "/protected", "value": False}],
        content_type=JSON_PATCH,
        fields=("protected", "name"),
        why="200",
    ),
    Step("image-delete", "DELETE", "image", "/v2/images/{lock_image}", why="204"),
    Step("image-show-deleted", "GET", "image", "/v2/images/{lock_image}", why="404"),
    Step(
        "image-delete-again",
        "DELETE",
        "image",
        "/v2/images/{lock_image}",
        why="404 Failed to find image ... to delete",
    ),
    Step(
        "image-create-deleted-id",
        "POST",
        "image",
        "/v2/images",
        body=_LOCK_IMAGE,
        why="409: a deleted image's id can never be used again",
    ),
)
"""Glance image writes with a client-chosen id (declstack's per-stack lock)."""


def _grouped(index: int) -> Step:
    return Step(
        f"server-create-grouped-{index}",
        "POST",
        "compute",
        "/servers",
        "2.52",
        body={
            "server": {
                "name": f"{{run}}-grp-{index}",
                "imageRef": "{image_id}",
                "flavorRef": "1",
                "networks": "auto",
            },
            "os:scheduler_hints": {"group": "{grp_anti}"},
        },
        save={f"srv_g{index}": "server.id"},
        why="create into an anti-affinity group (scheduler hint)",
    )


def _settle(name: str, var: str, until: tuple[str, ...], why: str) -> Step:
    return Step(
        name,
        "GET",
        "compute",
        "/servers/{" + var + "}",
        SDK_MV,
        poll=Poll(path="server.status", until=until, timeout=90, interval=0.1),
        fields=(
            "server.status",
            "server.OS-EXT-STS:vm_state",
            "server.OS-EXT-STS:task_state",
            "server.OS-EXT-STS:power_state",
            "server.flavor.original_name",
            "server.fault.message",
            "server.fault.code",
            "server.server_groups",
            "server.scheduler_hints",
        ),
        why=why,
    )


def _act(name: str, var: str, body: JSON, why: str, microversion: str = "2.1") -> Step:
    return Step(
        name, "POST", "compute", "/servers/{" + var + "}/action", microversion, body, why=why
    )


COMPUTE_HOST_STEPS: tuple[Step, ...] = (
    Step(
        "servergroup-create-2.1",
        "POST",
        "compute",
        "/os-server-groups",
        "2.1",
        body={"server_group": {"name": "{run}-old", "policies": ["affinity"]}},
        save={"grp_old": "server_group.id"},
        why="200 (not 201): policies and an empty metadata before 2.64",
    ),
    Step(
        "servergroup-create",
        "POST",
        "compute",
        "/os-server-groups",
        "2.64",
        body={"server_group": {"name": "{run}-anti", "policy": "anti-affinity"}},
        save={"grp_anti": "server_group.id"},
        why="200: policy and rules from 2.64, project and user ids",
    ),
    Step(
        "servergroup-create-soft-before-2.15",
        "POST",
        "compute",
        "/os-server-groups",
        "2.14",
        body={"server_group": {"name": "{run}-x", "policies": ["soft-affinity"]}},
        why="400: soft policies need 2.15",
    ),
    Step(
        "servergroup-create-bad-policy",
        "POST",
        "compute",
        "/os-server-groups",
        "2.64",
        body={"server_group": {"name": "{run}-x", "policy": "bogus"}},
        why="400: policy not one of the four",
    ),
    Step(
        "servergroup-create-rules-not-anti",
        "POST",
        "compute",
        "/os-server-groups",
        "2.64",
        body={
            "server_group": {
                "name": "{run}-x",
                "policy": "affinity",
                "rules": {"max_server_per_host": 2},
            }
        },
        why="400: only anti-affinity takes rules",
    ),
    Step(
        "servergroup-list",
        "GET",
        "compute",
        "/os-server-groups",
        "2.64",
        fields=(
            "server_groups.[name={run}-anti].policy",
            "server_groups.[name={run}-anti].rules",
            "server_groups.[name={run}-anti].members",
            "server_groups.[name={run}-old].policy",
        ),
        keys=("server_groups.[name={run}-anti]",),
        why="the project's groups (others share the project: only this run's are compared)",
    ),
    Step(
        "servergroup-show-2.13",
        "GET",
        "compute",
        "/os-server-groups/{grp_old}",
        "2.13",
        why="policies, metadata, project and user ids between 2.13 and 2.63",
    ),
    Step(
        "servergroup-show-missing",
        "GET",
        "compute",
        "/os-server-groups/{missing_id}",
        "2.64",
        why="404 Instance group ... could not be found.",
    ),
    Step(
        "servergroup-delete-old",
        "DELETE",
        "compute",
        "/os-server-groups/{grp_old}",
        "2.64",
        why="204",
    ),
    Step(
        "server-create-unknown-group",
        "POST",
        "compute",
        "/servers",
        "2.52",
        body={
            "server": {
                "name": "{run}-bad",
                "imageRef": "{image_id}",
                "flavorRef": "1",
                "networks": "none",
            },
            "os:scheduler_hints": {"group": "{missing_id}"},
        },
        why="400: the group hint names no group",
    ),
    *(
        step
        for i in (1, 2, 3, 4)
        for step in (
            _grouped(i),
            _settle(
                f"server-wait-grouped-{i}",
                f"srv_g{i}",
                ("ACTIVE", "ERROR"),
                "one member per host (each created once the one before is placed); the 4th"
                " of 3 hosts ends in ERROR with Nova's fault",
            ),
        )
    ),
    Step(
        "servergroup-show-members",
        "GET",
        "compute",
        "/os-server-groups/{grp_anti}",
        "2.64",
        fields=("server_group.members.#",),
        why="members include the server in ERROR",
    ),
    _act("server-stop-unscheduled", "srv_g4", {"os-stop": None}, "409: not ready (no host)"),
    _act(
        "server-rebuild-never-launched",
        "srv_g4",
        {"rebuild": {"imageRef": "{image_id}"}},
        "409: invalid state for 'rebuild' (never launched)",
    ),
    _act("server-resize-error", "srv_g4", {"resize": {"flavorRef": "2"}}, "409: vm_state error"),
    _act("server-resize-same-flavor", "srv_g1", {"resize": {"flavorRef": "1"}}, "400"),
    _act("server-resize-unknown-flavor", "srv_g1", {"resize": {"flavorRef": "999"}}, "400"),
    _act("server-resize-no-flavor", "srv_g1", {"resize": {}}, "400: flavorRef required"),
    _act("server-confirm-not-resized", "srv_g1", {"confirmResize": None}, "409: vm_state active"),
    _act("server-resize", "srv_g1", {"resize": {"flavorRef": "2"}}, "202, no body"),
    _settle(
        "server-wait-verify-resize",
        "srv_g1",
        ("VERIFY_RESIZE", "ERROR"),
        "RESIZE, then VERIFY_RESIZE with the new flavor (its own host is allowed)",
    ),
    _act("server-start-resized", "srv_g1", {"os-start": None}, "409: vm_state resized"),
    _act("server-confirm-resize", "srv_g1", {"confirmResize": None}, "204"),
    _settle("server-wait-confirmed", "srv_g1", ("ACTIVE", "ERROR"), "ACTIVE on the new flavor"),
    _act("server-resize-back", "srv_g1", {"resize": {"flavorRef": "1"}}, "202"),
    _settle("server-wait-verify-back", "srv_g1", ("VERIFY_RESIZE", "ERROR"), "VERIFY_RESIZE"),
    _act("server-revert-resize", "srv_g1", {"revertResize": None}, "202"),
    _settle(
        "server-wait-reverted", "srv_g1", ("ACTIVE", "ERROR"), "REVERT_RESIZE, then the old flavor"
    ),
    Step(
        "server-rebuild",
        "POST",
        "compute",
        "/servers/{srv_g1}/action",
        "2.1",
        body={
            "rebuild": {"imageRef": "{image_id}", "name": "{run}-rebuilt", "metadata": {"k": "v"}}
        },
        fields=(
            "server.status",
            "server.name",
            "server.metadata",
            "server.image.id",
            "server.addresses.private.*.version",
        ),
        keys=("server",),
        why="202 with the short server view (before 2.75) and adminPass",
    ),
    _settle("server-wait-rebuilt", "srv_g1", ("ACTIVE", "ERROR"), "REBUILD, then ACTIVE"),
    _act(
        "server-rebuild-unknown-image",
        "srv_g1",
        {"rebuild": {"imageRef": "{missing_id}"}},
        "400 Cannot find image for rebuild",
    ),
    _act("server-stop", "srv_g1", {"os-stop": None}, "202"),
    _settle("server-wait-stopped", "srv_g1", ("SHUTOFF", "ERROR"), "powering-off, then SHUTOFF"),
    _act("server-stop-stopped", "srv_g1", {"os-stop": None}, "409: vm_state stopped"),
    _act("server-start", "srv_g1", {"os-start": None}, "202"),
    _settle("server-wait-started", "srv_g1", ("ACTIVE", "ERROR"), "powering-on, then ACTIVE"),
    Step(
        "hypervisors-as-tenant",
        "GET",
        "compute",
        "/os-hypervisors",
        "2.53",
        why="403: the admin view is for admins",
    ),
    Step("services-as-tenant", "GET", "compute", "/os-services", "2.53", why="403"),
    Step(
        "servergroup-delete-with-members",
        "DELETE",
        "compute",
        "/os-server-groups/{grp_anti}",
        "2.64",
        why="204: the servers stay",
    ),
    _settle(
        "server-show-group-deleted",
        "srv_g2",
        ("ACTIVE", "ERROR"),
        "server_groups [] and no group hint once the group is gone",
    ),
    *(
        Step(f"server-delete-grouped-{i}", "DELETE", "compute", f"/servers/{{srv_g{i}}}", why="204")
        for i in (1, 2, 3, 4)
    ),
    *(
        Step(
            f"server-wait-gone-grouped-{i}",
            "GET",
            "compute",
            f"/servers/{{srv_g{i}}}",
            SDK_MV,
            poll=GONE,
            why="until 404",
        )
        for i in (1, 2, 3, 4)
    ),
)
"""Server groups over realstack's 3 compute hosts, resize, rebuild, stop and start."""


VOLUME_READY = Poll(path="volume.status", until=("available", "error"), timeout=60, interval=0.1)
VOLUME_IN_USE = Poll(path="volume.status", until=("in-use", "error"), timeout=60, interval=0.1)
VOLUME_GONE = Poll(path="volume.status", until_status=404, timeout=60, interval=0.1)
_VOLUME_FIELDS = (
    "volume.name",
    "volume.status",
    "volume.size",
    "volume.volume_type",
    "volume.metadata",
    "volume.bootable",
    "volume.encrypted",
    "volume.multiattach",
    "volume.availability_zone",
    "volume.attachments.*.server_id",
    "volume.attachments.*.volume_id",
    "volume.attachments.*.device",
    "volume.attachments.*.host_name",
)
_VOLUME = "/volumes/{vol}"
_ATTACHMENTS = "/servers/{srv_v}/os-volume_attachments"


def _volume_action(name: str, body: JSON, why: str, microversion: str | None = None) -> Step:
    return Step(name, "POST", "block-storage", _VOLUME + "/action", microversion, body, why=why)


def _volume_show(name: str, poll: Poll, why: str, microversion: str | None = None) -> Step:
    return Step(
        name,
        "GET",
        "block-storage",
        _VOLUME,
        microversion,
        poll=poll,
        fields=_VOLUME_FIELDS,
        keys=("volume",),
        why=why,
    )


VOLUME_STEPS: tuple[Step, ...] = (
    Step(
        "volume-versions",
        "GET",
        "block-storage",
        "@root/",
        why="300: Cinder's one version v3.0, 3.0 to 3.71",
    ),
    Step(
        "volume-types",
        "GET",
        "block-storage",
        "/types",
        fields=(
            "volume_types.*.name|sorted",
            "volume_types.[name=standard].is_public",
            "volume_types.[name=standard].os-volume-type-access:is_public",
        ),
        keys=("volume_types.[name=standard]",),
        why="the operator's types (descriptions and extra specs are the deployment's own)",
    ),
    Step(
        "volume-create",
        "POST",
        "block-storage",
        "/volumes",
        body={
            "volume": {
                "size": 1,
                "name": "{run}-data",
                "metadata": {"declstack:stack": "{run}"},
                "volume_type": "standard",
            }
        },
        save={"vol": "volume.id"},
        fields=_VOLUME_FIELDS,
        keys=("volume",),
        why="202 creating, what declstack sends",
    ),
    _volume_show("volume-wait-available", VOLUME_READY, "creating, then available"),
    Step(
        "volume-list-by-metadata",
        "GET",
        "block-storage",
        "/volumes/detail?metadata=%7B%22declstack%3Astack%22%3A%20%22{run}%22%7D",
        fields=("volumes.*.name", "volumes.*.status", "volumes.*.metadata"),
        why="declstack finds its stack's volumes by the marker in their metadata",
    ),
    Step(
        "volume-create-size-0",
        "POST",
        "block-storage",
        "/volumes",
        body={"volume": {"size": 0, "name": "{run}-x"}},
        why="400: size below 1",
    ),
    Step(
        "volume-create-unknown-type",
        "POST",
        "block-storage",
        "/volumes",
        body={"volume": {"size": 1, "name": "{run}-x", "volume_type": "{run}-nope"}},
        why="404: Volume type with name ... could not be found.",
    ),
    _volume_action("volume-extend-same-size", {"os-extend": {"new_size": 1}}, "400: must grow"),
    _volume_action("volume-extend", {"os-extend": {"new_size": 2}}, "202, no body (available)"),
    _volume_show("volume-wait-extended", VOLUME_READY, "extending, then available at 2 GB"),
    Step(
        "volume-update-name",
        "PUT",
        "block-storage",
        _VOLUME,
        body={"volume": {"name": "{run}-renamed"}},
        fields=_VOLUME_FIELDS,
        keys=("volume",),
        why="200 with the volume",
    ),
    Step(
        "server-create-volume-host",
        "POST",
        "compute",
        "/servers",
        "2.52",
        body={
            "server": {
                "name": "{run}-vol",
                "imageRef": "{image_id}",
                "flavorRef": "1",
                "networks": "none",
            }
        },
        save={"srv_v": "server.id"},
        fields=("server.id",),
        why="a server to attach the volume to",
    ),
    _settle("server-wait-volume-host", "srv_v", ("ACTIVE", "ERROR"), "ACTIVE"),
    Step(
        "volume-attach",
        "POST",
        "compute",
        _ATTACHMENTS,
        SDK_MV,
        body={"volumeAttachment": {"volumeId": "{vol}"}},
        why="200 at once: the attachment (its id is the volume's), device /dev/sdb",
    ),
    _volume_show("volume-wait-in-use", VOLUME_IN_USE, "reserved, attaching, then in-use"),
    Step(
        "volume-attachment-show",
        "GET",
        "compute",
        _ATTACHMENTS + "/{vol}",
        SDK_MV,
        keys=("volumeAttachment",),
        fields=(
            "volumeAttachment.volumeId",
            "volumeAttachment.serverId",
            "volumeAttachment.device",
            "volumeAttachment.tag",
            "volumeAttachment.delete_on_termination",
        ),
        why="the attachment through Nova (attachment_id and bdm_uuid from 2.89)",
    ),
    Step(
        "volume-attachments-list",
        "GET",
        "compute",
        _ATTACHMENTS,
        SDK_MV,
        fields=("volumeAttachments.*.volumeId", "volumeAttachments.*.device"),
        why="the server's one attachment",
    ),
    Step(
        "volume-attach-again",
        "POST",
        "compute",
        _ATTACHMENTS,
        SDK_MV,
        body={"volumeAttachment": {"volumeId": "{vol}"}},
        why="400: already attached",
    ),
    Step(
        "volume-delete-in-use",
        "DELETE",
        "block-storage",
        _VOLUME,
        why="400: Volume status must be available or error ...",
    ),
    _volume_action(
        "volume-extend-in-use-3.0", {"os-extend": {"new_size": 3}}, "400: in-use needs 3.42"
    ),
    _volume_action("volume-extend-in-use", {"os-extend": {"new_size": 3}}, "202 at 3.42", "3.42"),
    _volume_show("volume-wait-extended-in-use", VOLUME_IN_USE, "extending, then in-use at 3 GB"),
    Step(
        "volume-detach",
        "DELETE",
        "compute",
        _ATTACHMENTS + "/{vol}",
        SDK_MV,
        why="202",
    ),
    _volume_show("volume-wait-detached", VOLUME_READY, "detaching, then available"),
    Step(
        "volume-detach-again",
        "DELETE",
        "compute",
        _ATTACHMENTS + "/{vol}",
        SDK_MV,
        why="404: not attached",
    ),
    Step("volume-delete", "DELETE", "block-storage", _VOLUME, why="202, no body"),
    Step(
        "volume-wait-gone",
        "GET",
        "block-storage",
        _VOLUME,
        poll=VOLUME_GONE,
        why="deleting, then 404 Volume ... could not be found.",
    ),
    Step("volume-delete-missing", "DELETE", "block-storage", _VOLUME, why="404"),
    Step("server-delete-volume-host", "DELETE", "compute", "/servers/{srv_v}", why="204"),
    Step(
        "server-wait-gone-volume-host",
        "GET",
        "compute",
        "/servers/{srv_v}",
        SDK_MV,
        poll=GONE,
        why="until 404",
    ),
)
"""Cinder v3 volumes and Nova's attachments, as declstack and the scenarios use them."""


STEPS: tuple[Step, ...] = (
    # --- identity -----------------------------------------------------------
    Step(
        "identity-auth-password",
        "POST",
        "identity",
        "/auth/tokens",
        auth=False,
        body={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "{username}",
                            "password": "{password}",
                            "domain": {"name": "{user_domain}"},
                        }
                    },
                },
                "scope": {
                    "project": {"name": "{project_name}", "domain": {"name": "{project_domain}"}}
                },
            }
        },
        fields=(
            "token.methods",
            "token.project.name",
            "token.project.domain.name",
            "token.user.name",
            "token.roles.*.name|sorted",
            "token.catalog.*.type|sorted",
            "token.catalog.[type=compute].endpoints.*.interface|sorted",
            "token.catalog.[type=compute].name",
        ),
        keys=("token",),
        why="password auth + catalog, every client's first call",
    ),
    Step(
        "identity-auth-wrong-password",
        "POST",
        "identity",
        "/auth/tokens",
        auth=False,
        body={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "{username}",
                            "password": "wrong-{run}",
                            "domain": {"name": "{user_domain}"},
                        }
                    },
                },
                "scope": {
                    "project": {"name": "{project_name}", "domain": {"name": "{project_domain}"}}
                },
            }
        },
        why="401 body a client shows for a bad password",
    ),
    Step(
        "identity-version",
        "GET",
        "identity",
        "",
        auth=False,
        fields=("version.id", "version.status", "version.links.*.rel"),
        why="keystoneauth discovery of the v3 root",
    ),
    # --- compute discovery, flavors -----------------------------------------
    Step(
        "compute-versions",
        "GET",
        "compute",
        "@root/",
        auth=False,
        fields=(
            "versions.*.id",
            "versions.*.status",
            "versions.*.version",
            "versions.*.min_version",
            "versions.*.links",
        ),
        why="version discovery of the unversioned endpoint",
    ),
    Step(
        "compute-version-v21",
        "GET",
        "compute",
        "",
        fields=(
            "version.id",
            "version.status",
            "version.version",
            "version.min_version",
            "version.links",
        ),
        why="SDK discovery of the versioned endpoint: max microversion",
    ),
    Step(
        "compute-bad-microversion",
        "GET",
        "compute",
        "/servers",
        "9.99",
        why="406 for a microversion above the maximum",
    ),
    Step(
        "flavors-detail",
        "GET",
        "compute",
        "/flavors/detail",
        "2.61",
        fields=tuple(
            f"flavors.[name=m1.{n}]" for n in ("nano", "tiny", "small", "medium", "large")
        ),
        why="flavor lookup by name (SDK find_flavor lists details)",
    ),
    Step("flavor-show", "GET", "compute", "/flavors/2", "2.61", why="flavor by id"),
    Step("flavor-missing", "GET", "compute", "/flavors/999", "2.61", why="404 body"),
    # --- images, networks ---------------------------------------------------
    Step(
        "image-list-by-name",
        "GET",
        "image",
        "/v2/images?name=cirros",
        save={"image_id": "images.0.id"},
        fields=(
            "images.*.name",
            "images.*.status",
            "images.*.visibility",
            "images.*.disk_format",
            "images.*.container_format",
            "images.*.min_ram",
            "images.*.min_disk",
            "images.*.protected",
            "images.*.tags",
            "images.*.self",
            "images.*.file",
            "first",
            "schema",
            "next",
        ),
        keys=("images.0",),
        why="image lookup by name",
    ),
    Step(
        "image-list-paged",
        "GET",
        "image",
        "/v2/images?limit=1",
        mask=(r"marker=[^&]+",),
        fields=("images.#", "first", "next"),
        why="glance paging: `next` link with marker",
    ),
    Step(
        "image-show",
        "GET",
        "image",
        "/v2/images/{image_id}",
        fields=("id", "name", "status", "visibility", "min_ram", "min_disk"),
        keys=("",),
        why="image by id",
    ),
    Step("image-missing", "GET", "image", "/v2/images/{missing_id}", why="glance 404"),
    Step(
        "network-list-by-name",
        "GET",
        "network",
        "/v2.0/networks?name=private",
        save={"network_id": "networks.0.id"},
        fields=(
            "networks.*.name",
            "networks.*.shared",
            "networks.*.status",
            "networks.*.admin_state_up",
            "networks.*.router:external",
            "networks.*.subnets.#",
            "networks.*.mtu",
            "networks.*.port_security_enabled",
        ),
        keys=("networks.0",),
        why="network lookup by name",
    ),
    Step(
        "subnet-list",
        "GET",
        "network",
        "/v2.0/subnets?network_id={network_id}",
        fields=(
            "subnets.*.cidr",
            "subnets.*.ip_version",
            "subnets.*.gateway_ip",
            "subnets.*.enable_dhcp",
            "subnets.*.network_id",
        ),
        keys=("subnets.0",),
        why="subnets of the network",
    ),
    Step(
        "secgroup-list-default",
        "GET",
        "network",
        "/v2.0/security-groups?name=default",
        save={"secgroup_id": "security_groups.0.id"},
        fields=(
            "security_groups.#",
            "security_groups.*.name",
            "security_groups.*.description",
            "security_groups.*.project_id",
            "security_groups.*.security_group_rules.#",
        ),
        keys=("security_groups.0", "security_groups.0.security_group_rules.0"),
        why="the project's default security group (Ansible resolves names)",
    ),
    Step("network-missing", "GET", "network", "/v2.0/networks/{missing_id}", why="neutron 404"),
    # --- servers: create ----------------------------------------------------
    _create(
        "{run}-web-1",
        [{"uuid": "{network_id}"}],
        ["managed-by=declstack", "stack={run}"],
        "srv_a",
        "create with tags+metadata at 2.52 (declstack)",
        metadata={"managed-by": "declstack", "stack": "{run}", "role": "web"},
    ),
    _create(
        "{run}-web-10",
        "none",
        ["managed-by=declstack"],
        "srv_b",
        "networks none: no port, what security_groups says then",
    ),
    _create(
        "{run}-db-1", "auto", ["other"], "srv_c", "networks auto with a shared network available"
    ),
    _wait("srv_a"),
    _wait("srv_b"),
    _wait("srv_c"),
    Step(
        "server-show-sdk-mv",
        "GET",
        "compute",
        "/servers/{srv_a}",
        SDK_MV,
        why="server body at the SDK's microversion (2.100)",
    ),
    Step(
        "server-show-2.1",
        "GET",
        "compute",
        "/servers/{srv_a}",
        why="server body without a microversion header (2.1)",
    ),
    Step(
        "server-show-nonet",
        "GET",
        "compute",
        "/servers/{srv_b}",
        SDK_MV,
        fields=(
            "server.addresses",
            "server.security_groups",
            "server.status",
            "server.tags",
            "server.metadata",
        ),
        why="networks none: addresses and security_groups",
    ),
    Step(
        "server-show-auto",
        "GET",
        "compute",
        "/servers/{srv_c}",
        SDK_MV,
        fields=("server.addresses", "server.security_groups", "server.status"),
        why="networks auto: which network got the port",
    ),
    Step(
        "server-os-security-groups",
        "GET",
        "compute",
        "/servers/{srv_a}/os-security-groups",
        fields=(
            "security_groups.*.name",
            "security_groups.*.description",
            "security_groups.*.id",
            "security_groups.*.tenant_id",
        ),
        keys=("security_groups.0",),
        why="Ansible reads a server's groups here",
    ),
    Step(
        "ports-of-server",
        "GET",
        "network",
        "/v2.0/ports?device_id={srv_a}",
        save={"port_a": "ports.0.id"},
        fields=(
            "ports.#",
            "ports.*.device_owner",
            "ports.*.status",
            "ports.*.network_id",
            "ports.*.fixed_ips.*.subnet_id",
            "ports.*.security_groups",
            "ports.*.admin_state_up",
            "ports.*.binding:vif_type",
        ),
        keys=("ports.0",),
        why="the port nova made for the server",
    ),
    # --- servers: list, filters, paging -------------------------------------
    Step(
        "servers-detail-name-regex",
        "GET",
        "compute",
        "/servers/detail?name={run}-web-1",
        SDK_MV,
        fields=("servers.*.name|sorted",),
        why="name= is a regex: web-1 matches web-10",
    ),
    Step(
        "servers-detail-name-anchored",
        "GET",
        "compute",
        "/servers/detail?name=%5E{run}-web-1%24",
        SDK_MV,
        fields=("servers.*.name",),
        why="anchored regex matches exactly",
    ),
    Step(
        "servers-detail-by-run",
        "GET",
        "compute",
        "/servers/detail?name={run}",
        SDK_MV,
        sort=(("servers", "name"),),
        why="the full list body at 2.100 (sorted newest first)",
    ),
    Step(
        "servers-detail-2.47",
        "GET",
        "compute",
        "/servers/detail?name={run}",
        "2.47",
        sort=(("servers", "name"),),
        fields=("servers.*.name", "servers.*.flavor", "servers.*.status"),
        why="flavor embedded at 2.47",
    ),
    Step(
        "servers-tags",
        "GET",
        "compute",
        "/servers/detail?tags=stack%3D{run}",
        SDK_MV,
        fields=("servers.*.name|sorted",),
        why="tags= (all of)",
    ),
    Step(
        "servers-tags-two",
        "GET",
        "compute",
        "/servers/detail?tags=stack%3D{run},managed-by%3Ddeclstack",
        SDK_MV,
        fields=("servers.*.name|sorted",),
        why="tags= with two tags: AND",
    ),
    Step(
        "servers-tags-any",
        "GET",
        "compute",
        "/servers/detail?name={run}&tags-any=stack%3D{run},other",
        SDK_MV,
        fields=("servers.*.name|sorted",),
        why="tags-any= (OR)",
    ),
    Step(
        "servers-not-tags",
        "GET",
        "compute",
        "/servers/detail?name={run}&not-tags=managed-by%3Ddeclstack",
        SDK_MV,
        fields=("servers.*.name|sorted",),
        why="not-tags=",
    ),
    Step(
        "servers-page-1",
        "GET",
        "compute",
        "/servers?name={run}&limit=2",
        SDK_MV,
        save={"page_marker": "servers.1.id"},
        mask=(r"\{srv_[abc]\}",),
        fields=("servers.#", "servers_links"),
        keys=("servers.0",),
        why="limit + servers_links next with marker",
    ),
    Step(
        "servers-page-2",
        "GET",
        "compute",
        "/servers?name={run}&limit=2&marker={page_marker}",
        SDK_MV,
        fields=("servers.#", "servers_links"),
        # the marker is whichever server ended page 1: Nova orders servers created in the
        # same second as its conductor wrote them, so it varies from run to run (as the
        # marker in page 1's next link, masked there too); it must still be one of ours
        request_mask=(r"(?<=marker=)\{srv_[abc]\}",),
        why="second page is the last: no servers_links",
    ),
    Step(
        "servers-bad-marker",
        "GET",
        "compute",
        "/servers?marker={missing_id}",
        SDK_MV,
        why="400 for a marker that does not exist",
    ),
    # --- metadata -----------------------------------------------------------
    Step("metadata-list", "GET", "compute", "/servers/{srv_a}/metadata", why="all metadata"),
    Step(
        "metadata-set-item",
        "PUT",
        "compute",
        "/servers/{srv_a}/metadata/owner",
        body={"meta": {"owner": "team-a"}},
        why="set one key",
    ),
    Step(
        "metadata-merge",
        "POST",
        "compute",
        "/servers/{srv_a}/metadata",
        body={"metadata": {"tier": "1"}},
        why="merge (SDK set_server_metadata)",
    ),
    Step("metadata-get-item", "GET", "compute", "/servers/{srv_a}/metadata/tier", why="one key"),
    Step("metadata-delete-item", "DELETE", "compute", "/servers/{srv_a}/metadata/tier", why="204"),
    Step(
        "metadata-missing-item",
        "GET",
        "compute",
        "/servers/{srv_a}/metadata/tier",
        why="404 body for a missing key",
    ),
    Step(
        "metadata-replace",
        "PUT",
        "compute",
        "/servers/{srv_a}/metadata",
        body={"metadata": {"managed-by": "declstack", "stack": "{run}", "role": "web"}},
        why="replace all (Ansible)",
    ),
    Step(
        "metadata-bad-key",
        "POST",
        "compute",
        "/servers/{srv_a}/metadata",
        body={"metadata": {"bad/key": "x"}},
        why="400 for a key outside [a-zA-Z0-9-_:. ]",
    ),
    # --- tags ---------------------------------------------------------------
    Step("tags-list", "GET", "compute", "/servers/{srv_a}/tags", SDK_MV, why="tags at 2.26+"),
    Step(
        "tag-add",
        "PUT",
        "compute",
        "/servers/{srv_a}/tags/extra",
        SDK_MV,
        why="201 when the tag is new",
    ),
    Step(
        "tag-add-again",
        "PUT",
        "compute",
        "/servers/{srv_a}/tags/extra",
        SDK_MV,
        why="204 when it already exists",
    ),
    Step("tag-check", "GET", "compute", "/servers/{srv_a}/tags/extra", SDK_MV, why="204"),
    Step("tag-check-missing", "GET", "compute", "/servers/{srv_a}/tags/nope", SDK_MV, why="404"),
    Step("tag-delete", "DELETE", "compute", "/servers/{srv_a}/tags/extra", SDK_MV, why="204"),
    Step(
        "tags-replace",
        "PUT",
        "compute",
        "/servers/{srv_a}/tags",
        SDK_MV,
        body={"tags": ["managed-by=declstack", "stack={run}", "b", "a"]},
        why="replace all; response order",
    ),
    Step(
        "tags-invalid-comma",
        "PUT",
        "compute",
        "/servers/{srv_a}/tags",
        SDK_MV,
        body={"tags": ["bad,tag"]},
        why="400: ',' not allowed",
    ),
    Step(
        "tags-too-long",
        "PUT",
        "compute",
        "/servers/{srv_a}/tags/" + "x" * 61,
        SDK_MV,
        why="400: longer than 60",
    ),
    Step(
        "tags-old-microversion",
        "GET",
        "compute",
        "/servers/{srv_a}/tags",
        "2.25",
        why="404 below 2.26",
    ),
    # --- errors -------------------------------------------------------------
    Step(
        "error-bad-flavor",
        "POST",
        "compute",
        "/servers",
        "2.52",
        body={
            "server": {
                "name": "{run}-bad",
                "imageRef": "{image_id}",
                "flavorRef": "999",
                "networks": "none",
            }
        },
        why="400 flavor not found",
    ),
    Step(
        "error-bad-image",
        "POST",
        "compute",
        "/servers",
        "2.52",
        body={
            "server": {
                "name": "{run}-bad",
                "imageRef": "{missing_id}",
                "flavorRef": "1",
                "networks": "none",
            }
        },
        why="400 image not found",
    ),
    Step(
        "error-networks-omitted",
        "POST",
        "compute",
        "/servers",
        "2.37",
        body={"server": {"name": "{run}-bad", "imageRef": "{image_id}", "flavorRef": "1"}},
        why="400: networks required at >= 2.37",
    ),
    Step(
        "error-invalid-tag-create",
        "POST",
        "compute",
        "/servers",
        "2.52",
        body={
            "server": {
                "name": "{run}-bad",
                "imageRef": "{image_id}",
                "flavorRef": "1",
                "networks": "none",
                "tags": ["a/b"],
            }
        },
        why="400 tag with '/'",
    ),
    Step(
        "error-tags-before-2.52",
        "POST",
        "compute",
        "/servers",
        "2.51",
        body={
            "server": {
                "name": "{run}-bad",
                "imageRef": "{image_id}",
                "flavorRef": "1",
                "networks": "none",
                "tags": ["a"],
            }
        },
        why="400 tags at create < 2.52",
    ),
    Step(
        "error-quota-instances",
        "POST",
        "compute",
        "/servers",
        "2.52",
        body={
            "server": {
                "name": "{run}-quota",
                "imageRef": "{image_id}",
                "flavorRef": "1",
                "networks": "none",
                "min_count": 11,
                "max_count": 11,
            }
        },
        why="403 quota exceeded (default instances quota 10)",
    ),
    Step("error-missing-server", "GET", "compute", "/servers/{missing_id}", SDK_MV, why="404 body"),
    Step(
        "error-start-active",
        "POST",
        "compute",
        "/servers/{srv_a}/action",
        SDK_MV,
        body={"os-start": None},
        why="409: start an ACTIVE server",
    ),
    Step(
        "error-no-token",
        "GET",
        "compute",
        "/servers",
        SDK_MV,
        auth=False,
        why="401 without a token",
    ),
    Step(
        "error-auto-before-2.37",
        "POST",
        "compute",
        "/servers",
        "2.36",
        body={
            "server": {
                "name": "{run}-bad",
                "imageRef": "{image_id}",
                "flavorRef": "1",
                "networks": "auto",
            }
        },
        why="400: networks as a string needs 2.37",
    ),
    Step(
        "error-name-bad-regex",
        "GET",
        "compute",
        "/servers/detail?name=%5B",
        SDK_MV,
        why="400: name= must be a valid regex",
    ),
    Step(
        "compute-limits",
        "GET",
        "compute",
        "/limits",
        "2.57",
        fields=tuple(
            f"limits.absolute.{k}"
            for k in ("maxTotalInstances", "maxTotalCores", "maxTotalRAMSize", "maxServerMeta")
        ),
        keys=("limits.absolute",),
        why="quota limits a planner checks before create-before-destroy",
    ),
    # --- security groups, floating IPs, key pairs, fixed IPs -----------------
    *SECURITY_GROUP_STEPS,
    *FLOATING_IP_STEPS,
    *KEYPAIR_STEPS,
    *FIXED_IP_STEPS,
    # --- delete -------------------------------------------------------------
    Step("server-delete-a", "DELETE", "compute", "/servers/{srv_a}", why="204"),
    Step(
        "server-wait-gone-a",
        "GET",
        "compute",
        "/servers/{srv_a}",
        SDK_MV,
        poll=GONE,
        why="what a client sees until 404",
    ),
    Step(
        "servers-changes-since",
        "GET",
        "compute",
        "/servers/detail?name={run}&changes-since={t_start}",
        SDK_MV,
        fields=(
            "servers.*.name|sorted",
            "servers.[name={run}-web-1].status",
            "servers.[name={run}-web-1].OS-EXT-STS:vm_state",
        ),
        why="changes-since also shows the DELETED server",
    ),
    Step(
        "servers-list-after-delete",
        "GET",
        "compute",
        "/servers/detail?name={run}",
        SDK_MV,
        fields=("servers.*.name|sorted",),
        why="plain list hides it",
    ),
    Step(
        "server-delete-missing",
        "DELETE",
        "compute",
        "/servers/{srv_a}",
        why="404 deleting what is gone",
    ),
    Step("server-delete-b", "DELETE", "compute", "/servers/{srv_b}", why="204"),
    Step("server-delete-c", "DELETE", "compute", "/servers/{srv_c}", why="204"),
    Step(
        "server-wait-gone-b",
        "GET",
        "compute",
        "/servers/{srv_b}",
        SDK_MV,
        poll=GONE,
        why="until 404",
    ),
    Step(
        "server-wait-gone-c",
        "GET",
        "compute",
        "/servers/{srv_c}",
        SDK_MV,
        poll=GONE,
        why="until 404",
    ),
    Step(
        "ports-after-delete",
        "GET",
        "network",
        "/v2.0/ports?device_id={srv_a}",
        fields=("ports.#",),
        why="nova removed the port it made",
    ),
    *IMAGE_WRITE_STEPS,
    *COMPUTE_HOST_STEPS,
    *VOLUME_STEPS,
)
"""Every step, in the order they run; servers created here are deleted at the end."""
