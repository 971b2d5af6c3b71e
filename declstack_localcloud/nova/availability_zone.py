"""os-availability-zone (compute/availability_zone.py)."""

from __future__ import annotations

from ..http import Response
from ..seed import AVAILABILITY_ZONE
from .common import (
    NovaCall,
)

# ---- zones and limits ------------------------------------------------------------------------


def availability_zones(nc: NovaCall, _: dict[str, str]) -> Response:
    zone = {"zoneName": AVAILABILITY_ZONE, "zoneState": {"available": True}, "hosts": None}
    return Response(200, {"availabilityZoneInfo": [zone]})
