"""Campaign reports assembled from the database and the recordings (item 4 of
issue 18), for the API (``GET /api/v1/reports/campaign``) and the command line
(``skyberth report campaign``), so both give the same numbers.

Which flights: those of the operator's bookings (of one drone, when named) whose
take-off falls in ``[start, end)``, detected from each booking's recording
(``telemetry.reports.flight_sources``). The conformance aggregates are the F3548
report's own (``web.routes.reports.conformance_reports``); the emergency
procedures come from the bookings' newest post-flight forms. Blocking: call from
a worker thread.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from booking.flight_edit_store import SqlFlightEdits
from booking.flight_form_store import SqlFlightForms
from booking.flight_forms import FormKind
from booking.tables import BookingRow, booking_from_row
from telemetry.reports.campaign import CampaignFlight, campaign_summary
from telemetry.reports.export_sources import ExportSources
from telemetry.reports.flight_sources import flight_tracks_of_booking
from web.routes.reports import conformance_reports


def campaign_flights(
    session: Session,
    sources: ExportSources,
    operator_id: str,
    start: datetime,
    end: datetime,
    landed_end_s: float,
    drone_id: str | None = None,
) -> tuple[list[CampaignFlight], list[str]]:
    """Return the campaign's flights (take-off order) and the emergency
    procedures its post-flight forms list."""
    query = (
        select(BookingRow)
        .where(BookingRow.operator_id == operator_id)
        .where(col(BookingRow.start_utc) < end)
        .where(col(BookingRow.end_utc) > start)
        .order_by(col(BookingRow.start_utc), col(BookingRow.id))
    )
    if drone_id is not None:
        query = query.where(BookingRow.drone_id == drone_id)
    flights: list[CampaignFlight] = []
    procedures: list[str] = []
    forms = SqlFlightForms(session)
    overrides = SqlFlightEdits(session)
    for row in session.exec(query).all():
        booking = booking_from_row(row)
        band = corridor_band_agl(sources, booking.site_id, booking.corridor_id)
        for number, track in enumerate(
            flight_tracks_of_booking(
                sources, booking, landed_end_s, overrides.of_booking(booking.id)
            ),
            start=1,
        ):
            takeoff = track.figures.takeoff_utc
            if start <= takeoff < end:
                flights.append(
                    CampaignFlight(booking.id, booking.drone_id, number, track, *band)
                )
        post = forms.latest(booking.id).get(FormKind.POST_FLIGHT)
        if post is not None:
            procedures += list(post.body.get("emergency_procedures", []))
    flights.sort(key=lambda f: (f.track.figures.takeoff_utc, f.booking_id))
    return flights, procedures


def corridor_band_agl(
    sources: ExportSources, site_id: str, corridor_id: str | None
) -> tuple[float | None, float | None]:
    """The corridor's floor and ceiling in metres AGL (None without a corridor)."""
    site = sources.sites.get(site_id)
    if site is None or corridor_id is None:
        return None, None
    try:
        volume = site.corridor(corridor_id).volume
    except KeyError:
        return None, None
    ground = site.ground_elev_m
    return volume.floor_amsl_m - ground, volume.ceiling_amsl_m - ground


def campaign_report(
    session: Session,
    sources: ExportSources,
    operator_id: str,
    start: datetime,
    end: datetime,
    landed_end_s: float,
    drone_id: str | None = None,
) -> tuple[dict[str, Any], list[CampaignFlight]]:
    """Return the campaign summary (JSON) and its flights (for the charts)."""
    flights, procedures = campaign_flights(
        session, sources, operator_id, start, end, landed_end_s, drone_id
    )
    conformance = conformance_reports(session, start, end, operator_id).get(operator_id)
    summary = campaign_summary(
        operator_id,
        start,
        end,
        flights,
        procedures,
        conformance.as_dict() if conformance is not None else None,
        drone_id,
    )
    return summary, flights
