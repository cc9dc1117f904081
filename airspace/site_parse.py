"""Build a validated ``Site`` from GeoJSON-like features.

A feature is ``{"geometry": <shapely geometry in WGS84 lon/lat degrees>, "properties":
{...}}``; file loaders hand rows of a GeoDataFrame straight in. File formats disagree on
missing values (None, NaN, "") and on types (KML gives text, GeoPackage a union of the
columns of every kind), so every property goes through a small typed reader,
``airspace.feature_props.FeatureProps``.

Validation is all or nothing: each problem becomes a ``FeatureProblem`` labelled
``"<kind> <id>"`` (``corridor C2``), and one ``SiteValidationError`` lists them all.
No I/O happens here; ``airspace.site_features`` turns a ``Site`` back into features.

Normalisation that makes save -> load round-trips exact in GeoJSON, KML and GeoPackage:
lon/lat are rounded to 9 decimals (~0.1 mm), Z is dropped (altitude lives in the band
properties) and numeric properties are rounded to 6 decimals, so that every value fits
in the 15 significant digits GDAL's text formats write.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from airspace.errors import FeatureProblem, SiteValidationError, UnknownCrsError
from airspace.feature_props import FeatureProps, format_number
from airspace.projection import SiteProjection, resolve_crs
from airspace.site import (
    DEFAULT_MAX_ALT_AGL_M,
    Corridor,
    CorridorId,
    Geofence,
    GeofenceId,
    GeofenceKind,
    Pad,
    PadId,
    Site,
    SiteId,
    Terrain,
)
from airspace.volume import (
    MIN_OVERLAP_AREA_M2,
    AltitudeBand,
    AltitudeRef,
    Volume,
    volumes_overlap,
)

COORD_DECIMALS = 9
"""lon/lat decimals kept (~0.1 mm): enough for any site, few enough to print exactly."""
MAX_DISTANCE_M = 100_000.0
"""A feature farther than this from the reference point is a typo, not the site."""
MAX_PAD_AREA_M2 = 2_500.0
"""A pad is a small landing area; larger areas are corridors or geofences."""
UNLIMITED_FLOOR_AMSL_M = -1_000.0
UNLIMITED_CEILING_AMSL_M = 100_000.0
CENTRE_LINE_QUAD_SEGS = 8
"""Segments per quarter circle in the round caps and joins of centre-line corridors."""
DEFAULT_TIMEZONE = "UTC"

# One ellipsoid for every distance check; geodesic, so it works before the CRS is known.
_GEOD = Geod(ellps="WGS84")


class FeatureKind(enum.StrEnum):
    """The ``kind`` property of a feature."""

    SITE = "site"
    PAD = "pad"
    CORRIDOR = "corridor"
    EXCLUSION = "exclusion"
    BOUNDARY = "boundary"


_GEOMETRY_TYPES: dict[FeatureKind, tuple[str, ...]] = {
    FeatureKind.SITE: ("Point",),
    FeatureKind.PAD: ("Point", "Polygon"),
    FeatureKind.CORRIDOR: ("Polygon", "LineString"),
    FeatureKind.EXCLUSION: ("Polygon",),
    FeatureKind.BOUNDARY: ("Polygon",),
}
# Ids name features in URLs, bookings and KML ``id`` attributes (which GDAL's LIBKML
# writer does not escape), so they are plain tokens.
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_KINDS = frozenset(kind.value for kind in FeatureKind)


def centre_line_outline(line_m: LineString, half_width_m: float) -> Polygon:
    """Return the outline of a centre-line corridor, in the line's metric CRS.

    The line buffered by ``half_width_m`` with round caps and joins,
    ``CENTRE_LINE_QUAD_SEGS`` segments per quarter circle. Every outline vertex lies
    on the exact buffer, so the outline falls short of it by at most the sagitta
    ``half_width_m * (1 - cos(pi / (4 * CENTRE_LINE_QUAD_SEGS)))`` and never exceeds
    it. Never call this with a line in degrees.
    """
    # Each segment is buffered alone and the stadiums are unioned: the same shape as
    # ``line_m.buffer(...)``, but GEOS first simplifies a whole line by 1 % of the
    # width, which on jittery tracks cuts into the corridor and on lines that double
    # back loses parts of it (seen losing 7 % of the area).
    coords = shapely.get_coordinates(line_m)
    segments = shapely.linestrings(np.stack([coords[:-1], coords[1:]], axis=1))
    stadiums = shapely.buffer(segments, half_width_m, quad_segs=CENTRE_LINE_QUAD_SEGS)
    # Consecutive stadiums share a vertex's disc, so the union is one polygon.
    return cast(Polygon, shapely.union_all(stadiums))


@dataclass(frozen=True)
class _Entry:
    """One feature with its kind, id and label read, before kind-specific parsing."""

    kind: FeatureKind
    id: str
    props: FeatureProps
    geometry: object


@dataclass(frozen=True)
class _SiteSettings:
    """What every other feature is checked and projected against."""

    ref: Point
    ground_elev_m: float
    max_alt_agl_m: float
    projection: SiteProjection


def parse_site(features: Sequence[Mapping[str, Any]]) -> Site:
    """Return the validated ``Site`` described by ``features``.

    Each feature is ``{"geometry": shapely geometry in lon/lat degrees, "properties":
    {...}}`` (see docs/site-format.md). Raises ``SiteValidationError`` listing every
    problem found; a site is never returned half-checked.
    """
    problems: list[FeatureProblem] = []
    entries = list(_entries(features, problems))
    sites = [e for e in entries if e.kind is FeatureKind.SITE]
    boundaries = [e for e in entries if e.kind is FeatureKind.BOUNDARY]
    if not sites:
        problems.append(
            FeatureProblem("site", "no site feature: exactly one needs kind 'site'")
        )
    elif len(sites) > 1:
        ids = ", ".join(e.id for e in sites)
        problems.append(
            FeatureProblem("site", f"{len(sites)} site features ({ids}); need one")
        )
    if len(boundaries) > 1:
        ids = ", ".join(e.id for e in boundaries)
        problems.append(
            FeatureProblem(
                "boundary", f"{len(boundaries)} boundaries ({ids}); at most one allowed"
            )
        )
    site_fields: dict[str, Any] | None = None
    settings: _SiteSettings | None = None
    if len(sites) == 1:
        site_fields, settings = _parse_site_feature(sites[0])

    pads: list[Pad] = []
    corridors: list[Corridor] = []
    geofences: list[Geofence] = []
    for entry in entries:
        if entry.kind is FeatureKind.PAD:
            pad = _parse_pad(entry, settings)
            pads += [pad] if pad else []
        elif entry.kind is FeatureKind.CORRIDOR:
            corridor = _parse_corridor(entry, settings)
            corridors += [corridor] if corridor else []
        elif entry.kind in (FeatureKind.EXCLUSION, FeatureKind.BOUNDARY):
            geofence = _parse_geofence(entry, settings)
            geofences += [geofence] if geofence else []
    if settings:
        problems += _cross_check(pads, corridors, geofences, settings)
    if problems or site_fields is None or settings is None:
        raise SiteValidationError(problems)
    return Site(
        **site_fields,
        pads=tuple(pads),
        corridors=tuple(corridors),
        geofences=tuple(geofences),
        projection=settings.projection,
    )


def _entries(
    features: Sequence[Mapping[str, Any]], problems: list[FeatureProblem]
) -> Iterator[_Entry]:
    """Yield features whose kind and id are sound; record the others' problems."""
    first_seen: dict[str, int] = {}
    for number, feature in enumerate(features, start=1):
        props = FeatureProps(
            f"feature #{number}", feature.get("properties") or {}, problems
        )
        raw_kind = props.text("kind")
        if raw_kind is None:
            continue
        if raw_kind not in _KINDS:
            kinds = ", ".join(FeatureKind)
            props.label = f"feature {props.raw('id') or f'#{number}'}"
            props.fail(f"unknown kind {raw_kind!r} (expected one of {kinds})")
            continue
        kind = FeatureKind(raw_kind)
        props.label = f"{kind} #{number}"
        feature_id = props.text("id")
        if feature_id is None:
            continue
        props.label = f"{kind} {feature_id}"
        if not _ID_PATTERN.fullmatch(feature_id):
            props.fail(
                "id must be letters, digits, '-', '_' or '.', starting with a letter "
                "or digit"
            )
            continue
        if feature_id in first_seen:
            props.fail(f"duplicate id (feature #{first_seen[feature_id]} has it too)")
            continue
        first_seen[feature_id] = number
        yield _Entry(kind, feature_id, props, feature.get("geometry"))


