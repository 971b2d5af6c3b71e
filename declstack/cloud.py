"""The openstacksdk adapter: the only module that talks to the cloud.

Uses the SDK's proxy layer (one request per call, no hidden name lookups or
cleanup), lists with server-side tag filters and paging, and retries what is
safe to retry: reads, deletes and metadata writes on 429/413/5xx and dropped
connections, honouring Retry-After; a create only when the cloud certainly did
not process it (429/413/503, connection refused), so a retry never makes a
duplicate server.
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Callable, Collection, Iterable
from typing import Any, TypeVar
from urllib.parse import quote

from declstack.errors import UserError, classify
from declstack.model import (
    NETWORKS_AUTO,
    NETWORKS_NONE,
    Catalog,
    CreateRequest,
    Limits,
    NamedResource,
    ObservedServer,
    ServerPatch,
    Subnet,
    frozen_map,
)
from declstack.ownership import owner_of, stack_tag
from declstack.waiting import SYSTEM_CLOCK, Clock, retry_call

log = logging.getLogger(__name__)
_UNSET = object()
T = TypeVar("T")


class CloudError(UserError):
    """A cloud request failed for good (after retries where retrying was safe)."""

    def __init__(
        self, action: str, message: str, status: int | None = None, *, timed_out: bool = False
    ):
        detail = f"{action}: {message}" + (f" (HTTP {status})" if status else "")
        hint = TIMEOUT_HINT if timed_out else _hint(status)
        super().__init__(detail, hint=hint)
        self.status = status


TIMEOUT_HINT = (
    "the cloud accepted the connection but did not answer in time; is it overloaded? "
    "--http-timeout sets how long to wait for one answer"
)


def _hint(status: int | None) -> str | None:
    return {
        401: "the token was refused; check the credentials",
        403: "forbidden or over quota; check the project's limits (openstack limits show)",
        404: "the resource does not exist (any more)",
        409: "the server is in a state that does not allow this right now; retry later",
        429: "the cloud is rate limiting; lower --parallelism",
    }.get(status or 0)


#: The newest compute microversion declstack reads (2.47: flavor embedded in the
#: server with original_name; 2.26: tags; 2.52: tags at create).
CLIENT_MAX_MICROVERSION = "2.100"
#: Nova's default [api] max_limit: the largest page a list call returns.
PAGE_SIZE = 1000


def to_observed(server: dict[str, Any]) -> ObservedServer:
    """Convert one server of a Nova list/show body into declstack's snapshot."""
    flavor = server.get("flavor") or {}
    image = server.get("image")  # "" for a server booted from a volume
    addresses = [
        (network, str(entry["addr"]))
        for network, entries in sorted((server.get("addresses") or {}).items())
        for entry in entries or []
        if entry.get("addr")
    ]
    fault = server.get("fault") or {}
    metadata = server.get("metadata") or {}
    groups = server.get("security_groups")
    security_groups = (
        tuple(dict.fromkeys(str(g.get("name")) for g in groups if isinstance(g, dict)))
        if isinstance(groups, list)
        else None
    )
    return ObservedServer(
        id=str(server["id"]),
        name=str(server.get("name") or ""),
        status=str(server.get("status") or "UNKNOWN").upper(),
        metadata=frozen_map({str(k): str(v) for k, v in metadata.items()}),
        tags=tuple(server.get("tags") or ()),
        description=server.get("description"),
        task_state=server.get("OS-EXT-STS:task_state"),
        image_id=image.get("id") if isinstance(image, dict) else None,
        flavor_name=flavor.get("original_name") or flavor.get("name") or flavor.get("id"),
        addresses=tuple(addresses),
        fault=str(fault["message"]) if fault.get("message") else None,
        created=str(server.get("created") or ""),
        security_groups=security_groups,
        floating_ips=tuple(
            str(entry["addr"])
            for _, entries in sorted((server.get("addresses") or {}).items())
            for entry in entries or []
            if entry.get("addr") and entry.get("OS-EXT-IPS:type") == "floating"
        ),
    )


def _named(
    items: Iterable[Any], status: Callable[[Any], str | None] | None = None
) -> tuple[NamedResource, ...]:
    return tuple(
        NamedResource(
            id=str(item.id), name=str(item.name or ""), status=status(item) if status else None
        )
        for item in items
    )


