"""What the MAVLink codec emits: typed telemetry in SI units with units in the names.

``codec.py`` converts MAVLink's raw integers (1e-7 deg, mm, cm/s, cdeg, mV, cA) once,
into these frozen values; nothing downstream sees a raw unit. Every message carries
the sender's ``sysid``/``compid`` and ``t_s``, the UTC epoch seconds at which the
gateway received the bytes (the ``now`` the codec was given), never the autopilot's
boot clock. A field that MAVLink marks "unknown" (UINT16_MAX, -1 ...) is ``None``.

``RawFrame`` is one valid MAVLink frame exactly as received, typed or not, for the
``.tlog`` recording and the incident evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

from telemetry.mavlink.condition_messages import ConditionMessage

MAV_MODE_FLAG_SAFETY_ARMED = 128


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One CRC-valid MAVLink frame, bytes as received (signature included)."""

    sysid: int
    compid: int
    msg_id: int
    t_s: float
    raw: bytes
    mavlink2: bool
    signed: bool
    """Carries a signature block; verified only when the sysid has a signing key."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    sysid: int
    compid: int
    t_s: float
    vehicle_type: int
    """``MAV_TYPE`` (2 = quadrotor, 6 = GCS ...)."""
    autopilot: int
    """``MAV_AUTOPILOT`` (3 = ArduPilot, 12 = PX4, 8 = invalid/not a vehicle)."""
    base_mode: int
    custom_mode: int
    system_status: int
    """``MAV_STATE`` (3 = standby, 4 = active, 5 = critical, 6 = emergency)."""

    @property
    def armed(self) -> bool:
        return bool(self.base_mode & MAV_MODE_FLAG_SAFETY_ARMED)


@dataclass(frozen=True, slots=True)
class GlobalPosition:
    """GLOBAL_POSITION_INT: the fused position the gateway checks conformance on."""

    sysid: int
    compid: int
    t_s: float
    time_boot_ms: int
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    rel_alt_m: float
    """Above the home position (take-off point), not above ground."""
    vn_mps: float
    ve_mps: float
    vd_mps: float
    """NED: positive down, as MAVLink sends it."""
    heading_deg: float | None


@dataclass(frozen=True, slots=True)
class GpsRaw:
    """GPS_RAW_INT: the receiver's own fix, for signal-quality records."""

    sysid: int
    compid: int
    t_s: float
    fix_type: int
    """``GPS_FIX_TYPE`` (0/1 no fix, 2 = 2D, 3 = 3D, 4 = DGPS, 5/6 = RTK)."""
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    eph_m: float | None
    """Horizontal dilution (HDOP), as MAVLink's ``eph`` / 100; None when unknown."""
    epv_m: float | None
    ground_speed_mps: float | None
    course_deg: float | None
    satellites: int | None


@dataclass(frozen=True, slots=True)
class SysStatus:
    sysid: int
    compid: int
    t_s: float
    battery_voltage_v: float | None
    battery_current_a: float | None
    battery_remaining_pct: int | None
    drop_rate_comm_pct: float
    errors_comm: int


@dataclass(frozen=True, slots=True)
class BatteryStatus:
    sysid: int
    compid: int
    t_s: float
    battery_id: int
    remaining_pct: int | None
    voltage_v: float | None
    """Sum of the reported cells."""
    current_a: float | None
    consumed_mah: int | None


@dataclass(frozen=True, slots=True)
class Attitude:
    sysid: int
    compid: int
    t_s: float
    roll_rad: float
    pitch_rad: float
    yaw_rad: float
    rollspeed_radps: float
    pitchspeed_radps: float
    yawspeed_radps: float


@dataclass(frozen=True, slots=True)
class VfrHud:
    sysid: int
    compid: int
    t_s: float
    airspeed_mps: float
    groundspeed_mps: float
    heading_deg: float
    throttle_pct: int
    alt_m: float
    climb_mps: float


@dataclass(frozen=True, slots=True)
class FenceStatus:
    """FENCE_STATUS: the autopilot's own fence; ``breach_status`` 1 is a breach."""

    sysid: int
    compid: int
    t_s: float
    breach_status: int
    breach_count: int
    breach_type: int
    """``FENCE_BREACH`` (0 none, 1 min alt, 2 max alt, 3 boundary)."""
    breach_time_ms: int


@dataclass(frozen=True, slots=True)
class StatusText:
    sysid: int
    compid: int
    t_s: float
    severity: int
    """``MAV_SEVERITY`` (0 emergency ... 7 debug)."""
    text: str


@dataclass(frozen=True, slots=True)
class SignatureRejected:
    """A CRC-valid frame refused because its sysid must sign (MAVLink 2 signing).

    Not emitted as telemetry and not recorded as a frame: a spoofed sysid must not
    move the vehicle. ``raw`` is kept as evidence for the incident.
    """

    sysid: int
    compid: int
    t_s: float
    reason: str
    """One of ``telemetry.mavlink.signing.REJECT_REASONS``: ``unsigned``,
    ``bad_signature``,
    ``replayed``, ``future_timestamp``, ``stale_timestamp``."""
    msg_id: int
    raw: bytes


Telemetry = (
    Heartbeat
    | GlobalPosition
    | GpsRaw
    | SysStatus
    | BatteryStatus
    | Attitude
    | VfrHud
    | FenceStatus
    | StatusText
    | ConditionMessage
)
"""Every typed message the codec emits (the test-condition ones in
``condition_messages.py``)."""
