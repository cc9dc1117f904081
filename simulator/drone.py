"""One simulated drone: autopilot, scenarios, telemetry streams, and its answers.

A ``DroneSpec`` says everything about a drone before it flies (identity as sent,
plan, scenarios, signing key); ``SimDrone`` flies it. Each tick the fleet calls
``advance`` (physics, take-off time, scenario triggers, battery failsafe), then
``schedule`` for the messages due, ``fixes`` for the positions to project to lon/lat
(one batch for the whole fleet), then ``emit`` for the frames. GNSS noise is a
seeded random walk of at most ``gnss_noise_m``; a GPS glitch replaces exactly one
GLOBAL_POSITION_INT. With ``pre_fix`` it first talks as an autopilot without a
fix does (``simulator.boot``): no position, and no take-off, until the fix.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from typing import Any

from airspace.projection import SiteProjection
from airspace.site import Corridor, Site
from simulator import mavlink_out
from simulator.battery import BatteryGauge
from simulator.boot import BootChatter, no_fix
from simulator.excursions import bust_altitude_m, drift_target
from simulator.flight import ARDUCOPTER_MODE, FlightController, FlightMode
from simulator.kinematics import Limits, Wind
from simulator.mavlink_in import VehicleResponder, faults_of, targets
from simulator.mavlink_out import STREAM_BUILDERS, STREAM_RATES_HZ, Sample
from simulator.routes import FlightPlan
from simulator.scenarios import (
    AltitudeBust,
    DegradedSignal,
    FenceRtl,
    GpsGlitch,
    LateralDrift,
    LinkLoss,
    LowBattery,
    PreFix,
    Scenario,
    SpoofedSysid,
    first,
)

GRAVITY_MPS2 = 9.80665
DEFAULT_FAILSAFE_PCT = 10.0
MAV_STATE_STANDBY, MAV_STATE_ACTIVE, MAV_STATE_CRITICAL = 3, 4, 5
TURNAROUND_S = 10.0
"""Seconds on the pad between flights when flights repeat."""
POSITION = "GLOBAL_POSITION_INT"


@dataclass(frozen=True)
class DroneSpec:
    """A drone as it will fly: ``sysid`` and ``signing_key`` as it sends them."""

    label: str
    sysid: int
    plan: FlightPlan
    corridor: Corridor | None
    takeoff_at_s: float = 0.0
    takeoff_until_s: float | None = None
    """No take-off (first or repeated) from this time on: the booking is over."""
    scenarios: tuple[Scenario, ...] = ()
    signing_key: bytes | None = None
    registered_sysid: int | None = None
    """The drone's own system id when it flies under another (intruder, spoofer)."""
    limits: Limits = field(default_factory=Limits)
    cruise_speed_mps: float = 10.0

    @property
    def spoofer(self) -> bool:
        """Return True when this drone sends under a signing drone's system id."""
        return any(isinstance(s, SpoofedSysid) for s in self.scenarios)


@dataclass
class _Stream:
    period_s: float
    due_s: float


