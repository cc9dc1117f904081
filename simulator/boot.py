"""What an autopilot says before its first GPS fix, and a ground station's heartbeat.

A real ArduPilot is heard well before it knows where it is: heartbeats, its boot
messages (STATUSTEXT: firmware, frame, "waiting for fix"), the whole parameter
table (PARAM_VALUE, a few hundred of them, as a ground station downloads it) and
GPS_RAW_INT with no fix; its first position comes seconds later. ``BootChatter``
says which of those frames are due at a simulated time; the drone sends them with
its usual streams. ``GroundStationBeat`` is the heartbeat of a pilot's ground
station (system 255, ``MAV_TYPE_GCS``, autopilot invalid) sharing the link, as
MAVProxy or Mission Planner send it: not a vehicle, though it sends heartbeats.

Pure: times are simulated seconds since the start of the run.
"""

from __future__ import annotations

from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from simulator.mavlink_out import Sample

GCS_SYSID = 255
GCS_COMPID = mavlink.MAV_COMP_ID_MISSIONPLANNER
GCS_HEARTBEAT_PERIOD_S = 1.0
WAITING_TEXT_PERIOD_S = 1.0
"""ArduPilot repeats its pre-arm complaint about once a second."""

BOOT_TEXTS = (
    "ArduCopter V4.7.0-dev (simulated)",
    "ChibiOS: skyberth-sim",
    "Frame: QUAD/X",
    "EKF3 IMU0 initialised",
    "EKF3 IMU1 initialised",
)
WAITING_TEXT = "PreArm: GPS 1: Bad fix"
FIX_TEXT = "EKF3 IMU0 is using GPS"
_PARAM_GROUPS = (
    "ATC_RAT_RLL",
    "ATC_RAT_PIT",
    "ATC_RAT_YAW",
    "BATT",
    "COMPASS",
    "EK3",
    "FENCE",
    "GPS",
    "INS",
    "LOG",
    "MOT",
    "PSC",
    "RC1",
    "RC2",
    "RC3",
    "RC4",
    "SERVO1",
    "SERVO2",
    "SERVO3",
    "SERVO4",
    "WPNAV",
)


def param_name(index: int) -> str:
    """Return the name of parameter ``index``: ArduPilot-like, at most 16 chars."""
    group = _PARAM_GROUPS[index % len(_PARAM_GROUPS)]
    return f"{group}_P{index // len(_PARAM_GROUPS):02d}"[:16]


class BootChatter:
    """The frames of one autopilot before its first fix (``fix_at_s`` from the start).

    The parameter table (``params`` entries) goes out evenly over the first half of
    the period, as a download does; boot texts at the start, "waiting for fix" once
    a second, and "using GPS" at the fix.
    """

    def __init__(self, fix_at_s: float, params: int) -> None:
        self.fix_at_s = fix_at_s
        self.params = params
        self._params_sent = 0
        self._boot_sent = False
        self._next_waiting_s = 0.0
        self._fix_said = False

    def before_fix(self, t_s: float) -> bool:
        """Return True while the autopilot has no fix at ``t_s``."""
        return t_s < self.fix_at_s

    def due(self, t_s: float) -> list[Any]:
        """Return the boot messages due at ``t_s`` (each is sent once)."""
        out: list[Any] = []
        if not self._boot_sent:
            self._boot_sent = True
            out += [_text(mavlink.MAV_SEVERITY_INFO, text) for text in BOOT_TEXTS]
        if self.before_fix(t_s):
            if t_s >= self._next_waiting_s:
                self._next_waiting_s = t_s + WAITING_TEXT_PERIOD_S
                out.append(_text(mavlink.MAV_SEVERITY_CRITICAL, WAITING_TEXT))
            download_s = self.fix_at_s / 2.0
            share = 1.0 if download_s <= 0 else min(1.0, t_s / download_s)
            until = min(self.params, max(1, round(self.params * share)))
            while self._params_sent < until:
                out.append(self._param(self._params_sent))
                self._params_sent += 1
        elif not self._fix_said:
            self._fix_said = True
            out.append(_text(mavlink.MAV_SEVERITY_INFO, FIX_TEXT))
        return out

    def _param(self, index: int) -> Any:
        return mavlink.MAVLink_param_value_message(
            param_name(index).encode("ascii"),
            float(index % 97) / 4.0,
            mavlink.MAV_PARAM_TYPE_REAL32,
            self.params,
            index,
        )


def _text(severity: int, text: str) -> Any:
    return mavlink.MAVLink_statustext_message(severity, text.encode("ascii")[:50])


def no_fix(s: Sample) -> Any:
    """Return GPS_RAW_INT as a receiver without a fix sends it (no position)."""
    return mavlink.MAVLink_gps_raw_int_message(
        s.time_boot_ms * 1000,
        mavlink.GPS_FIX_TYPE_NO_FIX,
        0,
        0,
        0,
        9999,
        9999,
        0,
        0,
        0,
    )


class GroundStationBeat:
    """A ground station's heartbeat at 1 Hz (system 255, not a vehicle)."""

    def __init__(self) -> None:
        self._next_s = 0.0

    def due(self, t_s: float) -> list[Any]:
        """Return the heartbeat due at ``t_s``, if any."""
        if t_s < self._next_s:
            return []
        self._next_s = t_s + GCS_HEARTBEAT_PERIOD_S
        return [
            mavlink.MAVLink_heartbeat_message(
                mavlink.MAV_TYPE_GCS,
                mavlink.MAV_AUTOPILOT_INVALID,
                0,
                0,
                mavlink.MAV_STATE_ACTIVE,
                3,
            )
        ]
