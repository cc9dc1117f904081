"""What is free at a site over a window: pad slots and corridor load.

Pure functions over bookings and closures already loaded; nothing here reads a clock
or a database. All windows are half-open UTC ``TimeWindow`` values.

- A pad is **busy** around each occupying booking that uses it, widened by the pad's
  turnaround on both sides: a new booking conflicts with an existing one exactly when
  its window overlaps that widened interval (see ``rules.check_pads``). It is
  **closed** while a closure hits it, and **free** inside opening hours when neither.
- A corridor reports its capacity, the peak number of bookings holding it at once
  within the window, the intervals when at least one booking holds it (``busy``), the
  intervals when it is full (``full``: a new booking would be refused) and closures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from airspace.site import Corridor, Pad, Site
from airspace.volume import TimeWindow, volumes_overlap
from booking.model import Booking, ClosedArea, ClosedCorridor, ClosedPad, Closure
from booking.rules import SitePolicy, pad_volume, peak_overlap


@dataclass(frozen=True)
class PadAvailability:
    """One pad over the asked window: busy, closed and free intervals."""

    pad_id: str
    turnaround_min: float
    busy: tuple[TimeWindow, ...]
    """Intervals a new booking may not overlap, turnaround included."""
    closed: tuple[TimeWindow, ...]
    free: tuple[TimeWindow, ...]
    """Within opening hours, neither busy nor closed."""


@dataclass(frozen=True)
class CorridorAvailability:
    """One corridor over the asked window: capacity and how much of it is used."""

    corridor_id: str
    capacity: int
    peak_booked: int
    """Most bookings holding the corridor at one instant within the window."""
    busy: tuple[TimeWindow, ...]
    """Intervals when at least one booking holds the corridor."""
    full: tuple[TimeWindow, ...]
    """Intervals when the corridor holds ``capacity`` bookings: no room left."""
    closed: tuple[TimeWindow, ...]


@dataclass(frozen=True)
class SiteAvailability:
    """Every pad and corridor of a site over ``window``."""

    site_id: str
    window: TimeWindow
    opening: tuple[TimeWindow, ...]
    """The parts of ``window`` inside the site's opening hours."""
    pads: tuple[PadAvailability, ...]
    corridors: tuple[CorridorAvailability, ...]


def merge(windows: Iterable[TimeWindow]) -> list[TimeWindow]:
    """Return the union of ``windows`` as sorted, disjoint, non-touching windows."""
    merged: list[TimeWindow] = []
    for w in sorted(windows, key=lambda w: (w.start, w.end)):
        if merged and w.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = TimeWindow(last.start, max(last.end, w.end))
        else:
            merged.append(w)
    return merged


def subtract(
    base: Iterable[TimeWindow], holes: Iterable[TimeWindow]
) -> list[TimeWindow]:
    """Return the parts of ``base`` outside every hole, sorted and disjoint."""
    cut = merge(holes)
    result: list[TimeWindow] = []
    for piece in merge(base):
        start = piece.start
        for hole in cut:
            if hole.end <= start or hole.start >= piece.end:
                continue
            if hole.start > start:
                result.append(TimeWindow(start, hole.start))
            start = max(start, hole.end)
            if start >= piece.end:
                break
        if start < piece.end:
            result.append(TimeWindow(start, piece.end))
    return result


def clip(windows: Iterable[TimeWindow], to: TimeWindow) -> list[TimeWindow]:
    """Return each window cut to ``to``; those outside it are dropped."""
    return [
        TimeWindow(max(w.start, to.start), min(w.end, to.end))
        for w in windows
        if w.overlaps(to)
    ]


def opening_intervals(
    window: TimeWindow, policy: SitePolicy, timezone: str
) -> list[TimeWindow]:
    """Return the parts of ``window`` inside opening hours, in UTC.

    Opening hours are local to ``timezone``; days not in ``policy.open_weekdays`` are
    skipped. DST is handled by building each day's hours in local time.
    """
    tz = ZoneInfo(timezone)
    day = window.start.astimezone(tz).date() - timedelta(days=1)
    last = window.end.astimezone(tz).date()
    hours: list[TimeWindow] = []
    while day <= last:
        if day.weekday() in policy.open_weekdays:
            opens = datetime.combine(day, policy.opens_local, tzinfo=tz)
            closes = datetime.combine(day, policy.closes_local, tzinfo=tz)
            hours.append(TimeWindow(opens, closes))
        day += timedelta(days=1)
    return [
        TimeWindow(w.start.astimezone(UTC), w.end.astimezone(UTC))
        for w in clip(hours, window)
    ]


