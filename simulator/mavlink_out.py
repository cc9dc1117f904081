"""What a simulated autopilot says: one telemetry sample in SI units, as MAVLink.

``Sample`` holds a vehicle's telemetry with the units in the names; the builders
here convert it, in one place, to MAVLink's integers (1e-7 degrees, millimetres,
cm/s, centidegrees, millivolts, centiamperes). ``Encoder`` packs messages for one
vehicle with pymavlink's generated ``MAVLink`` class: MAVLink 2 unless asked for
MAVLink 1, its own sequence numbers, and MAVLink 2 signing when it has a key
(timestamps from the wall clock, as the signing spec wants, however fast the
simulation runs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

SIGNING_EPOCH_S = 1_420_070_400
"""The MAVLink signing clock starts on 2015-01-01 00:00:00 UTC."""

STREAM_RATES_HZ: dict[str, float] = {
    "HEARTBEAT": 1.0,
    "SYS_STATUS": 1.0,
    "BATTERY_STATUS": 1.0,
    "GPS_RAW_INT": 2.0,
    "VFR_HUD": 2.0,
    "ATTITUDE": 4.0,
    "FENCE_STATUS": 1.0,
    "RADIO_STATUS": 1.0,
    "WIND": 1.0,
}
"""Rates of every stream but GLOBAL_POSITION_INT (``--rate-hz``, default 10);
FENCE_STATUS only once a fence is uploaded; RADIO_STATUS and WIND only with the
``degraded_signal`` scenario (the test-condition script)."""

SENSORS = (
    mavlink.MAV_SYS_STATUS_SENSOR_3D_GYRO
    | mavlink.MAV_SYS_STATUS_SENSOR_3D_ACCEL
    | mavlink.MAV_SYS_STATUS_SENSOR_3D_MAG
    | mavlink.MAV_SYS_STATUS_SENSOR_ABSOLUTE_PRESSURE
    | mavlink.MAV_SYS_STATUS_SENSOR_GPS
    | mavlink.MAV_SYS_STATUS_SENSOR_ANGULAR_RATE_CONTROL
    | mavlink.MAV_SYS_STATUS_SENSOR_ATTITUDE_STABILIZATION
    | mavlink.MAV_SYS_STATUS_SENSOR_Z_ALTITUDE_CONTROL
    | mavlink.MAV_SYS_STATUS_SENSOR_XY_POSITION_CONTROL
    | mavlink.MAV_SYS_STATUS_SENSOR_MOTOR_OUTPUTS
    | mavlink.MAV_SYS_STATUS_SENSOR_BATTERY
)
CELLS = 4
UINT16_MAX = 65535
INT16_MAX = 32767


@dataclass(frozen=True)
class Battery:
    """A battery reading."""

    voltage_v: float
    current_a: float
    remaining_pct: float
    consumed_mah: float
    consumed_j: float
    time_remaining_s: float
    charge_state: int
    """``MAV_BATTERY_CHARGE_STATE``: 1 OK, 2 low, 3 critical."""


@dataclass(frozen=True)
class Sample:
    """One vehicle's telemetry at one instant (WGS84, metres AMSL, NED speeds)."""

    time_boot_ms: int
    lat_deg: float
    lon_deg: float
    alt_m: float
    relative_alt_m: float
    vn_mps: float
    ve_mps: float
    vd_mps: float
    heading_deg: float
    course_deg: float
    ground_speed_mps: float
    airspeed_mps: float
    roll_rad: float
    pitch_rad: float
    yaw_rate_rad_s: float
    throttle_pct: float
    armed: bool
    custom_mode: int
    system_status: int
    """``MAV_STATE``: 3 standby, 4 active, 5 critical."""
    battery: Battery


def _deg_e7(value_deg: float) -> int:
    return round(value_deg * 1e7)


