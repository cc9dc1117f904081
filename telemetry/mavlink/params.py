"""Sans-I/O parameter write: ``PARAM_SET``, confirmed by the vehicle's ``PARAM_VALUE``.

The parameter protocol (mavlink.io services/parameter.md): the ground station sends
``PARAM_SET``; the vehicle applies it and answers with ``PARAM_VALUE`` carrying the
value it now holds (which may differ when it clamps or refuses). Without an answer
in ``TIMEOUT_S`` the ``PARAM_SET`` is resent, at most ``MAX_RETRIES`` times (the
bookkeeping of ``request_reply``, shared with ``commands``).

Used for the fence's altitude: ArduPilot's ``FENCE_ALT_MAX`` (metres above home,
10-1000), PX4's ``GF_MAX_VER_DIST`` (metres above home, 0 = off) — ``fence_alt_param``
picks by the autopilot the heartbeat names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.mavlink.request_reply import RequestReply

TIMEOUT_S: Final = 1.5
MAX_RETRIES: Final = 3
TOLERANCE: Final = 1e-3
"""A float32 parameter reads back within this of the value sent."""


def fence_alt_param(autopilot: int | None) -> str:
    """Return the name of the fence's maximum-altitude parameter for ``autopilot``
    (``MAV_AUTOPILOT``; None: unknown, taken as ArduPilot)."""
    return (
        "GF_MAX_VER_DIST" if autopilot == mavlink.MAV_AUTOPILOT_PX4 else "FENCE_ALT_MAX"
    )


@dataclass(frozen=True)
class ParamAnswer:
    """``value`` is what the vehicle holds now (None: it never answered)."""

    name: str
    sent: float
    value: float | None

    @property
    def confirmed(self) -> bool:
        """True when the vehicle holds the value sent."""
        return self.value is not None and abs(self.value - self.sent) <= TOLERANCE

    @property
    def summary(self) -> str:
        """``FENCE_ALT_MAX = 60.0 confirmed``, ``... holds 50.0``, ``... no answer``."""
        if self.value is None:
            return f"{self.name} = {self.sent:g}: no answer"
        if self.confirmed:
            return f"{self.name} = {self.sent:g} confirmed"
        return f"{self.name} = {self.sent:g} sent, the vehicle holds {self.value:g}"


class ParamSet(RequestReply[ParamAnswer]):
    """Sets one REAL32 parameter on ``target`` and waits for its ``PARAM_VALUE``."""

    REPLY_TYPE = "PARAM_VALUE"

    def __init__(self, target: tuple[int, int], name: str, value: float) -> None:
        super().__init__(target, TIMEOUT_S, MAX_RETRIES)
        self.name = name
        self.value = value

    def _answer(self, msg: Any, now_s: float) -> None:
        """Only the ``PARAM_VALUE`` of our name counts."""
        name = msg.param_id
        if isinstance(name, bytes):
            name = name.decode("ascii", "replace")
        if name.rstrip("\x00") != self.name:
            return
        self.outcome = ParamAnswer(self.name, self.value, float(msg.param_value))

    def _no_answer(self) -> ParamAnswer:
        return ParamAnswer(self.name, self.value, None)

    def _request(self) -> Any:
        return mavlink.MAVLink_param_set_message(
            self.target_system,
            self.target_component,
            self.name.encode("ascii"),
            self.value,
            mavlink.MAV_PARAM_TYPE_REAL32,
        )
