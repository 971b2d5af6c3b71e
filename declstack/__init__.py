"""declstack: a declarative provisioner for OpenStack servers."""

__version__ = "0.1.0"
