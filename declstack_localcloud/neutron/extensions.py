"""Versions, the v2.0 resource index and the extension list."""

from __future__ import annotations

from ..context import Call
from ..http import Response

EXTENSIONS = (
    ("security-group", "security-group", "The security groups extension."),
    ("port-security", "Port Security", "Provides port security."),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    (
        "external-net",
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding."),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id is enabled.",
    ),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources.",
    ),
    ("quotas", "Quota management support", "Expose functions for quotas management per project"),
    (
        "standard-attr-tag",
        "Tag support for resources with standard attribute",
        "Enables to set tag on resources with standard attribute.",
    ),
    (
        "ext-gw-mode",
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router abstraction for specifying whether SNAT should occur"
        " on the external gateway",
    ),
    (
        "fip-port-details",
        "Floating IP Port Details Extension",
        "Add port_details attribute to Floating IP resource",
    ),
)


def list_extensions(call: Call, _: dict[str, str]) -> Response:
    extensions = [
        {
            "alias": alias,
            "name": name,
            "description": text,
            "updated": "2013-01-01T10:00:00-00:00",
            "links": [],
        }
        for alias, name, text in EXTENSIONS
    ]
    return Response(200, {"extensions": extensions})


def versions(call: Call, _: dict[str, str]) -> Response:
    link = {"href": f"{call.runtime.base_url}/network/v2.0/", "rel": "self"}
    return Response(200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [link]}]})


def resources(call: Call, _: dict[str, str]) -> Response:
    names = (
        "network",
        "subnet",
        "port",
        "security_group",
        "security_group_rule",
        "floatingip",
        "router",
    )
    base = f"{call.runtime.base_url}/network/v2.0"
    return Response(
        200,
        {
            "resources": [
                {
                    "name": name,
                    "collection": f"{name}s",
                    "links": [
                        {
                            "href": f"{base}/{name.replace('_', '-')}s",
                            "rel": "self",
                        }
                    ],
                }
                for name in names
            ]
        },
    )
