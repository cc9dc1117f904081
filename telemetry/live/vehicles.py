"""Live state of every vehicle the gateway hears, one per (link, system id).

``VehicleState.apply`` folds the codec's typed messages into the latest position,
velocity, heading, battery, GPS fix and link figures; the gateway reads that state
once per tick. Each vehicle also keeps ring buffers of the last ``keep_s`` seconds at
full rate — positions and raw frames — which become an incident's evidence.

Positions are chunked by second: a chunk is a ``bytearray`` of packed rows, so
appending is cheap and dropping old data is popping whole chunks. Bytearrays, unlike
``array('d')``, are invisible to the garbage collector: a new chunk a second per
vehicle, kept 35 s, was 35,000 more objects for every collection of a 1,000-drone
fleet to walk. Raw frames are kept once, as tlog records: appended to
``tlog_pending`` and, once handed to the recording (``take_tlog``, every second),
kept in the ring as that hand-off's bytes. At 10 Hz and 35 s this is ~28 kB of
positions and ~30 kB of frames per vehicle.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from telemetry.mavlink.messages import (
    BatteryStatus,
    FenceStatus,
    GlobalPosition,
    GpsRaw,
    Heartbeat,
    StatusText,
    SysStatus,
    Telemetry,
    VfrHud,
)

KEEP_S: Final = 35.0
"""Ring-buffer depth: evidence needs 30 s before a breach, plus a tick's slack."""
MAV_TYPE_GCS: Final = 6
MAV_AUTOPILOT_INVALID: Final = 8
FLYING_REL_ALT_M: Final = 1.5
"""Above this height over home, a vehicle counts as flying even if not armed."""

_TLOG_TIME = struct.Struct(">Q")
SAMPLE_FIELDS: Final = (
    "t_s",
    "lat_deg",
    "lon_deg",
    "alt_amsl_m",
    "rel_alt_m",
    "vn_mps",
    "ve_mps",
    "vd_mps",
    "heading_deg",
    "state_code",
)
_WIDTH: Final = len(SAMPLE_FIELDS)
_ROW = struct.Struct(f"<{_WIDTH}d")
_STATE = struct.Struct("<d")
"""The last field of a row (``state_code``)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One full-rate position from a vehicle's ring buffer."""

    t_s: float
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    rel_alt_m: float
    vn_mps: float
    ve_mps: float
    vd_mps: float
    heading_deg: float
    """NaN when the autopilot did not report one."""
    state_code: float
    """``ConformanceState`` value at this sample, -1 on the ground or unchecked."""


@dataclass(frozen=True, slots=True)
class RingSnapshot:
    """A vehicle's rings over ``[from_s, to_s]``, copied: packed position rows and
    tlog records (records may reach past the window; reading filters them)."""

    positions: bytes
    frames: bytes
    from_s: float
    to_s: float

    def samples(self) -> list[Sample]:
        """The positions in the window, oldest first."""
        lo, hi = self.from_s, self.to_s
        return [
            Sample(*row)
            for row in _ROW.iter_unpack(self.positions)
            if lo <= row[0] <= hi
        ]

    def raw_frames(self) -> list[tuple[float, bytes]]:
        """The raw frames ``(t_s, frame)`` in the window, oldest first."""
        lo, hi = self.from_s, self.to_s
        return [
            (t_s, record[8:])
            for t_s, record in iter_tlog_records(self.frames)
            if lo <= t_s <= hi
        ]


class _Chunks:
    """Second-sized chunks of a time series, oldest first, trimmed to ``keep_s``."""

    __slots__ = ("chunks", "keep_s")

    def __init__(self, keep_s: float) -> None:
        self.keep_s = keep_s
        self.chunks: deque[tuple[int, bytearray]] = deque()

    def current(self, t_s: float) -> bytearray:
        second = int(t_s)
        chunks = self.chunks
        if not chunks or chunks[-1][0] != second:
            chunks.append((second, bytearray()))
            horizon = second - self.keep_s - 1
            while chunks and chunks[0][0] < horizon:
                chunks.popleft()
        return chunks[-1][1]


