"""SQLModel storage for the booking domain: tables, repositories, unit of work.

The domain objects stay plain dataclasses; this module maps them to rows and back.
It honours the concurrency contract of ``booking.ports``:

- SQLite: the unit of work's session is opened by the caller's ``session_factory``
  with ``BEGIN IMMEDIATE`` (``web.db.write_session``), so a whole unit of work holds
  the database's single write lock from its first read.
- PostgreSQL: ``bookings.for_update`` takes a transaction-scoped advisory lock per
  site, and the ``pad_slots`` table carries an exclusion constraint (btree_gist,
  ``tstzrange &&``) as a second line of defence; a violation surfaces as
  ``BookingConflict`` with rule ``concurrent_write``.

Times are stored as UTC and always returned timezone-aware. Audit rows are
append-only: the migration installs triggers that refuse UPDATE and DELETE.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

import shapely
import sqlalchemy as sa
from shapely.geometry import Polygon
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from airspace.site import CorridorId, PadId, Site, SiteId
from airspace.volume import TimeWindow, Volume
from booking.audit_chain import GENESIS_HASH, chained
from booking.errors import BookingConflict, Rule
from booking.model import (
    OCCUPYING_STATES,
    AuditEntry,
    Booking,
    BookingId,
    BookingState,
    ClosedArea,
    ClosedCorridor,
    ClosedPad,
    Closure,
    ClosureId,
    DomainEvent,
    Drone,
    DroneId,
    Operator,
    OperatorId,
    Role,
    User,
    UserId,
)
from booking.ports import SiteCatalogue
from booking.rules import SitePolicy

UtcDateTime = sa.DateTime(timezone=True)


def _utc(t: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored here is UTC.
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


class OperatorRow(SQLModel, table=True):
    """An operator organisation."""

    __tablename__ = "operators"
    id: str = Field(primary_key=True)
    name: str


class UserRow(SQLModel, table=True):
    """A user and their argon2 password hash."""

    __tablename__ = "users"
    id: str = Field(primary_key=True)
    username: str = Field(unique=True, index=True)
    password_hash: str
    role: str
    operator_id: str | None = Field(default=None, foreign_key="operators.id")
    created_at: datetime = Field(sa_type=UtcDateTime)


class DroneRow(SQLModel, table=True):
    """A registered drone; ``(site_id, mavlink_sysid)`` is unique."""

    __tablename__ = "drones"
    __table_args__ = (sa.UniqueConstraint("site_id", "mavlink_sysid"),)
    id: str = Field(primary_key=True)
    name: str
    site_id: str = Field(index=True)
    operator_id: str = Field(foreign_key="operators.id", index=True)
    mavlink_sysid: int
    max_takeoff_mass_kg: float
    signing_key: bytes | None = None


class BookingRow(SQLModel, table=True):
    """A booking of pads and/or a corridor for a window."""

    __tablename__ = "bookings"
    __table_args__ = (sa.Index("ix_bookings_site_window", "site_id", "start_utc"),)
    id: int = Field(primary_key=True)
    site_id: str
    drone_id: str = Field(foreign_key="drones.id", index=True)
    operator_id: str = Field(foreign_key="operators.id", index=True)
    requested_by: str
    start_utc: datetime = Field(sa_type=UtcDateTime)
    end_utc: datetime = Field(sa_type=UtcDateTime)
    takeoff_pad_id: str | None = None
    landing_pad_id: str | None = None
    corridor_id: str | None = None
    state: str = Field(index=True)
    created_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    version: int = 0


class PadSlotRow(SQLModel, table=True):
    """A pad held by an occupying booking over ``[start, end + turnaround)``.

    Two bookings conflict on a pad exactly when these padded ranges overlap, so on
    PostgreSQL an exclusion constraint over them is the database's own guarantee.
    """

    __tablename__ = "pad_slots"
    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="bookings.id", index=True)
    site_id: str
    pad_id: str
    start_utc: datetime = Field(sa_type=UtcDateTime)
    end_utc: datetime = Field(sa_type=UtcDateTime)


class ClosureRow(SQLModel, table=True):
    """A closure of a pad, a corridor or an area (WKT in site metres + band)."""

    __tablename__ = "closures"
    id: int = Field(primary_key=True)
    site_id: str = Field(index=True)
    target_kind: str
    target_id: str | None = None
    area_wkt: str | None = None
    floor_amsl_m: float | None = None
    ceiling_amsl_m: float | None = None
    start_utc: datetime = Field(sa_type=UtcDateTime)
    end_utc: datetime = Field(sa_type=UtcDateTime)
    reason: str
    created_by: str
    created_at: datetime = Field(sa_type=UtcDateTime)


class AuditRow(SQLModel, table=True):
    """One append-only audit record."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UtcDateTime, index=True)
    actor_id: str
    actor_role: str
    action: str = Field(index=True)
    subject_kind: str
    subject_id: str
    before_json: str | None = None
    after_json: str | None = None
    note: str = ""
    # The hash chain (booking.audit_chain); unique so the chain cannot fork.
    prev_hash: str | None = Field(default=None, sa_type=sa.String(64))
    hash: str | None = Field(default=None, sa_type=sa.String(64))
    __table_args__ = (sa.Index("ux_audit_log_prev_hash", "prev_hash", unique=True),)


