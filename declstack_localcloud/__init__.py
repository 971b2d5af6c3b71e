"""A local OpenStack-compatible cloud (Keystone, Nova, Glance, Neutron) over real HTTP."""

from .cloud import LocalCloud
from .context import HostCapacity
from .errors import LocalCloudError

__all__ = ["HostCapacity", "LocalCloud", "LocalCloudError"]
