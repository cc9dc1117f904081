"""The booking rules, state machine and closure hits, on a small pier site."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from shapely.geometry import Point, Polygon, box

from airspace.projection import SiteProjection
from airspace.site import Corridor, CorridorId, Pad, PadId, Site, SiteId
from airspace.volume import AltitudeBand, AltitudeRef, TimeWindow, Volume
from booking.errors import (
    BookingConflict,
    BookingError,
    BookingRuleViolation,
    InvalidTransition,
    NotFound,
    Rule,
    SigningRequired,
)
from booking.model import (
    TRANSITIONS,
    Booking,
    BookingId,
    BookingState,
    ClosedArea,
    ClosedCorridor,
    ClosedPad,
    Closure,
    ClosureId,
    Drone,
    DroneId,
    OperatorId,
    UserId,
    make_window,
)
from booking.rules import (
    Schedule,
    SitePolicy,
    bookings_hit_by_closure,
    check_sysid_free,
    peak_overlap,
)
from booking.slots import next_free_slot

PROJECTION = SiteProjection("EPSG:2326")
HK = ZoneInfo("Asia/Hong_Kong")
X0, Y0 = 833_000.0, 815_000.0  # Cyberport pier, roughly, in the HK 1980 Grid
GROUND_M = 5.0
NOW = datetime(2025, 6, 1, tzinfo=UTC)
SITE_ID = SiteId("pier")


def local(hour: int, minute: int = 0, day: int = 2) -> datetime:
    """Return a UTC instant for a Hong Kong wall-clock time in June 2025."""
    return datetime(2025, 6, day, hour, minute, tzinfo=HK).astimezone(UTC)


def make_pad(pad_id: str, x: float, mass_kg: float, turnaround_min: float) -> Pad:
    point = Point(x, Y0)
    return Pad(
        PadId(pad_id),
        pad_id,
        PROJECTION.geometry_to_lonlat(point),
        point,
        charger=True,
        max_takeoff_mass_kg=mass_kg,
        turnaround_min=turnaround_min,
    )


def make_corridor(corridor_id: str, outline: Polygon, capacity: int) -> Corridor:
    band = AltitudeBand(20.0, 60.0, AltitudeRef.AGL)
    floor, ceiling = band.to_amsl(GROUND_M)
    return Corridor(
        CorridorId(corridor_id),
        corridor_id,
        PROJECTION.geometry_to_lonlat(outline),
        None,
        band,
        capacity,
        over_water=True,
        over_water_segments=(),
        volume=Volume(outline, floor, ceiling),
    )


EAST = box(X0, Y0 - 20, X0 + 500, Y0 + 20)
"""Corridor C1 runs east from pad P1 over the water."""
NORTH = box(X0 - 20, Y0 + 200, X0 + 20, Y0 + 700)
"""Corridor C2 runs north, well clear of C1."""

SITE = Site(
    id=SITE_ID,
    name="Pier",
    ref_lon_deg=114.1289,
    ref_lat_deg=22.2606,
    ground_elev_m=GROUND_M,
    crs="EPSG:2326",
    metric_crs="EPSG:2326",
    max_alt_agl_m=90.0,
    timezone="Asia/Hong_Kong",
    description="test pier",
    pads=(
        make_pad("P1", X0, mass_kg=25.0, turnaround_min=10),
        make_pad("P2", X0 + 100, mass_kg=5.0, turnaround_min=10),
        make_pad("P3", X0 - 100, mass_kg=25.0, turnaround_min=0),
    ),
    corridors=(make_corridor("C1", EAST, capacity=2), make_corridor("C2", NORTH, 1)),
    geofences=(),
    projection=PROJECTION,
)
POLICY = SitePolicy()


def drone(drone_id: str = "D1", mass_kg: float = 3.0, sysid: int = 1) -> Drone:
    return Drone(
        DroneId(drone_id),
        drone_id,
        SITE_ID,
        OperatorId("op-a"),
        mavlink_sysid=sysid,
        max_takeoff_mass_kg=mass_kg,
    )


def booking(
    booking_id: int,
    start: datetime,
    end: datetime,
    *,
    drone_id: str = "D1",
    takeoff: str | None = "P1",
    landing: str | None = None,
    corridor: str | None = "C1",
    state: BookingState = BookingState.PENDING,
) -> Booking:
    return Booking(
        BookingId(booking_id),
        SITE_ID,
        DroneId(drone_id),
        OperatorId("op-a"),
        UserId("u-pilot"),
        TimeWindow(start, end),
        PadId(takeoff) if takeoff else None,
        PadId(landing) if landing else None,
        CorridorId(corridor) if corridor else None,
        state,
    )


def closure(
    closure_id: int,
    target: ClosedPad | ClosedCorridor | ClosedArea,
    start: datetime,
    end: datetime,
) -> Closure:
    return Closure(
        ClosureId(closure_id),
        SITE_ID,
        target,
        TimeWindow(start, end),
        "maintenance",
        UserId("u-safety"),
        NOW,
    )


def refusal(
    candidate: Booking,
    bookings: list[Booking] | None = None,
    closures: list[Closure] | None = None,
    the_drone: Drone | None = None,
    policy: SitePolicy = POLICY,
) -> BookingError | None:
    """Return the first refusal for ``candidate``, or None when it may be booked."""
    schedule = Schedule(SITE, policy, bookings or [], closures or [])
    found = schedule.refusals(candidate, the_drone or drone(), NOW)
    return found[0] if found else None


class TestPads:
    def test_accepts_booking_on_free_pad_and_corridor(self) -> None:
        assert refusal(booking(1, local(10), local(10, 30))) is None

    def test_rejects_second_booking_on_same_pad_in_overlapping_window(self) -> None:
        held = booking(41, local(10), local(10, 30), drone_id="D9", corridor=None)

        error = refusal(
            booking(42, local(10, 15), local(10, 45), corridor=None), [held]
        )

        assert isinstance(error, BookingConflict)
        assert error.rule is Rule.PAD_BOOKED
        assert error.booking_ids == (41,)
        assert str(error) == (
            "BookingConflict: pad P1 already booked 2025-06-02 02:00-02:30Z "
            "by booking 41 (10 min turnaround)"
        )

    def test_landing_pad_counts_like_take_off_pad(self) -> None:
        held = booking(
            41, local(10), local(10, 30), drone_id="D9", takeoff="P3", landing="P1"
        )

        error = refusal(booking(42, local(10), local(10, 30), takeoff="P1"), [held])

        assert isinstance(error, BookingConflict)
        assert error.booking_ids == (41,)

    @pytest.mark.parametrize(
        ("start", "end", "refused"),
        [
            (local(10, 30), local(11), True),  # back to back: no time to clear the pad
            (local(10, 39), local(11), True),  # 9 min gap < 10 min turnaround
            (local(10, 40), local(11), False),  # exactly the turnaround
            (local(9, 20), local(9, 50), False),  # ends 10 min before
            (local(9, 20), local(9, 51), True),  # ends 9 min before
        ],
    )
    def test_pad_turnaround_padding_blocks_back_to_back_bookings(
        self, start: datetime, end: datetime, refused: bool
    ) -> None:
        held = booking(41, local(10), local(10, 30), drone_id="D9", corridor=None)

        error = refusal(booking(42, start, end, corridor=None), [held])

        assert (error is not None) is refused

    def test_pad_without_turnaround_allows_back_to_back_bookings(self) -> None:
        held = booking(41, local(10), local(10, 30), drone_id="D9", takeoff="P3")

        assert (
            refusal(booking(42, local(10, 30), local(11), takeoff="P3"), [held]) is None
        )

    @pytest.mark.parametrize(
        ("state", "blocks"),
        [
            (BookingState.PENDING, True),
            (BookingState.APPROVED, True),
            (BookingState.ACTIVE, True),
            (BookingState.REJECTED, False),
            (BookingState.CANCELLED, False),
            (BookingState.BUMPED, False),
            (BookingState.COMPLETED, False),
        ],
    )
    def test_only_pending_approved_and_active_bookings_hold_resources(
        self, state: BookingState, blocks: bool
    ) -> None:
        held = booking(41, local(10), local(10, 30), state=state)

        assert (
            refusal(booking(42, local(10), local(10, 30)), [held]) is not None
        ) is blocks

    def test_refuses_drone_heavier_than_a_pad_it_uses(self) -> None:
        error = refusal(
            booking(1, local(10), local(10, 30), takeoff="P1", landing="P2"),
            the_drone=drone(mass_kg=7.5),
        )

        assert isinstance(error, BookingRuleViolation)
        assert error.rule is Rule.PAD_MASS
        assert "pad P2 limit 5 kg" in error.message


class TestCorridors:
    def test_corridor_capacity_counts_concurrent_not_overlapping_bookings(self) -> None:
        # Three bookings in a row each overlap the long one, but never each other:
        # at most two drones are in C1 at once, within its capacity of two.
        chain = [
            booking(1, local(10), local(10, 20), drone_id="A", takeoff=None),
            booking(2, local(10, 20), local(10, 40), drone_id="B", takeoff=None),
            booking(3, local(10, 40), local(11), drone_id="C", takeoff=None),
        ]

        assert refusal(booking(4, local(10), local(11), takeoff=None), chain) is None

    def test_refuses_corridor_booking_at_an_instant_already_at_capacity(self) -> None:
        held = [
            booking(1, local(10), local(10, 40), drone_id="A", takeoff=None),
            booking(2, local(10, 20), local(11), drone_id="B", takeoff=None),
        ]

        error = refusal(booking(3, local(10, 30), local(10, 35), takeoff=None), held)

        assert isinstance(error, BookingConflict)
        assert error.rule is Rule.CORRIDOR_CAPACITY
        assert error.booking_ids == (1, 2)
        assert "corridor C1 full (capacity 2) at 2025-06-02 02:30Z" in error.message

    def test_accepts_corridor_booking_once_the_peak_has_passed(self) -> None:
        held = [
            booking(1, local(10), local(10, 40), drone_id="A", takeoff=None),
            booking(2, local(10, 20), local(11), drone_id="B", takeoff=None),
        ]

        assert (
            refusal(booking(3, local(10, 40), local(10, 50), takeoff=None), held)
            is None
        )

    def test_other_corridors_do_not_count(self) -> None:
        held = [
            booking(1, local(10), local(11), drone_id="A", takeoff=None, corridor="C2")
        ]

        assert refusal(booking(2, local(10), local(11), takeoff=None), held) is None


class TestDrones:
    def test_a_drone_holds_one_booking_at_a_time(self) -> None:
        held = booking(41, local(10), local(10, 30), takeoff="P3", corridor="C2")

        error = refusal(booking(42, local(10, 29), local(11)), [held])

        assert isinstance(error, BookingConflict)
        assert error.rule is Rule.DRONE_BUSY
        assert (
            error.message
            == "drone D1 already booked 2025-06-02 02:00-02:30Z by booking 41"
        )

    def test_a_drone_may_book_back_to_back_windows_on_different_pads(self) -> None:
        held = booking(41, local(10), local(10, 30), takeoff="P3", corridor="C2")

        assert refusal(booking(42, local(10, 30), local(11)), [held]) is None

    def test_refuses_a_second_drone_with_the_same_mavlink_system_id_at_the_site(
        self,
    ) -> None:
        error = check_sysid_free(drone("D2", sysid=7), [drone("D1", sysid=7)])

        assert error is not None
        assert error.rule is Rule.SYSID_TAKEN

    @pytest.mark.parametrize("sysid", [0, 256])
    def test_refuses_mavlink_system_ids_outside_1_to_255(self, sysid: int) -> None:
        with pytest.raises(BookingRuleViolation, match="system id"):
            drone(sysid=sysid)


class TestWindow:
    @pytest.mark.parametrize(
        ("start", "end", "rule"),
        [
            (NOW - timedelta(minutes=1), NOW + timedelta(minutes=30), Rule.IN_PAST),
            (local(10, day=30), local(11, day=30), None),  # June 30: inside 30 days
            (
                local(10, day=1) + timedelta(days=30),
                local(11, day=1) + timedelta(days=30),
                Rule.HORIZON,
            ),
            (local(8), local(12, 1), Rule.MAX_DURATION),
            (local(8), local(12), None),
            (local(6, 59), local(8), Rule.OPENING_HOURS),
            (local(7), local(8), None),
            (local(18, 30), local(19), None),
            (local(18, 30), local(19, 1), Rule.OPENING_HOURS),  # crosses closing time
            (local(18, 30), local(7, 30, day=3), Rule.MAX_DURATION),
        ],
    )
    def test_window_must_be_ahead_within_horizon_duration_and_opening_hours(
        self, start: datetime, end: datetime, rule: Rule | None
    ) -> None:
        error = refusal(booking(1, start, end))

        assert (error.rule if error else None) is rule

    def test_refuses_window_crossing_closing_time_even_when_short_enough(self) -> None:
        policy = SitePolicy(max_duration=timedelta(hours=24))

        error = refusal(booking(1, local(18), local(8, day=3)), policy=policy)

        assert error is not None
        assert error.rule is Rule.OPENING_HOURS
        assert "07:00-19:00 Asia/Hong_Kong" in error.message

    def test_refuses_a_day_the_site_is_closed(self) -> None:
        policy = SitePolicy(open_weekdays=frozenset({1, 2, 3, 4}))  # not Monday

        error = refusal(booking(1, local(10), local(11)), policy=policy)

        assert error is not None
        assert error.rule is Rule.OPENING_HOURS

    def test_opening_hours_are_configurable(self) -> None:
        policy = SitePolicy(opens_local=time(5), closes_local=time(22))

        assert refusal(booking(1, local(5), local(6)), policy=policy) is None

    def test_rejects_naive_datetimes(self) -> None:
        with pytest.raises(BookingRuleViolation, match="no timezone"):
            make_window(datetime(2025, 6, 2, 10), datetime(2025, 6, 2, 11))  # noqa: DTZ001

    def test_rejects_window_ending_before_it_starts(self) -> None:
        with pytest.raises(BookingRuleViolation, match="not before its end"):
            make_window(local(11), local(10))


class TestShape:
    def test_booking_needs_a_pad_or_a_corridor(self) -> None:
        error = refusal(booking(1, local(10), local(11), takeoff=None, corridor=None))

        assert error is not None
        assert error.rule is Rule.RESOURCES

    def test_unknown_pad_is_not_found(self) -> None:
        error = refusal(booking(1, local(10), local(11), takeoff="P404"))

        assert isinstance(error, NotFound)
        assert error.message == "pad P404 at site pier not found"


class TestStateMachine:
    @pytest.mark.parametrize(
        ("start", "to"),
        [(s, t) for s in BookingState for t in BookingState if t in TRANSITIONS[s]],
    )
    def test_allowed_transitions_bump_version(
        self, start: BookingState, to: BookingState
    ) -> None:
        moved = booking(41, local(10), local(11), state=start).transition(to)

        assert (moved.state, moved.version) == (to, 1)

    @pytest.mark.parametrize(
        ("start", "to"),
        [(s, t) for s in BookingState for t in BookingState if t not in TRANSITIONS[s]],
    )
    def test_illegal_transitions_name_booking_and_both_states(
        self, start: BookingState, to: BookingState
    ) -> None:
        with pytest.raises(InvalidTransition) as caught:
            booking(41, local(10), local(11), state=start).transition(to)

        assert caught.value.message == f"booking 41 cannot go from {start} to {to}"
        assert caught.value.as_dict()["from_state"] == start


AREA_OVER_C1 = Volume(box(X0 + 200, Y0 - 50, X0 + 300, Y0 + 50), 0.0, 100.0)


class TestClosures:
    @pytest.mark.parametrize(
        ("area", "start", "end", "hit"),
        [
            (AREA_OVER_C1, local(10), local(11), True),
            (AREA_OVER_C1, local(11), local(12), False),  # later: no time overlap
            (
                Volume(AREA_OVER_C1.outline, 70.0, 100.0),
                local(10),
                local(11),
                False,
            ),  # above
            (Volume(AREA_OVER_C1.outline, 60.0, 100.0), local(10), local(11), True),
            (
                Volume(AREA_OVER_C1.outline, 65.0, 100.0),
                local(10),
                local(11),
                False,
            ),  # touches
            (
                Volume(box(X0 + 200, Y0 + 20, X0 + 300, Y0 + 90), 0.0, 100.0),
                local(10),
                local(11),
                False,
            ),
        ],
    )
    def test_closure_hits_only_bookings_whose_corridor_overlaps_area_in_3d_and_time(
        self, area: Volume, start: datetime, end: datetime, hit: bool
    ) -> None:
        # C1 spans 25-65 m AMSL (20-60 m AGL over 5 m ground); C2 is elsewhere.
        in_c1 = booking(1, local(10, 30), local(10, 45), takeoff=None)
        in_c2 = booking(2, local(10, 30), local(10, 45), takeoff=None, corridor="C2")
        the_closure = closure(7, ClosedArea(area), start, end)

        hits = bookings_hit_by_closure(the_closure, [in_c1, in_c2], SITE)

        assert [b.id for b in hits] == ([1] if hit else [])

    def test_area_closure_over_a_pad_hits_bookings_using_the_pad(self) -> None:
        over_p2 = Volume(box(X0 + 90, Y0 - 10, X0 + 110, Y0 + 10), 0.0, 20.0)
        on_p2 = booking(1, local(10), local(10, 30), takeoff="P2", corridor=None)
        on_p3 = booking(
            2, local(10), local(10, 30), drone_id="D2", takeoff="P3", corridor=None
        )

        hits = bookings_hit_by_closure(
            closure(7, ClosedArea(over_p2), local(9), local(12)), [on_p2, on_p3], SITE
        )

        assert [b.id for b in hits] == [1]

    @pytest.mark.parametrize(
        ("target", "hit"),
        [
            (ClosedPad(PadId("P1")), True),
            (ClosedPad(PadId("P2")), True),  # the landing pad
            (ClosedPad(PadId("P3")), False),
            (ClosedCorridor(CorridorId("C1")), True),
            (ClosedCorridor(CorridorId("C2")), False),
        ],
    )
    def test_pad_and_corridor_closures_hit_by_id(
        self, target: ClosedPad | ClosedCorridor, hit: bool
    ) -> None:
        used = booking(1, local(10), local(10, 30), takeoff="P1", landing="P2")

        hits = bookings_hit_by_closure(
            closure(7, target, local(9), local(12)), [used], SITE
        )

        assert bool(hits) is hit

    def test_closures_skip_bookings_that_no_longer_hold_resources(self) -> None:
        gone = booking(1, local(10), local(10, 30), state=BookingState.CANCELLED)

        assert (
            bookings_hit_by_closure(
                closure(7, ClosedPad(PadId("P1")), local(9), local(12)), [gone], SITE
            )
            == []
        )

    def test_refuses_booking_inside_an_active_closure_naming_it(self) -> None:
        closed = closure(7, ClosedPad(PadId("P1")), local(9), local(12))

        error = refusal(booking(1, local(10), local(10, 30)), closures=[closed])

        assert isinstance(error, BookingConflict)
        assert error.rule is Rule.CLOSURE
        assert error.closure_ids == (7,)
        assert error.as_dict() == {
            "error": "BookingConflict",
            "rule": "closure",
            "message": "closure 7 (pad P1) closed 2025-06-02 01:00-04:00Z: maintenance",
            "booking_ids": [],
            "closure_ids": [7],
        }


class TestPeakOverlap:
    @pytest.mark.parametrize(
        ("spans", "peak"),
        [
            ([], 0),
            ([(0, 10)], 1),
            ([(0, 10), (10, 20)], 1),  # half-open: touching is not overlapping
            ([(0, 10), (5, 15), (9, 20)], 3),
            ([(0, 60), (0, 20), (20, 40), (40, 60)], 2),
        ],
    )
    def test_peak_overlap_counts_windows_sharing_one_instant(
        self, spans: list[tuple[int, int]], peak: int
    ) -> None:
        windows = [
            TimeWindow(
                local(10) + timedelta(minutes=a), local(10) + timedelta(minutes=b)
            )
            for a, b in spans
        ]

        assert peak_overlap(windows)[0] == peak


class TestNextFreeSlot:
    def test_suggests_first_window_after_pad_turnaround(self) -> None:
        held = booking(41, local(10), local(10, 30), drone_id="D9", corridor=None)
        wanted = booking(42, local(10), local(10, 30), corridor=None)
        schedule = Schedule(SITE, POLICY, [held], [])

        slot = next_free_slot(schedule, wanted, drone(), NOW)

        assert slot == TimeWindow(local(10, 40), local(11, 10))

    def test_suggests_next_opening_when_the_day_is_full(self) -> None:
        held = booking(41, local(7), local(19), drone_id="D9", corridor=None)
        wanted = booking(42, local(18), local(18, 30), corridor=None)
        policy = SitePolicy(max_duration=timedelta(hours=12))

        slot = next_free_slot(Schedule(SITE, policy, [held], []), wanted, drone(), NOW)

        assert slot == TimeWindow(local(7, day=3), local(7, 30, day=3))

    def test_suggests_nothing_when_no_time_can_help(self) -> None:
        wanted = booking(42, local(10), local(10, 30), takeoff="P2")
        schedule = Schedule(SITE, POLICY, [], [])

        assert next_free_slot(schedule, wanted, drone(mass_kg=9.0), NOW) is None


class TestSigningRequired:
    def test_refuses_a_drone_without_a_key_at_a_site_that_requires_signing(
        self,
    ) -> None:
        strict = dataclasses.replace(SITE, require_signing=True)
        schedule = Schedule(strict, POLICY, [], [])

        (refused,) = schedule.refusals(
            booking(1, local(10), local(10, 30)), drone(), NOW
        )

        assert isinstance(refused, SigningRequired)
        assert isinstance(refused, BookingConflict)  # 409
        assert refused.rule is Rule.SIGNING_REQUIRED
        assert "requires MAVLink signing" in refused.message

    def test_accepts_a_drone_with_a_key_at_a_site_that_requires_signing(
        self,
    ) -> None:
        strict = dataclasses.replace(SITE, require_signing=True)
        keyed = dataclasses.replace(drone(), signing_key=bytes(32))
        schedule = Schedule(strict, POLICY, [], [])

        assert schedule.refusals(booking(1, local(10), local(10, 30)), keyed, NOW) == []

    def test_a_drone_without_a_key_may_fly_where_signing_is_not_required(
        self,
    ) -> None:
        assert refusal(booking(1, local(10), local(10, 30))) is None
