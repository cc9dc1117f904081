"""A flight's raw material: one sample per fused position, read from a recording.

``samples_from_records`` decodes a ``.tlog`` (or any time-stamped raw frames)
with the gateway's own codec (``telemetry.mavlink.codec.LinkCodec``) and folds
each vehicle's messages into :class:`FlightSample`: the position and velocity of
``GLOBAL_POSITION_INT`` with the newest arming state (``HEARTBEAT``) and battery
(``SYS_STATUS`` / ``BATTERY_STATUS``) seen before it. Pure: records in, samples
out; the caller opens the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from telemetry.mavlink.codec import LinkCodec
from telemetry.mavlink.condition_messages import ConditionMessage
from telemetry.mavlink.messages import (
    BatteryStatus,
    GlobalPosition,
    GpsRaw,
    Heartbeat,
    SysStatus,
)
from telemetry.mavlink.tlog import Record

MAV_AUTOPILOT_INVALID = 8
"""A heartbeat with this autopilot is a ground station's, not the vehicle's."""


@dataclass(frozen=True, slots=True)
class FlightSample:
    """One fused position of one vehicle with the state known at that moment."""

    sysid: int
    t_s: float
    """UTC epoch seconds at which the gateway received the position."""
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    rel_alt_m: float
    """Above home (the take-off point)."""
    ground_speed_mps: float
    climb_mps: float
    """Positive up (MAVLink's ``vz`` is positive down)."""
    armed: bool
    battery_pct: float | None
    consumed_mah: float | None
    """``BATTERY_STATUS.current_consumed`` since boot; None when not reported."""


@dataclass(slots=True)
class VehicleRecording:
    """One vehicle's part of a recording: its positions and its test-condition
    messages (``GPS_RAW_INT`` and those of ``condition_messages``), time order."""

    positions: list[FlightSample] = field(default_factory=list)
    conditions: list[GpsRaw | ConditionMessage] = field(default_factory=list)


@dataclass(slots=True)
class _Known:
    armed: bool = False
    battery_pct: float | None = None
    consumed_mah: float | None = None


def samples_from_records(records: Iterable[Record]) -> dict[int, list[FlightSample]]:
    """Return each vehicle's position samples (by sysid); see ``read_recording``."""
    return {k: v.positions for k, v in read_recording(records).items() if v.positions}


def read_recording(records: Iterable[Record]) -> dict[int, VehicleRecording]:
    """Return each vehicle's samples and condition messages (by sysid), decoded
    from ``records`` (a tlog's, time-ordered). Ground-station heartbeats do not arm
    a vehicle; frames the codec cannot read are skipped, as the gateway skips them."""
    codec = LinkCodec("flight-records")
    known: dict[int, _Known] = {}
    out: dict[int, VehicleRecording] = {}
    for record in records:
        for m in codec.feed(record.frame, record.t_s).messages:
            state = known.setdefault(m.sysid, _Known())
            if isinstance(m, Heartbeat):
                if m.autopilot != MAV_AUTOPILOT_INVALID:
                    state.armed = m.armed
            elif isinstance(m, SysStatus):
                if m.battery_remaining_pct is not None:
                    state.battery_pct = float(m.battery_remaining_pct)
            elif isinstance(m, BatteryStatus):
                if m.remaining_pct is not None:
                    state.battery_pct = float(m.remaining_pct)
                if m.consumed_mah is not None:
                    state.consumed_mah = float(m.consumed_mah)
            elif isinstance(m, GlobalPosition):
                out.setdefault(m.sysid, VehicleRecording()).positions.append(
                    FlightSample(
                        sysid=m.sysid,
                        t_s=m.t_s,
                        lat_deg=m.lat_deg,
                        lon_deg=m.lon_deg,
                        alt_amsl_m=m.alt_amsl_m,
                        rel_alt_m=m.rel_alt_m,
                        ground_speed_mps=(m.vn_mps**2 + m.ve_mps**2) ** 0.5,
                        climb_mps=-m.vd_mps,
                        armed=state.armed,
                        battery_pct=state.battery_pct,
                        consumed_mah=state.consumed_mah,
                    )
                )
            elif isinstance(m, GpsRaw | ConditionMessage):
                out.setdefault(m.sysid, VehicleRecording()).conditions.append(m)
    return out
