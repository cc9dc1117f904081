"""Sites: the pads, corridors and geofences a client draws and books against."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from airspace.site_parse import site_to_feature_collection
from web.deps import SitesDep

router = APIRouter(tags=["sites"])


class SiteSummary(BaseModel):
    """One site in the list, without its geometry."""

    id: str
    name: str
    ref_lon_deg: float
    ref_lat_deg: float
    metric_crs: str
    timezone: str
    pads: int
    corridors: int
    geofences: int


@router.get("/sites")
def list_sites(sites: SitesDep) -> list[SiteSummary]:
    """Return every site this instance serves."""
    return [
        SiteSummary(
            id=s.id,
            name=s.name,
            ref_lon_deg=s.ref_lon_deg,
            ref_lat_deg=s.ref_lat_deg,
            metric_crs=s.metric_crs,
            timezone=s.timezone,
            pads=len(s.pads),
            corridors=len(s.corridors),
            geofences=len(s.geofences),
        )
        for s in sites.values()
    ]


@router.get("/sites/{site_id}")
def get_site(site_id: str, sites: SitesDep) -> dict[str, Any]:
    """Return the site as a GeoJSON FeatureCollection (lon/lat, WGS84)."""
    site = sites.get(site_id)
    if site is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site_id!r}")
    return site_to_feature_collection(site)
