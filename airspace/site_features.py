"""Turn a ``Site`` back into GeoJSON-like features: what files and the API export.

The inverse of ``airspace.site_parse.parse_site``: each feature carries only the
properties of its kind, so ``parse_site(site_to_features(site)) == site``. Kept apart
from ``site_parse`` because writing only reads a ``Site``'s fields: validation and
normalisation all happen on the way in. No I/O happens here.
"""

from __future__ import annotations

from typing import Any

from shapely.geometry import Point, mapping
from shapely.geometry.base import BaseGeometry

from airspace.site import GeofenceKind, Site
from airspace.site_parse import FeatureKind
from airspace.volume import AltitudeBand


def _band_properties(band: AltitudeBand) -> dict[str, Any]:
    return {
        "floor_m": band.floor_m,
        "ceiling_m": band.ceiling_m,
        "alt_ref": band.ref.value,
    }


def site_to_features(site: Site) -> list[dict[str, Any]]:
    """Return ``site`` as features that ``parse_site`` turns back into an equal site.

    Geometry is in lon/lat degrees (shapely objects); each feature carries only the
    properties of its kind, so absent values stay absent.
    """
    site_props: dict[str, Any] = {
        "kind": FeatureKind.SITE.value,
        "id": site.id,
        "name": site.name,
        "crs": site.crs,
        "ground_elev_m": site.ground_elev_m,
        "max_alt_agl_m": site.max_alt_agl_m,
        "timezone": site.timezone,
    }
    if site.description:
        site_props["description"] = site.description
    if site.require_signing:
        site_props["require_signing"] = True
    if site.preflight_checklist is not None:
        site_props["preflight_checklist"] = ",".join(site.preflight_checklist)
    if site.require_verified_fence:
        site_props["require_verified_fence"] = True
    features = [_feature(Point(site.ref_lon_deg, site.ref_lat_deg), site_props)]
    for pad in site.pads:
        pad_props = {
            "kind": FeatureKind.PAD.value,
            "id": pad.id,
            "name": pad.name,
            "charger": pad.charger,
            "max_takeoff_mass_kg": pad.max_takeoff_mass_kg,
            "turnaround_min": pad.turnaround_min,
        }
        features.append(_feature(pad.geometry_lonlat, pad_props))
    for corridor in site.corridors:
        corridor_props: dict[str, Any] = {
            "kind": FeatureKind.CORRIDOR.value,
            "id": corridor.id,
            "name": corridor.name,
            **_band_properties(corridor.band),
            "capacity": corridor.capacity,
            "over_water": corridor.over_water,
        }
        if corridor.half_width_m is not None:
            corridor_props["half_width_m"] = corridor.half_width_m
        if corridor.over_water_segments:
            corridor_props["over_water_segments"] = ",".join(
                str(i) for i in corridor.over_water_segments
            )
        if corridor.terrain is not None:
            corridor_props["terrain"] = corridor.terrain.value
        features.append(_feature(corridor.geometry_lonlat, corridor_props))
    for geofence in site.geofences:
        fence_props: dict[str, Any] = {
            "kind": geofence.kind.value,
            "id": geofence.id,
            "name": geofence.name,
        }
        if geofence.kind is GeofenceKind.EXCLUSION and geofence.band is not None:
            fence_props.update(_band_properties(geofence.band))
        features.append(_feature(geofence.geometry_lonlat, fence_props))
    return features


def _feature(geometry: BaseGeometry, properties: dict[str, Any]) -> dict[str, Any]:
    return {"geometry": geometry, "properties": properties}


def site_to_feature_collection(site: Site) -> dict[str, Any]:
    """Return ``site`` as a plain, JSON-serialisable GeoJSON FeatureCollection dict."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": feature["properties"],
                "geometry": mapping(feature["geometry"]),
            }
            for feature in site_to_features(site)
        ],
    }
