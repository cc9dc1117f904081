"""Bookings: request, list, read, approve, reject, cancel, and the iCalendar feed.

Visibility follows ``booking.permissions``: another organisation's booking or drone
is a 404. Changes check it inside their own unit of work (``conceal=True``): one
transaction per request.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import AwareDatetime
from shapely.geometry import mapping

from airspace.booked_volume import booked_volumes, outline_lonlat, union_outline
from airspace.site import CorridorId, PadId, SiteId
from booking.model import BookingId, BookingState, DroneId
from booking.services import (
    RequestBooking,
    approve,
    cancel,
    complete,
    reject,
    request_booking,
)
from web.calendar import bookings_calendar
from web.deps import ActorDep, SessionDep, SitesDep, UowDep
from web.i18n.request_language import ChosenLanguageDep
from web.input_limits import DbId, Offset
from web.queries import BookingFilter, get_booking, list_bookings
from web.schemas import BookingCreate, BookingPublic, BookingReject

router = APIRouter(tags=["bookings"])

MAX_PAGE = 1000


@router.get("/bookings")
def bookings_index(
    actor: ActorDep,
    session: SessionDep,
    site: str | None = None,
    pad: str | None = None,
    corridor: str | None = None,
    drone: str | None = None,
    operator: str | None = None,
    state: BookingState | None = None,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 200,
    offset: Offset = 0,
) -> list[BookingPublic]:
    """Return the bookings the caller may see, filtered, by start time.

    ``from``/``to`` select bookings whose window overlaps ``[from, to)``.
    """
    f = BookingFilter(site, pad, corridor, drone, operator, state, start, end)
    found = list_bookings(session, actor, f, limit=limit, offset=offset)
    return [BookingPublic.of(b) for b in found]


@router.post("/bookings", status_code=status.HTTP_201_CREATED)
def bookings_create(body: BookingCreate, actor: ActorDep, uow: UowDep) -> BookingPublic:
    """Request a booking; it starts ``pending`` until a site admin approves it.

    409 when a pad, the corridor's capacity, the drone or a closure is taken (the
    body names the rule and the booking or closure ids); 422 for a broken site rule.
    """
    cmd = RequestBooking(
        site_id=SiteId(body.site_id),
        drone_id=DroneId(body.drone_id),
        start=body.start,
        end=body.end,
        takeoff_pad_id=PadId(body.takeoff_pad_id) if body.takeoff_pad_id else None,
        landing_pad_id=PadId(body.landing_pad_id) if body.landing_pad_id else None,
        corridor_id=CorridorId(body.corridor_id) if body.corridor_id else None,
    )
    # Another organisation's drone is a 404, exactly like a missing one.
    booked = request_booking(uow, cmd, actor, datetime.now(UTC), conceal=True)
    return BookingPublic.of(booked)


@router.get(
    "/bookings.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
def bookings_ics(
    actor: ActorDep,
    session: SessionDep,
    chosen: ChosenLanguageDep,
    site: str | None = None,
) -> Response:
    """Return the caller's organisation's bookings (staff: all, or ``?site=``) as
    iCalendar, one event per booking, its words in the reader's language."""
    found = list_bookings(session, actor, BookingFilter(site_id=site), limit=10_000)
    body = bookings_calendar(found, datetime.now(UTC), chosen.language)
    return Response(
        body,
        media_type="text/calendar",
        headers={"Content-Disposition": 'inline; filename="skyberth-bookings.ics"'},
    )


@router.get("/bookings/{booking_id}")
def bookings_show(
    booking_id: DbId, actor: ActorDep, session: SessionDep
) -> BookingPublic:
    """Return one booking; 404 when it is not the caller's to see."""
    return BookingPublic.of(get_booking(session, actor, booking_id))


@router.get("/bookings/{booking_id}/outline")
def bookings_outline(
    booking_id: DbId, actor: ActorDep, session: SessionDep, sites: SitesDep
) -> dict[str, Any]:
    """Return the airspace the booking holds as one GeoJSON Feature (lon/lat): the
    conformance engine's own outline of its corridor and transits (or pad columns),
    with the band (metres AMSL) it spans. The map draws this; nothing re-buffers."""
    booking = get_booking(session, actor, booking_id)
    site = sites[booking.site_id]
    volumes = booked_volumes(site, booking.corridor_id, booking.pad_ids)
    outline = union_outline(volumes)
    return {
        "type": "Feature",
        "properties": {
            "kind": "booked_outline",
            "booking_id": booking.id,
            "corridor_id": booking.corridor_id,
            "pad_ids": list(booking.pad_ids),
            "floor_amsl_m": min((v.floor_amsl_m for v in volumes), default=None),
            "ceiling_amsl_m": max((v.ceiling_amsl_m for v in volumes), default=None),
        },
        "geometry": mapping(outline_lonlat(site, outline)),
    }


@router.post("/bookings/{booking_id}/approve")
def bookings_approve(booking_id: DbId, actor: ActorDep, uow: UowDep) -> BookingPublic:
    """Approve a pending booking (site admins only)."""
    bid = BookingId(booking_id)
    return BookingPublic.of(approve(uow, bid, actor, datetime.now(UTC), conceal=True))


@router.post("/bookings/{booking_id}/reject")
def bookings_reject(
    booking_id: DbId,
    actor: ActorDep,
    uow: UowDep,
    body: BookingReject | None = None,
) -> BookingPublic:
    """Reject a pending booking (site admins only), with an optional reason."""
    bid = BookingId(booking_id)
    reason = body.reason if body is not None else ""
    rejected = reject(uow, bid, actor, datetime.now(UTC), reason, conceal=True)
    return BookingPublic.of(rejected)


@router.post("/bookings/{booking_id}/cancel")
def bookings_cancel(booking_id: DbId, actor: ActorDep, uow: UowDep) -> BookingPublic:
    """Cancel a pending or approved booking (its organisation or a site admin)."""
    bid = BookingId(booking_id)
    return BookingPublic.of(cancel(uow, bid, actor, datetime.now(UTC), conceal=True))


@router.post("/bookings/{booking_id}/complete")
def bookings_complete(booking_id: DbId, actor: ActorDep, uow: UowDep) -> BookingPublic:
    """End an active booking's flight now (its organisation or a site admin); the
    gateway does so itself once the drone has landed and disarmed, and the window's
    end does it too."""
    bid = BookingId(booking_id)
    now = datetime.now(UTC)
    done = complete(uow, bid, actor, now, "ended by the pilot", conceal=True)
    return BookingPublic.of(done)