class IdCounterRow(SQLModel, table=True):
    """Named integers the store keeps in step with its writes: id counters for rows
    whose id the domain needs before inserting, and each site's longest booking
    (``booking_span_s:<site>``, see ``SqlBookings.for_update``)."""

    __tablename__ = "id_counters"
    name: str = Field(primary_key=True)
    value: int = 0


# --- mapping -----------------------------------------------------------------


def booking_from_row(row: BookingRow | sa.Row[Any]) -> Booking:
    """Return the domain booking stored in ``row`` (an ORM row or a Core row)."""
    return Booking(
        id=BookingId(row.id),
        site_id=SiteId(row.site_id),
        drone_id=DroneId(row.drone_id),
        operator_id=OperatorId(row.operator_id),
        requested_by=UserId(row.requested_by),
        window=TimeWindow(_utc(row.start_utc), _utc(row.end_utc)),
        takeoff_pad_id=PadId(row.takeoff_pad_id) if row.takeoff_pad_id else None,
        landing_pad_id=PadId(row.landing_pad_id) if row.landing_pad_id else None,
        corridor_id=CorridorId(row.corridor_id) if row.corridor_id else None,
        state=BookingState(row.state),
        created_at=_utc(row.created_at) if row.created_at else None,
        version=row.version,
    )


_BOOKING_COLUMNS = (
    "site_id",
    "drone_id",
    "operator_id",
    "requested_by",
    "start_utc",
    "end_utc",
    "takeoff_pad_id",
    "landing_pad_id",
    "corridor_id",
    "state",
    "created_at",
    "version",
)


def _booking_values(b: Booking) -> dict[str, Any]:
    """Return the stored columns of ``b`` but its id (``_BOOKING_COLUMNS``)."""
    return {
        "site_id": b.site_id,
        "drone_id": b.drone_id,
        "operator_id": b.operator_id,
        "requested_by": b.requested_by,
        "start_utc": b.window.start,
        "end_utc": b.window.end,
        "takeoff_pad_id": b.takeoff_pad_id,
        "landing_pad_id": b.landing_pad_id,
        "corridor_id": b.corridor_id,
        "state": str(b.state),
        "created_at": b.created_at,
        "version": b.version,
    }


def drone_from_row(row: DroneRow | sa.Row[Any]) -> Drone:
    """Return the domain drone stored in ``row`` (an ORM row or a Core row)."""
    return Drone(
        id=DroneId(row.id),
        name=row.name,
        site_id=SiteId(row.site_id),
        operator_id=OperatorId(row.operator_id),
        mavlink_sysid=row.mavlink_sysid,
        max_takeoff_mass_kg=row.max_takeoff_mass_kg,
        signing_key=row.signing_key,
    )


def closure_from_row(row: ClosureRow | sa.Row[Any]) -> Closure:
    """Return the domain closure stored in ``row`` (an ORM row or a Core row)."""
    target: ClosedPad | ClosedCorridor | ClosedArea
    if row.target_kind == "pad" and row.target_id:
        target = ClosedPad(PadId(row.target_id))
    elif row.target_kind == "corridor" and row.target_id:
        target = ClosedCorridor(CorridorId(row.target_id))
    else:
        outline = shapely.from_wkt(row.area_wkt or "")
        if not isinstance(outline, Polygon):
            raise ValueError(f"closure {row.id}: stored area is not a polygon")
        target = ClosedArea(
            Volume(outline, row.floor_amsl_m or 0.0, row.ceiling_amsl_m or 0.0)
        )
    return Closure(
        id=ClosureId(row.id),
        site_id=SiteId(row.site_id),
        target=target,
        window=TimeWindow(_utc(row.start_utc), _utc(row.end_utc)),
        reason=row.reason,
        created_by=UserId(row.created_by),
        created_at=_utc(row.created_at),
    )


