"""The SQL unit of work: one transaction over the booking repositories.

It honours the concurrency contract of ``booking.ports``:

- SQLite: the unit of work's session is opened by the caller's ``session_factory``
  with ``BEGIN IMMEDIATE`` (``web.db.write_session``), so a whole unit of work holds
  the database's single write lock from its first read.
- PostgreSQL: ``bookings.for_update`` takes a transaction-scoped advisory lock per
  site, and the ``pad_slots`` table carries an exclusion constraint (btree_gist,
  ``tstzrange &&``) as a second line of defence; a violation surfaces as
  ``BookingConflict`` with rule ``concurrent_write``.

Events emitted in a unit of work are published after its commit only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Self

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from booking.audit_log import SqlAudit
from booking.flight_edit_store import SqlFlightEdits
from booking.flight_form_store import SqlFlightForms
from booking.model import DomainEvent
from booking.ports import SiteCatalogue
from booking.repositories import (
    SqlBookings,
    SqlClosures,
    SqlDrones,
    forget_spans,
    integrity_conflict,
)

SessionFactory = Callable[[], AbstractContextManager[Session]]


class SessionScope:
    """One transaction for the length of a ``with`` block: the shape of every unit of
    work here (bookings, incidents).

    ``session_factory`` opens the transaction and ends it when the block ends (it
    commits or rolls back as it was written to, e.g. ``web.db.write_session``).
    Subclasses hook ``_opened`` and ``_closing``.
    """

    def __init__(self, session_factory: SessionFactory) -> None:
        self._factory = session_factory
        self._context: AbstractContextManager[Session] | None = None
        self._session: Session | None = None

    def __enter__(self) -> Self:
        self._context = self._factory()
        self._session = self._context.__enter__()
        self._opened()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._context is None:
            raise RuntimeError("unit of work exited without being entered")
        self._closing()
        context, self._context, self._session = self._context, None, None
        context.__exit__(exc_type, exc, tb)

    @property
    def session(self) -> Session:
        """The open session (inside ``with`` only)."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open; use 'with uow:'")
        return self._session

    def _opened(self) -> None:
        """Called once the transaction is open."""

    def _closing(self) -> None:
        """Called before the transaction ends."""


class SqlUnitOfWork(SessionScope):
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
        super().__init__(session_factory)
        self._catalogue = sites
        self._publish = publish
        self._events: list[DomainEvent] = []
        self._forget_repositories()

    def _forget_repositories(self) -> None:
        # Repositories hold the transaction's connection: one set per transaction,
        # made on first use (a service touches them a few times per request).
        self._drones: SqlDrones | None = None
        self._bookings: SqlBookings | None = None
        self._closures: SqlClosures | None = None
        self._audit: SqlAudit | None = None
        self._flight_forms: SqlFlightForms | None = None
        self._flight_edits: SqlFlightEdits | None = None

    def _opened(self) -> None:
        self._events = []
        self._forget_repositories()

    def _closing(self) -> None:
        self.rollback()
        self._forget_repositories()

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

    @property
    def flight_forms(self) -> SqlFlightForms:
        if self._flight_forms is None:
            self._flight_forms = SqlFlightForms(self.session)
        return self._flight_forms

    @property
    def flight_edits(self) -> SqlFlightEdits:
        if self._flight_edits is None:
            self._flight_edits = SqlFlightEdits(self.session)
        return self._flight_edits

    def emit(self, event: DomainEvent) -> None:
        self._events.append(event)

    def commit(self) -> None:
        forget_spans(self.session)
        self._forget_repositories()
        try:
            self.session.commit()
        except IntegrityError as exc:
            self.session.rollback()
            self._events = []
            raise integrity_conflict(exc) from exc
        events, self._events = self._events, []
        if events:
            self._publish(events)

    def rollback(self) -> None:
        self._events = []
        self._forget_repositories()
        if self._session is not None:
            forget_spans(self._session)
            self._session.rollback()