def _clamp_int(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


def _cdeg(value_deg: float) -> int:
    return round((value_deg % 360.0) * 100.0) % 36000


def heartbeat(s: Sample) -> Any:
    """Return HEARTBEAT: a quadrotor running ArduPilot, armed flag in base_mode."""
    base_mode = mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
    if s.armed:
        base_mode |= (
            mavlink.MAV_MODE_FLAG_SAFETY_ARMED
            | mavlink.MAV_MODE_FLAG_STABILIZE_ENABLED
            | mavlink.MAV_MODE_FLAG_GUIDED_ENABLED
        )
    return mavlink.MAVLink_heartbeat_message(
        mavlink.MAV_TYPE_QUADROTOR,
        mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA,
        base_mode,
        s.custom_mode,
        s.system_status,
        3,
    )


def global_position_int(s: Sample) -> Any:
    """Return GLOBAL_POSITION_INT (1e-7 deg, mm AMSL / above home, cm/s NED, cdeg)."""
    return mavlink.MAVLink_global_position_int_message(
        s.time_boot_ms,
        _deg_e7(s.lat_deg),
        _deg_e7(s.lon_deg),
        round(s.alt_m * 1000.0),
        round(s.relative_alt_m * 1000.0),
        _clamp_int(s.vn_mps * 100.0, -INT16_MAX, INT16_MAX),
        _clamp_int(s.ve_mps * 100.0, -INT16_MAX, INT16_MAX),
        _clamp_int(s.vd_mps * 100.0, -INT16_MAX, INT16_MAX),
        _cdeg(s.heading_deg),
    )


def gps_raw_int(s: Sample, hdop: float = 0.8, satellites: int = 14) -> Any:
    """Return GPS_RAW_INT: a 3-D fix, healthy by default (HDOP 0.8, 14 satellites);
    VDOP is 1.5 times the HDOP."""
    return mavlink.MAVLink_gps_raw_int_message(
        s.time_boot_ms * 1000,
        mavlink.GPS_FIX_TYPE_3D_FIX,
        _deg_e7(s.lat_deg),
        _deg_e7(s.lon_deg),
        round(s.alt_m * 1000.0),
        _clamp_int(hdop * 100.0, 0, UINT16_MAX - 1),
        _clamp_int(hdop * 150.0, 0, UINT16_MAX - 1),
        _clamp_int(s.ground_speed_mps * 100.0, 0, UINT16_MAX - 1),
        _cdeg(s.course_deg),
        satellites,
        round(s.alt_m * 1000.0),
        800,
        1200,
        150,
        0,
        0,
    )


def attitude(s: Sample) -> Any:
    """Return ATTITUDE (radians, yaw in [-pi, pi))."""
    yaw = math.remainder(math.radians(s.heading_deg), math.tau)
    return mavlink.MAVLink_attitude_message(
        s.time_boot_ms, s.roll_rad, s.pitch_rad, yaw, 0.0, 0.0, s.yaw_rate_rad_s
    )


def vfr_hud(s: Sample) -> Any:
    """Return VFR_HUD (m/s, heading in whole degrees, altitude AMSL)."""
    return mavlink.MAVLink_vfr_hud_message(
        s.airspeed_mps,
        s.ground_speed_mps,
        round(s.heading_deg) % 360,
        _clamp_int(s.throttle_pct, 0, 100),
        s.alt_m,
        -s.vd_mps,
    )


def sys_status(s: Sample) -> Any:
    """Return SYS_STATUS with the battery in mV, cA and percent."""
    b = s.battery
    return mavlink.MAVLink_sys_status_message(
        SENSORS,
        SENSORS,
        SENSORS,
        250,
        _clamp_int(b.voltage_v * 1000.0, 0, UINT16_MAX - 1),
        _clamp_int(b.current_a * 100.0, 0, INT16_MAX),
        _clamp_int(b.remaining_pct, 0, 100),
        0,
        0,
        0,
        0,
        0,
        0,
    )


def battery_status(s: Sample) -> Any:
    """Return BATTERY_STATUS: a 4-cell LiPo, cell voltages in mV."""
    b = s.battery
    cell_mv = _clamp_int(b.voltage_v / CELLS * 1000.0, 0, UINT16_MAX - 1)
    voltages = [cell_mv] * CELLS + [UINT16_MAX] * (10 - CELLS)
    return mavlink.MAVLink_battery_status_message(
        0,
        mavlink.MAV_BATTERY_FUNCTION_ALL,
        mavlink.MAV_BATTERY_TYPE_LIPO,
        2500,
        voltages,
        _clamp_int(b.current_a * 100.0, 0, INT16_MAX),
        round(b.consumed_mah),
        round(b.consumed_j / 100.0),
        _clamp_int(b.remaining_pct, 0, 100),
        _clamp_int(b.time_remaining_s, 0, 2**31 - 1),
        b.charge_state,
        [0, 0, 0, 0],
        0,
        0,
    )


def fence_status(breached: bool, breach_count: int, breach_time_ms: int) -> Any:
    """Return FENCE_STATUS; a breach is reported as a boundary breach."""
    return mavlink.MAVLink_fence_status_message(
        1 if breached else 0,
        min(breach_count, UINT16_MAX),
        mavlink.FENCE_BREACH_BOUNDARY if breached else mavlink.FENCE_BREACH_NONE,
        breach_time_ms & 0xFFFFFFFF,
        0,
    )


def radio_status(rssi: int, noise: int = 30) -> Any:
    """Return RADIO_STATUS as a SiK radio reports it (raw 0-254 scale, both ends
    alike, no errors)."""
    return mavlink.MAVLink_radio_status_message(rssi, rssi, 100, noise, noise, 0, 0)


def wind(speed_mps: float, from_deg: float) -> Any:
    """Return ArduPilot's WIND: ``from_deg`` where it blows from, no vertical."""
    return mavlink.MAVLink_wind_message(from_deg, speed_mps, 0.0)


STREAM_BUILDERS = {
    "HEARTBEAT": heartbeat,
    "SYS_STATUS": sys_status,
    "BATTERY_STATUS": battery_status,
    "GPS_RAW_INT": gps_raw_int,
    "VFR_HUD": vfr_hud,
    "ATTITUDE": attitude,
}
"""The fixed-rate streams built from a ``Sample`` (GLOBAL_POSITION_INT apart)."""


class Encoder:
    """Packs messages as one vehicle (system id, component id, sequence, signing)."""

    def __init__(
        self,
        sysid: int,
        compid: int = 1,
        signing_key: bytes | None = None,
        link_id: int = 0,
        mavlink1: bool = False,
    ) -> None:
        if not 1 <= sysid <= 255:
            raise ValueError(f"MAVLink system id must be 1-255, got {sysid}")
        if signing_key is not None:
            if mavlink1:
                raise ValueError("MAVLink 1 cannot be signed (signing is MAVLink 2)")
            if len(signing_key) != 32:
                raise ValueError("a MAVLink signing key is 32 bytes")
        self.sysid = sysid
        self.compid = compid
        self.mavlink1 = mavlink1
        self.signed = signing_key is not None
        self._mav = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=compid)
        if signing_key is not None:
            self._mav.signing.secret_key = signing_key
            self._mav.signing.sign_outgoing = True
            self._mav.signing.link_id = link_id & 0xFF

    def encode(self, msg: Any, wall_s: float) -> bytes:
        """Return ``msg`` packed as the next frame of this vehicle.

        ``wall_s`` is the current UTC epoch time: signed frames carry it (in 10 us
        units since 2015), never going backwards.
        """
        if self.signed:
            stamp = int((wall_s - SIGNING_EPOCH_S) * 100_000)
            self._mav.signing.timestamp = max(self._mav.signing.timestamp, stamp)
        frame: bytes = msg.pack(self._mav, force_mavlink1=self.mavlink1)
        self._mav.seq = (self._mav.seq + 1) % 256
        return frame
