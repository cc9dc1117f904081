"""Closures: site admins and safety officers close pads, corridors and areas.

Creating a closure bumps every pending or approved booking it hits, in the same
transaction; the response lists them. Any signed-in user may read closures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime

from airspace.site import SiteId
from booking.closure_services import CreateClosure, create_closure, delete_closure
from booking.errors import NotFound
from booking.model import Actor, ClosureId, Role
from web.deps import ActorDep, CatalogueDep, SessionDep, UowDep, require_role
from web.input_limits import MAX_PAGE, DbId, Offset, PageLimit
from web.queries import get_closure, list_closures
from web.schemas import BookingPublic, ClosureCreate, ClosureCreated, ClosurePublic

router = APIRouter(tags=["closures"])

ClosureManager = Annotated[
    Actor, Depends(require_role(Role.SITE_ADMIN, Role.SAFETY_OFFICER))
]
"""Checked before the body is looked at, so other roles always get 403."""


@router.get("/closures")
def closures_index(
    actor: ActorDep,
    session: SessionDep,
    catalogue: CatalogueDep,
    site: str | None = None,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: PageLimit = MAX_PAGE,
    offset: Offset = 0,
) -> list[ClosurePublic]:
    """Return closures, optionally of one site and overlapping ``[from, to)``, by
    start, at most ``limit`` (up to 1000) after ``offset``."""
    found = list_closures(session, site, start, end, limit=limit, offset=offset)
    return [ClosurePublic.of(c, catalogue.get(c.site_id)) for c in found]


@router.post("/closures", status_code=status.HTTP_201_CREATED)
def closures_create(
    body: ClosureCreate, actor: ClosureManager, catalogue: CatalogueDep, uow: UowDep
) -> ClosureCreated:
    """Close a pad, a corridor or an area (site admins and safety officers).

    An area is a GeoJSON Polygon in lon/lat (``area``) or in the HK1980 Grid
    (``area_hk1980``: easting, northing in metres, EPSG:2326), with
    ``floor_m``/``ceiling_m`` relative to ``alt_ref`` (AGL: the site's ground).
    Bookings it hits are bumped and listed.
    """
    site = catalogue.get(SiteId(body.site_id))
    if site is None:
        raise NotFound("site", body.site_id)
    try:
        target = body.target(site)
    except ValueError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "area_outside_site",
                    "loc": ("body", body.area_field),
                    "msg": str(exc),
                    "ctx": {"site": site.id},
                }
            ]
        ) from exc
    cmd = CreateClosure(site.id, target, body.start, body.end, body.reason)
    outcome = create_closure(uow, cmd, actor, datetime.now(UTC))
    public = ClosurePublic.of(outcome.closure, site)
    return ClosureCreated(
        **public.model_dump(),
        bumped=[BookingPublic.of(b) for b in outcome.bumped],
        active_booking_ids=[b.id for b in outcome.active_hit],
    )


@router.delete("/closures/{closure_id}")
def closures_delete(
    closure_id: DbId, actor: ClosureManager, catalogue: CatalogueDep, uow: UowDep
) -> ClosurePublic:
    """Delete a closure and return it; bookings it bumped stay bumped."""
    closure = delete_closure(uow, ClosureId(closure_id), actor, datetime.now(UTC))
    return ClosurePublic.of(closure, catalogue.get(closure.site_id))


@router.get("/closures/{closure_id}")
def closures_show(
    closure_id: DbId, actor: ActorDep, session: SessionDep, catalogue: CatalogueDep
) -> ClosurePublic:
    """Return one closure."""
    closure = get_closure(session, closure_id)
    return ClosurePublic.of(closure, catalogue.get(closure.site_id))
