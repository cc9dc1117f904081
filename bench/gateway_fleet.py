"""Who flies in the gateway benchmark: sites, links, system ids, roles, positions.

A MAVLink system id is 8 bits and unique per site, so a fleet of thousands is spread
over several copies of the demo site, 2 km apart, each with up to 250 drones on a
``udpin`` link (port) of its own, as a multi-site deployment would be. The gateway
ties a vehicle to a registered drone by system id and, when several sites register
that id, by the nearest site; so registered ids are the low ones (1..N) at every
site and unregistered vehicles use only the high ids, which no site registers.

Roles:

- ``booked``: registered, with an approved booking of its site's bench corridor,
  loitering inside it for the whole run;
- ``breacher``: like ``booked`` until its ``event_s``, then loitering 30 m outside
  the corridor (``corridor_exit_lateral``);
- ``intruder``: unregistered, silent until its ``event_s``, then flying
  (``unbooked_flight``);
- ``unregistered``: flying without registration: one ``unbooked_flight`` incident
  each, then steady load.

Booked and unregistered drones take off (start sending) at random instants early in
the warm-up, not all in the same 100 ms.

Positions are WGS84 degrees; the base site's metric CRS is used only to place them.
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
from tests.harness.sites import SITE_SPACING_DEG

SYSID_MAX = 250
"""Ids 251-255 are ground stations and companions by convention; never used."""
LOITER_RADIUS_M = 6.0
"""Every drone circles its spot once per replay loop (16 s): ~2.4 m/s."""
BREACH_OUTSIDE_M = 30.0
"""How far outside the corridor's outline a breacher loiters after its breach."""
UNREGISTERED_AGL_M = 40.0


class Role(enum.StrEnum):
    BOOKED = "booked"
    BREACHER = "breacher"
    INTRUDER = "intruder"
    UNREGISTERED = "unregistered"


@dataclass(frozen=True)
class SimDrone:
    """One simulated drone; positions in WGS84 degrees, altitudes in metres."""

    index: int
    site: int
    """Site copy, and the link (udpin port) it sends to."""
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
    """Silent before this (seconds after the start): its take-off, or appearance."""

    @property
    def link(self) -> int:
        return self.site

    @property
    def registered(self) -> bool:
        return self.role in (Role.BOOKED, Role.BREACHER)


@dataclass(frozen=True)
class FleetLayout:
    """The simulated fleet, its sites and the corridor registered drones book."""

    drones: tuple[SimDrone, ...]
    sites: int
    corridor_id: str

    @property
    def links(self) -> int:
        return self.sites

    def by_role(self, role: Role) -> list[SimDrone]:
        return [d for d in self.drones if d.role is role]

    @property
    def registered(self) -> list[SimDrone]:
        return [d for d in self.drones if d.registered]


