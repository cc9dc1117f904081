"""Official UAS geographical zones (EUROCAE ED-269 / ED-318, GeoJSON) as plain values.

Parses already-decoded documents (``dict`` from JSON, or the feature list
``airspace.site_files.read_features`` returns for GeoJSON and KML) into ``GeoZone``
values in WGS84 lon/lat, and turns a zone into a ``Volume`` of one site. No I/O.

Accepted shapes:

- **ED-269**: ``{"title"?, "description"?, "features": [UASZoneVersion]}``; each
  zone's ``geometry`` is a list of parts, each with ``horizontalProjection`` a
  ``Polygon`` or a ``Circle`` (``center`` [lon, lat], ``radius`` m), limits in
  ``uomDimensions`` M or FT, references AGL, AMSL or WGS84 (the ellipsoid, taken
  as AMSL: in Hong Kong the two differ by a few metres; the volume says which).
- **ED-318**: a GeoJSON FeatureCollection whose features carry the zone in
  ``properties`` and limits in ``layer`` (``upper``, ``lower``, ``*Reference``,
  ``uom``).
- **Plain GeoJSON or KML** polygons with ``identifier`` (or ``id``/``name``) and
  optional ``lower_m``/``upper_m``/``reference``/``valid_from``/``valid_to``.

Validity: ``applicability`` entries give one window from the earliest start to the
latest end; ``permanent: YES`` (or no dates) means always. Weekly ``schedule``
entries are not modelled: such a zone is imported as closed for its whole window
(the safe side), and ``GeoZone.note`` says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import Point, Polygon, shape

from airspace.errors import AirspaceError
from airspace.site import Site
from airspace.volume import Volume

FT_M = 0.3048
UNLIMITED_CEILING_M = 10_000.0
"""Ceiling used when a zone gives none (metres AMSL): above anything a drone flies."""
CIRCLE_QUADRANT_SEGMENTS = 16


class GeoZoneError(AirspaceError):
    """A zone document or one of its zones cannot be read (names the zone)."""


@dataclass(frozen=True)
class GeoZone:
    """One official zone part in WGS84, with its limits in metres and its validity."""

    identifier: str
    """The zone's id in its source (ED-269 ``identifier``); several parts of one
    zone get ``identifier``, ``identifier#2``..."""
    name: str
    restriction: str
    """PROHIBITED, REQ_AUTHORISATION, CONDITIONAL, ... as the source says it."""
    reason: str
    outline_lonlat: Polygon | None
    circle: tuple[float, float, float] | None
    """(lon, lat, radius m) for circles; the outline is drawn in site metres."""
    lower_m: float
    lower_ref: str
    """AGL, AMSL or WGS84."""
    upper_m: float | None
    upper_ref: str
    valid_from: datetime | None
    valid_to: datetime | None
    """Both None: permanent."""
    note: str = ""

    def describe(self) -> str:
        """Return the closure reason text: what, why and which limits."""
        upper = (
            f"{self.upper_m:g} m {self.upper_ref}"
            if self.upper_m is not None
            else "unlimited"
        )
        text = f"Official zone {self.identifier} {self.name} ({self.restriction}"
        text += f", {self.reason}" if self.reason else ""
        text += f"), {self.lower_m:g} m {self.lower_ref} to {upper}"
        return text + (f"; {self.note}" if self.note else "")


