"""How a server carries declstack's ownership marker and create-time fingerprint.

The cloud is the source of truth, so everything declstack needs to recognise
and compare its servers is stored on the server itself, set in the create
request (so a run killed mid-boot still leaves a recognisable server):

- tag ``declstack:stack=<stack>``: lets the list call filter server-side;
- metadata ``declstack:stack`` = stack name: the marker (tags need Nova >= 2.26);
- metadata ``declstack:fingerprint``: one short hash per create-time attribute,
  of the values *as written in the spec*, so an image renamed or re-uploaded in
  the cloud never causes a diff, and a name-vs-id comparison never happens;
- metadata ``declstack:managed-metadata`` / ``declstack:managed-tags``: the user
  keys and tags declstack set, so removing one from the spec removes exactly it
  and nothing somebody else added;
- metadata ``declstack:prevent-destroy`` = ``true`` while the spec's
  ``lifecycle.prevent_destroy`` is set: the server stays protected when its entry
  shrinks, goes, or drops the flag in the same change that would delete it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from declstack.model import DesiredServer, ObservedServer

PREFIX = "declstack:"
STACK_KEY = "declstack:stack"
FINGERPRINT_KEY = "declstack:fingerprint"
MANAGED_METADATA_KEY = "declstack:managed-metadata"
MANAGED_TAGS_KEY = "declstack:managed-tags"
PREVENT_DESTROY_KEY = "declstack:prevent-destroy"
#: Set by a rollout on a server that failed its health check and stays (no old server
#: to go back to); its value says how it failed. The next plan checks it again first.
HEALTH_KEY = "declstack:health-failed"
FINGERPRINT_VERSION = "v1"

#: The attributes hashed into the fingerprint, in its stored order. Never
#: reorder or drop one: every deployed server carries this layout.
CREATE_TIME_ATTRIBUTES = (
    "image",
    "flavor",
    "key_name",
    "networks",
    "security_groups",
    "user_data",
    "availability_zone",
)
#: Attributes added to the fingerprint after v1: written only when they differ from
#: their default, and a missing one reads as its default, so every fingerprint
#: stored before they existed still matches a spec that does not use them.
LATER_ATTRIBUTES: dict[str, object] = {
    "config_drive": False,
    "placement": None,
    "boot_volume": None,
}
#: Fingerprinted attributes changed in place (Nova's add/removeSecurityGroup), not
#: by replacing the server; the fingerprint is rewritten after the change.
IN_PLACE_ATTRIBUTES = ("security_groups",)
#: Changing one of these means replacing the server.
REPLACING_ATTRIBUTES = tuple(
    a for a in (*CREATE_TIME_ATTRIBUTES, *LATER_ATTRIBUTES) if a not in IN_PLACE_ATTRIBUTES
)

#: Fingerprinted attributes `ignore_changes` cannot name: the entry's server group
#: follows the spec's policy, so its servers must too.
UNIGNORABLE_ATTRIBUTES = ("placement",)
#: What `lifecycle.ignore_changes` may name: every attribute the planner compares
#: (the fingerprinted ones, then those compared with the server as it is).
#: schemas/spec-v1.json lists the same names.
IGNORABLE_ATTRIBUTES = (
    *CREATE_TIME_ATTRIBUTES,
    *(name for name in LATER_ATTRIBUTES if name not in UNIGNORABLE_ATTRIBUTES),
    "metadata",
    "tags",
    "description",
    "state",
)

#: Nova metadata values are limited to 255 characters.
MAX_METADATA_VALUE = 255


def stack_tag(stack: str) -> str:
    """The tag that marks a server as belonging to `stack` (Nova tags: <= 60 chars)."""
    return f"declstack:stack={stack}"


def owner_of(server: ObservedServer) -> str | None:
    """The stack that owns `server`, or None when declstack does not manage it."""
    return server.metadata.get(STACK_KEY)


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


#: The digest a later attribute's default has (what a fingerprint without it means).
_DEFAULT_DIGESTS = {name: _digest(default) for name, default in LATER_ATTRIBUTES.items()}


def create_time_values(server: DesiredServer) -> dict[str, object]:
    """The create-time attributes of a desired server, as written in the spec.

    A network with a fixed IP is `{"network", "fixed_ip"}`; one without stays a
    plain string, so specs without fixed IPs keep their v1 hashes.
    """
    networks: object
    if isinstance(server.networks, str):
        networks = server.networks
    elif server.fixed_ips:
        networks = [
            ref if ip is None else {"network": ref, "fixed_ip": ip}
            for ref, ip in zip(server.networks, server.fixed_ips, strict=True)
        ]
    else:
        networks = list(server.networks)
    return {
        "image": server.image,
        "flavor": server.flavor,
        "key_name": server.key_name,
        "networks": networks,
        "security_groups": sorted(server.security_groups),
        "user_data": server.user_data,
        "availability_zone": server.availability_zone,
        "config_drive": server.config_drive,
        # The policy of the entry's server group: a server joins a group at boot only.
        "placement": server.placement.policy if server.placement else None,
        "boot_volume": None
        if server.boot_volume is None
        else {
            "size": server.boot_volume.size,
            "type": server.boot_volume.type,
            "delete_on_termination": server.boot_volume.delete_on_termination,
        },
    }


#: Fingerprints of the desired servers seen lately, by identity: a plan asks for each
#: server's several times (10,000 servers: 270,000 hashes without it). The server is
#: kept beside its fingerprint, so an id is never reused while it is cached.
_FINGERPRINTS: dict[int, tuple[DesiredServer, str]] = {}
_FINGERPRINTS_MAX = 100_000


def fingerprint(server: DesiredServer) -> str:
    """`v1;image=<h>;flavor=<h>;...`: one hash per create-time attribute (the later
    ones only when not at their default)."""
    cached = _FINGERPRINTS.get(id(server))
    if cached is not None and cached[0] is server:
        return cached[1]
    if len(_FINGERPRINTS) >= _FINGERPRINTS_MAX:
        _FINGERPRINTS.clear()
    computed = _fingerprint(server)
    _FINGERPRINTS[id(server)] = (server, computed)
    return computed


def _fingerprint(server: DesiredServer) -> str:
    values = create_time_values(server)
    parts = [f"{name}={_digest(values[name])}" for name in CREATE_TIME_ATTRIBUTES]
    parts += [
        f"{name}={_digest(values[name])}"
        for name, default in LATER_ATTRIBUTES.items()
        if values[name] != default
    ]
    return ";".join([FINGERPRINT_VERSION, *parts])


def rewritten_fingerprint(
    server: DesiredServer, observed: ObservedServer, names: tuple[str, ...] | list[str]
) -> str:
    """The server's recorded fingerprint with only `names` taken from the spec: what it
    records once those attributes changed in place. Other differences (one that
    `ignore_changes` lists, say) stay visible to the next plan."""
    recorded = parse_fingerprint(observed.metadata.get(FINGERPRINT_KEY)) or {}
    wanted = parse_fingerprint(fingerprint(server))
    assert wanted is not None
    for name in names:
        if name in wanted:
            recorded[name] = wanted[name]
        else:
            recorded.pop(name, None)  # a later attribute back at its default
    parts = [f"{name}={recorded[name]}" for name in CREATE_TIME_ATTRIBUTES if name in recorded]
    parts += [
        f"{name}={recorded[name]}"
        for name, default in LATER_ATTRIBUTES.items()
        if name in recorded and recorded[name] != _digest(default)
    ]
    return ";".join([FINGERPRINT_VERSION, *parts])


def parse_fingerprint(text: str | None) -> dict[str, str] | None:
    """The per-attribute hashes of a stored fingerprint, or None if unreadable."""
    if not text:
        return None
    version, _, rest = text.partition(";")
    if version != FINGERPRINT_VERSION:
        return None
    result: dict[str, str] = {}
    for part in rest.split(";"):
        name, sep, digest = part.partition("=")
        if not sep:
            return None
        result[name] = digest
    return result


def changed_fingerprinted(server: DesiredServer, observed: ObservedServer) -> list[str]:
    """Names of fingerprinted attributes whose spec value differs from the recorded one.

    A server whose fingerprint is missing or unreadable reports every attribute,
    so the planner replaces it rather than guessing.
    """
    recorded = parse_fingerprint(observed.metadata.get(FINGERPRINT_KEY))
    if recorded is None:
        return [*CREATE_TIME_ATTRIBUTES, *LATER_ATTRIBUTES]
    wanted = parse_fingerprint(fingerprint(server))
    assert wanted is not None
    for parsed in (recorded, wanted):
        for name, default in _DEFAULT_DIGESTS.items():
            parsed.setdefault(name, default)
    names = [*CREATE_TIME_ATTRIBUTES, *LATER_ATTRIBUTES]
    return [name for name in names if recorded.get(name) != wanted[name]]


def changed_create_attributes(server: DesiredServer, observed: ObservedServer) -> list[str]:
    """The changed attributes that force a replacement."""
    return [a for a in changed_fingerprinted(server, observed) if a in REPLACING_ATTRIBUTES]


def join_names(names: list[str] | tuple[str, ...]) -> str:
    """Encode a list of metadata keys or tags into one metadata value."""
    return json.dumps(sorted(names), separators=(",", ":"))


def split_names(value: str | None) -> list[str]:
    """Decode `join_names`; an unreadable value counts as an empty list."""
    if not value:
        return []
    try:
        decoded = json.loads(value)
    except ValueError:
        return []
    if not isinstance(decoded, list):
        return []
    return [str(item) for item in decoded]


def marker_metadata(stack: str, server: DesiredServer) -> dict[str, str]:
    """The metadata declstack itself sets on a server it creates."""
    marker = {
        STACK_KEY: stack,
        FINGERPRINT_KEY: fingerprint(server),
        MANAGED_METADATA_KEY: join_names(list(server.metadata)),
        MANAGED_TAGS_KEY: join_names(list(server.tags)),
    }
    if server.lifecycle.prevent_destroy:
        marker[PREVENT_DESTROY_KEY] = "true"
    return marker


def is_protected(server: ObservedServer) -> bool:
    """The server carries the prevent_destroy marker (`true`, in any case)."""
    return server.metadata.get(PREVENT_DESTROY_KEY, "").lower() == "true"


def managed_metadata_keys(observed: Mapping[str, str]) -> list[str]:
    return split_names(observed.get(MANAGED_METADATA_KEY))


def managed_tags(observed: Mapping[str, str]) -> list[str]:
    return split_names(observed.get(MANAGED_TAGS_KEY))
