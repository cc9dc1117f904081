"""The airspace a booking holds, computed once: its volumes and their outline.

A booking of a corridor holds the corridor plus a transit from each of its pads
(``airspace.transit``); a pad-only booking holds its pad's column. This module
names that set once so that every consumer draws, uploads and exports the same
shape the conformance engine enforces: the live map (through the API), the fence
sent to the aircraft, the ``.plan`` export and the KML. Round caps and joins, in
the site's metric CRS: never re-buffer a centre line anywhere else.
Pure geometry in site metres; ``outline_lonlat`` converts once at the edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import shapely
from shapely.geometry import MultiPolygon, Polygon

from airspace.site import Site
from airspace.transit import pad_column, transit_volume
from airspace.volume import Volume


def booked_volumes(
    site: Site, corridor_id: str | None, pad_ids: Sequence[str]
) -> tuple[Volume, ...]:
    """Return the volumes a booking of ``corridor_id`` and ``pad_ids`` holds.

    The corridor first, then one transit per pad (into the corridor); without a
    corridor, one column per pad. Empty when the booking holds neither.
    """
    if corridor_id is not None:
        corridor = site.corridor(corridor_id)
        transits = (transit_volume(site, site.pad(p), corridor) for p in pad_ids)
        return (corridor.volume, *transits)
    return tuple(pad_column(site, site.pad(p)) for p in pad_ids)


def union_outline(volumes: Sequence[Volume]) -> Polygon | MultiPolygon:
    """Return the union of ``volumes``' outlines in site metres (one polygon when
    they touch, which a corridor and its transits always do)."""
    merged = shapely.union_all([v.outline for v in volumes])
    if isinstance(merged, Polygon | MultiPolygon):
        return merged
    return Polygon()


def booked_outline(
    site: Site, corridor_id: str | None, pad_ids: Sequence[str]
) -> Polygon | MultiPolygon:
    """Return the outline (site metres) of everything a booking holds."""
    return union_outline(booked_volumes(site, corridor_id, pad_ids))


def outline_lonlat(
    site: Site, outline: Polygon | MultiPolygon
) -> Polygon | MultiPolygon:
    """Return ``outline`` (site metres) in WGS84 lon/lat degrees."""
    return site.projection.geometry_to_lonlat(outline)
