"""A booking's fence on its aircraft: send it now, read where it stands, and take
it to a ground station as a QGroundControl ``.plan`` or a MAVProxy fence file.

``POST /bookings/{id}/fence`` uploads the booked airspace to the booking's drone
and reads it back (``web.booking_fences``); pilots, operators and site admins of
the booking may (safety officers: 403). ``GET`` returns the last report. A booking
that is not approved or active has no airspace to send yet (409).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated, Any, cast

import anyio.to_thread
from fastapi import APIRouter, Depends, Request, Response, status
from sqlalchemy.engine import Engine
from sqlmodel import Session

from airspace.booked_volume import booked_outline, booked_volumes
from airspace.errors import FenceTooComplex
from airspace.fence_plan import fence_lonlat, plan_fence
from booking.model import Actor, Booking, BookingState, Role
from telemetry.reports.plan_files import qgc_plan_text, wpl_fence_text
from web.booking_fences import BookingFences
from web.deps import ActorDep, SitesDep, require_role
from web.errors import ApiError, Word
from web.input_limits import DbId
from web.queries import get_booking

router = APIRouter(tags=["bookings"])

FenceActorDep = Annotated[
    Actor, Depends(require_role(Role.PILOT, Role.OPERATOR, Role.SITE_ADMIN))
]
SENDABLE = frozenset({BookingState.APPROVED, BookingState.ACTIVE})


def _fences(request: Request) -> BookingFences:
    return cast(BookingFences, request.app.state.telemetry.fences)


async def _booking(request: Request, actor: Actor, booking_id: int) -> Booking:
    engine = cast(Engine, request.app.state.engine)

    def load() -> Booking:
        with Session(engine) as session:
            return get_booking(session, actor, booking_id)

    return await anyio.to_thread.run_sync(load)


@router.post("/bookings/{booking_id}/fence")
async def bookings_fence_send(
    booking_id: DbId, actor: FenceActorDep, request: Request
) -> dict[str, Any]:
    """Upload the booking's fence to its drone, read it back, and return the
    report (``state``: uploaded / verified / mismatch / refused / not_supported)."""
    booking = await _booking(request, actor, booking_id)
    if booking.state not in SENDABLE:
        raise ApiError(
            status.HTTP_409_CONFLICT,
            "fence_not_sendable",
            f"booking {booking_id} is {booking.state}: only an approved "
            "or active booking has airspace to send",
            booking_id=booking_id,
            state=Word(f"booking.state.{booking.state}"),
        )
    report = await _fences(request).send(booking, datetime.now(UTC))
    return report.as_dict()


@router.get("/bookings/{booking_id}/fence")
async def bookings_fence_show(
    booking_id: DbId, actor: ActorDep, request: Request
) -> dict[str, Any]:
    """Return the last fence report of the booking (``state`` null: never sent)."""
    await _booking(request, actor, booking_id)
    report = _fences(request).reports.get(booking_id)
    if report is None:
        return {
            "booking_id": booking_id,
            "state": None,
            "reason": "not sent yet",
            "reason_code": "not_sent",
            "reason_params": {},
        }
    return report.as_dict()


class PlanFormat(enum.StrEnum):
    """Which ground-station file ``GET /bookings/{id}/plan`` writes."""

    PLAN = "plan"
    """QGroundControl's ``.plan`` JSON."""
    WPL = "wpl"
    """QGC WPL 110 fence items, what MAVProxy's ``fence load`` reads."""


@router.get("/bookings/{booking_id}/plan")
async def bookings_plan(
    booking_id: DbId,
    actor: ActorDep,
    request: Request,
    sites: SitesDep,
    format: PlanFormat = PlanFormat.PLAN,  # the query parameter's name
) -> Response:
    """Return the booking's fence as a QGroundControl ``.plan`` (or, with
    ``format=wpl``, a MAVProxy fence file): the polygons SkyBerth uploads, the
    booked pads as rally points."""
    booking = await _booking(request, actor, booking_id)
    site = sites[booking.site_id]
    volumes = booked_volumes(site, booking.corridor_id, booking.pad_ids)
    outline = booked_outline(site, booking.corridor_id, booking.pad_ids)
    try:
        plan = plan_fence(site, outline, volumes)
    except FenceTooComplex as exc:
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "fence_too_complex", str(exc)
        ) from exc
    name = f"skyberth-booking-{booking_id}"
    if format is PlanFormat.WPL:
        return Response(
            wpl_fence_text(fence_lonlat(site, plan)),
            media_type="text/plain",
            headers={"Content-Disposition": f'attachment; filename="{name}.fence.txt"'},
        )
    rally_alt_m = max(0.0, plan.alt_min_m)
    return Response(
        qgc_plan_text(site, plan, booking.pad_ids, rally_alt_m),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}.plan"'},
    )
