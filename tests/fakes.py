"""A strict in-memory CloudPort: it refuses what real Nova would refuse."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from declstack.lock import Holder, LockRecord
from declstack.model import (
    BootVolume,
    Catalog,
    CreateRequest,
    DesiredVolume,
    NamedResource,
    ObservedFloatingIp,
    ObservedKeypair,
    ObservedRule,
    ObservedSecurityGroup,
    ObservedServer,
    ObservedServerGroup,
    ObservedVolume,
    Rule,
    ServerPatch,
    frozen_map,
)
from declstack.ownership import STACK_KEY, owner_of, stack_tag
from declstack.port import BuiltServer


class FakeCloudError(Exception):
    """Stands for an HTTP error from the cloud."""


class FakeLocks:
    """The lock store as Glance behaves: a create of an id that exists or ever existed
    fails; the clock is the cloud's, moved by `tick`."""

    def __init__(self) -> None:
        self.images: dict[str, LockRecord] = {}
        self.stacks: dict[str, str] = {}
        self.burned: set[str] = set()
        self.now = datetime(2026, 11, 29, 12, 0, 0, tzinfo=timezone.utc)
        self.lock = threading.Lock()
        self.creates = 0

    @property
    def scope(self) -> str:
        return "project-1"

    def list_locks(self, stack: str) -> tuple[list[LockRecord], datetime]:
        with self.lock:
            return [r for i, r in self.images.items() if self.stacks[i] == stack], self.now

    def get_lock(self, the_id: str) -> LockRecord | None:
        return self.images.get(the_id)

    def create_lock(
        self, the_id: str, stack: str, generation: int, state: str, holder: Holder, lease: float
    ) -> bool:
        with self.lock:
            self.creates += 1
            if the_id in self.images or the_id in self.burned:
                return False
            self.images[the_id] = LockRecord(
                the_id, generation, state, holder, self.now, self.now, lease
            )
            self.stacks[the_id] = stack
            return True

    def update_lock(self, the_id: str, state: str) -> bool:
        with self.lock:
            if the_id not in self.images:
                return False
            old = self.images[the_id]
            self.images[the_id] = LockRecord(
                old.id, old.generation, state, old.holder, old.since, self.now, old.lease
            )
            return True

    def delete_lock(self, the_id: str) -> None:
        with self.lock:
            self.images.pop(the_id, None)
            self.burned.add(the_id)

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeCloud:
    """Servers boot after `boot_polls` list calls and vanish `delete_polls` calls after delete."""

    def __init__(
        self, *, boot_polls: int = 1, delete_polls: int = 1, catalog: Catalog | None = None
    ):
        self.servers: dict[str, ObservedServer] = {}
        self.lock_store = FakeLocks()
        self.boot_polls = boot_polls
        self.delete_polls = delete_polls
        self.catalog = catalog or Catalog()
        self.fail_boot: set[str] = set()  # names that go to ERROR
        self.fail_boots: dict[str, int] = {}  # name -> how many more of its boots go to ERROR
        self.fail_create: set[str] = set()  # names whose POST fails
        self.fail_delete: set[str] = set()  # ids whose DELETE is refused (409, e.g. locked)
        self.fail_tag_removal: set[str] = set()  # tags whose DELETE fails
        self.calls: list[str] = []
        self.groups: dict[str, ObservedSecurityGroup] = {}
        self.fips: dict[str, ObservedFloatingIp] = {}
        self.keypairs: dict[str, ObservedKeypair] = {}
        self.external = [NamedResource("ext-1", "public")]
        self._next_address = itertools.count(10)
        self._ids = (f"id-{n:04d}" for n in itertools.count(1))
        self._age: dict[str, int] = {}
        self._deleting: dict[str, int] = {}
        self.built: dict[str, BuiltServer] = {}  # id -> what import reads besides the server
        # Server actions: id -> [list calls left, fields the server then takes].
        self._actions: dict[str, tuple[int, dict[str, object]]] = {}
        self.action_polls = 1
        self.fail_resize: dict[str, str] = {}  # name -> "error" (ERROR) or "back" (rolled back)
        self.fail_rebuild: set[str] = set()  # names whose rebuild goes to ERROR
        self._resized_from: dict[str, str] = {}  # id -> status before its resize
        self.server_groups: dict[str, ObservedServerGroup] = {}
        #: Compute hosts, for anti-affinity: a member beyond this many goes to ERROR with
        #: "No valid host" (None: room for any number).
        self.hosts: int | None = None
        self._unplaceable: set[str] = set()  # ids the scheduler found no host for

        self._init_volumes()

    def locks(self) -> FakeLocks:
        return self.lock_store

    def add(self, server: ObservedServer) -> ObservedServer:
        self.servers[server.id] = server
        return server

    def _tick(self) -> None:
        for server_id, (left, fields) in list(self._actions.items()):
            if left > 1:
                self._actions[server_id] = (left - 1, fields)
                continue
            del self._actions[server_id]
            if server_id in self.servers:
                self.servers[server_id] = replace(self.servers[server_id], **fields)  # type: ignore[arg-type]
        for server_id in list(self._deleting):
            self._deleting[server_id] -= 1
            if self._deleting[server_id] <= 0:
                del self._deleting[server_id]
                del self.servers[server_id]
                for group in list(self.server_groups.values()):
                    if server_id in group.members:
                        members = tuple(m for m in group.members if m != server_id)
                        self.server_groups[group.id] = replace(group, members=members)
                self._free_volumes(server_id)
                for fip in list(self.fips.values()):  # its port goes, the IP stays
                    if fip.server_id == server_id:
                        self.fips[fip.id] = replace(fip, port_id=None, server_id=None)
        for server_id, server in list(self.servers.items()):
            if server.status == "BUILD" and server_id in self._age:
                self._age[server_id] -= 1
                if self._age[server_id] <= 0:
                    failed = server.name in self.fail_boot or server_id in self._unplaceable
                    if self.fail_boots.get(server.name, 0) > 0:
                        self.fail_boots[server.name] -= 1
                        failed = True
                    self.servers[server_id] = replace(
                        server,
                        status="ERROR" if failed else "ACTIVE",
                        task_state=None,
                        fault="No valid host was found." if failed else None,
                    )

    def list_stack_servers(self, stack: str) -> list[ObservedServer]:
        self.calls.append("list")
        self._tick()
        return [s for s in self.servers.values() if stack_tag(stack) in s.tags]

    def list_all_servers(self) -> list[ObservedServer]:
        self.calls.append("list-all")
        return list(self.servers.values())

    def list_unmanaged(self, stack: str, names: Collection[str]) -> list[tuple[str, str]]:
        self.calls.append("list-unmanaged")
        return [
            (s.id, s.name)
            for s in self.servers.values()
            if s.name in names and owner_of(s) != stack
        ]

    def fetch_catalog(self) -> Catalog:
        self.calls.append("catalog")
        return self.catalog

    def create_server(self, request: CreateRequest) -> str:
        self.calls.append(f"create {request.name}")
        if request.name in self.fail_create:
            raise FakeCloudError(f"create {request.name} refused")
        if len(request.tags) > 50 or any(len(t) > 60 or "/" in t or "," in t for t in request.tags):
            raise FakeCloudError("invalid tags")
        if any(len(v) > 255 for v in request.metadata.values()):
            raise FakeCloudError("metadata value too long")
        server_id = next(self._ids)
        if request.server_group is not None:
            self._join(request.server_group, server_id)
        if request.boot_volume is not None:
            self.boot_volumes[server_id] = request.boot_volume
        self.servers[server_id] = ObservedServer(
            id=server_id,
            name=request.name,
            status="BUILD",
            task_state="spawning",
            image_id=None if request.boot_volume is not None else request.image_id,
            flavor_name=self._flavor_name(request.flavor_id),
            metadata=frozen_map(request.metadata),
            tags=request.tags,
            description=request.description,
            security_groups=tuple(self._group_name(g) for g in request.security_groups)
            or ("default",),
        )
        self._age[server_id] = self.boot_polls
        return server_id

    def _group_name(self, ref: str) -> str:
        """Nova takes a group's name or id; the server lists names."""
        if ref in self.groups:
            return self.groups[ref].name
        for group in self.catalog.security_groups:
            if ref in (group.id, group.name):
                return group.name
        raise FakeCloudError(f"404 security group {ref}")

    def _owned(self, server_id: str) -> ObservedServer:
        server = self.servers.get(server_id)
        if server is None:
            raise FakeCloudError(f"404 {server_id}")
        if owner_of(server) is None:
            raise AssertionError(f"declstack touched unmanaged server {server_id}")
        return server

    def update_server(self, server_id: str, patch: ServerPatch) -> None:
        """One request per step, in the adapter's order; a failing step leaves the
        earlier ones done, as a real cloud would."""
        self.calls.append(f"update {server_id}")
        server = self._owned(server_id)
        metadata = {k: v for k, v in server.metadata.items() if k not in patch.delete_metadata}
        tags = list(server.tags)
        for tag in patch.remove_tags:
            if tag in self.fail_tag_removal:
                self.servers[server_id] = replace(
                    server, metadata=frozen_map(metadata), tags=tuple(tags)
                )
                raise FakeCloudError(f"500 removing tag {tag}")
            tags = [t for t in tags if t != tag]
        metadata.update(patch.set_metadata)
        tags += [t for t in patch.add_tags if t not in tags]
        description = patch.description if patch.change_description else server.description
        groups = list(server.security_groups or ())
        groups += [self._group_name(g) for g in patch.add_security_groups]
        for ref in patch.remove_security_groups:
            name = self._group_name(ref)
            if name not in groups:
                raise FakeCloudError(f"400 security group {name} not on the server")
            groups.remove(name)
        self.servers[server_id] = replace(
            server,
            metadata=frozen_map(metadata),
            tags=tuple(tags),
            description=description,
            security_groups=tuple(dict.fromkeys(groups)),
        )

    def delete_server(self, server_id: str) -> None:
        self.calls.append(f"delete {server_id}")
        if server_id not in self.servers:
            return
        if server_id in self.fail_delete:
            raise FakeCloudError(f"409 cannot delete {server_id}")
        self._owned(server_id)
        self.servers[server_id] = replace(self.servers[server_id], task_state="deleting")
        self._deleting[server_id] = self.delete_polls

    # --- server actions (Nova's POST /servers/{id}/action) ----------------------------

    def _flavor_name(self, flavor_id: str) -> str:
        """Nova (>= 2.47) shows a server's flavor by its name."""
        for flavor in self.catalog.flavors:
            if flavor_id in (flavor.id, flavor.name):
                return flavor.name
        return flavor_id

    def _acting_on(self, server_id: str, action: str, statuses: Collection[str]) -> ObservedServer:
        """The owned server, if Nova would take `action` now (else 409, as Nova does)."""
        self.calls.append(f"{action} {server_id}")
        server = self._owned(server_id)
        if server.status not in statuses or server.task_state is not None:
            raise FakeCloudError(
                f"409 Cannot '{action}' instance {server_id} while it is in "
                f"status {server.status} (task {server.task_state})"
            )
        return server

    def _then(self, server_id: str, now: dict[str, object], later: dict[str, object]) -> None:
        server = self.servers[server_id]
        self.servers[server_id] = replace(server, **now)  # type: ignore[arg-type]
        self._actions[server_id] = (self.action_polls, later)

    def resize_server(self, server_id: str, flavor_id: str) -> None:
        server = self._acting_on(server_id, "resize", ("ACTIVE", "SHUTOFF"))
        name = self._flavor_name(flavor_id)
        if not any(flavor_id == f.id for f in self.catalog.flavors):
            raise FakeCloudError(f"400 Invalid flavorRef provided: {flavor_id}")
        if name == server.flavor_name:
            raise FakeCloudError("400 When resizing, instances must change flavor!")
        outcome = self.fail_resize.get(server.name)
        later: dict[str, object] = {"status": "VERIFY_RESIZE", "task_state": None}
        if outcome == "error":
            later = {"status": "ERROR", "task_state": None, "fault": "No valid host was found."}
        elif outcome == "back":
            later = {"status": server.status, "task_state": None}
        else:
            later["flavor_name"] = name
        self._resized_from[server_id] = server.status
        self._then(server_id, {"status": "RESIZE", "task_state": "resize_prep"}, later)

    def confirm_resize(self, server_id: str) -> None:
        self._acting_on(server_id, "confirmResize", ("VERIFY_RESIZE",))
        status = self._resized_from.pop(server_id, "ACTIVE")
        self._actions[server_id] = (self.action_polls, {"status": status})

    def rebuild_server(self, server_id: str, image_id: str) -> None:
        server = self._acting_on(server_id, "rebuild", ("ACTIVE", "SHUTOFF", "ERROR"))
        if not any(image_id == i.id for i in self.catalog.images):
            raise FakeCloudError(f"400 Image {image_id} could not be found.")
        later: dict[str, object] = {"status": server.status, "task_state": None}
        if server.name in self.fail_rebuild:
            later = {"status": "ERROR", "task_state": None, "fault": "Build of instance aborted"}
        else:
            later["image_id"] = image_id
        self._then(server_id, {"status": "REBUILD", "task_state": "rebuilding"}, later)

    def start_server(self, server_id: str) -> None:
        self._acting_on(server_id, "start", ("SHUTOFF",))
        self._then(
            server_id, {"task_state": "powering-on"}, {"status": "ACTIVE", "task_state": None}
        )

    def stop_server(self, server_id: str) -> None:
        self._acting_on(server_id, "stop", ("ACTIVE", "ERROR"))
        self._then(
            server_id, {"task_state": "powering-off"}, {"status": "SHUTOFF", "task_state": None}
        )

    # --- server groups (Nova) --------------------------------------------------------

    def list_server_groups(self) -> list[ObservedServerGroup]:
        self.calls.append("list-server-groups")
        return list(self.server_groups.values())

    def create_server_group(self, name: str, policy: str) -> str:
        self.calls.append(f"create server group {name}")
        if policy not in ("anti-affinity", "affinity", "soft-anti-affinity", "soft-affinity"):
            raise FakeCloudError(f"400 Invalid input: {policy!r} is not one of ...")
        group_id = next(self._ids)
        self.server_groups[group_id] = ObservedServerGroup(group_id, name, policy)
        return group_id

    def delete_server_group(self, group_id: str) -> None:
        """Nova deletes a group with members too; the servers stay."""
        self.calls.append(f"delete server group {group_id}")
        group = self.server_groups.get(group_id)
        if group is None:
            return
        if not group.name.startswith("declstack:stack="):
            raise AssertionError(f"declstack deleted server group {group.name} it does not own")
        del self.server_groups[group_id]

    def _join(self, group_id: str, server_id: str) -> None:
        """The `group` scheduler hint: an unknown group is refused (400, as Nova); an
        anti-affinity member beyond `hosts` is built into ERROR with Nova's fault."""
        group = self.server_groups.get(group_id)
        if group is None:
            raise FakeCloudError(f"400 Instance group {group_id} could not be found.")
        placed = [m for m in group.members if m not in self._unplaceable]
        if group.policy == "anti-affinity" and self.hosts is not None and len(placed) >= self.hosts:
            self._unplaceable.add(server_id)
        self.server_groups[group_id] = replace(group, members=(*group.members, server_id))

    # --- security groups (Neutron) ---------------------------------------------------

    def add_group(self, group: ObservedSecurityGroup) -> ObservedSecurityGroup:
        self.groups[group.id] = group
        return group

    def list_security_groups(self) -> list[ObservedSecurityGroup]:
        self.calls.append("list-groups")
        return list(self.groups.values())

    def create_security_group(self, stack: str, name: str, description: str) -> str:
        self.calls.append(f"create group {name}")
        group_id = next(self._ids)
        defaults = tuple(
            ObservedRule(next(self._ids), Rule(direction="egress", ethertype=family))
            for family in ("IPv4", "IPv6")
        )
        self.groups[group_id] = ObservedSecurityGroup(
            group_id, name, description, (stack_tag(stack),), defaults
        )
        return group_id

    def _owned_group(self, group_id: str) -> ObservedSecurityGroup:
        group = self.groups.get(group_id)
        if group is None:
            raise FakeCloudError(f"404 security group {group_id}")
        if not any(tag.startswith("declstack:stack=") for tag in group.tags):
            raise AssertionError(f"declstack touched unmanaged security group {group_id}")
        return group

    def create_rules(self, group_id: str, rules: Sequence[Rule]) -> list[str]:
        self.calls.append(f"create rules {group_id} x{len(rules)}")
        group = self._owned_group(group_id)
        made = []
        for rule in rules:
            if rule.remote_group is not None and rule.remote_group not in self.groups:
                raise FakeCloudError(f"404 remote group {rule.remote_group}")
            if any(existing.rule == rule for existing in group.rules):
                raise FakeCloudError("409 SecurityGroupRuleExists")
            made.append(ObservedRule(next(self._ids), rule))
        self.groups[group_id] = replace(group, rules=(*group.rules, *made))
        return [m.id for m in made]

    def delete_rule(self, rule_id: str) -> None:
        self.calls.append(f"delete rule {rule_id}")
        for group in self.groups.values():
            if any(r.id == rule_id for r in group.rules):
                self._owned_group(group.id)
                kept = tuple(r for r in group.rules if r.id != rule_id)
                self.groups[group.id] = replace(group, rules=kept)
                return

    def update_security_group(self, group_id: str, description: str) -> None:
        self.calls.append(f"update group {group_id}")
        self.groups[group_id] = replace(self._owned_group(group_id), description=description)

    def delete_security_group(self, group_id: str) -> None:
        self.calls.append(f"delete group {group_id}")
        if group_id not in self.groups:
            return
        group = self._owned_group(group_id)
        if any(group.name in (s.security_groups or ()) for s in self.servers.values()):
            raise FakeCloudError(f"409 security group {group_id} in use")
        del self.groups[group_id]

    # --- floating IPs (Neutron) ------------------------------------------------------

    def list_floating_ips(self) -> list[ObservedFloatingIp]:
        self.calls.append("list-fips")
        return list(self.fips.values())

    def external_networks(self) -> list[NamedResource]:
        self.calls.append("list-external")
        return list(self.external)

    def create_floating_ip(self, stack: str, server: str, network_id: str) -> ObservedFloatingIp:
        self.calls.append(f"create fip {server}")
        fip = ObservedFloatingIp(
            next(self._ids),
            f"203.0.113.{next(self._next_address)}",
            network_id,
            tags=(stack_tag(stack), f"declstack:server={server}"),
        )
        self.fips[fip.id] = fip
        return fip

    def server_ports(self) -> dict[str, str]:
        self.calls.append("list-ports")
        return {server_id: f"port-{server_id}" for server_id in self.servers}

    def associate_floating_ip(self, floating_ip_id: str, port_id: str) -> None:
        self.calls.append(f"associate {floating_ip_id}")
        fip = self.fips[floating_ip_id]
        server_id = port_id.removeprefix("port-")
        self.fips[floating_ip_id] = replace(fip, port_id=port_id, server_id=server_id)

    def disassociate_floating_ip(self, floating_ip_id: str) -> None:
        self.calls.append(f"disassociate {floating_ip_id}")
        fip = self.fips[floating_ip_id]
        self.fips[floating_ip_id] = replace(fip, port_id=None, server_id=None)

    def delete_floating_ip(self, floating_ip_id: str) -> None:
        self.calls.append(f"delete fip {floating_ip_id}")
        fip = self.fips.pop(floating_ip_id, None)
        if fip is not None and not any(t.startswith("declstack:stack=") for t in fip.tags):
            raise AssertionError(f"declstack released floating IP {fip.address} it does not own")

    # --- key pairs (Nova) ------------------------------------------------------------

    def list_keypairs(self) -> list[ObservedKeypair]:
        self.calls.append("list-keypairs")
        return list(self.keypairs.values())

    def create_keypair(self, name: str, public_key: str) -> None:
        self.calls.append(f"create keypair {name}")
        if name in self.keypairs:
            raise FakeCloudError(f"409 Key pair '{name}' already exists.")
        self.keypairs[name] = ObservedKeypair(name, public_key)

    def delete_keypair(self, name: str) -> None:
        self.calls.append(f"delete keypair {name}")
        keypair = self.keypairs.get(name)
        if keypair is None:
            return
        if "declstack:stack=" not in keypair.public_key:
            raise AssertionError(f"declstack deleted key pair {name} it does not own")
        del self.keypairs[name]

    # --- volumes (Cinder; attachments through Nova) ----------------------------------

    def _init_volumes(self) -> None:
        self.volumes: dict[str, ObservedVolume] = {}
        self.volume_types = [NamedResource("type-1", "standard"), NamedResource("type-2", "fast")]
        self.boot_volumes: dict[str, BootVolume] = {}  # server id -> its root volume
        #: Volume id -> (list calls left, fields it then takes; None: it is gone).
        self._volume_steps: dict[str, tuple[int, dict[str, object] | None]] = {}
        self.volume_polls = 1
        self.volume_quota_gb: int | None = None  # Cinder's gigabytes quota (413 over it)
        self.fail_attach: set[str] = set()  # volume names whose attachment goes back

    def add_volume(self, volume: ObservedVolume) -> ObservedVolume:
        self.volumes[volume.id] = volume
        return volume

    def _tick_volumes(self) -> None:
        for volume_id, (left, fields) in list(self._volume_steps.items()):
            if left > 1:
                self._volume_steps[volume_id] = (left - 1, fields)
                continue
            del self._volume_steps[volume_id]
            if fields is None:
                self.volumes.pop(volume_id, None)
            elif volume_id in self.volumes:
                self.volumes[volume_id] = replace(self.volumes[volume_id], **fields)  # type: ignore[arg-type]

    def _free_volumes(self, server_id: str) -> None:
        """Nova's delete of a server detaches its volumes (and deletes its root volume)."""
        self.boot_volumes.pop(server_id, None)
        for volume in list(self.volumes.values()):
            if server_id in volume.attached_to:
                self.volumes[volume.id] = replace(volume, status="available", attached_to=())

    def _owned_volume(self, volume_id: str) -> ObservedVolume:
        volume = self.volumes.get(volume_id)
        if volume is None:
            raise FakeCloudError(f"404 Volume {volume_id} could not be found.")
        if not volume.metadata.get("declstack:stack"):
            raise AssertionError(f"declstack touched volume {volume_id} it does not own")
        return volume

    def list_stack_volumes(self, stack: str) -> list[ObservedVolume]:
        self.calls.append("list-volumes")
        self._tick_volumes()
        return [v for v in self.volumes.values() if v.metadata.get("declstack:stack") == stack]

    def list_volume_types(self) -> list[NamedResource]:
        self.calls.append("list-volume-types")
        return list(self.volume_types)

    def create_volume(self, stack: str, volume: DesiredVolume) -> str:
        self.calls.append(f"create volume {volume.name}")
        if volume.size < 1:
            raise FakeCloudError(
                f"400 Invalid input for field/attribute size. Value: {volume.size}"
            )
        kind = next((t for t in self.volume_types if volume.type in (t.id, t.name)), None)
        if volume.type is not None and kind is None:
            raise FakeCloudError(f"404 Volume type with name {volume.type} could not be found.")
        used = sum(v.size for v in self.volumes.values())
        if self.volume_quota_gb is not None and used + volume.size > self.volume_quota_gb:
            raise FakeCloudError("413 VolumeSizeExceedsAvailableQuota")
        volume_id = next(self._ids)
        self.volumes[volume_id] = ObservedVolume(
            volume_id,
            volume.name,
            volume.size,
            "creating",
            (kind or self.volume_types[0]).name,
            frozen_map(
                {
                    "declstack:stack": stack,
                    "declstack:server": volume.server,
                    "declstack:volume": volume.volume,
                }
            ),
            created=f"2026-11-29T12:00:{len(self.volumes):02d}",
        )
        self._volume_steps[volume_id] = (self.volume_polls, {"status": "available"})
        return volume_id

    def extend_volume(self, volume_id: str, size: int) -> None:
        self.calls.append(f"extend volume {volume_id} {size}")
        volume = self._owned_volume(volume_id)
        if size <= volume.size:
            raise FakeCloudError("400 New size for extend must be greater than current size.")
        if volume.status not in ("available", "in-use"):
            raise FakeCloudError(
                f"400 Volume status must be available or in-use, not {volume.status}"
            )
        self.volumes[volume_id] = replace(volume, status="extending")
        self._volume_steps[volume_id] = (self.volume_polls, {"status": volume.status, "size": size})

    def delete_volume(self, volume_id: str) -> None:
        self.calls.append(f"delete volume {volume_id}")
        if volume_id not in self.volumes:
            return
        volume = self._owned_volume(volume_id)
        if volume.attached_to or volume.status not in ("available", "error"):
            raise FakeCloudError(
                f"400 Invalid volume: Volume status must be available or error, not {volume.status}"
            )
        self.volumes[volume_id] = replace(volume, status="deleting")
        self._volume_steps[volume_id] = (self.volume_polls, None)

    def attach_volume(self, server_id: str, volume_id: str) -> None:
        self.calls.append(f"attach volume {volume_id} {server_id}")
        server = self._owned(server_id)
        volume = self._owned_volume(volume_id)
        if server.status not in ("ACTIVE", "SHUTOFF") or server.task_state is not None:
            raise FakeCloudError(f"409 Cannot 'attach_volume' instance {server_id} now")
        if volume.attached_to:
            raise FakeCloudError(
                f"400 Invalid volume: volume {volume_id} is already attached to instances: "
                f"{volume.attached_to[0]}"
            )
        if volume.status != "available":
            raise FakeCloudError(
                f"400 Invalid volume: status must be available, not {volume.status}"
            )
        later: dict[str, object] = {"status": "in-use", "attached_to": (server_id,)}
        if volume.name in self.fail_attach:
            later = {"status": "available", "attached_to": ()}
        self.volumes[volume_id] = replace(volume, status="attaching")
        self._volume_steps[volume_id] = (self.volume_polls, later)

    def detach_volume(self, server_id: str, volume_id: str) -> None:
        self.calls.append(f"detach volume {volume_id} {server_id}")
        self._owned(server_id)
        volume = self._owned_volume(volume_id)
        if server_id not in volume.attached_to:
            return  # Nova's 404 "not attached", which the adapter takes as done
        self.volumes[volume_id] = replace(volume, status="detaching")
        self._volume_steps[volume_id] = (
            self.volume_polls,
            {"status": "available", "attached_to": ()},
        )

    # --- import ----------------------------------------------------------------------

    def add_built(self, build: BuiltServer) -> BuiltServer:
        """A server somebody built by hand, with its key pair, zone, drive and ports."""
        self.add(build.server)
        self.built[build.server.id] = build
        return build

    def get_server(self, server_id: str) -> BuiltServer | None:
        self.calls.append(f"get {server_id}")
        server = self.servers.get(server_id)
        if server is None:
            return None
        return replace(self.built.get(server_id, BuiltServer(server)), server=server)

    def import_server(self, server_id: str, patch: ServerPatch) -> None:
        """As `update_server`, on a server nobody (or another stack) owns; it must set the
        marker and must not touch security groups."""
        self.calls.append(f"import {server_id}")
        server = self.servers.get(server_id)
        if server is None:
            raise FakeCloudError(f"404 {server_id}")
        if STACK_KEY not in patch.set_metadata:
            raise AssertionError(f"an import of {server_id} without the ownership marker")
        if patch.add_security_groups or patch.remove_security_groups:
            raise AssertionError(f"an import changed the security groups of {server_id}")
        if any(len(v) > 255 for v in patch.set_metadata.values()):
            raise FakeCloudError("400 metadata value too long")
        metadata = {k: v for k, v in server.metadata.items() if k not in patch.delete_metadata}
        metadata.update(patch.set_metadata)
        tags = [t for t in server.tags if t not in patch.remove_tags]
        tags += [t for t in patch.add_tags if t not in tags]
        if len(tags) > 50 or any(len(t) > 60 for t in tags):
            raise FakeCloudError("400 invalid tags")
        description = patch.description if patch.change_description else server.description
        self.servers[server_id] = replace(
            server, metadata=frozen_map(metadata), tags=tuple(tags), description=description
        )
