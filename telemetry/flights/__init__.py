"""Flights: when a booking's drone flew and what the flight's numbers were.

Pure, computed from what the gateway recorded (the booking's ``.tlog``, the
replay track's conformance states, the booking's incidents): ``samples`` decodes
a recording, ``detection`` finds the flights with the rule that ends a booking
live (``telemetry.live.checks.flight_over``), ``figures`` computes each flight's
numbers, ``edits`` applies the operator's split/merge
overrides, ``records`` chains them and writes JSON and CSV. A wing above ``live``
(it reuses its flight rule) and below ``reports``.
"""

from telemetry.flights.detection import FlightSpan, detect_flights
from telemetry.flights.edits import EditKind, SpanEdit, apply_edits
from telemetry.flights.figures import (
    OFF_PAD,
    PAD_RADIUS_M,
    FlightFigures,
    FlightIncident,
    StateSample,
    flight_figures,
)
from telemetry.flights.records import (
    FlightTrack,
    booking_flight_tracks,
    booking_flights,
    edited_flight_tracks,
    flight_json,
    flights_csv,
)
from telemetry.flights.samples import FlightSample, samples_from_records

__all__ = [
    "OFF_PAD",
    "PAD_RADIUS_M",
    "EditKind",
    "FlightFigures",
    "FlightIncident",
    "FlightSample",
    "FlightSpan",
    "FlightTrack",
    "SpanEdit",
    "StateSample",
    "apply_edits",
    "booking_flight_tracks",
    "booking_flights",
    "detect_flights",
    "edited_flight_tracks",
    "flight_figures",
    "flight_json",
    "flights_csv",
    "samples_from_records",
]
