"""The incident report: one self-contained HTML file that prints well. Pure.

No scripts, fonts, images or style sheets are fetched: the map and the altitude
profile are inline SVG drawn from the replay, the style is inline, and every text
from the database is HTML-escaped. Sections: the facts, the map (the assigned
volume and the track coloured by conformance state, with numbered events), the
altitude profile against the volume's band, the rule and link figures, notes and
the closing summary, the timeline, and the audit trail (who did what, with each
record's hash). ``@media print`` keeps tables and figures whole on A4.

Every word is the reader's: headings, labels and the terms of the domain (an
incident's kind, severity, state) come from ``Words`` (``telemetry.reports.words``),
and every time is written by ``Words.when`` in the site's zone. Data stays as
recorded: ids, audit actions, the rule's and the link's figures by name.

The map uses a local equirectangular projection around the track's centre: at a
test site's scale (a few km) its distortion is far below what a page shows.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from booking.audit_chain import AuditLine
from telemetry.incidents.model import Incident, VolumeSnapshot
from telemetry.reports.exports import NONCONFORMING_STATES
from telemetry.reports.replay import Replay, ReplayEvent, ReplaySample, positions_at
from telemetry.reports.words import Words, term

MAP_W: Final = 760
MAP_H: Final = 460
PROFILE_H: Final = 220
_M_PER_DEG_LAT: Final = 110_540.0
_M_PER_DEG_LON_EQUATOR: Final = 111_320.0
STATE_COLOURS: Final = {
    "inside": "#1a9850",
    "near_edge": "#f29e00",
    **dict.fromkeys(NONCONFORMING_STATES, "#d7191c"),
}
OTHER_COLOUR: Final = "#7f7f7f"


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _time(words: Words, t: datetime | None) -> str:
    return "" if t is None else words.when(t)


def _at(words: Words, t_s: float) -> str:
    return words.when(datetime.fromtimestamp(t_s, UTC))


def _colour(state: str) -> str:
    return STATE_COLOURS.get(state, OTHER_COLOUR)


# --- the map ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    """Lon/lat to SVG pixels, fitted to everything drawn."""

    lon0: float
    lat0: float
    m_per_deg_lon: float
    scale: float
    x_mid: float
    y_mid: float
    width: int
    height: int

    @classmethod
    def fit(
        cls, points: Sequence[tuple[float, float]], width: int, height: int
    ) -> _Frame:
        lons = [p[0] for p in points]
        lats = [p[1] for p in points]
        lon0 = (min(lons) + max(lons)) / 2
        lat0 = (min(lats) + max(lats)) / 2
        m_per_deg_lon = _M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0))
        span_x = (max(lons) - min(lons)) * m_per_deg_lon
        span_y = (max(lats) - min(lats)) * _M_PER_DEG_LAT
        margin = 40
        scale = min(
            (width - 2 * margin) / max(span_x, 1.0),
            (height - 2 * margin) / max(span_y, 1.0),
        )
        return cls(
            lon0, lat0, m_per_deg_lon, scale, width / 2, height / 2, width, height
        )

    def xy(self, lon_deg: float, lat_deg: float) -> tuple[float, float]:
        x_m = (lon_deg - self.lon0) * self.m_per_deg_lon
        y_m = (lat_deg - self.lat0) * _M_PER_DEG_LAT
        return self.x_mid + x_m * self.scale, self.y_mid - y_m * self.scale


def _points(pairs: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in pairs)


def _runs(samples: Sequence[ReplaySample]) -> list[tuple[str, list[ReplaySample]]]:
    """Split the track where its colour changes; runs share their end points."""
    runs: list[tuple[str, list[ReplaySample]]] = []
    for s in samples:
        colour = _colour(s.state)
        if runs and runs[-1][0] == colour:
            runs[-1][1].append(s)
        else:
            start = [runs[-1][1][-1]] if runs else []
            runs.append((colour, [*start, s]))
    return runs


def _scale_bar(frame: _Frame, words: Words) -> str:
    target_m = (frame.width / 5) / frame.scale
    exponent = math.floor(math.log10(target_m))
    nice = max(
        (m * 10**exponent for m in (1, 2, 5) if m * 10**exponent <= target_m),
        default=10**exponent,
    )
    px = nice * frame.scale
    x0, y0 = 20, frame.height - 20
    label = f"{nice / 1000:g} km" if nice >= 1000 else f"{nice:g} m"
    return (
        f'<g class="scale"><line x1="{x0}" y1="{y0}" x2="{x0 + px:.1f}" y2="{y0}" '
        f'stroke="#222" stroke-width="3"/>'
        f'<text x="{x0}" y="{y0 - 6}" font-size="12">{_e(label)}</text></g>'
        f'<g class="north"><path d="M{frame.width - 25},40 l8,-22 l8,22 l-8,-6 z" '
        f'fill="#222"/><text x="{frame.width - 22}" y="56" font-size="12">'
        f"{_e(words('report.north'))}</text></g>"
    )


def map_svg(replay: Replay, words: Words) -> str:
    """Return the inline SVG map of the volume, the track and the events."""
    samples = replay.samples
    ring: list[tuple[float, float]] = []
    if replay.volume is not None:
        ring = [(p[0], p[1]) for p in replay.volume.outline_geojson["coordinates"][0]]
    points = ring + [(s.lon_deg, s.lat_deg) for s in samples]
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="map" viewBox="0 0 {MAP_W} '
        f'{MAP_H}" width="{MAP_W}" height="{MAP_H}" role="img" '
        f'aria-label="{_e(words("report.map_label"))}">'
        f'<rect width="{MAP_W}" height="{MAP_H}" fill="#f4f7fb"/>'
    )
    if not points:
        none = _e(words("report.no_positions"))
        return head + f'<text x="20" y="40">{none}</text></svg>'
    frame = _Frame.fit(points, MAP_W, MAP_H)
    parts = [head]
    if ring:
        parts.append(
            f'<polygon class="volume" points="{_points(frame.xy(*p) for p in ring)}" '
            'fill="#ffa500" fill-opacity="0.18" stroke="#e07b00" stroke-width="2"/>'
        )
    for colour, run in _runs(samples):
        parts.append(
            f'<polyline class="track" points="'
            f'{_points(frame.xy(s.lon_deg, s.lat_deg) for s in run)}" fill="none" '
            f'stroke="{colour}" stroke-width="3" stroke-linejoin="round"/>'
        )
    if samples:
        x, y = frame.xy(samples[0].lon_deg, samples[0].lat_deg)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="#222"/>')
        x, y = frame.xy(samples[-1].lon_deg, samples[-1].lat_deg)
        parts.append(
            f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" '
            'fill="#222"/>'
        )
    for number, (event, near) in enumerate(_placed_events(replay), start=1):
        x, y = frame.xy(near.lon_deg, near.lat_deg)
        parts.append(
            f'<g class="event"><circle cx="{x:.1f}" cy="{y:.1f}" r="8" fill="#fff" '
            f'stroke="#333"/><text x="{x:.1f}" y="{y + 4:.1f}" font-size="10" '
            f'text-anchor="middle">{number}</text>'
            f"<title>{_e(term(words, 'report.event', event.kind))} "
            f"{_e(_at(words, event.t_s))}</title></g>"
        )
    parts.append(_scale_bar(frame, words))
    parts.append("</svg>")
    return "".join(parts)


def _placed_events(replay: Replay) -> list[tuple[ReplayEvent, ReplaySample]]:
    at = positions_at(replay.samples, (e.t_s for e in replay.events))
    return [(e, s) for e, s in zip(replay.events, at, strict=True) if s is not None]


def profile_svg(replay: Replay, words: Words) -> str:
    """Return the inline SVG of altitude AMSL over time, with the volume's band."""
    samples = replay.samples
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="profile" viewBox="0 0 '
        f'{MAP_W} {PROFILE_H}" width="{MAP_W}" height="{PROFILE_H}" role="img" '
        f'aria-label="{_e(words("report.profile_label"))}">'
    )
    if len(samples) < 2:
        few = _e(words("report.too_few_positions"))
        return head + f'<text x="20" y="40">{few}</text></svg>'
    v = replay.volume
    alts = [s.alt_amsl_m for s in samples] + (
        [v.floor_amsl_m, v.ceiling_amsl_m] if v else []
    )
    lo, hi = min(alts) - 5, max(alts) + 5
    t0, t1 = samples[0].t_s, samples[-1].t_s
    left, right, top, bottom = 50, MAP_W - 10, 10, PROFILE_H - 30

    def xy(t_s: float, alt_m: float) -> tuple[float, float]:
        x = left + (t_s - t0) / max(t1 - t0, 1e-9) * (right - left)
        y = bottom - (alt_m - lo) / (hi - lo) * (bottom - top)
        return x, y

    parts = [head, f'<rect width="{MAP_W}" height="{PROFILE_H}" fill="#f4f7fb"/>']
    if v is not None:
        _, y_top = xy(t0, v.ceiling_amsl_m)
        _, y_floor = xy(t0, v.floor_amsl_m)
        parts.append(
            f'<rect class="band" x="{left}" y="{y_top:.1f}" width="{right - left}" '
            f'height="{y_floor - y_top:.1f}" fill="#ffa500" fill-opacity="0.18" '
            'stroke="#e07b00"/>'
        )
    for colour, run in _runs(samples):
        parts.append(
            f'<polyline points="{_points(xy(s.t_s, s.alt_amsl_m) for s in run)}" '
            f'fill="none" stroke="{colour}" stroke-width="2"/>'
        )
    parts.append(
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#222"/>'
        f'<text x="{left}" y="{PROFILE_H - 10}" font-size="11">'
        f"{_e(_at(words, t0))}</text>"
        f'<text x="{right}" y="{PROFILE_H - 10}" font-size="11" text-anchor="end">'
        f"{_e(_at(words, t1))}</text>"
        f'<text x="4" y="{top + 10}" font-size="11">{hi:.0f} m</text>'
        f'<text x="4" y="{bottom}" font-size="11">{lo:.0f} m</text></svg>'
    )
    return "".join(parts)