class VehicleState:
    """What the gateway knows of one vehicle; mutated by ``apply`` in place."""

    __slots__ = (
        "_frames",
        "_pending_newest_s",
        "_positions",
        "alt_amsl_m",
        "armed",
        "autopilot",
        "battery_pct",
        "battery_voltage_v",
        "booking_id",
        "bound_placed",
        "bound_until_s",
        "bound_version",
        "compid",
        "conformance",
        "corridor_id",
        "drone_id",
        "drone_name",
        "fence_breach",
        "fence_disagree_since_s",
        "fence_disagreement",
        "fence_reported",
        "first_seen_s",
        "frame_count",
        "frame_since_s",
        "frames_per_s",
        "gps_fix",
        "gps_satellites",
        "has_position",
        "heading_deg",
        "is_gcs",
        "key",
        "landed_since_s",
        "landing_pad_id",
        "last_heartbeat_s",
        "last_message_s",
        "last_position_s",
        "last_row",
        "lat_deg",
        "lateral_margin_m",
        "link_id",
        "link_lost",
        "lon_deg",
        "low_battery",
        "messages",
        "needs_full_frame",
        "operator_id",
        "position_pending",
        "rate_count",
        "rate_mps",
        "rate_since_s",
        "rel_alt_m",
        "resite_after_s",
        "seconds_to_exit",
        "signing_required",
        "site_id",
        "source",
        "state_code",
        "status_text",
        "sysid",
        "takeoff_pad_id",
        "tlog_pending",
        "tlog_pending_count",
        "vd_mps",
        "ve_mps",
        "vn_mps",
    )

    def __init__(self, link_id: str, sysid: int, now_s: float) -> None:
        self.link_id = link_id
        self.sysid = sysid
        self.key = f"{link_id}/{sysid}"
        self.source: object = None
        """The address it is pinned to (``udpin``: the first sender heard for it
        in a flight); frames from another are refused (``telemetry.live.ingest``)."""
        self.compid = 0
        self.autopilot: int | None = None
        """``MAV_AUTOPILOT`` of its heartbeat (how to command it); None: not heard."""
        self.first_seen_s = now_s
        self.last_message_s = now_s
        self.last_heartbeat_s = math.nan
        self.last_position_s = math.nan
        self.last_row = _ROW.pack(*(math.nan,) * _WIDTH)
        """The newest position as a packed ring row (one float64 per
        ``SAMPLE_FIELDS``): a site's batch check joins these into one array."""
        self.messages = 0
        self.rate_count = 0
        self.rate_since_s = now_s
        self.rate_mps = 0.0
        """Decoded messages (the types the gateway reads) per second over the last
        rate window: a subset of the frames."""
        self.frame_count = 0
        self.frame_since_s = now_s
        self.frames_per_s = 0.0
        """Every frame from the vehicle (any message type) per second over the last
        rate window: what the autopilot actually sends."""
        self.is_gcs = False
        self.armed = False
        self.landed_since_s = math.nan
        """When it was last seen on the ground and disarmed (not ``flying``) after
        flying; NaN while flying (``tick.check_landed`` keeps it)."""
        self.has_position = False
        self.position_pending = False
        """A position arrived since the last conformance tick."""
        self.lat_deg = math.nan
        self.lon_deg = math.nan
        self.alt_amsl_m = math.nan
        self.rel_alt_m = math.nan
        self.vn_mps = 0.0
        self.ve_mps = 0.0
        self.vd_mps = 0.0
        self.heading_deg: float | None = None
        self.battery_pct: int | None = None
        self.battery_voltage_v: float | None = None
        self.gps_fix: int | None = None
        self.gps_satellites: int | None = None
        self.fence_breach = False
        self.fence_reported = False
        """It has sent FENCE_STATUS: its autopilot holds a fence to compare with."""
        self.fence_disagree_since_s: float | None = None
        """Since when the autopilot's fence and SkyBerth's check disagree."""
        self.fence_disagreement = False
        """A ``fence_disagreement`` was raised and has not cleared."""
        self.status_text: str | None = None
        self.link_lost = False
        self.low_battery = False
        # Set by the gateway from the fleet directory and the conformance tick.
        self.site_id: str | None = None
        self.drone_id: str | None = None
        self.drone_name: str | None = None
        self.operator_id: str | None = None
        self.booking_id: int | None = None
        self.corridor_id: str | None = None
        self.bound_version = -1
        self.signing_required = False
        """Bound to a site with ``require_signing``: its frames are taken only once
        they verify (``telemetry.live.strict_sites``; one read per frame)."""
        self.needs_full_frame = True
        """Its next ``vehicles`` entry must be a full record (new, or rebound)."""
        self.tlog_pending = bytearray()
        """Tlog records (timestamp + frame) not yet handed to the recording."""
        self.tlog_pending_count = 0
        self._pending_newest_s = now_s
        self.bound_until_s = -math.inf
        self.bound_placed = False
        """Last bound with a position: before its first fix a vehicle's site is
        only a guess (none for an unregistered one), so its first position binds
        it again at once (``tick.queue_fresh``)."""
        self.resite_after_s = -math.inf
        """Until then the gateway keeps its site when a sysid has several."""
        self.takeoff_pad_id: str | None = None
        self.landing_pad_id: str | None = None
        self.conformance = "on_ground"
        self.state_code = -1
        self.seconds_to_exit: float | None = None
        self.lateral_margin_m: float | None = None
        self._positions = _Chunks(KEEP_S)
        """Rows of ``SAMPLE_FIELDS``, packed as ``_ROW``."""
        self._frames: deque[tuple[float, bytes]] = deque()
        """Tlog records already handed over, per hand-off: (newest t_s, records).
        With ``tlog_pending`` they are the raw-frame ring."""

    @property
    def flying(self) -> bool:
        """Armed, or clearly above home: either way it is in the air or about to be."""
        return self.armed or (
            self.rel_alt_m == self.rel_alt_m and self.rel_alt_m > FLYING_REL_ALT_M
        )

    @property
    def speed_mps(self) -> float:
        return math.hypot(self.vn_mps, self.ve_mps)

    @property
    def is_vehicle(self) -> bool:
        """An aircraft as MAVLink says: an autopilot's heartbeat (autopilot not
        INVALID) or a position; a sender heard only through other messages so far,
        or a ground station, is not counted."""
        return not self.is_gcs and (
            self.last_heartbeat_s == self.last_heartbeat_s or self.has_position
        )

    def link_age_s(self, now_s: float) -> float:
        return max(0.0, now_s - self.last_message_s)

    def apply(self, msg: Telemetry) -> None:
        """Fold one typed message into the state."""
        t_s = msg.t_s
        self.last_message_s = t_s
        self.messages += 1
        self.rate_count += 1
        if t_s - self.rate_since_s >= 1.0:
            self.rate_mps = self.rate_count / (t_s - self.rate_since_s)
            self.rate_count = 0
            self.rate_since_s = t_s
        handler = _HANDLERS.get(type(msg))
        if handler is not None:
            handler(self, msg)

    def record_frame(self, t_s: float, raw: bytes) -> None:
        """Keep one raw frame for the next tlog hand-off (and the evidence ring)."""
        self.tlog_pending += _TLOG_TIME.pack(int(t_s * 1e6)) + raw
        self.tlog_pending_count += 1
        self._pending_newest_s = t_s
        self.last_message_s = t_s
        self.frame_count += 1
        if t_s - self.frame_since_s >= 1.0:
            self.frames_per_s = self.frame_count / (t_s - self.frame_since_s)
            self.frame_count = 0
            self.frame_since_s = t_s

    def record_shed(self, t_s: float, raw: bytes) -> None:
        """Keep a frame that was shed under overload (never decoded) for the tlog,
        at its kernel arrival time; the link figures stay those of decoded frames."""
        pending = self.tlog_pending
        pending += _TLOG_TIME.pack(int(t_s * 1e6))
        pending += raw
        self.tlog_pending_count += 1
        if t_s > self._pending_newest_s:
            self._pending_newest_s = t_s

    def take_tlog(self) -> tuple[bytes, int]:
        """The tlog records since the last call and their count; they stay in the
        evidence ring for ``KEEP_S``."""
        records, count = bytes(self.tlog_pending), self.tlog_pending_count
        self.tlog_pending.clear()
        self.tlog_pending_count = 0
        ring = self._frames
        if records:
            ring.append((self._pending_newest_s, records))
            horizon = self._pending_newest_s - KEEP_S
            while ring[0][0] < horizon:
                ring.popleft()
        return records, count

    def samples(
        self, from_s: float = -math.inf, to_s: float = math.inf
    ) -> list[Sample]:
        """The ring's positions with ``from_s <= t_s <= to_s``, oldest first."""
        return RingSnapshot(
            self._positions_bytes(from_s, to_s), b"", from_s, to_s
        ).samples()

    def frames(
        self, from_s: float = -math.inf, to_s: float = math.inf
    ) -> list[tuple[float, bytes]]:
        """The ring's raw frames ``(t_s, frame)`` in the window, oldest first."""
        return RingSnapshot(b"", self._frames_bytes(from_s), from_s, to_s).raw_frames()

    def ring_snapshot(
        self, from_s: float = -math.inf, to_s: float = math.inf
    ) -> RingSnapshot:
        """A copy of both rings over the window, cheap to take (bytes only), to be
        read later or on another thread (an incident's evidence, by the recorder)."""
        return RingSnapshot(
            self._positions_bytes(from_s, to_s),
            self._frames_bytes(from_s),
            from_s,
            to_s,
        )

    def _positions_bytes(self, from_s: float, to_s: float) -> bytes:
        return b"".join(
            chunk
            for second, chunk in self._positions.chunks
            if not (second + 1 < from_s or second > to_s)
        )

    def _frames_bytes(self, from_s: float) -> bytes:
        chunks = [c for newest_s, c in self._frames if newest_s >= from_s]
        chunks.append(bytes(self.tlog_pending))
        return b"".join(chunks)

    def mark_state(self, state_code: int) -> None:
        """Stamp the newest ring sample with the conformance state just computed."""
        chunks = self._positions.chunks
        if chunks and chunks[-1][1]:
            chunk = chunks[-1][1]
            _STATE.pack_into(chunk, len(chunk) - _STATE.size, state_code)
        self.state_code = state_code

    def _on_position(self, msg: GlobalPosition) -> None:
        self.lat_deg = msg.lat_deg
        self.lon_deg = msg.lon_deg
        self.alt_amsl_m = msg.alt_amsl_m
        self.rel_alt_m = msg.rel_alt_m
        self.vn_mps = msg.vn_mps
        self.ve_mps = msg.ve_mps
        self.vd_mps = msg.vd_mps
        if msg.heading_deg is not None:
            self.heading_deg = msg.heading_deg
        self.has_position = True
        self.position_pending = True
        self.last_position_s = msg.t_s
        row = self.last_row = _ROW.pack(
            msg.t_s,
            msg.lat_deg,
            msg.lon_deg,
            msg.alt_amsl_m,
            msg.rel_alt_m,
            msg.vn_mps,
            msg.ve_mps,
            msg.vd_mps,
            math.nan if msg.heading_deg is None else msg.heading_deg,
            self.state_code,
        )
        self._positions.current(msg.t_s).extend(row)

    def _on_heartbeat(self, msg: Heartbeat) -> None:
        if msg.autopilot == MAV_AUTOPILOT_INVALID:
            # A ground station or a companion announcing itself, not an aircraft:
            # MAVLink identifies autopilots by autopilot != INVALID, never by type
            # or compid (a GCS is MAV_TYPE_GCS with MAV_AUTOPILOT_INVALID).
            self.is_gcs = not self.has_position
            return
        self.is_gcs = False
        self.compid = msg.compid
        self.autopilot = msg.autopilot
        self.armed = msg.armed
        self.last_heartbeat_s = msg.t_s

    def _on_sys_status(self, msg: SysStatus) -> None:
        if msg.battery_remaining_pct is not None:
            self.battery_pct = msg.battery_remaining_pct
        if msg.battery_voltage_v is not None:
            self.battery_voltage_v = msg.battery_voltage_v

    def _on_battery(self, msg: BatteryStatus) -> None:
        if msg.battery_id == 0 and msg.remaining_pct is not None:
            self.battery_pct = msg.remaining_pct

    def _on_gps(self, msg: GpsRaw) -> None:
        self.gps_fix = msg.fix_type
        self.gps_satellites = msg.satellites

    def _on_vfr_hud(self, msg: VfrHud) -> None:
        if self.heading_deg is None:
            self.heading_deg = msg.heading_deg

    def _on_fence(self, msg: FenceStatus) -> None:
        self.fence_breach = msg.breach_status == 1
        self.fence_reported = True

    def _on_status_text(self, msg: StatusText) -> None:
        self.status_text = msg.text


