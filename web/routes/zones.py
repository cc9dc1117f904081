"""Official restricted zones: import an ED-269 / ED-318 / GeoJSON document as
closures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status
from pydantic import BaseModel

from airspace.geozones import GeoZoneError, parse_geozone_document
from airspace.site import SiteId
from booking.errors import NotFound
from booking.zone_imports import import_zones, zones_for_site
from web.deps import ActorDep, SitesDep, UowDep
from web.errors import ApiError

router = APIRouter(tags=["closures"])


class ZoneImportPublic(BaseModel):
    """What an import did: closure ids per outcome, zones skipped as expired."""

    source: str
    created: list[int]
    updated: list[int]
    unchanged: list[int]
    expired: list[str]
    bumped_bookings: list[int]


@router.post("/sites/{site_id}/zones")
def import_site_zones(
    site_id: str,
    document: Annotated[dict[str, Any], Body()],
    source: Annotated[str, Query(min_length=1, max_length=120)],
    actor: ActorDep,
    sites: SitesDep,
    uow: UowDep,
) -> ZoneImportPublic:
    """Import official zones (ED-269 JSON, or an ED-318/GeoJSON FeatureCollection)
    as area closures of the site, labelled with ``source``; importing the same
    source again updates them. Site admins and safety officers only."""
    site = sites.get(site_id)
    if site is None:
        raise NotFound("site", site_id)
    try:
        zones = zones_for_site(parse_geozone_document(document), site, source)
    except (GeoZoneError, ValueError) as exc:
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "zone_file_invalid",
            str(exc),
            reason=str(exc),
        ) from exc
    done = import_zones(uow, SiteId(site_id), zones, actor, datetime.now(UTC))
    return ZoneImportPublic(
        source=source,
        created=[c.id for c in done.created],
        updated=[c.id for c in done.updated],
        unchanged=[c.id for c in done.unchanged],
        expired=list(done.expired),
        bumped_bookings=[b.id for b in done.bumped],
    )
