"""Talking back to a vehicle: runs a sans-I/O exchange over the vehicle's own link.

The machines (``telemetry.mavlink.mission_protocol``) decide what to send and when
a transfer is over; this adapter only packs their messages as MAVLink 2 from
SkyBerth's ground-station ids, sends them with ``Link.send``, and feeds them the
vehicle's replies. Replies arrive through the gateway's ingest: ``deliver`` is
called for every frame whose id is in ``REPLY_MESSAGE_IDS`` and hands it, parsed,
to the exchanges waiting on that link and system id (none waiting: dropped at
once, so the hot path pays one dict lookup). One mission transfer per vehicle at a
time, as ArduPilot accepts one uploader at a time; a command may run beside it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Final, Protocol, TypeVar

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.mavlink.messages import RawFrame

logger = logging.getLogger(__name__)

GCS_SYSID: Final = 245
"""SkyBerth's own system id on a link (GCSs are allocated downwards from 255)."""
GCS_COMPID: Final = mavlink.MAV_COMP_ID_MISSIONPLANNER
MISSION: Final = "mission"
"""The channel of mission-protocol transfers (fences)."""
COMMAND: Final = "command"
"""The channel of ``COMMAND_LONG`` / ``COMMAND_ACK`` exchanges."""
PARAM: Final = "param"
"""The channel of ``PARAM_SET`` / ``PARAM_VALUE`` exchanges."""


T_co = TypeVar("T_co", covariant=True)


class Exchange(Protocol[T_co]):
    """What a sans-I/O exchange offers (``FenceUpload``, ``CommandExchange``...)."""

    @property
    def outcome(self) -> T_co | None: ...

    @property
    def deadline_s(self) -> float: ...

    def start(self, now_s: float) -> list[Any]: ...

    def receive(self, msg: Any, now_s: float) -> list[Any]: ...

    def poll(self, now_s: float) -> list[Any]: ...


T = TypeVar("T")


class VehicleBusy(RuntimeError):
    """Another exchange with the vehicle is still running (one at a time)."""


class Sender(Protocol):
    """A link's send path (``telemetry.mavlink.transports`` ``Link``)."""

    def send(self, data: bytes) -> None: ...


class VehicleExchanges:
    """The exchanges in progress, one per (link id, system id)."""

    def __init__(
        self,
        gcs_sysid: int = GCS_SYSID,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._waiting: dict[tuple[str, int], dict[str, asyncio.Queue[Any]]] = {}
        self._parser = mavlink.MAVLink(None)
        self._parser.robust_parsing = True
        self._packer = mavlink.MAVLink(None, gcs_sysid, GCS_COMPID)
        self._clock = clock

    def busy(self, link_id: str, sysid: int, channel: str = MISSION) -> bool:
        """Return True while an exchange on ``channel`` with that vehicle runs."""
        return channel in self._waiting.get((link_id, sysid), {})

    def deliver(self, link_id: str, frame: RawFrame) -> None:
        """Hand ``frame`` (from ``link_id``) to the exchanges waiting on its sender
        (each takes only the replies that are its own)."""
        queues = self._waiting.get((link_id, frame.sysid))
        if not queues:
            return
        for msg in self._parser.parse_buffer(frame.raw) or []:
            for queue in queues.values():
                queue.put_nowait(msg)

    async def run(
        self,
        link: Sender,
        link_id: str,
        sysid: int,
        exchange: Exchange[T],
        channel: str = MISSION,
    ) -> T:
        """Run ``exchange`` with vehicle ``sysid`` on ``link`` to its outcome.

        One exchange per ``channel`` (``MISSION`` transfers, ``COMMAND``s) and
        vehicle at a time: a safety command never waits for a fence upload.
        Raises ``VehicleBusy`` while another exchange on the channel runs.
        """
        queues = self._waiting.setdefault((link_id, sysid), {})
        if channel in queues:
            raise VehicleBusy(
                f"another {channel} exchange with sysid {sysid} on {link_id} runs"
            )
        queue: asyncio.Queue[Any] = asyncio.Queue()
        queues[channel] = queue
        try:
            self._send(link, exchange.start(self._clock()))
            while (outcome := exchange.outcome) is None:
                wait_s = max(0.0, exchange.deadline_s - self._clock())
                try:
                    msg = await asyncio.wait_for(queue.get(), wait_s)
                except TimeoutError:
                    self._send(link, exchange.poll(self._clock()))
                    continue
                self._send(link, exchange.receive(msg, self._clock()))
            return outcome
        finally:
            del queues[channel]
            if not queues:
                del self._waiting[(link_id, sysid)]

    def _send(self, link: Sender, messages: list[Any]) -> None:
        for msg in messages:
            link.send(msg.pack(self._packer))