def _pad_closed(closure: Closure, pad: Pad, site: Site) -> bool:
    match closure.target:
        case ClosedPad(pad_id):
            return pad_id == pad.id
        case ClosedCorridor():
            return False
        case ClosedArea(area):
            return volumes_overlap(area, pad_volume(pad, site))


def _corridor_closed(closure: Closure, corridor: Corridor) -> bool:
    match closure.target:
        case ClosedPad():
            return False
        case ClosedCorridor(corridor_id):
            return corridor_id == corridor.id
        case ClosedArea(area):
            return volumes_overlap(area, corridor.volume)


def pad_availability(
    pad: Pad,
    site: Site,
    window: TimeWindow,
    opening: Sequence[TimeWindow],
    bookings: Iterable[Booking],
    closures: Iterable[Closure],
) -> PadAvailability:
    """Return ``pad``'s busy, closed and free intervals within ``window``."""
    gap = timedelta(minutes=pad.turnaround_min)
    busy = merge(
        clip(
            (
                TimeWindow(b.window.start - gap, b.window.end + gap)
                for b in bookings
                if b.occupies and pad.id in b.pad_ids
            ),
            window,
        )
    )
    closed = merge(
        clip((c.window for c in closures if _pad_closed(c, pad, site)), window)
    )
    free = subtract(opening, [*busy, *closed])
    return PadAvailability(
        pad.id, pad.turnaround_min, tuple(busy), tuple(closed), tuple(free)
    )


def _full_intervals(windows: Sequence[TimeWindow], capacity: int) -> list[TimeWindow]:
    # Sweep the ends and starts; at one instant ends come first (half-open windows).
    events = sorted(
        [(w.start, 1) for w in windows] + [(w.end, -1) for w in windows],
        key=lambda e: (e[0], e[1]),
    )
    full: list[TimeWindow] = []
    count = 0
    since: datetime | None = None
    for t, step in events:
        count += step
        if count >= capacity and since is None:
            since = t
        elif count < capacity and since is not None:
            if since < t:
                full.append(TimeWindow(since, t))
            since = None
    return merge(full)


def corridor_availability(
    corridor: Corridor,
    window: TimeWindow,
    bookings: Iterable[Booking],
    closures: Iterable[Closure],
) -> CorridorAvailability:
    """Return ``corridor``'s capacity, peak load, busy/full and closed intervals."""
    held = clip(
        (b.window for b in bookings if b.occupies and b.corridor_id == corridor.id),
        window,
    )
    peak, _, _ = peak_overlap(held)
    closed = merge(
        clip((c.window for c in closures if _corridor_closed(c, corridor)), window)
    )
    return CorridorAvailability(
        corridor.id,
        corridor.capacity,
        peak,
        tuple(merge(held)),
        tuple(_full_intervals(held, corridor.capacity)),
        tuple(closed),
    )


def site_availability(
    site: Site,
    policy: SitePolicy,
    window: TimeWindow,
    bookings: Sequence[Booking],
    closures: Sequence[Closure],
) -> SiteAvailability:
    """Return every pad's and corridor's availability at ``site`` over ``window``.

    ``bookings`` must include every occupying booking within ``window`` widened by
    ``rules.lookaround(site)``; others (other states, other sites' resources) are
    ignored. ``closures`` are the site's closures overlapping ``window``.
    """
    opening = opening_intervals(window, policy, site.timezone)
    return SiteAvailability(
        site.id,
        window,
        tuple(opening),
        tuple(
            pad_availability(pad, site, window, opening, bookings, closures)
            for pad in site.pads
        ),
        tuple(
            corridor_availability(corridor, window, bookings, closures)
            for corridor in site.corridors
        ),
    )
