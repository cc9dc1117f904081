"""A booking's airspace sent to its aircraft as a fence, read back and compared.

``send_booking_fence`` plans the fence (``airspace.fence_plan``: one inclusion
polygon for the corridor and its transits, the no-fly zones that touch it, at most
70 vertices within 1 m), uploads it over the vehicle's link, downloads it again and
compares item by item at MAVLink's 1e-7 degree. The answer is a ``FenceReport``:

- ``verified``: uploaded, accepted, read back identical;
- ``mismatch``: accepted, but the vehicle stores something else (the differences);
- ``uploaded``: accepted, but the read-back failed (so not verified);
- ``refused``: the vehicle answered an error, or never answered;
- ``not_supported``: nothing to send on (vehicle not connected), the vehicle does not
  do fences (``MAV_MISSION_UNSUPPORTED``), or the airspace needs more vertices than
  an autopilot stores.

Altitude: once the polygons are read back identical, the booked ceiling above home
is set by ``PARAM_SET`` and confirmed by ``PARAM_VALUE`` (``telemetry.mavlink.params``):
ArduPilot's ``FENCE_ALT_MAX``, PX4's ``GF_MAX_VER_DIST``. ``verified`` needs both;
polygons verified with the altitude unconfirmed is ``uploaded``, the reason says
which. The floor is not sent: ArduPilot's minimum-altitude fence is not armed by
``FENCE_ENABLE`` alone, and a floor above the pad would stop the take-off. Which
fence types are enabled (``FENCE_ENABLE``, ``FENCE_TYPE``, PX4's ``GF_ACTION``) stays
the pilot's setting.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from airspace.booked_volume import booked_outline, booked_volumes
from airspace.errors import FenceTooComplex
from airspace.fence_plan import fence_lonlat, plan_fence
from airspace.site import Site
from telemetry.live.vehicle_exchange import (
    PARAM,
    Sender,
    VehicleBusy,
    VehicleExchanges,
)
from telemetry.mavlink.mission_protocol import (
    FenceDownload,
    FenceUpload,
    TransferDone,
    TransferFailed,
    compare_fences,
    fence_items,
)
from telemetry.mavlink.params import ParamAnswer, ParamSet, fence_alt_param

logger = logging.getLogger(__name__)


class FenceState(enum.StrEnum):
    """Where a booking's fence stands on its aircraft."""

    UPLOADED = "uploaded"
    VERIFIED = "verified"
    MISMATCH = "mismatch"
    REFUSED = "refused"
    NOT_SUPPORTED = "not_supported"


@dataclass(frozen=True)
class FenceReport:
    """The outcome of one upload attempt for a booking, with the reason."""

    booking_id: int
    state: FenceState
    reason: str
    at_utc: datetime
    vertices: int = 0
    alt_max_m: float | None = None
    altitude: str = "not sent"
    differences: tuple[str, ...] = field(default_factory=tuple)

    @property
    def warning(self) -> bool:
        """A mismatch or a refusal is a warning event."""
        return self.state in (FenceState.MISMATCH, FenceState.REFUSED)

    def as_dict(self) -> dict[str, object]:
        """Return the report as the API sends it."""
        return {
            "booking_id": self.booking_id,
            "state": self.state.value,
            "reason": self.reason,
            "at_utc": self.at_utc.isoformat(),
            "vertices": self.vertices,
            "alt_max_m": self.alt_max_m,
            "altitude": self.altitude,
            "differences": list(self.differences),
        }


async def send_booking_fence(
    exchanges: VehicleExchanges,
    link: Sender | None,
    link_id: str,
    sysid: int,
    site: Site,
    booking_id: int,
    corridor_id: str | None,
    pad_ids: Sequence[str],
    now_utc: datetime,
    autopilot: int | None = None,
) -> FenceReport:
    """Upload the booking's fence to vehicle ``sysid`` on ``link`` and verify it."""

    bare = FenceReport(booking_id, FenceState.NOT_SUPPORTED, "", now_utc)
    if link is None:
        return replace(bare, reason="the drone is not connected")
    volumes = booked_volumes(site, corridor_id, pad_ids)
    try:
        plan = plan_fence(site, booked_outline(site, corridor_id, pad_ids), volumes)
    except FenceTooComplex as exc:
        return replace(bare, reason=str(exc))
    rings = fence_lonlat(site, plan)
    items = fence_items([(r.inclusion, r.vertices_lonlat) for r in rings])
    sent = replace(bare, vertices=len(items), alt_max_m=plan.alt_max_m)
    target = (sysid, 1)
    try:
        upload = await exchanges.run(link, link_id, sysid, FenceUpload(target, items))
    except VehicleBusy as exc:
        return replace(sent, state=FenceState.REFUSED, reason=str(exc))
    if isinstance(upload, TransferFailed):
        unsupported = upload.result == "MAV_MISSION_UNSUPPORTED"
        state = FenceState.NOT_SUPPORTED if unsupported else FenceState.REFUSED
        return replace(sent, state=state, reason=upload.reason)
    try:
        download = await exchanges.run(link, link_id, sysid, FenceDownload(target))
    except VehicleBusy as exc:
        download = TransferFailed(str(exc))
    if isinstance(download, TransferFailed):
        return replace(
            sent,
            state=FenceState.UPLOADED,
            reason=f"read-back failed: {download.reason}",
        )
    if not isinstance(download, TransferDone):  # no third kind of outcome
        raise TypeError(f"unexpected transfer outcome {download!r}")
    differences = compare_fences(items, download.items)
    if differences:
        return replace(
            sent,
            state=FenceState.MISMATCH,
            reason=f"the vehicle stores another fence ({differences[0]})",
            differences=tuple(differences),
        )
    param = ParamSet(target, fence_alt_param(autopilot), round(plan.alt_max_m, 1))
    try:
        answer = await exchanges.run(link, link_id, sysid, param, PARAM)
    except VehicleBusy as exc:
        answer = ParamAnswer(param.name, param.value, None)
        logger.info("fence altitude not sent: %s", exc)
    checked = f"{len(items)} items read back identical"
    if not answer.confirmed:
        return replace(
            sent,
            state=FenceState.UPLOADED,
            reason=f"{checked}; altitude not confirmed ({answer.summary})",
            altitude=answer.summary,
        )
    return replace(
        sent, state=FenceState.VERIFIED, reason=checked, altitude=answer.summary
    )