_HANDLERS: dict[type, Callable[[VehicleState, Any], None]] = {
    GlobalPosition: VehicleState._on_position,
    Heartbeat: VehicleState._on_heartbeat,
    SysStatus: VehicleState._on_sys_status,
    BatteryStatus: VehicleState._on_battery,
    GpsRaw: VehicleState._on_gps,
    VfrHud: VehicleState._on_vfr_hud,
    FenceStatus: VehicleState._on_fence,
    StatusText: VehicleState._on_status_text,
}


def iter_tlog_records(data: bytes) -> Iterator[tuple[float, bytes]]:
    """Split concatenated tlog records back into (t_s, record bytes).

    Frame length comes from the MAVLink header: v1 (0xFE) is 8 + payload bytes, v2
    (0xFD) 12 + payload, plus 13 when the signed flag is set.
    """
    i, n = 0, len(data)
    while i + 9 <= n:
        (t_us,) = _TLOG_TIME.unpack_from(data, i)
        magic = data[i + 8]
        length = data[i + 9] if i + 9 < n else 0
        if magic == 0xFD:
            size = 12 + length + (13 if i + 10 < n and data[i + 10] & 1 else 0)
        else:
            size = 8 + length
        end = i + 8 + size
        yield t_us / 1e6, data[i:end]
        i = end
