"""Named scenarios: what goes right or wrong with a drone, and when.

A scenario is a frozen value with its parameters; a drone carries any number of
them (``lateral_drift`` and ``link_loss`` together, two ``gps_glitch`` at
different times ...). Times (``at_s``) are seconds after that drone's take-off, in
simulated time. Scenarios that need the drone inside its corridor
(``lateral_drift``, ``altitude_bust``, ``gps_glitch``) wait, once their time has
come, until it flies a leg along the corridor.

On the command line a scenario is ``NAME[@DRONES][:KEY=VALUE,...]``: ``DRONES`` is
``all`` (the default) or 1-based positions in the fleet, ``2`` or ``1+3``; e.g.
``lateral_drift@2:at_s=30,hold_s=40``. The seed makes every random part (GNSS noise,
the direction of a GPS glitch) repeat exactly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from simulator.errors import ScenarioError


@dataclass(frozen=True)
class Scenario:
    """Base of every scenario; ``name`` is what users type."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ScenarioError(f"{self.name}: {f.name} must be finite")
            if isinstance(value, int | float) and value < 0:
                raise ScenarioError(f"{self.name}: {f.name} must be >= 0, got {value}")


@dataclass(frozen=True)
class Nominal(Scenario):
    name: ClassVar[str] = "nominal"
    summary: ClassVar[str] = (
        "flies its plan inside the corridor: take-off, climb to the middle of the "
        "band, follow the corridor, return, land; no incident expected."
    )


@dataclass(frozen=True)
class LateralDrift(Scenario):
    name: ClassVar[str] = "lateral_drift"
    summary: ClassVar[str] = (
        "at at_s (default 40) drifts sideways at speed_mps (3) out of its corridor "
        "through the nearest edge that keeps it inside the site and out of "
        "exclusion zones, overshoot_m (30) beyond it; stays out hold_s (20), then "
        "flies back and goes on; expect corridor_exit_lateral, then returned."
    )
    at_s: float = 40.0
    speed_mps: float = 3.0
    overshoot_m: float = 30.0
    hold_s: float = 20.0


@dataclass(frozen=True)
class AltitudeBust(Scenario):
    name: ClassVar[str] = "altitude_bust"
    summary: ClassVar[str] = (
        "at at_s (40) climbs overshoot_m (15) through the corridor's ceiling, stays "
        "hold_s (20), then descends back into the band; expect "
        "corridor_exit_vertical (boundary_exit where the site's ceiling is no "
        "higher than the corridor's)."
    )
    at_s: float = 40.0
    overshoot_m: float = 15.0
    hold_s: float = 20.0


@dataclass(frozen=True)
class LinkLoss(Scenario):
    name: ClassVar[str] = "link_loss"
    summary: ClassVar[str] = (
        "at at_s (30) sends nothing at all for duration_s (10), heartbeats included, "
        "while it flies on; then its telemetry comes back; expect link_lost."
    )
    at_s: float = 30.0
    duration_s: float = 10.0


@dataclass(frozen=True)
class LowBattery(Scenario):
    name: ClassVar[str] = "low_battery"
    summary: ClassVar[str] = (
        "takes off with start_pct (30) % charge that drains drain_x (4) times "
        "faster; at failsafe_pct (15) % it reports critical and returns to "
        "launch; expect a low-battery warning."
    )
    start_pct: float = 30.0
    drain_x: float = 4.0
    failsafe_pct: float = 15.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.start_pct <= 100:
            raise ScenarioError("low_battery: start_pct must be in (0, 100]")
        if not self.failsafe_pct < self.start_pct:
            raise ScenarioError("low_battery: failsafe_pct must be below start_pct")
        if self.drain_x <= 0:
            raise ScenarioError("low_battery: drain_x must be > 0")


@dataclass(frozen=True)
class GpsGlitch(Scenario):
    name: ClassVar[str] = "gps_glitch"
    summary: ClassVar[str] = (
        "at at_s (40) sends ONE GLOBAL_POSITION_INT offset_m (300) away in a "
        "seeded direction, then good positions again; a single wild sample must "
        "NOT raise an incident."
    )
    at_s: float = 40.0
    offset_m: float = 300.0