def _time(value: object, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        t = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise GeoZoneError(f"{where}: time {value!r} is not ISO 8601") from exc
    if t.tzinfo is None:
        raise GeoZoneError(f"{where}: time {value!r} has no timezone")
    return t


def _metres(value: object, uom: str, where: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]  # checked just below
    except (TypeError, ValueError) as exc:
        raise GeoZoneError(f"{where}: limit {value!r} is not a number") from exc
    return number * FT_M if uom.upper() in ("FT", "FEET") else number


def _ref(value: object) -> str:
    ref = str(value or "AMSL").upper()
    if ref not in ("AGL", "AMSL", "WGS84"):
        raise GeoZoneError(f"altitude reference {value!r} is not AGL, AMSL or WGS84")
    return ref


def _lonlat(point: Sequence[float], where: str) -> tuple[float, float]:
    lon, lat = float(point[0]), float(point[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise GeoZoneError(f"{where}: [{lon}, {lat}] is not lon, lat in degrees")
    return lon, lat


def _validity(
    applicability: Iterable[Mapping[str, Any]], where: str
) -> tuple[datetime | None, datetime | None, str]:
    starts: list[datetime] = []
    ends: list[datetime] = []
    note = ""
    for entry in applicability:
        if str(entry.get("permanent", "NO")).upper() == "YES":
            return None, None, ""
        start = _time(entry.get("startDateTime"), where)
        end = _time(entry.get("endDateTime"), where)
        if start is None or end is None:
            return None, None, ""
        starts.append(start)
        ends.append(end)
        if entry.get("schedule"):
            note = "weekly schedule not modelled: closed for the whole window"
    if not starts:
        return None, None, ""
    return min(starts), max(ends), note


def parse_ed269(document: Mapping[str, Any]) -> list[GeoZone]:
    """Return the zones of an ED-269 document; ``GeoZoneError`` names a bad zone."""
    features = document.get("features")
    if not isinstance(features, list):
        raise GeoZoneError("not an ED-269 document: no 'features' list")
    zones: list[GeoZone] = []
    for index, zone in enumerate(features):
        ident = str(zone.get("identifier") or "").strip()
        if not ident:
            raise GeoZoneError(f"zone {index}: no identifier")
        where = f"zone {ident}"
        start, end, note = _validity(zone.get("applicability") or [], where)
        parts = zone.get("geometry") or []
        if not parts:
            raise GeoZoneError(f"{where}: no geometry")
        for n, part in enumerate(parts, start=1):
            uom = str(part.get("uomDimensions", "M"))
            projection = part.get("horizontalProjection") or {}
            outline: Polygon | None = None
            circle: tuple[float, float, float] | None = None
            if projection.get("type") == "Circle":
                lon, lat = _lonlat(projection.get("center") or (), where)
                circle = (lon, lat, _metres(projection.get("radius"), "M", where))
            elif projection.get("type") == "Polygon":
                outline = _polygon(projection, where)
            else:
                raise GeoZoneError(
                    f"{where}: horizontalProjection is not Polygon or Circle"
                )
            upper = part.get("upperLimit")
            zones.append(
                GeoZone(
                    identifier=ident if n == 1 else f"{ident}#{n}",
                    name=str(zone.get("name") or ""),
                    restriction=str(zone.get("restriction") or ""),
                    reason=", ".join(str(r) for r in zone.get("reason") or []),
                    outline_lonlat=outline,
                    circle=circle,
                    lower_m=_metres(part.get("lowerLimit", 0), uom, where),
                    lower_ref=_ref(part.get("lowerVerticalReference")),
                    upper_m=None if upper is None else _metres(upper, uom, where),
                    upper_ref=_ref(part.get("upperVerticalReference")),
                    valid_from=start,
                    valid_to=end,
                    note=note,
                )
            )
    return zones


def _polygon(geometry: Mapping[str, Any], where: str) -> Polygon:
    try:
        geom = shape(dict(geometry))
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise GeoZoneError(f"{where}: geometry cannot be read: {exc}") from exc
    if not isinstance(geom, Polygon) or not geom.is_valid:
        raise GeoZoneError(f"{where}: not a valid polygon")
    flat = shapely.force_2d(geom)  # KML polygons come with heights; limits say more
    for lon, lat in flat.exterior.coords:
        _lonlat((lon, lat), where)
    return flat


def parse_features(features: Sequence[Mapping[str, Any]]) -> list[GeoZone]:
    """Return zones from GeoJSON/KML features (ED-318 properties, or plain ones).

    Each feature is ``{"geometry": shapely or GeoJSON mapping, "properties": {...}}``.
    """
    zones: list[GeoZone] = []
    for index, feature in enumerate(features):
        props: Mapping[str, Any] = feature.get("properties") or {}
        ident = str(
            props.get("identifier") or props.get("id") or props.get("name") or ""
        ).strip()
        if not ident:
            raise GeoZoneError(f"feature {index}: no identifier, id or name")
        where = f"zone {ident}"
        geometry = feature.get("geometry")
        if isinstance(geometry, shapely.Geometry):
            geometry = json.loads(shapely.to_geojson(geometry))
        if not isinstance(geometry, Mapping):
            raise GeoZoneError(f"{where}: no geometry")
        layer: Mapping[str, Any] = feature.get("layer") or props.get("layer") or {}
        extent: Mapping[str, Any] = feature.get("extent") or props.get("extent") or {}
        outline: Polygon | None = None
        circle: tuple[float, float, float] | None = None
        if geometry.get("type") == "Point" and extent.get("subType") == "Circle":
            lon, lat = _lonlat(geometry.get("coordinates") or (), where)
            circle = (lon, lat, _metres(extent.get("radius"), "M", where))
        else:
            outline = _polygon(geometry, where)
        uom = str(layer.get("uom") or "M")
        upper = layer.get("upper", props.get("upper_m"))
        name = props.get("name") or ""
        if isinstance(name, list):  # ED-318: [{"text", "lang"}]
            name = " / ".join(str(n.get("text", "")) for n in name)
        reason = props.get("reason") or ""
        if isinstance(reason, list):
            reason = ", ".join(str(r) for r in reason)
        start, end, note = _validity(props.get("applicability") or [], where)
        if start is None and (props.get("valid_from") or props.get("valid_to")):
            start = _time(props.get("valid_from"), where)
            end = _time(props.get("valid_to"), where)
            if start is None or end is None:
                raise GeoZoneError(f"{where}: give both valid_from and valid_to")
        ref = props.get("reference")
        zones.append(
            GeoZone(
                identifier=ident,
                name=str(name) if name != ident else "",
                restriction=str(
                    props.get("restriction") or props.get("type") or "PROHIBITED"
                ),
                reason=str(reason),
                outline_lonlat=outline,
                circle=circle,
                lower_m=_metres(
                    layer.get("lower", props.get("lower_m", 0)) or 0, uom, where
                ),
                lower_ref=_ref(layer.get("lowerReference") or ref),
                upper_m=None if upper is None else _metres(upper, uom, where),
                upper_ref=_ref(layer.get("upperReference") or ref),
                valid_from=start,
                valid_to=end,
                note=note,
            )
        )
    return zones


def parse_geozone_document(document: Mapping[str, Any]) -> list[GeoZone]:
    """Return the zones of a decoded JSON document: ED-318/GeoJSON or ED-269."""
    if document.get("type") == "FeatureCollection":
        return parse_features(document.get("features") or [])
    return parse_ed269(document)


def zone_volume(zone: GeoZone, site: Site) -> Volume:
    """Return ``zone`` as a volume of ``site``: outline in site metres, band AMSL.

    AGL limits are measured from the site's ground elevation; WGS84 (ellipsoid)
    limits are taken as AMSL. A zone with no upper limit reaches
    ``UNLIMITED_CEILING_M``.
    """

    def amsl(value: float, ref: str) -> float:
        return value + site.ground_elev_m if ref == "AGL" else value

    if zone.circle is not None:
        lon, lat, radius_m = zone.circle
        centre = site.projection.geometry_to_metric(Point(lon, lat))
        outline = centre.buffer(radius_m, quad_segs=CIRCLE_QUADRANT_SEGMENTS)
    elif zone.outline_lonlat is not None:
        outline = site.projection.geometry_to_metric(zone.outline_lonlat)
    else:  # pragma: no cover - the parsers always set one
        raise GeoZoneError(f"zone {zone.identifier}: no outline")
    floor = amsl(zone.lower_m, zone.lower_ref)
    ceiling = (
        UNLIMITED_CEILING_M
        if zone.upper_m is None
        else amsl(zone.upper_m, zone.upper_ref)
    )
    if not floor < ceiling:
        raise GeoZoneError(
            f"zone {zone.identifier}: lower limit {floor:g} m AMSL is not below "
            f"the upper limit {ceiling:g} m AMSL"
        )
    if not isinstance(outline, Polygon):  # pragma: no cover - buffers are polygons
        raise GeoZoneError(f"zone {zone.identifier}: outline is not a polygon")
    return Volume(outline, floor, ceiling)
