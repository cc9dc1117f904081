"""A booking's flights: ``GET /bookings/{id}/flights`` (JSON, or ``?format=csv``).

Detected from the booking's recording with the rule that ends a booking live
(``landed_end_s``), each with its figures (``telemetry.flights``). Visibility is
the booking's own: safety officers see every booking's flights, operators and
pilots their organisation's; another organisation's answers 404.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, Request, Response

from telemetry.flights import flight_json, flights_csv
from telemetry.reports.flight_sources import flights_of_booking
from web.deps import ActorDep, SessionDep
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
    fmt: Annotated[FlightsFormat, Query(alias="format")] = FlightsFormat.JSON,
) -> Any:
    """Return the booking's flights (take-off order) with their figures."""
    booking = get_booking(session, actor, booking_id)
    settings = cast(Settings, request.app.state.settings)
    flights = flights_of_booking(
        export_sources(request), booking, settings.landed_end_s
    )
    if fmt is FlightsFormat.CSV:
        return Response(
            flights_csv(flights),
            media_type="text/csv",
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
    }
