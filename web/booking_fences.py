"""The fences SkyBerth has sent to its drones, per booking, and how to send one.

Finds the booking's drone among the live vehicles (bound to the drone by the fleet
directory, heard within ``link_lost_s``), picks the link it spoke on, and runs
``telemetry.live.fence_upload.send_booking_fence``. The last report per booking is
kept in memory and in the database (``telemetry.live.fence_reports``; a restart
keeps it): the API and the bookings page show it. A mismatch or a refusal is also a
warning event on the live stream (``fence_mismatch``, ``fence_refused``).

Activation: where a site requires a verified fence (its file's
``require_verified_fence`` or ``SKYBERTH_REQUIRE_VERIFIED_FENCE``), the booking
service refuses to activate a booking whose report is a mismatch or a refusal
(rule ``fence_not_verified``, given the report by ``standing``); ``blocked`` turns
that refusal into a ``fence_not_verified`` warning event on the drone, and a later
verified upload lets the gateway ask again.

Automatic upload (``run_auto``): every ``AUTO_EVERY_S``, each approved or active
booking whose window opens within ``lead_s`` (``SKYBERTH_FENCE_UPLOAD_LEAD_MIN``)
and whose drone is connected gets its fence once; a booking whose drone was not
connected, or whose upload was refused or not verified, is tried again after
``RETRY_AFTER_S``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy.exc import SQLAlchemyError

from airspace.site import Site
from booking.model import Booking, BookingState
from booking.services import FenceStanding
from telemetry.live.announcing import emit
from telemetry.live.fence_reports import SqlFenceReports
from telemetry.live.fence_upload import FenceReport, FenceState, send_booking_fence
from telemetry.live.gateway import Gateway
from telemetry.live.vehicles import VehicleState
from telemetry.mavlink.transports import Link

logger = logging.getLogger(__name__)

AUTO_EVERY_S: Final = 2.0
RETRY_AFTER_S: Final = 60.0
_SENDABLE = frozenset({BookingState.APPROVED, BookingState.ACTIVE})
BookingLoader = Callable[[datetime, datetime], list[Booking]]
"""Returns the bookings whose windows overlap ``[start, end)`` (blocking)."""


class BookingFences:
    """Sends bookings' fences over the gateway's links and keeps the reports."""

    def __init__(
        self,
        gateway: Gateway,
        links: Callable[[], Sequence[Link]],
        sites: dict[str, Site],
        clock: Callable[[], float] = time.time,
        store: SqlFenceReports | None = None,
    ) -> None:
        self.gateway = gateway
        self._links = links
        self.sites = sites
        self._clock = clock
        self._store = store
        self.reports: dict[int, FenceReport] = {} if store is None else store.load()
        self.lead_s = 0.0
        """Automatic upload this long before a window opens (0: by hand only)."""

    def vehicle_of(self, booking: Booking) -> VehicleState | None:
        """Return the live vehicle flying ``booking``'s drone (freshest), if any."""
        now_s = self._clock()
        lost_s = self.gateway.settings.link_lost_s
        heard = [
            v
            for v in self.gateway.vehicles.values()
            if v.drone_id == booking.drone_id and now_s - v.last_message_s < lost_s
        ]
        return max(heard, key=lambda v: v.last_message_s, default=None)

    async def send(self, booking: Booking, now_utc: datetime) -> FenceReport:
        """Upload and verify ``booking``'s fence on its drone; keep the report."""
        vehicle = self.vehicle_of(booking)
        link = None
        if vehicle is not None:
            link = next(
                (k for k in self._links() if k.link_id == vehicle.link_id), None
            )
        report = await send_booking_fence(
            self.gateway.exchanges,
            link,
            vehicle.link_id if vehicle is not None else "",
            vehicle.sysid if vehicle is not None else 0,
            self.sites[booking.site_id],
            booking.id,
            booking.corridor_id,
            booking.pad_ids,
            now_utc,
            vehicle.autopilot if vehicle is not None else None,
        )
        self.reports[booking.id] = report
        if self._store is not None:
            try:
                await asyncio.to_thread(self._store.save, report)
            except SQLAlchemyError:  # the report still counts in memory
                logger.exception("booking %s: fence report not stored", booking.id)
        if report.state is FenceState.VERIFIED:
            self.gateway.activate_again(booking.id)
        if report.warning and vehicle is not None:
            emit(
                self.gateway,
                vehicle,
                f"fence_{report.state}",
                self._clock(),
                f"booking {booking.id}: fence {report.state}: {report.reason}",
                {
                    "booking_id": booking.id,
                    "reason": report.reason,
                    "reason_code": report.reason_code,
                    "reason_params": dict(report.reason_params),
                },
            )
        return report

    def standing(self, booking_id: int) -> FenceStanding | None:
        """Return the booking's last fence outcome for the activation rule."""
        report = self.reports.get(booking_id)
        if report is None:
            return None
        return FenceStanding(report.state.value, report.reason)

    def blocked(self, booking_id: int, message: str) -> None:
        """Raise ``fence_not_verified`` (a warning) on the booking's drone: its
        activation was refused (``message`` names the rule and the fence)."""
        vehicle = next(
            (v for v in self.gateway.vehicles.values() if v.booking_id == booking_id),
            None,
        )
        if vehicle is None:
            logger.warning("booking %s not activated: %s", booking_id, message)
            return
        emit(
            self.gateway,
            vehicle,
            "fence_not_verified",
            self._clock(),
            message,
            {"booking_id": booking_id, "rule": "fence_not_verified"},
        )

    def _due(self, booking: Booking, now_utc: datetime) -> bool:
        if booking.state not in _SENDABLE or self.vehicle_of(booking) is None:
            return False
        last = self.reports.get(booking.id)
        if last is None:
            return True
        if last.state is FenceState.VERIFIED or last.state is FenceState.MISMATCH:
            return False
        return (now_utc - last.at_utc).total_seconds() >= RETRY_AFTER_S or (
            last.state is FenceState.NOT_SUPPORTED and last.vertices == 0
        )

    async def run_auto(self, load: BookingLoader) -> None:
        """Send due bookings' fences until cancelled (see the module docstring)."""
        while True:
            await asyncio.sleep(AUTO_EVERY_S)
            if self.lead_s <= 0:
                continue
            now_utc = datetime.fromtimestamp(self._clock(), UTC)
            try:
                bookings = await asyncio.to_thread(
                    load, now_utc, now_utc + timedelta(seconds=self.lead_s)
                )
                for booking in bookings:
                    if self._due(booking, now_utc):
                        report = await self.send(booking, now_utc)
                        logger.info(
                            "booking %s fence %s: %s",
                            booking.id,
                            report.state,
                            report.reason,
                        )
            except Exception:  # a task boundary: the next round tries again
                logger.exception("automatic fence upload failed; trying again")
