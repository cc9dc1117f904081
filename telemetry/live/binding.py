"""Fleet binding: which registered drone, site and booking a live vehicle is.

A vehicle is known on the wire only by its link and sysid; the fleet directory
(swapped in whole by ``set_directory``) says whose it is. Bound again when the
directory changes and at least every ``rebind_s``; a booking's flight is activated
when its approved drone is first seen flying.
"""

from __future__ import annotations

from collections.abc import Sequence

from telemetry.live.fleet import DroneEntry, FleetDirectory, nearest_site
from telemetry.live.state import GatewayState
from telemetry.live.strict_sites import refuse_unverified, release_markers
from telemetry.live.vehicles import VehicleState


def set_directory(gw: GatewayState, directory: FleetDirectory, now_s: float) -> None:
    """Swap in a fresh fleet directory; rebinds every vehicle at the next tick."""
    gw.directory = directory
    gw._directory_version += 1
    if gw._refusing:
        release_markers(gw)
    keys = directory.signing_keys()
    for codec in gw.codecs.values():
        codec.set_signing_keys(keys)
    for site_id, monitor in gw.monitors.items():
        monitor.set_closures(directory.active_closures(site_id, now_s))


def bind_new(gw: GatewayState, now_s: float) -> None:
    """Tie every vehicle first heard since the last tick to its drone, site and
    booking: from its first frame, so that it shows who it is and its raw frames
    go to its booking's recording before its first position fix."""
    unbound = gw._unbound
    if not unbound:
        return
    gw._unbound = {}
    for v in unbound.values():
        if v.is_gcs:
            continue
        if bind(gw, v, now_s):
            gw._changed.add(v.key)


def bind_unplaced(gw: GatewayState, v: VehicleState, now_s: float) -> bool:
    """Rebind ``v`` if due while it has no position (positions rebind it in the
    tick's ``queue_fresh``; before the first one nothing else would). False when
    it was taken off the live picture (as ``bind``)."""
    if not v.has_position and (
        v.bound_version != gw._directory_version or now_s >= v.bound_until_s
    ):
        return bind(gw, v, now_s)
    return True


def bind(gw: GatewayState, v: VehicleState, now_s: float) -> bool:
    """Tie the vehicle to its registered drone, site and current booking; False
    when it is taken off the live picture instead (below).

    Done again when the directory changes and at least every ``rebind_s``
    (booking windows open and close; an unregistered vehicle changes site). A
    vehicle placed at a site with ``require_signing`` whose frames have not
    verified is taken off the live picture (``strict_sites``).
    """
    before = (v.site_id, v.drone_id, v.operator_id, v.booking_id, v.corridor_id)
    bind_fields(gw, v, now_s)
    v.signing_required = v.site_id in gw.strict_sites
    if v.signing_required and held_key(gw, v) is None:
        refuse_unverified(gw, v, now_s)
        return False
    after = (v.site_id, v.drone_id, v.operator_id, v.booking_id, v.corridor_id)
    if after != before:
        v.needs_full_frame = True
    return True


def bind_fields(gw: GatewayState, v: VehicleState, now_s: float) -> None:
    """Set ``v``'s drone, site and booking fields from the directory."""
    v.bound_version = gw._directory_version
    v.bound_until_s = now_s + gw.settings.rebind_s
    v.bound_placed = v.has_position
    drones = signed_candidates(gw, v, gw.directory.drones_with_sysid(v.sysid))
    drone: DroneEntry | None
    if len(drones) == 1:
        drone = drones[0]
    elif drones:
        drone = nearest_of(gw, v, drones, now_s)
    else:
        drone = None
    if drone is None or drone.site_id not in gw.sites:
        v.drone_id = v.drone_name = v.operator_id = None
        v.booking_id = v.corridor_id = None
        v.takeoff_pad_id = v.landing_pad_id = None
        v.site_id = nearest_site(v.lon_deg, v.lat_deg, gw._site_refs)
        return
    v.site_id = drone.site_id
    v.drone_id, v.drone_name, v.operator_id = (
        drone.drone_id,
        drone.name,
        drone.operator_id,
    )
    booking = gw.directory.booking_for(drone.drone_id, now_s)
    if booking is None:
        v.booking_id = v.corridor_id = None
        v.takeoff_pad_id = v.landing_pad_id = None
        return
    v.booking_id, v.corridor_id = booking.booking_id, booking.corridor_id
    v.takeoff_pad_id = booking.takeoff_pad_id
    v.landing_pad_id = booking.landing_pad_id
    if (
        booking.state == "approved"
        and v.flying
        and booking.booking_id not in gw._activated
        and gw.activate_booking is not None
    ):
        gw._activated.add(booking.booking_id)
        gw.activate_booking(booking.booking_id, now_s)


def held_key(gw: GatewayState, v: VehicleState) -> bytes | None:
    """The signing key ``v``'s frames verified with on its link, if any."""
    for codec, link_id, _ in gw._streams.values():
        if link_id == v.link_id:
            key = codec.held_key(v.sysid)
            if key is not None:
                return key
    return None


def signed_candidates(
    gw: GatewayState, v: VehicleState, drones: Sequence[DroneEntry]
) -> Sequence[DroneEntry]:
    """The drones ``v`` may be: the one whose key its frames verified with, when
    one did (several sites may register one sysid, each with its own key); else
    those registered without a key (frames of a keyed sysid that do not verify
    are refused by the codec, so a vehicle without a held key is not theirs)."""
    if not any(d.signing_key for d in drones):
        return drones
    key = held_key(gw, v)
    if key is None:
        return [d for d in drones if not d.signing_key]
    return [d for d in drones if d.signing_key == key]


def nearest_of(
    gw: GatewayState, v: VehicleState, drones: Sequence[DroneEntry], now_s: float
) -> DroneEntry | None:
    """The drone, of several sites' with ``v``'s sysid, at the nearest site; None
    before its first position fix (its first position binds it again at once).

    Sticky for ``resite_s``: a big multi-site fleet rebinds thousands of
    vehicles a second, and none changes site in a second.
    """
    if now_s < v.resite_after_s:
        for drone in drones:
            if drone.site_id == v.site_id:
                return drone
    sites = {d.site_id for d in drones}
    site_id = nearest_site(
        v.lon_deg, v.lat_deg, [r for r in gw._site_refs if r[0] in sites]
    )
    if site_id is None:
        return None
    v.resite_after_s = now_s + gw.settings.resite_s
    return next(d for d in drones if d.site_id == site_id)
