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

Each report's ``reason`` says why in English (logs, the API's older clients);
``reason_code`` and ``reason_params`` say the same as a code and its values, which
the pages put in the reader's words (``fence.reason.<code>`` in the catalogue).

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
    ReasonParams,
    TransferDone,
    TransferFailed,
    fence_differences,
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
    reason_code: str = ""
    """The reason as a code (``""``: a report stored before codes, words only)."""
    reason_params: ReasonParams = field(default_factory=dict)

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
            "reason_code": self.reason_code,
            "reason_params": dict(self.reason_params),
        }

    def because(self, reason: str, code: str, params: ReasonParams) -> FenceReport:
        """Return this report with its reason (English) and the reason's code."""
        return replace(self, reason=reason, reason_code=code, reason_params=params)


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
        return bare.because("the drone is not connected", "not_connected", {})
    volumes = booked_volumes(site, corridor_id, pad_ids)
    try:
        plan = plan_fence(site, booked_outline(site, corridor_id, pad_ids), volumes)
    except FenceTooComplex as exc:
        return bare.because(str(exc), exc.code, exc.params)
    rings = fence_lonlat(site, plan)
    items = fence_items([(r.inclusion, r.vertices_lonlat) for r in rings])
    sent = replace(bare, vertices=len(items), alt_max_m=plan.alt_max_m)
    target = (sysid, 1)
    try:
        upload = await exchanges.run(link, link_id, sysid, FenceUpload(target, items))
    except VehicleBusy as exc:
        refused = replace(sent, state=FenceState.REFUSED)
        return refused.because(str(exc), "vehicle_busy", {})
    if isinstance(upload, TransferFailed):
        unsupported = upload.result == "MAV_MISSION_UNSUPPORTED"
        state = FenceState.NOT_SUPPORTED if unsupported else FenceState.REFUSED
        failed = replace(sent, state=state)
        return failed.because(upload.reason, upload.code, upload.params)
    try:
        download = await exchanges.run(link, link_id, sysid, FenceDownload(target))
    except VehicleBusy as exc:
        download = TransferFailed(str(exc), code="vehicle_busy")
    if isinstance(download, TransferFailed):
        return replace(sent, state=FenceState.UPLOADED).because(
            f"read-back failed: {download.reason}",
            f"readback_{download.code}",
            download.params,
        )
    if not isinstance(download, TransferDone):  # no third kind of outcome
        raise TypeError(f"unexpected transfer outcome {download!r}")
    differences = fence_differences(items, download.items)
    if differences:
        first = differences[0]
        mismatch = replace(
            sent,
            state=FenceState.MISMATCH,
            differences=tuple(str(d) for d in differences),
        )
        return mismatch.because(
            f"the vehicle stores another fence ({first})",
            f"mismatch_{first.code}",
            first.params,
        )
    param = ParamSet(target, fence_alt_param(autopilot), round(plan.alt_max_m, 1))
    try:
        answer = await exchanges.run(link, link_id, sysid, param, PARAM)
    except VehicleBusy as exc:
        answer = ParamAnswer(param.name, param.value, None)
        logger.info("fence altitude not sent: %s", exc)
    checked = f"{len(items)} items read back identical"
    if not answer.confirmed:
        held: dict[str, str | int | float] = {}
        if answer.value is not None:
            held["held"] = answer.value
        unconfirmed = replace(sent, state=FenceState.UPLOADED, altitude=answer.summary)
        return unconfirmed.because(
            f"{checked}; altitude not confirmed ({answer.summary})",
            "altitude_no_answer" if answer.value is None else "altitude_differs",
            {"items": len(items), "param": answer.name, "value": answer.sent, **held},
        )
    verified = replace(sent, state=FenceState.VERIFIED, altitude=answer.summary)
    return verified.because(checked, "identical", {"items": len(items)})
