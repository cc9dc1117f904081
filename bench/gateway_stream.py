"""The benchmark's MAVLink traffic, encoded once and replayed on a schedule.

Each drone sends 16 messages a second: GLOBAL_POSITION_INT at 10 Hz and HEARTBEAT,
SYS_STATUS, ATTITUDE, VFR_HUD, GPS_RAW_INT and BATTERY_STATUS at 1 Hz. Its frames
are encoded (pymavlink's MAVLink 2 encoder) for one 16 s loop of 256 frames whose
sequence numbers are 0..255, so replaying the loop back to back keeps every drone's
``seq`` continuous: a gateway that counts sequence gaps sees none unless a datagram
is really lost. A breacher has a second loop, identical but for the positions,
with the same sequence numbers slot by slot, swapped in at its breach.

``build_plan`` lays every datagram of the run out in time order (offsets into one
byte blob), so the sender process only slices and sends.
"""

from __future__ import annotations

import math
import statistics
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from bench.gateway_fleet import LOITER_RADIUS_M, FleetLayout, Role, SimDrone

LOOP_S = 16.0
SLOTS = 256
POSITION_HZ = 10
MSGS_PER_S = SLOTS / LOOP_S
EXTRA_KINDS = 6
"""1 Hz messages, sent 50 ms after positions 0..5 of each second."""
ALLOWED_FRAMES_PER_DATAGRAM = (1, 2, 4, 8, 16)
"""Divisors of 256, so a datagram never spans two loops."""
M_PER_DEG = 111_320.0
MAV_TYPE_QUADROTOR = 2
MAV_AUTOPILOT_ARDUPILOTMEGA = 3
ARMED_CUSTOM = 128 | 1
MAV_STATE_ACTIVE = 4
LOITER_MODE = 5


def slot_offsets() -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.int64]
]:
    """Per slot of the loop: seconds from the loop start, is-position, extra kind.

    Slot ``j`` carries sequence number ``j``. Kinds: -1 position, 0..5 the 1 Hz
    messages in the order of the module docstring.
    """
    entries: list[tuple[float, int]] = []
    for p in range(int(LOOP_S * POSITION_HZ)):
        entries.append((p / POSITION_HZ, -1))
        if p % POSITION_HZ < EXTRA_KINDS:
            entries.append((p / POSITION_HZ + 0.05, p % POSITION_HZ))
    entries.sort()
    if len(entries) != SLOTS:
        raise AssertionError(f"loop has {len(entries)} slots, not {SLOTS}")
    t = np.array([e[0] for e in entries], dtype=np.float64)
    kind = np.array([e[1] for e in entries], dtype=np.int64)
    return t, kind < 0, kind


