"""Sans-I/O safety commands: RTL, LAND and LOITER/HOLD as ``COMMAND_LONG`` + ACK.

The command protocol (mavlink.io services/command.md, ``../shared/REFERENCE.md``
§2): send ``COMMAND_LONG`` with ``confirmation`` 0, wait for the target's
``COMMAND_ACK`` for that command; without one in ``TIMEOUT_S`` resend with
``confirmation`` raised by one, at most ``MAX_RETRIES`` times (the retry count is
stack-specific; three is what ground stations use). ``MAV_RESULT_IN_PROGRESS``
means the vehicle is working on it: wait ``IN_PROGRESS_TIMEOUT_S`` longer, no
resend. ``ACCEPTED`` means the mode change was taken, not that the aircraft is home.

Which command: ArduCopter maps ``MAV_CMD_NAV_RETURN_TO_LAUNCH`` (20) to RTL,
``MAV_CMD_NAV_LAND`` (21) to LAND and ``MAV_CMD_NAV_LOITER_UNLIM`` (17) to LOITER;
PX4 takes 20 and 21 too, and HOLD as ``MAV_CMD_DO_SET_MODE`` (176) with
``param1`` = custom mode enabled, ``param2`` = 4 (AUTO), ``param3`` = 3 (LOITER).
``command_for`` picks by the autopilot the vehicle's heartbeat names. The resend
bookkeeping is ``request_reply``'s, shared with ``params``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Final

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.mavlink.request_reply import RequestReply

TIMEOUT_S: Final = 1.5
MAX_RETRIES: Final = 3
IN_PROGRESS_TIMEOUT_S: Final = 5.0
_PX4: Final = mavlink.MAV_AUTOPILOT_PX4
_PX4_AUTO: Final = 4
_PX4_AUTO_LOITER: Final = 3


class SafetyCommand(enum.StrEnum):
    """What a safety officer may tell a vehicle to do."""

    RTL = "RTL"
    LAND = "LAND"
    LOITER = "LOITER"


@dataclass(frozen=True)
class CommandLong:
    """A ``COMMAND_LONG``'s command id and its seven parameters."""

    command: int
    params: tuple[float, float, float, float, float, float, float]


def command_for(safety: SafetyCommand, autopilot: int | None) -> CommandLong:
    """Return the ``COMMAND_LONG`` that makes an autopilot of type ``autopilot``
    (``MAV_AUTOPILOT``; None: unknown, ArduPilot's numbering) do ``safety``."""
    zero = (0.0,) * 7
    match safety:
        case SafetyCommand.RTL:
            return CommandLong(mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH, zero)
        case SafetyCommand.LAND:
            return CommandLong(mavlink.MAV_CMD_NAV_LAND, zero)
        case SafetyCommand.LOITER if autopilot == _PX4:
            flags = float(mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED)
            params = (
                flags,
                float(_PX4_AUTO),
                float(_PX4_AUTO_LOITER),
                0.0,
                0.0,
                0.0,
                0.0,
            )
            return CommandLong(mavlink.MAV_CMD_DO_SET_MODE, params)
        case _:
            return CommandLong(mavlink.MAV_CMD_NAV_LOITER_UNLIM, zero)


@dataclass(frozen=True)
class CommandAnswer:
    """The vehicle's last word: ``result`` is the ``MAV_RESULT`` name, or None when
    it never answered; ``accepted`` only for ``MAV_RESULT_ACCEPTED``."""

    result: str | None
    attempts: int

    @property
    def accepted(self) -> bool:
        """True when the vehicle accepted the command."""
        return self.result == "MAV_RESULT_ACCEPTED"

    @property
    def summary(self) -> str:
        """``accepted``, ``denied (MAV_RESULT_DENIED)`` or ``no answer``."""
        if self.result is None:
            return f"no answer after {self.attempts} attempts"
        if self.accepted:
            return "accepted"
        return f"denied ({self.result})"


class CommandExchange(RequestReply[CommandAnswer]):
    """Sends one ``COMMAND_LONG`` to ``target`` and waits for its ``COMMAND_ACK``."""

    REPLY_TYPE = "COMMAND_ACK"

    def __init__(self, target: tuple[int, int], command: CommandLong) -> None:
        super().__init__(target, TIMEOUT_S, MAX_RETRIES)
        self.command = command

    def _answer(self, msg: Any, now_s: float) -> None:
        """Only the ACK for our command counts; IN_PROGRESS waits longer."""
        if msg.command != self.command.command:
            return
        if msg.result == mavlink.MAV_RESULT_IN_PROGRESS:
            self._wait_until(now_s + IN_PROGRESS_TIMEOUT_S)
            return
        entry = mavlink.enums["MAV_RESULT"].get(msg.result)
        name = entry.name if entry is not None else str(msg.result)
        self.outcome = CommandAnswer(name, self._retries + 1)

    def _no_answer(self) -> CommandAnswer:
        return CommandAnswer(None, self._retries + 1)

    def _request(self) -> Any:
        """The ``COMMAND_LONG``; its ``confirmation`` counts the resends."""
        return mavlink.MAVLink_command_long_message(
            self.target_system,
            self.target_component,
            self.command.command,
            self._retries,
            *self.command.params,
        )
