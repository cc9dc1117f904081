"""Suggest the next window a refused booking could have instead."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from airspace.volume import TimeWindow
from booking.errors import Rule
from booking.model import Booking, Drone
from booking.rules import Schedule

# Refusals that moving the window in time cannot cure.
_TIMELESS_RULES = frozenset(
    {Rule.RESOURCES, Rule.NOT_FOUND, Rule.DRONE_SITE, Rule.PAD_MASS}
)


def next_free_slot(
    schedule: Schedule,
    candidate: Booking,
    drone: Drone,
    now: datetime,
    *,
    step: timedelta = timedelta(minutes=5),
) -> TimeWindow | None:
    """Return the earliest window of ``candidate``'s length, starting at or after its
    start (or ``now``) on a ``step`` grid, that passes every rule; None within the
    horizon.

    ``schedule`` must hold the bookings and closures of the whole search range (now
    to now + horizon, widened by ``rules.lookaround``); windows start on whole
    multiples of ``step`` since midnight UTC.
    """
    if step <= timedelta(0):
        raise ValueError("step must be positive")
    length = candidate.window.end - candidate.window.start
    first = schedule.refusals(candidate, drone, now)
    if not first:
        return candidate.window
    if any(r.rule in _TIMELESS_RULES for r in first):
        return None
    origin = max(candidate.window.start, now)
    midnight = origin.replace(hour=0, minute=0, second=0, microsecond=0)
    steps_in = -(-(origin - midnight) // step)  # ceiling division
    start = midnight + steps_in * step
    last_end = now + schedule.policy.horizon
    while start + length <= last_end:
        window = TimeWindow(start.astimezone(UTC), (start + length).astimezone(UTC))
        moved = dataclasses.replace(candidate, window=window)
        if not schedule.refusals(moved, drone, now):
            return window
        start += step
    return None
