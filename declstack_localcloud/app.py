"""The WSGI-like front door: fault injection, token checks, and dispatch to each service."""

from __future__ import annotations

import json
import sys
import time
import traceback
from typing import Any

from . import cinder, identity, image, neutron, nova
from .context import Call, Principal, Runtime
from .faults import RequestFault
from .http import ApiError, DropConnection, Request, Response, Router

FAULTED_SERVICES = ("compute", "image", "network", "volume")
DISCOVERY_PATHS = (
    "/compute",
    "/compute/v2.1",
    "/image",
    "/image/versions",
    "/network",
    "/volume",
    "/volume/v3",
)
ADMIN_FORBIDDEN = "The fault endpoint needs a token of the admin user."


class Application:
    """Routes one request; every failure leaves as an HTTP response in the service's shape."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.identity = identity.routes()
        self.image = image.routes()
        self.network = neutron.routes()
        self.compute = nova.routes()
        self.admin: Router[Call] = Router()
        self.admin.add("GET", "/admin/faults", self._get_faults)
        self.admin.add("PUT", "/admin/faults", self._put_faults)
        self.admin.add("GET", "/?", self._index)

    def __call__(self, request: Request) -> Response:
        service = request.path.strip("/").split("/", 1)[0]
        try:
            return self._dispatch(service, request)
        except ApiError as error:
            return error.response
        except DropConnection:
            raise
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            if service == "compute":
                return nova.nova_error(500, f"Unexpected API Error: {exc!r}").response
            return Response(
                500,
                {"error": {"code": 500, "title": "Internal Server Error", "message": repr(exc)}},
            )

    def _dispatch(self, service: str, request: Request) -> Response:
        is_discovery = request.method == "GET" and request.path.rstrip("/") in DISCOVERY_PATHS
        drop_after = False
        if service in FAULTED_SERVICES and not is_discovery:
            drop_after = self._inject(service)
        response = self._serve(service, request, is_discovery)
        if drop_after:
            # The work is done (a server may now exist) but the client hears nothing:
            # what a reset connection after a POST looks like to a client.
            raise DropConnection()
        return response

    def _serve(self, service: str, request: Request, is_discovery: bool) -> Response:
        principal = identity.authenticate(self.runtime, request.header("X-Auth-Token"))
        call = Call(request, principal, self.runtime)
        if service in ("identity", "placement"):
            return self._route(self.identity, call, service)
        if service == "admin" or service == "":
            if service == "admin" and self.runtime.admin_token_required:
                self._require_admin(principal)
            return self._route(self.admin, call, service)
        if service not in FAULTED_SERVICES:
            return Response(
                404, {"error": {"code": 404, "title": "Not Found", "message": request.path}}
            )
        if service == "compute":
            return self._compute(call, is_discovery)
        if service == "volume":
            return cinder.handle(call)
        if principal is None and not is_discovery:
            raise identity.unauthorized(self.runtime.base_url)
        if service == "network" and not is_discovery:
            # Nova deletes a server's ports as part of the delete; here they are
            # removed once the delete completes, before Neutron answers anything.
            neutron.reap_if_due(call)
        router = self.image if service == "image" else self.network
        return self._route(router, call, service)

    def _require_admin(self, principal: Principal | None) -> None:
        """Beyond loopback, /admin/* (faults) needs a token of a user with the admin role."""
        if principal is None:
            raise identity.unauthorized(self.runtime.base_url)
        if not principal.is_admin:
            raise identity.keystone_error(403, "Forbidden", ADMIN_FORBIDDEN)

    def _compute(self, call: Call, is_discovery: bool) -> Response:
        path = call.request.path.rstrip("/")
        if path == "/compute":
            return nova.versions(call, {})
        if path == "/compute/v2.1" and call.request.method == "GET":
            return nova.version_v21(call, {})
        if call.principal is None:
            raise identity.unauthorized(self.runtime.base_url)
        version = nova.parse_version(call)
        headers = nova.microversion_headers(version)
        try:
            response = self._route(self.compute, nova.NovaCall(call, version), "compute")
        except ApiError as error:
            response = error.response
        return Response(
            response.status,
            response.body,
            {**response.headers, **headers},
            response.content_type,
        )

    def _route(self, router: Router[Any], call: Any, service: str) -> Response:
        request: Request = call.request if isinstance(call, Call) else call.call.request
        found = router.match(request.method, request.path.rstrip("/") or "/")
        if isinstance(found, str):
            status = 404 if found == "not_found" else 405
            if service == "compute":
                raise nova.nova_error(status, "The resource could not be found.")
            if service == "network":
                raise neutron.neutron_error(
                    status, "HTTPNotFound", "The resource could not be found."
                )
            raise ApiError(
                Response(
                    status,
                    {
                        "error": {
                            "code": status,
                            "title": "Not Found",
                            "message": "The resource could not be found.",
                        }
                    },
                )
            )
        handler, params = found
        return handler(call, params)

    def _inject(self, service: str) -> bool:
        """Raise the fault the dice chose; True means "handle it, then drop the connection"."""
        outcome = self.runtime.faults.roll_request()
        if outcome is RequestFault.NONE:
            return False
        if outcome is RequestFault.STALL:
            time.sleep(self.runtime.faults.faults.stall_seconds)
            return False
        if outcome is RequestFault.DROP_AFTER:
            return True
        if outcome is RequestFault.DROP:
            raise DropConnection()
        retry = self.runtime.faults.faults.retry_after
        if outcome is RequestFault.RATE_LIMIT_429:
            raise nova.over_limit(429, retry)
        if outcome is RequestFault.OVER_LIMIT_413:
            raise nova.over_limit(413, retry)
        status = 500 if outcome is RequestFault.ERROR_500 else 503
        if service in ("compute", "volume"):
            raise nova.nova_error(status, "Injected fault: the service is having a bad day.")
        raise ApiError(Response(status, {"error": {"code": status, "message": "Injected fault"}}))

    def _get_faults(self, call: Call, _: dict[str, str]) -> Response:
        return Response(200, {"faults": self.runtime.faults.faults.as_dict()})

    def _put_faults(self, call: Call, _: dict[str, str]) -> Response:
        try:
            data = call.request.json()
            changes = data.get("faults", data) if isinstance(data, dict) else None
            if not isinstance(changes, dict):
                raise ValueError("body must be a JSON object of fault settings")
            faults = self.runtime.faults.update(changes)
        except (ValueError, TypeError) as exc:
            return Response(400, {"error": {"code": 400, "message": str(exc)}})
        return Response(200, {"faults": faults.as_dict()})

    def _index(self, call: Call, _: dict[str, str]) -> Response:
        base = self.runtime.base_url
        body = {
            "name": "declstack local cloud",
            "identity": f"{base}/identity/v3",
            "compute": f"{base}/compute/v2.1",
            "image": f"{base}/image",
            "network": f"{base}/network",
            "volume": f"{base}/volume/v3",
            "faults": f"{base}/admin/faults",
        }
        return Response(200, json.loads(json.dumps(body)))
