"""Cinder v3 subset (block-storage), laid out like cinder/api/v3: one module per resource.

Served at /volume/v3, with or without the project id in the path as Cinder's router takes
both (the catalog advertises it without, as realstack's does).
"""

from __future__ import annotations

from collections.abc import Callable

from .. import identity
from ..context import Call
from ..http import ApiError, Response, Router
from . import quotas, types, volume_actions, volume_metadata, volumes
from .common import CinderCall, cinder_error, parse_version, version_headers
from .states import DELETABLE, set_course, status_at, step_seconds
from .versions import version_v3, versions
from .views import load_attachments
from .volumes import NewVolume, check_image, creation_phases, find_image, insert_volume

__all__ = [
    "DELETABLE",
    "NewVolume",
    "check_image",
    "creation_phases",
    "find_image",
    "handle",
    "insert_volume",
    "load_attachments",
    "set_course",
    "status_at",
    "step_seconds",
]

CinderHandler = Callable[[CinderCall, dict[str, str]], Response]
PREFIX = "/volume/v3(?:/(?P<project>[0-9a-fA-F-]+))?"


def routes() -> Router[CinderCall]:
    r: Router[CinderCall] = Router()
    one = f"{PREFIX}/volumes/(?P<id>[^/]+)"
    r.add("GET", f"{PREFIX}/volumes", volumes.index)
    r.add("POST", f"{PREFIX}/volumes", volumes.create_volume)
    r.add("GET", f"{PREFIX}/volumes/detail", volumes.detail)
    r.add("GET", one, volumes.show_volume)
    r.add("PUT", one, volumes.update_volume)
    r.add("DELETE", one, volumes.delete_volume)
    r.add("POST", f"{one}/action", volume_actions.volume_action)
    r.add("GET", f"{one}/metadata", volume_metadata.get_metadata)
    r.add("POST", f"{one}/metadata", volume_metadata.create_metadata)
    r.add("PUT", f"{one}/metadata", volume_metadata.replace_metadata)
    r.add("GET", f"{one}/metadata/(?P<key>[^/]+)", volume_metadata.get_metadata_item)
    r.add("PUT", f"{one}/metadata/(?P<key>[^/]+)", volume_metadata.set_metadata_item)
    r.add("DELETE", f"{one}/metadata/(?P<key>[^/]+)", volume_metadata.delete_metadata_item)
    r.add("GET", f"{PREFIX}/types", types.list_types)
    r.add("GET", f"{PREFIX}/types/(?P<id>[^/]+)", types.show_type)
    r.add("GET", f"{PREFIX}/limits", quotas.limits)
    return r


ROUTER = routes()


def handle(call: Call) -> Response:
    """One /volume request: the root's version document without a token, the rest (the v3
    version document too, as keystonemiddleware guards it) behind one; every answer below v3
    (errors too) names the microversion it was served at."""
    path = call.request.path.rstrip("/")
    if call.request.method == "GET" and path == "/volume":
        return versions(call)
    if call.principal is None:
        raise identity.unauthorized(call.runtime.base_url)
    if call.request.method == "GET" and path == "/volume/v3":
        return version_v3(call)
    version = parse_version(call)
    try:
        response = _route(call, path, version)
    except ApiError as error:
        response = error.response
    return Response(
        response.status,
        response.body,
        {**response.headers, **version_headers(version)},
        response.content_type,
    )


def _route(call: Call, path: str, version: tuple[int, int]) -> Response:
    found = ROUTER.match(call.request.method, path)
    if isinstance(found, str):
        status = 404 if found == "not_found" else 405
        raise cinder_error(status, "The resource could not be found.")
    handler, params = found
    project = params.pop("project", None)
    if project is not None and project != call.user.project_id:
        raise cinder_error(400, "Malformed request url")
    return handler(CinderCall(call, version, project), params)
