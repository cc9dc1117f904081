"""The booking repositories on SQL: drones, bookings and closures.

Each implements its port of ``booking.ports`` on the connection of a session that
``booking.unit_of_work.SqlUnitOfWork`` opened; the locking they take is described
there. Users live in ``booking.user_repository``, the audit log in
``booking.audit_log``.

They speak SQLAlchemy Core on the session's connection, with statements built once
at import: the booking write path runs under the site's write lock, and ORM flushes
and per-call statement building cost several times the SQL itself there (see
bench/booking.py). Nothing is left pending in the session, so every write reaches
the database when its method returns, and a constraint it trips surfaces right there
as ``BookingConflict``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from airspace.site import SiteId
from airspace.utc import as_utc
from airspace.volume import TimeWindow

# SqlAudit moved to booking.audit_log; importable from here for older callers.
from booking.audit_log import SqlAudit as SqlAudit
from booking.errors import BookingConflict, Rule
from booking.model import (
    OCCUPYING_STATES,
    Booking,
    BookingId,
    BookingState,
    Closure,
    ClosureId,
    Drone,
    DroneId,
    OperatorId,
)
from booking.ports import SiteCatalogue
from booking.tables import (
    BOOKING_COLUMNS,
    booking_from_row,
    booking_values,
    closure_from_row,
    closure_to_row,
    drone_from_row,
    drone_registration_columns,
)

_BOOKINGS = SQLModel.metadata.tables["bookings"]
_PAD_SLOTS = SQLModel.metadata.tables["pad_slots"]
_DRONES = SQLModel.metadata.tables["drones"]
_CLOSURES = SQLModel.metadata.tables["closures"]
_COUNTERS = SQLModel.metadata.tables["id_counters"]

_OCCUPYING = sorted(str(s) for s in OCCUPYING_STATES)

_NEXT_VALUE = (
    sa.update(_COUNTERS)
    .where(_COUNTERS.c.name == sa.bindparam("counter"))
    .values(value=_COUNTERS.c.value + 1)
    .returning(_COUNTERS.c.value)
)
_INSERT_COUNTER = sa.insert(_COUNTERS)
_BOOKING_BY_ID = sa.select(_BOOKINGS).where(_BOOKINGS.c.id == sa.bindparam("id"))
_SCHEDULE = sa.select(_BOOKINGS).where(
    _BOOKINGS.c.site_id == sa.bindparam("site_id"),
    _BOOKINGS.c.state.in_(_OCCUPYING),
    # Lower bound on start for the (site_id, start_utc) index; see for_update.
    _BOOKINGS.c.start_utc >= sa.bindparam("earliest_start"),
    _BOOKINGS.c.start_utc < sa.bindparam("end"),
    _BOOKINGS.c.end_utc > sa.bindparam("start"),
)
_HELD = (
    sa.select(sa.func.count())
    .select_from(_BOOKINGS)
    .where(
        _BOOKINGS.c.operator_id == sa.bindparam("operator_id"),
        _BOOKINGS.c.state.in_([str(BookingState.PENDING), str(BookingState.APPROVED)]),
        _BOOKINGS.c.start_utc < sa.bindparam("end"),
        _BOOKINGS.c.end_utc > sa.bindparam("start"),
    )
)
_COUNTER_VALUE = sa.select(_COUNTERS.c.value).where(
    _COUNTERS.c.name == sa.bindparam("counter")
)
_RAISE_COUNTER = (
    sa.update(_COUNTERS)
    .where(
        _COUNTERS.c.name == sa.bindparam("counter"),
        _COUNTERS.c.value < sa.bindparam("at_least"),
    )
    .values(value=sa.bindparam("at_least"))
)
_SITE_WINDOWS = sa.select(_BOOKINGS.c.start_utc, _BOOKINGS.c.end_utc).where(
    _BOOKINGS.c.site_id == sa.bindparam("site_id")
)
_INSERT_BOOKING = sa.insert(_BOOKINGS)
_UPDATE_BOOKING = (
    sa.update(_BOOKINGS)
    .where(
        _BOOKINGS.c.id == sa.bindparam("b_id"),
        _BOOKINGS.c.version == sa.bindparam("b_previous_version"),
    )
    # SET parameters may not share a column's name; prefix them.
    .values({name: sa.bindparam(f"b_{name}") for name in BOOKING_COLUMNS})
)
_DELETE_PAD_SLOTS = sa.delete(_PAD_SLOTS).where(
    _PAD_SLOTS.c.booking_id == sa.bindparam("booking_id")
)
_INSERT_PAD_SLOT = sa.insert(_PAD_SLOTS)
_DRONE_BY_ID = sa.select(_DRONES).where(_DRONES.c.id == sa.bindparam("id"))
_DRONES_OF_SITE = (
    sa.select(_DRONES)
    .where(_DRONES.c.site_id == sa.bindparam("site_id"))
    .order_by(_DRONES.c.id)
)
_INSERT_DRONE = sa.insert(_DRONES)
_CLOSURE_BY_ID = sa.select(_CLOSURES).where(_CLOSURES.c.id == sa.bindparam("id"))
_CLOSURES_OVERLAPPING = sa.select(_CLOSURES).where(
    _CLOSURES.c.site_id == sa.bindparam("site_id"),
    _CLOSURES.c.start_utc < sa.bindparam("end"),
    _CLOSURES.c.end_utc > sa.bindparam("start"),
)
_INSERT_CLOSURE = sa.insert(_CLOSURES)
_DELETE_CLOSURE = sa.delete(_CLOSURES).where(_CLOSURES.c.id == sa.bindparam("id"))
_SITE_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:site, 0))")


def _write(
    conn: sa.Connection,
    statement: sa.Executable,
    params: dict[str, Any] | list[dict[str, Any]],
) -> sa.CursorResult[Any]:
    # A constraint that trips here (PostgreSQL pad exclusion, unique sysid) is a
    # conflict the caller can report, not a crash.
    try:
        return conn.execute(statement, params)
    except IntegrityError as exc:
        raise integrity_conflict(exc) from exc


_SPANS_SEEN = "skyberth.booking_spans_s"
"""``Session.info`` key: the sites' longest-booking spans read in this transaction."""


