"""A local OpenStack-compatible cloud (Keystone, Nova, Glance, Neutron) over real HTTP."""

from .cloud import LocalCloud

__all__ = ["LocalCloud"]
