"""The values that flow through declstack: desired state, observed state, and the plan.

Everything here is frozen and free of I/O. `spec` builds the desired side,
`cloud` builds the observed side, `planner` turns both into a `Plan`,
`render` shows it and `reconciler` executes it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

NETWORKS_AUTO = "auto"
NETWORKS_NONE = "none"

#: Nova statuses that mean "this server no longer exists".
GONE_STATUSES = frozenset({"DELETED", "SOFT_DELETED"})
#: Nova statuses that mean "being built, wait for it; never create it twice".
IN_PROGRESS_STATUSES = frozenset({"BUILD", "REBUILD"})

#: `state:` of a server: running (the default) or stopped (Nova's SHUTOFF).
STATE_ACTIVE = "active"
STATE_SHUTOFF = "shutoff"
#: `lifecycle.flavor_change` / `image_change`: what a change of the attribute does.
CHANGE_REPLACE = "replace"
CHANGE_RESIZE = "resize"
CHANGE_REBUILD = "rebuild"
#: `ServerPatch.power`: Nova's os-start / os-stop.
POWER_START = "start"
POWER_STOP = "stop"


def frozen_map(items: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """A read-only copy of a mapping, so frozen dataclasses stay frozen."""
    return MappingProxyType(dict(items or {}))


@dataclass(frozen=True)
class SourceLocation:
    """Where a value came from in a spec file, for file:line:col messages."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Lifecycle:
    """Per-server lifecycle options.

    `flavor_change` is "replace" or "resize" (Nova's resize, in place);
    `image_change` "replace" or "rebuild" (Nova's rebuild, in place);
    `ignore_changes` names attributes whose difference is reported, never acted on.
    """

    prevent_destroy: bool = False
    create_before_destroy: bool = False
    flavor_change: str = CHANGE_REPLACE
    image_change: str = CHANGE_REPLACE
    ignore_changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FloatingIpRequest:
    """What a server's `floating_ip:` asks for.

    `true` allocates one from the cloud's external network (`network` None: the
    one there is), `{network: public}` from that network; both are owned by the
    stack. `{address: 203.0.113.7}` claims an existing, unassociated floating IP
    the stack does not own: associated, only ever disassociated, never released.
    """

    network: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class DesiredServer:
    """One server as the spec wants it, after defaults and count expansion.

    `image`, `flavor`, `networks` and `security_groups` are kept as the user
    wrote them (name or id); they are resolved to ids only for a create.
    `networks` is the string "auto" or "none", or a tuple of names/ids.
    """

    name: str
    image: str
    flavor: str
    key_name: str | None = None
    networks: str | tuple[str, ...] = NETWORKS_AUTO
    security_groups: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=frozen_map)
    tags: tuple[str, ...] = ()
    user_data: str | None = None
    availability_zone: str | None = None
    description: str | None = None
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    source: SourceLocation | None = None
    #: Per entry of `networks` (same order): the fixed IP asked for, or None.
    #: Empty when no entry asks for one.
    fixed_ips: tuple[str | None, ...] = ()
    config_drive: bool = False
    #: The spec entry this server was expanded from (`web` for web-1..web-3).
    entry: str | None = None
    #: `floating_ip:` on the entry (every replica gets its own), or None.
    floating_ip: FloatingIpRequest | None = None
    #: `state:`: "active" (running) or "shutoff" (stopped with Nova's os-stop).
    state: str = STATE_ACTIVE
    #: `placement:` on the entry: every replica is scheduled into the entry's own
    #: Nova server group with this policy; None: no group.
    placement: Placement | None = None
    #: `volumes:` on the entry: one owned Cinder volume per entry per replica.
    volumes: tuple[VolumeRequest, ...] = ()
    #: `boot_volume:`: boot from a volume made from the image, or None (a local disk).
    boot_volume: BootVolume | None = None
    #: `rollout:` on the entry: its replacements, resizes and rebuilds go batch by batch.
    rollout: Rollout | None = None