class SimDrone:
    """A drone flying its spec; see the module docstring for the call order."""

    def __init__(
        self,
        spec: DroneSpec,
        site: Site,
        *,
        seed: int,
        phase: float,
        mavlink1: bool = False,
        gnss_noise_m: float = 0.5,
        wind: Wind | None = None,
        repeat: bool = False,
        link_id: int = 0,
    ) -> None:
        self.spec = spec
        self.site = site
        self.projection: SiteProjection = site.projection
        self.encoder = mavlink_out.Encoder(
            spec.sysid, 1, spec.signing_key, link_id=link_id, mavlink1=mavlink1
        )
        self.wind = wind or Wind()
        self.repeat = repeat
        self.gnss_noise_m = gnss_noise_m
        self._rng = random.Random(seed)
        self._low_battery: LowBattery | None = first(spec.scenarios, LowBattery)
        self._signal: DegradedSignal | None = first(spec.scenarios, DegradedSignal)
        pre_fix: PreFix | None = first(spec.scenarios, PreFix)
        self.boot = (
            None if pre_fix is None else BootChatter(pre_fix.duration_s, pre_fix.params)
        )
        self.flights = 0
        self.controller = self._new_flight()
        self.responder = VehicleResponder(self.controller, faults_of(spec.scenarios))
        self._takeoff_at_s = spec.takeoff_at_s
        self._until_s = (
            math.inf if spec.takeoff_until_s is None else spec.takeoff_until_s
        )
        self._takeoff_t_s: float | None = None
        self._landed_at_s: float | None = None
        self._triggers: list[Scenario] = []
        self._pending_glitches: list[GpsGlitch] = []
        self.glitched_samples = 0
        self._noise = [0.0, 0.0, 0.0]
        self._gauge = BatteryGauge()
        self.failsafe = False
        self._fence_breaches = 0
        self._fence_breached_at_ms = 0
        self._fence_was_breached = False
        self._obeys_fence = first(spec.scenarios, FenceRtl) is not None
        self._streams = {
            name: _Stream(1.0 / rate, (phase % 1.0) / rate)
            for name, rate in STREAM_RATES_HZ.items()
        }

    # --- state others read ------------------------------------------------------

    @property
    def sysid(self) -> int:
        """Return the system id this drone sends under."""
        return self.spec.sysid

    @property
    def flying(self) -> bool:
        """Return True while armed."""
        return self.controller.armed

    def done(self, t_s: float) -> bool:
        """Return True once landed for good: flights do not repeat, or no further
        take-off is allowed (the booking is over)."""
        mode = self.controller.mode
        if mode is FlightMode.LANDED:
            return not self.repeat or t_s >= self._until_s
        return mode is FlightMode.WAITING and t_s >= self._until_s

    def since_takeoff_s(self, t_s: float) -> float | None:
        """Return seconds since this flight's take-off, None before it."""
        return None if self._takeoff_t_s is None else t_s - self._takeoff_t_s

    def before_fix(self, t_s: float) -> bool:
        """Return True while a pre_fix scenario keeps this drone without a fix."""
        return self.boot is not None and self.boot.before_fix(t_s)

    def silent(self, t_s: float) -> bool:
        """Return True while a link_loss scenario keeps this drone quiet."""
        since = self.since_takeoff_s(t_s)
        if since is None:
            return False
        return any(
            isinstance(s, LinkLoss) and s.at_s <= since < s.at_s + s.duration_s
            for s in self.spec.scenarios
        )

    # --- time ---------------------------------------------------------------------

    def _new_flight(
        self, start_xy: tuple[float, float] | None = None
    ) -> FlightController:
        limits = self.spec.limits
        energy = None
        if self._low_battery is not None:
            # A battery that drains drain_x times faster is one drain_x times smaller.
            limits = replace(
                limits,
                battery_capacity_wh=limits.battery_capacity_wh
                / self._low_battery.drain_x,
            )
            energy = limits.battery_capacity_wh * self._low_battery.start_pct / 100.0
        return FlightController(
            self.spec.plan,
            limits,
            self.wind,
            self.spec.cruise_speed_mps,
            energy,
            start_xy,
        )

    def advance(self, t_s: float, dt_s: float) -> None:
        """Fly from ``t_s`` to ``t_s + dt_s`` (simulated seconds since the start)."""
        ctl = self.controller
        if (
            ctl.mode is FlightMode.WAITING
            and self._takeoff_at_s <= t_s < self._until_s
            and not self.before_fix(t_s)
        ):
            ctl.take_off()
            self.flights += 1
            self._takeoff_t_s = t_s
            self._triggers = sorted(
                (
                    s
                    for s in self.spec.scenarios
                    if isinstance(s, LateralDrift | AltitudeBust | GpsGlitch)
                ),
                key=lambda s: float(getattr(s, "at_s", 0.0)),
            )
        elif ctl.mode is FlightMode.LANDED and self.repeat:
            if self._landed_at_s is None:
                self._landed_at_s = t_s
            elif TURNAROUND_S <= t_s - self._landed_at_s and t_s < self._until_s:
                self._restart(t_s)
                return
        self._fire_triggers(t_s)
        self._check_battery()
        self._obey_fence()
        self._gauge.add(ctl.state, ctl.limits, ctl.armed, dt_s)
        ctl.step(dt_s)

    def _restart(self, t_s: float) -> None:
        # The next flight starts where the last one ended (a land command may
        # have put it down away from its pad), on a charged battery.
        s = self.controller.state
        self.controller = self._new_flight((s.x_m, s.y_m))
        self.responder.autopilot = self.controller
        self._landed_at_s = None
        self._takeoff_at_s = t_s
        self._gauge = BatteryGauge()
        self.failsafe = False

    def _fire_triggers(self, t_s: float) -> None:
        since = self.since_takeoff_s(t_s)
        ctl = self.controller
        if since is None or not self._triggers:
            return
        scenario = self._triggers[0]
        if since < float(getattr(scenario, "at_s", 0.0)):
            return
        if not ctl.on_corridor_leg or ctl.deviating or self.spec.corridor is None:
            return
        self._triggers.pop(0)
        s = ctl.state
        match scenario:
            case LateralDrift():
                target = drift_target(
                    self.site,
                    self.spec.corridor,
                    s.x_m,
                    s.y_m,
                    s.alt_m,
                    scenario.overshoot_m,
                    (self.spec.plan.takeoff_xy, self.spec.plan.landing_xy),
                )
                ctl.deviate(target, scenario.speed_mps, scenario.hold_s)
            case AltitudeBust():
                alt = bust_altitude_m(self.spec.corridor, scenario.overshoot_m)
                ctl.bust_altitude(alt, scenario.hold_s)
            case GpsGlitch():
                self._pending_glitches.append(scenario)

    def _check_battery(self) -> None:
        ctl = self.controller
        failsafe_pct = (
            self._low_battery.failsafe_pct
            if self._low_battery is not None
            else DEFAULT_FAILSAFE_PCT
        )
        if (
            not self.failsafe
            and ctl.armed
            and ctl.battery_fraction * 100.0 <= failsafe_pct
        ):
            self.failsafe = True
            if ctl.mode not in (FlightMode.RTL, FlightMode.LAND):
                ctl.return_to_launch()

    def _obey_fence(self) -> None:
        # FENCE_ACTION 1 (RTL): a breach in the air sends the drone home; one
        # already returning or landing is left alone, as ArduPilot does.
        fence = self.responder.fence
        ctl = self.controller
        if (
            not self._obeys_fence
            or fence is None
            or not ctl.armed
            or ctl.mode in (FlightMode.RTL, FlightMode.LAND)
        ):
            return
        if fence.breached(self.projection, ctl.state.x_m, ctl.state.y_m):
            ctl.return_to_launch()

    # --- telemetry ------------------------------------------------------------------

    def schedule(self, t_s: float, position_due: bool) -> list[str]:
        """Return the names of the messages due at ``t_s`` (none while silent).

        Every stream's schedule moves on even while silent, so telemetry comes
        back at its usual rate, not in a burst.
        """
        due = [name for name, st in self._streams.items() if t_s >= st.due_s - 1e-9]
        for name in due:
            st = self._streams[name]
            st.due_s = max(st.due_s + st.period_s, t_s)
        if self.silent(t_s):
            return []
        if "FENCE_STATUS" in due and self.responder.fence is None:
            due.remove("FENCE_STATUS")
        if self._signal is None:
            due = [n for n in due if n not in ("RADIO_STATUS", "WIND")]
        if self.before_fix(t_s):
            return due  # GPS_RAW_INT says "no fix"; no position to send
        return [POSITION, *due] if position_due else due

    def fixes(self, names: list[str]) -> list[tuple[float, float]]:
        """Return the site-metre points to project for the messages ``names``.

        The first is the (noisy) GNSS fix; a second one is the glitched fix when
        this GLOBAL_POSITION_INT is the wild one.
        """
        s = self.controller.state
        position_due = POSITION in names
        if position_due:
            self._walk_noise()
        points = [(s.x_m + self._noise[0], s.y_m + self._noise[1])]
        if position_due and self._pending_glitches:
            glitch = self._pending_glitches[0]
            angle = self._rng.uniform(0.0, math.tau)
            points.append(
                (
                    points[0][0] + glitch.offset_m * math.sin(angle),
                    points[0][1] + glitch.offset_m * math.cos(angle),
                )
            )
        return points

    def _walk_noise(self) -> None:
        if self.gnss_noise_m <= 0:
            return
        step = self.gnss_noise_m * 0.1
        for axis in range(3):
            limit = self.gnss_noise_m * (2.0 if axis == 2 else 1.0)
            moved = self._noise[axis] + self._rng.gauss(0.0, step)
            self._noise[axis] = min(max(moved, -limit), limit)

    def emit(
        self,
        t_s: float,
        wall_s: float,
        names: list[str],
        lonlats: list[tuple[float, float]],
    ) -> list[bytes]:
        """Return the frames of ``names``; ``lonlats`` are the projected ``fixes``."""
        sample = self._sample(t_s, lonlats[0])
        messages: list[Any] = []
        for name in names:
            if name == POSITION:
                if len(lonlats) > 1:
                    self._pending_glitches.pop(0)
                    self.glitched_samples += 1
                    wild = replace(sample, lon_deg=lonlats[1][0], lat_deg=lonlats[1][1])
                    messages.append(mavlink_out.global_position_int(wild))
                else:
                    messages.append(mavlink_out.global_position_int(sample))
            elif name == "GPS_RAW_INT" and self.before_fix(t_s):
                messages.append(no_fix(sample))
            elif name == "FENCE_STATUS":
                messages.append(self._fence_status(sample.time_boot_ms))
            elif name in ("GPS_RAW_INT", "RADIO_STATUS", "WIND") and self._signal:
                messages.append(self._condition(name, sample, t_s))
            else:
                messages.append(STREAM_BUILDERS[name](sample))
        return [self.encoder.encode(m, wall_s) for m in messages]

    def _condition(self, name: str, sample: Sample, t_s: float) -> Any:
        """GPS_RAW_INT, RADIO_STATUS or WIND as the ``degraded_signal`` script says."""
        script = self._signal
        bad = script is not None and script.active(self.since_takeoff_s(t_s))
        if name == "WIND":
            east, north = self.wind.east_mps, self.wind.north_mps
            from_deg = math.degrees(math.atan2(-east, -north)) % 360.0
            return mavlink_out.wind(math.hypot(east, north), from_deg)
        if name == "RADIO_STATUS":
            return mavlink_out.radio_status(script.rssi if bad and script else 200)
        if bad and script is not None:
            return mavlink_out.gps_raw_int(sample, script.hdop, script.satellites)
        return mavlink_out.gps_raw_int(sample)

    def _fence_status(self, time_boot_ms: int) -> Any:
        fence = self.responder.fence
        s = self.controller.state
        breached = fence is not None and fence.breached(self.projection, s.x_m, s.y_m)
        if breached and not self._fence_was_breached:
            self._fence_breaches += 1
            self._fence_breached_at_ms = time_boot_ms
        self._fence_was_breached = breached
        return mavlink_out.fence_status(
            breached, self._fence_breaches, self._fence_breached_at_ms
        )

    def _sample(self, t_s: float, lonlat: tuple[float, float]) -> Sample:
        ctl = self.controller
        s = ctl.state
        armed = ctl.armed
        turn_rad_s = math.radians(s.turn_rate_dps)
        battery = self._gauge.reading(s, ctl.limits, armed, self.failsafe)
        status = MAV_STATE_ACTIVE if armed else MAV_STATE_STANDBY
        if self.failsafe:
            status = MAV_STATE_CRITICAL
        alt_m = s.alt_m + self._noise[2]
        return Sample(
            time_boot_ms=round(t_s * 1000.0),
            lat_deg=lonlat[1],
            lon_deg=lonlat[0],
            alt_m=alt_m,
            relative_alt_m=alt_m - ctl.plan.ground_alt_m,
            vn_mps=s.ground_north_mps,
            ve_mps=s.ground_east_mps,
            vd_mps=-s.vz_mps,
            heading_deg=s.heading_deg,
            course_deg=s.course_deg,
            ground_speed_mps=s.ground_speed_mps,
            airspeed_mps=s.speed_mps,
            roll_rad=math.atan(s.speed_mps * turn_rad_s / GRAVITY_MPS2),
            pitch_rad=-math.atan((s.accel_mps2 + 0.2 * s.speed_mps) / GRAVITY_MPS2)
            if armed
            else 0.0,
            yaw_rate_rad_s=turn_rad_s,
            throttle_pct=(45.0 + 3.0 * s.vz_mps + 0.8 * s.speed_mps) if armed else 0.0,
            armed=armed,
            custom_mode=ARDUCOPTER_MODE[ctl.mode],
            system_status=status,
            battery=battery,
        )

    # --- what comes in ----------------------------------------------------------------

    def wants(self, msg: Any) -> bool:
        """Return True when ``msg`` is for this drone (spoofers answer nothing)."""
        return not self.spec.spoofer and targets(msg, self.sysid, self.encoder.compid)

    def receive(self, msg: Any, t_s: float, wall_s: float) -> list[bytes]:
        """Return the frames answering ``msg`` (which ``wants`` accepted)."""
        replies = self.responder.handle(msg, t_s)
        return [self.encoder.encode(m, wall_s) for m in replies]

    def poll(self, t_s: float, wall_s: float) -> list[bytes]:
        """Return frames due now outside the streams: boot messages before the fix
        (pre_fix), and what a stalled transfer needs (a retry or a cancel)."""
        messages = [] if self.boot is None or self.silent(t_s) else self.boot.due(t_s)
        messages += self.responder.poll(t_s)
        return [self.encoder.encode(m, wall_s) for m in messages]
