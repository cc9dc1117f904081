"""Who flies in the gateway benchmark: roles, links, system ids and loiter spots.

A MAVLink system id is 8 bits, so one link carries at most ~250 vehicles; a fleet
of thousands arrives over many UDP links (one ``udpin`` port each), as it would from
several radios or routers. The gateway ties a vehicle to a registered drone by
system id alone (whatever the link), so registered ids appear on link 0 only and
the other links reuse only unregistered ids.

Roles:

- ``booked``: registered, with an approved booking of the bench corridor, loitering
  inside it for the whole run;
- ``breacher``: like ``booked`` until its ``event_s``, then loitering 30 m outside
  the corridor (``corridor_exit_lateral``);
- ``intruder``: unregistered, silent until its ``event_s``, then flying
  (``unbooked_flight``);
- ``bulk``: unregistered and flying from the start; each opens one
  ``unbooked_flight`` incident in the warm-up and is then steady load.

Positions are WGS84 degrees; the site's metric CRS is used only to place them.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from airspace.site import Site

SYSID_MAX = 250
"""Ids 251-255 are ground stations and companions by convention; never used."""
LOITER_RADIUS_M = 6.0
"""Every drone circles its spot once per replay loop (16 s): ~2.4 m/s."""
BREACH_OUTSIDE_M = 30.0
"""How far outside the corridor's outline a breacher loiters after its breach."""
BULK_AGL_M = 40.0
SPOT_TRIES = 20_000


class Role(enum.StrEnum):
    BOOKED = "booked"
    BREACHER = "breacher"
    INTRUDER = "intruder"
    BULK = "bulk"


@dataclass(frozen=True)
class SimDrone:
    """One simulated drone; positions in WGS84 degrees, altitudes in metres."""

    index: int
    link: int
    sysid: int
    role: Role
    lat_deg: float
    lon_deg: float
    """Centre of its loiter circle."""
    alt_amsl_m: float
    rel_alt_m: float
    phase_s: float
    """Offset of its first frame within each 100 ms (spreads the traffic)."""
    event_s: float | None = None
    """Breach (breacher) or first frame (intruder), seconds after the start."""
    out_lat_deg: float | None = None
    out_lon_deg: float | None = None
    """Loiter centre after the breach (breachers only)."""
    start_s: float = 0.0
    """Silent before this (seconds after the start): intruders, staggered bulk."""

    @property
    def registered(self) -> bool:
        return self.role in (Role.BOOKED, Role.BREACHER)


@dataclass(frozen=True)
class FleetLayout:
    """The whole simulated fleet and the corridor the registered drones book."""

    drones: tuple[SimDrone, ...]
    links: int
    corridor_id: str

    def by_role(self, role: Role) -> list[SimDrone]:
        return [d for d in self.drones if d.role is role]

    @property
    def registered(self) -> list[SimDrone]:
        return [d for d in self.drones if d.registered]


def links_needed(n_drones: int, registered: int, intruders: int) -> int:
    """Links for ``n_drones``: link 0 holds ids 1..250, the others only the ids
    above the registered ones."""
    if n_drones <= SYSID_MAX:
        return 1
    per_other = SYSID_MAX - registered - intruders
    return 1 + math.ceil((n_drones - SYSID_MAX) / per_other)