@dataclass(frozen=True)
class Intruder(Scenario):
    name: ClassVar[str] = "intruder"
    summary: ClassVar[str] = (
        "flies under a system id no drone is registered with (sysid, default: a "
        "free one counted down from 250) and without a booking; expect "
        "unbooked_flight."
    )
    sysid: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sysid > 255:
            raise ScenarioError(f"intruder: sysid must be 1-255, got {self.sysid}")


@dataclass(frozen=True)
class SpoofedSysid(Scenario):
    name: ClassVar[str] = "spoofed_sysid"
    summary: ClassVar[str] = (
        "sends UNSIGNED frames under the system id of a drone that signs its "
        "frames (victim, default: the first signing drone of the fleet) from its "
        "own route; expect the frames rejected and a spoofing incident."
    )
    victim: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.victim > 255:
            raise ScenarioError(
                f"spoofed_sysid: victim must be 1-255, got {self.victim}"
            )


@dataclass(frozen=True)
class PreFix(Scenario):
    name: ClassVar[str] = "pre_fix"
    summary: ClassVar[str] = (
        "like a real ArduPilot, has no GPS fix for duration_s (5) from the start: "
        "sends heartbeats, status texts, its params (300) PARAM_VALUE and "
        "GPS_RAW_INT without a fix, but no position, and takes off only after the "
        "fix; expect it tied to its drone and booking before its first position."
    )
    duration_s: float = 5.0
    params: int = 300


@dataclass(frozen=True)
class DegradedSignal(Scenario):
    name: ClassVar[str] = "degraded_signal"
    summary: ClassVar[str] = (
        "reports its test conditions: RADIO_STATUS and WIND (1 Hz) besides "
        "GPS_RAW_INT, all good (HDOP 0.8, 14 satellites, RSSI 200) except from "
        "at_s (20) for duration_s (20), when GPS_RAW_INT says hdop (2.5) and "
        "satellites (6) and RADIO_STATUS rssi (90); WIND is the simulated wind; "
        "expect the flight's conditions to show the degradation."
    )
    at_s: float = 20.0
    duration_s: float = 20.0
    hdop: float = 2.5
    satellites: int = 6
    rssi: int = 90

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rssi > 254 or self.satellites > 254:
            raise ScenarioError("degraded_signal: rssi and satellites are 0-254")

    def active(self, since_takeoff_s: float | None) -> bool:
        """True while the degradation lasts (seconds after take-off)."""
        return (
            since_takeoff_s is not None
            and self.at_s <= since_takeoff_s < self.at_s + self.duration_s
        )


@dataclass(frozen=True)
class FenceRefused(Scenario):
    name: ClassVar[str] = "fence_refused"
    summary: ClassVar[str] = (
        "answers a complete fence upload with MISSION_ACK result (default 1, "
        "MAV_MISSION_ERROR, what ArduPilot sends when validation fails) and "
        "keeps its old fence; expect fence refused."
    )
    result: int = 1


@dataclass(frozen=True)
class Mute(Scenario):
    name: ClassVar[str] = "mute"
    summary: ClassVar[str] = (
        "answers nothing it is sent (fence transfers, commands) while its telemetry "
        "flows on; expect fence refused (no answer) and commands without answer."
    )


@dataclass(frozen=True)
class FenceCorrupted(Scenario):
    name: ClassVar[str] = "fence_corrupted"
    summary: ClassVar[str] = (
        "accepts a fence upload but stores its first vertex moved north by "
        "offset_e7 (default 500, about 5.5 m) units of 1e-7 degree; expect fence "
        "mismatch on read-back."
    )
    offset_e7: int = 500


@dataclass(frozen=True)
class RequestLost(Scenario):
    name: ClassVar[str] = "request_lost"
    summary: ClassVar[str] = (
        "loses its first MISSION_REQUEST_INT for item seq (default 1) of an "
        "upload on the way out (asked again after its 1.5 s timeout); expect "
        "the upload to complete anyway."
    )
    seq: int = 1


@dataclass(frozen=True)
class FenceRtl(Scenario):
    name: ClassVar[str] = "fence_rtl"
    summary: ClassVar[str] = (
        "obeys its uploaded fence as ArduPilot with FENCE_ACTION 1 does: on a "
        "breach in the air it returns to launch (RTL) and lands at home; expect "
        "fence_breach, then the drone flying home."
    )