def encode_loop(drone: SimDrone, lat_deg: float, lon_deg: float) -> list[bytes]:
    """The drone's 256 frames of one loop, circling (``lat_deg``, ``lon_deg``)."""
    mav = mavlink.MAVLink(None, srcSystem=drone.sysid, srcComponent=1)
    offsets, _, kinds = slot_offsets()
    omega = 2 * math.pi / LOOP_S
    speed_mps = omega * LOITER_RADIUS_M
    m_per_deg_lon = M_PER_DEG * math.cos(math.radians(lat_deg))
    battery = 60 + drone.sysid % 30
    frames: list[bytes] = []
    for seq, (offset, kind) in enumerate(
        zip(offsets.tolist(), kinds.tolist(), strict=True)
    ):
        t = offset + drone.phase_s
        angle = omega * t + drone.index  # each drone starts somewhere on its circle
        north_m, east_m = (
            LOITER_RADIUS_M * math.cos(angle),
            LOITER_RADIUS_M * math.sin(angle),
        )
        vn, ve = -speed_mps * math.sin(angle), speed_mps * math.cos(angle)
        heading = math.degrees(math.atan2(ve, vn)) % 360
        lat = lat_deg + north_m / M_PER_DEG
        lon = lon_deg + east_m / m_per_deg_lon
        boot_ms = 600_000 + int(t * 1000)
        if kind == -1:
            msg = mav.global_position_int_encode(
                boot_ms,
                round(lat * 1e7),
                round(lon * 1e7),
                round(drone.alt_amsl_m * 1000),
                round(drone.rel_alt_m * 1000),
                round(vn * 100),
                round(ve * 100),
                0,
                round(heading * 100) % 36000,
            )
        elif kind == 0:
            msg = mav.heartbeat_encode(
                MAV_TYPE_QUADROTOR,
                MAV_AUTOPILOT_ARDUPILOTMEGA,
                ARMED_CUSTOM,
                LOITER_MODE,
                MAV_STATE_ACTIVE,
            )
        elif kind == 1:
            msg = mav.sys_status_encode(
                0x3FFF, 0x3FFF, 0x3FFF, 450, 15_800, 1_250, battery, 0, 0, 0, 0, 0, 0
            )
        elif kind == 2:
            msg = mav.attitude_encode(
                boot_ms, 0.02, -0.03, math.radians(heading), 0, 0, omega
            )
        elif kind == 3:
            msg = mav.vfr_hud_encode(
                speed_mps, speed_mps, round(heading) % 360, 45, drone.alt_amsl_m, 0.0
            )
        elif kind == 4:
            msg = mav.gps_raw_int_encode(
                boot_ms * 1000,
                3,
                round(lat * 1e7),
                round(lon * 1e7),
                round(drone.alt_amsl_m * 1000),
                80,
                120,
                round(speed_mps * 100),
                round(heading * 100) % 36000,
                14,
            )
        else:
            msg = mav.battery_status_encode(
                0, 1, 3, 2_500, [3_950] * 4 + [65_535] * 6, 1_250, 900, -1, battery
            )
        mav.seq = seq
        frames.append(msg.pack(mav))
    return frames


@dataclass(frozen=True)
class SendPlan:
    """Every datagram of a run, in send order.

    Entry ``k`` is due ``times_s[k]`` seconds after the start and goes from drone
    ``drone[k]``'s socket; its bytes are ``blob[starts[k]:ends[k]]`` (``starts[k]``
    is -1 for a silent intruder). ``markers`` maps the entry of each breacher's first
    out-of-corridor position and each intruder's first position to the drone.
    """

    blob: bytes
    times_s: array[float]
    starts: array[int]
    ends: array[int]
    drone: array[int]
    markers: dict[int, int]
    frames_per_datagram: int
    duration_s: float

    @property
    def datagrams(self) -> int:
        return sum(1 for s in self.starts if s >= 0)

    def window(self, from_s: float, to_s: float) -> list[bytes]:
        """The datagrams due in ``[from_s, to_s)``, as the gateway will get them."""
        lo = int(np.searchsorted(np.frombuffer(self.times_s, np.float64), from_s))
        hi = int(np.searchsorted(np.frombuffer(self.times_s, np.float64), to_s))
        view = memoryview(self.blob)
        return [
            bytes(view[self.starts[k] : self.ends[k]])
            for k in range(lo, hi)
            if self.starts[k] >= 0
        ]


