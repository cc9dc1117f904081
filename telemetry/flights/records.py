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
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import numpy as np

from airspace.site import Site
from airspace.terrain import terrain_at
from telemetry.flights.conditions import flight_conditions
from telemetry.flights.detection import DEFAULT_GAP_S, detect_flights
from telemetry.flights.edits import SpanEdit, apply_edits
from telemetry.flights.figures import (
    FlightFigures,
    FlightIncident,
    StateSample,
    flight_figures,
)
from telemetry.flights.samples import read_recording
from telemetry.mavlink.condition_messages import RadioStatus
from telemetry.mavlink.messages import GpsRaw
from telemetry.mavlink.tlog import Record


def booking_flights(
    records: Iterable[Record],
    site: Site,
    landed_end_s: float,
    states: Sequence[StateSample] = (),
    incidents: Sequence[FlightIncident] = (),
    gap_s: float = DEFAULT_GAP_S,
    edits: Sequence[SpanEdit] = (),
) -> list[FlightFigures]:
    """Return the flights in ``records`` (a booking's tlog) with their figures,
    after the operator's ``edits`` (``telemetry.flights.edits``)."""
    tracks, _ = edited_flight_tracks(
        records, site, landed_end_s, states, incidents, gap_s, edits
    )
    return [t.figures for t in tracks]


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


@dataclass(frozen=True)
class FlightTrack:
    """One flight's series for charts: positions and signal over time.

    Arrays of equal length per series; times are UTC epoch seconds; ``terrain``
    is the class under each position (``airspace.terrain``)."""

    figures: FlightFigures
    t_s: np.ndarray
    lon_deg: np.ndarray
    lat_deg: np.ndarray
    alt_agl_m: np.ndarray
    ground_speed_mps: np.ndarray
    terrain: np.ndarray
    gnss_t_s: np.ndarray
    hdop: np.ndarray
    radio_t_s: np.ndarray
    rssi: np.ndarray


def booking_flight_tracks(
    records: Iterable[Record],
    site: Site,
    landed_end_s: float,
    states: Sequence[StateSample] = (),
    incidents: Sequence[FlightIncident] = (),
    gap_s: float = DEFAULT_GAP_S,
    edits: Sequence[SpanEdit] = (),
) -> list[FlightTrack]:
    """Return each flight of ``records`` with its figures and series, in take-off
    order, after the operator's ``edits``."""
    tracks, _ = edited_flight_tracks(
        records, site, landed_end_s, states, incidents, gap_s, edits
    )
    return tracks


def edited_flight_tracks(
    records: Iterable[Record],
    site: Site,
    landed_end_s: float,
    states: Sequence[StateSample] = (),
    incidents: Sequence[FlightIncident] = (),
    gap_s: float = DEFAULT_GAP_S,
    edits: Sequence[SpanEdit] = (),
) -> tuple[list[FlightTrack], list[bool]]:
    """Return each flight with its figures and series (take-off order), and
    per edit whether it changed the flights of any vehicle in the recording."""
    out: list[FlightTrack] = []
    applied = [False] * len(edits)
    for vehicle in read_recording(records).values():
        samples = vehicle.positions
        spans, done = apply_edits(
            samples, detect_flights(samples, landed_end_s, gap_s), edits, gap_s
        )
        applied = [a or d for a, d in zip(applied, done, strict=True)]
        for span in spans:
            figures = dataclasses.replace(
                flight_figures(samples, span, site, states, incidents),
                conditions=flight_conditions(samples, vehicle.conditions, span, site),
            )
            flight = samples[span.first : span.last + 1]
            lon = np.array([s.lon_deg for s in flight])
            lat = np.array([s.lat_deg for s in flight])
            x, y = site.projection.to_metric(lon, lat)
            within = [
                m
                for m in vehicle.conditions
                if span.start_t_s <= m.t_s <= span.landing_t_s
            ]
            gnss = [m for m in within if isinstance(m, GpsRaw)]
            radio = [m for m in within if isinstance(m, RadioStatus)]
            out.append(
                FlightTrack(
                    figures=figures,
                    t_s=np.array([s.t_s for s in flight]),
                    lon_deg=lon,
                    lat_deg=lat,
                    alt_agl_m=np.array([s.alt_amsl_m for s in flight])
                    - site.ground_elev_m,
                    ground_speed_mps=np.array([s.ground_speed_mps for s in flight]),
                    terrain=terrain_at(site, x, y),
                    gnss_t_s=np.array([m.t_s for m in gnss]),
                    hdop=np.array(
                        [np.nan if m.eph_m is None else m.eph_m for m in gnss]
                    ),
                    radio_t_s=np.array([m.t_s for m in radio]),
                    rssi=np.array(
                        [np.nan if m.rssi is None else m.rssi for m in radio]
                    ),
                )
            )
    out.sort(key=lambda f: (f.figures.takeoff_utc, f.figures.sysid))
    return out, applied
