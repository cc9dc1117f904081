"""Replays written as files: GeoJSON, KML, CSV, GeoPackage and raw ``.tlog``.

Every writer takes one ``Replay`` so all formats carry the same track. Positions
are WGS84 lon/lat degrees with altitude in metres AMSL; times are UTC.

- **GeoJSON** (RFC 7946): one FeatureCollection; ``properties.role`` tells the
  features apart: ``volume`` (the outline, band in ``floor_amsl_m``/
  ``ceiling_amsl_m``), ``track`` (a 3-D LineString), one ``sample`` Point per
  position (with its conformance state) and one ``event`` Point per timeline entry,
  placed at the position nearest in time (no geometry without a track).
- **KML** (OGC KML 2.2, for Google Earth): the volume as an extruded polygon at its
  ceiling plus its floor, both ``altitudeMode`` absolute (AMSL), the track as a 3-D
  LineString, the nonconforming stretches in red, events as time-stamped
  points, and the AIS vessels around it as time-spanned tracks at sea level
  (folder ``Vessels``, as GeoJSON's ``vessel`` features and GeoPackage's
  ``vessels`` layer). Written with ``xml.etree`` because GDAL's KML writers cannot
  extrude. Its names and descriptions are for people, in the reader's language
  (``Words``); its ``ExtendedData`` keys stay codes.
- **CSV**: one row per position (``CSV_COLUMNS``, the stable codes; the web layer
  may put a human header row in their place, ``web.i18n.export_headers``).

Samples (GeoJSON, CSV, GeoPackage) also carry ``GRID_COLUMNS``: the HK1980 Grid
easting/northing and the height in mPD with the words saying how it was obtained
(``airspace.hk_grid``; the site's reference travels on ``Replay.mpd``).
- **GeoPackage**: layers ``volume``, ``track``, ``samples`` and ``events``
  (EPSG:4326, ``GPKG_LAYERS``), through geopandas; all four even when empty.
- **tlog**: raw MAVLink frames as received (``telemetry.mavlink.tlog`` records).
"""

from __future__ import annotations

import csv
import html
import io
import json
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from airspace.hk_grid import in_hk1980_area, to_hk1980
from telemetry.incidents.model import VolumeSnapshot
from telemetry.live.frames import utc_iso
from telemetry.mavlink.tlog import encode_record
from telemetry.reports.replay import (
    SAMPLE_FIELDS,
    Replay,
    ReplaySample,
    positions_at,
    sample_json,
    volume_json,
)
from telemetry.reports.words import Words, term

KML_NS: Final = "http://www.opengis.net/kml/2.2"
NONCONFORMING_STATES: Final = frozenset(
    {"outside_lateral", "outside_vertical", "outside_boundary", "in_exclusion"}
)
"""Conformance states that count as out of the assigned volume."""
GRID_COLUMNS: Final = ("easting_m", "northing_m", "alt_mpd_m", "mpd_reference")
"""HK1980 Grid (EPSG:2326) position and mPD height of each sample; empty outside
the grid's area of use. ``mpd_reference`` says how the mPD was obtained."""
CSV_COLUMNS: Final = ("t_utc", "t_s", *SAMPLE_FIELDS, "vehicle_key", *GRID_COLUMNS)


# --- GeoJSON -----------------------------------------------------------------------


def _xyz(s: ReplaySample) -> list[float]:
    return [s.lon_deg, s.lat_deg, s.alt_amsl_m]


def _sample_properties(s: ReplaySample, grid: dict[str, Any]) -> dict[str, Any]:
    return {**sample_json(s), "vehicle_key": s.vehicle_key, **grid}


def grid_columns(replay: Replay) -> list[dict[str, Any]]:
    """Return ``GRID_COLUMNS`` for each sample (one vectorised pyproj call)."""
    samples = replay.samples
    if not samples:
        return []
    lon = np.array([s.lon_deg for s in samples], dtype=np.float64)
    lat = np.array([s.lat_deg for s in samples], dtype=np.float64)
    alt = np.array([s.alt_amsl_m for s in samples], dtype=np.float64)
    inside = in_hk1980_area(lon, lat)
    if not inside.any():
        return [dict.fromkeys(GRID_COLUMNS) for _ in samples]
    east, north = to_hk1980(lon, lat)
    try:
        mpd = replay.mpd.to_mpd(alt, lon, lat)
        label: str | None = replay.mpd.label
    except ValueError:  # a geoid grid that does not cover the track
        mpd, label = np.full_like(alt, np.nan), None
    return [
        {
            "easting_m": round(float(east[i]), 3) if inside[i] else None,
            "northing_m": round(float(north[i]), 3) if inside[i] else None,
            "alt_mpd_m": round(float(mpd[i]), 2)
            if inside[i] and np.isfinite(mpd[i])
            else None,
            "mpd_reference": label if inside[i] else None,
        }
        for i in range(len(samples))
    ]