def _clean_geometry(entry: _Entry) -> BaseGeometry | None:
    """Return the feature's geometry, 2-D with rounded lon/lat; None if unusable."""
    geom = entry.geometry
    props = entry.props
    if geom is None:
        props.fail("has no geometry")
        return None
    if not isinstance(geom, BaseGeometry):
        props.fail(f"geometry must be a shapely geometry, got {type(geom)}")
        return None
    if geom.is_empty:
        props.fail("geometry is empty")
        return None
    multi = shapely.MultiPoint | shapely.MultiLineString | shapely.MultiPolygon
    if isinstance(geom, multi) and len(geom.geoms) == 1:
        geom = geom.geoms[0]  # some writers promote every geometry to multi
    expected = _GEOMETRY_TYPES[entry.kind]
    if geom.geom_type not in expected:
        props.fail(f"geometry must be a {' or '.join(expected)}, got {geom.geom_type}")
        return None
    geom = shapely.transform(shapely.force_2d(geom), _round_coords)
    coords = shapely.get_coordinates(geom)
    lons, lats = coords[:, 0], coords[:, 1]
    if not np.all(np.isfinite(coords)):
        props.fail("coordinates must be finite numbers")
        return None
    if np.any(np.abs(lons) > 180) or np.any(np.abs(lats) > 90):
        swapped = np.all(np.abs(lons) <= 90) and np.all(np.abs(lats) <= 180)
        hint = " (looks like lat/lon are swapped)" if swapped else ""
        props.fail(
            "coordinates out of range: lon must be within [-180, 180] and lat "
            f"within [-90, 90]{hint}"
        )
        return None
    if not shapely.is_valid(geom):
        shape = "polygon" if isinstance(geom, Polygon) else "geometry"
        props.fail(f"invalid {shape}: {shapely.is_valid_reason(geom)}")
        return None
    if isinstance(geom, LineString) and geom.length == 0:
        props.fail("centre line needs at least two distinct points")
        return None
    return geom


