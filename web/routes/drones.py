"""Drones: registration and listing, limited to the caller's organisation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request, status

from airspace.site import SiteId
from booking.drone_services import RegisterDrone, register_drone
from booking.errors import NotFound, PermissionDenied
from booking.model import DroneId, OperatorId, Role
from booking.registration import CadRegistration
from booking.tables import OperatorRow
from web.deps import ActorDep, SessionDep, UowDep
from web.input_limits import MAX_PAGE, Offset, PageLimit
from web.queries import get_drone, list_drones
from web.schemas import DroneCreate, DronePublic

router = APIRouter(tags=["drones"])


@router.get("/drones")
def drones_index(
    actor: ActorDep,
    session: SessionDep,
    site: str | None = None,
    limit: PageLimit = MAX_PAGE,
    offset: Offset = 0,
) -> list[DronePublic]:
    """Return the drones the caller may see (their organisation's, or all for staff),
    by id, at most ``limit`` (up to 1000) after ``offset``."""
    found = list_drones(session, actor, site, limit=limit, offset=offset)
    return [DronePublic.of(d) for d in found]


@router.post("/drones", status_code=status.HTTP_201_CREATED)
def drones_create(
    body: DroneCreate,
    actor: ActorDep,
    session: SessionDep,
    uow: UowDep,
    request: Request,
) -> DronePublic:
    """Register a drone for the caller's organisation (site admins: any)."""
    operator_id = body.operator_id or actor.operator_id
    if operator_id is None:
        raise PermissionDenied(f"{actor} belongs to no organisation: give operator_id")
    if actor.role is Role.SITE_ADMIN and session.get(OperatorRow, operator_id) is None:
        raise NotFound("operator", operator_id)
    cmd = RegisterDrone(
        drone_id=DroneId(body.id or f"d-{uuid.uuid4().hex[:12]}"),
        name=body.name,
        site_id=SiteId(body.site_id),
        operator_id=OperatorId(operator_id),
        mavlink_sysid=body.mavlink_sysid,
        max_takeoff_mass_kg=body.max_takeoff_mass_kg,
        signing_key=bytes.fromhex(body.signing_key_hex)
        if body.signing_key_hex
        else None,
        cad=body.cad.to_domain() if body.cad else CadRegistration(),
    )
    drone = register_drone(uow, cmd, actor, datetime.now(UTC))
    # The gateway must know the new sysid before its first frame arrives, or the
    # drone would show as an unregistered intruder until the next refresh.
    telemetry = getattr(request.app.state, "telemetry", None)
    if telemetry is not None:
        telemetry.request_refresh()
    return DronePublic.of(drone)


@router.get("/drones/{drone_id}")
def drones_show(drone_id: str, actor: ActorDep, session: SessionDep) -> DronePublic:
    """Return one drone; 404 when it is not the caller's to see."""
    return DronePublic.of(get_drone(session, actor, drone_id))
