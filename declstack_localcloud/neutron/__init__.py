"""Neutron v2.0 subset, one module per resource as neutron/extensions and db are laid out."""

from __future__ import annotations

from ..context import Call
from ..http import Router
from .common import collection, empty, neutron_error, visible_networks
from .extensions import list_extensions, resources, versions
from .networks import list_networks, show_network
from .ports import allocate_port, list_ports, reap, reap_if_due, show_port
from .security_groups import list_security_group_rules, list_security_groups, show_security_group
from .subnets import list_subnets, show_subnet

__all__ = [
    "allocate_port",
    "collection",
    "neutron_error",
    "reap",
    "reap_if_due",
    "routes",
    "visible_networks",
]


def routes() -> Router[Call]:
    router: Router[Call] = Router()
    router.add("GET", "/network/?", versions)
    router.add("GET", "/network/v2.0/?", resources)
    router.add("GET", "/network/v2.0/extensions", list_extensions)
    router.add("GET", "/network/v2.0/networks", list_networks)
    router.add("GET", "/network/v2.0/networks/(?P<id>[^/]+)", show_network)
    router.add("GET", "/network/v2.0/subnets", list_subnets)
    router.add("GET", "/network/v2.0/subnets/(?P<id>[^/]+)", show_subnet)
    router.add("GET", "/network/v2.0/ports", list_ports)
    router.add("GET", "/network/v2.0/ports/(?P<id>[^/]+)", show_port)
    router.add("GET", "/network/v2.0/security-groups", list_security_groups)
    router.add("GET", "/network/v2.0/security-groups/(?P<id>[^/]+)", show_security_group)
    router.add("GET", "/network/v2.0/security-group-rules", list_security_group_rules)
    router.add("GET", "/network/v2.0/floatingips", empty("floatingips"))
    router.add("GET", "/network/v2.0/routers", empty("routers"))
    return router
