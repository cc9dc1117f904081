"""The replay tracks: about one position a second per vehicle, kept for replay.

``track_samples`` (created by the Alembic migration ``0002``) holds downsampled
positions; unlike incident evidence they are purged by retention
(``TrackStore.purge_track_before``). The recorder's database writer appends them in
batches; replays and reports read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, select

from airspace.site import SiteId
from booking.model import BookingId, DroneId
from telemetry.bulk_insert import insert_rows
from telemetry.incidents.model import TrackSample, require_utc
from telemetry.incidents.repository import SessionFactory
from telemetry.incidents.tables import BigId


class TrackSampleRow(SQLModel, table=True):
    """One downsampled replay position."""

    __tablename__ = "track_samples"
    __table_args__ = (
        sa.Index("ix_track_samples_booking_t", "booking_id", "t_s"),
        sa.Index("ix_track_samples_vehicle_t", "vehicle_key", "t_s"),
        sa.Index("ix_track_samples_t", "t_s"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    site_id: str
    vehicle_key: str
    sysid: int
    drone_id: str | None = None
    booking_id: int | None = None
    t_s: float
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    rel_alt_m: float
    speed_mps: float
    heading_deg: float | None = None
    battery_pct: float | None = None
    state: str


# Tracks go in as plain multi-row inserts (``bulk_insert``), not through the ORM:
# its bulk machinery runs per row, and the writer thread must not step the
# database once per row (see that module).
_TRACK_COLUMNS: Final = (
    "site_id",
    "vehicle_key",
    "sysid",
    "drone_id",
    "booking_id",
    "t_s",
    "lat_deg",
    "lon_deg",
    "alt_amsl_m",
    "rel_alt_m",
    "speed_mps",
    "heading_deg",
    "battery_pct",
    "state",
)


def _track_row(s: TrackSample) -> tuple[Any, ...]:
    """``s`` as a tuple in ``_TRACK_COLUMNS`` order."""
    return (
        s.site_id,
        s.vehicle_key,
        s.sysid,
        s.drone_id,
        s.booking_id,
        s.t_s,
        s.lat_deg,
        s.lon_deg,
        s.alt_amsl_m,
        s.rel_alt_m,
        s.speed_mps,
        s.heading_deg,
        s.battery_pct,
        s.state,
    )


def _track_from_row(row: TrackSampleRow) -> TrackSample:
    return TrackSample(
        site_id=SiteId(row.site_id),
        vehicle_key=row.vehicle_key,
        sysid=row.sysid,
        t_s=row.t_s,
        lat_deg=row.lat_deg,
        lon_deg=row.lon_deg,
        alt_amsl_m=row.alt_amsl_m,
        rel_alt_m=row.rel_alt_m,
        speed_mps=row.speed_mps,
        heading_deg=row.heading_deg,
        battery_pct=row.battery_pct,
        state=row.state,
        drone_id=DroneId(row.drone_id) if row.drone_id else None,
        booking_id=BookingId(row.booking_id) if row.booking_id is not None else None,
    )


class TrackStore:
    """Replay positions in the database: append, read, purge.

    ``session_factory`` opens write transactions (on SQLite it must begin with
    ``BEGIN IMMEDIATE``: ``web.db.write_session``); ``read_session_factory``, when
    given, opens plain read sessions so readers do not queue for the write lock.
    Every method is synchronous and blocking: call it from a worker thread, never
    the event loop.
    """

    def __init__(
        self,
        session_factory: SessionFactory,
        read_session_factory: SessionFactory | None = None,
    ) -> None:
        self._write = session_factory
        self._read = read_session_factory or session_factory

    def append_track(self, samples: Sequence[TrackSample]) -> int:
        """Insert replay positions in one transaction; return how many."""
        if not samples:
            return 0
        rows = [_track_row(x) for x in samples]
        with self._write() as s:
            insert_rows(s.connection(), "track_samples", _TRACK_COLUMNS, rows)
        return len(samples)

    def track(
        self,
        *,
        booking_id: int | None = None,
        vehicle_key: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[TrackSample]:
        """Return a booking's or a vehicle's replay positions in time order.

        At least one of ``booking_id`` and ``vehicle_key`` is needed; ``start``/
        ``end`` (aware UTC) bound the samples to ``[start, end)``.
        """
        if booking_id is None and vehicle_key is None:
            raise ValueError("a track needs a booking id or a vehicle key")
        query = select(TrackSampleRow)
        if booking_id is not None:
            query = query.where(TrackSampleRow.booking_id == booking_id)
        if vehicle_key is not None:
            query = query.where(TrackSampleRow.vehicle_key == vehicle_key)
        if start is not None:
            since = require_utc(start, "start").timestamp()
            query = query.where(col(TrackSampleRow.t_s) >= since)
        if end is not None:
            until = require_utc(end, "end").timestamp()
            query = query.where(col(TrackSampleRow.t_s) < until)
        query = query.order_by(col(TrackSampleRow.t_s), col(TrackSampleRow.id))
        if limit is not None:
            if limit < 1:
                raise ValueError(f"limit must be positive, not {limit}")
            query = query.limit(limit)
        with self._read() as s:
            return [_track_from_row(r) for r in s.exec(query)]

    def purge_track_before(self, before: datetime, batch_rows: int = 10_000) -> int:
        """Delete replay positions older than ``before``; return how many.

        Deletes in transactions of ``batch_rows`` so a large purge never holds the
        write lock long enough to delay an incident. Evidence is never purged.
        """
        cutoff = require_utc(before, "purge time").timestamp()
        total = 0
        while True:
            with self._write() as s:
                batch = (
                    sa.select(col(TrackSampleRow.id))
                    .where(col(TrackSampleRow.t_s) < cutoff)
                    .limit(batch_rows)
                    .scalar_subquery()
                )
                result = s.execute(
                    sa.delete(TrackSampleRow).where(col(TrackSampleRow.id).in_(batch))
                )
                deleted = int(getattr(result, "rowcount", 0) or 0)
            total += deleted
            if deleted < batch_rows:
                return total
