"""A booking's airspace as ground-station files: QGroundControl ``.plan`` and the
MAVProxy / QGC WPL 110 fence file.

Both hold exactly the fence SkyBerth uploads (``airspace.fence_plan``: one inclusion
polygon, the grown no-fly zones as exclusion polygons), so a pilot who loads the
file sees and flies what the aircraft enforces.

``.plan`` (QGroundControl's documented JSON, ``../shared/REFERENCE.md`` §4):
``fileType: "Plan"``, ``version: 1``; ``mission`` (version 2) with no items and
the take-off pad as ``plannedHomePosition [lat, lon, amsl]``; ``geoFence``
(version 2) with ``polygons: [{inclusion, polygon: [[lat, lon], ...] unclosed,
clockwise, version: 1}]`` and no circles; ``rallyPoints`` (version 2) with one
``[lat, lon, alt above home]`` per booked pad. Note the order: lat, lon, not GeoJSON.

WPL 110 (what MAVProxy's ``fence load`` reads, as ``mavwp`` saves it): a
``QGC WPL 110`` header, then one TAB-separated line per fence item: seq, current,
frame, command (5001 inclusion / 5002 exclusion vertex), param1 (the polygon's
vertex count), param2-4, lat, lon, alt, autocontinue.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from airspace.fence_plan import FencePlan, FenceRing, fence_lonlat
from airspace.site import Site
from airspace.transit import pad_centre
from telemetry.mavlink.mission_protocol import fence_items

FIRMWARE_ARDUPILOT: Final = 3
"""QGC's ``firmwareType`` for ArduPilot (``MAV_AUTOPILOT_ARDUPILOTMEGA``)."""
VEHICLE_QUADROTOR: Final = 2
ALTITUDE_MODE_RELATIVE: Final = 1
_WPL_FRAME: Final = 0
"""``MAV_FRAME_GLOBAL`` with degrees, as QGC WPL 110 files write fence items."""


def _latlon(vertex: tuple[float, float]) -> list[float]:
    lon, lat = vertex
    return [round(lat, 7), round(lon, 7)]


def qgc_plan(
    site: Site, plan: FencePlan, pad_ids: Sequence[str], rally_alt_m: float
) -> dict[str, Any]:
    """Return the ``.plan`` document of ``plan`` with rally points at ``pad_ids``
    (``rally_alt_m`` above home)."""
    rings = fence_lonlat(site, plan)
    pads = [
        site.projection.geometry_to_lonlat(pad_centre(site.pad(p))) for p in pad_ids
    ]
    home = (
        [round(pads[0].y, 7), round(pads[0].x, 7), site.ground_elev_m]
        if pads
        else [site.ref_lat_deg, site.ref_lon_deg, site.ground_elev_m]
    )
    return {
        "fileType": "Plan",
        "version": 1,
        "groundStation": "SkyBerth",
        "mission": {
            "version": 2,
            "firmwareType": FIRMWARE_ARDUPILOT,
            "vehicleType": VEHICLE_QUADROTOR,
            "cruiseSpeed": 10,
            "hoverSpeed": 5,
            "globalPlanAltitudeMode": ALTITUDE_MODE_RELATIVE,
            "items": [],
            "plannedHomePosition": home,
        },
        "geoFence": {
            "version": 2,
            "polygons": [
                {
                    "inclusion": ring.inclusion,
                    "polygon": [_latlon(v) for v in ring.vertices_lonlat],
                    "version": 1,
                }
                for ring in rings
            ],
            "circles": [],
        },
        "rallyPoints": {
            "version": 2,
            "points": [[round(p.y, 7), round(p.x, 7), rally_alt_m] for p in pads],
        },
    }


def qgc_plan_text(
    site: Site, plan: FencePlan, pad_ids: Sequence[str], rally_alt_m: float
) -> str:
    """Return ``qgc_plan`` as the JSON text QGroundControl opens."""
    return json.dumps(qgc_plan(site, plan, pad_ids, rally_alt_m), indent=2) + "\n"


def wpl_fence_text(rings: Sequence[FenceRing]) -> str:
    """Return the fence ``rings`` as a QGC WPL 110 file (MAVProxy ``fence load``)."""
    lines = ["QGC WPL 110"]
    items = fence_items([(r.inclusion, r.vertices_lonlat) for r in rings])
    for seq, item in enumerate(items):
        fields = [
            seq,
            0,
            _WPL_FRAME,
            item.command,
            f"{item.param1:.0f}",
            0,
            0,
            0,
            f"{item.lat_e7 / 1e7:.7f}",
            f"{item.lon_e7 / 1e7:.7f}",
            0,
            1,
        ]
        lines.append("\t".join(str(f) for f in fields))
    return "\n".join(lines) + "\n"
