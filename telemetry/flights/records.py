"""A booking's flights as records: detected, figured, and written as JSON or CSV.

``booking_flights`` runs the whole pure chain over a recording's records:
decode (``samples``), detect (``detection``), figure (``figures``), each vehicle
in the recording (a booking normally has one), flights in take-off order.
``flight_json`` and ``flights_csv`` are the API's and the exports' shapes.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from airspace.site import Site
from telemetry.flights.conditions import flight_conditions
from telemetry.flights.detection import DEFAULT_GAP_S, detect_flights
from telemetry.flights.figures import (
    FlightFigures,
    FlightIncident,
    StateSample,
    flight_figures,
)
from telemetry.flights.samples import read_recording
from telemetry.mavlink.tlog import Record


def booking_flights(
    records: Iterable[Record],
    site: Site,
    landed_end_s: float,
    states: Sequence[StateSample] = (),
    incidents: Sequence[FlightIncident] = (),
    gap_s: float = DEFAULT_GAP_S,
) -> list[FlightFigures]:
    """Return the flights in ``records`` (a booking's tlog) with their figures."""
    out: list[FlightFigures] = []
    for vehicle in read_recording(records).values():
        samples = vehicle.positions
        for span in detect_flights(samples, landed_end_s, gap_s):
            figures = flight_figures(samples, span, site, states, incidents)
            conditions = flight_conditions(samples, vehicle.conditions, span, site)
            out.append(dataclasses.replace(figures, conditions=conditions))
    out.sort(key=lambda f: (f.takeoff_utc, f.sysid))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 3)
    return value


def flight_json(number: int, f: FlightFigures) -> dict[str, Any]:
    """Return flight ``number`` (1 = first of the booking) as a JSON object."""
    return {"number": number} | {x.name: _plain(getattr(f, x.name)) for x in fields(f)}


CSV_SKIPPED = ("link_lost", "incident_ids", "conditions")
CSV_CONDITIONS = (
    ("hdop_median", ("gnss", "all", "hdop", "median")),
    ("satellites_min", ("gnss", "all", "satellites", "min")),
    ("rssi_median", ("radio", "all", "rssi", "median")),
    ("wind_median_mps", ("wind", "speed_mps", "median")),
    ("over_water_s", ("terrain_s", "water")),
    ("dense_urban_s", ("terrain_s", "dense_urban")),
)
"""Headline conditions as CSV columns: (column, path into ``conditions``)."""


def _dig(tree: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key)
    return tree


def flights_csv(flights: Sequence[FlightFigures]) -> str:
    """Return the flights as CSV, one row each; link-lost periods and incidents
    become counts (``link_lost_n``, ``incidents_n``), conditions their headline
    figures (``CSV_CONDITIONS``; empty when not reported)."""
    names = [x.name for x in fields(FlightFigures) if x.name not in CSV_SKIPPED]
    extra = [column for column, _ in CSV_CONDITIONS]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["number", *names, "link_lost_n", "incidents_n", *extra])
    for n, f in enumerate(flights, start=1):
        row = [_plain(getattr(f, name)) for name in names]
        headline = [_plain(_dig(f.conditions, path)) for _, path in CSV_CONDITIONS]
        writer.writerow([n, *row, len(f.link_lost), len(f.incident_ids), *headline])
    return buf.getvalue()
