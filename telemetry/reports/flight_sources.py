"""A booking's flights, read from what the gateway recorded.

Gathers the inputs of the pure flight chain (``telemetry.flights``) for one
booking: its ``.tlog`` (``export_sources.booking_tlog_path``), the replay track's
conformance states and its incidents, the site, and the operator's
flight overrides (``booking.flight_edits``), passed in by the caller. The API
(``GET /api/v1/bookings/{id}/flights``) and the command line come here, so both
give the same numbers. Visibility is the caller's business. Blocking file and
database reads: call from a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence

from booking.flight_edits import StoredFlightEdit
from booking.model import Booking
from telemetry.flights import (
    EditKind,
    FlightFigures,
    FlightIncident,
    FlightTrack,
    SpanEdit,
    StateSample,
    edited_flight_tracks,
)
from telemetry.mavlink.tlog import read_tlog
from telemetry.reports.export_sources import (
    MAX_BOOKING_INCIDENTS,
    ExportSources,
    booking_tlog_path,
)


def span_edits(edits: Sequence[StoredFlightEdit]) -> list[SpanEdit]:
    """Return the stored overrides as the flight chain applies them."""
    return [
        SpanEdit(EditKind(e.edit.kind.value), e.edit.at_utc.timestamp()) for e in edits
    ]


def flights_of_booking(
    sources: ExportSources,
    booking: Booking,
    landed_end_s: float,
    edits: Sequence[StoredFlightEdit] = (),
) -> list[FlightFigures]:
    """Return the booking's flights with their figures, after the operator's
    ``edits``; none when the booking has no recording or its site is no longer
    configured."""
    tracks, _ = edited_tracks_of_booking(sources, booking, landed_end_s, edits)
    return [t.figures for t in tracks]


def flight_tracks_of_booking(
    sources: ExportSources,
    booking: Booking,
    landed_end_s: float,
    edits: Sequence[StoredFlightEdit] = (),
) -> list[FlightTrack]:
    """Return the booking's flights with their figures and series (for charts)."""
    tracks, _ = edited_tracks_of_booking(sources, booking, landed_end_s, edits)
    return tracks


def edited_tracks_of_booking(
    sources: ExportSources,
    booking: Booking,
    landed_end_s: float,
    edits: Sequence[StoredFlightEdit] = (),
) -> tuple[list[FlightTrack], list[bool]]:
    """Return the booking's flights (figures and series) after ``edits``, and per
    edit whether it found a flight to change."""
    site = sources.sites.get(booking.site_id)
    path = booking_tlog_path(sources.tlog_dir, booking)
    if site is None or not path.is_file():
        return [], [False] * len(edits)
    states = [
        StateSample(s.t_s, s.state) for s in sources.tracks.track(booking_id=booking.id)
    ]
    found = sources.incidents.list_incidents(
        booking_id=booking.id, limit=MAX_BOOKING_INCIDENTS
    )
    incidents = [
        FlightIncident(int(i.id), str(i.kind), i.opened_at.timestamp()) for i in found
    ]
    return edited_flight_tracks(
        read_tlog(path),
        site,
        landed_end_s,
        states,
        incidents,
        edits=span_edits(edits),
    )
