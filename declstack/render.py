"""Show a plan as Terraform-like text, as versioned JSON, or as Markdown for PR comments.

All three views come from the same `Plan` value and decide nothing: the
planner already said what happens and why. user_data is never shown, only its
sha256, since it often carries secrets. declstack's own `declstack:*`
bookkeeping keys and tags are left out of the human views. Values the spec
read from allowed secret-looking variables (`Plan.sensitive`) are masked in
every view, wherever they ended up: names, metadata, descriptions, tags, and
what the cloud reports back.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Mapping
from typing import Any, TypeVar

from declstack import ownership
from declstack.interpolate import mask_text
from declstack.kinds import keypair as keypair_kind
from declstack.model import (
    POWER_START,
    POWER_STOP,
    Action,
    Change,
    CreateRequest,
    DesiredServer,
    Diagnostic,
    FloatingIpChange,
    GroupChange,
    KeypairChange,
    ObservedServer,
    Plan,
    Rollout,
    Rule,
    ServerGroupChange,
    ServerPatch,
    VolumeChange,
    frozen_map,
)

#: Version of the JSON plan format; see docs/plan-format.md. Bump the minor for
#: added fields, the major for removed or changed ones.
FORMAT_VERSION = "2.2"

_ANSI = {
    Action.CREATE: "32",
    Action.UPDATE: "33",
    Action.DELETE_THEN_CREATE: "35",
    Action.CREATE_THEN_DELETE: "35",
    Action.DELETE: "31",
    Action.WAIT: "36",
    Action.NOOP: "2",
}


def user_data_digest(user_data: str | None) -> str | None:
    """`sha256:<hex>` of user_data, so a change is visible but the text never is."""
    if user_data is None:
        return None
    return "sha256:" + hashlib.sha256(user_data.encode()).hexdigest()


_T = TypeVar("_T")
#: Fields never masked: user_data is shown only as a hash (of the real text,
#: so a change still shows), and statuses/severities drive what is shown.
_UNMASKED_FIELDS = frozenset({"user_data", "status", "task_state", "severity"})


def _masked(value: _T, sensitive: frozenset[str]) -> _T:
    """A copy of `value` with every sensitive string replaced, through dataclasses,
    tuples and mappings."""
    result: Any = value
    if isinstance(value, enum.Enum):
        return value
    if isinstance(value, str):
        result = mask_text(value, sensitive)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _masked(getattr(value, f.name), sensitive)
            for f in dataclasses.fields(value)
            if f.name not in _UNMASKED_FIELDS and f.name != "sensitive"
        }
        result = dataclasses.replace(value, **changes)
    elif isinstance(value, tuple):
        result = tuple(_masked(item, sensitive) for item in value)
    elif isinstance(value, Mapping):
        result = frozen_map(
            {
                key if key.startswith(ownership.PREFIX) else mask_text(key, sensitive): (
                    _masked(item, sensitive)
                )
                for key, item in value.items()
            }
        )
    return result  # type: ignore[no-any-return]


def masked_plan(plan: Plan) -> Plan:
    """`plan` with its sensitive values masked everywhere; the views show only this."""
    return _masked(plan, plan.sensitive) if plan.sensitive else plan


def summary_line(plan: Plan) -> str:
    """`Plan: 1 to add, ...` or the no-changes sentence, and what --target left out."""
    left_out = (
        f" {len(plan.left_out)} change(s) outside --target left out." if plan.left_out else ""
    )
    ignoring = sum(1 for c in plan.changes if c.ignored)
    if ignoring:
        left_out = (
            f" {ignoring} server(s) differ from the spec in attributes lifecycle.ignore_changes "
            "lists; those differences are left as they are." + left_out
        )
    if not plan.has_changes and ignoring and not (plan.errors or plan.pending or plan.left_out):
        return (
            f'No changes. The stack "{plan.stack}" matches the spec, except in attributes '
            f"lifecycle.ignore_changes lists: {ignoring} server(s) differ there, left as they are."
        )
    if not plan.has_changes:
        if plan.errors:
            return "No changes planned, but there are errors to fix." + left_out
        if plan.pending:
            return (
                f"No changes to make, but {len(plan.pending)} server(s) of stack "
                f'"{plan.stack}" are still being built; apply would wait for them.' + left_out
            )
        if plan.left_out:
            return "No changes to the targeted resources." + left_out
        return f'No changes. The stack "{plan.stack}" matches the spec.'
    return (
        f"Plan: {plan.count(Action.CREATE)} to add, {plan.count(Action.UPDATE)} to change, "
        f"{plan.replacements} to replace, {plan.count(Action.DELETE)} to destroy." + left_out
    )


# --- text -------------------------------------------------------------------


def render_text(plan: Plan, color: bool = False, show_noop: bool = False) -> str:
    """Terraform-like text: one block per change, then diagnostics, then the summary."""
    shown_plan = masked_plan(plan)
    real = {id(m): c for m, c in zip(shown_plan.changes, plan.changes, strict=True)}
    plan = shown_plan

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    lines: list[str] = []
    shown = [c for c in plan.changes if show_noop or c.action is not Action.NOOP or _noteworthy(c)]
    if plan.has_changes:
        lines += [f'declstack will perform these actions on stack "{plan.stack}":', ""]
    elif shown:
        lines += [f'Servers of stack "{plan.stack}":', ""]
    for change in shown:
        symbol = change.action.symbol.rjust(3)
        ident = f" (id {_id(change)})" if _id(change) else ""
        header = f"{symbol} {change.address}{ident}: {change.reason}"
        lines.append(paint(header, _ANSI[change.action]))
        lines += [f"      {row}" for row in _text_details(change, real[id(change)])]
        if change.batch is not None:
            lines.append(f"      rollout: batch {change.batch.number} of {change.batch.of}")
    if shown:
        lines.append("")
    rollouts = _rollout_lines(plan)
    if rollouts:
        lines += ["Rollout:", *(f"  {line}" for line in rollouts), ""]

    for title, items, code, mark in (
        ("Errors", plan.errors, "31", "x"),
        ("Warnings", plan.warnings, "33", "!"),
    ):
        if not items:
            continue
        lines.append(paint(f"{title}:", code))
        for diagnostic in items:
            lines.append(paint(f"  {mark} {_diagnostic_text(diagnostic)}", code))
            if diagnostic.hint:
                lines.append(f"      hint: {diagnostic.hint}")
        lines.append("")

    lines.append(paint(summary_line(plan), "1"))
    if plan.errors and plan.has_changes:
        lines.append(f"Apply is blocked by {len(plan.errors)} error(s).")
    return "\n".join(lines) + "\n"


def _rollout_lines(plan: Plan) -> list[str]:
    """One line per entry whose changes the plan rolls: how many, in how many batches,
    and what gates each batch."""
    lines = []
    entries: dict[str, list[Change]] = {}
    batches: dict[str, int] = {}
    for change in plan.changes:
        if change.batch is not None:
            entries.setdefault(change.batch.entry, []).append(change)
            batches[change.batch.entry] = change.batch.of
    for entry, changes in entries.items():
        rollout = changes[0].after.rollout if changes[0].after else None
        if rollout is None:
            continue
        gate = "ACTIVE"
        if rollout.health is not None:
            gate += (
                f" and has passed the health command {_q(rollout.health.command)} (within "
                f"{rollout.health.timeout:g}s)"
            )
        pause = f", then a {rollout.pause:g}s pause" if rollout.pause and batches[entry] > 1 else ""
        lines.append(
            f"{_q(entry)}: {len(changes)} server(s) in {batches[entry]} batch(es), "
            f"{rollout.describe()}; a batch starts once every server of the one before is "
            f"{gate}{pause}; a failed batch stops the rollout"
        )
    return lines


def _rollout_dict(rollout: Rollout | None) -> dict[str, Any] | None:
    if rollout is None:
        return None
    return {
        "batch": f"{rollout.batch}%" if rollout.percent else rollout.batch,
        "pause": rollout.pause,
        "health": None
        if rollout.health is None
        else {"command": rollout.health.command, "timeout": rollout.health.timeout},
    }


def _batch_cell(change: Change) -> str:
    return f" (batch {change.batch.number}/{change.batch.of})" if change.batch else ""


def _noteworthy(change: Change) -> bool:
    """A no-op a person should still see: a server being built, or in an odd state."""
    before = change.before
    return bool(change.ignored) or (
        before is not None and (before.is_in_progress or before.status not in ("ACTIVE", "SHUTOFF"))
    )


def _diagnostic_text(diagnostic: Diagnostic) -> str:
    address = diagnostic.address
    if address and not diagnostic.message.startswith(f"{address}:"):
        return f"{address}: {diagnostic.message}"
    return diagnostic.message


def _q(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _id(change: Change) -> str | None:
    """The id of the existing resource a change is about (None for a create)."""
    if change.group is not None:
        return change.group.before.id if change.group.before else None
    if change.floating_ip is not None:
        return change.floating_ip.before.id if change.floating_ip.before else None
    if change.keypair is not None:
        return None
    if change.server_group is not None:
        return change.server_group.before.id if change.server_group.before else None
    if change.volume is not None:
        return change.volume.before.id if change.volume.before else None
    return change.before.id if change.before else None


def _group_rows(group: GroupChange) -> list[str]:
    rows = []
    if group.after is not None and group.before is None and group.after.description:
        rows.append(f"description: {_q(group.after.description)}")
    if group.description is not None and group.before is not None:
        rows.append(f"description: {_q(group.before.description)} -> {_q(group.description)}")
    rows += [f"rule + {rule.describe()}" for rule in group.add_rules]
    rows += [f"rule - {observed.rule.describe()}" for observed in group.remove_rules]
    return rows


def _floating_ip_rows(fip: FloatingIpChange) -> list[str]:
    rows = [f"address: {fip.before.address}"] if fip.before else []
    if fip.server:
        rows.append(f"server: server.{fip.server}")
    if fip.network and not fip.before:
        rows.append(f"network: {fip.network}")
    if fip.claimed:
        rows.append("claimed: not owned by the stack, never released")
    return rows


def _server_group_rows(group: ServerGroupChange, action: Action) -> list[str]:
    before, after = group.before, group.after
    if action is Action.DELETE and before is not None:
        return [f"members: {len(before.members)}"]
    if after is None:
        return []
    rows = [f"name: {_q(after.name)}"]
    if action.is_replace and before is not None:
        rows.append(f"policy: {_q(before.policy)} -> {_q(after.policy)}   # forces replacement")
    elif action.builds:
        rows.append(f"policy: {_q(after.policy)}")
    return rows


def _volume_rows(volume: VolumeChange) -> list[str]:
    before, after = volume.before, volume.after
    rows = []
    if volume.extend_to is not None and before is not None:
        rows.append(f"size: {before.size} -> {volume.extend_to} GB   # extend in place")
    elif after is not None and before is None:
        rows.append(f"size: {after.size} GB")
    if after is not None and after.type is not None and before is None:
        rows.append(f"type: {_q(after.type)}")
    if volume.detach_from is not None:
        rows.append(f"detach from: server {volume.detach_from}")
    if volume.attach:
        rows.append(f"attach to: server.{volume.server}")
    return rows


def _text_details(change: Change, real: Change) -> list[str]:
    """Rows of a (masked) change; `real` is the unmasked one, to compare fingerprints."""
    if change.group is not None:
        return _group_rows(change.group) if change.action is not Action.DELETE else []
    if change.floating_ip is not None:
        return _floating_ip_rows(change.floating_ip)
    if change.keypair is not None:
        after = change.keypair.after
        return [f"public_key: {_q(keypair_kind.key_data(after.public_key))}"] if after else []
    if change.server_group is not None:
        return _server_group_rows(change.server_group, change.action)
    if change.volume is not None:
        return _volume_rows(change.volume)
    if change.action is Action.UPDATE and change.patch is not None and change.before is not None:
        return _patch_rows(change.patch, change.before)
    if change.action.builds and change.after is not None:
        return _desired_rows(change.after, change.before, change.create, set(real.replaced_by))
    return []


def _patch_rows(patch: ServerPatch, before: ObservedServer) -> list[str]:
    rows = []
    for key, value in sorted(patch.set_metadata.items()):
        if key.startswith(ownership.PREFIX):
            continue
        old = _q(before.metadata[key]) if key in before.metadata else "(unset)"
        rows.append(f"metadata.{key}: {old} -> {_q(value)}")
    rows += [
        f"metadata.{key}: {_q(before.metadata.get(key))} -> (removed)"
        for key in patch.delete_metadata
        if not key.startswith(ownership.PREFIX)
    ]
    if ownership.PREVENT_DESTROY_KEY in patch.set_metadata:
        rows.append(f"prevent_destroy: recorded ({ownership.PREVENT_DESTROY_KEY} = true)")
    if ownership.PREVENT_DESTROY_KEY in patch.delete_metadata:
        rows.append(
            f"prevent_destroy: no longer recorded ({ownership.PREVENT_DESTROY_KEY} removed)"
        )
    tag_changes = [f"+{t}" for t in patch.add_tags] + [f"-{t}" for t in patch.remove_tags]
    if tag_changes:
        rows.append("tags: " + " ".join(tag_changes))
    if patch.change_description:
        old = _q(before.description) if before.description is not None else "(unset)"
        rows.append(f"description: {old} -> {_q(patch.description)}")
    if patch.security_groups is not None:
        old = _q(sorted(set(before.security_groups))) if before.security_groups else "(unknown)"
        rows.append(
            f"security_groups: {old} -> {_q(sorted(set(patch.security_groups)))}   # in place"
        )
    if patch.resize_to is not None:
        new = _q(patch.resize_to) + _with_id(patch.resize_to, patch.resize_flavor_id)
        rows.append(f"flavor: {_q(before.flavor_name)} -> {new}   # resize in place")
    if patch.rebuild_with is not None:
        new = _q(patch.rebuild_with) + _with_id(patch.rebuild_with, patch.rebuild_image_id)
        rows.append(f"image: (id {before.image_id}) -> {new}   # rebuild in place: a new root disk")
    if patch.confirm_resize:
        rows.append(
            f"flavor: {_q(before.flavor_name)}   # confirm the resize left in VERIFY_RESIZE"
        )
    if patch.power is not None:
        rows.append(f"state: {before.status} -> {_POWERED[patch.power]}   # {patch.power}")
    if patch.recheck_health:
        failed = before.metadata.get(ownership.HEALTH_KEY, "")
        rows.append(f"health: the last check failed ({failed})   # checked again, first")
    return rows


#: The status a server reaches after os-start / os-stop.
_POWERED = {POWER_START: "ACTIVE", POWER_STOP: "SHUTOFF"}


def _with_id(ref: str, resolved_id: str | None) -> str:
    return f" (id {resolved_id})" if resolved_id and resolved_id != ref else ""


def _desired_rows(
    server: DesiredServer,
    before: ObservedServer | None,
    create: CreateRequest | None,
    forces: set[str],
) -> list[str]:
    def row(name: str, text: str) -> str:
        return f"{name}: {text}" + ("   # forces replacement" if name in forces else "")

    def with_id(ref: str, resolved_id: str | None) -> str:
        return _q(ref) + (f" (id {resolved_id})" if resolved_id and resolved_id != ref else "")

    flavor = with_id(server.flavor, create.flavor_id if create else None)
    if before is not None and before.flavor_name and before.flavor_name != server.flavor:
        flavor = f"{_q(before.flavor_name)} -> {flavor}"
    rows = [
        row("image", with_id(server.image, create.image_id if create else None)),
        row("flavor", flavor),
        row("networks", _q(_networks(server))),
    ]
    if server.key_name is not None:
        rows.append(row("key_name", _q(server.key_name)))
    if server.security_groups:
        rows.append(row("security_groups", _q(list(server.security_groups))))
    if server.availability_zone is not None:
        rows.append(row("availability_zone", _q(server.availability_zone)))
    if server.config_drive:
        rows.append(row("config_drive", "true"))
    if server.boot_volume is not None:
        boot = server.boot_volume
        kept = "" if boot.delete_on_termination else ", kept when the server goes"
        kind = f", type {_q(boot.type)}" if boot.type else ""
        rows.append(row("boot_volume", f"{boot.size} GB{kind}{kept}"))
    if server.placement is not None:
        group = f"server_group.{server.entry}"
        rows.append(row("placement", f"{_q(server.placement.policy)} (in {group})"))
    if server.user_data is not None:
        rows.append(row("user_data", f"{user_data_digest(server.user_data)} (text not shown)"))
    if server.description is not None:
        rows.append(row("description", _q(server.description)))
    rows += [f"metadata.{k}: {_q(v)}" for k, v in sorted(server.metadata.items())]
    if server.tags:
        rows.append(f"tags: {_q(list(server.tags))}")
    return rows


def _networks(server: DesiredServer) -> str | list[Any]:
    """As written: a name, or `{"network", "fixed_ip"}` where a fixed IP is asked."""
    if isinstance(server.networks, str):
        return server.networks
    fixed = server.fixed_ips or (None,) * len(server.networks)
    return [
        ref if ip is None else {"network": ref, "fixed_ip": ip}
        for ref, ip in zip(server.networks, fixed, strict=True)
    ]


# --- JSON -------------------------------------------------------------------


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The documented JSON structure of a plan (docs/plan-format.md), masked."""
    plan = masked_plan(plan)
    return {
        "format_version": FORMAT_VERSION,
        "stack": plan.stack,
        "changes": [_change_dict(c) for c in plan.changes],
        "diagnostics": [
            {"severity": d.severity, "message": d.message, "address": d.address, "hint": d.hint}
            for d in plan.diagnostics
        ],
        "summary": {
            "add": plan.count(Action.CREATE),
            "change": plan.count(Action.UPDATE),
            "replace": plan.replacements,
            "destroy": plan.count(Action.DELETE),
            "wait": plan.count(Action.WAIT),
            "no_op": plan.count(Action.NOOP),
        },
    }


