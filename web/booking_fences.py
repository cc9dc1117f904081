"""The fences SkyBerth has sent to its drones, per booking, and how to send one.

Finds the booking's drone among the live vehicles (bound to the drone by the fleet
directory, heard within ``link_lost_s``), picks the link it spoke on, and runs
``telemetry.live.fence_upload.send_booking_fence``. The last report per booking is
kept in memory (it describes the aircraft's state now; a restart asks again): the
API and the bookings page show it. A mismatch or a refusal is also a warning event
on the live stream (``fence_mismatch``, ``fence_refused``).

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

from airspace.site import Site
from booking.model import Booking, BookingState
from telemetry.live.announcing import emit
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
    ) -> None:
        self.gateway = gateway
        self._links = links
        self.sites = sites
        self._clock = clock
        self.reports: dict[int, FenceReport] = {}
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
        if report.warning and vehicle is not None:
            emit(
                self.gateway,
                vehicle,
                f"fence_{report.state}",
                self._clock(),
                f"booking {booking.id}: fence {report.state}: {report.reason}",
                {"booking_id": booking.id, "reason": report.reason},
            )
        return report

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
