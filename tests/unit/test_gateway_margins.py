"""Near-edge margins are measured against the whole booked volume (corridor and
the booking's transits), on real MAVLink bytes through the gateway (issue 22)."""

from __future__ import annotations

import orjson
import shapely
from shapely.geometry import LineString, Point

from airspace.site_files import demo_site_path, load_site
from airspace.transit import pad_centre, transit_entry
from telemetry.live.fleet import BookingEntry, DroneEntry, FleetDirectory
from telemetry.live.gateway import Gateway
from telemetry.live.gateway_settings import GatewaySettings
from telemetry.live.hub import Audience, LiveHub
from tests.mavlink_helpers import VehicleEncoder

T0 = 1_795_000_000.0
LINK = "udpin:127.0.0.1:14550"
SITE = load_site(demo_site_path())


def entry_corner(pad_id: str, corridor_id: str, inside_m: float) -> Point:
    """Where the way from the pad into the corridor crosses the corridor's edge,
    ``inside_m`` metres on the corridor's side (site metric)."""
    pad, corridor = SITE.pad(pad_id), SITE.corridor(corridor_id)
    way = LineString([pad_centre(pad), transit_entry(pad, corridor)])
    crossing = way.intersection(corridor.volume.outline.exterior)
    first = shapely.get_geometry(crossing, 0)  # a Point is its own first part
    assert isinstance(first, Point)
    at = way.project(first)
    return way.interpolate(at + inside_m)


def fly_at(point: Point, pads: tuple[str | None, str | None]) -> dict[str, object]:
    """The vehicle entry and events after 5 positions at ``point`` (40 m up)."""
    hub = LiveHub(queue_frames=1000, must_keep_frames=1000)
    sub = hub.connect(Audience(sees_all=True, operator_id=None))
    gateway = Gateway({SITE.id: SITE}, hub, settings=GatewaySettings())
    drone = DroneEntry("D1", "Kite-1", SITE.id, "op-a", sysid=11)
    booking = BookingEntry(
        7, "D1", SITE.id, "op-a", "C1", T0 - 600, T0 + 3600, "active", *pads
    )
    gateway.set_directory(FleetDirectory((drone,), (booking,)), T0)
    corridor = SITE.corridor("C1").volume
    alt = (corridor.floor_amsl_m + corridor.ceiling_amsl_m) / 2
    lon, lat = SITE.projection.to_lonlat(point.x, point.y)
    enc = VehicleEncoder(11)
    for i in range(5):
        t_s = T0 + i / 10
        gateway.ingest(
            LINK,
            enc.heartbeat(True) + enc.position(float(lat), float(lon), alt, 40.0),
            t_s,
        )
        gateway.tick(t_s)
    events = []
    while (text := sub.next_frame_nowait()) is not None:
        frame = orjson.loads(text)
        if frame["type"] == "event":
            events.append(frame["event"]["kind"])
    (entry,) = gateway.vehicle_frames(T0 + 0.5)
    return {
        "state": entry["state"],
        "margin": entry["lateral_margin_m"],
        "events": events,
    }


def test_no_near_edge_warning_at_the_corridor_entry_the_transit_covers() -> None:
    pad = SITE.pads[0].id
    seen = fly_at(entry_corner(pad, "C1", 0.3), (pad, pad))
    assert seen["state"] == "inside"
    assert "near_edge" not in seen["events"]  # type: ignore[operator]
    assert seen["margin"] is not None
    assert seen["margin"] > 5  # type: ignore[operator]


def test_the_same_point_without_the_transit_in_the_booking_is_near_the_edge() -> None:
    pad = SITE.pads[0].id
    seen = fly_at(entry_corner(pad, "C1", 0.3), (None, None))
    assert seen["state"] == "near_edge"
    assert "near_edge" in seen["events"]  # type: ignore[operator]