def render_json(plan: Plan) -> str:
    """Stable JSON: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(plan_to_dict(plan), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _user_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in metadata.items() if not k.startswith(ownership.PREFIX)}


def _rule_dict(rule: Rule) -> dict[str, Any]:
    return {
        "direction": rule.direction,
        "ethertype": rule.ethertype,
        "protocol": rule.protocol,
        "port_min": rule.port_min,
        "port_max": rule.port_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "remote_group": rule.remote_group,
    }


def _change_head(change: Change) -> dict[str, Any]:
    """The fields every change has, whatever its kind."""
    return {
        "address": change.address,
        "kind": change.kind.value,
        "name": change.name,
        "action": change.action.value,
        "reason": change.reason,
        "replaced_by": list(change.replaced_by),
        "ignored": list(change.ignored),
        "batch": None
        if change.batch is None
        else {
            "entry": change.batch.entry,
            "number": change.batch.number,
            "of": change.batch.of,
        },
    }


def _group_change_dict(change: Change, group: GroupChange) -> dict[str, Any]:
    before, after = group.before, group.after
    return {
        **_change_head(change),
        "id": before.id if before else None,
        "before": None
        if before is None
        else {
            "id": before.id,
            "name": before.name,
            "description": before.description,
            "rules": [{"id": r.id, **_rule_dict(r.rule)} for r in before.rules],
        },
        "after": None
        if after is None
        else {
            "name": after.name,
            "description": after.description,
            "rules": [_rule_dict(r) for r in after.rules],
        },
        "patch": None
        if change.action not in (Action.CREATE, Action.UPDATE)
        else {
            "add_rules": [_rule_dict(r) for r in group.add_rules],
            "remove_rules": [r.id for r in group.remove_rules],
            "description": group.description,
        },
    }


def _floating_ip_change_dict(change: Change, fip: FloatingIpChange) -> dict[str, Any]:
    before = fip.before
    return {
        **_change_head(change),
        "id": before.id if before else None,
        "before": None
        if before is None
        else {
            "id": before.id,
            "floating_ip_address": before.address,
            "network_id": before.network_id,
            "port_id": before.port_id,
            "server_id": before.server_id,
            "status": before.status,
        },
        "after": None
        if change.action is Action.DELETE
        else {"server": fip.server, "network": fip.network, "claimed": fip.claimed},
    }


def _keypair_change_dict(change: Change, keypair: KeypairChange) -> dict[str, Any]:
    return {
        **_change_head(change),
        "id": None,
        "before": None
        if keypair.before is None
        else {"name": keypair.before.name, "public_key": keypair.before.public_key},
        "after": None
        if keypair.after is None
        else {"name": keypair.after.name, "public_key": keypair.upload},
    }


def _server_group_change_dict(change: Change, group: ServerGroupChange) -> dict[str, Any]:
    before, after = group.before, group.after
    return {
        **_change_head(change),
        "id": before.id if before else None,
        "before": None
        if before is None
        else {
            "id": before.id,
            "name": before.name,
            "policy": before.policy,
            "members": list(before.members),
        },
        "after": None
        if after is None or change.action is Action.DELETE
        else {"entry": after.entry, "name": after.name, "policy": after.policy},
    }


def _volume_change_dict(change: Change, volume: VolumeChange) -> dict[str, Any]:
    before, after = volume.before, volume.after
    return {
        **_change_head(change),
        "id": before.id if before else None,
        "server": volume.server,
        "before": None
        if before is None
        else {
            "id": before.id,
            "name": before.name,
            "size": before.size,
            "status": before.status,
            "volume_type": before.volume_type,
            "attached_to": list(before.attached_to),
        },
        "after": None
        if after is None
        else {"name": after.name, "volume": after.volume, "size": after.size, "type": after.type},
        "patch": None
        if change.action in (Action.NOOP, Action.DELETE) and volume.detach_from is None
        else {
            "extend_to": volume.extend_to,
            "detach_from": volume.detach_from,
            "attach": volume.attach,
        },
    }


def _change_dict(change: Change) -> dict[str, Any]:
    if change.keypair is not None:
        return _keypair_change_dict(change, change.keypair)
    if change.server_group is not None:
        return _server_group_change_dict(change, change.server_group)
    if change.group is not None:
        return _group_change_dict(change, change.group)
    if change.floating_ip is not None:
        return _floating_ip_change_dict(change, change.floating_ip)
    if change.volume is not None:
        return _volume_change_dict(change, change.volume)
    before = change.before
    after = change.after
    patch = change.patch if change.action is Action.UPDATE else None
    create = change.create
    return {
        **_change_head(change),
        "server_id": before.id if before else None,
        "before": None
        if before is None
        else {
            "id": before.id,
            "name": before.name,
            "status": before.status,
            "fault": before.fault,
            "metadata": _user_metadata(before.metadata),
            "tags": [t for t in before.tags if not t.startswith(ownership.PREFIX)],
            "description": before.description,
            "flavor": before.flavor_name,
            "image_id": before.image_id,
            "addresses": [{"network": net, "ip": ip} for net, ip in before.addresses],
        },
        "after": None
        if after is None
        else {
            "name": after.name,
            "image": after.image,
            "flavor": after.flavor,
            "key_name": after.key_name,
            "networks": _networks(after),
            "security_groups": list(after.security_groups),
            "metadata": dict(after.metadata),
            "tags": list(after.tags),
            "description": after.description,
            "availability_zone": after.availability_zone,
            "config_drive": after.config_drive,
            "user_data": user_data_digest(after.user_data),
            "prevent_destroy": after.lifecycle.prevent_destroy,
            "state": after.state,
            "rollout": _rollout_dict(after.rollout),
            "placement": None
            if after.placement is None
            else {"policy": after.placement.policy, "server_group": after.entry},
            "volumes": [{"name": v.name, "size": v.size, "type": v.type} for v in after.volumes],
            "boot_volume": None
            if after.boot_volume is None
            else {
                "size": after.boot_volume.size,
                "type": after.boot_volume.type,
                "delete_on_termination": after.boot_volume.delete_on_termination,
            },
        },
        "patch": None
        if patch is None
        else {
            "set_metadata": dict(patch.set_metadata),
            "delete_metadata": list(patch.delete_metadata),
            "add_tags": list(patch.add_tags),
            "remove_tags": list(patch.remove_tags),
            "description": patch.description if patch.change_description else None,
            "change_description": patch.change_description,
            "security_groups": None
            if patch.security_groups is None
            else list(patch.security_groups),
            "add_security_groups": list(patch.add_security_groups),
            "remove_security_groups": list(patch.remove_security_groups),
            "resize_to": patch.resize_to,
            "resize_flavor_id": patch.resize_flavor_id,
            "rebuild_with": patch.rebuild_with,
            "rebuild_image_id": patch.rebuild_image_id,
            "power": patch.power,
            "confirm_resize": patch.confirm_resize,
            "recheck_health": patch.recheck_health,
        },
        "resolved": None
        if create is None
        else {
            "image_id": create.image_id,
            "flavor_id": create.flavor_id,
            "networks": create.networks
            if isinstance(create.networks, str)
            else list(create.networks),
            "key_name": create.key_name,
            "security_groups": list(create.security_groups),
            "fixed_ips": list(create.fixed_ips),
            "server_group": create.server_group,
        },
    }


# --- Markdown ---------------------------------------------------------------


def _one_line(text: str) -> str:
    """Table cells: one line, and `|` escaped (GFM honours `\\|` even in code spans)."""
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _cell(text: str) -> str:
    """Plain text from the cloud or the spec, so `<` must not open raw HTML."""
    return _one_line(text.replace("<", "&lt;"))


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{_one_line(text)}{pad}{fence}"


def _server_cell(change: Change) -> str:
    ident = f" ({_code(_id(change) or '')})" if _id(change) else ""
    return _code(change.address) + ident


def render_markdown(plan: Plan) -> str:
    """A PR-comment view: summary, a table of changes, diagnostics, unchanged servers folded."""
    plan = masked_plan(plan)
    lines = [f"### declstack plan for stack {_code(plan.stack)}", ""]
    lines += [f"**{summary_line(plan)}**", ""]
    changed = [c for c in plan.changes if c.action is not Action.NOOP]
    if changed:
        lines += ["| Action | Address | Reason |", "| --- | --- | --- |"]
        lines += [
            f"| {change.action.value}{_batch_cell(change)} | {_server_cell(change)} | "
            f"{_cell(change.reason)} |"
            for change in changed
        ]
        lines.append("")
    for title, items in (("Errors", plan.errors), ("Warnings", plan.warnings)):
        if not items:
            continue
        lines += [f"**{title}**", ""]
        for d in items:
            where = f"{_code(d.address)}: " if d.address else ""
            message = d.message
            if d.address and message.startswith(f"{d.address}: "):
                message = message[len(d.address) + 2 :]
            hint = f" _Hint: {_cell(d.hint)}_" if d.hint else ""
            lines.append(f"- {where}{_cell(message)}{hint}")
        lines.append("")
    unchanged = [c for c in plan.changes if c.action is Action.NOOP]
    if unchanged:
        lines += [
            f"<details><summary>{len(unchanged)} resource(s) without changes</summary>",
            "",
            "| Address | Reason |",
            "| --- | --- |",
        ]
        lines += [f"| {_server_cell(c)} | {_cell(c.reason)} |" for c in unchanged]
        lines += ["", "</details>", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
