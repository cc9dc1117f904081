"""Sans-I/O fence transfer, ground-station side: upload, download and comparison.

The MAVLink mission protocol with ``mission_type = MAV_MISSION_TYPE_FENCE``
(mavlink.io services/mission.md, ``../shared/REFERENCE.md`` §1):

* upload: ``MISSION_COUNT`` -> the vehicle asks for each item with
  ``MISSION_REQUEST_INT`` (51) or, as ArduPilot's queued requests do,
  ``MISSION_REQUEST`` (40) -> ``MISSION_ITEM_INT`` -> the vehicle's ``MISSION_ACK``;
* download: ``MISSION_REQUEST_LIST`` -> ``MISSION_COUNT`` -> our
  ``MISSION_REQUEST_INT`` per item -> ``MISSION_ITEM_INT`` -> our ``MISSION_ACK``.

Like the codec, the machines never touch a socket or a clock: ``start(now_s)``,
``receive(msg, now_s)`` and ``poll(now_s)`` return the pymavlink messages to send;
``outcome`` is None until the transfer ends in ``TransferDone`` or
``TransferFailed``. Timeouts follow the spec: ``TIMEOUT_S`` (1.5 s) without an
answer resends the last message, at most ``MAX_RETRIES`` (5) times, then the
transfer fails as "no answer" (a timeout is not an error reply). Items travel as
``MISSION_ITEM_INT`` in ``MAV_FRAME_GLOBAL_INT``: degrees times 1e7, converted once
here (``fence_items``), so a read-back compares integers exactly. Fence transfer
needs MAVLink 2 (``mission_type`` is an extension field; ArduPilot refuses it on a
MAVLink 1 link): the adapter packs with a MAVLink 2 encoder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pymavlink.dialects.v20 import ardupilotmega as mavlink

FENCE: Final = mavlink.MAV_MISSION_TYPE_FENCE
TIMEOUT_S: Final = 1.5
"""The spec's default timeout for a mission-protocol answer."""
MAX_RETRIES: Final = 5
"""The spec's maximum resends before the transfer is cancelled."""
FRAME: Final = mavlink.MAV_FRAME_GLOBAL_INT
CMD_INCLUSION: Final = mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
CMD_EXCLUSION: Final = mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
REPLY_MESSAGE_IDS: Final = frozenset(
    {
        mavlink.MAVLINK_MSG_ID_MISSION_REQUEST,
        mavlink.MAVLINK_MSG_ID_MISSION_REQUEST_INT,
        mavlink.MAVLINK_MSG_ID_MISSION_COUNT,
        mavlink.MAVLINK_MSG_ID_MISSION_ITEM_INT,
        mavlink.MAVLINK_MSG_ID_MISSION_ACK,
        mavlink.MAVLINK_MSG_ID_COMMAND_ACK,
        mavlink.MAVLINK_MSG_ID_PARAM_VALUE,
    }
)
"""What a vehicle sends back during a transfer or a command (the adapter routes
these frames to the exchange waiting for them)."""


@dataclass(frozen=True)
class FenceItem:
    """One fence item: a polygon vertex (``param1`` = its polygon's vertex count)
    or a circle (``param1`` = radius in m), at ``lat_e7``/``lon_e7`` (1e-7 deg)."""

    command: int
    param1: float
    lat_e7: int
    lon_e7: int


class TransferOutcome:
    """How a transfer ended: ``TransferDone`` or ``TransferFailed``."""


@dataclass(frozen=True)
class TransferDone(TransferOutcome):
    """The vehicle accepted the upload, or sent every item of a download."""

    items: tuple[FenceItem, ...]


ReasonParams = Mapping[str, str | int | float]
"""The values a reason's words are filled with (``fence.reason.<code>``)."""


@dataclass(frozen=True)
class TransferFailed(TransferOutcome):
    """The transfer ended without success: ``result`` is the vehicle's
    ``MAV_MISSION_RESULT`` name, or None when it never answered. ``reason`` says
    it in English (logs, API); ``code`` and ``params`` let a page say it in its
    own words: ``no_answer`` (``retries``, ``message``), ``vehicle_answered``
    (``result``), ``vehicle_busy``."""

    reason: str
    result: str | None = None
    code: str = "no_answer"
    params: ReasonParams = field(default_factory=dict)


