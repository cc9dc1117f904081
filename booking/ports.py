"""The ports the booking services need: repositories and the unit of work.

``booking/repositories.py`` and ``booking/unit_of_work.py`` implement them on SQLModel;
unit tests implement them with in-memory fakes. Services open the unit of work with
``with uow:``, read and write through its repositories, call ``uow.commit()`` and
otherwise leave (raising) so that ``__exit__`` rolls back.

The concurrency contract the store must honour
----------------------------------------------
No two conflicting bookings may both commit, and no booking may commit past a closure
being created for it. The services read everything a decision depends on through
``bookings.for_update(site_id, window)`` *before* reading closures or deciding, so:

1. ``bookings.for_update(site_id, window)`` serialises writers per site: from that
   call until commit or rollback, no other unit of work may commit a booking or a
   closure for ``site_id``. On SQLite open the transaction with ``BEGIN IMMEDIATE``
   (one writer for the whole file); on PostgreSQL take
   ``pg_advisory_xact_lock(<site key>)`` or ``SELECT ... FOR UPDATE`` a per-site lock
   row, or run at ``SERIALIZABLE``. Any of these makes the domain's check-then-insert
   atomic. The lock must be taken even when the window holds no bookings yet, and
   reads made after it (``get``, ``closures.overlapping``) must see the latest
   committed state (state changes re-read their booking after locking).
2. Alternatively (optimistic): the store records the site's schedule version when
   ``for_update`` runs and ``commit`` bumps it, failing when another writer bumped it
   first. It must then raise ``BookingConflict`` with rule ``Rule.CONCURRENT_WRITE``
   and write nothing; the client may retry.
3. ``for_update`` returns every booking of the site whose state occupies resources
   (pending, approved, active) and whose window overlaps ``window``. Callers widen the
   window by ``rules.lookaround(site)`` so pad turnaround is covered.
4. ``BookingRepository.save`` replaces a booking by id; a store may also check that
   the stored ``version`` is ``booking.version - 1`` and raise ``CONCURRENT_WRITE``.
5. ``audit.append`` entries and ``emit``-ted events become visible only if the unit of
   work commits; audit rows are append-only (never updated or deleted). Events are
   published after commit, in emission order.
6. Drone registration takes no schedule lock: the store keeps ``(site_id,
   mavlink_sysid)`` and drone ids unique with constraints and raises
   ``BookingRuleViolation`` (rule ``Rule.SYSID_TAKEN``) when one trips.
7. A store may add a second line of defence (a PostgreSQL exclusion constraint on
   pad and time range); the domain's refusal stays the user-facing message.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from airspace.site import Site, SiteId
from airspace.volume import TimeWindow
from booking.model import (
    AuditEntry,
    Booking,
    BookingId,
    Closure,
    ClosureId,
    DomainEvent,
    Drone,
    DroneId,
    OperatorId,
)
from booking.rules import SitePolicy


class SiteCatalogue(Protocol):
    """Read-only access to the sites this instance serves and their policies."""

    def get(self, site_id: SiteId) -> Site | None:
        """Return the site, or None when this instance does not serve it."""

    def policy(self, site_id: SiteId) -> SitePolicy:
        """Return the site's booking policy (opening hours, horizon, durations)."""


class DroneRepository(Protocol):
    """Registered drones."""

    def get(self, drone_id: DroneId) -> Drone | None:
        """Return the drone, or None."""

    def for_site(self, site_id: SiteId) -> list[Drone]:
        """Return every drone registered at the site."""

    def add(self, drone: Drone) -> None:
        """Register a new drone (its id is new)."""


class BookingRepository(Protocol):
    """Bookings; ``for_update`` is the serialisation point (see the module doc)."""

    def next_id(self) -> BookingId:
        """Return a fresh booking id, never handed out before."""

    def get(self, booking_id: BookingId) -> Booking | None:
        """Return the booking, or None."""

    def for_update(self, site_id: SiteId, window: TimeWindow) -> list[Booking]:
        """Lock the site's schedule until commit/rollback and return its occupying
        bookings whose windows overlap ``window``."""

    def count_held(self, operator_id: OperatorId, window: TimeWindow) -> int:
        """Return how many of the operator's bookings, at any site, are pending or
        approved and overlap ``window`` (for the booking quota)."""

    def lock_schedule(self, site_id: SiteId, window: TimeWindow) -> None:
        """Take ``for_update``'s lock without reading the schedule: for changes to
        one booking (approve, activate, cancel) that need no list of the others."""

    def add(self, booking: Booking) -> None:
        """Store a new booking."""

    def save(self, booking: Booking) -> None:
        """Replace the stored booking with the same id (a state change)."""


class ClosureRepository(Protocol):
    """Closures of pads, corridors and areas."""

    def next_id(self) -> ClosureId:
        """Return a fresh closure id, never handed out before."""

    def get(self, closure_id: ClosureId) -> Closure | None:
        """Return the closure, or None."""

    def overlapping(self, site_id: SiteId, window: TimeWindow) -> list[Closure]:
        """Return the site's closures whose windows overlap ``window``."""

    def add(self, closure: Closure) -> None:
        """Store a new closure."""

    def remove(self, closure_id: ClosureId) -> None:
        """Delete the closure (its record lives on in the audit log)."""


class AuditLog(Protocol):
    """The append-only audit trail."""

    def append(self, entry: AuditEntry) -> None:
        """Record ``entry``; it is kept only if the unit of work commits."""


class UnitOfWork(Protocol):
    """One atomic change: the repositories, the audit log, events, commit/rollback.

    ``__exit__`` rolls back whatever was not committed.
    """

    @property
    def sites(self) -> SiteCatalogue: ...

    @property
    def drones(self) -> DroneRepository: ...

    @property
    def bookings(self) -> BookingRepository: ...

    @property
    def closures(self) -> ClosureRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    def emit(self, event: DomainEvent) -> None:
        """Queue ``event`` for publication after a successful commit."""

    def commit(self) -> None:
        """Make every change of this unit of work durable, atomically."""

    def rollback(self) -> None:
        """Discard every uncommitted change, audit entry and event."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