def make_layout(
    site: Site,
    corridor_id: str,
    n_drones: int,
    registered: int,
    breachers: int,
    intruders: int,
    events_from_s: float,
    events_to_s: float,
    bulk_ramp_s: float = 0.0,
    seed: int = 7,
) -> FleetLayout:
    """Place ``n_drones``; breaches and appearances are spread evenly, interleaved,
    over ``[events_from_s, events_to_s]`` (seconds after the start); bulk drones take
    off at random instants in ``[0, bulk_ramp_s]``."""
    if breachers > registered:
        raise ValueError(f"{breachers} breachers but only {registered} registered")
    if registered + intruders > SYSID_MAX - 10:
        raise ValueError("registered + intruders must leave room for other ids")
    if n_drones < registered + intruders:
        raise ValueError(
            f"{n_drones} drones cannot hold {registered} registered + {intruders} "
            "intruders"
        )
    rng = np.random.default_rng(seed)
    corridor = site.corridor(corridor_id)
    inside = _spots(rng, _inner(corridor.volume.outline), registered)
    outside = _outside_spots(site, corridor.volume.outline, max(breachers, 1))
    area = _free_area(site)
    free = _spots(rng, area, n_drones - registered)
    band = corridor.volume
    corridor_alt = (band.floor_amsl_m + band.ceiling_amsl_m) / 2
    bulk_alt = site.ground_elev_m + BULK_AGL_M
    n_events = breachers + intruders
    step = (events_to_s - events_from_s) / max(n_events, 1)
    event_times = [events_from_s + (k + 0.5) * step for k in range(n_events)]
    # Interleave: even slots breachers, odd slots intruders, while both last.
    order = _interleave(breachers, intruders)
    breach_s = [t for t, who in zip(event_times, order, strict=True) if who == "b"]
    appear_s = [t for t, who in zip(event_times, order, strict=True) if who == "i"]
    breacher_every = registered / max(breachers, 1)
    breacher_idx = {int(k * breacher_every) for k in range(breachers)}

    drones: list[SimDrone] = []
    lonlat = site.projection.to_lonlat

    def add(
        link: int,
        sysid: int,
        role: Role,
        x: float,
        y: float,
        alt: float,
        event_s: float | None = None,
        out: tuple[float, float] | None = None,
        start_s: float = 0.0,
    ) -> None:
        lon, lat = lonlat(x, y)
        out_lon = out_lat = None
        if out is not None:
            o_lon, o_lat = lonlat(*out)
            out_lon, out_lat = float(o_lon), float(o_lat)
        drones.append(
            SimDrone(
                index=len(drones),
                link=link,
                sysid=sysid,
                role=role,
                lat_deg=float(lat),
                lon_deg=float(lon),
                alt_amsl_m=alt,
                rel_alt_m=alt - site.ground_elev_m,
                phase_s=float(rng.uniform(0.0, 0.1)),
                event_s=event_s,
                out_lat_deg=out_lat,
                out_lon_deg=out_lon,
                start_s=start_s,
            )
        )

    b = 0
    for k in range(registered):
        x, y = inside[k]
        if k in breacher_idx:
            ox, oy = outside[b % len(outside)]
            add(0, k + 1, Role.BREACHER, x, y, corridor_alt, breach_s[b], (ox, oy))
            b += 1
        else:
            add(0, k + 1, Role.BOOKED, x, y, corridor_alt)
    for k in range(intruders):
        x, y = free[k]
        add(
            0,
            registered + k + 1,
            Role.INTRUDER,
            x,
            y,
            bulk_alt,
            appear_s[k],
            start_s=appear_s[k],
        )
    unregistered_ids = list(range(registered + intruders + 1, SYSID_MAX + 1))
    link, slot = 0, 0
    for k in range(intruders, n_drones - registered):
        if slot == len(unregistered_ids):
            link, slot = link + 1, 0
        x, y = free[k]
        take_off = float(rng.uniform(0.0, bulk_ramp_s)) if bulk_ramp_s > 0 else 0.0
        add(link, unregistered_ids[slot], Role.BULK, x, y, bulk_alt, start_s=take_off)
        slot += 1
    # Link 0 starts with the registered and intruder ids; the others hold only the
    # unregistered ones, so link 0 fills up first in the loop above too.
    return FleetLayout(tuple(drones), link + 1, corridor_id)


def _interleave(breachers: int, intruders: int) -> list[str]:
    out: list[str] = []
    b, i = breachers, intruders
    while b or i:
        if b and (b >= i or not i):
            out.append("b")
            b -= 1
        if i:
            out.append("i")
            i -= 1
    return out


def _inner(outline: Polygon) -> Polygon:
    """Where a loiter circle stays well clear of the edge warnings.

    ``near_edge`` is 10 m and ``predicted_exit`` looks 10 s ahead at ~2.4 m/s.
    """
    inner = outline.buffer(-(LOITER_RADIUS_M + 35.0))
    if inner.is_empty or not isinstance(inner, Polygon):
        inner = outline.buffer(-(LOITER_RADIUS_M + 12.0))
    if inner.is_empty or not isinstance(inner, Polygon):
        raise ValueError("the bench corridor is too narrow to loiter in")
    return inner


def _free_area(site: Site) -> BaseGeometry:
    """Inside the site boundary near its reference point, clear of exclusions."""
    ref_x, ref_y = site.projection.to_metric(site.ref_lon_deg, site.ref_lat_deg)
    area: BaseGeometry = Point(float(ref_x), float(ref_y)).buffer(600.0)
    boundary = site.boundary
    if boundary is not None:
        area = area.intersection(boundary.volume.outline.buffer(-15.0))
    for exclusion in site.exclusions:
        area = area.difference(exclusion.volume.outline.buffer(15.0))
    if area.is_empty:
        raise ValueError("no free airspace near the site's reference point")
    return area


def _spots(
    rng: np.random.Generator, area: BaseGeometry, n: int
) -> list[tuple[float, float]]:
    """``n`` random points in ``area`` (metres)."""
    minx, miny, maxx, maxy = area.bounds
    shapely.prepare(area)
    out: list[tuple[float, float]] = []
    while len(out) < n:
        xs = rng.uniform(minx, maxx, max(64, 2 * (n - len(out))))
        ys = rng.uniform(miny, maxy, xs.size)
        keep = shapely.contains_xy(area, xs, ys)
        out.extend(zip(xs[keep].tolist(), ys[keep].tolist(), strict=True))
    return out[:n]


def _outside_spots(site: Site, outline: Polygon, n: int) -> list[tuple[float, float]]:
    """Spots ``BREACH_OUTSIDE_M`` beyond the corridor's outline, inside the site
    boundary and clear of exclusions, so the breach is lateral and nothing else."""
    ring = outline.buffer(BREACH_OUTSIDE_M).exterior
    allowed = (
        _free_area(site)
        .difference(outline.buffer(BREACH_OUTSIDE_M - 10.0))
        .buffer(-LOITER_RADIUS_M)
    )
    shapely.prepare(allowed)
    candidates = [ring.interpolate(f, normalized=True) for f in np.linspace(0, 1, 400)]
    good = [(p.x, p.y) for p in candidates if allowed.contains(p)]
    if not good:
        raise ValueError("no room outside the bench corridor for breaches")
    stride = max(1, len(good) // n)
    return good[::stride][:n]
