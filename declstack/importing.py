"""Import: bring servers somebody built by hand under a stack, without rebuilding them.

A server is taken in by writing the stack's marker onto it, with a fingerprint
that says, attribute by attribute, whether the server was built as the spec
asks: the spec's own hash where it was, a hash that cannot match where it was
not. So the next plan replaces it naming exactly the attributes that differ (or
changes its security groups in place), and leaves it alone when all match.
Nothing else about the server changes, except the metadata, tags and
description the spec gives it, set as an in-place update would set them.

`prepare` observes through the port and checks every server before
`carry_out` changes any; `match_by_name`, `decide` and `render_text` are pure.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from declstack import ownership
from declstack.errors import UserError
from declstack.interpolate import mask_text
from declstack.model import (
    NETWORKS_AUTO,
    NETWORKS_NONE,
    Catalog,
    DesiredServer,
    NamedResource,
    ObservedServer,
    ServerPatch,
    Spec,
    frozen_map,
)
from declstack.port import BuiltServer, CloudPort, Nic
from declstack.resolve import lookup

USER_DATA_NOTE = (
    "user_data cannot be read back from Nova, so it is taken to match the spec "
    "(if the server was built with other user_data, nothing will show it)"
)
#: The start of every stack's ownership tag.
STACK_TAG_PREFIX = ownership.stack_tag("")


@dataclass(frozen=True)
class Problem:
    """Why one requested import cannot be done."""

    message: str
    hint: str | None = None


class ImportRefused(UserError):
    """The import was refused before anything was changed; lists every problem found."""

    def __init__(self, problems: Sequence[Problem]):
        if len(problems) == 1:
            (only,) = problems
            super().__init__(f"{only.message}; nothing was changed", hint=only.hint)
        else:
            lines = [f"{len(problems)} problems; nothing was changed:"]
            for problem in problems:
                hint = f" ({problem.hint})" if problem.hint else ""
                lines.append(f"  - {problem.message}{hint}")
            super().__init__("\n".join(lines))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Check:
    """One create-time attribute of a server compared with what the spec asks.

    `detail` says what differs, or why an attribute is taken to match.
    """

    attribute: str
    matches: bool
    detail: str = ""


@dataclass(frozen=True)
class Adoption:
    """One server to take into the stack: the checks, and the metadata and tags to write."""

    name: str
    server: ObservedServer
    checks: tuple[Check, ...]
    patch: ServerPatch
    #: The stack that owned it before (`--steal`); the stack itself when an earlier
    #: import of it stopped half way.
    previous_owner: str | None = None

    @property
    def differing(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.matches)

    @property
    def replaced_by(self) -> tuple[str, ...]:
        """The differing attributes that make the next plan replace the server."""
        return tuple(
            c.attribute for c in self.differing if c.attribute in ownership.REPLACING_ATTRIBUTES
        )

    @property
    def changed_in_place(self) -> tuple[str, ...]:
        """The differing attributes the next plan changes in place."""
        return tuple(
            c.attribute for c in self.differing if c.attribute in ownership.IN_PLACE_ATTRIBUTES
        )


@dataclass(frozen=True)
class ImportPlan:
    """What an import will do: the servers to take in, those already in the stack."""

    stack: str
    adoptions: tuple[Adoption, ...] = ()
    #: (name, id) of servers asked for that the stack already has: nothing to do.
    already: tuple[tuple[str, str], ...] = ()
    #: Servers `--match-names` found but left alone, and why.
    skipped: tuple[str, ...] = ()
    sensitive: frozenset[str] = field(default_factory=frozenset, repr=False)


def parse_pairs(texts: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """`web-1=<id>` arguments as (name, id) pairs; anything else is refused."""
    pairs: list[tuple[str, str]] = []
    problems: list[Problem] = []
    for text in texts:
        name, sep, server_id = (part.strip() for part in text.partition("="))
        if not sep or not name or not server_id:
            problems.append(
                Problem(
                    f"{text!r} is not NAME=SERVER_ID",
                    hint="give the server's name in the spec, '=', and the id of the server "
                    "to import, e.g. web-1=9f3c2a4e-...",
                )
            )
        else:
            pairs.append((name, server_id))
    if problems:
        raise ImportRefused(problems)
    return tuple(pairs)


def prepare(
    spec: Spec,
    pairs: Sequence[tuple[str, str]],
    cloud: CloudPort,
    *,
    match_names: bool = False,
    steal: bool = False,
) -> ImportPlan:
    """Observe what the import needs (the stack's servers, each server asked for, the
    catalog) and decide; raises `ImportRefused` listing every problem, before any change."""
    if not pairs and not match_names:
        raise ImportRefused(
            [
                Problem(
                    "no server to import",
                    hint="name each server as NAME=SERVER_ID, or pass --match-names",
                )
            ]
        )
    managed = cloud.list_stack_servers(spec.stack)
    pairs = list(pairs)
    problems: list[Problem] = []
    skipped: list[str] = []
    if match_names:
        found, problems, skipped = match_by_name(
            spec, cloud.list_all_servers(), managed, {name for name, _ in pairs}
        )
        pairs += found
    builds = {
        server_id: cloud.get_server(server_id) for server_id in dict.fromkeys(i for _, i in pairs)
    }
    catalog = cloud.fetch_catalog() if pairs else Catalog()
    return decide(
        spec, pairs, builds, managed, catalog, steal=steal, problems=problems, skipped=skipped
    )


def match_by_name(
    spec: Spec,
    servers: Sequence[ObservedServer],
    managed: Sequence[ObservedServer],
    named: Collection[str],
) -> tuple[list[tuple[str, str]], list[Problem], list[str]]:
    """What `--match-names` takes: for every spec name that has no server in the stack
    (and was not named explicitly), the one server of that name no stack owns.

    Returns the (name, id) pairs, the names two such servers share (ambiguous: a
    problem), and the servers of other stacks left alone (never stolen by name).
    """
    have = {s.name for s in managed if not s.is_gone} | set(named)
    wanted = {d.name for d in spec.servers} - have
    candidates: dict[str, list[str]] = defaultdict(list)
    skipped: list[str] = []
    for server in sorted(servers, key=lambda s: (s.name, s.id)):
        if server.is_gone or server.name not in wanted:
            continue
        owner = ownership.owner_of(server)
        if owner in (None, spec.stack):  # the stack's own: an import that stopped half way
            candidates[server.name].append(server.id)
        else:
            skipped.append(
                f'server {server.name} (id {server.id}): owned by stack "{owner}"; to take it, '
                f"import it by name ({server.name}={server.id}) with --steal"
            )
    pairs: list[tuple[str, str]] = []
    problems: list[Problem] = []
    for name, ids in sorted(candidates.items()):
        if len(ids) == 1:
            pairs.append((name, ids[0]))
            continue
        problems.append(
            Problem(
                f'--match-names: {len(ids)} servers are named "{name}" (ids {", ".join(ids)}); '
                "which one to import is ambiguous",
                hint=f"import the one you mean by id ({name}=<id>) and rename or delete the other",
            )
        )
    return pairs, problems, skipped


def decide(
    spec: Spec,
    pairs: Sequence[tuple[str, str]],
    builds: Mapping[str, BuiltServer | None],
    managed: Sequence[ObservedServer],
    catalog: Catalog,
    *,
    steal: bool = False,
    problems: Sequence[Problem] = (),
    skipped: Sequence[str] = (),
) -> ImportPlan:
    """Check every (name, server id) asked for and compare each server with the spec.

    Raises `ImportRefused` with every problem (an unknown name, a missing server, a
    name that differs, another stack's server without `steal`, ...); else returns
    the plan, in which a server already fully in the stack is only listed.
    """
    desired = {d.name: d for d in spec.servers}
    found = [*problems, *_given_twice(pairs)]
    repeated_ids = {i for i, n in Counter(i for _, i in pairs).items() if n > 1}
    repeated_names = {name for name, n in Counter(name for name, _ in set(pairs)).items() if n > 1}
    live: dict[str, list[str]] = defaultdict(list)
    for server in managed:
        if not server.is_gone and ownership.owner_of(server) == spec.stack:
            live[server.name].append(server.id)

    adoptions: list[Adoption] = []
    already: list[tuple[str, str]] = []
    for name, server_id in pairs:
        if name in repeated_names or server_id in repeated_ids:
            continue
        if name not in desired:
            found.append(_unknown_name(name, spec))
            continue
        build = builds.get(server_id)
        if build is None or build.server.is_gone:
            found.append(
                Problem(
                    f"no server with id {server_id} (given for {name})",
                    hint="check the id: openstack server list shows the project's servers",
                )
            )
            continue
        server = build.server
        owner = ownership.owner_of(server)
        if server.name != name:
            found.append(
                Problem(
                    f'server {server_id} is named "{server.name}", not "{name}"',
                    hint=f"the stack finds its servers by name: rename it first (openstack "
                    f"server set --name {name} {server_id}), or give the name it has",
                )
            )
            continue
        if owner == spec.stack and ownership.stack_tag(spec.stack) in server.tags:
            already.append((name, server_id))
            continue
        if owner not in (None, spec.stack) and not steal:
            found.append(
                Problem(
                    f'server {name} ({server_id}) belongs to stack "{owner}"',
                    hint=f'pass --steal to take it; stack "{owner}" then no longer sees it',
                )
            )
            continue
        others = [other for other in live.get(name, []) if other != server_id]
        if others:
            found.append(
                Problem(
                    f'stack "{spec.stack}" already has a server named "{name}" '
                    f"(id {', '.join(others)}); a name holds one server",
                    hint="destroy or rename one of them first",
                )
            )
            continue
        if server.is_in_progress or server.task_state:
            busy = server.status + (f", {server.task_state}" if server.task_state else "")
            found.append(
                Problem(
                    f"server {name} ({server_id}) is busy ({busy})",
                    hint="import it once it has settled (ACTIVE or SHUTOFF)",
                )
            )
            continue
        adoptions.append(_adoption(spec, desired[name], build, catalog, owner))
    if found:
        raise ImportRefused(found)
    return ImportPlan(spec.stack, tuple(adoptions), tuple(already), tuple(skipped), spec.sensitive)


def _given_twice(pairs: Sequence[tuple[str, str]]) -> list[Problem]:
    """A server id given twice, or a name given for two servers."""
    problems: list[Problem] = []
    for server_id, n in Counter(i for _, i in pairs).items():
        if n > 1:
            as_names = ", ".join(sorted({name for name, i in pairs if i == server_id}))
            problems.append(
                Problem(
                    f"server id {server_id} is given {n} times (as {as_names})",
                    hint="a server can be imported once, under one name",
                )
            )
    for name, n in Counter(name for name, _ in set(pairs)).items():
        if n > 1:
            ids = ", ".join(sorted({i for other, i in pairs if other == name}))
            problems.append(
                Problem(
                    f"name {name} is given for {n} servers (ids {ids})",
                    hint="a name holds one server: import one of them",
                )
            )
    return problems


def _unknown_name(name: str, spec: Spec) -> Problem:
    names = sorted(d.name for d in spec.servers)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(close) + "?"
    else:
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        hint = f"the spec's servers: {shown or 'none'}"
    return Problem(f'{spec.path}: no server named "{name}" in the spec', hint=hint)


def _adoption(
    spec: Spec,
    desired: DesiredServer,
    build: BuiltServer,
    catalog: Catalog,
    owner: str | None,
) -> Adoption:
    checks = compare(desired, build, catalog, {g.name for g in spec.security_groups})
    server = build.server
    stack_tag = ownership.stack_tag(spec.stack)
    metadata = {
        **desired.metadata,
        **ownership.marker_metadata(spec.stack, desired),
        ownership.FINGERPRINT_KEY: import_fingerprint(desired, checks),
    }
    wanted_tags = dict.fromkeys([*desired.tags, stack_tag])
    change_description = (
        desired.description is not None and desired.description != server.description
    )
    patch = ServerPatch(
        set_metadata=frozen_map(metadata),
        add_tags=tuple(t for t in wanted_tags if t not in server.tags),
        # another stack's tag (--steal): that stack's list must no longer find it
        remove_tags=tuple(
            t for t in server.tags if t.startswith(STACK_TAG_PREFIX) and t != stack_tag
        ),
        description=desired.description if change_description else None,
        change_description=change_description,
    )
    return Adoption(desired.name, server, checks, patch, owner)


def import_fingerprint(desired: DesiredServer, checks: Sequence[Check]) -> str:
    """The fingerprint an import writes: the spec's hash of each attribute that matches,
    one that cannot match for each that differs, so the next plan names exactly those.

    Checked against `ownership.changed_fingerprinted`, the planner's own reading.
    """
    wanted = ownership.parse_fingerprint(ownership.fingerprint(desired))
    assert wanted is not None
    differing = {c.attribute: c.detail for c in checks if not c.matches}
    order = (*ownership.CREATE_TIME_ATTRIBUTES, *ownership.LATER_ATTRIBUTES)
    for salt in range(100):
        parts = []
        for name in order:
            if name in differing:
                parts.append(f"{name}={_unmatchable(name, differing[name], salt)}")
            elif name in wanted:
                parts.append(f"{name}={wanted[name]}")
        text = ";".join([ownership.FINGERPRINT_VERSION, *parts])
        probe = ObservedServer(
            id="", name=desired.name, status="ACTIVE", metadata={ownership.FINGERPRINT_KEY: text}
        )
        if set(ownership.changed_fingerprinted(desired, probe)) == set(differing):
            return text
    raise AssertionError(f"no fingerprint of {desired.name} names exactly {sorted(differing)}")


def _unmatchable(attribute: str, observed: str, salt: int) -> str:
    """A hash of what the server has, which the spec's hash of the attribute cannot be."""
    text = f"declstack-import;{attribute};{observed};{salt}"
    return hashlib.sha256(text.encode()).hexdigest()[:10]


# --- comparing one server with the spec ---------------------------------------------


def compare(
    desired: DesiredServer,
    build: BuiltServer,
    catalog: Catalog,
    own_groups: Collection[str] = (),
) -> tuple[Check, ...]:
    """Each fingerprinted attribute of `build` against the spec, in fingerprint order.

    References are resolved through the catalog (an image name to its id, a
    network name to its id); `own_groups` are the spec's own security groups.
    """
    return (
        _image(desired, build, catalog),
        _flavor(desired, build, catalog),
        _key_name(desired, build),
        _networks(desired, build, catalog),
        _security_groups(desired, build, catalog, own_groups),
        Check("user_data", True, USER_DATA_NOTE),
        _availability_zone(desired, build),
        _config_drive(desired, build),
        _placement(desired),
        _boot_volume(desired, build),
    )


def _quoted(value: str | None) -> str:
    return "none" if value is None else f'"{value}"'


def _named(resource_id: str, pool: Sequence[NamedResource]) -> str:
    for resource in pool:
        if resource.id == resource_id:
            return f'"{resource.name}" ({resource_id})'
    return resource_id


def _image(desired: DesiredServer, build: BuiltServer, catalog: Catalog) -> Check:
    actual = build.server.image_id
    found, _ = lookup("image", desired.image, catalog.images)
    if actual and actual in (desired.image, found.id if found else None):
        return Check("image", True)
    has = f"image {_named(actual, catalog.images)}" if actual else "no image (booted from a volume)"
    if found is None:
        asks = f'"{desired.image}", which the cloud does not list'
    elif found.id == desired.image:
        asks = found.id
    else:
        asks = f'"{desired.image}" ({found.id})'
    return Check("image", False, f"server has {has}, spec asks {asks}")


def _flavor(desired: DesiredServer, build: BuiltServer, catalog: Catalog) -> Check:
    # Nova >= 2.47 shows the flavor's name (original_name), older ones its id.
    actual = build.server.flavor_name
    found, _ = lookup("flavor", desired.flavor, catalog.flavors)
    accepted = {desired.flavor, *((found.id, found.name) if found else ())}
    if actual in accepted:
        return Check("flavor", True)
    return Check(
        "flavor", False, f"server has {_quoted(actual)}, spec asks {_quoted(desired.flavor)}"
    )


def _key_name(desired: DesiredServer, build: BuiltServer) -> Check:
    if build.key_name == desired.key_name:
        return Check("key_name", True)
    detail = f"server has {_quoted(build.key_name)}, spec asks {_quoted(desired.key_name)}"
    return Check("key_name", False, detail)


def _networks(desired: DesiredServer, build: BuiltServer, catalog: Catalog) -> Check:
    nics = build.nics
    has = ", ".join(
        _named(nic.network_id, catalog.networks) + (f" {' '.join(nic.ips)}" if nic.ips else "")
        for nic in nics
    )
    has = f"server is on {has}" if nics else "server has no network"
    if desired.networks == NETWORKS_AUTO:
        if nics:
            return Check("networks", True)
        return Check("networks", False, f"{has}, spec asks auto (one network)")
    if desired.networks == NETWORKS_NONE:
        if not nics:
            return Check("networks", True)
        return Check("networks", False, f"{has}, spec asks none")
    fixed = desired.fixed_ips or (None,) * len(desired.networks)
    asked = [
        ref + (f" {ip}" if ip else "") for ref, ip in zip(desired.networks, fixed, strict=True)
    ]
    wanted: list[tuple[str, str | None]] = []
    for ref, ip in zip(desired.networks, fixed, strict=True):
        found, _ = lookup("network", ref, catalog.networks)
        wanted.append((found.id if found else ref, ip))
    if _nics_match(wanted, nics):
        return Check("networks", True)
    return Check("networks", False, f"{has}, spec asks {', '.join(asked)}")


def _nics_match(wanted: Sequence[tuple[str, str | None]], nics: Sequence[Nic]) -> bool:
    """Each wanted (network id, fixed IP or None) has its own port, and no port is left.
    Order is not compared: Neutron does not list a server's ports in NIC order."""
    if len(wanted) != len(nics):
        return False
    free = list(nics)
    for network_id, ip in sorted(wanted, key=lambda w: w[1] is None):  # fixed IPs first
        for nic in free:
            if nic.network_id == network_id and (
                ip is None or any(_same_ip(ip, have) for have in nic.ips)
            ):
                free.remove(nic)
                break
        else:
            return False
    return True


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a == b


def _security_groups(
    desired: DesiredServer, build: BuiltServer, catalog: Catalog, own: Collection[str]
) -> Check:
    if not desired.security_groups:
        return Check("security_groups", True)  # as the planner: Nova's choice is left alone
    observed = build.server.security_groups
    if observed is None:
        return Check(
            "security_groups", True, "the cloud does not list the server's groups; taken to match"
        )

    def name_of(ref: str) -> str:
        if ref in own:
            return ref
        found = next((g for g in catalog.security_groups if g.id == ref), None)
        return found.name if found else ref

    wanted = sorted({name_of(ref) for ref in desired.security_groups})
    has = sorted(set(observed))
    if wanted == has:
        return Check("security_groups", True)
    return Check("security_groups", False, f"server has {has}, spec asks {wanted}")


def _availability_zone(desired: DesiredServer, build: BuiltServer) -> Check:
    if desired.availability_zone is None:
        return Check("availability_zone", True)
    zone = desired.availability_zone.split(":", 1)[0]  # "zone:host" asks a host in the zone
    if not zone or build.availability_zone == zone:
        return Check("availability_zone", True)
    detail = f"server is in {_quoted(build.availability_zone)}, spec asks {_quoted(zone)}"
    return Check("availability_zone", False, detail)


def _config_drive(desired: DesiredServer, build: BuiltServer) -> Check:
    # A spec without config_drive does not forbid one (a cloud may force it on all).
    if not desired.config_drive or build.config_drive:
        return Check("config_drive", True)
    return Check("config_drive", False, "server has no config drive, spec asks for one")


def _placement(desired: DesiredServer) -> Check:
    # A server joins a server group at boot only: an import cannot put it in one.
    if desired.placement is None:
        return Check("placement", True)
    detail = (
        f'spec asks placement "{desired.placement.policy}", and a server joins its server '
        "group at boot only"
    )
    return Check("placement", False, detail)


def _boot_volume(desired: DesiredServer, build: BuiltServer) -> Check:
    # Nova shows no image for a server booted from a volume; its size and type are the
    # volume's, which an import does not read.
    if desired.boot_volume is None or build.server.image_id is None:
        return Check("boot_volume", True)
    return Check("boot_volume", False, "server boots from its image, spec asks for a boot volume")


# --- carrying it out, and showing it --------------------------------------------------


def carry_out(
    plan: ImportPlan, cloud: CloudPort, done: Callable[[Adoption], None] = lambda _: None
) -> None:
    """Write each adoption's marker, metadata and tags, in order; `done` after each.

    A failure names the servers imported before it; running the same import again
    skips those and takes in the rest.
    """
    finished: list[str] = []
    for adoption in plan.adoptions:
        try:
            cloud.import_server(adoption.server.id, adoption.patch)
        except UserError as exc:
            before = f"; imported before it: {', '.join(finished)}" if finished else ""
            raise UserError(
                mask_text(
                    f"importing {adoption.name} ({adoption.server.id}) failed: "
                    f"{exc.message}{before}",
                    plan.sensitive,
                ),
                hint="run the same import again: servers already imported are skipped",
            ) from None
        finished.append(adoption.name)
        done(adoption)


def next_plan(adoption: Adoption) -> str:
    """What the next plan does with the server once it is imported."""
    if adoption.replaced_by:
        what = ", ".join(adoption.replaced_by)
        return f"replaces it ({what} {'differs' if len(adoption.replaced_by) == 1 else 'differ'})"
    if adoption.changed_in_place:
        return f"changes its {', '.join(adoption.changed_in_place)} in place"
    return "leaves it as it is (built as the spec asks)"


def _what_import_writes(adoption: Adoption, stack: str) -> str:
    server, patch = adoption.server, adoption.patch
    said = ["adds marker and fingerprint"]
    if adoption.previous_owner == stack:
        said.append("finishes an import that stopped half way")
    elif adoption.previous_owner is not None:
        said.append(f'takes it from stack "{adoption.previous_owner}"')
    for key, value in sorted(patch.set_metadata.items()):
        if not key.startswith(ownership.PREFIX) and server.metadata.get(key) != value:
            before = f'"{server.metadata[key]}"' if key in server.metadata else "(unset)"
            said.append(f'metadata {key}: {before} -> "{value}"')
    said += [f"tag +{t}" for t in patch.add_tags if not t.startswith(ownership.PREFIX)]
    if patch.change_description:
        said.append(f'description -> "{patch.description}"')
    return "; ".join(said)


def render_text(plan: ImportPlan) -> str:
    """The import as text, plan-like: per server what is written and what the next plan
    will do (the differing attributes named), then the servers left alone."""
    lines: list[str] = []
    if plan.adoptions:
        lines += [f'declstack will import these servers into stack "{plan.stack}":', ""]
    for adoption in plan.adoptions:
        lines.append(
            f"  import server.{adoption.name} (id {adoption.server.id}): "
            f"{_what_import_writes(adoption, plan.stack)}"
        )
        for check in adoption.checks:
            if not check.matches:
                lines.append(f"      {check.attribute} differs: {check.detail}")
            elif check.detail and check.attribute != "user_data":
                lines.append(f"      {check.attribute}: {check.detail}")
        lines.append(f"      the next plan {next_plan(adoption)}")
    for name, server_id in plan.already:
        lines.append(
            f'  server.{name} (id {server_id}) is already in stack "{plan.stack}"; nothing to do'
        )
    for note in plan.skipped:
        lines.append(f"  left alone: {note}")
    if lines:
        lines.append("")
    lines.append(summary_line(plan))
    if plan.adoptions:
        lines.append(f"note: {USER_DATA_NOTE}.")
    return mask_text("\n".join(lines), plan.sensitive)


def summary_line(plan: ImportPlan) -> str:
    if not plan.adoptions:
        if plan.already:
            return f'Nothing to import: the servers are already in stack "{plan.stack}".'
        return "Nothing to import: no server the stack does not own has a name of the spec."
    replaced = sum(1 for a in plan.adoptions if a.replaced_by)
    return (
        f"Import: {len(plan.adoptions)} to import ({replaced} of them the next plan replaces), "
        f"{len(plan.already)} already in the stack."
    )


def outcome_line(plan: ImportPlan, adoption: Adoption) -> str:
    """`server.web-1 (id ...) has been imported; the next plan leaves it as it is ...`"""
    return mask_text(
        f"server.{adoption.name} (id {adoption.server.id}) has been imported; "
        f"the next plan {next_plan(adoption)}",
        plan.sensitive,
    )
