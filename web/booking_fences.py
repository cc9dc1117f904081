"""The fences SkyBerth has sent to its drones, per booking, and how to send one.

Finds the booking's drone among the live vehicles (bound to the drone by the fleet
directory, heard within ``link_lost_s``), picks the link it spoke on, and runs
``telemetry.live.fence_upload.send_booking_fence``. The last report per booking is
kept in memory (it describes the aircraft's state now; a restart asks again): the
API and the bookings page show it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime

from airspace.site import Site
from booking.model import Booking
from telemetry.live.fence_upload import FenceReport, send_booking_fence
from telemetry.live.gateway import Gateway
from telemetry.live.vehicles import VehicleState
from telemetry.mavlink.transports import Link


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
        )
        self.reports[booking.id] = report
        return report
