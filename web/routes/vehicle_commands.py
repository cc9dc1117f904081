"""Safety commands to a connected vehicle: RTL, LAND, LOITER/HOLD, with a reason.

``POST /vehicles/{key}/command`` (``key`` as the live stream names the vehicle,
``link/sysid``) sends the command on the vehicle's own link and waits for its
``COMMAND_ACK`` (``telemetry.mavlink.commands``: resends, at most about 6 s, or
longer while the vehicle says it is in progress). Safety officers and site admins
only (operators and pilots: 403). The command and the answer go in the audit trail,
and in the incident's timeline when ``incident_id`` names one (then in the same
transaction as its audit record). A vehicle whose frames are not signed is
commanded all the same: the answer says ``authenticated: false``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, Field

from booking.errors import NotFound
from booking.model import Actor, AuditEntry, Role, UserId
from booking.unit_of_work import SqlUnitOfWork
from telemetry.incidents.workflow import RecordVehicleCommand
from telemetry.live.frames import incident_change_frame
from telemetry.live.vehicle_exchange import COMMAND, VehicleBusy
from telemetry.mavlink.commands import (
    CommandAnswer,
    CommandExchange,
    SafetyCommand,
    command_for,
)
from web.deps import IncidentServiceDep, require_role
from web.errors import ApiError
from web.input_limits import MAX_DB_ID
from web.telemetry_runtime import TelemetryRuntime

logger = logging.getLogger(__name__)

router = APIRouter(tags=["vehicles"])

CommanderDep = Annotated[
    Actor, Depends(require_role(Role.SAFETY_OFFICER, Role.SITE_ADMIN))
]


class VehicleCommandBody(BaseModel):
    """A safety command, why it is sent, and the incident it answers (if any)."""

    command: SafetyCommand
    reason: str = Field(min_length=1, max_length=500)
    incident_id: int | None = Field(default=None, ge=1, le=MAX_DB_ID)


class VehicleCommandAnswer(BaseModel):
    """What the vehicle answered: ``accepted``, ``denied (...)``, ``no answer``."""

    vehicle: str
    command: SafetyCommand
    answer: str
    accepted: bool
    result: str | None
    attempts: int
    authenticated: bool
    incident_id: int | None


@router.post("/vehicles/{key:path}/command")
async def vehicles_command(
    key: str,
    body: VehicleCommandBody,
    actor: CommanderDep,
    request: Request,
    incidents: IncidentServiceDep,
) -> VehicleCommandAnswer:
    """Command the vehicle ``key`` (RTL, LAND or LOITER) and return its answer."""
    runtime = cast(TelemetryRuntime, request.app.state.telemetry)
    vehicle = runtime.gateway.vehicles.get(key)
    if vehicle is None or vehicle.is_gcs:
        raise NotFound("vehicle", key)
    link = next((k for k in runtime.links if k.link_id == vehicle.link_id), None)
    if link is None:
        raise ApiError(
            status.HTTP_409_CONFLICT,
            "no_command_link",
            f"no link to send on for vehicle {key}",
            vehicle=key,
        )
    authenticated = vehicle.sysid in runtime.gateway.directory.signing_keys()
    exchange = CommandExchange(
        (vehicle.sysid, vehicle.compid or 1),
        command_for(body.command, vehicle.autopilot),
    )
    try:
        answer = await runtime.gateway.exchanges.run(
            link, vehicle.link_id, vehicle.sysid, exchange, COMMAND
        )
    except VehicleBusy as exc:
        raise ApiError(
            status.HTTP_409_CONFLICT, "vehicle_busy", str(exc), vehicle=key
        ) from exc
    logger.warning(
        "%s commanded %s %s (%s): %s",
        actor,
        key,
        body.command,
        body.reason,
        answer.summary,
    )
    await _record(request, incidents, actor, key, body, answer, authenticated)
    return VehicleCommandAnswer(
        vehicle=key,
        command=body.command,
        answer=answer.summary,
        accepted=answer.accepted,
        result=answer.result,
        attempts=answer.attempts,
        authenticated=authenticated,
        incident_id=body.incident_id,
    )


async def _record(
    request: Request,
    incidents: IncidentServiceDep,
    actor: Actor,
    key: str,
    body: VehicleCommandBody,
    answer: CommandAnswer,
    authenticated: bool,
) -> None:
    now = datetime.now(UTC)
    if body.incident_id is not None:
        command = RecordVehicleCommand(
            body.command.value, body.reason, answer.summary, authenticated
        )
        applied = await asyncio.to_thread(
            incidents.apply, body.incident_id, command, actor, now
        )
        try:
            request.app.state.telemetry.publish(
                incident_change_frame(applied.incident, applied.event),
                applied.incident.operator_id,
            )
        except Exception:
            logger.exception("vehicle command recorded but not published")
        return
    entry = AuditEntry(
        now,
        UserId(actor.user_id),
        actor.role,
        "vehicle.commanded",
        "vehicle",
        key,
        None,
        _after(body, answer, authenticated),
        body.reason,
    )
    uow_factory = request.app.state.uow_factory

    def append() -> None:
        uow: SqlUnitOfWork = uow_factory()
        with uow:
            uow.audit.append(entry)
            uow.commit()

    await asyncio.to_thread(append)


def _after(
    body: VehicleCommandBody, answer: CommandAnswer, authenticated: bool
) -> dict[str, Any]:
    return {
        "command": body.command.value,
        "answer": answer.summary,
        "authenticated": str(authenticated).lower(),
    }
