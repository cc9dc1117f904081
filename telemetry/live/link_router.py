"""Sharing the vehicles' links with other ground stations: a small MAVLink router.

Links are of two kinds. *Vehicle links* are the ``--mavlink`` endpoints the gateway
reads. *Forward targets* (``--forward``) are a pilot's ground station
(QGroundControl, Mission Planner) behind SkyBerth. Like mavlink-router:

- everything received on a vehicle link is sent, unchanged, to every forward target
  (whole datagrams; on TCP or serial the chunks as read, a byte stream either way);
- every frame received from a forward target is sent, unchanged, to the vehicle
  links, never back to the target it came from nor to another forward target;
- loop prevention: a frame from a forward target whose system id is a vehicle heard
  on a vehicle link, or SkyBerth's own id, is dropped and counted (``loops``): it
  is a vehicle's own traffic coming round again (a forward target that is itself
  forwarding to our listener), which would otherwise circulate for ever.

SkyBerth talks on a vehicle link only where it may (not listed as listen-only):
there it sends its own ground-station HEARTBEAT once a second (system id
``gcs_sysid``, default 245, component 190), and asks each vehicle once for its
telemetry rates, ``SET_MESSAGE_INTERVAL`` (``MAV_CMD_SET_MESSAGE_INTERVAL`` for
``GLOBAL_POSITION_INT`` at ``RATE_HZ``) with ``REQUEST_DATA_STREAM`` as the fallback
when the vehicle does not accept it. Rates are requested only while no other
ground station is heard, on the link (a GCS heartbeat there, e.g. MAVProxy's
forwarded 255) or from a forward target within ``OTHER_GCS_S``: that station sets
the rates, and two stations asking for different rates fight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.live.vehicle_exchange import (
    COMMAND,
    GCS_COMPID,
    Sender,
    VehicleBusy,
    VehicleExchanges,
)
from telemetry.mavlink.commands import CommandExchange, CommandLong
from telemetry.mavlink.transports import Endpoint, Link, OnData, OnDataFrom, open_link

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY_S: Final = 1.0
OTHER_GCS_S: Final = 5.0
"""A ground station not heard this long is gone (MAVLink's link-loss rule: 5 s)."""
RATE_HZ: Final = 5.0
"""The position rate asked for: the map's 5 Hz, what ArduPilot's SR_POSITION sets."""


@dataclass
class RoutedLink:
    """A link the router sends on, with its id and role."""

    link_id: str
    link: Sender
    talks: bool = True
    """SkyBerth may send on it (vehicle links only)."""


@dataclass
class RouterCounters:
    """What the router did, for the logs and the tests."""

    to_targets: int = 0
    to_vehicles: int = 0
    loops: int = 0
    heartbeats: int = 0
    rate_requests: dict[tuple[str, int], str] = field(default_factory=dict)
    """Per (vehicle link, sysid): ``set_message_interval`` or
    ``request_data_stream`` (``asking`` meanwhile)."""


class LinkRouter:
    """Forwards between vehicle links and forward targets; see the module doc."""

    def __init__(
        self,
        exchanges: VehicleExchanges,
        vehicles: Callable[[], Sequence[tuple[str, int, bool]]],
        gcs_sysid: int,
        clock: Callable[[], float],
    ) -> None:
        """``vehicles()`` returns ``(link id, sysid, is a GCS)`` of every system
        heard on the vehicle links (the gateway's picture)."""
        self._exchanges = exchanges
        self._vehicles = vehicles
        self.gcs_sysid = gcs_sysid
        self._clock = clock
        self.vehicle_links: list[RoutedLink] = []
        self.targets: list[RoutedLink] = []
        self.counters = RouterCounters()
        self._parsers: dict[str, Any] = {}
        self._target_gcs_s: float = float("-inf")
        self._packer = mavlink.MAVLink(None, gcs_sysid, GCS_COMPID)

    # --- forwarding ------------------------------------------------------------------

    def from_vehicle_link(self, data: bytes) -> None:
        """Send ``data`` read on a vehicle link to every forward target."""
        for target in self.targets:
            target.link.send(data)
            self.counters.to_targets += 1

    def from_target(self, link_id: str, data: bytes, now_s: float) -> None:
        """Send the frames in ``data`` from forward target ``link_id`` to the
        vehicle links, dropping the ones that went round (module doc)."""
        parser = self._parsers.get(link_id)
        if parser is None:
            parser = self._parsers[link_id] = mavlink.MAVLink(None)
            parser.robust_parsing = True
        vehicles = {sysid for _, sysid, gcs in self._vehicles() if not gcs}
        for msg in parser.parse_buffer(data) or []:
            if msg.get_type() == "BAD_DATA":
                continue
            sysid = msg.get_srcSystem()
            if sysid in vehicles or sysid == self.gcs_sysid:
                self.counters.loops += 1
                continue
            if msg.get_type() == "HEARTBEAT" and msg.type == mavlink.MAV_TYPE_GCS:
                self._target_gcs_s = now_s
            raw = bytes(msg.get_msgbuf())
            for link in self.vehicle_links:
                link.link.send(raw)
                self.counters.to_vehicles += 1

    # --- talking ---------------------------------------------------------------------

    def other_gcs(self, link_id: str, now_s: float) -> bool:
        """Return True while another ground station is heard for ``link_id``."""
        if now_s - self._target_gcs_s < OTHER_GCS_S:
            return True
        return any(
            gcs and lid == link_id and sysid != self.gcs_sysid
            for lid, sysid, gcs in self._vehicles()
        )

    def heartbeat(self) -> bytes:
        """Return SkyBerth's ground-station HEARTBEAT, packed."""
        msg = mavlink.MAVLink_heartbeat_message(
            mavlink.MAV_TYPE_GCS,
            mavlink.MAV_AUTOPILOT_INVALID,
            0,
            0,
            mavlink.MAV_STATE_ACTIVE,
            3,
        )
        return bytes(msg.pack(self._packer))

    async def run(self) -> None:
        """Send heartbeats and rate requests until cancelled (module doc)."""
        pending: set[asyncio.Task[None]] = set()
        while True:
            beat = self.heartbeat()
            for link in self.vehicle_links:
                if link.talks:
                    link.link.send(beat)
                    self.counters.heartbeats += 1
            now_s = self._clock()
            for link_id, sysid, gcs in self._vehicles():
                key = (link_id, sysid)
                on = next((k for k in self.vehicle_links if k.link_id == link_id), None)
                if (
                    gcs
                    or on is None
                    or not on.talks
                    or key in self.counters.rate_requests
                    or self.other_gcs(link_id, now_s)
                ):
                    continue
                self.counters.rate_requests[key] = "asking"
                task = asyncio.create_task(self._request_rates(on, sysid))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.sleep(HEARTBEAT_EVERY_S)

    async def _request_rates(self, link: RoutedLink, sysid: int) -> None:
        key = (link.link_id, sysid)
        interval_us = 1e6 / RATE_HZ
        command = CommandLong(
            mavlink.MAV_CMD_SET_MESSAGE_INTERVAL,
            (
                float(mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT),
                interval_us,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
            ),
        )
        try:
            answer = await self._exchanges.run(
                link.link,
                link.link_id,
                sysid,
                CommandExchange((sysid, 1), command),
                COMMAND,
            )
        except VehicleBusy:
            del self.counters.rate_requests[key]  # asked again next second
            return
        if answer.accepted:
            self.counters.rate_requests[key] = "set_message_interval"
            return
        # Older autopilots (and ArduPilot before 4.0 on some messages) know only
        # the deprecated stream request; it needs no answer.
        request = mavlink.MAVLink_request_data_stream_message(
            sysid, 1, mavlink.MAV_DATA_STREAM_ALL, round(RATE_HZ), 1
        )
        link.link.send(bytes(request.pack(self._packer)))
        self.counters.rate_requests[key] = "request_data_stream"
        logger.info(
            "%s sysid %d: SET_MESSAGE_INTERVAL %s; sent REQUEST_DATA_STREAM",
            link.link_id,
            sysid,
            answer.summary,
        )


def forwarding(
    router: LinkRouter, on_data: OnData, on_data_from: OnDataFrom
) -> tuple[OnData, OnDataFrom]:
    """Return ``on_data`` and ``on_data_from`` for a vehicle link that first pass
    what is read to the router's forward targets (none: unchanged)."""

    def data(stream_id: str, chunk: bytes, now_s: float) -> None:
        router.from_vehicle_link(chunk)
        on_data(stream_id, chunk, now_s)

    def data_from(stream_id: str, chunk: bytes, now_s: float, source: Any) -> None:
        router.from_vehicle_link(chunk)
        on_data_from(stream_id, chunk, now_s, source)

    return data, data_from


async def open_targets(router: LinkRouter, endpoints: Sequence[Endpoint]) -> list[Link]:
    """Open the forward targets, each feeding the router; return their links."""
    links = []
    for endpoint in endpoints:
        link = await open_link(endpoint, router.from_target)
        router.targets.append(RoutedLink(link.link_id, link, talks=False))
        links.append(link)
        logger.info("forwarding the vehicle links to %s", link.link_id)
    return links
