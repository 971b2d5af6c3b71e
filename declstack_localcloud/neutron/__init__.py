"""Neutron v2.0 subset, one module per resource as neutron/extensions and db are laid out."""

from __future__ import annotations

from ..context import Call
from ..http import Router
from . import floating_ips, networks, ports, routers, security_groups, subnets, tags
from .common import collection, neutron_error, nova_networks, visible_networks
from .extensions import list_extensions, resources, versions
from .ports import allocate_port, reap, reap_if_due

__all__ = [
    "allocate_port",
    "collection",
    "neutron_error",
    "nova_networks",
    "reap",
    "reap_if_due",
    "routes",
    "visible_networks",
]


def routes() -> Router[Call]:
    r: Router[Call] = Router()
    base = "/network/v2.0"
    one = "(?P<id>[^/]+)"
    r.add("GET", "/network/?", versions)
    r.add("GET", f"{base}/?", resources)
    r.add("GET", f"{base}/extensions", list_extensions)
    crud = (
        (
            "networks",
            networks.list_networks,
            networks.create_network,
            networks.show_network,
            networks.update_network,
            networks.delete_network,
        ),
        (
            "subnets",
            subnets.list_subnets,
            subnets.create_subnet,
            subnets.show_subnet,
            subnets.update_subnet,
            subnets.delete_subnet,
        ),
        (
            "ports",
            ports.list_ports,
            ports.create_port,
            ports.show_port,
            ports.update_port,
            ports.delete_port,
        ),
        (
            "security-groups",
            security_groups.list_security_groups,
            security_groups.create_security_group,
            security_groups.show_security_group,
            security_groups.update_security_group,
            security_groups.delete_security_group,
        ),
        (
            "floatingips",
            floating_ips.list_floatingips,
            floating_ips.create_floatingip,
            floating_ips.show_floatingip,
            floating_ips.update_floatingip,
            floating_ips.delete_floatingip,
        ),
        (
            "routers",
            routers.list_routers,
            routers.create_router,
            routers.show_router,
            routers.update_router,
            routers.delete_router,
        ),
    )
    for path, index, create, show, update, delete in crud:
        r.add("GET", f"{base}/{path}", index)
        r.add("POST", f"{base}/{path}", create)
        r.add("GET", f"{base}/{path}/{one}", show)
        r.add("PUT", f"{base}/{path}/{one}", update)
        r.add("DELETE", f"{base}/{path}/{one}", delete)
    r.add("GET", f"{base}/security-group-rules", security_groups.list_security_group_rules)
    r.add("POST", f"{base}/security-group-rules", security_groups.create_security_group_rule)
    r.add("GET", f"{base}/security-group-rules/{one}", security_groups.show_security_group_rule)
    r.add(
        "DELETE", f"{base}/security-group-rules/{one}", security_groups.delete_security_group_rule
    )
    r.add("PUT", f"{base}/routers/{one}/add_router_interface", routers.add_router_interface)
    r.add("PUT", f"{base}/routers/{one}/remove_router_interface", routers.remove_router_interface)
    tagged = f"{base}/(?P<collection>{'|'.join(tags.TAGGABLE)})/{one}/tags"
    r.add("GET", tagged, tags.get_tags)
    r.add("PUT", tagged, tags.replace_tags)
    r.add("DELETE", tagged, tags.delete_tags)
    r.add("GET", f"{tagged}/(?P<tag>[^/]+)", tags.get_tag)
    r.add("PUT", f"{tagged}/(?P<tag>[^/]+)", tags.add_tag)
    r.add("DELETE", f"{tagged}/(?P<tag>[^/]+)", tags.delete_tag)
    return r
