"""Sans-I/O parameter write: ``PARAM_SET``, confirmed by the vehicle's ``PARAM_VALUE``.

The parameter protocol (mavlink.io services/parameter.md): the ground station sends
``PARAM_SET``; the vehicle applies it and answers with ``PARAM_VALUE`` carrying the
value it now holds (which may differ when it clamps or refuses). Without an answer
in ``TIMEOUT_S`` the ``PARAM_SET`` is resent, at most ``MAX_RETRIES`` times.

Used for the fence's altitude: ArduPilot's ``FENCE_ALT_MAX`` (metres above home,
10-1000), PX4's ``GF_MAX_VER_DIST`` (metres above home, 0 = off) — ``fence_alt_param``
picks by the autopilot the heartbeat names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pymavlink.dialects.v20 import ardupilotmega as mavlink

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


class ParamSet:
    """Sets one REAL32 parameter on ``target`` and waits for its ``PARAM_VALUE``."""

    def __init__(self, target: tuple[int, int], name: str, value: float) -> None:
        self.target_system, self.target_component = target
        self.name = name
        self.value = value
        self.outcome: ParamAnswer | None = None
        self._deadline_s = 0.0
        self._retries = 0

    @property
    def deadline_s(self) -> float:
        """When ``poll`` next has something to do (resend or give up)."""
        return self._deadline_s

    def start(self, now_s: float) -> list[Any]:
        """Return the ``PARAM_SET``."""
        self._deadline_s = now_s + TIMEOUT_S
        return [self._message()]

    def receive(self, msg: Any, now_s: float) -> list[Any]:
        """Take one message; only the target's ``PARAM_VALUE`` of our name counts."""
        if self.outcome is not None or msg.get_type() != "PARAM_VALUE":
            return []
        if msg.get_srcSystem() != self.target_system:
            return []
        name = msg.param_id
        if isinstance(name, bytes):
            name = name.decode("ascii", "replace")
        if name.rstrip("\x00") != self.name:
            return []
        self.outcome = ParamAnswer(self.name, self.value, float(msg.param_value))
        return []

    def poll(self, now_s: float) -> list[Any]:
        """Return the resend a silent vehicle needs, or give up."""
        if self.outcome is not None or now_s < self._deadline_s:
            return []
        if self._retries >= MAX_RETRIES:
            self.outcome = ParamAnswer(self.name, self.value, None)
            return []
        self._retries += 1
        self._deadline_s = now_s + TIMEOUT_S
        return [self._message()]

    def _message(self) -> Any:
        return mavlink.MAVLink_param_set_message(
            self.target_system,
            self.target_component,
            self.name.encode("ascii"),
            self.value,
            mavlink.MAV_PARAM_TYPE_REAL32,
        )
