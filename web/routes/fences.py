"""A booking's fence on its aircraft: send it now, and read where it stands.

``POST /bookings/{id}/fence`` uploads the booked airspace to the booking's drone
and reads it back (``web.booking_fences``); pilots, operators and site admins of
the booking may (safety officers: 403). ``GET`` returns the last report. A booking
that is not approved or active has no airspace to send yet (409).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, cast

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Request, status
from sqlalchemy.engine import Engine
from sqlmodel import Session

from booking.model import Actor, Booking, BookingState, Role
from web.booking_fences import BookingFences
from web.deps import ActorDep, require_role
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
    booking_id: int, actor: FenceActorDep, request: Request
) -> dict[str, Any]:
    """Upload the booking's fence to its drone, read it back, and return the
    report (``state``: uploaded / verified / mismatch / refused / not_supported)."""
    booking = await _booking(request, actor, booking_id)
    if booking.state not in SENDABLE:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"booking {booking_id} is {booking.state}: only an approved "
            "or active booking has airspace to send",
        )
    report = await _fences(request).send(booking, datetime.now(UTC))
    return report.as_dict()


@router.get("/bookings/{booking_id}/fence")
async def bookings_fence_show(
    booking_id: int, actor: ActorDep, request: Request
) -> dict[str, Any]:
    """Return the last fence report of the booking (``state`` null: never sent)."""
    await _booking(request, actor, booking_id)
    report = _fences(request).reports.get(booking_id)
    if report is None:
        return {"booking_id": booking_id, "state": None, "reason": "not sent yet"}
    return report.as_dict()
