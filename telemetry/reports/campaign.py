"""Campaign reports: an operator's flights over a period, summed up (issue 18 item 4).

Pure: the flights (``CampaignFlight``: a flight's track and figures with its
booking, drone and corridor band), the post-flight forms' emergency procedures and
the F3548 conformance aggregates (already computed by the conformance report) go
in; ``campaign_summary`` gives the JSON (flights, hours, distance, conditions
encountered as distributions per terrain, incidents per flight hour, conformance,
emergency procedures), ``campaign_csv`` one row per flight, and
``campaign_html`` one self-contained printable page with the charts
(``campaign_charts``) inlined, in the reader's language (``Words``: headings,
labels, chart axes; times in the site's zone). The JSON and the CSV's columns are
codes.
"""

from __future__ import annotations

import csv
import html
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from telemetry.flights import FlightTrack, flight_json
from telemetry.flights.conditions import Stats
from telemetry.reports import campaign_charts
from telemetry.reports.words import Words, term


@dataclass(frozen=True)
class CampaignFlight:
    """One flight of the campaign with where it belongs."""

    booking_id: int
    drone_id: str
    number: int
    """The flight's number within its booking (1 = first)."""
    track: FlightTrack
    floor_agl_m: float | None = None
    ceiling_agl_m: float | None = None


def _dist(values: Sequence[float]) -> dict[str, float] | None:
    s = Stats.of([v for v in values if v == v])
    return (
        None
        if s is None
        else {"n": s.n, "min": s.min, "median": s.median, "max": s.max}
    )


def _median_of(conditions: Mapping[str, Any], *path: str) -> float | None:
    node: Any = conditions
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return float(node) if isinstance(node, int | float) else None


def campaign_summary(
    operator_id: str,
    start: datetime,
    end: datetime,
    flights: Sequence[CampaignFlight],
    emergency_procedures: Sequence[str] = (),
    conformance: Mapping[str, Any] | None = None,
    drone_id: str | None = None,
) -> dict[str, Any]:
    """Return the campaign's figures as JSON-ready data."""
    figures = [f.track.figures for f in flights]
    hours = sum(f.flight_time_s for f in figures) / 3600.0
    incidents = sum(len(f.incident_ids) for f in figures)
    conditions: dict[str, Any] = {}
    for terrain in ("all", "water", "open", "dense_urban"):
        hdop = [
            _median_of(f.conditions, "gnss", terrain, "hdop", "median") for f in figures
        ]
        rssi = [
            _median_of(f.conditions, "radio", terrain, "rssi", "median")
            for f in figures
        ]
        conditions[terrain] = {
            "hdop_median": _dist([v for v in hdop if v is not None]),
            "rssi_median": _dist([v for v in rssi if v is not None]),
        }
    wind = [_median_of(f.conditions, "wind", "speed_mps", "median") for f in figures]
    terrain_s = Counter[str]()
    for f in figures:
        terrain_s.update(f.conditions.get("terrain_s", {}))
    return {
        "operator_id": operator_id,
        "drone_id": drone_id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "flights": len(figures),
        "flight_hours": round(hours, 4),
        "distance_km": round(sum(f.ground_distance_m for f in figures) / 1000.0, 4),
        "incidents": incidents,
        "incidents_per_flight_hour": round(incidents / hours, 4) if hours else None,
        "wind_median_mps": _dist([v for v in wind if v is not None]),
        "time_by_terrain_s": {k: round(v, 3) for k, v in sorted(terrain_s.items())},
        "conditions": conditions,
        "emergency_procedures": dict(sorted(Counter(emergency_procedures).items())),
        "conformance": dict(conformance) if conformance is not None else None,
        "flight_records": [
            {"booking_id": f.booking_id, "drone_id": f.drone_id}
            | flight_json(f.number, f.track.figures)
            for f in flights
        ],
    }


CSV_COLUMNS = (
    "booking_id",
    "drone_id",
    "number",
    "takeoff_utc",
    "landing_utc",
    "flight_time_s",
    "ground_distance_m",
    "max_alt_agl_m",
    "max_ground_speed_mps",
    "battery_used_pct",
    "incidents",
    "hdop_median",
    "rssi_median",
    "wind_median_mps",
    "over_water_s",
    "dense_urban_s",
)


def campaign_csv(summary: Mapping[str, Any]) -> str:
    """Return the campaign's flights as CSV, one row each (``CSV_COLUMNS``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in summary["flight_records"]:
        c = r.get("conditions", {})
        writer.writerow(
            [
                r["booking_id"],
                r["drone_id"],
                r["number"],
                r["takeoff_utc"],
                r["landing_utc"],
                r["flight_time_s"],
                r["ground_distance_m"],
                r["max_alt_agl_m"],
                r["max_ground_speed_mps"],
                r["battery_used_pct"],
                len(r["incident_ids"]),
                _median_of(c, "gnss", "all", "hdop", "median"),
                _median_of(c, "radio", "all", "rssi", "median"),
                _median_of(c, "wind", "speed_mps", "median"),
                _median_of(c, "terrain_s", "water"),
                _median_of(c, "terrain_s", "dense_urban"),
            ]
        )
    return buf.getvalue()


_STYLE: Final = """
body{font:13px/1.4 system-ui,"Noto Sans CJK HK","Noto Sans CJK TC",sans-serif;
margin:2em;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 6px}
th{background:#f3f3f3;text-align:left}.flight{page-break-inside:avoid}
svg.skyberth-chart{max-width:100%;height:auto}
@media print{body{margin:0}}
"""


CONFORMANCE_ROWS: Final = (
    "vehicles",
    "flight_hours",
    "conforming_pct",
    "excursions",
    "excursions_per_flight_hour",
    "longest_excursion_s",
    "link_losses",
    "passed",
)
"""The conformance figures the report shows (``ConformanceReport.as_dict`` keys)."""


def _row(name: str, value: object) -> str:
    return f"<tr><th>{html.escape(name)}</th><td>{html.escape(str(value))}</td></tr>"


def _value(words: Words, value: object) -> object:
    """A figure as the reader reads it: yes/no, "none" for a missing one."""
    if value is None:
        return words("report.value.none")
    if isinstance(value, bool):
        return words("report.value.yes" if value else "report.value.no")
    return value


def _spread(words: Words, value: Mapping[str, float] | None) -> object:
    """A distribution (``_dist``) as a sentence: median, then min, max and count."""
    if value is None:
        return words("report.value.none")
    return words("report.campaign.spread", **value)


def _per_terrain(words: Words, values: Mapping[str, Any]) -> str:
    """``{"water": 6.0}`` as ``water 6.0`` in the reader's words for the terrain."""
    if not values:
        return str(words("report.value.none"))
    return ", ".join(f"{term(words, 'terrain', k)} {v}" for k, v in values.items())


def _period(words: Words, summary: Mapping[str, Any]) -> str:
    start = words.when(datetime.fromisoformat(summary["from"]))
    end = words.when(datetime.fromisoformat(summary["to"]))
    return words("report.campaign.period_value", start=start, end=end)


def campaign_html(
    summary: Mapping[str, Any], flights: Sequence[CampaignFlight], words: Words
) -> str:
    """Return the campaign report as one self-contained HTML page with its charts,
    in ``words``'s language."""
    e = html.escape
    w = words

    def label(key: str) -> str:
        return w(f"report.campaign.{key}", zone=w.zone_name)

    procedures = summary["emergency_procedures"]
    head = [
        (label("operator"), summary["operator_id"]),
        (label("drone"), summary["drone_id"] or w("report.value.all")),
        (label("period"), _period(w, summary)),
        (label("flights"), summary["flights"]),
        (label("flight_hours"), summary["flight_hours"]),
        (label("distance_km"), summary["distance_km"]),
        (label("incidents"), summary["incidents"]),
        (
            label("incidents_per_flight_hour"),
            _value(w, summary["incidents_per_flight_hour"]),
        ),
        (label("time_by_terrain_s"), _per_terrain(w, summary["time_by_terrain_s"])),
        (label("wind_median_mps"), _spread(w, summary["wind_median_mps"])),
        (
            label("emergency_procedures"),
            ", ".join(f"{term(w, 'procedure', k)} {n}" for k, n in procedures.items())
            or w("report.value.none"),
        ),
    ]
    title = w("report.campaign.title", operator=summary["operator_id"])
    parts = [
        f'<!DOCTYPE html><html lang="{e(w.language)}"><head><meta charset=utf-8>',
        f"<title>{e(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        "<table>",
        *(_row(k, v) for k, v in head),
        "</table>",
        f"<h2>{e(label('conditions'))}</h2><table>",
        f"<tr><th>{e(label('terrain'))}</th><th>HDOP</th><th>RSSI</th></tr>",
        *(
            f"<tr><td>{e(term(w, 'terrain', t))}</td>"
            f"<td>{e(str(_spread(w, v['hdop_median'])))}</td>"
            f"<td>{e(str(_spread(w, v['rssi_median'])))}</td></tr>"
            for t, v in summary["conditions"].items()
        ),
        "</table>",
    ]
    conformance = summary.get("conformance")
    if conformance:
        parts += [f"<h2>{e(label('conformance'))}</h2><table>"]
        parts += [
            _row(w(f"column.{k}"), _value(w, conformance.get(k)))
            for k in CONFORMANCE_ROWS
        ]
        parts += ["</table>"]
    if flights:
        parts += [f"<h2>{e(label('tracks'))}</h2>"]
        parts += [campaign_charts.tracks_map([f.track for f in flights], w)]
    for f in flights:
        fig = f.track.figures
        heading = w(
            "report.campaign.flight_heading",
            booking=f.booking_id,
            number=f.number,
            drone=f.drone_id,
        )
        incidents = ", ".join(map(str, fig.incident_ids))
        parts += [
            f"<div class=flight><h2>{e(heading)}</h2><table>",
            _row(label("takeoff"), w.when(fig.takeoff_utc)),
            _row(label("landing"), w.when(fig.landing_utc)),
            _row(
                label("pads"),
                w(
                    "report.campaign.pads_value",
                    takeoff=fig.takeoff_pad,
                    landing=fig.landing_pad,
                ),
            ),
            _row(label("flight_time_s"), round(fig.flight_time_s, 1)),
            _row(label("ground_distance_m"), round(fig.ground_distance_m, 1)),
            _row(label("max_alt_agl_m"), round(fig.max_alt_agl_m, 1)),
            _row(label("max_ground_speed_mps"), round(fig.max_ground_speed_mps, 1)),
            _row(label("battery_used_pct"), _value(w, fig.battery_used_pct)),
            _row(label("incidents"), incidents or w("report.value.none")),
            "</table>",
            campaign_charts.altitude_speed_chart(
                f.track, f.floor_agl_m, f.ceiling_agl_m, w
            ),
        ]
        if len(f.track.gnss_t_s) or len(f.track.radio_t_s):
            parts.append(campaign_charts.signal_chart(f.track, w))
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)