SCENARIOS: dict[str, type[Scenario]] = {
    cls.name: cls
    for cls in (
        Nominal,
        LateralDrift,
        AltitudeBust,
        LinkLoss,
        LowBattery,
        GpsGlitch,
        Intruder,
        SpoofedSysid,
        PreFix,
        DegradedSignal,
        FenceRefused,
        Mute,
        FenceCorrupted,
        RequestLost,
        FenceRtl,
    )
}
"""Every scenario by name, in the order the help lists them."""

_SINGLE_PER_DRONE = (
    LowBattery,
    Intruder,
    SpoofedSysid,
    PreFix,
    DegradedSignal,
    FenceRtl,
)


def describe_scenarios() -> str:
    """Return one help paragraph per scenario: name, parameters, what happens."""
    lines = []
    for name, cls in SCENARIOS.items():
        params = ", ".join(f.name for f in dataclasses.fields(cls))
        lines.append(f"{name}{f' ({params})' if params else ''}: {cls.summary}")
    return "\n\n".join(lines)


def make_scenario(name: str, params: Mapping[str, Any] | None = None) -> Scenario:
    """Return scenario ``name`` with ``params`` (numbers; unknown keys refused)."""
    cls = SCENARIOS.get(name.strip().lower())
    if cls is None:
        raise ScenarioError(
            f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})"
        )
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, raw in (params or {}).items():
        field = fields.get(key)
        if field is None:
            known = ", ".join(fields) or "none"
            raise ScenarioError(
                f"scenario {cls.name} has no parameter {key!r} (known: {known})"
            )
        values[key] = _number(cls.name, key, raw, int if field.type == "int" else float)
    return cls(**values)


def _number(scenario: str, key: str, raw: Any, kind: type) -> float | int:
    if isinstance(raw, bool):
        raise ScenarioError(f"{scenario}: {key} must be a number, got {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ScenarioError(
            f"{scenario}: {key} must be a number, got {raw!r}"
        ) from None
    if kind is int:
        if not value.is_integer():
            raise ScenarioError(f"{scenario}: {key} must be a whole number")
        return int(value)
    return value


@dataclass(frozen=True)
class ScenarioSpec:
    """A scenario and the fleet positions (1-based) it applies to; None = all."""

    scenario: Scenario
    drones: frozenset[int] | None = None

    def applies_to(self, position: int) -> bool:
        """Return True when the drone at 1-based ``position`` gets this scenario."""
        return self.drones is None or position in self.drones


def parse_spec(text: str) -> ScenarioSpec:
    """Parse ``NAME[@DRONES][:KEY=VALUE,...]`` (see the module docstring)."""
    head, _, param_text = text.strip().partition(":")
    name, _, drone_text = head.partition("@")
    params: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in param_text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError(f"{text!r}: parameter {item!r} is not KEY=VALUE")
        params[key.strip()] = value.strip()
    scenario = make_scenario(name, params)
    return ScenarioSpec(scenario, _parse_drones(text, drone_text))


def _parse_drones(text: str, drone_text: str) -> frozenset[int] | None:
    drone_text = drone_text.strip().lower()
    if drone_text in {"", "all"}:
        return None
    positions: set[int] = set()
    for part in drone_text.replace(",", "+").split("+"):
        if not part.strip().isdigit() or int(part) < 1:
            raise ScenarioError(
                f"{text!r}: drones must be 'all' or 1-based positions like 2 or 1+3, "
                f"got {drone_text!r}"
            )
        positions.add(int(part))
    return frozenset(positions)


def scenarios_for(position: int, specs: Iterable[ScenarioSpec]) -> tuple[Scenario, ...]:
    """Return the scenarios of the drone at ``position``, checked to compose."""
    chosen = tuple(s.scenario for s in specs if s.applies_to(position))
    check_composable(chosen, f"drone {position}")
    return chosen


def check_composable(scenarios: Sequence[Scenario], who: str) -> None:
    """Refuse combinations that make no sense on one drone."""
    for cls in _SINGLE_PER_DRONE:
        if sum(isinstance(s, cls) for s in scenarios) > 1:
            raise ScenarioError(f"{who}: {cls.name} given more than once")
    if any(isinstance(s, Intruder) for s in scenarios) and any(
        isinstance(s, SpoofedSysid) for s in scenarios
    ):
        raise ScenarioError(f"{who}: intruder and spoofed_sysid cannot be combined")


def first(scenarios: Iterable[Scenario], cls: type[Any]) -> Any:
    """Return the first scenario of class ``cls``, or None."""
    return next((s for s in scenarios if isinstance(s, cls)), None)
