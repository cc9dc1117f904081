"""The test-condition messages: second GNSS receiver, radio, wind, vibration, EKF.

What a trial record reads besides position and battery (issue 18 item 2, fields
and units in ``../shared/REFERENCE.md`` section 5): ``GPS2_RAW``, ``RADIO_STATUS``,
``WIND``, ``WIND_COV``, ``VIBRATION`` and ``EKF_STATUS_REPORT``, as frozen values in
SI units, and their conversions from pymavlink's messages (``CONDITION_CONVERTERS``,
merged into the codec's table). They arrive at 1-2 Hz, so these use the plain
dataclass constructors, not the codec's fast ones. Imports nothing of SkyBerth.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pymavlink.dialects.v20 import ardupilotmega as mavlink

_UINT16_MAX: Final = 65535
_UINT8_UNKNOWN: Final = 255
EKF_GPS_GLITCHING: Final = 32768
EKF_UNINITIALIZED: Final = 1024


@dataclass(frozen=True, slots=True)
class Gps2Raw:
    """GPS2_RAW: the second receiver's fix (same meaning as ``GpsRaw``)."""

    sysid: int
    compid: int
    t_s: float
    fix_type: int
    hdop: float | None
    """``eph`` / 100 (unitless dilution); None when unknown."""
    vdop: float | None
    satellites: int | None
    dgps_channels: int
    dgps_age_ms: int


@dataclass(frozen=True, slots=True)
class RadioStatus:
    """RADIO_STATUS: the telemetry radio's own link figures (SiK and alike).

    ``rssi``/``remote_rssi``/``noise``/``remote_noise`` are the radio's raw 0-254
    scale (None: 255, unknown); on SiK dBm is about ``rssi / 1.9 - 127``.
    ``rx_errors`` and ``fixed`` count since the radio booted."""

    sysid: int
    compid: int
    t_s: float
    rssi: int | None
    remote_rssi: int | None
    tx_buffer_pct: int
    noise: int | None
    remote_noise: int | None
    rx_errors: int
    fixed: int


@dataclass(frozen=True, slots=True)
class Wind:
    """WIND (ArduPilot) or WIND_COV: the autopilot's wind estimate.

    ``direction_deg`` is where the wind blows from; ``speed_z_mps`` positive up
    (WIND's convention; WIND_COV's NED ``wind_z`` is turned round)."""

    sysid: int
    compid: int
    t_s: float
    direction_deg: float
    speed_mps: float
    speed_z_mps: float


@dataclass(frozen=True, slots=True)
class Vibration:
    """VIBRATION: vibration levels (m/s/s) and accelerometer clipping counts."""

    sysid: int
    compid: int
    t_s: float
    vibration_x: float
    vibration_y: float
    vibration_z: float
    clipping: tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class EkfStatus:
    """EKF_STATUS_REPORT: the estimator's flags and variances (unitless ratios)."""

    sysid: int
    compid: int
    t_s: float
    flags: int
    velocity_variance: float
    pos_horiz_variance: float
    pos_vert_variance: float
    compass_variance: float
    terrain_alt_variance: float

    @property
    def gps_glitching(self) -> bool:
        """The EKF flags a GPS glitch."""
        return bool(self.flags & EKF_GPS_GLITCHING)


ConditionMessage = Gps2Raw | RadioStatus | Wind | Vibration | EkfStatus
"""Every test-condition message the codec emits."""


def _u8(value: int) -> int | None:
    return None if value == _UINT8_UNKNOWN else value


def _gps2_raw(m: Any, sysid: int, compid: int, t_s: float) -> Gps2Raw:
    eph, epv = m.eph, m.epv
    return Gps2Raw(
        sysid,
        compid,
        t_s,
        m.fix_type,
        None if eph == _UINT16_MAX else eph / 100,
        None if epv == _UINT16_MAX else epv / 100,
        _u8(m.satellites_visible),
        m.dgps_numch,
        m.dgps_age,
    )


def _radio_status(m: Any, sysid: int, compid: int, t_s: float) -> RadioStatus:
    return RadioStatus(
        sysid,
        compid,
        t_s,
        _u8(m.rssi),
        _u8(m.remrssi),
        m.txbuf,
        _u8(m.noise),
        _u8(m.remnoise),
        m.rxerrors,
        m.fixed,
    )


def _wind(m: Any, sysid: int, compid: int, t_s: float) -> Wind:
    return Wind(sysid, compid, t_s, m.direction % 360, m.speed, m.speed_z)


def _wind_cov(m: Any, sysid: int, compid: int, t_s: float) -> Wind | None:
    x, y, z = m.wind_x, m.wind_y, m.wind_z
    if x != x or y != y:  # NaN: unknown
        return None
    # NED components are where the air moves to; "from" is the opposite bearing.
    direction = math.degrees(math.atan2(-y, -x)) % 360
    return Wind(sysid, compid, t_s, direction, math.hypot(x, y), 0.0 if z != z else -z)


def _vibration(m: Any, sysid: int, compid: int, t_s: float) -> Vibration:
    return Vibration(
        sysid,
        compid,
        t_s,
        m.vibration_x,
        m.vibration_y,
        m.vibration_z,
        (m.clipping_0, m.clipping_1, m.clipping_2),
    )


def _ekf_status(m: Any, sysid: int, compid: int, t_s: float) -> EkfStatus:
    return EkfStatus(
        sysid,
        compid,
        t_s,
        m.flags,
        m.velocity_variance,
        m.pos_horiz_variance,
        m.pos_vert_variance,
        m.compass_variance,
        m.terrain_alt_variance,
    )


CONDITION_CONVERTERS: Final[
    Mapping[int, Callable[[Any, int, int, float], ConditionMessage | None]]
] = {
    mavlink.MAVLINK_MSG_ID_GPS2_RAW: _gps2_raw,
    mavlink.MAVLINK_MSG_ID_RADIO_STATUS: _radio_status,
    mavlink.MAVLINK_MSG_ID_WIND: _wind,
    mavlink.MAVLINK_MSG_ID_WIND_COV: _wind_cov,
    mavlink.MAVLINK_MSG_ID_VIBRATION: _vibration,
    mavlink.MAVLINK_MSG_ID_EKF_STATUS_REPORT: _ekf_status,
}
"""Message id -> conversion (None: nothing usable in it, e.g. WIND_COV all NaN)."""
