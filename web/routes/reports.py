"""Conformance reports per operator over a period (a campaign), as JSON or CSV.

``GET /reports/conformance?operator=&from=&to=[&format=csv]``: the F3548 aggregate
measures (``telemetry.reports.conformance_report``) of each operator's recorded flights
in
``[from, to)``. Operators and pilots get their own organisation's report (another
organisation answers 404 like a missing one); staff name an operator or get every
operator that flew or lost a link in the period.

Which flights are an operator's: replay samples under one of its bookings, and
unbooked samples of one of its registered drones. Vehicles that are neither
(unregistered intruders) belong to no operator and are in no report. Link losses
are the ``opened`` and ``occurrence`` entries of ``link_lost`` incidents in the
period, by the incident's operator.

The CSV's header row holds the column codes (``CSV_COLUMNS``) unless the reader
asked for a language (``?lang=``, or one stored for the user), when it holds their
names in it (``web.i18n.export_headers``; ``?header=`` overrides either way).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Response, status
from pydantic import AwareDatetime
from sqlmodel import Session, col

from booking.errors import NotFound
from booking.model import Actor
from booking.permissions import visible_operator
from booking.tables import BookingRow, DroneRow, OperatorRow
from telemetry.incidents.model import IncidentKind
from telemetry.incidents.tables import IncidentEventRow, IncidentRow
from telemetry.live.frames import utc_iso
from telemetry.recording.track_store import TrackSampleRow
from telemetry.reports.conformance_report import (
    CSV_COLUMNS,
    F3548,
    ConformanceReport,
    FlightTally,
    csv_row,
    tally_series,
)
from web.deps import ActorDep, SessionDep
from web.errors import ApiError
from web.i18n.export_headers import HeaderQuery, export_csv
from web.i18n.request_language import ChosenLanguageDep

router = APIRouter(prefix="/reports", tags=["reports"])

STREAM_ROWS = 5000
MAX_REPORT_PERIOD = timedelta(days=366)
"""A report reads every track sample of its period: one year at most per request."""
"""Samples fetched per round trip: a campaign is millions of rows, never all at once."""


@dataclass(frozen=True)
class _Sample:
    vehicle_key: str
    t_s: float
    state: str


def operator_tallies(
    session: Session,
    start: datetime,
    end: datetime,
    operator_id: str | None = None,
) -> dict[str, FlightTally]:
    """Return each operator's flight tally over ``[start, end)`` (aware UTC).

    Streams the samples ordered by operator, vehicle and time, so memory holds one
    sample and the excursions, whatever the period.
    """
    owner = sa.func.coalesce(col(BookingRow.operator_id), col(DroneRow.operator_id))
    query = (
        sa.select(
            owner.label("operator_id"),
            col(TrackSampleRow.vehicle_key),
            col(TrackSampleRow.t_s),
            col(TrackSampleRow.state),
        )
        .select_from(TrackSampleRow)
        .outerjoin(BookingRow, col(BookingRow.id) == col(TrackSampleRow.booking_id))
        .outerjoin(DroneRow, col(DroneRow.id) == col(TrackSampleRow.drone_id))
        .where(
            col(TrackSampleRow.t_s) >= start.timestamp(),
            col(TrackSampleRow.t_s) < end.timestamp(),
            owner.is_not(None),
        )
        .order_by(
            owner,
            col(TrackSampleRow.vehicle_key),
            col(TrackSampleRow.t_s),
            col(TrackSampleRow.id),
        )
        .execution_options(yield_per=STREAM_ROWS)
    )
    if operator_id is not None:
        query = query.where(owner == operator_id)
    rows: Iterator[Any] = iter(session.execute(query))
    tallies: dict[str, FlightTally] = {}
    for (op, key), series in itertools.groupby(rows, key=lambda r: (r[0], r[1])):
        tally = tally_series(_Sample(key, float(t), str(s)) for _, _, t, s in series)
        tallies[op] = tallies.get(op, FlightTally()) + tally
    return tallies


def link_losses(
    session: Session,
    start: datetime,
    end: datetime,
    operator_id: str | None = None,
) -> dict[str, int]:
    """Return each operator's count of link losses in ``[start, end)``."""
    query = (
        sa.select(col(IncidentRow.operator_id), sa.func.count())
        .select_from(IncidentEventRow)
        .join(IncidentRow, col(IncidentRow.id) == col(IncidentEventRow.incident_id))
        .where(
            col(IncidentRow.kind) == str(IncidentKind.LINK_LOST),
            col(IncidentEventRow.kind).in_(["opened", "occurrence"]),
            col(IncidentEventRow.at) >= start.astimezone(UTC),
            col(IncidentEventRow.at) < end.astimezone(UTC),
            col(IncidentRow.operator_id).is_not(None),
        )
        .group_by(col(IncidentRow.operator_id))
    )
    if operator_id is not None:
        query = query.where(col(IncidentRow.operator_id) == operator_id)
    return {str(op): int(n) for op, n in session.execute(query)}