Outcome = TransferOutcome


def fence_items(
    polygons: Sequence[tuple[bool, Sequence[tuple[float, float]]]],
) -> tuple[FenceItem, ...]:
    """Return the items of ``(inclusion, vertices (lon, lat) deg, unclosed)``
    polygons, in order, each vertex carrying its polygon's vertex count."""
    items: list[FenceItem] = []
    for inclusion, vertices in polygons:
        command = CMD_INCLUSION if inclusion else CMD_EXCLUSION
        for lon, lat in vertices:
            items.append(
                FenceItem(
                    command, float(len(vertices)), round(lat * 1e7), round(lon * 1e7)
                )
            )
    return tuple(items)


@dataclass(frozen=True)
class FenceDifference:
    """One difference between a fence sent and the one read back: ``code``
    ``count`` (``stored``, ``sent`` item counts), ``command`` or ``vertex``
    (``item``: its sequence number; ``stored``, ``sent``: the values as text).
    ``str()`` says it in English."""

    code: str
    params: ReasonParams

    def __str__(self) -> str:
        p = self.params
        if self.code == "count":
            return f"{p['stored']} items stored, {p['sent']} sent"
        return f"item {p['item']}: {self.code} {p['stored']} stored, {p['sent']} sent"


def fence_differences(
    sent: Sequence[FenceItem], stored: Sequence[FenceItem]
) -> list[FenceDifference]:
    """Return the differences between the fence sent and the one read back, each
    naming the item (empty: identical within MAVLink's integer precision)."""
    if len(sent) != len(stored):
        return [FenceDifference("count", {"stored": len(stored), "sent": len(sent)})]
    problems = []
    for seq, (a, b) in enumerate(zip(sent, stored, strict=True)):
        if a.command != b.command or round(a.param1, 3) != round(b.param1, 3):
            values = {
                "stored": f"{b.command}/{b.param1}",
                "sent": f"{a.command}/{a.param1}",
            }
            problems.append(FenceDifference("command", {"item": seq, **values}))
        elif (a.lat_e7, a.lon_e7) != (b.lat_e7, b.lon_e7):
            values = {
                "stored": f"{b.lat_e7 / 1e7:.7f},{b.lon_e7 / 1e7:.7f}",
                "sent": f"{a.lat_e7 / 1e7:.7f},{a.lon_e7 / 1e7:.7f}",
            }
            problems.append(FenceDifference("vertex", {"item": seq, **values}))
    return problems


def compare_fences(sent: Sequence[FenceItem], stored: Sequence[FenceItem]) -> list[str]:
    """Return ``fence_differences`` in English (empty: identical)."""
    return [str(d) for d in fence_differences(sent, stored)]


class _Exchange:
    """Resend-on-timeout bookkeeping shared by both directions."""

    def __init__(self, target: tuple[int, int]) -> None:
        self.target_system, self.target_component = target
        self.outcome: Outcome | None = None
        self._last: Any = None
        self._deadline_s = 0.0
        self._retries = 0

    @property
    def deadline_s(self) -> float:
        """When ``poll`` next has something to do (resend or give up)."""
        return self._deadline_s

    def _send(self, msg: Any, now_s: float, *, progress: bool = True) -> list[Any]:
        self._last = msg
        self._deadline_s = now_s + TIMEOUT_S
        if progress:
            self._retries = 0
        return [msg]

    def poll(self, now_s: float) -> list[Any]:
        """Return the resend a silent vehicle needs, or end the transfer."""
        if self.outcome is not None or now_s < self._deadline_s:
            return []
        if self._retries >= MAX_RETRIES:
            message = self._last.get_type()
            self.outcome = TransferFailed(
                f"no answer after {MAX_RETRIES} retries of {message}",
                params={"retries": MAX_RETRIES, "message": message},
            )
            return []
        self._retries += 1
        return self._send(self._last, now_s, progress=False)

    def _from_target(self, msg: Any) -> bool:
        if msg.get_srcSystem() != self.target_system:
            return False
        return bool(getattr(msg, "mission_type", FENCE) == FENCE)

    def _failed_ack(self, msg: Any) -> None:
        name = mavlink.enums["MAV_MISSION_RESULT"].get(msg.type)
        result = name.name if name is not None else str(msg.type)
        self.outcome = TransferFailed(
            f"vehicle answered {result}",
            result,
            code="vehicle_answered",
            params={"result": result},
        )


