"""A local OpenStack-compatible cloud (Keystone, Nova, Glance, Neutron) over real HTTP."""
