"""Who flies what: drones from a site file or from bookings, turned into specs.

A ``DroneEntry`` is a drone as the user (or a booking) describes it: system id,
corridor, pads, take-off time, scenarios, key. ``build_specs`` turns entries into
``DroneSpec``s ready to fly: scenarios from the command line are added by position,
extra intruders are appended, the system id each drone *sends* under is worked out
(an intruder takes a free one, a spoofer its victim's), and each gets its plan.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from airspace.site import Corridor, Pad, Site
from simulator.bookings_api import BookedFlight, RegisteredDrone
from simulator.drone import DroneSpec
from simulator.errors import FleetError
from simulator.routes import nearest_pad, plan_flight, plan_hover
from simulator.scenarios import (
    Intruder,
    Scenario,
    ScenarioSpec,
    SpoofedSysid,
    check_composable,
    first,
)

logger = logging.getLogger(__name__)

STAGGER_S = 3.0
"""Seconds between the take-offs of a site-file fleet."""
FREE_SYSID_FROM = 250
"""Intruders take free system ids counting down from here."""
DEFAULT_LAPS = 1


@dataclass(frozen=True)
class DroneEntry:
    """A drone as described, before its identity and plan are worked out.

    ``sysid`` None is an extra intruder that has no registered id of its own.
    """

    sysid: int | None
    corridor_id: str | None = None
    takeoff_pad_id: str | None = None
    landing_pad_id: str | None = None
    takeoff_at_s: float = 0.0
    takeoff_until_s: float | None = None
    """No take-off from this time on (a booking's end); None: no limit."""
    laps: int | None = None
    scenarios: tuple[Scenario, ...] = ()
    signing_key: bytes | None = None
    label: str = ""
    pad_only: bool = False
    """A booking of a pad without a corridor: a hover test over the pad."""


def site_entries(
    site: Site,
    count: int,
    *,
    sysid_base: int = 1,
    corridor_id: str | None = None,
    stagger_s: float = STAGGER_S,
) -> list[DroneEntry]:
    """Return ``count`` drones sharing the site's corridors round-robin.

    Each takes off from the pad nearest its corridor that no earlier drone uses
    (the nearest one when all are taken), ``stagger_s`` after the previous one.
    """
    if count < 1:
        raise FleetError(f"--drones must be at least 1, got {count}")
    if not 1 <= sysid_base <= 255 - count + 1:
        raise FleetError(
            f"system ids {sysid_base}..{sysid_base + count - 1} exceed 255"
        )
    corridors = [_corridor(site, corridor_id)] if corridor_id else list(site.corridors)
    if not corridors:
        raise FleetError(f"site {site.id} has no corridors to fly")
    used: set[str] = set()
    entries = []
    for i in range(count):
        corridor = corridors[i % len(corridors)]
        pad = _free_pad(site, corridor, used)
        used.add(pad.id)
        entries.append(
            DroneEntry(
                sysid=sysid_base + i,
                corridor_id=corridor.id,
                takeoff_pad_id=pad.id,
                takeoff_at_s=i * stagger_s,
            )
        )
    return entries


def _free_pad(site: Site, corridor: Corridor, used: set[str]) -> Pad:
    nearest = nearest_pad(site, corridor)
    if nearest.id not in used:
        return nearest
    free = [p for p in site.pads if p.id not in used]
    if not free:
        return nearest
    outline = corridor.volume.outline
    return min(free, key=lambda p: outline.distance(p.geometry_m))


def booking_entries(
    bookings: Iterable[BookedFlight],
    drones: Iterable[RegisteredDrone],
    now: datetime,
    *,
    speed: float = 1.0,
) -> list[DroneEntry]:
    """Return one drone per booked drone: its earliest booking not yet over.

    It takes off at the booking's start (at once if that has passed) and never
    after its end. Bookings of drones the token cannot see are skipped with a
    warning. ``speed`` is the run's time scale: a booking starting 10 real seconds
    from ``now`` starts ``10 * speed`` simulated seconds into the run, so a fast run
    never takes off before its booking's window has opened.
    """
    by_id = {d.drone_id: d for d in drones}
    chosen: dict[str, BookedFlight] = {}
    for booking in sorted(bookings, key=lambda b: (b.start, b.booking_id)):
        if booking.end <= now or booking.drone_id in chosen:
            continue
        if booking.drone_id not in by_id:
            logger.warning(
                "booking %d: drone %s is not visible with this token; skipped",
                booking.booking_id,
                booking.drone_id,
            )
            continue
        if booking.corridor_id is None and booking.takeoff_pad_id is None:
            logger.warning(
                "booking %d books neither pad nor corridor; skipped", booking.booking_id
            )
            continue
        chosen[booking.drone_id] = booking
    entries = []
    for drone_id, booking in chosen.items():
        drone = by_id[drone_id]
        entries.append(
            DroneEntry(
                sysid=drone.sysid,
                corridor_id=booking.corridor_id,
                takeoff_pad_id=booking.takeoff_pad_id,
                landing_pad_id=booking.landing_pad_id,
                takeoff_at_s=max(0.0, (booking.start - now).total_seconds()) * speed,
                takeoff_until_s=(booking.end - now).total_seconds() * speed,
                label=f"{drone.name} (booking {booking.booking_id})",
                pad_only=booking.corridor_id is None,
            )
        )
    return sorted(entries, key=lambda e: e.sysid or 0)


def merge_entries(
    base: Sequence[DroneEntry], extra: Sequence[DroneEntry]
) -> list[DroneEntry]:
    """Return ``base`` with the scenarios and keys of ``extra`` entries of the same
    system id added; extra entries with a new system id are appended as written."""
    merged = list(base)
    index = {e.sysid: i for i, e in enumerate(merged) if e.sysid is not None}
    for entry in extra:
        at = None if entry.sysid is None else index.get(entry.sysid)
        if at is None:
            merged.append(entry)
            continue
        old = merged[at]
        merged[at] = replace(
            old,
            scenarios=old.scenarios + entry.scenarios,
            signing_key=entry.signing_key or old.signing_key,
            laps=entry.laps if entry.laps is not None else old.laps,
        )
    return merged


def build_specs(
    site: Site,
    entries: Sequence[DroneEntry],
    *,
    scenario_specs: Sequence[ScenarioSpec] = (),
    keys: Mapping[int, bytes] | None = None,
    registered: Mapping[int, bool] | None = None,
    intruders: int = 0,
    laps: int | None = None,
) -> list[DroneSpec]:
    """Return the specs to fly; FleetError (or ScenarioError) names what is wrong.

    ``keys`` are signing keys by registered system id; ``registered`` maps every
    system id the server knows to whether that drone signs (empty for a site file).
    """
    keys = keys or {}
    registered = registered or {}
    for spec in scenario_specs:
        for position in spec.drones or ():
            if position > len(entries) + intruders:
                raise FleetError(
                    f"scenario {spec.scenario.name} names drone {position}, but the "
                    f"fleet has {len(entries) + intruders}"
                )
    entries = list(entries) + _intruder_entries(site, intruders, len(entries))
    seen: set[int] = set()
    for entry in entries:
        if entry.sysid is None:
            continue
        if entry.sysid in seen:
            raise FleetError(f"system id {entry.sysid} is given to two drones")
        seen.add(entry.sysid)
    resolved = []
    for position, entry in enumerate(entries, start=1):
        scenarios = entry.scenarios + tuple(
            s.scenario for s in scenario_specs if s.applies_to(position)
        )
        check_composable(scenarios, f"drone {position}")
        key = entry.signing_key
        if key is None and entry.sysid is not None:
            key = keys.get(entry.sysid)
        resolved.append(replace(entry, scenarios=scenarios, signing_key=key))
    taken = set(seen) | set(registered)
    specs = []
    for position, entry in enumerate(resolved, start=1):
        sysid, key = _identity(entry, position, resolved, taken, registered)
        specs.append(_spec(site, entry, position, sysid, key, laps))
    return specs


def _intruder_entries(site: Site, count: int, offset: int) -> list[DroneEntry]:
    if count < 0:
        raise FleetError("--intruders must be >= 0")
    if count and not site.corridors:
        raise FleetError(f"site {site.id} has no corridors for intruders to fly")
    entries = []
    for i in range(count):
        corridor = site.corridors[(offset + i) % len(site.corridors)]
        entries.append(
            DroneEntry(
                sysid=None,
                corridor_id=corridor.id,
                takeoff_at_s=(offset + i) * STAGGER_S,
                scenarios=(Intruder(),),
            )
        )
    return entries


def _identity(
    entry: DroneEntry,
    position: int,
    entries: Sequence[DroneEntry],
    taken: set[int],
    registered: Mapping[int, bool],
) -> tuple[int, bytes | None]:
    """Return the system id and key the drone sends with."""
    intruder: Intruder | None = first(entry.scenarios, Intruder)
    if intruder is not None:
        sysid = intruder.sysid or _free_sysid(taken)
        if sysid in registered:
            raise FleetError(
                f"drone {position}: intruder sysid {sysid} is a registered drone's"
            )
        taken.add(sysid)
        return sysid, None
    spoof: SpoofedSysid | None = first(entry.scenarios, SpoofedSysid)
    if spoof is not None:
        victim = spoof.victim or _default_victim(entry, entries, registered)
        if victim is None:
            raise FleetError(
                f"drone {position}: spoofed_sysid needs a drone that signs its frames: "
                "give one a key (--signing-key SYSID:HEX) or name victim=SYSID"
            )
        return victim, None
    if entry.sysid is None:
        raise FleetError(f"drone {position} has no system id")
    return entry.sysid, entry.signing_key


def _free_sysid(taken: set[int]) -> int:
    for sysid in range(FREE_SYSID_FROM, 0, -1):
        if sysid not in taken:
            return sysid
    raise FleetError("no free MAVLink system id left for an intruder")


def _default_victim(
    spoofer: DroneEntry,
    entries: Sequence[DroneEntry],
    registered: Mapping[int, bool],
) -> int | None:
    for entry in entries:
        if entry is not spoofer and entry.sysid is not None and entry.signing_key:
            return entry.sysid
    signed = sorted(s for s, is_signed in registered.items() if is_signed)
    return signed[0] if signed else None


def _spec(
    site: Site,
    entry: DroneEntry,
    position: int,
    sysid: int,
    key: bytes | None,
    laps: int | None,
) -> DroneSpec:
    corridor = _corridor(site, entry.corridor_id) if entry.corridor_id else None
    takeoff = _pad(site, entry.takeoff_pad_id) if entry.takeoff_pad_id else None
    landing = _pad(site, entry.landing_pad_id) if entry.landing_pad_id else None
    if corridor is None and not entry.pad_only:
        if not site.corridors:
            raise FleetError(f"site {site.id} has no corridors to fly")
        corridor = site.corridors[(position - 1) % len(site.corridors)]
    if takeoff is None:
        if corridor is None:
            raise FleetError(f"drone {position}: no pad and no corridor to fly")
        takeoff = nearest_pad(site, corridor)
    lap_count = entry.laps or laps or DEFAULT_LAPS
    if lap_count < 1:
        raise FleetError(f"drone {position}: laps must be >= 1")
    if corridor is None:
        plan = plan_hover(site, takeoff)
    else:
        plan = plan_flight(site, corridor, takeoff, landing, laps=lap_count)
    names = [s.name for s in entry.scenarios] or ["nominal"]
    label = entry.label or f"drone {position}"
    where = corridor.id if corridor is not None else f"pad {takeoff.id}"
    return DroneSpec(
        label=f"{label}: sysid {sysid}, {where} from {takeoff.id}, {'+'.join(names)}",
        sysid=sysid,
        plan=plan,
        corridor=corridor,
        takeoff_at_s=entry.takeoff_at_s,
        takeoff_until_s=entry.takeoff_until_s,
        scenarios=entry.scenarios,
        signing_key=key,
        registered_sysid=entry.sysid,
    )


def _corridor(site: Site, corridor_id: str) -> Corridor:
    try:
        return site.corridor(corridor_id)
    except KeyError:
        known = ", ".join(c.id for c in site.corridors) or "none"
        raise FleetError(
            f"site {site.id} has no corridor {corridor_id!r} (known: {known})"
        ) from None


def _pad(site: Site, pad_id: str) -> Pad:
    try:
        return site.pad(pad_id)
    except KeyError:
        known = ", ".join(p.id for p in site.pads) or "none"
        raise FleetError(
            f"site {site.id} has no pad {pad_id!r} (known: {known})"
        ) from None