def replay_features(replay: Replay) -> list[dict[str, Any]]:
    """Return the GeoJSON features of ``replay`` (see the module docstring)."""
    features: list[dict[str, Any]] = []
    if replay.volume is not None:
        v = replay.volume
        features.append(
            _feature(
                dict(v.outline_geojson),
                role="volume",
                source=v.source,
                floor_amsl_m=v.floor_amsl_m,
                ceiling_amsl_m=v.ceiling_amsl_m,
            )
        )
    samples = replay.samples
    if len(samples) >= 2:
        features.append(
            _feature(
                {"type": "LineString", "coordinates": [_xyz(s) for s in samples]},
                role="track",
                start_utc=utc_iso(samples[0].t_s),
                end_utc=utc_iso(samples[-1].t_s),
                samples=len(samples),
            )
        )
    for s, grid in zip(samples, grid_columns(replay), strict=True):
        point = {"type": "Point", "coordinates": _xyz(s)}
        features.append(_feature(point, role="sample", **_sample_properties(s, grid)))
    at = positions_at(samples, (e.t_s for e in replay.events))
    for event, near in zip(replay.events, at, strict=True):
        geometry = {"type": "Point", "coordinates": _xyz(near)} if near else None
        features.append(
            _feature(
                geometry,
                role="event",
                t_utc=utc_iso(event.t_s),
                t_s=event.t_s,
                kind=event.kind,
                incident_id=event.incident_id,
                actor_id=event.actor_id,
                details=dict(event.details),
            )
        )
    for vessel in replay.vessels:
        if len(vessel.points) < 2:
            continue
        features.append(
            _feature(
                {
                    "type": "LineString",
                    "coordinates": [[p[2], p[1]] for p in vessel.points],
                },
                role="vessel",
                mmsi=vessel.mmsi,
                name=vessel.name,
                start_utc=utc_iso(vessel.points[0][0]),
                end_utc=utc_iso(vessel.points[-1][0]),
            )
        )
    return features


