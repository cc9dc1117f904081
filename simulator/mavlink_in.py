"""What a simulated autopilot answers: commands and the fence mission protocol.

Sans-I/O: ``VehicleResponder.handle(msg, now_s)`` takes one decoded message meant for
this vehicle and returns the messages to send back; ``poll(now_s)`` returns the
retries a stalled transfer needs. Time is simulated seconds.

- ``COMMAND_LONG`` / ``COMMAND_INT``: ``MAV_CMD_NAV_RETURN_TO_LAUNCH``,
  ``MAV_CMD_NAV_LAND`` and ``MAV_CMD_NAV_LOITER_UNLIM`` (ArduCopter's RTL, LAND,
  LOITER) are obeyed and acknowledged ``ACCEPTED`` (``FAILED`` on the ground);
  every other command gets ``UNSUPPORTED``.
- Fence upload (``MAV_MISSION_TYPE_FENCE``): ``MISSION_COUNT`` ->
  ``MISSION_REQUEST_INT`` per item -> ``MISSION_ITEM_INT`` (or the older
  ``MISSION_ITEM``) -> ``MISSION_ACK``.
  A missing item is asked for again after ``RETRY_S``, ``MAX_RETRIES`` times, then the
  transfer is cancelled. The fence is stored only when complete and valid.
- Fence download: ``MISSION_REQUEST_LIST`` -> ``MISSION_COUNT``, then each
  ``MISSION_REQUEST_INT`` / ``MISSION_REQUEST`` -> ``MISSION_ITEM_INT``.
- ``PARAM_SET`` stores the value and answers ``PARAM_VALUE`` (the fence's
  ``FENCE_ALT_MAX``).
- ``MISSION_CLEAR_ALL`` for fences removes the fence. Other mission types are
  answered ``MAV_MISSION_UNSUPPORTED``.
- ``Faults`` (from the scenarios ``mute``, ``fence_refused``, ``fence_corrupted``,
  ``request_lost``) make it answer nothing, refuse a complete upload, store a
  different fence than it was sent, or lose one item request on the way out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from simulator.fence import MAX_FENCE_ITEMS, Fence, FenceItem, fence_from_items
from simulator.scenarios import (
    FenceCorrupted,
    FenceRefused,
    Mute,
    RequestLost,
    Scenario,
    first,
)

logger = logging.getLogger(__name__)

RETRY_S = 1.5
MAX_RETRIES = 5

CMD_RTL = mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH
CMD_LAND = mavlink.MAV_CMD_NAV_LAND
CMD_LOITER = mavlink.MAV_CMD_NAV_LOITER_UNLIM
FENCE = mavlink.MAV_MISSION_TYPE_FENCE


class Commandable(Protocol):
    """What the responder needs of the autopilot."""

    def return_to_launch(self) -> bool: ...

    def land(self) -> bool: ...

    def loiter(self) -> bool: ...


@dataclass(frozen=True)
class Faults:
    """How this autopilot misbehaves, for the error paths (scenarios)."""

    mute: bool = False
    """Answers nothing."""
    refuse_result: int | None = None
    """Ends every complete fence upload with this MAV_MISSION_RESULT."""
    corrupt_offset_e7: int = 0
    """Stores the first vertex of an accepted fence moved north by this much."""
    lose_request_seq: int | None = None
    """Loses the first request for this item of each upload (sent, not received)."""


def faults_of(scenarios: Iterable[Scenario]) -> Faults:
    """Return how ``scenarios`` make an autopilot misbehave when talked to."""
    chosen = tuple(scenarios)
    refused: FenceRefused | None = first(chosen, FenceRefused)
    corrupted: FenceCorrupted | None = first(chosen, FenceCorrupted)
    lost: RequestLost | None = first(chosen, RequestLost)
    return Faults(
        mute=first(chosen, Mute) is not None,
        refuse_result=refused.result if refused is not None else None,
        corrupt_offset_e7=corrupted.offset_e7 if corrupted is not None else 0,
        lose_request_seq=lost.seq if lost is not None else None,
    )


@dataclass
class _Upload:
    partner: tuple[int, int]
    count: int
    items: list[FenceItem] = field(default_factory=list)
    requested_at_s: float = 0.0
    retries: int = 0


def targets(msg: Any, sysid: int, compid: int) -> bool:
    """Return True when ``msg`` is addressed to this vehicle (or to every one)."""
    target_system = getattr(msg, "target_system", None)
    if target_system is None or target_system not in (0, sysid):
        return False
    target_component = getattr(msg, "target_component", 0)
    return target_component in (0, compid)


class VehicleResponder:
    """Answers one vehicle's commands and fence transfers."""

    def __init__(self, autopilot: Commandable, faults: Faults | None = None) -> None:
        self.autopilot = autopilot
        self.faults = faults or Faults()
        self._lost_request = False
        self.fence: Fence | None = None
        self.fence_uploads = 0
        self.params: dict[str, float] = {}
        """Parameters set by PARAM_SET (answered with PARAM_VALUE)."""
        """Fences accepted so far."""
        self._upload: _Upload | None = None

    def handle(self, msg: Any, now_s: float) -> list[Any]:
        """Return the replies to ``msg`` (already known to target this vehicle)."""
        if self.faults.mute:
            return []
        replies = self._answer(msg, now_s)
        lose = self.faults.lose_request_seq
        if lose is not None and not self._lost_request:
            for reply in replies:
                if reply.get_type() == "MISSION_REQUEST_INT" and reply.seq == lose:
                    self._lost_request = True
                    return [r for r in replies if r is not reply]
        return replies

    def _answer(self, msg: Any, now_s: float) -> list[Any]:
        partner = (msg.get_srcSystem(), msg.get_srcComponent())
        match msg.get_type():
            case "COMMAND_LONG" | "COMMAND_INT":
                return [self._command(msg, partner)]
            case "MISSION_COUNT":
                return self._count(msg, partner, now_s)
            case "MISSION_ITEM_INT" | "MISSION_ITEM":
                return self._item(msg, partner, now_s)
            case "MISSION_REQUEST_LIST":
                return self._request_list(msg, partner)
            case "MISSION_REQUEST_INT" | "MISSION_REQUEST":
                return self._request_item(msg, partner)
            case "MISSION_CLEAR_ALL":
                return self._clear(msg, partner)
            case "PARAM_SET":
                return self._param_set(msg)
            case _:
                return []

    def poll(self, now_s: float) -> list[Any]:
        """Return a repeated request when an upload stalls, or cancel it."""
        up = self._upload
        if up is None or now_s - up.requested_at_s < RETRY_S:
            return []
        if up.retries >= MAX_RETRIES:
            self._upload = None
            logger.info("fence upload from %s timed out", up.partner)
            return [_ack(up.partner, mavlink.MAV_MISSION_OPERATION_CANCELLED)]
        up.retries += 1
        return [self._request_next(up, now_s)]

    def _command(self, msg: Any, partner: tuple[int, int]) -> Any:
        if msg.command == CMD_RTL:
            ok = self.autopilot.return_to_launch()
        elif msg.command == CMD_LAND:
            ok = self.autopilot.land()
        elif msg.command == CMD_LOITER:
            ok = self.autopilot.loiter()
        else:
            return _command_ack(msg.command, mavlink.MAV_RESULT_UNSUPPORTED, partner)
        result = mavlink.MAV_RESULT_ACCEPTED if ok else mavlink.MAV_RESULT_FAILED
        return _command_ack(msg.command, result, partner)

    def _count(self, msg: Any, partner: tuple[int, int], now_s: float) -> list[Any]:
        if msg.mission_type != FENCE:
            return [_ack(partner, mavlink.MAV_MISSION_UNSUPPORTED, msg.mission_type)]
        if msg.count == 0:
            self.fence = None
            self._upload = None
            return [_ack(partner, mavlink.MAV_MISSION_ACCEPTED)]
        if msg.count > MAX_FENCE_ITEMS:
            return [_ack(partner, mavlink.MAV_MISSION_NO_SPACE)]
        self._upload = _Upload(partner, msg.count)
        self._lost_request = False
        return [self._request_next(self._upload, now_s)]

    def _item(self, msg: Any, partner: tuple[int, int], now_s: float) -> list[Any]:
        up = self._upload
        if msg.mission_type != FENCE or up is None or up.partner != partner:
            return []
        if msg.seq != len(up.items):
            # A repeat or a skip: ask again for the item we need.
            return [self._request_next(up, now_s)]
        up.items.append(_fence_item(msg))
        up.retries = 0
        if len(up.items) < up.count:
            return [self._request_next(up, now_s)]
        self._upload = None
        if self.faults.refuse_result is not None:
            return [_ack(partner, self.faults.refuse_result)]
        if self.faults.corrupt_offset_e7:
            first = up.items[0]
            moved = first.lat_deg + self.faults.corrupt_offset_e7 * 1e-7
            up.items[0] = replace(first, lat_deg=moved)
        try:
            fence = fence_from_items(tuple(up.items))
        except ValueError as exc:
            logger.info("fence upload from %s refused: %s", partner, exc)
            return [_ack(partner, mavlink.MAV_MISSION_INVALID)]
        self.fence = fence
        self.fence_uploads += 1
        return [_ack(partner, mavlink.MAV_MISSION_ACCEPTED)]

    def _request_next(self, up: _Upload, now_s: float) -> Any:
        up.requested_at_s = now_s
        return mavlink.MAVLink_mission_request_int_message(
            up.partner[0], up.partner[1], len(up.items), FENCE
        )

    def _request_list(self, msg: Any, partner: tuple[int, int]) -> list[Any]:
        if msg.mission_type != FENCE:
            return [_ack(partner, mavlink.MAV_MISSION_UNSUPPORTED, msg.mission_type)]
        count = len(self.fence.items) if self.fence is not None else 0
        return [
            mavlink.MAVLink_mission_count_message(partner[0], partner[1], count, FENCE)
        ]

    def _request_item(self, msg: Any, partner: tuple[int, int]) -> list[Any]:
        if msg.mission_type != FENCE:
            return [_ack(partner, mavlink.MAV_MISSION_UNSUPPORTED, msg.mission_type)]
        items = self.fence.items if self.fence is not None else ()
        if not 0 <= msg.seq < len(items):
            return [_ack(partner, mavlink.MAV_MISSION_INVALID_SEQUENCE)]
        item = items[msg.seq]
        return [
            mavlink.MAVLink_mission_item_int_message(
                partner[0],
                partner[1],
                item.seq,
                item.frame,
                item.command,
                0,
                1,
                item.param1,
                item.param2,
                item.param3,
                item.param4,
                round(item.lat_deg * 1e7),
                round(item.lon_deg * 1e7),
                item.alt_m,
                FENCE,
            )
        ]

    def _param_set(self, msg: Any) -> list[Any]:
        name = msg.param_id
        if isinstance(name, bytes):
            name = name.decode("ascii", "replace")
        name = name.rstrip("\x00")
        self.params[name] = float(msg.param_value)
        names = sorted(self.params)
        return [
            mavlink.MAVLink_param_value_message(
                name.encode("ascii"),
                self.params[name],
                mavlink.MAV_PARAM_TYPE_REAL32,
                len(names),
                names.index(name),
            )
        ]

    def _clear(self, msg: Any, partner: tuple[int, int]) -> list[Any]:
        if msg.mission_type not in (FENCE, mavlink.MAV_MISSION_TYPE_ALL):
            return [_ack(partner, mavlink.MAV_MISSION_UNSUPPORTED, msg.mission_type)]
        self.fence = None
        self._upload = None
        return [_ack(partner, mavlink.MAV_MISSION_ACCEPTED, msg.mission_type)]


def _fence_item(msg: Any) -> FenceItem:
    """Return the item of a MISSION_ITEM_INT (1e-7 deg) or MISSION_ITEM (deg)."""
    scale = 1e-7 if msg.get_type() == "MISSION_ITEM_INT" else 1.0
    return FenceItem(
        seq=msg.seq,
        command=msg.command,
        frame=msg.frame,
        param1=float(msg.param1),
        param2=float(msg.param2),
        param3=float(msg.param3),
        param4=float(msg.param4),
        lat_deg=msg.x * scale,
        lon_deg=msg.y * scale,
        alt_m=float(msg.z),
    )


def _ack(partner: tuple[int, int], result: int, mission_type: int = FENCE) -> Any:
    return mavlink.MAVLink_mission_ack_message(
        partner[0], partner[1], result, mission_type
    )


def _command_ack(command: int, result: int, partner: tuple[int, int]) -> Any:
    return mavlink.MAVLink_command_ack_message(
        command, result, 0, 0, partner[0], partner[1]
    )
