"""Cinder's version documents (cinder/api/versions.py, cinder/api/views/versions.py)."""

from __future__ import annotations

from typing import Any

from ..context import Call
from ..http import Response
from .common import MAX_VERSION, MIN_VERSION, version_text

UPDATED = "2023-08-31T00:00:00Z"


def _versions(call: Call) -> dict[str, Any]:
    version = {
        "id": "v3.0",
        "status": "CURRENT",
        "version": version_text(MAX_VERSION),
        "min_version": version_text(MIN_VERSION),
        "updated": UPDATED,
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": f"{call.runtime.base_url}/volume/v3/"},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }
    return {"versions": [version]}


def versions(call: Call) -> Response:
    """GET /volume/: every version, 300 Multiple Choices."""
    return Response(300, _versions(call))


def version_v3(call: Call) -> Response:
    """GET /volume/v3/ (with a token): the same list, 200 (what keystoneauth's discovery reads)."""
    return Response(200, _versions(call))