@dataclass(frozen=True)
class Rule:
    """One security group rule as Neutron stores it, with the remote group as written.

    `protocol` None means any; ports are None unless tcp/udp name them;
    `remote_ip_prefix` is a normalised CIDR; `remote_group` a group name (the
    stack's own group of that name first, else the cloud's) or id.
    """

    direction: str = "ingress"
    ethertype: str = "IPv4"
    protocol: str | None = None
    port_min: int | None = None
    port_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group: str | None = None

    def describe(self) -> str:
        """`ingress tcp 22 from 0.0.0.0/0`, for plans."""
        what = self.protocol or "any"
        if self.port_min is not None:
            ports = (
                str(self.port_min)
                if self.port_max in (None, self.port_min)
                else f"{self.port_min}-{self.port_max}"
            )
            what += f" {ports}"
        peer = self.remote_group or self.remote_ip_prefix
        where = (" from " if self.direction == "ingress" else " to ") + peer if peer else ""
        family = "" if self.ethertype == "IPv4" else f" ({self.ethertype})"
        return f"{self.direction} {what}{where}{family}"


@dataclass(frozen=True)
class DesiredSecurityGroup:
    """A security group the spec defines (top-level `security_groups:`): owned by the
    stack, its rules managed one by one."""

    name: str
    description: str = ""
    rules: tuple[Rule, ...] = ()
    source: SourceLocation | None = None


@dataclass(frozen=True)
class ObservedRule:
    """A rule as Neutron lists it; `rule.remote_group` holds the remote group's id."""

    id: str
    rule: Rule


@dataclass(frozen=True)
class ObservedSecurityGroup:
    """A security group the project can see (owned by the stack or not)."""

    id: str
    name: str
    description: str = ""
    tags: tuple[str, ...] = ()
    rules: tuple[ObservedRule, ...] = ()
    project_id: str | None = None


@dataclass(frozen=True)
class DesiredKeypair:
    """A key pair the spec defines (top-level `keypairs:`): `public_key` is the OpenSSH
    line as written (inline or read from a file), already checked to parse."""

    name: str
    public_key: str
    source: SourceLocation | None = None


@dataclass(frozen=True)
class ObservedKeypair:
    """A key pair of the user (Nova key pairs belong to a user, not a project)."""

    name: str
    public_key: str
    type: str = "ssh"


@dataclass(frozen=True)
class ObservedFloatingIp:
    """A floating IP the project can see; `server_id` from Neutron's port_details."""

    id: str
    address: str
    network_id: str
    port_id: str | None = None
    server_id: str | None = None
    fixed_ip: str | None = None
    tags: tuple[str, ...] = ()
    status: str = "DOWN"


@dataclass(frozen=True)
class FloatingIpChange:
    """What happens to one server's floating IP: the one it has (or is claimed), the
    server it must end up on (by name: its id is known only once apply built it),
    and the network to allocate from for a create."""

    before: ObservedFloatingIp | None = None
    server: str | None = None
    network: str | None = None
    claimed: bool = False


@dataclass(frozen=True)
class KeypairChange:
    before: ObservedKeypair | None = None
    after: DesiredKeypair | None = None
    #: The public key line to upload: the spec's key with the stack's marker as its
    #: comment (how an owned key pair is told from one that only has the same key).
    upload: str | None = None


#: The address of a group this apply creates, standing for its id until then.
def placeholder(kind: Kind, name: str) -> str:
    return f"{kind.value}.{name}"


@dataclass(frozen=True)
class GroupChange:
    """What happens to one owned security group: its state before and after, and the
    rules to add (remote groups resolved to ids, or to the placeholder address of a
    group created in the same apply) and to remove."""

    before: ObservedSecurityGroup | None = None
    after: DesiredSecurityGroup | None = None
    add_rules: tuple[Rule, ...] = ()
    remove_rules: tuple[ObservedRule, ...] = ()
    description: str | None = None


# --- server groups (`placement:`) ------------------------------------------------------

