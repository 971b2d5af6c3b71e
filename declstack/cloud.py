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
import dataclasses
import functools
import json
import logging
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from declstack.errors import UserError, classify, error_message
from declstack.kinds import volume as volume_kind
from declstack.kinds.security_group import canonical_rule
from declstack.lock import LockStore
from declstack.model import (
    NETWORKS_AUTO,
    NETWORKS_NONE,
    Catalog,
    CreateRequest,
    DesiredVolume,
    Limits,
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
    Subnet,
    frozen_map,
)
from declstack.ownership import owner_of, stack_tag
from declstack.port import BuiltServer, Nic
from declstack.waiting import SYSTEM_CLOCK, Clock, retry_call

log = logging.getLogger(__name__)
_UNSET = object()
T = TypeVar("T")


class CloudError(UserError):
    """A cloud request failed for good (after retries where retrying was safe)."""

    def __init__(
        self,
        action: str,
        message: str,
        status: int | None = None,
        *,
        timed_out: bool = False,
        hint: str | None = None,
    ):
        detail = f"{action}: {message}" + (f" (HTTP {status})" if status else "")
        hint = hint or (TIMEOUT_HINT if timed_out else _hint(status))
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


def to_observed(server: dict[str, Any], shared: dict[str, str] | None = None) -> ObservedServer:
    """Convert one server of a Nova list/show body into declstack's snapshot.

    `shared` (kept across the servers of one list) makes equal strings one object.
    """
    pool: dict[str, str] = {} if shared is None else shared

    def one(text: object) -> str:
        value = str(text)
        return pool.setdefault(value, value)

    flavor = server.get("flavor") or {}
    image = server.get("image")  # "" for a server booted from a volume
    addresses = [
        (one(network), str(entry["addr"]))
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
        status=one(str(server.get("status") or "UNKNOWN").upper()),
        metadata=frozen_map({one(k): one(v) for k, v in metadata.items()}),
        tags=tuple(one(tag) for tag in server.get("tags") or ()),
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
        self._volume_version: object = _UNSET
        self._clock = clock
        self._max_attempts = max_attempts
        self._retry_budget = retry_budget

    @property
    def connection(self) -> Any:
        """The openstacksdk Connection (for adapters of other ports, such as the lock's)."""
        return self._conn

    def locks(self) -> LockStore:
        """The stack lock's store: hidden Glance images (declstack.lockstore)."""
        from declstack.lockstore import GlanceLockStore

        return GlanceLockStore(self)

    def retrying(self, action: str, call: Callable[[], T], *, idempotent: bool = True) -> T:
        """Run `call` under this cloud's retry policy (see `_retrying`)."""
        return self._retrying(action, call, idempotent=idempotent)

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

    def _paged(
        self,
        action: str,
        get: Callable[[dict[str, str]], dict[str, Any]],
        key: str,
        query: dict[str, str] | None = None,
        *,
        unwrap: str | None = None,
        marker_field: str = "id",
    ) -> list[dict[str, Any]]:
        """Every item of a paged collection (`limit` + `marker`, `<key>_links` next),
        one GET per 1000 items; a marker seen before is an error, not a loop."""
        pages = self._pages(action, get, key, query, unwrap=unwrap, marker_field=marker_field)
        return [item for page in pages for item in page]

    def _pages(
        self,
        action: str,
        get: Callable[[dict[str, str]], dict[str, Any]],
        key: str,
        query: dict[str, str] | None = None,
        *,
        unwrap: str | None = None,
        marker_field: str = "id",
    ) -> Iterator[list[dict[str, Any]]]:
        """The pages of `_paged`, one at a time: a caller that converts each page before
        asking for the next never holds more than one page of raw JSON."""
        marker: str | None = None
        seen: set[str] = set()
        while True:
            params = {**(query or {}), "limit": str(PAGE_SIZE)}
            if marker is not None:
                params["marker"] = marker
            page = self._retrying(action, functools.partial(get, params))
            more = _has_next(page.get(f"{key}_links"))
            batch = [
                item[unwrap] if unwrap else item
                for item in page.get(key) or []
                if isinstance(item, dict) and (not unwrap or isinstance(item.get(unwrap), dict))
            ]
            del page
            if batch:
                yield batch
            if not batch or not more:
                return
            marker = str(batch[-1][marker_field])
            if marker in seen:
                # A page that ends where an earlier one did would loop forever.
                raise CloudError(
                    action, f"the cloud's paging does not advance (marker {marker!r} repeated)"
                )
            seen.add(marker)

    def _neutron_page(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        return self._neutron("get", path, params=params)[1]

    def _list_servers(self, detail: bool, query: dict[str, str]) -> list[dict[str, Any]]:
        """All pages of a server list, as raw dicts (one GET per 1000 servers)."""
        return [server for page in self._server_pages(detail, query) for server in page]

    def _server_pages(self, detail: bool, query: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
        path = "/servers/detail" if detail else "/servers"
        return self._pages(
            "list servers", functools.partial(self._get_json, path), "servers", query
        )

    def _observed_servers(self, query: dict[str, str]) -> list[ObservedServer]:
        """Every server of a detailed list as snapshots, converted page by page.

        The SDK's Resource objects cost milliseconds each; parsing the JSON
        directly keeps a 10,000-server plan to seconds. Converting each page before
        the next is read, and sharing the strings every replica repeats (metadata
        keys and values, the fingerprint, statuses, network names), keeps its memory
        to a page of raw JSON plus the snapshots.
        """
        shared: dict[str, str] = {}
        return [
            to_observed(server, shared)
            for page in self._server_pages(True, query)
            for server in page
        ]

    def _get_json(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        return self._nova("get", path, params=params)[1]

    def list_stack_servers(self, stack: str) -> list[ObservedServer]:
        observed = self._observed_servers({"tags": stack_tag(stack)})
        # A cloud that ignores the tags filter must never make declstack adopt a server.
        return [server for server in observed if owner_of(server) == stack]

    def list_all_servers(self) -> list[ObservedServer]:
        return self._observed_servers({})

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

        def limit(key: str) -> int | None:
            value = absolute.get(key)
            return value if isinstance(value, int) and value >= 0 else None

        return Limits(
            max_instances=limit("maxTotalInstances"),
            used_instances=int(absolute.get("totalInstancesUsed") or 0),
            max_server_groups=limit("maxServerGroups"),
            max_server_group_members=limit("maxServerGroupMembers"),
            used_server_groups=int(absolute.get("totalServerGroupsUsed") or 0),
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
        if request.server_group is not None:
            # Sent beside `server` in the body (openstacksdk moves it there).
            attrs["scheduler_hints"] = {"group": request.server_group}
        if request.boot_volume is not None:
            attrs["block_device_mapping"] = [_boot_mapping(attrs.pop("image_id"), request)]
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
        (Callers percent-encode tags and metadata keys into `path`: openstacksdk joins
        them in raw, so a tag like `team#ops` would address the tag `team`.)"""
        self._nova(method, path, body, accept=(404,) if method == "delete" else ())

    def delete_server(self, server_id: str) -> None:
        self._retrying(
            "delete server",
            lambda: self._conn.compute.delete_server(server_id, ignore_missing=True),
        )

    # -- server actions in place (resize, rebuild, start, stop) ------------------

    def _server_action(self, what: str, server_id: str, action: dict[str, Any]) -> None:
        """One POST /servers/{id}/action. Not idempotent (a second resize or stop of
        the same server is refused with 409), so resent only when Nova cannot have seen
        the first."""
        path = f"/servers/{quote(server_id, safe='')}/action"
        self._retrying(what, functools.partial(self._send, "post", path, action), idempotent=False)

    def resize_server(self, server_id: str, flavor_id: str) -> None:
        self._server_action("resize", server_id, {"resize": {"flavorRef": flavor_id}})

    def confirm_resize(self, server_id: str) -> None:
        self._server_action("confirm resize", server_id, {"confirmResize": None})

    def rebuild_server(self, server_id: str, image_id: str) -> None:
        self._server_action("rebuild", server_id, {"rebuild": {"imageRef": image_id}})

    def start_server(self, server_id: str) -> None:
        self._server_action("start", server_id, {"os-start": None})

    def stop_server(self, server_id: str) -> None:
        self._server_action("stop", server_id, {"os-stop": None})

    # -- security groups (Neutron, raw JSON through the network proxy) --------

    def _neutron(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        *,
        accept: Collection[int] = (),
    ) -> tuple[int, dict[str, Any]]:
        """One Neutron request: (status, JSON body). Statuses in `accept` come back
        as answers (their NeutronError body included) instead of raising."""
        from openstack import exceptions

        kwargs: dict[str, Any] = {"raise_exc": False}
        if body is not None:
            kwargs["json"] = body
        if params is not None:
            kwargs["params"] = params
        response = getattr(self._conn.network, method)(path, **kwargs)
        if response.status_code not in accept:
            exceptions.raise_from_response(response)
        return response.status_code, _json_body(response)

    def list_security_groups(self) -> list[ObservedSecurityGroup]:
        """Every group the project sees, rules embedded: one GET per 1000 groups."""
        groups = self._paged(
            "list security groups",
            functools.partial(self._neutron_page, "/security-groups"),
            "security_groups",
        )
        return [to_observed_group(group) for group in groups]

    def create_security_group(self, stack: str, name: str, description: str) -> str:
        """Create the group, then tag it as the stack's (Neutron refuses `tags` in a
        security group's POST body: only ports take them there). If the tag cannot be
        set, the group is deleted again so that no untagged group stays behind."""
        action = f"create security group {name}"
        body = {"security_group": {"name": name, "description": description}}
        _, made = self._retrying(
            action,
            functools.partial(self._neutron, "post", "/security-groups", body),
            idempotent=False,
        )
        group_id = str((made.get("security_group") or {}).get("id") or "")
        if not group_id:
            raise CloudError(action, "the cloud's answer holds no security group id")
        tags = {"tags": [stack_tag(stack)]}
        try:
            self._retrying(
                f"tag security group {name}",
                functools.partial(self._neutron, "put", f"/security-groups/{group_id}/tags", tags),
            )
        except CloudError as tagging:
            try:
                self.delete_security_group(group_id)
            except CloudError as cleanup:
                raise CloudError(
                    f"tag security group {name}",
                    f"{tagging.message}; the new group {group_id} has no ownership tag and"
                    f" could not be deleted ({cleanup.message}): delete it by hand",
                    tagging.status,
                ) from None
            raise
        return group_id

    def create_rules(self, group_id: str, rules: Sequence[Rule]) -> list[str]:
        """Create `rules` in one bulk POST (atomic in Neutron); if one of them is
        already there (409), create them one by one, an existing rule counting as
        made. Returns one id per distinct rule, in order (an existing rule's own id)."""
        wanted = list(dict.fromkeys(rules))
        if not wanted:
            return []
        items = [_rule_body(group_id, rule) for rule in wanted]
        status, answer = self._retrying(
            f"create {len(items)} rules in security group {group_id}",
            functools.partial(
                self._neutron,
                "post",
                "/security-group-rules",
                {"security_group_rules": items},
                accept=(409,),
            ),
        )
        if status != 409:
            made = answer.get("security_group_rules") or []
            return [str(rule["id"]) for rule in made]
        ids = []
        for rule, item in zip(wanted, items, strict=True):
            action = f"create rule {rule.describe()} in security group {group_id}"
            status, answer = self._retrying(
                action,
                functools.partial(
                    self._neutron,
                    "post",
                    "/security-group-rules",
                    {"security_group_rule": item},
                    accept=(409,),
                ),
            )
            if status == 409:
                existing = _existing_rule_id(answer)
                if existing is None:
                    raise CloudError(action, _neutron_message(answer), status)
                ids.append(existing)
            else:
                ids.append(str((answer.get("security_group_rule") or {})["id"]))
        return ids

    def delete_rule(self, rule_id: str) -> None:
        self._retrying(
            f"delete security group rule {rule_id}",
            functools.partial(
                self._neutron, "delete", f"/security-group-rules/{rule_id}", accept=(404,)
            ),
        )

    def update_security_group(self, group_id: str, description: str) -> None:
        body = {"security_group": {"description": description}}
        self._retrying(
            f"update security group {group_id}",
            functools.partial(self._neutron, "put", f"/security-groups/{group_id}", body),
        )

    def delete_security_group(self, group_id: str) -> None:
        """Delete a group; gone already is success. A group still in use (409
        SecurityGroupInUse: a deleted server's port can outlive it for a moment on
        real Neutron) is tried again a few times with backoff, within the budget."""
        action = f"delete security group {group_id}"
        deadline = self._clock.now() + self._retry_budget
        call = functools.partial(
            self._neutron, "delete", f"/security-groups/{group_id}", accept=(404, 409)
        )
        attempt = 0
        while True:
            attempt += 1
            status, answer = self._retrying(action, call)
            if status != 409:
                return
            if _neutron_type(answer) != "SecurityGroupInUse":
                raise CloudError(action, _neutron_message(answer), status)
            delay = min(30.0, IN_USE_FIRST_DELAY * 2 ** (attempt - 1))
            if attempt >= IN_USE_ATTEMPTS or self._clock.now() + delay > deadline:
                break
            log.info("%s: still in use; retrying in %.1fs (attempt %d)", action, delay, attempt)
            self._clock.sleep(delay)
        error = CloudError(
            action,
            f"security group {group_id} is still in use after {attempt} tries",
            status,
        )
        error.hint = (
            "a port (of a server, or made by hand) still has the group; remove the group"
            " from it or delete the port, then run again"
        )
        raise error

    # -- floating IPs (Neutron L3, raw JSON through the network proxy) --------

    def list_floating_ips(self) -> list[ObservedFloatingIp]:
        """Every floating IP the project sees: one GET per 1000 IPs. The server each is
        on comes from `port_details` (fip-port-details), so no port or server lookups."""
        fips = self._paged(
            "list floating IPs",
            functools.partial(self._neutron_page, "/floatingips"),
            "floatingips",
        )
        return [to_observed_floating_ip(fip) for fip in fips]

    def external_networks(self) -> list[NamedResource]:
        """The networks floating IPs can come from (`router:external`), in one call;
        a tenant sees them even when another project owns them."""
        _, body = self._retrying(
            "list external networks",
            functools.partial(
                self._neutron, "get", "/networks", params={"router:external": "True"}
            ),
        )
        return [
            NamedResource(
                id=str(net["id"]),
                name=str(net.get("name") or ""),
                status=str(net["status"]) if net.get("status") else None,
            )
            for net in body.get("networks") or []
            if isinstance(net, dict) and net.get("router:external", True) is not False
        ]

    def create_floating_ip(self, stack: str, server: str, network_id: str) -> ObservedFloatingIp:
        """Allocate a floating IP on `network_id`, then tag it as `stack`'s, for the
        server named `server` (Neutron refuses `tags` in the POST body). The POST is
        not sent again after an answer that may have allocated one. If the tags cannot
        be set the IP is released again, so that no untagged IP stays allocated."""
        action = f"create floating IP for {server}"
        body = {"floatingip": {"floating_network_id": network_id}}
        _, made = self._retrying(
            action,
            functools.partial(self._neutron, "post", "/floatingips", body),
            idempotent=False,
        )
        fip = made.get("floatingip") or {}
        fip_id = str(fip.get("id") or "")
        if not fip_id:
            raise CloudError(action, "the cloud's answer holds no floating IP id")
        tags = floating_ip_tags(stack, server)
        try:
            _, tagged = self._retrying(
                f"tag floating IP {fip_id}",
                functools.partial(
                    self._neutron, "put", f"/floatingips/{fip_id}/tags", {"tags": tags}
                ),
            )
        except CloudError as tagging:
            try:
                self.delete_floating_ip(fip_id)
            except CloudError as cleanup:
                raise CloudError(
                    f"tag floating IP {fip_id}",
                    f"{tagging.message}; the new floating IP {fip_id}"
                    f" ({fip.get('floating_ip_address')}) has no ownership tag and could not"
                    f" be released ({cleanup.message}): delete it by hand",
                    tagging.status,
                ) from None
            raise
        observed = to_observed_floating_ip(fip)
        answered = tagged.get("tags")
        final = tuple(sorted(str(t) for t in (answered if isinstance(answered, list) else tags)))
        return dataclasses.replace(observed, tags=final)

    def server_ports(self) -> dict[str, str]:
        """Server id -> its first port (Neutron's list order), from one paged list of
        the project's ports: one request for all the IPs an apply places, not one per
        server."""
        ports = self._paged("list ports", functools.partial(self._neutron_page, "/ports"), "ports")
        first: dict[str, str] = {}
        for port in ports:
            device = str(port.get("device_id") or "")
            if port.get("id") and str(port.get("device_owner") or "").startswith("compute:"):
                first.setdefault(device, str(port["id"]))
        return first

    def associate_floating_ip(self, floating_ip_id: str, port_id: str) -> None:
        """Put the floating IP on the port (moving it if it is on another one)."""
        self._set_floating_ip_port(floating_ip_id, port_id)

    def disassociate_floating_ip(self, floating_ip_id: str) -> None:
        """Take the floating IP off its port; an IP that is gone is on no port: success."""
        self._set_floating_ip_port(floating_ip_id, None)

    def _set_floating_ip_port(self, floating_ip_id: str, port_id: str | None) -> None:
        action = (
            f"associate floating IP {floating_ip_id} with port {port_id}"
            if port_id
            else f"disassociate floating IP {floating_ip_id}"
        )
        status, answer = self._retrying(
            action,
            functools.partial(
                self._neutron,
                "put",
                f"/floatingips/{floating_ip_id}",
                {"floatingip": {"port_id": port_id}},
                accept=(404, 409),
            ),
        )
        if status < 400:
            return
        kind = _neutron_type(answer)
        if port_id is None and status == 404 and kind == "FloatingIPNotFound":
            return
        message = _neutron_message(answer) if kind else f"refused (HTTP {status})"
        error = CloudError(action, message, status)
        error.hint = _FLOATING_IP_HINTS.get(kind or "", error.hint)
        raise error

    def delete_floating_ip(self, floating_ip_id: str) -> None:
        """Release a floating IP (disassociating it if need be); gone already is success."""
        self._retrying(
            f"delete floating IP {floating_ip_id}",
            functools.partial(
                self._neutron, "delete", f"/floatingips/{floating_ip_id}", accept=(404,)
            ),
        )

    # -- key pairs (Nova, raw JSON through the compute proxy) -----------------

    def list_keypairs(self) -> list[ObservedKeypair]:
        """The user's key pairs (Nova key pairs belong to a user): one GET per 1000.
        From 2.35 Nova pages them by name; before, one answer holds them all."""
        keypairs = self._paged(
            "list key pairs",
            functools.partial(self._get_json, "/os-keypairs"),
            "keypairs",
            unwrap="keypair",
            marker_field="name",
        )
        return [to_observed_keypair(keypair) for keypair in keypairs]

    def create_keypair(self, name: str, public_key: str) -> None:
        """Import `public_key` as the user's key pair `name` (type ssh).

        Sent again after an answer that may hide a success (5xx, a dropped
        connection): a resend can only meet 409 "already exists", which after a
        resend means the earlier attempt made it (when the key pair there holds our
        public key). On the first attempt a 409 is somebody else's key pair.
        """
        action = f"create key pair {name}"
        item = {"name": name, "public_key": public_key}
        if _at_least(self._microversion(), 2, 2):
            item["type"] = "ssh"
        attempts = 0

        def send() -> tuple[int, dict[str, Any]]:
            nonlocal attempts
            attempts += 1
            return self._nova("post", "/os-keypairs", {"keypair": item}, accept=(409,))

        status, answer = self._retrying(action, send)
        if status != 409:
            return
        if attempts > 1:
            there = self._keypair_public_key(name)
            if there is not None and there.strip() == public_key.strip():
                log.info("%s: already there after a resend: made by the earlier attempt", action)
                return
        message = error_message(answer) or f"key pair {name!r} already exists"
        error = CloudError(action, message, 409)
        error.hint = (
            f"a key pair named {name!r} already exists for this user and declstack did not"
            " make it in this run; delete it (openstack keypair delete) or choose another name"
        )
        raise error

    def delete_keypair(self, name: str) -> None:
        """Delete the user's key pair `name`; one that is already gone is success."""
        self._retrying(
            f"delete key pair {name}",
            functools.partial(self._send, "delete", f"/os-keypairs/{quote(name, safe='')}"),
        )

    def _keypair_public_key(self, name: str) -> str | None:
        """The public key of the user's key pair `name` (None: there is none)."""
        status, body = self._retrying(
            f"show key pair {name}",
            functools.partial(
                self._nova, "get", f"/os-keypairs/{quote(name, safe='')}", accept=(404,)
            ),
        )
        keypair = body.get("keypair") if status == 200 else None
        return str(keypair.get("public_key") or "") if isinstance(keypair, dict) else None

    # -- server groups (Nova, raw JSON through the compute proxy) ---------------

    def list_server_groups(self) -> list[ObservedServerGroup]:
        """The project's server groups with their members: one GET per 1000. Nova pages
        them by `limit` and `offset`, without links, so a short page is the last."""
        groups: dict[str, ObservedServerGroup] = {}
        while True:
            params = {"limit": str(PAGE_SIZE), "offset": str(len(groups))}
            body = self._retrying(
                "list server groups",
                functools.partial(self._get_json, "/os-server-groups", params),
            )
            page = [g for g in body.get("server_groups") or [] if isinstance(g, dict)]
            fresh = [to_observed_server_group(g) for g in page if str(g.get("id")) not in groups]
            groups.update((group.id, group) for group in fresh)
            if len(page) < PAGE_SIZE or not fresh:
                return list(groups.values())

    def create_server_group(self, name: str, policy: str) -> str:
        """POST /os-server-groups: `policy` from 2.64, a one-item `policies` before (the
        soft policies from 2.15). Not sent again after an answer that may have made it."""
        action = f"create server group {name}"
        version = self._microversion()
        if policy.startswith("soft-") and not _at_least(version, 2, 15):
            raise CloudError(
                action, f"policy {policy!r} needs compute API 2.15; this cloud offers {version}"
            )
        item: dict[str, Any] = {"name": name}
        if _at_least(version, 2, 64):
            item["policy"] = policy
        else:
            item["policies"] = [policy]
        _, body = self._retrying(
            action,
            functools.partial(self._nova, "post", "/os-server-groups", {"server_group": item}),
            idempotent=False,
        )
        group_id = (body.get("server_group") or {}).get("id")
        if not group_id:
            raise CloudError(action, "the cloud's answer holds no server group id")
        return str(group_id)

    def delete_server_group(self, group_id: str) -> None:
        """Delete a server group (its servers stay); one that is already gone is success."""
        self._retrying(
            f"delete server group {group_id}",
            functools.partial(
                self._send, "delete", f"/os-server-groups/{quote(group_id, safe='')}"
            ),
        )

    # -- volumes (Cinder, raw JSON through the block-storage proxy; attachments: Nova) --

    def _cinder(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        *,
        accept: Collection[int] = (),
        microversion: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """One block-storage request: (status, JSON body), as `_nova`."""
        from openstack import exceptions

        kwargs: dict[str, Any] = {"raise_exc": False}
        if microversion is not None:
            kwargs["microversion"] = microversion
        if body is not None:
            kwargs["json"] = body
        if params is not None:
            kwargs["params"] = params
        response = getattr(self._conn.block_storage, method)(path, **kwargs)
        if response.status_code not in accept:
            exceptions.raise_from_response(response)
        return response.status_code, _json_body(response)

    def _cinder_page(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        return self._cinder("get", path, params=params)[1]

    def _extend_microversion(self) -> str | None:
        """3.42 (extend an in-use volume) when the cloud has it, else none (3.0)."""
        if self._volume_version is _UNSET:
            from openstack import utils

            self._volume_version = utils.maximum_supported_microversion(
                self._conn.block_storage, EXTEND_MICROVERSION
            )
        return self._volume_version  # type: ignore[return-value]

    def list_stack_volumes(self, stack: str) -> list[ObservedVolume]:
        """`GET /volumes/detail?metadata={"declstack:stack": stack}`, one GET per 1000;
        the marker is checked again here (a cloud that ignored the filter never makes
        declstack adopt a volume). A cloud without block storage has none."""
        query = {"metadata": json.dumps({volume_kind.STACK_KEY: stack})}
        try:
            found = self._paged(
                "list volumes",
                functools.partial(self._cinder_page, "/volumes/detail"),
                "volumes",
                query,
            )
        except CloudError as exc:
            said = exc.message.lower()
            if exc.status is None and ("endpoint" in said or "service catalog" in said):
                return []
            raise
        volumes = [to_observed_volume(item) for item in found]
        return [v for v in volumes if volume_kind.owner(stack, v) is not None]

    def list_volume_types(self) -> list[NamedResource]:
        _, body = self._retrying(
            "list volume types", functools.partial(self._cinder, "get", "/types")
        )
        return [
            NamedResource(id=str(t["id"]), name=str(t.get("name") or ""))
            for t in body.get("volume_types") or []
            if isinstance(t, dict) and t.get("id")
        ]

    def create_volume(self, stack: str, volume: DesiredVolume) -> str:
        """POST /volumes with the marker in the metadata. Not sent again after an answer
        that may have made it; Cinder's quota 413 (Retry-After: 0) is final."""
        item: dict[str, Any] = {
            "size": volume.size,
            "name": volume.name,
            "metadata": volume_kind.marker(stack, volume),
        }
        if volume.type is not None:
            item["volume_type"] = volume.type
        action = f"create volume {volume.name}"
        _, body = self._over_quota(
            action,
            functools.partial(self._cinder, "post", "/volumes", {"volume": item}),
        )
        volume_id = (body.get("volume") or {}).get("id")
        if not volume_id:
            raise CloudError(action, "the cloud's answer holds no volume id")
        return str(volume_id)

    def extend_volume(self, volume_id: str, size: int) -> None:
        """os-extend at 3.42 where the cloud has it (so an attached volume grows too)."""
        path = f"/volumes/{quote(volume_id, safe='')}/action"
        body = {"os-extend": {"new_size": size}}
        self._over_quota(
            f"extend volume {volume_id} to {size} GB",
            functools.partial(
                self._cinder, "post", path, body, microversion=self._extend_microversion()
            ),
        )

    def _over_quota(
        self, action: str, call: Callable[[], tuple[int, dict[str, Any]]]
    ) -> tuple[int, dict[str, Any]]:
        """`call`, sent once more only when Cinder cannot have seen it; over the volume
        quota is said so."""
        try:
            return self._retrying(action, call, idempotent=False)
        except CloudError as exc:
            if exc.status == 413:
                raise CloudError(
                    action,
                    f"over the project's volume quota: {_after_action(exc)}",
                    413,
                    hint=VOLUME_QUOTA_HINT,
                ) from None
            raise

    def delete_volume(self, volume_id: str) -> None:
        path = f"/volumes/{quote(volume_id, safe='')}"
        self._retrying(
            f"delete volume {volume_id}",
            functools.partial(self._cinder, "delete", path, accept=(404,)),
        )

    def attach_volume(self, server_id: str, volume_id: str) -> None:
        """POST /servers/{id}/os-volume_attachments; a second one is refused (400), so it
        is sent again only when Nova cannot have seen the first."""
        path = f"/servers/{quote(server_id, safe='')}/os-volume_attachments"
        body = {"volumeAttachment": {"volumeId": volume_id}}
        self._retrying(
            f"attach volume {volume_id}",
            functools.partial(self._nova, "post", path, body),
            idempotent=False,
        )

    def detach_volume(self, server_id: str, volume_id: str) -> None:
        path = (
            f"/servers/{quote(server_id, safe='')}/os-volume_attachments/"
            f"{quote(volume_id, safe='')}"
        )
        self._retrying(
            f"detach volume {volume_id}",
            functools.partial(self._nova, "delete", path, accept=(404,)),
        )

    # -- import (Nova show, Neutron ports) ------------------------------------

    def get_server(self, server_id: str) -> BuiltServer | None:
        """One server by id, whoever owns it, with what it was built with: key pair, zone
        and config drive from Nova's show, networks and fixed IPs from its ports."""
        status, body = self._retrying(
            f"show server {server_id}",
            functools.partial(
                self._nova, "get", f"/servers/{quote(server_id, safe='')}", accept=(404,)
            ),
        )
        server = body.get("server") if status == 200 else None
        if not isinstance(server, dict):
            return None
        ports = self._paged(
            f"list the ports of server {server_id}",
            functools.partial(self._neutron_page, "/ports"),
            "ports",
            {"device_id": str(server["id"])},
        )
        return BuiltServer(
            server=to_observed(server),
            key_name=_optional_text(server.get("key_name")),
            availability_zone=_optional_text(server.get("OS-EXT-AZ:availability_zone")),
            # Nova keeps it as a string: "True", or "" when there is none.
            config_drive=str(server.get("config_drive") or "").lower() in ("true", "1"),
            nics=tuple(
                Nic(
                    network_id=str(port.get("network_id") or ""),
                    ips=tuple(
                        str(ip["ip_address"])
                        for ip in port.get("fixed_ips") or []
                        if isinstance(ip, dict) and ip.get("ip_address")
                    ),
                )
                for port in ports
                if str(port.get("device_id") or "") == str(server["id"])
            ),
        )

    def import_server(self, server_id: str, patch: ServerPatch) -> None:
        """The same requests as an in-place update (tags removed, then the metadata with
        the marker, then tags added), allowed on a server the stack does not own yet."""
        if patch.add_security_groups or patch.remove_security_groups:
            raise ValueError("an import never changes a server's security groups")
        self.update_server(server_id, patch)

    def _nova(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        *,
        accept: Collection[int] = (),
    ) -> tuple[int, dict[str, Any]]:
        """One compute request: (status, JSON body). Statuses in `accept` come back as
        answers (their error body included) instead of raising."""
        from openstack import exceptions

        kwargs: dict[str, Any] = {"microversion": self._microversion(), "raise_exc": False}
        if body is not None:
            kwargs["json"] = body
        if params is not None:
            kwargs["params"] = params
        response = getattr(self._conn.compute, method)(path, **kwargs)
        if response.status_code not in accept:
            exceptions.raise_from_response(response)
        return response.status_code, _json_body(response)


#: Tries of a security group delete that Neutron answers "in use", and the first wait
#: (doubling): 1 + 2 + 4 + 8 s for a deleted server's port to go.
IN_USE_ATTEMPTS = 5
IN_USE_FIRST_DELAY = 1.0
_RULE_EXISTS = re.compile(r"Rule id is (?P<id>[^\s.]+)")


def _json_body(response: Any) -> dict[str, Any]:
    if response.status_code == 204 or not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _has_next(links: object) -> bool:
    """Neutron's `<collection>_links` hold `previous` on every page but the first and
    `next` only while there may be more."""
    return isinstance(links, list) and any(
        isinstance(link, dict) and link.get("rel") == "next" for link in links
    )


def _neutron_type(body: dict[str, Any]) -> str | None:
    error = body.get("NeutronError")
    return str(error.get("type")) if isinstance(error, dict) else None


def _neutron_message(body: dict[str, Any]) -> str:
    error = body.get("NeutronError")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return "conflict"


def _existing_rule_id(body: dict[str, Any]) -> str | None:
    """The id in `Security group rule already exists. Rule id is <id>.` (409)."""
    if _neutron_type(body) != "SecurityGroupRuleExists":
        return None
    found = _RULE_EXISTS.search(_neutron_message(body))
    return found.group("id") if found else None


def _rule_body(group_id: str, rule: Rule) -> dict[str, Any]:
    item: dict[str, Any] = {
        "security_group_id": group_id,
        "direction": rule.direction,
        "ethertype": rule.ethertype,
    }
    optional = {
        "protocol": rule.protocol,
        "port_range_min": rule.port_min,
        "port_range_max": rule.port_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "remote_group_id": rule.remote_group,
    }
    item.update({key: value for key, value in optional.items() if value is not None})
    return item


def _port(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


def to_rule(rule: dict[str, Any]) -> Rule:
    """One Neutron rule body as declstack's `Rule` (remote group as its id), in the
    canonical form the planner compares (protocol numbers as names, normalised CIDRs)."""
    remote_group = rule.get("remote_group_id")
    protocol = rule.get("protocol")
    prefix = rule.get("remote_ip_prefix")
    return canonical_rule(
        Rule(
            direction=str(rule.get("direction") or "ingress"),
            ethertype=str(rule.get("ethertype") or "IPv4"),
            protocol=str(protocol) if protocol not in (None, "") else None,
            port_min=_port(rule.get("port_range_min")),
            port_max=_port(rule.get("port_range_max")),
            remote_ip_prefix=str(prefix) if prefix not in (None, "") else None,
            remote_group=str(remote_group) if remote_group else None,
        )
    )


def to_observed_group(group: dict[str, Any]) -> ObservedSecurityGroup:
    """One Neutron security group body (rules embedded) as declstack's snapshot."""
    rules = [r for r in group.get("security_group_rules") or [] if isinstance(r, dict)]
    project = group.get("project_id") or group.get("tenant_id")
    return ObservedSecurityGroup(
        id=str(group["id"]),
        name=str(group.get("name") or ""),
        description=str(group.get("description") or ""),
        tags=tuple(str(tag) for tag in group.get("tags") or ()),
        rules=tuple(ObservedRule(id=str(r["id"]), rule=to_rule(r)) for r in rules),
        project_id=str(project) if project else None,
    )


#: The tag that names the server (by its spec name) an owned floating IP belongs to.
SERVER_TAG_PREFIX = "declstack:server="
#: What to do about the Neutron errors an association can meet.
_FLOATING_IP_HINTS = {
    "ExternalGatewayForFloatingIPNotFound": (
        "no router connects the server's network to the floating IP's network; add a router"
        " interface on the server's subnet (with a gateway on the external network)"
    ),
    "FloatingIPPortAlreadyAssociated": (
        "the server's fixed IP already has another floating IP on that network; release or"
        " disassociate that one first"
    ),
}


def floating_ip_tags(stack: str, server: str) -> list[str]:
    """The ownership tags of a floating IP the stack allocated for `server`."""
    return [stack_tag(stack), f"{SERVER_TAG_PREFIX}{server}"]


def _optional_text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def to_observed_floating_ip(fip: dict[str, Any]) -> ObservedFloatingIp:
    """One Neutron floating IP body as declstack's snapshot; `server_id` is the port's
    device when the port is a server's (device_owner `compute:<zone>`)."""
    details = fip.get("port_details")
    server_id = None
    if isinstance(details, dict) and str(details.get("device_owner") or "").startswith("compute:"):
        server_id = _optional_text(details.get("device_id"))
    return ObservedFloatingIp(
        id=str(fip["id"]),
        address=str(fip.get("floating_ip_address") or ""),
        network_id=str(fip.get("floating_network_id") or ""),
        port_id=_optional_text(fip.get("port_id")),
        server_id=server_id,
        fixed_ip=_optional_text(fip.get("fixed_ip_address")),
        tags=tuple(sorted(str(tag) for tag in fip.get("tags") or ())),
        status=str(fip.get("status") or "DOWN").upper(),
    )


def to_observed_keypair(keypair: dict[str, Any]) -> ObservedKeypair:
    """One Nova key pair body (a list entry's `keypair`) as declstack's snapshot; no
    `type` before 2.2, where every key pair is ssh."""
    return ObservedKeypair(
        name=str(keypair.get("name") or ""),
        public_key=str(keypair.get("public_key") or ""),
        type=str(keypair.get("type") or "ssh"),
    )


def to_observed_server_group(group: dict[str, Any]) -> ObservedServerGroup:
    """One Nova server group body as declstack's snapshot: `policy` from 2.64, the one
    item of `policies` before."""
    policies = group.get("policies")
    policy = group.get("policy") or (policies[0] if isinstance(policies, list) and policies else "")
    return ObservedServerGroup(
        id=str(group["id"]),
        name=str(group.get("name") or ""),
        policy=str(policy),
        members=tuple(str(member) for member in group.get("members") or ()),
    )


VOLUME_QUOTA_HINT = (
    "delete volumes the project no longer needs, or ask for a larger volume or gigabytes "
    "quota (openstack quota show; openstack limits show --absolute)"
)
#: Cinder's microversion that extends an attached (in-use) volume.
EXTEND_MICROVERSION = "3.42"


def _boot_mapping(image_id: str, request: CreateRequest) -> dict[str, Any]:
    """The one block device mapping (v2) of a server that boots from a new volume made
    from its image (`volume_type` needs compute 2.67)."""
    boot = request.boot_volume
    assert boot is not None
    mapping: dict[str, Any] = {
        "boot_index": 0,
        "uuid": image_id,
        "source_type": "image",
        "destination_type": "volume",
        "volume_size": boot.size,
        "delete_on_termination": boot.delete_on_termination,
    }
    if boot.type is not None:
        mapping["volume_type"] = boot.type
    return mapping


def _after_action(error: CloudError) -> str:
    """A CloudError's message without its `action: ` and ` (HTTP n)`."""
    text = error.message.split(": ", 1)[-1]
    return re.sub(r" \(HTTP \d+\)$", "", text)


def to_observed_volume(volume: dict[str, Any]) -> ObservedVolume:
    """One Cinder volume body (a detailed list's item) as declstack's snapshot."""
    metadata = volume.get("metadata") or {}
    attachments = volume.get("attachments") or []
    size = volume.get("size")
    return ObservedVolume(
        id=str(volume["id"]),
        name=str(volume.get("name") or ""),
        size=int(str(size)) if str(size).isdigit() else 0,
        status=str(volume.get("status") or "unknown").lower(),
        volume_type=_optional_text(volume.get("volume_type")),
        metadata=frozen_map({str(k): str(v) for k, v in metadata.items()}),
        attached_to=tuple(
            str(a["server_id"]) for a in attachments if isinstance(a, dict) and a.get("server_id")
        ),
        created=str(volume.get("created_at") or ""),
    )


def _at_least(version: str | None, major: int, minor: int) -> bool:
    """Whether a negotiated microversion ("2.96"; None: the base 2.0/2.1) is >= major.minor."""
    found = re.fullmatch(r"(\d+)\.(\d+)", version or "")
    return found is not None and (int(found.group(1)), int(found.group(2))) >= (major, minor)