def closure_to_row(c: Closure) -> ClosureRow:
    """Return the row that stores closure ``c``."""
    row = ClosureRow(
        id=c.id,
        site_id=c.site_id,
        target_kind="area",
        start_utc=c.window.start,
        end_utc=c.window.end,
        reason=c.reason,
        created_by=c.created_by,
        created_at=c.created_at,
    )
    match c.target:
        case ClosedPad(pad_id):
            row.target_kind, row.target_id = "pad", pad_id
        case ClosedCorridor(corridor_id):
            row.target_kind, row.target_id = "corridor", corridor_id
        case ClosedArea(volume):
            row.area_wkt = shapely.to_wkt(volume.outline, rounding_precision=-1)
            row.floor_amsl_m = volume.floor_amsl_m
            row.ceiling_amsl_m = volume.ceiling_amsl_m
    return row


def user_from_row(row: UserRow | sa.Row[Any]) -> User:
    """Return the domain user stored in ``row`` (an ORM row or a Core row)."""
    return User(
        id=UserId(row.id),
        name=row.username,
        role=Role(row.role),
        operator_id=OperatorId(row.operator_id) if row.operator_id else None,
    )


# --- repositories ---------------------------------------------------------------
#
# The repositories below speak SQLAlchemy Core on the session's connection, with
# statements built once at import: the booking write path runs under the site's
# write lock, and ORM flushes and per-call statement building cost several times
# the SQL itself there (see bench/booking.py). Nothing is left pending in the
# session, so every write reaches the database when its method returns, and a
# constraint it trips surfaces right there as ``BookingConflict``.

_BOOKINGS = SQLModel.metadata.tables["bookings"]
_PAD_SLOTS = SQLModel.metadata.tables["pad_slots"]
_DRONES = SQLModel.metadata.tables["drones"]
_CLOSURES = SQLModel.metadata.tables["closures"]
_AUDIT = SQLModel.metadata.tables["audit_log"]
_COUNTERS = SQLModel.metadata.tables["id_counters"]
_USERS = SQLModel.metadata.tables["users"]

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
    .values({name: sa.bindparam(f"b_{name}") for name in _BOOKING_COLUMNS})
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
_INSERT_AUDIT = sa.insert(_AUDIT)
_USER_BY_ID = sa.select(_USERS).where(_USERS.c.id == sa.bindparam("id"))
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
        raise _integrity_conflict(exc) from exc


_SPANS_SEEN = "skyberth.booking_spans_s"
"""``Session.info`` key: the sites' longest-booking spans read in this transaction."""


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
            stored = max((_span_s(_utc(s), _utc(e)) for s, e in windows), default=0)
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
        _write(self._c, _INSERT_BOOKING, {"id": booking.id, **_booking_values(booking)})
        self._raise_longest(booking)
        # A new id has no pad slots yet: insert without the delete.
        self._insert_pad_slots(booking)

    def save(self, booking: Booking) -> None:
        params = {f"b_{k}": v for k, v in _booking_values(booking).items()}
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


class SqlAudit:
    """The append-only audit log, hash-chained (``booking.audit_chain``)."""

    _CHAIN_LOCK = sa.text(
        "SELECT pg_advisory_xact_lock(hashtextextended('skyberth.audit_chain', 0))"
    )
    _LAST_HASH = sa.select(_AUDIT.c.hash).order_by(_AUDIT.c.id.desc()).limit(1)

    def __init__(self, session: Session) -> None:
        self._c = session.connection()

    def append(self, entry: AuditEntry) -> None:
        values = {
            # UTC, as SQLite gives it back: the hash covers the value read back.
            "at": _utc(entry.at),
            "actor_id": entry.actor_id,
            "actor_role": str(entry.actor_role),
            "action": entry.action,
            "subject_kind": entry.subject_kind,
            "subject_id": entry.subject_id,
            "before_json": json.dumps(entry.before) if entry.before else None,
            "after_json": json.dumps(entry.after) if entry.after else None,
            "note": entry.note,
        }
        # Read the last hash and insert under one lock held to commit, or two
        # writers would chain onto the same record: BEGIN IMMEDIATE already
        # serialises SQLite writers; PostgreSQL takes the chain's advisory lock.
        if self._c.dialect.name == "postgresql":
            self._c.execute(self._CHAIN_LOCK)
        prev_hash = self._c.execute(self._LAST_HASH).scalar_one_or_none()
        self._c.execute(_INSERT_AUDIT, chained(prev_hash or GENESIS_HASH, values))


SessionFactory = Callable[[], AbstractContextManager[Session]]


