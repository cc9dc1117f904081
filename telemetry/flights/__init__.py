"""Flights: when a booking's drone flew and what the flight's numbers were.

Pure, computed from what the gateway recorded (the booking's ``.tlog``, the
replay track's conformance states, the booking's incidents): ``samples`` decodes
a recording, ``detection`` finds the flights with the rule that ends a booking
live (``telemetry.live.checks.flight_over``), ``figures`` computes each flight's
numbers, ``records`` chains them and writes JSON and CSV. A wing above ``live``
(it reuses its flight rule) and below ``reports``.
"""

from telemetry.flights.detection import FlightSpan, detect_flights
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
    flight_json,
    flights_csv,
)
from telemetry.flights.samples import FlightSample, samples_from_records

__all__ = [
    "OFF_PAD",
    "PAD_RADIUS_M",
    "FlightFigures",
    "FlightIncident",
    "FlightSample",
    "FlightSpan",
    "FlightTrack",
    "StateSample",
    "booking_flight_tracks",
    "booking_flights",
    "detect_flights",
    "flight_figures",
    "flight_json",
    "flights_csv",
    "samples_from_records",
]
