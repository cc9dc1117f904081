"""The numbers of one flight, computed from its samples.

Pure: the samples of a :class:`FlightSpan`, the site (for pads, ground elevation,
the metric projection and the local time zone) and, when known, the replay
track's conformance states and the booking's incidents go in; a frozen
:class:`FlightFigures` comes out. Means are time-weighted (each sample holds
until the next), so a burst of samples or a link gap does not tilt them. Ground
distance is summed in the site's metric CRS. Climb and descent rates are the
autopilot's own vertical speed (``GLOBAL_POSITION_INT.vz``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely

from airspace.site import Site
from telemetry.flights.detection import FlightSpan
from telemetry.flights.samples import FlightSample

PAD_RADIUS_M = 15.0
"""A take-off or landing further than this from every pad is "off-pad"."""
OFF_PAD = "off-pad"
_INSIDE = frozenset({"inside"})
_NEAR = frozenset({"near_edge"})
_NOT_FLYING = frozenset({"on_ground", "unknown", ""})


@dataclass(frozen=True, slots=True)
class StateSample:
    """One replay position's conformance state (``TrackSample.state``)."""

    t_s: float
    state: str


@dataclass(frozen=True, slots=True)
class FlightIncident:
    """An incident of the booking: its id, kind and when it opened (epoch s)."""

    id: int
    kind: str
    opened_t_s: float


@dataclass(frozen=True, slots=True)
class FlightFigures:
    """Everything the trial record says about one flight; units in the names."""

    sysid: int
    takeoff_utc: datetime
    landing_utc: datetime
    takeoff_local: datetime
    landing_local: datetime
    takeoff_pad: str
    landing_pad: str
    complete: bool
    touch_and_goes: int
    flight_time_s: float
    ground_distance_m: float
    max_alt_agl_m: float
    mean_alt_agl_m: float
    max_alt_amsl_m: float
    mean_alt_amsl_m: float
    max_ground_speed_mps: float
    mean_ground_speed_mps: float
    max_climb_mps: float
    max_descent_mps: float
    battery_takeoff_pct: float | None
    battery_landing_pct: float | None
    battery_used_pct: float | None
    energy_used_mah: float | None
    inside_s: float
    near_edge_s: float
    outside_s: float
    link_lost: tuple[tuple[float, float], ...]
    incident_ids: tuple[int, ...]
    conditions: dict[str, Any] = field(default_factory=dict)
    """Test conditions by terrain (``conditions.flight_conditions``)."""


def _weights(t: np.ndarray) -> np.ndarray:
    """Each sample's share of the time: until the next sample (the last: none)."""
    if len(t) < 2:
        return np.ones_like(t)
    w = np.diff(t, append=t[-1])
    return w if w.sum() > 0 else np.ones_like(t)


def nearest_pad(site: Site, lon_deg: float, lat_deg: float) -> str:
    """Return the id of the pad within ``PAD_RADIUS_M`` nearest to the point,
    else ``OFF_PAD``."""
    x, y = site.projection.to_metric([lon_deg], [lat_deg])
    point = shapely.Point(float(x[0]), float(y[0]))
    best, best_m = OFF_PAD, PAD_RADIUS_M
    for pad in site.pads:
        d = float(pad.geometry_m.distance(point))
        if d <= best_m:
            best, best_m = str(pad.id), d
    return best


def _state_times(
    states: Sequence[StateSample], start_s: float, end_s: float
) -> tuple[float, float, float]:
    """Seconds inside / near the edge / outside the booked volume in the window,
    each replay state holding until the next one."""
    inside = near = outside = 0.0
    in_window = [s for s in states if start_s <= s.t_s <= end_s]
    if not in_window:
        return inside, near, outside
    ends = [s.t_s for s in in_window[1:]] + [end_s]
    for a, until_s in zip(in_window, ends, strict=True):
        dt = until_s - a.t_s
        if a.state in _INSIDE:
            inside += dt
        elif a.state in _NEAR:
            near += dt
        elif a.state not in _NOT_FLYING:
            outside += dt
    return inside, near, outside


def flight_figures(
    samples: Sequence[FlightSample],
    span: FlightSpan,
    site: Site,
    states: Sequence[StateSample] = (),
    incidents: Sequence[FlightIncident] = (),
) -> FlightFigures:
    """Return the figures of the flight ``span`` over ``samples`` at ``site``."""
    flight = samples[span.first : span.last + 1]
    t = np.array([s.t_s for s in flight])
    w = _weights(t)
    amsl = np.array([s.alt_amsl_m for s in flight])
    agl = amsl - site.ground_elev_m
    speed = np.array([s.ground_speed_mps for s in flight])
    climb = np.array([s.climb_mps for s in flight])
    x, y = site.projection.to_metric(
        [s.lon_deg for s in flight], [s.lat_deg for s in flight]
    )
    distance = float(np.hypot(np.diff(x), np.diff(y)).sum())
    zone = ZoneInfo(site.timezone)
    takeoff = datetime.fromtimestamp(span.takeoff_t_s, UTC)
    landing = datetime.fromtimestamp(span.landing_t_s, UTC)
    first, last = flight[0], flight[-1]
    bat0, bat1 = first.battery_pct, last.battery_pct
    mah0, mah1 = first.consumed_mah, last.consumed_mah
    inside_s, near_s, outside_s = _state_times(states, span.start_t_s, span.landing_t_s)
    return FlightFigures(
        sysid=first.sysid,
        takeoff_utc=takeoff,
        landing_utc=landing,
        takeoff_local=takeoff.astimezone(zone),
        landing_local=landing.astimezone(zone),
        takeoff_pad=nearest_pad(site, first.lon_deg, first.lat_deg),
        landing_pad=nearest_pad(site, last.lon_deg, last.lat_deg),
        complete=span.complete,
        touch_and_goes=span.touch_and_goes,
        flight_time_s=span.landing_t_s - span.takeoff_t_s,
        ground_distance_m=distance,
        max_alt_agl_m=float(agl.max()),
        mean_alt_agl_m=float(np.average(agl, weights=w)),
        max_alt_amsl_m=float(amsl.max()),
        mean_alt_amsl_m=float(np.average(amsl, weights=w)),
        max_ground_speed_mps=float(speed.max()),
        mean_ground_speed_mps=float(np.average(speed, weights=w)),
        max_climb_mps=max(0.0, float(climb.max())),
        max_descent_mps=max(0.0, float(-climb.min())),
        battery_takeoff_pct=bat0,
        battery_landing_pct=bat1,
        battery_used_pct=None if bat0 is None or bat1 is None else bat0 - bat1,
        energy_used_mah=None if mah0 is None or mah1 is None else mah1 - mah0,
        inside_s=inside_s,
        near_edge_s=near_s,
        outside_s=outside_s,
        link_lost=span.link_lost,
        incident_ids=tuple(
            i.id
            for i in incidents
            if span.start_t_s <= i.opened_t_s <= span.landing_t_s
        ),
    )