def _round_coords(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.round(coords, COORD_DECIMALS)


def _max_distance_m(geom: BaseGeometry, ref: Point) -> float:
    coords = shapely.get_coordinates(geom)
    lons, lats = coords[:, 0], coords[:, 1]
    ref_lons = np.full_like(lons, ref.x)
    ref_lats = np.full_like(lats, ref.y)
    _, _, dist = _GEOD.inv(ref_lons, ref_lats, lons, lats)
    return float(np.max(dist))


def _check_near(entry: _Entry, geom: BaseGeometry, ref: Point) -> None:
    """Record a problem if the feature is far from the reference point."""
    distance_m = _max_distance_m(geom, ref)
    if distance_m <= MAX_DISTANCE_M:
        return
    swapped = shapely.transform(geom, lambda c: c[:, ::-1])
    coords = shapely.get_coordinates(swapped)
    in_range = np.all(np.abs(coords[:, 1]) <= 90)
    if in_range and _max_distance_m(swapped, ref) <= MAX_DISTANCE_M:
        entry.props.fail(
            f"is {distance_m / 1000:.0f} km from the reference point; "
            "looks like lat/lon are swapped"
        )
        return
    entry.props.fail(
        f"is {distance_m / 1000:.0f} km from the reference point "
        f"(at most {MAX_DISTANCE_M / 1000:.0f} km allowed)"
    )


def _placed_geometry(
    entry: _Entry, settings: _SiteSettings | None
) -> BaseGeometry | None:
    geom = _clean_geometry(entry)
    if geom is not None and settings is not None:
        _check_near(entry, geom, settings.ref)
    return geom


def _parse_site_feature(
    entry: _Entry,
) -> tuple[dict[str, Any] | None, _SiteSettings | None]:
    """Return the Site's own fields, and the settings every other feature needs.

    The settings come back whenever the reference point, CRS and altitudes are sound,
    so the other features are still checked when only, say, the timezone is wrong.
    """
    props = entry.props
    geom = _clean_geometry(entry)
    name = props.text("name")
    crs = props.text("crs")
    ground_elev_m = props.number("ground_elev_m")
    max_alt = props.number("max_alt_agl_m", required=False, above=0.0)
    max_alt_agl_m = DEFAULT_MAX_ALT_AGL_M if max_alt is None else max_alt
    timezone = props.text("timezone", required=False) or DEFAULT_TIMEZONE
    description = props.text("description", required=False) or ""
    require_signing = props.boolean("require_signing", required=False) or False
    checklist = _checklist(props)
    require_verified_fence = (
        props.boolean("require_verified_fence", required=False) or False
    )
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        props.fail(f"unknown timezone {timezone!r} (an IANA name like Asia/Hong_Kong)")
    settings = None
    metric_crs = None
    if isinstance(geom, Point) and crs is not None:
        try:
            metric_crs = resolve_crs(crs, geom.x, geom.y)
            projection = SiteProjection(metric_crs)
        except UnknownCrsError as exc:
            props.fail(str(exc))
        else:
            bad_max_alt = props.has("max_alt_agl_m") and max_alt is None
            if ground_elev_m is not None and not bad_max_alt:
                settings = _SiteSettings(geom, ground_elev_m, max_alt_agl_m, projection)
    if not props.ok or settings is None or name is None or metric_crs is None:
        return None, settings
    fields: dict[str, Any] = {
        "id": SiteId(entry.id),
        "name": name,
        "ref_lon_deg": settings.ref.x,
        "ref_lat_deg": settings.ref.y,
        "ground_elev_m": settings.ground_elev_m,
        "crs": crs,
        "metric_crs": metric_crs,
        "max_alt_agl_m": max_alt_agl_m,
        "timezone": timezone,
        "description": description,
        "require_signing": require_signing,
        "preflight_checklist": checklist,
        "require_verified_fence": require_verified_fence,
    }
    return fields, settings


CHECKLIST_ITEM = re.compile(r"[a-z][a-z0-9_]{0,59}")
MAX_CHECKLIST_ITEMS = 30


def _checklist(props: FeatureProps) -> tuple[str, ...] | None:
    """Return the site's pre-flight checklist ids, or None for the default list.

    A list, or comma-separated text (GeoPackage and KML hold no lists)."""
    value = props.raw("preflight_checklist")
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        value = value.tolist()  # a GeoJSON list read through a data frame
    raw = value.split(",") if isinstance(value, str) else value
    if not isinstance(raw, list | tuple):
        props.fail("preflight_checklist must be a list of item ids")
        return None
    items = tuple(str(v).strip() for v in raw)
    bad = [i for i in items if not CHECKLIST_ITEM.fullmatch(i)]
    if bad:
        props.fail(
            f"preflight_checklist items must be ids like fence_verified, got {bad[0]!r}"
        )
    elif not 1 <= len(items) <= MAX_CHECKLIST_ITEMS:
        props.fail(f"preflight_checklist needs 1 to {MAX_CHECKLIST_ITEMS} items")
    elif len(set(items)) != len(items):
        props.fail("preflight_checklist lists an item twice")
    else:
        return items
    return None


def _parse_pad(entry: _Entry, settings: _SiteSettings | None) -> Pad | None:
    props = entry.props
    geom = _placed_geometry(entry, settings)
    name = props.text("name")
    charger = props.boolean("charger")
    mass_kg = props.number("max_takeoff_mass_kg", above=0.0)
    turnaround_min = props.at_least_zero("turnaround_min")
    if not isinstance(geom, Point | Polygon) or settings is None:
        return None
    geometry_m = settings.projection.geometry_to_metric(geom)
    if isinstance(geometry_m, Polygon) and geometry_m.area > MAX_PAD_AREA_M2:
        props.fail(
            f"pad polygon covers {geometry_m.area:.0f} m², more than the "
            f"{MAX_PAD_AREA_M2:.0f} m² of a pad; draw larger areas as corridors"
        )
    if (
        not props.ok
        or name is None
        or charger is None
        or mass_kg is None
        or turnaround_min is None
    ):
        return None
    return Pad(
        id=PadId(entry.id),
        name=name,
        geometry_lonlat=geom,
        geometry_m=geometry_m,
        charger=charger,
        max_takeoff_mass_kg=mass_kg,
        turnaround_min=turnaround_min,
    )


def _read_band(props: FeatureProps, *, optional: bool) -> AltitudeBand | None:
    """Read floor_m/ceiling_m/alt_ref; with ``optional``, both absent is no band."""
    ref = props.alt_ref()
    if optional and not props.has("floor_m") and not props.has("ceiling_m"):
        return None
    if optional and not (props.has("floor_m") and props.has("ceiling_m")):
        props.fail("give both floor_m and ceiling_m, or neither (ground up, unlimited)")
        return None
    floor_m = props.number("floor_m")
    ceiling_m = props.number("ceiling_m")
    if floor_m is None or ceiling_m is None or ref is None:
        return None
    if not floor_m < ceiling_m:
        props.fail(
            f"floor {format_number(floor_m)} m is not below "
            f"ceiling {format_number(ceiling_m)} m"
        )
        return None
    return AltitudeBand(floor_m, ceiling_m, ref)


def _check_site_limit(
    props: FeatureProps, band: AltitudeBand, settings: _SiteSettings
) -> None:
    """Record a problem if the band reaches above the site limit (compared in AGL)."""
    ceiling_agl_m = band.ceiling_m
    given = f"{format_number(band.ceiling_m)} m {band.ref}"
    if band.ref is AltitudeRef.AMSL:
        ceiling_agl_m = band.ceiling_m - settings.ground_elev_m
        given += f" ({format_number(ceiling_agl_m)} m AGL)"
    if ceiling_agl_m > settings.max_alt_agl_m:
        props.fail(
            f"ceiling {given} is above the site limit of "
            f"{format_number(settings.max_alt_agl_m)} m AGL"
        )


def _parse_corridor(entry: _Entry, settings: _SiteSettings | None) -> Corridor | None:
    props = entry.props
    geom = _placed_geometry(entry, settings)
    name = props.text("name")
    band = _read_band(props, optional=False)
    capacity = props.integer("capacity", minimum=1)
    over_water = props.boolean("over_water")
    half_width_m = props.number("half_width_m", required=False, above=0.0)
    segments = props.segment_indexes("over_water_segments")
    terrain_text = props.text("terrain", required=False)
    terrain = None
    if terrain_text is not None:
        try:
            terrain = Terrain(terrain_text)
        except ValueError:
            props.fail(
                f"terrain must be one of {', '.join(t.value for t in Terrain)}, "
                f"not {terrain_text!r}"
            )
    if isinstance(geom, LineString):
        segment_count = len(geom.coords) - 1
        if not props.has("half_width_m"):
            props.fail("a centre-line corridor needs half_width_m > 0")
        if segments and segments[-1] >= segment_count:
            props.fail(
                f"over_water_segments index {segments[-1]} is out of range: the "
                f"centre line has {segment_count} segments (0-{segment_count - 1})"
            )
        if segments and over_water is False:
            props.fail("over_water_segments are given but over_water is false")
    elif isinstance(geom, Polygon):
        for key in ("half_width_m", "over_water_segments"):
            if props.has(key):
                props.fail(f"{key} is only for centre-line (LineString) corridors")
    if band is not None and settings is not None:
        _check_site_limit(props, band, settings)
    if (
        not isinstance(geom, LineString | Polygon)
        or settings is None
        or not props.ok
        or name is None
        or band is None
        or capacity is None
        or over_water is None
    ):
        return None
    projected = settings.projection.geometry_to_metric(geom)
    if isinstance(projected, LineString) and half_width_m is not None:
        outline = centre_line_outline(projected, half_width_m)
    elif isinstance(projected, Polygon):
        outline = projected
    else:
        return None  # a line without a half-width; already recorded above
    return Corridor(
        id=CorridorId(entry.id),
        name=name,
        geometry_lonlat=geom,
        half_width_m=half_width_m,
        band=band,
        capacity=capacity,
        over_water=over_water,
        over_water_segments=segments,
        volume=Volume(outline, *band.to_amsl(settings.ground_elev_m)),
        terrain=terrain,
    )


def _parse_geofence(entry: _Entry, settings: _SiteSettings | None) -> Geofence | None:
    props = entry.props
    geom = _placed_geometry(entry, settings)
    name = props.text("name")
    band: AltitudeBand | None
    if entry.kind is FeatureKind.EXCLUSION:
        band = _read_band(props, optional=True)
    else:
        band = None  # the boundary's band is derived from the site limit
    if (
        not isinstance(geom, Polygon)
        or settings is None
        or not props.ok
        or name is None
    ):
        return None
    outline = settings.projection.geometry_to_metric(geom)
    if entry.kind is FeatureKind.BOUNDARY:
        site_limit_amsl_m = settings.ground_elev_m + settings.max_alt_agl_m
        band = AltitudeBand(UNLIMITED_FLOOR_AMSL_M, site_limit_amsl_m, AltitudeRef.AMSL)
    if band is None:
        volume = Volume(outline, UNLIMITED_FLOOR_AMSL_M, UNLIMITED_CEILING_AMSL_M)
    else:
        volume = Volume(outline, *band.to_amsl(settings.ground_elev_m))
    return Geofence(
        id=GeofenceId(entry.id),
        name=name,
        kind=GeofenceKind(entry.kind.value),
        geometry_lonlat=geom,
        band=band,
        volume=volume,
    )


def _cross_check(
    pads: list[Pad],
    corridors: list[Corridor],
    geofences: list[Geofence],
    settings: _SiteSettings,
) -> list[FeatureProblem]:
    """Return problems between features: outside the boundary, inside an exclusion."""
    problems: list[FeatureProblem] = []
    boundary = next((g for g in geofences if g.kind is GeofenceKind.BOUNDARY), None)
    exclusions = [g for g in geofences if g.kind is GeofenceKind.EXCLUSION]
    for corridor in corridors:
        label = f"corridor {corridor.id}"
        outline = corridor.volume.outline
        if boundary is not None:
            outside_m2 = shapely.difference(outline, boundary.volume.outline).area
            if outside_m2 >= MIN_OVERLAP_AREA_M2:
                reason = (
                    f"leaves the site boundary {boundary.id} by {outside_m2:.0f} m²"
                )
                problems.append(FeatureProblem(label, reason))
        for exclusion in exclusions:
            if volumes_overlap(corridor.volume, exclusion.volume):
                reason = f"crosses exclusion zone {exclusion.id} within its band"
                problems.append(FeatureProblem(label, reason))
    for pad in pads:
        label = f"pad {pad.id}"
        if boundary is not None and not boundary.volume.outline.covers(pad.geometry_m):
            problems.append(FeatureProblem(label, f"is outside boundary {boundary.id}"))
        for exclusion in exclusions:
            on_ground = exclusion.volume.floor_amsl_m <= settings.ground_elev_m
            if on_ground and exclusion.volume.outline.intersects(pad.geometry_m):
                reason = f"lies in exclusion zone {exclusion.id}"
                problems.append(FeatureProblem(label, reason))
    return problems