class FenceUpload(_Exchange):
    """Uploads ``items`` to ``target`` (sysid, compid); see the module docstring."""

    def __init__(self, target: tuple[int, int], items: Sequence[FenceItem]) -> None:
        super().__init__(target)
        self.items = tuple(items)
        self.sent: set[int] = set()

    def start(self, now_s: float) -> list[Any]:
        """Return the ``MISSION_COUNT`` that opens the upload."""
        return self._send(
            mavlink.MAVLink_mission_count_message(
                self.target_system, self.target_component, len(self.items), FENCE
            ),
            now_s,
        )

    def receive(self, msg: Any, now_s: float) -> list[Any]:
        """Return the answer to one message from the vehicle."""
        if self.outcome is not None or not self._from_target(msg):
            return []
        kind = msg.get_type()
        if kind in ("MISSION_REQUEST_INT", "MISSION_REQUEST"):
            if not 0 <= msg.seq < len(self.items):
                return []
            self.sent.add(msg.seq)
            return self._send(self._item(msg.seq), now_s)
        if kind == "MISSION_ACK":
            if msg.type == mavlink.MAV_MISSION_ACCEPTED:
                if len(self.sent) == len(self.items):
                    self.outcome = TransferDone(self.items)
                    return []
                # An ACCEPTED before every item: not ours (a stale transfer).
                return []
            self._failed_ack(msg)
        return []

    def _item(self, seq: int) -> Any:
        item = self.items[seq]
        return mavlink.MAVLink_mission_item_int_message(
            self.target_system,
            self.target_component,
            seq,
            FRAME,
            item.command,
            0,
            1,
            item.param1,
            0,
            0,
            0,
            item.lat_e7,
            item.lon_e7,
            0,
            FENCE,
        )


class FenceDownload(_Exchange):
    """Reads the fence stored on ``target`` back, item by item."""

    def __init__(self, target: tuple[int, int]) -> None:
        super().__init__(target)
        self.count: int | None = None
        self.items: list[FenceItem] = []

    def start(self, now_s: float) -> list[Any]:
        """Return the ``MISSION_REQUEST_LIST`` that opens the download."""
        return self._send(
            mavlink.MAVLink_mission_request_list_message(
                self.target_system, self.target_component, FENCE
            ),
            now_s,
        )

    def receive(self, msg: Any, now_s: float) -> list[Any]:
        """Return the answer to one message from the vehicle."""
        if self.outcome is not None or not self._from_target(msg):
            return []
        kind = msg.get_type()
        if kind == "MISSION_COUNT" and self.count is None:
            self.count = msg.count
            return self._next(now_s)
        if kind == "MISSION_ITEM_INT" and self.count is not None:
            if msg.seq != len(self.items):
                return []  # a repeat; the timeout asks again if need be
            self.items.append(FenceItem(msg.command, float(msg.param1), msg.x, msg.y))
            return self._next(now_s)
        if kind == "MISSION_ACK" and msg.type != mavlink.MAV_MISSION_ACCEPTED:
            self._failed_ack(msg)
        return []

    def _next(self, now_s: float) -> list[Any]:
        if self.count is not None and len(self.items) < self.count:
            return self._send(
                mavlink.MAVLink_mission_request_int_message(
                    self.target_system,
                    self.target_component,
                    len(self.items),
                    FENCE,
                ),
                now_s,
            )
        self.outcome = TransferDone(tuple(self.items))
        return [
            mavlink.MAVLink_mission_ack_message(
                self.target_system,
                self.target_component,
                mavlink.MAV_MISSION_ACCEPTED,
                FENCE,
            )
        ]
