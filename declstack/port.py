"""The narrow port between declstack's core and a cloud.

The reconciler and the plan pipeline see only this Protocol; `declstack.cloud`
is the one adapter that implements it with openstacksdk, and tests use fakes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from declstack.lock import LockStore
from declstack.model import (
    Catalog,
    CreateRequest,
    DesiredVolume,
    NamedResource,
    ObservedFloatingIp,
    ObservedKeypair,
    ObservedSecurityGroup,
    ObservedServer,
    ObservedServerGroup,
    ObservedVolume,
    Rule,
    ServerPatch,
)


@dataclass(frozen=True)
class Nic:
    """One of a server's ports: its network and fixed IPs (from Neutron, for import)."""

    network_id: str
    ips: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuiltServer:
    """An existing server with what it was built with, as far as the cloud shows it
    (user_data cannot be read back); what `import` compares with the spec."""

    server: ObservedServer
    key_name: str | None = None
    availability_zone: str | None = None
    config_drive: bool = False
    nics: tuple[Nic, ...] = ()


class CloudPort(Protocol):
    """What declstack needs from a cloud: a handful of calls, each batched."""

    def locks(self) -> LockStore:
        """Where the stack's lock lives (declstack.lock; Glance images for a real cloud)."""
        ...

    def list_stack_servers(self, stack: str) -> list[ObservedServer]:
        """Every server that carries `stack`'s ownership marker (one paged list call)."""
        ...

    def list_unmanaged(self, stack: str, names: Collection[str]) -> list[tuple[str, str]]:
        """(id, name) of servers named in `names` that `stack` does not own."""
        ...

    def list_all_servers(self) -> list[ObservedServer]:
        """Every server the credentials can see, managed or not (for `status --all`)."""
        ...

    def fetch_catalog(self) -> Catalog:
        """Images, flavors, networks, key pairs and security groups."""
        ...

    def create_server(self, request: CreateRequest) -> str:
        """Send one create request; return the new server's id (no waiting)."""
        ...

    def update_server(self, server_id: str, patch: ServerPatch) -> None:
        """Apply an in-place patch (metadata, tags, description)."""
        ...

    def delete_server(self, server_id: str) -> None:
        """Ask for deletion; a server that is already gone is success."""
        ...

    # -- server actions in place: each one request, no waiting ---------------------

    def resize_server(self, server_id: str, flavor_id: str) -> None:
        """Nova's resize: the server goes RESIZE, then VERIFY_RESIZE on the new flavor."""
        ...

    def confirm_resize(self, server_id: str) -> None:
        """Nova's confirmResize of a server in VERIFY_RESIZE: back to ACTIVE (or SHUTOFF)."""
        ...

    def rebuild_server(self, server_id: str, image_id: str) -> None:
        """Nova's rebuild from `image_id`: same id and addresses, a new root disk."""
        ...

    def start_server(self, server_id: str) -> None:
        """Nova's os-start of a SHUTOFF server."""
        ...

    def stop_server(self, server_id: str) -> None:
        """Nova's os-stop of an ACTIVE server."""
        ...

    def list_security_groups(self) -> list[ObservedSecurityGroup]:
        """Every security group the project sees, rules embedded (one paged list call)."""
        ...

    def create_security_group(self, stack: str, name: str, description: str) -> str:
        """Create a group owned by `stack` (tagged with its ownership tag); return its id.

        Never left untagged: if the tag cannot be set the group is deleted again.
        """
        ...

    def create_rules(self, group_id: str, rules: Sequence[Rule]) -> list[str]:
        """Create rules (each `remote_group` already an id); a rule that is already
        there counts as made. Returns one id per distinct rule, in order."""
        ...

    def delete_rule(self, rule_id: str) -> None:
        """Delete one rule; a rule that is already gone is success."""
        ...

    def update_security_group(self, group_id: str, description: str) -> None:
        """Set a group's description."""
        ...

    def delete_security_group(self, group_id: str) -> None:
        """Delete a group (gone already is success); waits a little while a port still
        uses it, then fails saying so."""
        ...

    def list_floating_ips(self) -> list[ObservedFloatingIp]:
        """Every floating IP the project sees, with the server each is on (one paged list)."""
        ...

    def external_networks(self) -> list[NamedResource]:
        """The external networks floating IPs can be allocated from (one call)."""
        ...

    def create_floating_ip(self, stack: str, server: str, network_id: str) -> ObservedFloatingIp:
        """Allocate a floating IP on `network_id` owned by `stack` for the server named
        `server` (both tags set). Never left untagged: released again if tagging fails."""
        ...

    def server_ports(self) -> dict[str, str]:
        """Server id -> its first port, to associate IPs with (one paged list)."""
        ...

    def associate_floating_ip(self, floating_ip_id: str, port_id: str) -> None:
        """Put a floating IP on a port (moving it from another port if need be)."""
        ...

    def disassociate_floating_ip(self, floating_ip_id: str) -> None:
        """Take a floating IP off its port; one that is gone or on no port is success."""
        ...

    def delete_floating_ip(self, floating_ip_id: str) -> None:
        """Release a floating IP; one that is already gone is success."""
        ...

    def list_keypairs(self) -> list[ObservedKeypair]:
        """The user's key pairs (Nova key pairs belong to a user; one paged list)."""
        ...

    def create_keypair(self, name: str, public_key: str) -> None:
        """Import `public_key` as key pair `name` (ssh). A key pair of that name that was
        there before is an error; one the call's own earlier attempt made is success."""
        ...

    def delete_keypair(self, name: str) -> None:
        """Delete key pair `name`; one that is already gone is success."""
        ...

    # -- server groups (Nova): `placement:` ------------------------------------------

    def list_server_groups(self) -> list[ObservedServerGroup]:
        """Every server group of the project, with its members (one paged list)."""
        ...

    def create_server_group(self, name: str, policy: str) -> str:
        """Create a server group with `policy` (Nova's `policy` from 2.64, `policies`
        before); return its id."""
        ...

    def delete_server_group(self, group_id: str) -> None:
        """Delete a server group (its servers stay); one that is already gone is success."""
        ...

    # -- volumes (Cinder, attached through Nova): `volumes:` ---------------------------

    def list_stack_volumes(self, stack: str) -> list[ObservedVolume]:
        """Every volume that carries `stack`'s marker (one paged list call); none when
        the cloud has no block storage service."""
        ...

    def list_volume_types(self) -> list[NamedResource]:
        """The volume types the project may use (one call)."""
        ...

    def create_volume(self, stack: str, volume: DesiredVolume) -> str:
        """Create a data volume named `<server>-<name>` with the stack's marker in its
        metadata; return its id (no waiting). Over the volume quota is a final error."""
        ...

    def extend_volume(self, volume_id: str, size: int) -> None:
        """Cinder's os-extend to `size` GB, attached or not (no waiting)."""
        ...

    def delete_volume(self, volume_id: str) -> None:
        """Delete a volume that is not attached; one that is already gone is success."""
        ...

    def attach_volume(self, server_id: str, volume_id: str) -> None:
        """Nova's volume attachment of an available volume to a server (no waiting)."""
        ...

    def detach_volume(self, server_id: str, volume_id: str) -> None:
        """Detach through Nova; a volume no longer on that server is success."""
        ...

    # -- import: bringing existing servers under a stack --------------------------

    def get_server(self, server_id: str) -> BuiltServer | None:
        """One server by id with its key pair, zone, config drive and ports (one Nova
        GET and one Neutron list), whoever owns it; None when there is no such server."""
        ...

    def import_server(self, server_id: str, patch: ServerPatch) -> None:
        """Write the stack's marker, fingerprint, metadata and tags onto a server the
        stack does not own yet: the one call allowed to touch an unowned server."""
        ...