def build_plan(
    layout: FleetLayout, duration_s: float, frames_per_datagram: int = 1
) -> SendPlan:
    """Encode the fleet's loops and schedule ``duration_s`` seconds of datagrams."""
    k_frames = frames_per_datagram
    if k_frames not in ALLOWED_FRAMES_PER_DATAGRAM:
        raise ValueError(
            f"frames per datagram must be one of {ALLOWED_FRAMES_PER_DATAGRAM}"
        )
    offsets, is_position, _ = slot_offsets()
    groups = SLOTS // k_frames
    # A router forwards a bundle when its last frame arrives.
    group_t = offsets[k_frames - 1 :: k_frames]
    group_has_position: npt.NDArray[np.bool_] = np.asarray(
        is_position.reshape(groups, k_frames).any(axis=1)
    )

    pieces: list[bytes] = []
    first_id = np.full((len(layout.drones), 2), -1, dtype=np.int64)
    for d in layout.drones:
        variants = [(d.lat_deg, d.lon_deg)]
        if (
            d.role is Role.BREACHER
            and d.out_lat_deg is not None
            and d.out_lon_deg is not None
        ):
            variants.append((d.out_lat_deg, d.out_lon_deg))
        for v, (lat, lon) in enumerate(variants):
            frames = encode_loop(d, lat, lon)
            first_id[d.index, v] = len(pieces)
            pieces.extend(
                b"".join(frames[g * k_frames : (g + 1) * k_frames])
                for g in range(groups)
            )
    lengths = np.fromiter((len(p) for p in pieces), np.int64, len(pieces))
    piece_start = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    blob = b"".join(pieces)

    phase = np.array([d.phase_s for d in layout.drones])
    loop_t = (phase[:, None] + group_t[None, :]).ravel()
    order = np.argsort(loop_t, kind="stable")
    loop_t = loop_t[order]
    loop_drone = order // groups
    loop_group = order % groups
    loops = math.ceil(duration_s / LOOP_S)
    times = np.concatenate([loop_t + i * LOOP_S for i in range(loops)])
    drone = np.tile(loop_drone, loops)
    group = np.tile(loop_group, loops)
    keep = times < duration_s
    times, drone, group = times[keep], drone[keep], group[keep]
    ids = first_id[drone, 0] + group

    markers: dict[int, int] = {}
    late = {d.index: d.start_s for d in layout.drones if d.start_s > 0}
    if late:
        start = np.zeros(len(layout.drones))
        start[list(late)] = list(late.values())
        ids[times < start[drone]] = -1
    for d in layout.drones:
        if d.event_s is None:
            continue
        mine = np.flatnonzero(drone == d.index)
        after = mine[times[mine] >= d.event_s]
        if d.role is Role.BREACHER:
            ids[after] = first_id[d.index, 1] + group[after]
        firsts = after[group_has_position[group[after]]]
        if firsts.size:
            markers[int(firsts[0])] = d.index
    starts = np.where(ids >= 0, piece_start[ids], -1)
    ends = np.where(ids >= 0, piece_start[ids] + lengths[ids], -1)
    return SendPlan(
        blob=blob,
        times_s=array("d", times.astype(np.float64).tobytes()),
        starts=array("q", starts.astype(np.int64).tobytes()),
        ends=array("q", ends.astype(np.int64).tobytes()),
        drone=array("l", drone.astype(np.int64).tobytes())
        if array("l").itemsize == 8
        else array("q", drone.astype(np.int64).tobytes()),
        markers=markers,
        frames_per_datagram=k_frames,
        duration_s=duration_s,
    )


@dataclass(frozen=True)
class RawParse:
    """pymavlink's own parser on the benchmark stream (medians of ``repeats``)."""

    msgs_per_s: float
    """``parse_buffer`` called once per datagram, as the gateway is fed."""
    msgs_per_cpu_s: float
    bulk_msgs_per_s: float
    """``parse_buffer`` on the whole sample at once (no per-call overhead)."""
    messages: int
    repeats: int

    def merged(self, other: RawParse) -> RawParse:
        """Pool two measurements (e.g. before and after the load) by their medians."""
        return RawParse(
            statistics.median([self.msgs_per_s, other.msgs_per_s]),
            statistics.median([self.msgs_per_cpu_s, other.msgs_per_cpu_s]),
            statistics.median([self.bulk_msgs_per_s, other.bulk_msgs_per_s]),
            self.messages,
            self.repeats + other.repeats,
        )


def raw_parse(datagrams: Sequence[bytes], repeats: int = 5) -> RawParse:
    """Time pymavlink's ``parse_buffer`` (``robust_parsing``) over ``datagrams``."""
    rates: list[float] = []
    cpu_rates: list[float] = []
    bulk: list[float] = []
    joined = b"".join(datagrams)
    count = 0
    for _ in range(repeats):
        parser = mavlink.MAVLink(None)
        parser.robust_parsing = True
        parse = parser.parse_buffer
        count = 0
        t0, c0 = time.perf_counter(), time.process_time()
        for data in datagrams:
            msgs = parse(data)
            if msgs:
                count += len(msgs)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rates.append(count / wall)
        cpu_rates.append(count / max(cpu, 1e-9))
        parser = mavlink.MAVLink(None)
        parser.robust_parsing = True
        t0 = time.perf_counter()
        msgs = parser.parse_buffer(joined) or []
        bulk.append(len(msgs) / (time.perf_counter() - t0))
    return RawParse(
        statistics.median(rates),
        statistics.median(cpu_rates),
        statistics.median(bulk),
        count,
        repeats,
    )
