"""Drone registration: an operator's drone joins a site's fleet.

``register_drone`` checks, in one unit of work, that the site exists, the drone id
is new and its MAVLink system id is free at the site, then stores and audits it.
Like every booking use case (``booking.services``), it takes ``now`` (aware, UTC)
and the acting ``Actor``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from airspace.site import SiteId
from booking.errors import BookingRuleViolation, Rule
from booking.model import Actor, Drone, DroneId, OperatorId, Role, drone_snapshot
from booking.permissions import require_organisation
from booking.ports import UnitOfWork
from booking.registration import CadRegistration
from booking.rules import check_sysid_free
from booking.service_support import _audit, _now, _site


@dataclass(frozen=True)
class RegisterDrone:
    """Command: register a drone of an operator at a site."""

    drone_id: DroneId
    name: str
    site_id: SiteId
    operator_id: OperatorId
    mavlink_sysid: int
    max_takeoff_mass_kg: float
    signing_key: bytes | None = None
    cad: CadRegistration = field(default_factory=CadRegistration)


def register_drone(
    uow: UnitOfWork, cmd: RegisterDrone, actor: Actor, now: datetime
) -> Drone:
    """Return the registered drone; its MAVLink system id must be free at the site.

    The store must also keep ``(site_id, mavlink_sysid)`` unique, for concurrent
    registrations.
    """
    now = _now(now)
    require_organisation(
        actor,
        cmd.operator_id,
        f"register a drone for operator {cmd.operator_id}",
        roles=frozenset({Role.OPERATOR}),
    )
    drone = Drone(
        cmd.drone_id,
        cmd.name,
        cmd.site_id,
        cmd.operator_id,
        cmd.mavlink_sysid,
        cmd.max_takeoff_mass_kg,
        cmd.signing_key,
        cmd.cad,
    )
    with uow:
        _site(uow, cmd.site_id)
        if uow.drones.get(drone.id) is not None:
            raise BookingRuleViolation(
                Rule.DRONE, f"drone {drone.id} is already registered"
            )
        clash = check_sysid_free(drone, uow.drones.for_site(cmd.site_id))
        if clash is not None:
            raise clash
        uow.drones.add(drone)
        _audit(
            uow,
            actor,
            now,
            "drone.registered",
            ("drone", drone.id),
            None,
            drone_snapshot(drone),
        )
        uow.commit()
    return drone