def forget_spans(session: Session) -> None:
    """Drop the spans ``SqlBookings`` remembered for ``session``'s transaction.

    The unit of work calls it when the transaction ends (commit or rollback).
    """
    session.info.pop(_SPANS_SEEN, None)


def _span_counter(site_id: str) -> str:
    return f"booking_span_s:{site_id}"


def _span_s(start: datetime, end: datetime) -> int:
    """Return ``end - start`` in whole seconds, rounded up (never under)."""
    return math.ceil((end - start).total_seconds())


def _next_value(conn: sa.Connection, name: str) -> int:
    # One UPDATE ... RETURNING per id: row-locked on PostgreSQL, and serialised by
    # BEGIN IMMEDIATE on SQLite, so two writers never get the same id.
    result = conn.execute(_NEXT_VALUE, {"counter": name}).scalar_one_or_none()
    if result is not None:
        return int(result)
    conn.execute(_INSERT_COUNTER, {"name": name, "value": 1})
    return 1


class SqlDrones:
    """Drones in the database."""

    def __init__(self, session: Session) -> None:
        self._c = session.connection()

    def get(self, drone_id: DroneId) -> Drone | None:
        row = self._c.execute(_DRONE_BY_ID, {"id": drone_id}).first()
        return drone_from_row(row) if row else None

    def for_site(self, site_id: SiteId) -> list[Drone]:
        rows = self._c.execute(_DRONES_OF_SITE, {"site_id": site_id})
        return [drone_from_row(r) for r in rows]

    def add(self, drone: Drone) -> None:
        _write(
            self._c,
            _INSERT_DRONE,
            {
                "id": drone.id,
                "name": drone.name,
                "site_id": drone.site_id,
                "operator_id": drone.operator_id,
                "mavlink_sysid": drone.mavlink_sysid,
                "max_takeoff_mass_kg": drone.max_takeoff_mass_kg,
                "signing_key": drone.signing_key,
                **drone_registration_columns(drone),
            },
        )