#: Nova's server group policies (`placement.policy`); the hard ones never break the rule,
#: the soft ones only prefer it.
PLACEMENT_POLICIES = ("anti-affinity", "affinity", "soft-anti-affinity", "soft-affinity")
HARD_POLICIES = frozenset({"anti-affinity", "affinity"})


@dataclass(frozen=True)
class Placement:
    """What an entry's `placement:` asks for: its replicas in one server group."""

    policy: str


@dataclass(frozen=True)
class DesiredServerGroup:
    """The server group of one spec entry with `placement:` (owned by the stack)."""

    entry: str
    policy: str
    #: The name it is created with: the stack's ownership marker (server_group.name_for).
    name: str
    source: SourceLocation | None = None


@dataclass(frozen=True)
class ObservedServerGroup:
    """A Nova server group of the project; `members` are server ids (ERROR ones too)."""

    id: str
    name: str
    policy: str
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServerGroupChange:
    """What happens to one entry's server group: the one there is and the one the spec
    wants (a new one when the policy changed: Nova cannot change a group's policy)."""

    before: ObservedServerGroup | None = None
    after: DesiredServerGroup | None = None


# --- volumes (`volumes:`, `boot_volume:`) ---------------------------------------------

#: Cinder statuses a volume rests in (anything else is on its way somewhere).
VOLUME_SETTLED = frozenset({"available", "in-use"})


@dataclass(frozen=True)
class VolumeRequest:
    """One entry of a server's `volumes:`: a data volume of `size` GB (and `type`, as
    written: a name or id; None: the cloud's default type)."""

    name: str
    size: int
    type: str | None = None


@dataclass(frozen=True)
class BootVolume:
    """`boot_volume:`: the server boots from a volume Nova makes from the image."""

    size: int
    type: str | None = None
    delete_on_termination: bool = True


@dataclass(frozen=True)
class DesiredVolume:
    """One data volume the spec wants: entry `volume` of server `server`."""

    server: str
    volume: str
    size: int
    type: str | None = None

    @property
    def name(self) -> str:
        """`<server>-<volume>`: its name in Cinder and in the plan's address."""
        return f"{self.server}-{self.volume}"


@dataclass(frozen=True)
class ObservedVolume:
    """A Cinder volume the stack owns; `attached_to` are the servers it is on (ids)."""

    id: str
    name: str
    size: int
    status: str
    volume_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=frozen_map)
    attached_to: tuple[str, ...] = ()
    created: str = ""


@dataclass(frozen=True)
class VolumeChange:
    """What happens to one data volume of server `server` (its name in the spec).

    In apply order: `detach_from` (a server id) before the servers change, then
    `extend_to` GB; `attach` to the server named `server` once it is ACTIVE (its id
    is known only then when apply builds it).
    """

    server: str
    before: ObservedVolume | None = None
    after: DesiredVolume | None = None
    extend_to: int | None = None
    detach_from: str | None = None
    attach: bool = False


# --- rolling replacement (`rollout:`) -------------------------------------------------


@dataclass(frozen=True)
class HealthCheck:
    """`rollout.health`: a shell command (`sh -c`) run on the declstack machine once per
    new server of a batch, with `DECLSTACK_SERVER_NAME` and `DECLSTACK_SERVER_ADDRESS`
    in its environment; exit status 0 within `timeout` seconds means healthy."""

    command: str
    timeout: float = 300.0


