"""The booking use cases, run against in-memory fakes of the ports."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st
from shapely.geometry import Point, Polygon, box

from airspace.projection import SiteProjection
from airspace.site import Corridor, CorridorId, Pad, PadId, Site, SiteId
from airspace.volume import AltitudeBand, TimeWindow, Volume
from booking import closure_services, drone_services, services
from booking.errors import (
    BookingConflict,
    BookingError,
    BookingRuleViolation,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    Rule,
)
from booking.model import (
    ActiveBookingInClosure,
    Actor,
    AuditEntry,
    Booking,
    BookingBumped,
    BookingId,
    BookingState,
    BookingStateChanged,
    ClosedArea,
    ClosedPad,
    Closure,
    ClosureId,
    DomainEvent,
    Drone,
    DroneId,
    OperatorId,
    Role,
    UserId,
)
from booking.rules import SitePolicy

PROJECTION = SiteProjection("EPSG:2326")
HK = ZoneInfo("Asia/Hong_Kong")
X0, Y0 = 833_000.0, 815_000.0
NOW = datetime(2025, 6, 1, tzinfo=UTC)
NAIVE_NOW = datetime(2025, 6, 1)  # noqa: DTZ001 - the services must refuse it
SITE_ID = SiteId("pier")
OP_A, OP_B = OperatorId("op-a"), OperatorId("op-b")

PILOT_A = Actor(UserId("u-pilot-a"), Role.PILOT, OP_A)
OPERATOR_A = Actor(UserId("u-op-a"), Role.OPERATOR, OP_A)
PILOT_B = Actor(UserId("u-pilot-b"), Role.PILOT, OP_B)
ADMIN = Actor(UserId("u-admin"), Role.SITE_ADMIN)
SAFETY = Actor(UserId("u-safety"), Role.SAFETY_OFFICER)


def local(hour: int, minute: int = 0, day: int = 2) -> datetime:
    """Return a UTC instant for a Hong Kong wall-clock time in June 2025."""
    return datetime(2025, 6, day, hour, minute, tzinfo=HK).astimezone(UTC)


def make_pad(pad_id: str, x: float, turnaround_min: float) -> Pad:
    point = Point(x, Y0)
    return Pad(
        PadId(pad_id),
        pad_id,
        PROJECTION.geometry_to_lonlat(point),
        point,
        charger=True,
        max_takeoff_mass_kg=25.0,
        turnaround_min=turnaround_min,
    )


def make_corridor(corridor_id: str, outline: Polygon, capacity: int) -> Corridor:
    band = AltitudeBand(20.0, 60.0)
    return Corridor(
        CorridorId(corridor_id),
        corridor_id,
        PROJECTION.geometry_to_lonlat(outline),
        None,
        band,
        capacity,
        over_water=True,
        over_water_segments=(),
        volume=Volume(outline, *band.to_amsl(5.0)),
    )


SITE = Site(
    id=SITE_ID,
    name="Pier",
    ref_lon_deg=114.1289,
    ref_lat_deg=22.2606,
    ground_elev_m=5.0,
    crs="EPSG:2326",
    metric_crs="EPSG:2326",
    max_alt_agl_m=90.0,
    timezone="Asia/Hong_Kong",
    description="test pier",
    pads=(make_pad("P1", X0, 10), make_pad("P2", X0 + 100, 5)),
    corridors=(
        make_corridor("C1", box(X0, Y0 - 20, X0 + 500, Y0 + 20), capacity=2),
        make_corridor("C2", box(X0 - 20, Y0 + 200, X0 + 20, Y0 + 700), capacity=1),
    ),
    geofences=(),
    projection=PROJECTION,
)


def make_drone(drone_id: str, operator_id: OperatorId, sysid: int) -> Drone:
    return Drone(DroneId(drone_id), drone_id, SITE_ID, operator_id, sysid, 3.0)


class FakeSites:
    def __init__(self, sites: list[Site], policy: SitePolicy) -> None:
        self._sites = {s.id: s for s in sites}
        self._policy = policy

    def get(self, site_id: SiteId) -> Site | None:
        return self._sites.get(site_id)

    def policy(self, site_id: SiteId) -> SitePolicy:
        return self._policy


class FakeDrones:
    def __init__(self, drones: list[Drone]) -> None:
        self.items = {d.id: d for d in drones}

    def get(self, drone_id: DroneId) -> Drone | None:
        return self.items.get(drone_id)

    def for_site(self, site_id: SiteId) -> list[Drone]:
        return [d for d in self.items.values() if d.site_id == site_id]

    def add(self, drone: Drone) -> None:
        self.items[drone.id] = drone


class FakeBookings:
    def __init__(self) -> None:
        self.items: dict[BookingId, Booking] = {}
        self.locked: list[tuple[SiteId, TimeWindow]] = []
        self._last_id = 40

    def next_id(self) -> BookingId:
        self._last_id += 1
        return BookingId(self._last_id)

    def get(self, booking_id: BookingId) -> Booking | None:
        return self.items.get(booking_id)

    def for_update(self, site_id: SiteId, window: TimeWindow) -> list[Booking]:
        self.locked.append((site_id, window))
        return [
            b
            for b in self.items.values()
            if b.site_id == site_id and b.occupies and b.window.overlaps(window)
        ]

    def count_held(self, operator_id: OperatorId, window: TimeWindow) -> int:
        held = (BookingState.PENDING, BookingState.APPROVED)
        return sum(
            1
            for b in self.items.values()
            if b.operator_id == operator_id
            and b.state in held
            and b.window.overlaps(window)
        )

    def lock_schedule(self, site_id: SiteId, window: TimeWindow) -> None:
        self.locked.append((site_id, window))

    def add(self, booking: Booking) -> None:
        self.items[booking.id] = booking

    def save(self, booking: Booking) -> None:
        assert self.items[booking.id].version == booking.version - 1
        self.items[booking.id] = booking


class FakeClosures:
    def __init__(self) -> None:
        self.items: dict[ClosureId, Closure] = {}
        self._last_id = 0

    def next_id(self) -> ClosureId:
        self._last_id += 1
        return ClosureId(self._last_id)

    def get(self, closure_id: ClosureId) -> Closure | None:
        return self.items.get(closure_id)

    def overlapping(self, site_id: SiteId, window: TimeWindow) -> list[Closure]:
        return [
            c
            for c in self.items.values()
            if c.site_id == site_id and c.window.overlaps(window)
        ]

    def add(self, closure: Closure) -> None:
        self.items[closure.id] = closure

    def remove(self, closure_id: ClosureId) -> None:
        del self.items[closure_id]


class FakeAudit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def append(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


class FakeUnitOfWork:
    """Holds everything in dicts; rollback restores the last committed state."""

    def __init__(self, drones: list[Drone], policy: SitePolicy | None = None) -> None:
        self.sites = FakeSites([SITE], policy or SitePolicy())
        self.drones = FakeDrones(drones)
        self.bookings = FakeBookings()
        self.closures = FakeClosures()
        self.audit = FakeAudit()
        self.published: list[DomainEvent] = []
        self.commits = 0
        self._pending: list[DomainEvent] = []
        self._checkpoint()

    def _checkpoint(self) -> None:
        self._saved = (
            dict(self.drones.items),
            dict(self.bookings.items),
            dict(self.closures.items),
            len(self.audit.entries),
        )

    def emit(self, event: DomainEvent) -> None:
        self._pending.append(event)

    def commit(self) -> None:
        self.commits += 1
        self.published.extend(self._pending)
        self._pending.clear()
        self._checkpoint()

    def rollback(self) -> None:
        drones, bookings, closures, audited = self._saved
        self.drones.items = dict(drones)
        self.bookings.items = dict(bookings)
        self.closures.items = dict(closures)
        del self.audit.entries[audited:]
        self._pending.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()


def new_uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(
        [
            make_drone("D1", OP_A, 1),
            make_drone("D2", OP_A, 2),
            make_drone("DB", OP_B, 3),
        ]
    )


def request(
    drone_id: str = "D1",
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    takeoff: str | None = "P1",
    landing: str | None = None,
    corridor: str | None = "C1",
) -> services.RequestBooking:
    return services.RequestBooking(
        SITE_ID,
        DroneId(drone_id),
        start or local(10),
        end or local(10, 30),
        PadId(takeoff) if takeoff else None,
        PadId(landing) if landing else None,
        CorridorId(corridor) if corridor else None,
    )


class TestRequestBooking:
    def test_returns_a_pending_booking_and_commits_it(self) -> None:
        uow = new_uow()

        booking = services.request_booking(uow, request(), PILOT_A, NOW)

        assert booking.state is BookingState.PENDING
        assert booking.operator_id == OP_A
        assert uow.bookings.get(booking.id) == booking
        assert uow.commits == 1

    def test_audits_and_announces_the_new_booking(self) -> None:
        uow = new_uow()

        booking = services.request_booking(uow, request(), PILOT_A, NOW)

        [entry] = uow.audit.entries
        assert (entry.action, entry.actor_id, entry.at) == (
            "booking.requested",
            PILOT_A.user_id,
            NOW,
        )
        assert entry.before is None
        assert (entry.after or {}).get("state") == "pending"
        assert uow.published == [
            BookingStateChanged(
                booking.id,
                SITE_ID,
                OP_A,
                booking.drone_id,
                None,
                BookingState.PENDING,
                NOW,
                booking,
            )
        ]

    def test_locks_the_schedule_widened_by_the_longest_turnaround(self) -> None:
        uow = new_uow()

        services.request_booking(uow, request(), PILOT_A, NOW)

        assert uow.bookings.locked == [
            (SITE_ID, TimeWindow(local(9, 50), local(10, 40)))
        ]

    def test_rejects_second_booking_on_same_pad_in_overlapping_window(self) -> None:
        uow = new_uow()
        first = services.request_booking(uow, request("D1"), PILOT_A, NOW)

        with pytest.raises(BookingConflict) as caught:
            services.request_booking(
                uow,
                request("D2", local(10, 15), local(10, 45), corridor="C2"),
                PILOT_A,
                NOW,
            )

        assert caught.value.rule is Rule.PAD_BOOKED
        assert caught.value.booking_ids == (first.id,)
        assert list(uow.bookings.items) == [first.id]
        assert len(uow.audit.entries) == 1
        assert uow.commits == 1

    def test_operator_cannot_book_another_organisations_drone(self) -> None:
        uow = new_uow()

        with pytest.raises(PermissionDenied, match="belongs to operator op-b"):
            services.request_booking(uow, request("DB"), PILOT_A, NOW)

    @pytest.mark.parametrize(
        ("actor", "allowed"),
        [
            (PILOT_A, True),
            (OPERATOR_A, True),
            (ADMIN, True),
            (SAFETY, False),
            (PILOT_B, False),
        ],
    )
    def test_who_may_book_an_organisations_drone(
        self, actor: Actor, allowed: bool
    ) -> None:
        uow = new_uow()
        if allowed:
            services.request_booking(uow, request("D1"), actor, NOW)
        else:
            with pytest.raises(PermissionDenied):
                services.request_booking(uow, request("D1"), actor, NOW)

    def test_concealed_request_for_another_organisations_drone_is_not_found(
        self,
    ) -> None:
        with pytest.raises(NotFound, match="drone DB not found"):
            services.request_booking(
                new_uow(), request("DB"), PILOT_A, NOW, conceal=True
            )

    def test_unknown_drone_is_not_found(self) -> None:
        with pytest.raises(NotFound, match="drone D404 not found"):
            services.request_booking(new_uow(), request("D404"), PILOT_A, NOW)

    def test_refuses_naive_now(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            services.request_booking(new_uow(), request(), PILOT_A, NAIVE_NOW)

    def test_refuses_naive_window(self) -> None:
        naive = request(start=datetime(2025, 6, 2, 2))  # noqa: DTZ001
        with pytest.raises(BookingRuleViolation, match="no timezone"):
            services.request_booking(new_uow(), naive, PILOT_A, NOW)


class TestBookingQuota:
    def quota_uow(self, quota: int) -> FakeUnitOfWork:
        drones = [make_drone("D1", OP_A, 1), make_drone("DB", OP_B, 3)]
        return FakeUnitOfWork(drones, SitePolicy(booking_quota=quota))

    def test_refuses_a_booking_past_the_operators_quota_naming_it(self) -> None:
        uow = self.quota_uow(2)
        services.request_booking(
            uow, request("D1", local(9), local(9, 30)), PILOT_A, NOW
        )
        services.request_booking(
            uow, request("D1", local(11), local(11, 30)), PILOT_A, NOW
        )

        with pytest.raises(QuotaExceeded) as caught:
            services.request_booking(
                uow, request("D1", local(13), local(13, 30)), PILOT_A, NOW
            )

        assert caught.value.rule is Rule.BOOKING_QUOTA
        assert f"operator {OP_A} already holds 2" in caught.value.message
        assert "booking quota is 2" in caught.value.message
        assert len(uow.bookings.items) == 2

    def test_the_quota_is_per_operator_and_a_cancelled_booking_frees_its_place(
        self,
    ) -> None:
        uow = self.quota_uow(1)
        first = services.request_booking(uow, request("D1"), PILOT_A, NOW)
        services.request_booking(
            uow, request("DB", corridor="C2", takeoff="P2"), PILOT_B, NOW
        )

        services.cancel(uow, first.id, OPERATOR_A, NOW)
        again = services.request_booking(uow, request("D1"), PILOT_A, NOW)

        assert again.state is BookingState.PENDING


class TestApproveAndReject:
    def test_site_admin_approves_a_pending_booking(self) -> None:
        uow = new_uow()
        booking = services.request_booking(uow, request(), PILOT_A, NOW)

        approved = services.approve(uow, booking.id, ADMIN, NOW)

        assert approved.state is BookingState.APPROVED
        assert uow.bookings.get(booking.id) == approved
        entry = uow.audit.entries[-1]
        assert (entry.action, entry.actor_id, entry.actor_role) == (
            "booking.approved",
            ADMIN.user_id,
            Role.SITE_ADMIN,
        )
        assert (entry.before or {}).get("state") == "pending"
        assert (entry.after or {}).get("state") == "approved"

    @pytest.mark.parametrize("actor", [PILOT_A, OPERATOR_A, SAFETY])
    def test_only_site_admins_approve(self, actor: Actor) -> None:
        uow = new_uow()
        booking = services.request_booking(uow, request(), PILOT_A, NOW)

        with pytest.raises(PermissionDenied, match="only site admins"):
            services.approve(uow, booking.id, actor, NOW)

        assert uow.bookings.get(booking.id) == booking

    def test_approving_twice_is_an_invalid_transition(self) -> None:
        uow = new_uow()
        booking = services.request_booking(uow, request(), PILOT_A, NOW)
        services.approve(uow, booking.id, ADMIN, NOW)

        with pytest.raises(InvalidTransition, match="from approved to approved"):
            services.approve(uow, booking.id, ADMIN, NOW)

    def test_cannot_approve_a_booking_whose_window_is_over(self) -> None:
        uow = new_uow()
        booking = services.request_booking(uow, request(), PILOT_A, NOW)

        with pytest.raises(BookingRuleViolation, match="is over"):
            services.approve(uow, booking.id, ADMIN, local(11))

    def test_reject_records_the_reason_and_frees_the_pad(self) -> None:
        uow = new_uow()
        booking = services.request_booking(uow, request("D1"), PILOT_A, NOW)

        services.reject(uow, booking.id, ADMIN, NOW, reason="no insurance on file")
        services.request_booking(uow, request("D2"), PILOT_A, NOW)

        assert uow.audit.entries[1].note == "no insurance on file"

    def test_concealed_approve_and_reject_hide_other_organisations_bookings(
        self,
    ) -> None:
        uow = new_uow()
        booking = services.request_booking(uow, request(), PILOT_A, NOW)

        with pytest.raises(NotFound):
            services.approve(uow, booking.id, PILOT_B, NOW, conceal=True)
        with pytest.raises(NotFound):
            services.reject(uow, booking.id, PILOT_B, NOW, conceal=True)
        # Visible but not theirs to decide: still the permission refusal.
        with pytest.raises(PermissionDenied, match="only site admins"):
            services.approve(uow, booking.id, PILOT_A, NOW, conceal=True)
        assert services.approve(uow, booking.id, ADMIN, NOW, conceal=True).state is (
            BookingState.APPROVED
        )

    def test_approving_an_unknown_booking_is_not_found(self) -> None:
        with pytest.raises(NotFound, match="booking 99 not found"):
            services.approve(new_uow(), BookingId(99), ADMIN, NOW)


class TestCancelActivateComplete:
    def test_organisation_cancels_its_own_booking_and_frees_the_pad(self) -> None:
        uow = new_uow()
        booking = services.request_booking(uow, request("D1"), PILOT_A, NOW)

        cancelled = services.cancel(uow, booking.id, OPERATOR_A, NOW)
        again = services.request_booking(uow, request("D2"), PILOT_A, NOW)

        assert cancelled.state is BookingState.CANCELLED
        assert again.state is BookingState.PENDING

    def test_other_organisation_cannot_cancel(self) -> None:
        uow = new_uow()
        booking = services.request_booking(uow, request("D1"), PILOT_A, NOW)

        with pytest.raises(PermissionDenied):
            services.cancel(uow, booking.id, PILOT_B, NOW)

    def test_concealed_cancel_by_other_organisation_is_not_found(self) -> None:
        uow = new_uow()
        booking = services.request_booking(uow, request("D1"), PILOT_A, NOW)

        with pytest.raises(NotFound, match=f"booking {booking.id} not found"):
            services.cancel(uow, booking.id, PILOT_B, NOW, conceal=True)

        assert uow.bookings.get(booking.id) == booking

    def test_concealed_cancel_by_own_organisation_goes_through(self) -> None:
        uow = new_uow()
        booking = services.request_booking(uow, request("D1"), PILOT_A, NOW)

        cancelled = services.cancel(uow, booking.id, OPERATOR_A, NOW, conceal=True)

        assert cancelled.state is BookingState.CANCELLED

    def test_approved_booking_flies_inside_its_window_then_completes(self) -> None:
        uow = new_uow()
        booking = services.request_booking(uow, request(), PILOT_A, NOW)
        services.approve(uow, booking.id, ADMIN, NOW)

        with pytest.raises(BookingRuleViolation, match="only start within"):
            services.activate(uow, booking.id, PILOT_A, local(9, 59))
        active = services.activate(uow, booking.id, PILOT_A, local(10))
        done = services.complete(uow, booking.id, PILOT_A, local(10, 25))

        assert (active.state, done.state) == (
            BookingState.ACTIVE,
            BookingState.COMPLETED,
        )
        with pytest.raises(InvalidTransition, match="from completed to cancelled"):
            services.cancel(uow, booking.id, PILOT_A, local(10, 26))

    @pytest.mark.parametrize("state", ["mismatch", "refused"])
    def test_a_site_requiring_a_verified_fence_keeps_a_contradicted_one_grounded(
        self, state: str
    ) -> None:
        uow = new_uow()
        uow.sites = FakeSites(
            [dataclasses.replace(SITE, require_verified_fence=True)], SitePolicy()
        )
        booking = services.request_booking(uow, request(), PILOT_A, NOW)
        services.approve(uow, booking.id, ADMIN, NOW)
        fence = services.FenceStanding(state, "first vertex moved 5.6 m")

        with pytest.raises(
            BookingRuleViolation, match="requires a verified fence"
        ) as e:
            services.activate(uow, booking.id, PILOT_A, local(10), fence)

        assert e.value.rule is Rule.FENCE_NOT_VERIFIED
        stored = uow.bookings.get(booking.id)
        assert stored is not None
        assert stored.state is BookingState.APPROVED
        verified = services.FenceStanding("verified", "38 items read back identical")
        active = services.activate(uow, booking.id, PILOT_A, local(10), verified)
        assert active.state is BookingState.ACTIVE

    @pytest.mark.parametrize(
        ("policy", "state", "blocked"),
        [
            (SitePolicy(require_verified_fence=True), "mismatch", True),
            (SitePolicy(require_verified_fence=True), "uploaded", False),
            (SitePolicy(require_verified_fence=True), "not_supported", False),
            (SitePolicy(), "refused", False),
        ],
    )
    def test_the_server_setting_requires_a_verified_fence_at_every_site(
        self, policy: SitePolicy, state: str, blocked: bool
    ) -> None:
        uow = new_uow()
        uow.sites = FakeSites([SITE], policy)
        booking = services.request_booking(uow, request(), PILOT_A, NOW)
        services.approve(uow, booking.id, ADMIN, NOW)
        fence = services.FenceStanding(state, "why")

        if blocked:
            with pytest.raises(BookingRuleViolation, match="requires a verified fence"):
                services.activate(uow, booking.id, PILOT_A, local(10), fence)
        else:
            active = services.activate(uow, booking.id, PILOT_A, local(10), fence)
            assert active.state is BookingState.ACTIVE


AREA_OVER_C1 = ClosedArea(Volume(box(X0 + 200, Y0 - 50, X0 + 300, Y0 + 50), 0.0, 100.0))


def close(
    target: ClosedPad | ClosedArea,
    start: datetime,
    end: datetime,
    reason: str = "crane lift",
) -> closure_services.CreateClosure:
    return closure_services.CreateClosure(SITE_ID, target, start, end, reason)


class TestClosures:
    def test_closure_bumps_hit_pending_and_approved_bookings_in_one_unit_of_work(
        self,
    ) -> None:
        uow = new_uow()
        pending = services.request_booking(uow, request("D1"), PILOT_A, NOW)
        approved = services.request_booking(
            uow, request("DB", takeoff="P2"), PILOT_B, NOW
        )
        services.approve(uow, approved.id, ADMIN, NOW)
        elsewhere = services.request_booking(
            uow, request("D2", takeoff=None, corridor="C2"), PILOT_A, NOW
        )
        commits = uow.commits

        outcome = closure_services.create_closure(
            uow, close(AREA_OVER_C1, local(10, 15), local(11)), SAFETY, NOW
        )

        assert [b.id for b in outcome.bumped] == [pending.id, approved.id]
        assert uow.commits == commits + 1
        states = {b.id: b.state for b in uow.bookings.items.values()}
        assert states == {
            pending.id: BookingState.BUMPED,
            approved.id: BookingState.BUMPED,
            elsewhere.id: BookingState.PENDING,
        }
        bumps = [e for e in uow.published if isinstance(e, BookingBumped)]
        assert [(e.booking_id, e.closure_id, e.operator_id) for e in bumps] == [
            (pending.id, outcome.closure.id, OP_A),
            (approved.id, outcome.closure.id, OP_B),
        ]
        actions = [e.action for e in uow.audit.entries[-3:]]
        assert actions == ["closure.created", "booking.bumped", "booking.bumped"]

    def test_closure_leaves_active_flights_flying_and_reports_them(self) -> None:
        uow = new_uow()
        booking = services.request_booking(uow, request(), PILOT_A, NOW)
        services.approve(uow, booking.id, ADMIN, NOW)
        services.activate(uow, booking.id, PILOT_A, local(10))

        outcome = closure_services.create_closure(
            uow,
            close(ClosedPad(PadId("P1")), local(10, 5), local(11)),
            ADMIN,
            local(10, 5),
        )

        assert outcome.bumped == ()
        assert [b.id for b in outcome.active_hit] == [booking.id]
        assert isinstance(uow.published[-1], ActiveBookingInClosure)
        assert uow.bookings.items[booking.id].state is BookingState.ACTIVE

    @pytest.mark.parametrize("actor", [PILOT_A, OPERATOR_A])
    def test_only_site_admins_and_safety_officers_manage_closures(
        self, actor: Actor
    ) -> None:
        uow = new_uow()

        with pytest.raises(PermissionDenied, match="safety officers"):
            closure_services.create_closure(
                uow, close(ClosedPad(PadId("P1")), local(9), local(12)), actor, NOW
            )

        assert uow.closures.items == {}

    def test_new_booking_inside_a_closure_is_refused_until_it_is_deleted(self) -> None:
        uow = new_uow()
        outcome = closure_services.create_closure(
            uow, close(ClosedPad(PadId("P1")), local(9), local(12)), SAFETY, NOW
        )

        with pytest.raises(BookingConflict) as caught:
            services.request_booking(uow, request(), PILOT_A, NOW)
        closure_services.delete_closure(uow, outcome.closure.id, ADMIN, NOW)
        booking = services.request_booking(uow, request(), PILOT_A, NOW)

        assert caught.value.closure_ids == (outcome.closure.id,)
        assert booking.state is BookingState.PENDING
        deleted = uow.audit.entries[-2]
        assert (deleted.action, deleted.after) == ("closure.deleted", None)

    def test_closure_needs_a_reason_and_a_known_pad(self) -> None:
        uow = new_uow()
        with pytest.raises(BookingRuleViolation, match="needs a reason"):
            closure_services.create_closure(
                uow,
                close(ClosedPad(PadId("P1")), local(9), local(12), " "),
                SAFETY,
                NOW,
            )
        with pytest.raises(NotFound, match="pad P9"):
            closure_services.create_closure(
                uow, close(ClosedPad(PadId("P9")), local(9), local(12)), SAFETY, NOW
            )

    def test_bumped_booking_frees_its_resources(self) -> None:
        uow = new_uow()
        services.request_booking(uow, request("D1"), PILOT_A, NOW)
        closure_services.create_closure(
            uow,
            close(ClosedPad(PadId("P1")), local(10, 29), local(10, 30)),
            SAFETY,
            NOW,
        )

        later = services.request_booking(
            uow, request("D1", local(10, 40), local(11)), PILOT_A, NOW
        )

        assert later.state is BookingState.PENDING


class TestRegisterDrone:
    def test_operator_registers_a_drone_for_its_organisation(self) -> None:
        uow = new_uow()
        cmd = drone_services.RegisterDrone(
            DroneId("D7"), "Heron", SITE_ID, OP_A, 7, 4.5
        )

        drone = drone_services.register_drone(uow, cmd, OPERATOR_A, NOW)

        assert uow.drones.get(DroneId("D7")) == drone
        assert uow.audit.entries[-1].action == "drone.registered"

    def test_pilot_cannot_register_drones(self) -> None:
        cmd = drone_services.RegisterDrone(
            DroneId("D7"), "Heron", SITE_ID, OP_A, 7, 4.5
        )
        with pytest.raises(PermissionDenied):
            drone_services.register_drone(new_uow(), cmd, PILOT_A, NOW)

    def test_refuses_a_mavlink_system_id_already_used_at_the_site(self) -> None:
        cmd = drone_services.RegisterDrone(
            DroneId("D7"), "Heron", SITE_ID, OP_A, 3, 4.5
        )
        with pytest.raises(BookingRuleViolation, match="already used by drone DB"):
            drone_services.register_drone(new_uow(), cmd, ADMIN, NOW)


# --- Invariant: whatever is requested, accepted bookings never collide. --------------

DRONES = ["D1", "D2", "DB"]
ROUTES = [
    ("P1", None, "C1"),
    ("P1", "P2", "C1"),
    ("P2", None, None),
    (None, None, "C1"),
    (None, None, "C1"),
    (None, None, "C2"),
    (None, "P1", "C2"),
]
ACTORS = {"D1": PILOT_A, "D2": PILOT_A, "DB": PILOT_B}

requests = st.lists(
    st.tuples(
        st.sampled_from(DRONES),
        st.sampled_from(ROUTES),
        st.integers(min_value=0, max_value=36),  # start, 5-min steps from 10:00 local
        st.integers(min_value=1, max_value=12),  # length in 5-min steps
        st.booleans(),  # cancel it right after, when accepted
    ),
    max_size=25,
)


def assert_no_collisions(bookings: list[Booking]) -> None:
    live = [b for b in bookings if b.occupies]
    for i, a in enumerate(live):
        for b in live[i + 1 :]:
            assert not (a.drone_id == b.drone_id and a.window.overlaps(b.window))
            for pad_id in set(a.pad_ids) & set(b.pad_ids):
                gap = timedelta(minutes=SITE.pad(pad_id).turnaround_min)
                assert (
                    b.window.start >= a.window.end + gap
                    or a.window.start >= b.window.end + gap
                )
    for corridor in SITE.corridors:
        users = [b for b in live if b.corridor_id == corridor.id]
        for b in users:  # the peak of half-open windows is at some window's start
            at = b.window.start
            holding = [u for u in users if u.window.start <= at < u.window.end]
            assert len(holding) <= corridor.capacity


@settings(max_examples=150, deadline=None)
@given(requests)
def test_accepted_requests_never_double_book_pads_corridors_or_drones(
    ops: list[tuple[str, tuple[str | None, str | None, str | None], int, int, bool]],
) -> None:
    uow = new_uow()
    for drone_id, (takeoff, landing, corridor), start_step, length, cancel in ops:
        start = local(10) + timedelta(minutes=5 * start_step)
        cmd = request(
            drone_id,
            start,
            start + timedelta(minutes=5 * length),
            takeoff=takeoff,
            landing=landing,
            corridor=corridor,
        )
        try:
            booking = services.request_booking(uow, cmd, ACTORS[drone_id], NOW)
        except BookingError:
            continue
        if cancel:
            services.cancel(uow, booking.id, ADMIN, NOW)
    assert_no_collisions(list(uow.bookings.items.values()))
