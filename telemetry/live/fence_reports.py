"""The last fence report per booking, kept in the database across restarts.

``fence_reports`` (Alembic ``0010_fence_reports``; the reason's code and values
since ``0011_fence_reason_codes``) holds one row per booking: the
outcome of the latest upload to its aircraft (``telemetry.live.fence_upload``), so
the pages, the API and the activation rule (``require_verified_fence``) still know
a mismatch or a refusal after the server restarts. A newer upload replaces the
row: the report describes the aircraft's fence now, not a history (the warning
events and the log keep that).
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, select

from airspace.utc import as_utc
from telemetry.live.fence_upload import FenceReport, FenceState


class FenceReportRow(SQLModel, table=True):
    """A booking's latest fence report."""

    __tablename__ = "fence_reports"
    booking_id: int = Field(primary_key=True, foreign_key="bookings.id")
    state: str
    reason: str
    at_utc: datetime = Field(sa_type=sa.DateTime(timezone=True))
    vertices: int
    alt_max_m: float | None = None
    altitude: str
    differences: str
    """JSON list of the differences read back (``mismatch``)."""
    reason_code: str = ""
    """The reason's code; empty in rows stored before codes (their words only)."""
    reason_params: str = "{}"
    """JSON object of the values the reason's words are filled with."""


def _row(report: FenceReport) -> FenceReportRow:
    return FenceReportRow(
        booking_id=report.booking_id,
        state=report.state.value,
        reason=report.reason,
        at_utc=report.at_utc,
        vertices=report.vertices,
        alt_max_m=report.alt_max_m,
        altitude=report.altitude,
        differences=json.dumps(list(report.differences)),
        reason_code=report.reason_code,
        reason_params=json.dumps(dict(report.reason_params)),
    )


def _report(row: FenceReportRow) -> FenceReport:
    return FenceReport(
        booking_id=row.booking_id,
        state=FenceState(row.state),
        reason=row.reason,
        at_utc=as_utc(row.at_utc),
        vertices=row.vertices,
        alt_max_m=row.alt_max_m,
        altitude=row.altitude,
        differences=tuple(json.loads(row.differences)),
        reason_code=row.reason_code,
        reason_params=json.loads(row.reason_params),
    )


class SqlFenceReports:
    """Fence reports on ``engine``; each call is its own short transaction
    (blocking: call it off the event loop)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, report: FenceReport) -> None:
        """Store ``report`` as its booking's latest (replacing the one before)."""
        with Session(self._engine) as session:
            session.merge(_row(report))
            session.commit()

    def load(self) -> dict[int, FenceReport]:
        """Return every booking's latest report, by booking id."""
        with Session(self._engine) as session:
            rows = session.exec(select(FenceReportRow)).all()
            return {row.booking_id: _report(row) for row in rows}