def _feature(geometry: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def to_geojson(replay: Replay) -> bytes:
    """Return the replay as a GeoJSON FeatureCollection (UTF-8)."""
    collection = {
        "type": "FeatureCollection",
        "name": replay.title,
        "skyberth": {
            "subject": replay.subject,
            "id": replay.subject_id,
            "volume": volume_json(replay.volume),
        },
        "features": replay_features(replay),
    }
    return json.dumps(collection, ensure_ascii=False, allow_nan=False).encode()


# --- KML ---------------------------------------------------------------------------

# KML colours are aabbggrr.
_STYLES: Final = (
    # id, line colour, line width, fill colour
    ("volume", "ff00a5ff", "2", "5500a5ff"),
    ("floor", "ff0066cc", "1", "330066cc"),
    ("track", "ffffaa00", "3", None),
    ("outside", "ff0000ff", "5", None),
    ("vessel", "ff8b4513", "2", None),
)


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def _coords(points: Iterable[Sequence[float]]) -> str:
    return " ".join(f"{x:.8f},{y:.8f},{z:.2f}" for x, y, z in points)


def _ring(parent: ET.Element, tag: str, ring: list[Any], alt_m: float) -> None:
    boundary = _sub(parent, tag)
    linear = _sub(boundary, "LinearRing")
    _sub(linear, "coordinates", _coords((p[0], p[1], alt_m) for p in ring))


def _volume_placemark(
    folder: ET.Element, v: VolumeSnapshot, alt_m: float, words: Words, *, top: bool
) -> None:
    name = v.source or words("report.kml.assigned_volume")
    key = "report.kml.ceiling" if top else "report.kml.floor"
    mark = _sub(folder, "Placemark")
    _sub(mark, "name", words(key, volume=name, alt=f"{alt_m:g}"))
    _sub(mark, "styleUrl", "#volume" if top else "#floor")
    data = _sub(mark, "ExtendedData")
    for key, value in (
        ("floor_amsl_m", v.floor_amsl_m),
        ("ceiling_amsl_m", v.ceiling_amsl_m),
    ):
        item = _sub(data, "Data")
        item.set("name", key)
        _sub(item, "value", f"{value:g}")
    polygon = _sub(mark, "Polygon")
    # Extruding the ceiling draws the volume's walls down to the ground; the floor
    # plate, not extruded, shows where the band starts.
    _sub(polygon, "extrude", "1" if top else "0")
    _sub(polygon, "altitudeMode", "absolute")
    rings = v.outline_geojson["coordinates"]
    _ring(polygon, "outerBoundaryIs", rings[0], alt_m)
    for hole in rings[1:]:
        _ring(polygon, "innerBoundaryIs", hole, alt_m)


def _line(parent: ET.Element, samples: list[ReplaySample]) -> None:
    line = _sub(parent, "LineString")
    _sub(line, "extrude", "0")
    _sub(line, "tessellate", "0")
    _sub(line, "altitudeMode", "absolute")
    _sub(line, "coordinates", _coords(_xyz(s) for s in samples))


def _nonconforming_runs(
    samples: tuple[ReplaySample, ...],
) -> Iterator[list[ReplaySample]]:
    run: list[ReplaySample] = []
    for s in samples:
        if s.state in NONCONFORMING_STATES:
            run.append(s)
        elif run:
            yield run
            run = []
    if run:
        yield run


def to_kml(replay: Replay, words: Words, title: str | None = None) -> bytes:
    """Return the replay as KML 2.2 (UTF-8) that Google Earth opens, its names and
    descriptions in ``words``'s language (``title``: the document's name, the
    replay's own when None)."""
    w = words
    # Children are written unprefixed under this default namespace.
    root = ET.Element("kml", xmlns=KML_NS)
    doc = _sub(root, "Document")
    _sub(doc, "name", title or replay.title)
    for style_id, colour, width, fill in _STYLES:
        style = _sub(doc, "Style")
        style.set("id", style_id)
        line_style = _sub(style, "LineStyle")
        _sub(line_style, "color", colour)
        _sub(line_style, "width", width)
        if fill is not None:
            _sub(_sub(style, "PolyStyle"), "color", fill)
    if replay.volume is not None:
        folder = _sub(doc, "Folder")
        _sub(folder, "name", w("report.kml.assigned_volume_folder"))
        v = replay.volume
        _volume_placemark(folder, v, v.ceiling_amsl_m, w, top=True)
        _volume_placemark(folder, v, v.floor_amsl_m, w, top=False)
    samples = replay.samples
    if len(samples) >= 2:
        folder = _sub(doc, "Folder")
        _sub(folder, "name", w("report.kml.track"))
        mark = _sub(folder, "Placemark")
        _sub(mark, "name", w("report.kml.track"))
        span = _sub(mark, "TimeSpan")
        _sub(span, "begin", utc_iso(samples[0].t_s))
        _sub(span, "end", utc_iso(samples[-1].t_s))
        _sub(mark, "styleUrl", "#track")
        _line(mark, list(samples))
        runs = [r for r in _nonconforming_runs(samples) if len(r) >= 2]
        if runs:
            outside = _sub(folder, "Placemark")
            _sub(outside, "name", w("report.kml.outside"))
            _sub(outside, "styleUrl", "#outside")
            multi = _sub(outside, "MultiGeometry")
            for run in runs:
                _line(multi, run)
    at = positions_at(samples, (e.t_s for e in replay.events))
    placed = [(e, near) for e, near in zip(replay.events, at, strict=True) if near]
    if placed:
        folder = _sub(doc, "Folder")
        _sub(folder, "name", w("report.kml.events"))
        for event, near in placed:
            mark = _sub(folder, "Placemark")
            what = term(w, "report.event", event.kind)
            _sub(
                mark,
                "name",
                w("report.kml.event", event=what, incident=event.incident_id),
            )
            # KML viewers render a description as HTML; the details carry free
            # text (notes, drone names), so it goes in as escaped text.
            details = json.dumps(dict(event.details), ensure_ascii=False)
            when = w.when(event.t_utc)
            description = w("report.kml.event_description", time=when, details=details)
            _sub(mark, "description", html.escape(description))
            stamp = _sub(mark, "TimeStamp")
            _sub(stamp, "when", utc_iso(event.t_s))
            point = _sub(mark, "Point")
            _sub(point, "altitudeMode", "absolute")
            _sub(point, "coordinates", _coords([_xyz(near)]))
    _vessels_folder(doc, replay, w)
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _vessels_folder(doc: ET.Element, replay: Replay, words: Words) -> None:
    """The vessels' tracks (two positions or more, as in GeoJSON), at sea level."""
    tracks = [v for v in replay.vessels if len(v.points) >= 2]
    if not tracks:
        return
    folder = _sub(doc, "Folder")
    _sub(folder, "name", words("report.kml.vessels"))
    for vessel in tracks:
        mark = _sub(folder, "Placemark")
        _sub(mark, "name", vessel.name or f"MMSI {vessel.mmsi}")
        span = _sub(mark, "TimeSpan")
        _sub(span, "begin", utc_iso(vessel.points[0][0]))
        _sub(span, "end", utc_iso(vessel.points[-1][0]))
        _sub(mark, "styleUrl", "#vessel")
        data = _sub(mark, "ExtendedData")
        for key, value in (("mmsi", str(vessel.mmsi)), ("name", vessel.name or "")):
            item = _sub(data, "Data")
            item.set("name", key)
            _sub(item, "value", value)
        line = _sub(mark, "LineString")
        _sub(line, "tessellate", "1")
        _sub(line, "altitudeMode", "clampToGround")
        _sub(line, "coordinates", _coords((p[2], p[1], 0.0) for p in vessel.points))


# --- CSV ---------------------------------------------------------------------------


def to_csv(replay: Replay) -> bytes:
    """Return one CSV row per position (header ``CSV_COLUMNS``), UTF-8."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for s, grid in zip(replay.samples, grid_columns(replay), strict=True):
        row = _sample_properties(s, grid)
        writer.writerow({k: "" if row[k] is None else row[k] for k in CSV_COLUMNS})
    return out.getvalue().encode()


# --- GeoPackage --------------------------------------------------------------------


# GeoPackage layers: (layer, GeoJSON role, geometry type, attribute columns).
GPKG_LAYERS: Final = (
    ("volume", "volume", "Polygon", ("source", "floor_amsl_m", "ceiling_amsl_m")),
    ("track", "track", "LineString Z", ("start_utc", "end_utc", "samples")),
    ("samples", "sample", "Point Z", CSV_COLUMNS),
    (
        "events",
        "event",
        "Point Z",
        ("t_utc", "t_s", "kind", "incident_id", "actor_id", "details"),
    ),
    ("vessels", "vessel", "LineString", ("mmsi", "name", "start_utc", "end_utc")),
)


def write_gpkg(replay: Replay, path: Path) -> list[str]:
    """Write the replay's layers (``GPKG_LAYERS``, every one even when empty) to a
    new GeoPackage at ``path``; return their names.

    ``FileExistsError`` when ``path`` exists (GeoPackage layers would be appended).
    """
    import geopandas as gpd  # at the edge only: slow to import
    from shapely.geometry import shape

    if path.exists():
        raise FileExistsError(f"{path} exists; choose a new file")
    rows: dict[str, list[dict[str, Any]]] = {role: [] for _, role, _, _ in GPKG_LAYERS}
    for feature in replay_features(replay):
        props = dict(feature["properties"])
        role = props.pop("role")
        if "details" in props:
            props["details"] = json.dumps(props["details"], ensure_ascii=False)
        geometry = feature["geometry"]
        props["geometry"] = shape(geometry) if geometry else None
        rows[role].append(props)
    for name, role, geometry_type, columns in GPKG_LAYERS:
        frame = gpd.GeoDataFrame(
            rows[role] or {c: [] for c in columns},
            columns=[*columns, "geometry"],
            geometry="geometry",
            crs="EPSG:4326",
        )
        frame.to_file(
            path,
            layer=name,
            driver="GPKG",
            engine="pyogrio",
            geometry_type=geometry_type,
        )
    return [name for name, _, _, _ in GPKG_LAYERS]


def to_gpkg(replay: Replay) -> bytes:
    """Return the replay as the bytes of a GeoPackage file."""
    with tempfile.TemporaryDirectory(prefix="skyberth-gpkg-") as folder:
        path = Path(folder) / "export.gpkg"
        write_gpkg(replay, path)
        return path.read_bytes()


# --- tlog --------------------------------------------------------------------------


def to_tlog(frames: Iterable[tuple[float, bytes]]) -> bytes:
    """Return ``(t_s, raw frame)`` pairs as ``.tlog`` records, in time order."""
    return b"".join(encode_record(t_s, raw) for t_s, raw in sorted(frames, key=_first))


def _first(frame: tuple[float, bytes]) -> float:
    return frame[0]