# --- the document ----------------------------------------------------------------


_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans CJK HK",
"Noto Sans CJK TC",sans-serif;color:#1d1d1d;max-width:60rem;margin:1.5rem auto;
padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem;
border-bottom:2px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;margin:.3rem 0}
th,td{border:1px solid #d5d5d5;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}table.facts th{width:14rem}
svg{max-width:100%;height:auto;border:1px solid #d5d5d5}
.legend span{display:inline-block;margin-right:1rem}
.legend i{display:inline-block;width:1.6rem;height:.35rem;margin-right:.3rem;
vertical-align:middle}
.muted{color:#666}.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
blockquote{margin:.4rem 0;padding:.4rem .8rem;border-left:4px solid #8aa;
background:#f6f8f8;white-space:pre-wrap}
@page{size:A4;margin:14mm}
@media print{body{max-width:none;margin:0;padding:0;font-size:11pt}
h2{break-after:avoid}table,figure,svg,blockquote,tr{break-inside:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}.noprint{display:none}}
"""


def _table(rows: Iterable[tuple[str, object]], cls: str = "facts") -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="{cls}">{body}</table>'


def _header(words: Words, *keys: str) -> str:
    cells = "".join(f"<th>{_e(words(k, zone=words.zone_name))}</th>" for k in keys)
    return f"<tr>{cells}</tr>"


def _mapping_rows(values: Mapping[str, Any]) -> list[tuple[str, object]]:
    return [
        (k, json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v)
        for k, v in sorted(values.items())
    ]


def _details(details: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in details.items() if k != "note"}
    return "; ".join(
        f"{k}={json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v}"
        for k, v in shown.items()
    )


def _incident_facts(words: Words, i: Incident) -> list[tuple[str, object]]:
    w = words

    def label(key: str) -> str:
        return w(f"report.fact.{key}", zone=w.zone_name)

    return [
        (label("incident"), i.id),
        (label("kind"), term(w, "incident.kind", i.kind)),
        (label("severity"), term(w, "incident.severity", i.severity)),
        (label("state"), term(w, "incident.state", i.state)),
        (label("opened"), _time(w, i.opened_at)),
        (label("last_occurrence"), _time(w, i.last_occurrence_at)),
        (label("occurrences"), i.occurrences),
        (label("closed"), _time(w, i.closed_at) or w("report.value.not_closed")),
        (label("site"), i.site_id),
        (label("drone"), i.drone_id or w("report.value.unregistered")),
        (label("sysid"), i.sysid),
        (label("vehicle_key"), i.vehicle_key),
        (label("operator"), i.operator_id or w("report.value.unknown")),
        (
            label("booking"),
            i.booking_id if i.booking_id is not None else w("report.value.none"),
        ),
        (label("corridor"), i.corridor_id or w("report.value.none")),
        (label("assignee"), i.assignee_id or w("report.value.unassigned")),
        (label("root_cause"), i.root_cause or w("report.value.not_set")),
        (label("message"), i.message),
    ]


def _volume_rows(words: Words, v: VolumeSnapshot | None) -> list[tuple[str, object]]:
    if v is None:
        return [(words("report.fact.volume"), words("report.value.none_recorded"))]
    return [
        (words("report.fact.volume"), v.source or words("report.value.unnamed")),
        (words("report.fact.floor_amsl"), f"{v.floor_amsl_m:g}"),
        (words("report.fact.ceiling_amsl"), f"{v.ceiling_amsl_m:g}"),
    ]


def _legend(words: Words) -> str:
    entries = [
        ("report.legend.inside", STATE_COLOURS["inside"]),
        ("report.legend.near_edge", STATE_COLOURS["near_edge"]),
        ("report.legend.outside", STATE_COLOURS["outside_lateral"]),
        ("report.legend.other", OTHER_COLOUR),
    ]
    spans = "".join(
        f'<span><i style="background:{c}"></i>{_e(words(key))}</span>'
        for key, c in entries
    )
    ends = _e(words("report.legend.start_end"))
    return f'<p class="legend">{spans} <span class="muted">{ends}</span></p>'


def _who(words: Words, actor_id: str | None) -> str:
    return actor_id or words("report.value.gateway")


def _timeline(words: Words, replay: Replay) -> str:
    placed = {id(e): n for n, (e, _) in enumerate(_placed_events(replay), start=1)}
    rows = []
    for e in replay.events:
        marker = placed.get(id(e), "")
        rows.append(
            f"<tr><td>{marker}</td><td class=mono>{_e(_at(words, e.t_s))}</td>"
            f"<td>{_e(e.incident_id)}</td>"
            f"<td>{_e(term(words, 'report.event', e.kind))}</td>"
            f"<td>{_e(_who(words, e.actor_id))}</td><td>{_e(_details(e.details))}</td>"
            f"<td>{_e(e.details.get('note', ''))}</td></tr>"
        )
    if not rows:
        return f'<p class="muted">{_e(words("report.no_events"))}</p>'
    head = _header(
        words,
        "report.col.number",
        "report.col.time",
        "report.col.incident",
        "report.col.event",
        "report.col.who",
        "report.col.details",
        "report.col.note",
    )
    return '<table class="timeline">' + head + "".join(rows) + "</table>"


def _notes(words: Words, replay: Replay) -> str:
    notes = [e for e in replay.events if e.details.get("note")]
    parts = [
        "<blockquote><span class=muted>"
        + _e(
            words(
                "report.note_by",
                time=_at(words, e.t_s),
                who=_who(words, e.actor_id),
                event=term(words, "report.event", e.kind),
            )
        )
        + f"</span>\n{_e(e.details['note'])}</blockquote>"
        for e in notes
    ]
    for i in replay.incidents:
        if i.closing_summary:
            heading = words("report.closing_summary_of", id=i.id)
            parts.append(
                f"<h3>{_e(heading)}</h3><blockquote>{_e(i.closing_summary)}</blockquote>"
            )
    return "".join(parts) or f'<p class="muted">{_e(words("report.no_notes"))}</p>'


def _as_role(words: Words, role: str) -> str:
    return words("report.as_role", role=term(words, "role", role))


def _audit(words: Words, lines: Sequence[AuditLine]) -> str:
    if not lines:
        return f'<p class="muted">{_e(words("report.no_audit"))}</p>'
    rows = "".join(
        f"<tr><td class=mono>{_e(_time(words, a.at))}</td><td>{_e(a.actor_id)} "
        f"<span class=muted>{_e(_as_role(words, a.actor_role))}</span></td>"
        f"<td>{_e(a.action)}</td><td>{_e(a.subject)}</td><td>{_e(a.note)}</td>"
        f"<td class=mono>{_e((a.hash or words('report.value.none'))[:16])}</td></tr>"
        for a in lines
    )
    head = _header(
        words,
        "report.col.time",
        "report.col.who",
        "report.col.action",
        "report.col.subject",
        "report.col.note",
        "report.col.hash",
    )
    return '<table class="audit">' + head + rows + "</table>"


def _incidents_table(words: Words, incidents: Sequence[Incident]) -> str:
    if not incidents:
        return f'<p class="muted">{_e(words("report.no_incidents"))}</p>'
    rows = "".join(
        f"<tr><td>{_e(i.id)}</td><td>{_e(term(words, 'incident.kind', i.kind))}</td>"
        f"<td>{_e(term(words, 'incident.severity', i.severity))}</td>"
        f"<td>{_e(term(words, 'incident.state', i.state))}</td>"
        f"<td class=mono>{_e(_time(words, i.opened_at))}</td>"
        f"<td>{_e(i.occurrences)}</td><td>{_e(i.message)}</td></tr>"
        for i in incidents
    )
    head = _header(
        words,
        "report.col.id",
        "report.col.kind",
        "report.col.severity",
        "report.col.state",
        "report.col.opened",
        "report.col.occurrences",
        "report.col.message",
    )
    return "<table>" + head + rows + "</table>"


def incident_title(words: Words, incident: Incident) -> str:
    """Return the report's one-line title of ``incident`` in the reader's words."""
    kind = term(words, "incident.kind", incident.kind)
    if incident.drone_id:
        return words(
            "report.title.incident_drone",
            id=incident.id,
            kind=kind,
            drone=incident.drone_id,
        )
    return words(
        "report.title.incident_vehicle",
        id=incident.id,
        kind=kind,
        vehicle=incident.vehicle_key,
    )


def render_report(
    replay: Replay,
    *,
    words: Words,
    audit: Sequence[AuditLine],
    generated_at: datetime,
    facts: Sequence[tuple[str, object]] = (),
    title: str | None = None,
) -> str:
    """Return the report on ``replay`` as one self-contained HTML document, in
    ``words``'s language.

    For an incident replay the title, facts, rule and link figures come from its
    incident; ``facts`` (a booking's, say, already in the reader's words) are
    listed first when given; ``title`` overrides the replay's own.
    """
    w = words
    incident = replay.incidents[0] if replay.subject == "incident" else None
    if title is None:
        title = incident_title(w, incident) if incident else replay.title
    sections = [f"<h1>{_e(title)}</h1>"]
    generated = w("report.generated", time=_time(w, generated_at), zone=w.zone_name)
    sections.append(f'<p class="muted">{_e(generated)}</p>')
    all_facts = list(facts) + (_incident_facts(w, incident) if incident else [])
    sections.append(
        f"<h2>{_e(w('report.facts'))}</h2>"
        + _table(all_facts + _volume_rows(w, replay.volume))
    )
    sections.append(
        f"<h2>{_e(w('report.map'))}</h2><figure>"
        + map_svg(replay, w)
        + _legend(w)
        + f"</figure><h2>{_e(w('report.profile'))}</h2><figure>"
        + profile_svg(replay, w)
        + "</figure>"
    )
    if incident is not None:
        not_recorded = w("report.value.not_recorded")
        sections.append(
            f"<h2>{_e(w('report.rule'))}</h2>"
            + _table(_mapping_rows(incident.rule) or [("rule", not_recorded)])
            + f"<h2>{_e(w('report.link'))}</h2>"
            + _table(_mapping_rows(incident.link) or [("link", not_recorded)])
        )
        before = sum(1 for s in replay.samples if s.phase == "before")
        after = sum(1 for s in replay.samples if s.phase == "after")
        evidence = w("report.evidence", before=before, after=after)
        sections.append(f'<p class="muted">{_e(evidence)}</p>')
    else:
        sections.append(
            f"<h2>{_e(w('report.incidents'))}</h2>"
            + _incidents_table(w, replay.incidents)
        )
    sections.append(f"<h2>{_e(w('report.notes'))}</h2>" + _notes(w, replay))
    sections.append(f"<h2>{_e(w('report.timeline'))}</h2>" + _timeline(w, replay))
    sections.append(f"<h2>{_e(w('report.audit'))}</h2>" + _audit(w, audit))
    return (
        f'<!DOCTYPE html><html lang="{_e(w.language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )
