"""Where a vehicle's flights begin and end, from its samples.

A flight starts at the first sample where the vehicle flies (armed, or above
``FLYING_REL_ALT_M`` over home: ``VehicleState.flying``'s rule) and ends when it
has stayed landed and disarmed ``landed_end_s`` (``checks.flight_over``, the rule
that ends a booking live), so a flight here is what the gateway would have ended.
The landing time is when it came down, not when the debounce ran out. A
touch-and-go (flying again sooner) stays one flight and is counted. A gap in the
samples (link lost) does not end a flight; the gaps longer than ``gap_s`` are
kept as link-lost periods. A recording that stops while the vehicle flies leaves
the flight open (``complete`` False) at its last sample.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from telemetry.flights.samples import FlightSample
from telemetry.live.checks import flight_over
from telemetry.live.vehicles import FLYING_REL_ALT_M

DEFAULT_GAP_S = 3.0
"""No position for longer than this, in flight, is a link-lost period."""


@dataclass(frozen=True, slots=True)
class FlightSpan:
    """One detected flight: indexes into the samples and its times."""

    first: int
    """Index of the first flying sample."""
    last: int
    """Index of the last sample in the flight (the first landed one, or the last)."""
    start_t_s: float
    """Armed or airborne (UTC epoch seconds)."""
    takeoff_t_s: float
    """First sample above ``FLYING_REL_ALT_M`` (``start_t_s`` if never)."""
    landing_t_s: float
    """When it came down for good (the last sample when the recording ends first)."""
    touch_and_goes: int
    complete: bool
    """False when the recording ends while the vehicle still flies."""
    link_lost: tuple[tuple[float, float], ...]
    """Gaps in the samples longer than ``gap_s`` during the flight (from, to)."""


def flying(s: FlightSample) -> bool:
    """Armed, or clearly above home (``VehicleState.flying``'s rule)."""
    return s.armed or s.rel_alt_m > FLYING_REL_ALT_M


def airborne(s: FlightSample) -> bool:
    """Above home by more than ``FLYING_REL_ALT_M``."""
    return s.rel_alt_m > FLYING_REL_ALT_M


def detect_flights(
    samples: Sequence[FlightSample],
    landed_end_s: float,
    gap_s: float = DEFAULT_GAP_S,
) -> list[FlightSpan]:
    """Return the flights in ``samples`` (one vehicle, time order); see the module."""
    flights: list[FlightSpan] = []
    first: int | None = None
    landed_since = math.nan
    landed_at = -1
    touch_and_goes = 0
    for i, s in enumerate(samples):
        if first is None:
            if flying(s):
                first, landed_since, touch_and_goes = i, math.nan, 0
            continue
        if flight_over(landed_since, s.t_s, landed_end_s):
            flights.append(span_of(samples, first, landed_at, touch_and_goes, gap_s))
            first = i if flying(s) else None
            landed_since, touch_and_goes = math.nan, 0
            continue
        if flying(s):
            if landed_since == landed_since:
                touch_and_goes += 1
            landed_since = math.nan
        elif landed_since != landed_since:
            landed_since, landed_at = s.t_s, i
    if first is not None:
        if landed_since == landed_since:
            flights.append(span_of(samples, first, landed_at, touch_and_goes, gap_s))
        else:
            last = len(samples) - 1
            flights.append(
                span_of(samples, first, last, touch_and_goes, gap_s, complete=False)
            )
    return flights


def span_of(
    samples: Sequence[FlightSample],
    first: int,
    last: int,
    touch_and_goes: int,
    gap_s: float,
    *,
    complete: bool = True,
) -> FlightSpan:
    """Return the flight from sample ``first`` to ``last`` (inclusive) with its
    times and link-lost gaps; also used to rebuild spans the operator edited."""
    inside = samples[first : last + 1]
    takeoff = next((s.t_s for s in inside if airborne(s)), inside[0].t_s)
    gaps = tuple(
        (a.t_s, b.t_s) for a, b in itertools.pairwise(inside) if b.t_s - a.t_s > gap_s
    )
    return FlightSpan(
        first=first,
        last=last,
        start_t_s=inside[0].t_s,
        takeoff_t_s=takeoff,
        landing_t_s=samples[last].t_s,
        touch_and_goes=touch_and_goes,
        complete=complete,
        link_lost=gaps,
    )
