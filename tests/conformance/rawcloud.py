"""A raw HTTP client for an OpenStack cloud: Keystone v3 password auth, catalog, plain requests.

The differential check must see exactly what each cloud answers, so it bypasses
openstacksdk (which retries, pages and reshapes) and speaks HTTP itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

JSON = Any


@dataclass(frozen=True)
class Credentials:
    """Password credentials of one clouds.yaml entry (only what Keystone v3 needs)."""

    auth_url: str
    username: str
    password: str
    project_name: str
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    region_name: str | None = None
    interface: str = "public"

    @classmethod
    def from_cloud_entry(cls, entry: Mapping[str, Any]) -> Credentials:
        """Read one `clouds:` entry of a clouds.yaml-style mapping."""
        auth = entry["auth"]
        return cls(
            auth_url=str(auth["auth_url"]),
            username=str(auth["username"]),
            password=str(auth["password"]),
            project_name=str(auth["project_name"]),
            user_domain_name=str(auth.get("user_domain_name", "Default")),
            project_domain_name=str(auth.get("project_domain_name", "Default")),
            region_name=entry.get("region_name"),
            interface=str(entry.get("interface", "public")),
        )

    @property
    def identity_v3(self) -> str:
        """The Keystone v3 root, whether auth_url was given with or without `/v3`."""
        url = self.auth_url.rstrip("/")
        return url if url.endswith("/v3") else url + "/v3"


@dataclass(frozen=True)
class Response:
    """What one request returned: status, the headers clients read, and the parsed body."""

    status: int
    headers: Mapping[str, str]
    body: JSON
    elapsed: float


_MICROVERSION_SERVICE = {"block-storage": "volume", "volumev3": "volume"}
"""Cinder's microversion header names the service `volume`, not its catalog type (400)."""


def unversioned(url: str) -> str:
    """A catalog URL without its trailing version segment (`.../v2.1` -> `...`)."""
    return re.sub(r"/v\d+(\.\d+)?$", "", url.rstrip("/"))


def _parse(resp: requests.Response) -> JSON:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return {"<text>": resp.text[:500]}


def password_auth_body(creds: Credentials, password: str | None = None) -> JSON:
    """The Keystone v3 password request body that openstacksdk/keystoneauth send."""
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": creds.username,
                        "password": creds.password if password is None else password,
                        "domain": {"name": creds.user_domain_name},
                    }
                },
            },
            "scope": {
                "project": {
                    "name": creds.project_name,
                    "domain": {"name": creds.project_domain_name},
                }
            },
        }
    }


@dataclass
class RawCloud:
    """One authenticated session: token, project id and public endpoints by service type."""

    creds: Credentials
    timeout: float = 30.0
    token: str = ""
    project_id: str = ""
    user_id: str = ""
    endpoints: dict[str, str] = field(default_factory=dict)
    http: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.http.trust_env = False

    def authenticate(self) -> Response:
        """POST /v3/auth/tokens and remember token, project and catalog."""
        resp = self.request_url(
            "POST",
            self.creds.identity_v3 + "/auth/tokens",
            body=password_auth_body(self.creds),
            auth=False,
        )
        if resp.status != 201:
            raise RuntimeError(f"authentication failed: {resp.status} {resp.body}")
        self.token = resp.headers["X-Subject-Token"]
        tok = resp.body["token"]
        self.project_id = tok["project"]["id"]
        self.user_id = tok["user"]["id"]
        self.endpoints = {}
        for svc in tok.get("catalog", []):
            for ep in svc["endpoints"]:
                region_ok = self.creds.region_name in (None, ep.get("region_id"), ep.get("region"))
                if ep["interface"] == self.creds.interface and region_ok:
                    self.endpoints[svc["type"]] = ep["url"].rstrip("/")
        self.endpoints["identity"] = self.creds.identity_v3
        return resp

    def url(self, service: str, path: str) -> str:
        """Absolute URL of `path` on the service's catalog endpoint.

        `@root` is the unversioned endpoint (the catalog URL without `/v2.1`), as Nova's
        version discovery and bookmark links use it."""
        base = self.endpoints[service]
        if path.startswith("@root"):
            return unversioned(base) + path[len("@root") :]
        return base + path

    def request(
        self,
        service: str,
        method: str,
        path: str,
        body: JSON = None,
        microversion: str | None = None,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request to a catalog service; never raises on HTTP errors."""
        hdrs = dict(headers or {})
        if microversion is not None:
            hdrs["OpenStack-API-Version"] = (
                f"{_MICROVERSION_SERVICE.get(service, service)} {microversion}"
            )
        return self.request_url(method, self.url(service, path), body=body, auth=auth, headers=hdrs)

    def request_url(
        self,
        method: str,
        url: str,
        body: JSON = None,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request to an absolute URL."""
        hdrs = {"Accept": "application/json", "User-Agent": "declstack-conformance"}
        hdrs.update(headers or {})
        if auth and self.token:
            hdrs["X-Auth-Token"] = self.token
        data = None
        if body is not None:
            data = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        r = self.http.request(method, url, data=data, headers=hdrs, timeout=self.timeout)
        return Response(
            status=r.status_code,
            headers=dict(r.headers),
            body=_parse(r),
            elapsed=r.elapsed.total_seconds(),
        )
