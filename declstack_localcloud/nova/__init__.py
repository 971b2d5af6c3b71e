"""Nova v2.1 subset, laid out like nova/api/openstack/compute: one module per resource."""

from __future__ import annotations

from collections.abc import Callable

from ..http import Response, Router
from .aggregates import list_aggregates
from .attach_interfaces import server_interfaces
from .availability_zone import availability_zones
from .common import NovaCall, microversion_headers, nova_error, over_limit, parse_version
from .flavors import flavor_extra_specs, list_flavors, show_flavor
from .hypervisors import hypervisor_statistics, list_hypervisors, show_hypervisor
from .ips import server_ips
from .keypairs import create_keypair, delete_keypair, list_keypairs, show_keypair
from .limits import limits
from .security_groups import server_security_groups
from .server_actions import server_action
from .server_groups import create_group, delete_group, list_groups, show_group
from .server_metadata import (
    delete_metadata_item,
    get_metadata,
    get_metadata_item,
    replace_metadata,
    set_metadata_item,
    update_metadata,
)
from .server_tags import add_tag, check_tag, delete_tag, delete_tags, list_tags, replace_tags
from .servers import create_server, delete_server, list_servers, show_server, update_server
from .services import list_services
from .versions import version_v21, versions
from .volume_attachments import (
    create_attachment,
    delete_attachment,
    list_attachments,
    show_attachment,
)

__all__ = [
    "NovaCall",
    "microversion_headers",
    "nova_error",
    "over_limit",
    "parse_version",
    "routes",
    "version_v21",
    "versions",
]

# ---- routing ---------------------------------------------------------------------------------

NovaHandler = Callable[[NovaCall, dict[str, str]], Response]


def _fixed(handler: Callable[[NovaCall, bool], Response], flag: bool) -> NovaHandler:
    def bound(nc: NovaCall, _: dict[str, str]) -> Response:
        return handler(nc, flag)

    return bound


def routes() -> Router[NovaCall]:
    r: Router[NovaCall] = Router()
    base = "/compute/v2.1"
    sid = "(?P<id>[^/]+)"
    r.add("GET", f"{base}/servers", _fixed(list_servers, False))
    r.add("POST", f"{base}/servers", create_server)
    r.add("GET", f"{base}/servers/detail", _fixed(list_servers, True))
    r.add("GET", f"{base}/servers/{sid}", show_server)
    r.add("PUT", f"{base}/servers/{sid}", update_server)
    r.add("DELETE", f"{base}/servers/{sid}", delete_server)
    r.add("POST", f"{base}/servers/{sid}/action", server_action)
    r.add("GET", f"{base}/servers/{sid}/os-security-groups", server_security_groups)
    r.add("GET", f"{base}/servers/{sid}/os-interface", server_interfaces)
    r.add("GET", f"{base}/servers/{sid}/ips", server_ips)
    r.add("GET", f"{base}/servers/{sid}/metadata", get_metadata)
    r.add("POST", f"{base}/servers/{sid}/metadata", update_metadata)
    r.add("PUT", f"{base}/servers/{sid}/metadata", replace_metadata)
    r.add("GET", f"{base}/servers/{sid}/metadata/(?P<key>[^/]+)", get_metadata_item)
    r.add("PUT", f"{base}/servers/{sid}/metadata/(?P<key>[^/]+)", set_metadata_item)
    r.add("DELETE", f"{base}/servers/{sid}/metadata/(?P<key>[^/]+)", delete_metadata_item)
    r.add("GET", f"{base}/servers/{sid}/tags", list_tags)
    r.add("PUT", f"{base}/servers/{sid}/tags", replace_tags)
    r.add("DELETE", f"{base}/servers/{sid}/tags", delete_tags)
    r.add("GET", f"{base}/servers/{sid}/tags/(?P<tag>[^/]+)", check_tag)
    r.add("PUT", f"{base}/servers/{sid}/tags/(?P<tag>[^/]+)", add_tag)
    r.add("DELETE", f"{base}/servers/{sid}/tags/(?P<tag>[^/]+)", delete_tag)
    attachments = f"{base}/servers/{sid}/os-volume_attachments"
    r.add("GET", attachments, list_attachments)
    r.add("POST", attachments, create_attachment)
    r.add("GET", f"{attachments}/(?P<volume_id>[^/]+)", show_attachment)
    r.add("DELETE", f"{attachments}/(?P<volume_id>[^/]+)", delete_attachment)
    r.add("GET", f"{base}/flavors", _fixed(list_flavors, False))
    r.add("GET", f"{base}/flavors/detail", _fixed(list_flavors, True))
    r.add("GET", f"{base}/flavors/(?P<id>[^/]+)", show_flavor)
    r.add("GET", f"{base}/flavors/(?P<id>[^/]+)/os-extra_specs", flavor_extra_specs)
    r.add("GET", f"{base}/os-keypairs", list_keypairs)
    r.add("POST", f"{base}/os-keypairs", create_keypair)
    r.add("GET", f"{base}/os-keypairs/(?P<name>[^/]+)", show_keypair)
    r.add("DELETE", f"{base}/os-keypairs/(?P<name>[^/]+)", delete_keypair)
    r.add("GET", f"{base}/os-availability-zone", availability_zones)
    r.add("GET", f"{base}/os-availability-zone/detail", availability_zones)
    r.add("GET", f"{base}/limits", limits)
    r.add("GET", f"{base}/os-server-groups", list_groups)
    r.add("POST", f"{base}/os-server-groups", create_group)
    r.add("GET", f"{base}/os-server-groups/{sid}", show_group)
    r.add("DELETE", f"{base}/os-server-groups/{sid}", delete_group)
    r.add("GET", f"{base}/os-hypervisors", _fixed(list_hypervisors, False))
    r.add("GET", f"{base}/os-hypervisors/detail", _fixed(list_hypervisors, True))
    r.add("GET", f"{base}/os-hypervisors/statistics", hypervisor_statistics)
    r.add("GET", f"{base}/os-hypervisors/{sid}", show_hypervisor)
    r.add("GET", f"{base}/os-services", list_services)
    r.add("GET", f"{base}/os-aggregates", list_aggregates)
    return r