@dataclass(frozen=True)
class Rollout:
    """`rollout:` on an entry: its servers' replacements, resizes and rebuilds go
    `batch` at a time (`percent`: `batch` is a percentage of the entry's servers), each
    batch ACTIVE and healthy before the next starts, `pause` seconds apart."""

    batch: int = 1
    percent: bool = False
    pause: float = 0.0
    health: HealthCheck | None = None

    def size(self, servers: int) -> int:
        """Servers per batch for an entry of `servers` (a percentage rounds down, to at
        least one, so a batch never takes down more than the share asked)."""
        if not self.percent:
            return self.batch
        return max(1, servers * self.batch // 100)

    def describe(self) -> str:
        """`2 at a time` / `25% (1) at a time`, for plans."""
        return f"{self.batch}% at a time" if self.percent else f"{self.batch} at a time"


@dataclass(frozen=True)
class Batch:
    """Where a change stands in its entry's rollout: batch `number` of `of`."""

    entry: str
    number: int
    of: int


@dataclass(frozen=True)
class Spec:
    """A validated spec file: the whole desired state of one stack."""

    stack: str
    servers: tuple[DesiredServer, ...]
    cloud: str | None = None
    security_groups: tuple[DesiredSecurityGroup, ...] = ()
    keypairs: tuple[DesiredKeypair, ...] = ()
    path: str = "<spec>"
    #: `max_deletions:`: the most servers a plan may delete or replace (None: no limit).
    max_deletions: int | None = None
    #: Values read from allowed secret-looking or OS_* variables; plans mask them.
    #: Kept out of repr so a log line or traceback cannot print them.
    sensitive: frozenset[str] = field(default_factory=frozenset, repr=False)


@dataclass(frozen=True)
class ObservedServer:
    """A server as the cloud reports it (read-only snapshot)."""

    id: str
    name: str
    status: str
    metadata: Mapping[str, str] = field(default_factory=frozen_map)
    tags: tuple[str, ...] = ()
    description: str | None = None
    task_state: str | None = None
    image_id: str | None = None
    flavor_name: str | None = None
    addresses: tuple[tuple[str, str], ...] = ()  # (network name, ip)
    fault: str | None = None
    created: str = ""
    #: Names of the security groups on the server's ports (Nova lists names only);
    #: None when the cloud did not say (a list without details).
    security_groups: tuple[str, ...] | None = None
    #: The addresses Nova marks as floating (`OS-EXT-IPS:type: floating`); they are
    #: in `addresses` too.
    floating_ips: tuple[str, ...] = ()

    @property
    def is_gone(self) -> bool:
        return self.status.upper() in GONE_STATUSES or self.task_state == "deleting"

    @property
    def is_in_progress(self) -> bool:
        return self.status.upper() in IN_PROGRESS_STATUSES

    @property
    def is_error(self) -> bool:
        return self.status.upper() == "ERROR"


@dataclass(frozen=True)
class NamedResource:
    """An image, flavor, network, key pair or security group in the cloud."""

    id: str
    name: str
    status: str | None = None


@dataclass(frozen=True)
class Limits:
    """The project's instance quota and use, from Nova's /limits (None: unlimited/unknown)."""

    max_instances: int | None = None
    used_instances: int = 0
    #: Nova's server group quotas (maxServerGroups, maxServerGroupMembers) and use.
    max_server_groups: int | None = None
    max_server_group_members: int | None = None
    used_server_groups: int = 0


@dataclass(frozen=True)
class Subnet:
    """A Neutron subnet: where a network's fixed IPs can come from."""

    id: str
    network_id: str
    cidr: str


@dataclass(frozen=True)
class Catalog:
    """What the cloud offers to build servers from; used to check and resolve references."""

    images: tuple[NamedResource, ...] = ()
    flavors: tuple[NamedResource, ...] = ()
    networks: tuple[NamedResource, ...] = ()
    keypairs: tuple[NamedResource, ...] = ()
    security_groups: tuple[NamedResource, ...] = ()
    limits: Limits = field(default_factory=Limits)
    subnets: tuple[Subnet, ...] = ()
    #: Ids of networks another project owns (shared with this one).
    foreign_networks: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CreateRequest:
    """Everything one server create needs, with references resolved to ids.

    `networks` is "auto", "none" or a tuple of network ids.
    `metadata` and `tags` already include declstack's ownership marker.
    """

    name: str
    image_id: str
    flavor_id: str
    networks: str | tuple[str, ...]
    metadata: Mapping[str, str]
    tags: tuple[str, ...]
    key_name: str | None = None
    security_groups: tuple[str, ...] = ()
    user_data: str | None = None
    availability_zone: str | None = None
    description: str | None = None
    #: Aligned with `networks` when it is a tuple; empty when no fixed IP is asked.
    fixed_ips: tuple[str | None, ...] = ()
    config_drive: bool = False
    #: The server group to schedule into (Nova's `group` scheduler hint): its id, or
    #: the placeholder address of the group this apply creates; None: no group.
    server_group: str | None = None
    #: Boot from a volume made from `image_id` (block device mapping v2), or None.
    boot_volume: BootVolume | None = None


@dataclass(frozen=True)
class ServerPatch:
    """An in-place update that touches only what declstack manages."""

    set_metadata: Mapping[str, str] = field(default_factory=frozen_map)
    delete_metadata: tuple[str, ...] = ()
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    description: str | None = None
    change_description: bool = False
    #: The security groups the server must end up with (refs as written in the
    #: spec); None when they do not change. `resolve` turns it into the ids to
    #: add and remove with Nova's addSecurityGroup / removeSecurityGroup actions.
    security_groups: tuple[str, ...] | None = None
    add_security_groups: tuple[str, ...] = ()
    remove_security_groups: tuple[str, ...] = ()
    #: The flavor to resize to, as the spec writes it (`lifecycle.flavor_change:
    #: resize`); `resolve` puts its id in `resize_flavor_id`.
    resize_to: str | None = None
    resize_flavor_id: str | None = None
    #: The image to rebuild from, as the spec writes it (`lifecycle.image_change:
    #: rebuild`); `resolve` puts its id in `rebuild_image_id`.
    rebuild_with: str | None = None
    rebuild_image_id: str | None = None
    #: "start" or "stop" (`state:`), or None.
    power: str | None = None
    #: Confirm a resize an interrupted apply left in VERIFY_RESIZE on the spec's flavor.
    confirm_resize: bool = False
    #: Run the rollout's health command on the server again (its last one failed), and
    #: take the mark of that failure off once it passes.
    recheck_health: bool = False

    @property
    def is_empty(self) -> bool:
        return not (
            self.set_metadata
            or self.delete_metadata
            or self.add_tags
            or self.remove_tags
            or self.change_description
            or self.security_groups is not None
            or self.resize_to is not None
            or self.rebuild_with is not None
            or self.power is not None
            or self.confirm_resize
            or self.recheck_health
        )

    @property
    def acts(self) -> bool:
        """Apply sends a server action and waits for it (resize, rebuild, start, stop)."""
        return (
            self.resize_to is not None
            or self.rebuild_with is not None
            or self.power is not None
            or self.confirm_resize
        )


class Kind(str, enum.Enum):
    """The kinds of resource a plan can hold; an address is `<kind>.<name>`."""

    SERVER = "server"
    SECURITY_GROUP = "security_group"
    FLOATING_IP = "floating_ip"
    KEYPAIR = "keypair"
    SERVER_GROUP = "server_group"
    VOLUME = "volume"


class Action(str, enum.Enum):
    """What a change does. Closed set: apply knows exactly these.

    A replacement is two actions, not one plus a flag: the order of its halves
    is decided by the planner and carried here, so renderers and the reconciler
    never look it up again. Waiting for a resource another run left in progress
    (a server in BUILD) is an action too.
    """

    NOOP = "no-op"
    WAIT = "wait"
    CREATE = "create"
    UPDATE = "update"
    DELETE_THEN_CREATE = "delete-then-create"
    CREATE_THEN_DELETE = "create-then-delete"
    DELETE = "delete"

    @property
    def symbol(self) -> str:
        return {
            "no-op": " ",
            "wait": "...",
            "create": "+",
            "update": "~",
            "delete-then-create": "-/+",
            "create-then-delete": "+/-",
            "delete": "-",
        }[self.value]

    @property
    def is_replace(self) -> bool:
        return self in (Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE)

    @property
    def builds(self) -> bool:
        """Apply sends a create request for this change."""
        return self is Action.CREATE or self.is_replace

    @property
    def changes(self) -> bool:
        """The cloud is changed (not only waited for, not left alone)."""
        return self not in (Action.NOOP, Action.WAIT)


#: Plan order of changes that share an address (duplicates of one name).
ACTION_ORDER = {action: rank for rank, action in enumerate(Action)}


@dataclass(frozen=True)
class Change:
    """One planned change to one resource, addressed `<kind>.<name>`.

    `before` is the resource being changed (None for a create); `after` is the
    desired resource (None for a delete). `create` is set for creates and
    replacements once references are resolved (and, as a fallback, for a WAIT
    on a server in BUILD); `patch` for UPDATE. `replaced_by` names the
    attributes whose change forces a replacement.
    """

    name: str
    action: Action
    reason: str
    before: ObservedServer | None = None
    after: DesiredServer | None = None
    patch: ServerPatch | None = None
    create: CreateRequest | None = None
    replaced_by: tuple[str, ...] = ()
    kind: Kind = Kind.SERVER
    #: The payload of a security group change (kind SECURITY_GROUP only).
    group: GroupChange | None = None
    #: The payload of a floating IP change (kind FLOATING_IP only).
    floating_ip: FloatingIpChange | None = None
    #: The payload of a key pair change (kind KEYPAIR only): what is there, what the
    #: spec wants (the public key to upload, with the stack's marker).
    keypair: KeypairChange | None = None
    #: The payload of a server group change (kind SERVER_GROUP only).
    server_group: ServerGroupChange | None = None
    #: The payload of a data volume change (kind VOLUME only).
    volume: VolumeChange | None = None
    #: Attributes that differ from the spec but that `lifecycle.ignore_changes` lists:
    #: reported (in `reason` too), never acted on.
    ignored: tuple[str, ...] = ()
    #: The rollout batch of a replacement, resize or rebuild of an entry with `rollout:`
    #: (`declstack.rollout`); None: the change is not rolled.
    batch: Batch | None = None

    @property
    def address(self) -> str:
        return f"{self.kind.value}.{self.name}"

    @property
    def is_pending(self) -> bool:
        """Apply has work here: a change, or a resource in progress to wait for."""
        return self.action is not Action.NOOP


@dataclass(frozen=True)
class Diagnostic:
    """A problem found while planning. Errors block apply; warnings do not."""

    severity: str  # "error" | "warning"
    message: str
    address: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class PlanOptions:
    """How a plan is made beyond spec and cloud, so a saved plan can be made again.

    `targets`: `--target` names (`web-1`, `web-*`, `security_group.web`); empty means
    the whole stack. `max_deletions`: `--max-deletions`; None means the spec's
    `max_deletions` for plan and apply, and no limit for destroy.
    """

    targets: tuple[str, ...] = ()
    max_deletions: int | None = None


@dataclass(frozen=True)
class Plan:
    """The full set of changes for one stack, and what was found on the way."""

    stack: str
    changes: tuple[Change, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    #: The stack's own groups by name: their ids, or the placeholder address of
    #: those this apply creates. Servers naming one of them mean this one.
    group_ids: Mapping[str, str] = field(default_factory=frozen_map)
    #: The spec's own key pairs: servers naming one need not find it in the cloud yet.
    own_keypairs: frozenset[str] = frozenset()
    #: The spec's sensitive values (`Spec.sensitive`); every rendering masks them.
    sensitive: frozenset[str] = field(default_factory=frozenset, repr=False)
    #: Addresses of the changes `--target` left out of this plan (one per change).
    left_out: tuple[str, ...] = ()
    #: The server group of each entry with `placement:`, by entry name: its id, or the
    #: placeholder address of the group this apply creates.
    server_group_ids: Mapping[str, str] = field(default_factory=frozen_map)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "warning")

    @property
    def pending(self) -> tuple[Change, ...]:
        """What apply acts on (changes, and servers in BUILD to wait for)."""
        return tuple(c for c in self.changes if c.is_pending)

    @property
    def has_changes(self) -> bool:
        return any(c.action.changes for c in self.changes)

    def count(self, *actions: Action) -> int:
        return sum(1 for c in self.changes if c.action in actions)

    @property
    def replacements(self) -> int:
        return self.count(Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE)

    def of_kind(self, kind: Kind) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind is kind)
