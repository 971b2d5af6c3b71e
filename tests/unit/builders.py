"""Builders shared by the pure-core tests: desired servers and the servers declstack made."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from declstack import ownership
from declstack.model import DesiredServer, ObservedServer, frozen_map

STACK = "demo"


def desired(name: str = "web-1", **changes: Any) -> DesiredServer:
    base = DesiredServer(
        name=name,
        image="cirros",
        flavor="m1.small",
        metadata=frozen_map({"role": "web"}),
        tags=("blue",),
    )
    if "metadata" in changes:
        changes["metadata"] = frozen_map(changes["metadata"])
    return dataclasses.replace(base, **changes)


def server(
    built_from: DesiredServer,
    *,
    id: str = "id-1",
    status: str = "ACTIVE",
    stack: str = STACK,
    extra_metadata: Mapping[str, str] | None = None,
    drop_metadata: Sequence[str] = (),
    extra_tags: Sequence[str] = (),
    **fields: Any,
) -> ObservedServer:
    """A server as declstack would have created it from `built_from`, then modified."""
    metadata = {**built_from.metadata, **ownership.marker_metadata(stack, built_from)}
    metadata.update(extra_metadata or {})
    for key in drop_metadata:
        metadata.pop(key, None)
    fields.setdefault("description", built_from.description)
    fields.setdefault("flavor_name", built_from.flavor)
    return ObservedServer(
        id=id,
        name=built_from.name,
        status=status,
        metadata=frozen_map(metadata),
        tags=(*built_from.tags, ownership.stack_tag(stack), *extra_tags),
        **fields,
    )