def conformance_reports(
    session: Session, start: datetime, end: datetime, operator_id: str | None
) -> dict[str, ConformanceReport]:
    """Return the report of each operator (of ``operator_id`` only, when given).

    A named operator always has a report, an empty one when it did not fly.
    """
    tallies = operator_tallies(session, start, end, operator_id)
    losses = link_losses(session, start, end, operator_id)
    names = set(tallies) | set(losses)
    if operator_id is not None:
        names.add(operator_id)
    return {
        op: ConformanceReport(tallies.get(op, FlightTally()), losses.get(op, 0))
        for op in sorted(names)
    }


def _operator_in_scope(
    session: Session, actor: Actor, operator: str | None
) -> str | None:
    only = visible_operator(actor)
    if only is not None:
        if operator is not None and operator != only:
            raise NotFound("operator", operator)
        return only
    if operator is not None and session.get(OperatorRow, operator) is None:
        raise NotFound("operator", operator)
    return operator


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


@router.get(
    "/conformance",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def conformance(
    actor: ActorDep,
    session: SessionDep,
    start: Annotated[AwareDatetime, Query(alias="from")],
    end: Annotated[AwareDatetime, Query(alias="to")],
    chosen: ChosenLanguageDep,
    operator: str | None = None,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
    header: HeaderQuery = None,
) -> Any:
    """Return the F3548 conformance figures of each operator over ``[from, to)``.

    Per operator: flight hours, % of flight time conforming (>= 95 %), excursions
    per flight hour (<= 18), the longest excursion (<= 10 s), time nonconforming
    and link losses, each measure with its threshold and whether it passes
    (null when the operator did not fly). ``format=csv``: one row per operator.
    """
    try:
        # Near year 1 or 9999 an offset pushes the instant out of datetime's range.
        start, end = start.astimezone(UTC), end.astimezone(UTC)
    except OverflowError as exc:
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "period_out_of_range",
            f"'from' or 'to' is out of range in UTC: {exc}",
        ) from exc
    if end <= start:
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "period_empty",
            f"the period is empty: 'to' {end.isoformat()} is not after "
            f"'from' {start.isoformat()}",
        )
    if end - start > MAX_REPORT_PERIOD:
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "period_too_long",
            f"the period is {(end - start).days} days; a report covers at most "
            f"{MAX_REPORT_PERIOD.days} days",
            days=(end - start).days,
            max_days=MAX_REPORT_PERIOD.days,
        )
    operator_id = _operator_in_scope(session, actor, operator)
    reports = conformance_reports(session, start, end, operator_id)
    start_iso = utc_iso(start.timestamp())
    end_iso = utc_iso(end.timestamp())
    if fmt == "csv":
        rows = [dict(csv_row(op, start_iso, end_iso, r)) for op, r in reports.items()]
        return Response(
            export_csv(_csv(rows), chosen, header),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="conformance.csv"'},
        )
    t = F3548
    return {
        "from": start_iso,
        "to": end_iso,
        "operator": operator_id,
        "thresholds": {
            "min_conforming_pct": t.min_conforming_pct,
            "max_excursions_per_flight_hour": t.max_excursions_per_flight_hour,
            "max_excursion_s": t.max_excursion_s,
        },
        "reports": [{"operator_id": op, **r.as_dict()} for op, r in reports.items()],
    }
