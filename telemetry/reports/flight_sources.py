"""A booking's flights, read from what the gateway recorded.

Gathers the inputs of the pure flight chain (``telemetry.flights``) for one
booking: its ``.tlog`` (``export_sources.booking_tlog_path``), the replay track's
conformance states and its incidents, and the site. The API
(``GET /api/v1/bookings/{id}/flights``) and the command line come here, so both
give the same numbers. Visibility is the caller's business. Blocking file and
database reads: call from a worker thread.
"""

from __future__ import annotations

from booking.model import Booking
from telemetry.flights import (
    FlightFigures,
    FlightIncident,
    FlightTrack,
    StateSample,
    booking_flight_tracks,
)
from telemetry.mavlink.tlog import read_tlog
from telemetry.reports.export_sources import (
    MAX_BOOKING_INCIDENTS,
    ExportSources,
    booking_tlog_path,
)


def flights_of_booking(
    sources: ExportSources, booking: Booking, landed_end_s: float
) -> list[FlightFigures]:
    """Return the booking's flights with their figures; none when the booking
    has no recording or its site is no longer configured."""
    return [t.figures for t in flight_tracks_of_booking(sources, booking, landed_end_s)]


def flight_tracks_of_booking(
    sources: ExportSources, booking: Booking, landed_end_s: float
) -> list[FlightTrack]:
    """Return the booking's flights with their figures and series (for charts)."""
    site = sources.sites.get(booking.site_id)
    path = booking_tlog_path(sources.tlog_dir, booking)
    if site is None or not path.is_file():
        return []
    states = [
        StateSample(s.t_s, s.state) for s in sources.tracks.track(booking_id=booking.id)
    ]
    found = sources.incidents.list_incidents(
        booking_id=booking.id, limit=MAX_BOOKING_INCIDENTS
    )
    incidents = [
        FlightIncident(int(i.id), str(i.kind), i.opened_at.timestamp()) for i in found
    ]
    return booking_flight_tracks(read_tlog(path), site, landed_end_s, states, incidents)
