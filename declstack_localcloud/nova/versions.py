"""Nova's version documents (GET /compute, /compute/v2.1): compute/versions*.py."""

from __future__ import annotations

from typing import Any

from ..context import Call
from ..http import Response
from .common import (
    MAX_VERSION,
    MIN_VERSION,
    version_text,
)


def _version_doc(base: str) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": version_text(MAX_VERSION),
        "min_version": version_text(MIN_VERSION),
        "updated": "2013-07-23T11:33:21Z",
        "links": [
            {"rel": "self", "href": f"{base}/compute/v2.1/"},
            {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
        ],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ],
    }


def versions(call: Call, _: dict[str, str]) -> Response:
    base = call.runtime.base_url
    v20 = {
        "id": "v2.0",
        "status": "DEPRECATED",
        "version": "",
        "min_version": "",
        "updated": "2025-07-04T12:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/compute/v2/"}],
    }
    v21 = {k: v for k, v in _version_doc(base).items() if k != "media-types"}
    v21["links"] = [{"rel": "self", "href": f"{base}/compute/v2.1/"}]
    return Response(200, {"versions": [v20, v21]})


def version_v21(call: Call, _: dict[str, str]) -> Response:
    return Response(200, {"version": _version_doc(call.runtime.base_url)})