def make_layout(
    base: Site,
    corridor_id: str,
    n_drones: int,
    unregistered: int,
    breachers: int,
    intruders: int,
    events_from_s: float,
    events_to_s: float,
    ramp_s: float = 0.0,
    seed: int = 7,
) -> FleetLayout:
    """Place ``n_drones`` over as many site copies as the system ids need.

    Drones take off at random instants in ``[0, ramp_s]``; breaches and
    intruder appearances are spread evenly, interleaved, over ``[events_from_s,
    events_to_s]`` (seconds after the start).
    """
    strays = unregistered + intruders
    if strays > n_drones:
        raise ValueError(f"{strays} unregistered + intruders exceed {n_drones} drones")
    if breachers > n_drones - strays:
        raise ValueError(f"{breachers} breachers but {n_drones - strays} registered")
    sites = max(1, math.ceil(n_drones / SYSID_MAX))
    while True:
        quota = math.ceil(strays / sites)  # unregistered ids per site, from the top
        if sites * (SYSID_MAX - quota) >= n_drones - strays:
            break
        sites += 1
    rng = np.random.default_rng(seed)
    # (site, sysid, registered) for every drone, site by site.
    slots: list[tuple[int, int, bool]] = []
    left_reg, left_stray = n_drones - strays, strays
    for s in range(sites):
        n_reg = min(left_reg, SYSID_MAX - quota, math.ceil(left_reg / (sites - s)))
        n_stray = min(left_stray, quota)
        slots += [(s, k + 1, True) for k in range(n_reg)]
        slots += [(s, SYSID_MAX - k, False) for k in range(n_stray)]
        left_reg, left_stray = left_reg - n_reg, left_stray - n_stray
    n_registered = n_drones - strays
    corridor = base.corridor(corridor_id)
    inside = _spots(rng, _inner(corridor.volume.outline), n_registered)
    outside = _outside_spots(base, corridor.volume.outline, max(breachers, 1))
    free = _spots(rng, _free_area(base), strays)
    band = corridor.volume
    corridor_alt = (band.floor_amsl_m + band.ceiling_amsl_m) / 2
    stray_alt = base.ground_elev_m + UNREGISTERED_AGL_M
    event_times = _event_times(breachers, intruders, events_from_s, events_to_s)
    breach_s = [t for t, who in event_times if who == "b"]
    appear_s = [t for t, who in event_times if who == "i"]
    every = n_registered / max(breachers, 1)
    breacher_at = {int(k * every): k for k in range(breachers)}
    # Intruders are the first strays of each site in turn, the rest unregistered.
    stray_slots = [i for i, slot in enumerate(slots) if not slot[2]]
    stray_slots.sort(key=lambda i: (slots[i][1] * -1, slots[i][0]))
    intruder_at = {i: k for k, i in enumerate(stray_slots[:intruders])}

    lonlat = base.projection.to_lonlat
    drones: list[SimDrone] = []
    n_reg = n_stray = 0
    for index, (s, sysid, registered) in enumerate(slots):
        shift = s * SITE_SPACING_DEG
        out_lat = out_lon = event_s = None
        start_s = 0.0
        if registered:
            x, y = inside[n_reg]
            alt = corridor_alt
            role = Role.BOOKED
            start_s = float(rng.uniform(0.0, ramp_s)) if ramp_s > 0 else 0.0
            if n_reg in breacher_at:
                b = breacher_at[n_reg]
                role, event_s = Role.BREACHER, breach_s[b]
                o_lon, o_lat = lonlat(*outside[b % len(outside)])
                out_lat, out_lon = float(o_lat), float(o_lon) + shift
            n_reg += 1
        else:
            x, y = free[n_stray]
            alt = stray_alt
            n_stray += 1
            if index in intruder_at:
                role, event_s = Role.INTRUDER, appear_s[intruder_at[index]]
                start_s = event_s
            else:
                role = Role.UNREGISTERED
                start_s = float(rng.uniform(0.0, ramp_s)) if ramp_s > 0 else 0.0
        lon, lat = lonlat(x, y)
        drones.append(
            SimDrone(
                index=index,
                site=s,
                sysid=sysid,
                role=role,
                lat_deg=float(lat),
                lon_deg=float(lon) + shift,
                alt_amsl_m=alt,
                rel_alt_m=alt - base.ground_elev_m,
                phase_s=float(rng.uniform(0.0, 0.1)),
                event_s=event_s,
                out_lat_deg=out_lat,
                out_lon_deg=out_lon,
                start_s=start_s,
            )
        )
    return FleetLayout(tuple(drones), sites, corridor_id)


def _event_times(
    breachers: int, intruders: int, from_s: float, to_s: float
) -> list[tuple[float, str]]:
    """Evenly spaced instants, breaches ("b") and appearances ("i") interleaved."""
    order: list[str] = []
    b, i = breachers, intruders
    while b or i:
        if b:
            order.append("b")
            b -= 1
        if i:
            order.append("i")
            i -= 1
    step = (to_s - from_s) / max(len(order), 1)
    return [(from_s + (k + 0.5) * step, who) for k, who in enumerate(order)]


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
