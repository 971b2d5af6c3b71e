"""os-aggregates, list only: the local cloud has no host aggregates (`openstack hypervisor
show` asks for them)."""

from __future__ import annotations

from ..http import Response
from .common import NovaCall
from .hypervisors import require_admin


def list_aggregates(nc: NovaCall, _: dict[str, str]) -> Response:
    require_admin(nc, "os-aggregates:index")
    return Response(200, {"aggregates": []})
