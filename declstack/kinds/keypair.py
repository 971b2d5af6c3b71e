"""The key pair kind: key pairs the spec defines, created when absent and owned.

Pure. Nova key pairs have a name, a public key and a type, nothing to hold a
marker; so the marker is the key's comment: an owned key pair is uploaded as
`<type> <base64> declstack:stack=<stack>`. Nova (and ssh) identify a key by its
type and base64 only, so the comment changes nothing about the key, and it
tells a key pair the stack created from one that merely has the same key:

- absent: created (owned);
- present, owned: the same key is up to date; another key replaces the key pair
  (delete, then create: Nova cannot update one). Servers keep the key they
  booted with, so they are not replaced, and the plan says so;
- present, not owned, same key: used as is, never changed or deleted;
- present, not owned, another key: a plan error (the name is taken).
"""

from __future__ import annotations

from collections.abc import Sequence

from declstack.model import (
    Action,
    Change,
    Diagnostic,
    KeypairChange,
    Kind,
    ObservedKeypair,
    Spec,
)


def marker(stack: str) -> str:
    return f"declstack:stack={stack}"


def key_data(public_key: str) -> str:
    """`<type> <base64>`: what identifies a key, whatever its comment."""
    return " ".join(public_key.split()[:2])


def owned_by(stack: str, keypair: ObservedKeypair) -> bool:
    words = keypair.public_key.split()
    return len(words) > 2 and words[-1] == marker(stack)


def upload_line(stack: str, public_key: str) -> str:
    """The spec's key with the stack's marker as the last word of its comment."""
    return f"{public_key.strip()} {marker(stack)}"


def plan_keypairs(
    spec: Spec, observed: Sequence[ObservedKeypair]
) -> tuple[list[Change], list[Diagnostic]]:
    by_name = {keypair.name: keypair for keypair in observed}
    changes: list[Change] = []
    problems: list[Diagnostic] = []
    wanted = {keypair.name for keypair in spec.keypairs}
    for desired in spec.keypairs:
        have = by_name.get(desired.name)
        payload = KeypairChange(
            before=have, after=desired, upload=upload_line(spec.stack, desired.public_key)
        )
        same = have is not None and key_data(have.public_key) == key_data(desired.public_key)
        if have is None:
            changes.append(_change(desired.name, Action.CREATE, "not in the cloud", payload))
        elif owned_by(spec.stack, have):
            if same:
                changes.append(_change(desired.name, Action.NOOP, "up to date", payload))
            else:
                changes.append(
                    Change(
                        desired.name,
                        Action.DELETE_THEN_CREATE,
                        "public key changed; running servers keep the key they booted with "
                        "(Nova puts keys in at boot only)",
                        kind=Kind.KEYPAIR,
                        keypair=payload,
                        replaced_by=("public_key",),
                    )
                )
        elif same:
            reason = "exists with the same public key: used as is, not owned by the stack"
            changes.append(_change(desired.name, Action.NOOP, reason, KeypairChange(before=have)))
        else:
            problems.append(
                Diagnostic(
                    "error",
                    f'key pair "{desired.name}" exists with another public key and is not '
                    f'owned by stack "{spec.stack}"',
                    address=f"{Kind.KEYPAIR.value}.{desired.name}",
                    hint="give the spec's key pair another name, or use the existing one "
                    "by its name in key_name without defining it under keypairs:",
                )
            )
    for keypair in sorted(observed, key=lambda k: k.name):
        if keypair.name not in wanted and owned_by(spec.stack, keypair):
            changes.append(
                _change(
                    keypair.name,
                    Action.DELETE,
                    "no longer in the spec",
                    KeypairChange(before=keypair),
                )
            )
    return changes, problems


def _change(name: str, action: Action, reason: str, payload: KeypairChange) -> Change:
    return Change(name, action, reason, kind=Kind.KEYPAIR, keypair=payload)
