"""A booking's flights: ``GET /bookings/{id}/flights`` (JSON, or ``?format=csv``).

Detected from the booking's recording with the rule that ends a booking live
(``landed_end_s``), each with its figures (``telemetry.flights``). Visibility is
the booking's own: safety officers see every booking's flights, operators and
pilots their organisation's; another organisation's answers 404.

``POST /bookings/{id}/flights/edits`` records the operator's correction (split
the flight flying at ``at_utc``, or merge the one started by then with the
next; a reason is required), audited (``booking.flight_edit_services``). It is
refused (422, rule ``flight_edit``) when it would change no flight. The flights
answered are always the edited ones; ``edits`` lists the overrides, each with
whether it still applies.

``GET /bookings/{id}/flights/{number}/charts/{chart}`` draws one flight's chart
as SVG: the campaign report's own matplotlib charts
(``telemetry.reports.campaign_charts``), so the Flights page needs no charting
library of its own. Its labels are in the reader's language (``?lang=``, the stored
language, then ``Accept-Language``); the flights CSV's header row holds column codes
unless a language was asked for (``web.i18n.export_headers``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Path, Query, Request, Response

from booking.errors import BookingRuleViolation, NotFound, Rule
from booking.flight_edit_services import EDITOR_ROLES, edits_of, record_edit
from booking.flight_edits import StoredFlightEdit, flight_edit_from
from booking.model import BookingId
from booking.permissions import require_organisation
from telemetry.flights import flight_json, flights_csv
from telemetry.reports import campaign_charts
from telemetry.reports.flight_sources import edited_tracks_of_booking
from web.campaign_reports import corridor_band_agl
from web.deps import ActorDep, SessionDep, UowDep
from web.i18n.export_headers import HeaderQuery, export_csv
from web.i18n.report_words import report_words, sites_zone
from web.i18n.request_language import ChosenLanguageDep
from web.input_limits import DbId
from web.queries import get_booking
from web.routes.incident_replays import export_sources
from web.settings import Settings

router = APIRouter(tags=["flights"])


class FlightsFormat(enum.StrEnum):
    """The shapes of a booking's flight records."""

    JSON = "json"
    CSV = "csv"


@router.get(
    "/bookings/{booking_id}/flights",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def bookings_flights(
    booking_id: DbId,
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    uow: UowDep,
    chosen: ChosenLanguageDep,
    fmt: Annotated[FlightsFormat, Query(alias="format")] = FlightsFormat.JSON,
    header: HeaderQuery = None,
) -> Any:
    """Return the booking's flights (take-off order, after the operator's edits)
    with their figures."""
    booking = get_booking(session, actor, booking_id)
    settings = cast(Settings, request.app.state.settings)
    edits = edits_of(uow, BookingId(booking_id), actor)
    tracks, applied = edited_tracks_of_booking(
        export_sources(request), booking, settings.landed_end_s, edits
    )
    flights = [t.figures for t in tracks]
    if fmt is FlightsFormat.CSV:
        return Response(
            export_csv(flights_csv(flights), chosen, header),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="booking-{booking_id}-flights.csv"'
                )
            },
        )
    return {
        "booking_id": booking_id,
        "landed_end_s": settings.landed_end_s,
        "flights": [flight_json(n, f) for n, f in enumerate(flights, start=1)],
        "edits": _edits_json(edits, applied),
    }


def _edits_json(
    edits: Sequence[StoredFlightEdit], applied: Sequence[bool]
) -> list[dict[str, Any]]:
    return [
        {
            "number": e.number,
            "kind": e.edit.kind.value,
            "at_utc": e.edit.at_utc.isoformat(),
            "reason": e.edit.reason,
            "edited_by": e.edited_by,
            "edited_at": e.edited_at.isoformat(),
            "applied": a,
        }
        for e, a in zip(edits, applied, strict=True)
    ]


@router.post("/bookings/{booking_id}/flights/edits", status_code=201)
def bookings_flight_edit(
    booking_id: DbId,
    body: dict[str, Any],
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    uow: UowDep,
) -> dict[str, Any]:
    """Split or merge the booking's flights (with a reason); return the override
    as stored, or refuse (422) when it would change no flight."""
    edit = flight_edit_from(body)
    booking = get_booking(session, actor, booking_id)
    # Roles before the recording is read: a pilot hears 403, not "no flight".
    require_organisation(
        actor,
        booking.operator_id,
        f"{edit.kind} flights of booking {booking_id}",
        roles=EDITOR_ROLES,
        booking_ids=[booking_id],
    )
    settings = cast(Settings, request.app.state.settings)
    earlier = edits_of(uow, BookingId(booking_id), actor)
    candidate = StoredFlightEdit(booking_id, len(earlier) + 1, edit, "", edit.at_utc)
    _, applied = edited_tracks_of_booking(
        export_sources(request), booking, settings.landed_end_s, [*earlier, candidate]
    )
    if not applied[-1]:
        what = "flying" if edit.kind == "split" else "started by then with a next one"
        raise BookingRuleViolation(
            Rule.FLIGHT_EDIT,
            f"{edit.kind} at {edit.at_utc.isoformat()} finds no flight {what} "
            f"in booking {booking_id}",
            booking_ids=[booking_id],
        )
    stored = record_edit(uow, BookingId(booking_id), edit, actor, datetime.now(UTC))
    return _edits_json([stored], [True])[0]


class FlightChart(enum.StrEnum):
    """The charts of one flight."""

    ALTITUDE_SPEED = "altitude_speed"
    """Altitude AGL and ground speed, the corridor's floor and ceiling dashed."""
    SIGNAL = "signal"
    """HDOP and RSSI, the terrain under the drone shaded."""


@router.get(
    "/bookings/{booking_id}/flights/{number}/charts/{chart}",
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def bookings_flight_chart(
    booking_id: DbId,
    number: Annotated[int, Path(ge=1, le=10_000)],
    chart: FlightChart,
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    uow: UowDep,
    chosen: ChosenLanguageDep,
) -> Response:
    """Return flight ``number`` (1-based, after the edits) of the booking as an
    SVG chart in the reader's language; 404 when the booking has no such flight."""
    booking = get_booking(session, actor, booking_id)
    settings = cast(Settings, request.app.state.settings)
    sources = export_sources(request)
    tracks, _ = edited_tracks_of_booking(
        sources,
        booking,
        settings.landed_end_s,
        edits_of(uow, BookingId(booking_id), actor),
    )
    if number > len(tracks):
        raise NotFound("flight", f"{number} of booking {booking_id}")
    track = tracks[number - 1]
    words = report_words(chosen.language, sites_zone(sources.sites, booking.site_id))
    if chart is FlightChart.SIGNAL:
        svg = campaign_charts.signal_chart(track, words)
    else:
        band = corridor_band_agl(sources, booking.site_id, booking.corridor_id)
        svg = campaign_charts.altitude_speed_chart(track, *band, words)
    return Response(
        svg,
        media_type="image/svg+xml",
        # The words follow the reader: a cached chart is only good in its language.
        headers={
            "Cache-Control": "private, max-age=60",
            "Content-Language": chosen.language,
            "Vary": "Accept-Language",
        },
    )