class SqlUnitOfWork:
    """One transaction over the booking tables (see the module doc for locking).

    ``session_factory`` opens the transaction; for writes on SQLite it must begin
    with ``BEGIN IMMEDIATE`` (``web.db.write_session``). ``publish`` receives the
    events emitted in the unit of work, after a successful commit only.
    """

    def __init__(
        self,
        session_factory: SessionFactory,
        sites: SiteCatalogue,
        publish: Callable[[Sequence[DomainEvent]], None] = lambda events: None,
    ) -> None:
        self._factory = session_factory
        self._catalogue = sites
        self._publish = publish
        self._context: AbstractContextManager[Session] | None = None
        self._session: Session | None = None
        self._events: list[DomainEvent] = []
        self._forget_repositories()

    def _forget_repositories(self) -> None:
        # Repositories hold the transaction's connection: one set per transaction,
        # made on first use (a service touches them a few times per request).
        self._drones: SqlDrones | None = None
        self._bookings: SqlBookings | None = None
        self._closures: SqlClosures | None = None
        self._audit: SqlAudit | None = None

    def __enter__(self) -> Self:
        self._context = self._factory()
        self._session = self._context.__enter__()
        self._events = []
        self._forget_repositories()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._context is None:
            raise RuntimeError("unit of work exited without being entered")
        self.rollback()
        context, self._context, self._session = self._context, None, None
        self._forget_repositories()
        context.__exit__(exc_type, exc, tb)

    @property
    def session(self) -> Session:
        """The open session (inside ``with`` only)."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open; use 'with uow:'")
        return self._session

    @property
    def sites(self) -> SiteCatalogue:
        return self._catalogue

    @property
    def drones(self) -> SqlDrones:
        if self._drones is None:
            self._drones = SqlDrones(self.session)
        return self._drones

    @property
    def bookings(self) -> SqlBookings:
        if self._bookings is None:
            self._bookings = SqlBookings(self.session, self._catalogue)
        return self._bookings

    @property
    def closures(self) -> SqlClosures:
        if self._closures is None:
            self._closures = SqlClosures(self.session)
        return self._closures

    @property
    def audit(self) -> SqlAudit:
        if self._audit is None:
            self._audit = SqlAudit(self.session)
        return self._audit

    def emit(self, event: DomainEvent) -> None:
        self._events.append(event)

    def commit(self) -> None:
        self.session.info.pop(_SPANS_SEEN, None)
        self._forget_repositories()
        try:
            self.session.commit()
        except IntegrityError as exc:
            self.session.rollback()
            self._events = []
            raise _integrity_conflict(exc) from exc
        events, self._events = self._events, []
        if events:
            self._publish(events)

    def rollback(self) -> None:
        self._events = []
        self._forget_repositories()
        if self._session is not None:
            self._session.info.pop(_SPANS_SEEN, None)
            self._session.rollback()


def _integrity_conflict(exc: IntegrityError) -> BookingConflict:
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


@dataclass(frozen=True)
class StaticSiteCatalogue:
    """The sites this instance serves, with one booking policy each."""

    sites_by_id: dict[str, Site]
    default_policy: SitePolicy = field(default_factory=SitePolicy)
    policies: dict[str, SitePolicy] = field(default_factory=dict)

    def get(self, site_id: SiteId) -> Site | None:
        return self.sites_by_id.get(site_id)

    def policy(self, site_id: SiteId) -> SitePolicy:
        return self.policies.get(site_id, self.default_policy)


def user_by_id(connection: sa.Connection, user_id: str) -> User | None:
    """Return the user with id ``user_id``, or None.

    One Core query on a plain connection: authentication runs it on every request.
    """
    row = connection.execute(_USER_BY_ID, {"id": user_id}).first()
    return user_from_row(row) if row else None


class SqlUsers:
    """Operators and users (with password hashes) in the database."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add_operator(self, operator: Operator) -> None:
        if self._s.get(OperatorRow, operator.id) is None:
            self._s.add(OperatorRow(id=operator.id, name=operator.name))

    def add(self, user: User, password_hash: str, now: datetime) -> None:
        self._s.add(
            UserRow(
                id=user.id,
                username=user.name,
                password_hash=password_hash,
                role=str(user.role),
                operator_id=user.operator_id,
                created_at=now,
            )
        )

    def get(self, user_id: str) -> User | None:
        return user_by_id(self._s.connection(), user_id)

    def by_username(self, username: str) -> tuple[User, str] | None:
        """Return the user and their password hash, or None."""
        row = self._s.exec(select(UserRow).where(UserRow.username == username)).first()
        return (user_from_row(row), row.password_hash) if row else None
