"""Availability: pad slots with turnaround, corridor load, closures, opening hours."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, strategies as st
from shapely.geometry import Point, box

from airspace.projection import SiteProjection
from airspace.site import Corridor, CorridorId, Pad, PadId, Site, SiteId
from airspace.volume import AltitudeBand, TimeWindow, Volume
from booking.availability import (
    merge,
    opening_intervals,
    site_availability,
    subtract,
)
from booking.model import (
    Booking,
    BookingId,
    BookingState,
    ClosedArea,
    ClosedCorridor,
    ClosedPad,
    Closure,
    ClosureId,
    ClosureTarget,
    DroneId,
    OperatorId,
    UserId,
)
from booking.rules import SitePolicy

HK = ZoneInfo("Asia/Hong_Kong")
PROJECTION = SiteProjection("EPSG:2326")
X0, Y0 = 833_000.0, 815_000.0
POLICY = SitePolicy(opens_local=time(7), closes_local=time(19))


def hk(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2025, 6, day, hour, minute, tzinfo=HK).astimezone(UTC)


def w(a: datetime, b: datetime) -> TimeWindow:
    return TimeWindow(a, b)


def _pad(pad_id: str, x: float, turnaround_min: float) -> Pad:
    point = Point(x, Y0)
    return Pad(
        PadId(pad_id),
        pad_id,
        PROJECTION.geometry_to_lonlat(point),
        point,
        charger=False,
        max_takeoff_mass_kg=25,
        turnaround_min=turnaround_min,
    )


def _corridor(corridor_id: str, capacity: int) -> Corridor:
    outline = box(X0, Y0 + 100, X0 + 500, Y0 + 140)
    band = AltitudeBand(20, 60)
    return Corridor(
        CorridorId(corridor_id),
        corridor_id,
        PROJECTION.geometry_to_lonlat(outline),
        None,
        band,
        capacity,
        True,
        (),
        Volume(outline, *band.to_amsl(5.0)),
    )


SITE = Site(
    SiteId("pier"),
    "Pier",
    114.1289,
    22.2606,
    5.0,
    "EPSG:2326",
    "EPSG:2326",
    90.0,
    "Asia/Hong_Kong",
    "",
    (_pad("P1", X0, 10), _pad("P2", X0 + 300, 0)),
    (_corridor("C1", 2),),
    (),
    PROJECTION,
)
DAY = w(hk(0), hk(0, day=3))


def booking(
    n: int,
    start: datetime,
    end: datetime,
    *,
    pad: str | None = "P1",
    corridor: str | None = None,
    state: BookingState = BookingState.APPROVED,
) -> Booking:
    return Booking(
        BookingId(n),
        SITE.id,
        DroneId(f"D{n}"),
        OperatorId("op"),
        UserId("u"),
        w(start, end),
        PadId(pad) if pad else None,
        None,
        CorridorId(corridor) if corridor else None,
        state,
    )


def closure(target: ClosureTarget, start: datetime, end: datetime) -> Closure:
    return Closure(
        ClosureId(1), SITE.id, target, w(start, end), "r", UserId("u"), hk(0)
    )


def test_an_empty_site_is_free_through_opening_hours_only() -> None:
    a = site_availability(SITE, POLICY, DAY, [], [])
    assert a.opening == (w(hk(7), hk(19)),)
    assert all(p.free == (w(hk(7), hk(19)),) and p.busy == () for p in a.pads)
    (c1,) = a.corridors
    assert (c1.capacity, c1.peak_booked, c1.busy, c1.full) == (2, 0, (), ())


def test_pad_busy_interval_includes_turnaround_on_both_sides() -> None:
    a = site_availability(SITE, POLICY, DAY, [booking(1, hk(10), hk(11))], [])
    p1, p2 = a.pads
    assert p1.busy == (w(hk(9, 50), hk(11, 10)),)
    assert p1.free == (w(hk(7), hk(9, 50)), w(hk(11, 10), hk(19)))
    assert p2.busy == ()


def test_bookings_that_hold_nothing_do_not_make_a_pad_busy() -> None:
    dead = [
        booking(n, hk(10), hk(11), state=s)
        for n, s in enumerate(
            [BookingState.CANCELLED, BookingState.BUMPED, BookingState.REJECTED], 1
        )
    ]
    (p1, _) = site_availability(SITE, POLICY, DAY, dead, []).pads
    assert p1.busy == ()


def test_corridor_reports_peak_and_full_intervals_at_capacity() -> None:
    held = [
        booking(1, hk(9), hk(12), pad=None, corridor="C1"),
        booking(2, hk(10), hk(11), pad=None, corridor="C1"),
        booking(3, hk(11), hk(13), pad=None, corridor="C1"),
    ]
    (c1,) = site_availability(SITE, POLICY, DAY, held, []).corridors
    assert c1.peak_booked == 2
    assert c1.busy == (w(hk(9), hk(13)),)
    assert c1.full == (w(hk(10), hk(12)),)


@pytest.mark.parametrize(
    ("target", "closed_pads", "corridor_closed"),
    [
        (ClosedPad(PadId("P1")), {"P1"}, False),
        (ClosedCorridor(CorridorId("C1")), set(), True),
        (
            ClosedArea(Volume(box(X0 - 10, Y0 - 10, X0 + 10, Y0 + 10), 0, 100)),
            {"P1"},
            False,
        ),
        (
            ClosedArea(Volume(box(X0 + 200, Y0 + 90, X0 + 210, Y0 + 150), 0, 100)),
            set(),
            True,
        ),
        (
            ClosedArea(Volume(box(X0 + 200, Y0 + 90, X0 + 210, Y0 + 150), 200, 300)),
            set(),
            False,
        ),
    ],
)
def test_closures_close_the_pads_and_corridors_they_hit(
    target: ClosureTarget, closed_pads: set[str], corridor_closed: bool
) -> None:
    a = site_availability(SITE, POLICY, DAY, [], [closure(target, hk(12), hk(14))])
    assert {p.pad_id for p in a.pads if p.closed} == closed_pads
    for p in a.pads:
        if p.pad_id in closed_pads:
            assert p.free == (w(hk(7), hk(12)), w(hk(14), hk(19)))
    assert bool(a.corridors[0].closed) is corridor_closed


def test_opening_hours_skip_closed_weekdays_and_clip_to_the_window() -> None:
    weekdays = SitePolicy(open_weekdays=frozenset(range(5)))
    week = w(hk(12, day=6), hk(9, day=9))  # Fri 12:00 to Mon 09:00 local
    assert opening_intervals(week, weekdays, "Asia/Hong_Kong") == [
        w(hk(12, day=6), hk(19, day=6)),
        w(hk(7, day=9), hk(9, day=9)),
    ]


_t0 = hk(0)
_windows = st.lists(
    st.tuples(st.integers(0, 200), st.integers(1, 50)).map(
        lambda p: w(_t0 + timedelta(minutes=p[0]), _t0 + timedelta(minutes=p[0] + p[1]))
    ),
    max_size=8,
)


def _minutes(windows: list[TimeWindow]) -> set[int]:
    return {
        m
        for x in windows
        for m in range(
            int((x.start - _t0).total_seconds() // 60),
            int((x.end - _t0).total_seconds() // 60),
        )
    }


@given(_windows, _windows)
def test_subtract_and_merge_match_a_minute_by_minute_reference(
    base: list[TimeWindow], holes: list[TimeWindow]
) -> None:
    merged = merge(base)
    assert _minutes(merged) == _minutes(base)
    assert all(a.end < b.start for a, b in itertools.pairwise(merged))
    assert _minutes(subtract(base, holes)) == _minutes(base) - _minutes(holes)