class SqlBookings:
    """Bookings in the database; ``for_update`` locks the site's schedule."""

    def __init__(self, session: Session, sites: SiteCatalogue) -> None:
        self._c = session.connection()
        self._sites = sites
        # Spans read under this transaction's lock, by counter name: they cannot
        # change before it ends (the unit of work forgets them when it does).
        self._spans: dict[str, int] = session.info.setdefault(_SPANS_SEEN, {})

    def next_id(self) -> BookingId:
        return BookingId(_next_value(self._c, "booking"))

    def get(self, booking_id: BookingId) -> Booking | None:
        row = self._c.execute(_BOOKING_BY_ID, {"id": booking_id}).first()
        return booking_from_row(row) if row else None

    def for_update(self, site_id: SiteId, window: TimeWindow) -> list[Booking]:
        """Lock the site's schedule; return its occupying bookings over ``window``.

        The query is bounded below by the site's longest stored booking: no
        booking lasts longer, so one that starts more than that before ``window``
        has ended before it. Without the bound the index on ``(site_id,
        start_utc)`` reads every earlier booking of the site, and each check, made
        under the write lock, grew with the whole history.
        """
        if self._c.dialect.name == "postgresql":
            self._c.execute(_SITE_LOCK, {"site": f"skyberth.site.{site_id}"})
        longest = timedelta(seconds=self._longest_booking_s(site_id))
        rows = self._c.execute(
            _SCHEDULE,
            {
                "site_id": site_id,
                "earliest_start": window.start - longest,
                "start": window.start,
                "end": window.end,
            },
        )
        return [booking_from_row(r) for r in rows]

    def count_held(self, operator_id: OperatorId, window: TimeWindow) -> int:
        """Count the operator's pending and approved bookings overlapping ``window``."""
        count = self._c.execute(
            _HELD,
            {"operator_id": operator_id, "start": window.start, "end": window.end},
        ).scalar_one()
        return int(count)

    def lock_schedule(self, site_id: SiteId, window: TimeWindow) -> None:
        """Lock the site's schedule (see ``for_update``) and read nothing.

        On SQLite the write transaction's ``BEGIN IMMEDIATE`` already holds the
        database's one write lock; PostgreSQL takes the same advisory lock as
        ``for_update``, so the two serialise with each other.
        """
        if self._c.dialect.name == "postgresql":
            self._c.execute(_SITE_LOCK, {"site": f"skyberth.site.{site_id}"})

    def _longest_booking_s(self, site_id: SiteId) -> int:
        # The span is raised by every add and save in the same transaction, so it
        # never falls behind the stored bookings; a database that predates it (or
        # lost the row) gets it computed from every booking of the site, once.
        name = _span_counter(site_id)
        stored = self._c.execute(_COUNTER_VALUE, {"counter": name}).scalar()
        if stored is None:
            windows = self._c.execute(_SITE_WINDOWS, {"site_id": site_id})
            stored = max((_span_s(as_utc(s), as_utc(e)) for s, e in windows), default=0)
            self._c.execute(_INSERT_COUNTER, {"name": name, "value": stored})
        self._spans[name] = int(stored)
        return int(stored)

    def _raise_longest(self, booking: Booking) -> None:
        # Skipped when this transaction's for_update saw a span at least as long;
        # otherwise an UPDATE that changes the row only for the longest booking yet.
        # When the row is missing, the next for_update computes it, this included.
        name = _span_counter(booking.site_id)
        span_s = _span_s(booking.window.start, booking.window.end)
        if span_s <= self._spans.get(name, -1):
            return
        self._c.execute(_RAISE_COUNTER, {"counter": name, "at_least": span_s})
        if name in self._spans:
            self._spans[name] = span_s

    def add(self, booking: Booking) -> None:
        _write(self._c, _INSERT_BOOKING, {"id": booking.id, **booking_values(booking)})
        self._raise_longest(booking)
        # A new id has no pad slots yet: insert without the delete.
        self._insert_pad_slots(booking)

    def save(self, booking: Booking) -> None:
        params = {f"b_{k}": v for k, v in booking_values(booking).items()}
        params |= {"b_id": booking.id, "b_previous_version": booking.version - 1}
        updated = _write(self._c, _UPDATE_BOOKING, params)
        if updated.rowcount != 1:
            if self.get(booking.id) is None:
                raise KeyError(f"booking {booking.id} is not stored")
            raise BookingConflict(
                Rule.CONCURRENT_WRITE,
                f"booking {booking.id} was changed by someone else meanwhile",
                booking_ids=[booking.id],
            )
        self._raise_longest(booking)
        self._c.execute(_DELETE_PAD_SLOTS, {"booking_id": booking.id})
        self._insert_pad_slots(booking)

    def _insert_pad_slots(self, booking: Booking) -> None:
        site = self._sites.get(booking.site_id)
        if not booking.occupies or site is None or not booking.pad_ids:
            return
        slots = [
            {
                "booking_id": booking.id,
                "site_id": booking.site_id,
                "pad_id": pad_id,
                "start_utc": booking.window.start,
                "end_utc": booking.window.end
                + timedelta(minutes=site.pad(pad_id).turnaround_min),
            }
            for pad_id in booking.pad_ids
        ]
        _write(self._c, _INSERT_PAD_SLOT, slots)


class SqlClosures:
    """Closures in the database."""

    def __init__(self, session: Session) -> None:
        self._c = session.connection()

    def next_id(self) -> ClosureId:
        return ClosureId(_next_value(self._c, "closure"))

    def get(self, closure_id: ClosureId) -> Closure | None:
        row = self._c.execute(_CLOSURE_BY_ID, {"id": closure_id}).first()
        return closure_from_row(row) if row else None

    def overlapping(self, site_id: SiteId, window: TimeWindow) -> list[Closure]:
        rows = self._c.execute(
            _CLOSURES_OVERLAPPING,
            {"site_id": site_id, "start": window.start, "end": window.end},
        )
        return [closure_from_row(r) for r in rows]

    def add(self, closure: Closure) -> None:
        row = closure_to_row(closure)
        values = {c.name: getattr(row, c.name) for c in _CLOSURES.columns}
        _write(self._c, _INSERT_CLOSURE, values)

    def remove(self, closure_id: ClosureId) -> None:
        self._c.execute(_DELETE_CLOSURE, {"id": closure_id})


def integrity_conflict(exc: IntegrityError) -> BookingConflict:
    """Return the ``BookingConflict`` a database constraint violation stands for."""
    text = str(exc.orig)
    if "pad_slots_no_overlap" in text:
        return BookingConflict(
            Rule.CONCURRENT_WRITE,
            "the pad was booked by a concurrent request; try again",
        )
    if "mavlink_sysid" in text:
        return BookingConflict(
            Rule.SYSID_TAKEN, "that MAVLink system id is already registered"
        )
    return BookingConflict(Rule.CONCURRENT_WRITE, f"database refused: {text}")