class OpenStackCloud:
    """`CloudPort` over an openstacksdk Connection."""

    def __init__(
        self,
        conn: Any,
        *,
        clock: Clock = SYSTEM_CLOCK,
        max_attempts: int = 8,
        retry_budget: float = 300.0,
    ):
        self._conn = conn
        self._version: object = _UNSET
        self._clock = clock
        self._max_attempts = max_attempts
        self._retry_budget = retry_budget

    def _retrying(self, action: str, call: Callable[[], T], *, idempotent: bool = True) -> T:
        """Run `call`, retrying what is safe to retry, never past the retry budget."""
        deadline = self._clock.now() + self._retry_budget

        def should_retry(exc: BaseException, attempt: int) -> float | None:
            info = classify(exc)
            safe = info.retryable if idempotent else info.not_processed
            if not safe or attempt >= self._max_attempts:
                return None
            if info.timed_out and attempt >= 2:
                return None  # a silent endpoint: one more try, not eight timeouts in a row
            delay = (
                info.retry_after
                if info.retry_after is not None
                else min(30.0, 0.5 * 2 ** (attempt - 1))
            )
            if self._clock.now() + delay > deadline:
                log.info("%s: %s; no time left to retry", action, info.message)
                return None
            log.info("%s: %s; retrying in %.1fs (attempt %d)", action, info.message, delay, attempt)
            return delay

        try:
            return retry_call(call, should_retry, clock=self._clock)
        except UserError:
            raise
        except Exception as exc:
            info = classify(exc)
            raise CloudError(action, info.message, info.status, timed_out=info.timed_out) from None

    def _microversion(self) -> str | None:
        if self._version is _UNSET:
            from openstack import utils

            self._version = utils.maximum_supported_microversion(
                self._conn.compute, CLIENT_MAX_MICROVERSION
            )
        return self._version  # type: ignore[return-value]

    def _list_servers(self, detail: bool, query: dict[str, str]) -> list[dict[str, Any]]:
        """All pages of a server list, as raw dicts (one GET per 1000 servers).

        The SDK's Resource objects cost milliseconds each; parsing the JSON
        directly keeps a 10,000-server plan to seconds.
        """
        path = "/servers/detail" if detail else "/servers"
        servers: list[dict[str, Any]] = []
        marker: str | None = None
        seen: set[str] = set()
        while True:
            params = {**query, "limit": str(PAGE_SIZE)}
            if marker:
                params["marker"] = marker
            page = self._retrying("list servers", functools.partial(self._get_json, path, params))
            batch = page.get("servers") or []
            servers.extend(batch)
            if not batch or not page.get("servers_links"):
                return servers
            marker = str(batch[-1]["id"])
            if marker in seen:
                # A page that ends where an earlier one did would loop forever.
                raise CloudError(
                    "list servers",
                    f"the cloud's paging does not advance (marker {marker} repeated)",
                )
            seen.add(marker)

    def _get_json(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        from openstack import exceptions

        response = self._conn.compute.get(path, params=params, microversion=self._microversion())
        exceptions.raise_from_response(response)
        body: dict[str, Any] = response.json()
        return body

    def list_stack_servers(self, stack: str) -> list[ObservedServer]:
        found = self._list_servers(True, {"tags": stack_tag(stack)})
        observed = [to_observed(server) for server in found]
        # A cloud that ignores the tags filter must never make declstack adopt a server.
        return [server for server in observed if owner_of(server) == stack]

    def list_all_servers(self) -> list[ObservedServer]:
        return [to_observed(server) for server in self._list_servers(True, {})]

    def list_unmanaged(self, stack: str, names: Collection[str]) -> list[tuple[str, str]]:
        if not names:
            return []
        wanted = set(names)
        found = self._list_servers(False, {"not-tags": stack_tag(stack)})
        return sorted((str(s["id"]), str(s["name"])) for s in found if s.get("name") in wanted)

    def fetch_catalog(self) -> Catalog:
        compute, image, network = self._conn.compute, self._conn.image, self._conn.network

        def optional(action: str, call: Callable[[], Iterable[Any]]) -> list[Any]:
            try:
                return list(self._retrying(action, lambda: list(call())))
            except CloudError as exc:
                if exc.status in (404, None) and "endpoint" in exc.message.lower():
                    return []
                raise

        networks = optional("list networks", network.networks)
        project = getattr(self._conn, "current_project_id", None)
        return Catalog(
            images=_named(
                self._retrying("list images", lambda: list(image.images())), lambda i: i.status
            ),
            flavors=_named(
                self._retrying("list flavors", lambda: list(compute.flavors(details=False)))
            ),
            networks=_named(networks),
            subnets=tuple(
                Subnet(id=str(s.id), network_id=str(s.network_id), cidr=str(s.cidr))
                for s in optional("list subnets", network.subnets)
            ),
            foreign_networks=frozenset(
                str(n.id) for n in networks if project and n.project_id not in (None, project)
            ),
            keypairs=tuple(
                NamedResource(id=str(k.name), name=str(k.name))
                for k in self._retrying("list key pairs", lambda: list(compute.keypairs()))
            ),
            security_groups=_named(optional("list security groups", network.security_groups)),
            limits=self._retrying("read limits", self._limits),
        )

    def _limits(self) -> Limits:
        body = self._get_json("/limits", {})
        absolute = (body.get("limits") or {}).get("absolute") or {}
        maximum = absolute.get("maxTotalInstances")
        return Limits(
            max_instances=int(maximum) if isinstance(maximum, int) and maximum >= 0 else None,
            used_instances=int(absolute.get("totalInstancesUsed") or 0),
        )

    def create_server(self, request: CreateRequest) -> str:
        attrs: dict[str, Any] = {
            "name": request.name,
            "image_id": request.image_id,
            "flavor_id": request.flavor_id,
            "metadata": dict(request.metadata),
            "tags": list(request.tags),
        }
        if request.networks in (NETWORKS_AUTO, NETWORKS_NONE):
            attrs["networks"] = request.networks
        else:
            fixed = request.fixed_ips or (None,) * len(request.networks)
            attrs["networks"] = [
                {"uuid": net, **({"fixed_ip": ip} if ip else {})}
                for net, ip in zip(request.networks, fixed, strict=True)
            ]
        if request.config_drive:
            attrs["config_drive"] = True
        if request.key_name:
            attrs["key_name"] = request.key_name
        if request.security_groups:
            attrs["security_groups"] = [{"name": sg} for sg in request.security_groups]
        if request.user_data is not None:
            attrs["user_data"] = base64.b64encode(request.user_data.encode()).decode()
        if request.availability_zone:
            attrs["availability_zone"] = request.availability_zone
        if request.description is not None:
            attrs["description"] = request.description
        server = self._retrying(
            f"create {request.name}",
            lambda: self._conn.compute.create_server(**attrs),
            idempotent=False,
        )
        return str(server.id)

    def update_server(self, server_id: str, patch: ServerPatch) -> None:
        """Security groups first, then removals, then metadata (with the bookkeeping
        lists and the fingerprint), then additions.

        If a removal fails, the bookkeeping still lists the key or tag, so the
        next plan removes it again; nothing is ever left behind unmanaged. The
        fingerprint is rewritten only after the group actions succeeded.
        """
        path = f"/servers/{server_id}/action"
        for group in patch.add_security_groups:
            action = {"addSecurityGroup": {"name": group}}
            self._retrying(
                f"add security group {group}", functools.partial(self._send, "post", path, action)
            )
        for group in patch.remove_security_groups:
            action = {"removeSecurityGroup": {"name": group}}
            self._retrying(
                f"remove security group {group}",
                functools.partial(self._send, "post", path, action),
            )
        for key in patch.delete_metadata:
            path = f"/servers/{server_id}/metadata/{quote(key, safe='')}"
            self._retrying(f"delete metadata {key}", functools.partial(self._send, "delete", path))
        for tag in patch.remove_tags:
            path = f"/servers/{server_id}/tags/{quote(tag, safe='')}"
            self._retrying(f"remove tag {tag}", functools.partial(self._send, "delete", path))
        if patch.set_metadata:
            body: dict[str, Any] = {"metadata": dict(patch.set_metadata)}
            path = f"/servers/{server_id}/metadata"
            self._retrying("set metadata", functools.partial(self._send, "post", path, body))
        for tag in patch.add_tags:
            path = f"/servers/{server_id}/tags/{quote(tag, safe='')}"
            self._retrying(f"add tag {tag}", functools.partial(self._send, "put", path))
        if patch.change_description:
            body = {"server": {"description": patch.description}}
            path = f"/servers/{server_id}"
            self._retrying("set description", functools.partial(self._send, "put", path, body))

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> None:
        """One compute request; a 404 on a DELETE means the goal is already reached.

        Tags and metadata keys are percent-encoded into the path here: openstacksdk
        joins them in raw, so a tag like `team#ops` would address the tag `team`.
        """
        from openstack import exceptions

        response = getattr(self._conn.compute, method)(
            path, json=body, microversion=self._microversion(), raise_exc=False
        )
        if method == "delete" and response.status_code == 404:
            return
        exceptions.raise_from_response(response)

    def delete_server(self, server_id: str) -> None:
        self._retrying(
            "delete server",
            lambda: self._conn.compute.delete_server(server_id, ignore_missing=True),
        )
