"""MAVLink as ArduPilot and PX4 send it, built with pymavlink's ardupilotmega encoders.

No autopilot runs here: ArduCopter's SITL cannot be built on this machine (its
source is not in the package registries), nor can PX4's. So these streams are made
the way the autopilots make theirs, from what each is documented to send:

- ``ardupilot_copter``: the messages of ArduCopter's telemetry stream groups (the
  ``SRx_`` parameters: RAW_SENS, EXT_STAT, RC_CHAN, POSITION, EXTRA1-3, PARAMS),
  a SiK radio's RADIO_STATUS under its own ids (51/68), autopilot 3, Copter's
  mode numbers as ``custom_mode``, -1 for a current or charge it cannot measure,
  UINT16_MAX for unused cells; MAVLink 2 (signed with a key) or MAVLink 1;
- ``px4_multicopter``: a PX4 link's default streams (ATTITUDE and
  ATTITUDE_QUATERNION fast, ALTITUDE, ESTIMATOR_STATUS, EXTENDED_SYS_STATE,
  UTM_GLOBAL_POSITION ...), autopilot 12, ``custom_mode`` main << 16 | sub << 24,
  NaN in the float fields it does not know, UINT16_MAX heading before the
  estimator has a yaw;
- ``random_message``: any message of the dialect with random values over each
  field's whole range and the float values that need care (NaN, infinities,
  -0.0, denormals), for the edge cases no autopilot sends in a normal flight.

Rates are rounded to a 50 Hz tick; values wander as a flight's would. Frames are
in send order; ``bundle`` packs them into datagrams as a router may. Used by the
fast codec's differential test and ``bench/codec.py``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

TICK_HZ = 50
UINT16_MAX = 65535
INT16_MAX = 32767
SIK_SYSID, SIK_COMPID = 51, 68
"""SiK radios send RADIO_STATUS as '3' 'D' (pymavlink special-cases them)."""
SIGNING_EPOCH_S = 1_420_070_400
COPTER_MODES = (0, 2, 3, 5, 6, 9, 16)
"""STABILIZE, ALT_HOLD, AUTO, LOITER, RTL, LAND, POSHOLD."""
PX4_MODES = (3 << 16, 2 << 16, (4 << 16) | (3 << 24), (4 << 16) | (4 << 24))
"""POSCTL, ALTCTL, AUTO.LOITER (Hold), AUTO.MISSION."""
SPECIAL_FLOATS = (
    math.nan,
    math.inf,
    -math.inf,
    -0.0,
    0.0,
    1e-45,  # the smallest float32 denormal
    3.4e38,
    -3.4e38,
)
_INT_RANGES = {
    "uint8_t": (0, 2**8 - 1),
    "int8_t": (-(2**7), 2**7 - 1),
    "uint16_t": (0, 2**16 - 1),
    "int16_t": (-(2**15), 2**15 - 1),
    "uint32_t": (0, 2**32 - 1),
    "int32_t": (-(2**31), 2**31 - 1),
    "uint64_t": (0, 2**64 - 1),
    "int64_t": (-(2**63), 2**63 - 1),
}


@dataclass
class _Flight:
    """The state a stream reports, wandering tick by tick."""

    rng: random.Random
    t_s: float = 0.0
    lat_deg: float = 22.2606
    lon_deg: float = 114.1289
    home_alt_m: float = 5.0
    rel_alt_m: float = 0.0
    vn: float = 0.0
    ve: float = 0.0
    vd: float = 0.0
    roll: float = 0.0
    pitch: float = 0.0
    yaw: float = 0.0
    voltage_v: float = 16.8
    current_a: float = 0.5
    consumed_mah: float = 0.0
    armed: bool = False
    mode_index: int = 0
    sensors_ok: bool = True
    """Current sensor, charge estimate and yaw known (toggled now and then)."""

    def step(self, dt_s: float) -> None:
        r = self.rng
        self.t_s += dt_s
        self.armed = 5.0 < self.t_s % 120.0 < 110.0
        if r.random() < dt_s / 15.0:
            self.mode_index += 1
        if r.random() < dt_s / 20.0:
            self.sensors_ok = not self.sensors_ok
        target = 40.0 if self.armed else 0.0
        self.vd = max(-3.0, min(3.0, (self.rel_alt_m - target) * 0.3))
        self.rel_alt_m = max(0.0, self.rel_alt_m - self.vd * dt_s)
        self.vn += r.gauss(0.0, 0.5) * dt_s - 0.05 * self.vn * dt_s
        self.ve += r.gauss(0.0, 0.5) * dt_s - 0.05 * self.ve * dt_s
        self.lat_deg += self.vn * dt_s / 111_320.0
        self.lon_deg += self.ve * dt_s / 103_000.0
        self.roll = 0.9 * self.roll + r.gauss(0.0, 0.02)
        self.pitch = 0.9 * self.pitch + r.gauss(0.0, 0.02)
        self.yaw = math.remainder(self.yaw + r.gauss(0.0, 0.01), math.tau)
        self.current_a = 18.0 + r.gauss(0.0, 2.0) if self.armed else 0.6
        self.consumed_mah += self.current_a * dt_s / 3.6
        self.voltage_v = max(13.2, 16.8 - self.consumed_mah / 2000.0)

    @property
    def boot_ms(self) -> int:
        return int(self.t_s * 1000) + 60_000

    @property
    def heading_cdeg(self) -> int:
        return round(math.degrees(self.yaw) % 360 * 100) % 36000

    @property
    def ground_speed(self) -> float:
        return math.hypot(self.vn, self.ve)

    @property
    def remaining_pct(self) -> int:
        return max(0, min(100, round((self.voltage_v - 13.2) / 3.6 * 100)))


Builder = Callable[[Any, _Flight], Any]
"""(pymavlink encoder, flight) -> a message."""


def _ardupilot_battery(mav: Any, f: _Flight) -> Any:
    cell_mv = round(f.voltage_v / 4 * 1000)
    cells = [cell_mv] * 4 + [UINT16_MAX] * 6
    if not f.sensors_ok:  # no cell monitor: the pack's voltage in the first cell
        cells = [round(f.voltage_v * 1000)] + [UINT16_MAX] * 9
    return mav.battery_status_encode(
        id=0,
        battery_function=0,
        type=0,
        temperature=INT16_MAX,
        voltages=cells,
        current_battery=round(f.current_a * 100) if f.sensors_ok else -1,
        current_consumed=round(f.consumed_mah) if f.sensors_ok else -1,
        energy_consumed=round(f.consumed_mah * 0.0576) if f.sensors_ok else -1,
        battery_remaining=f.remaining_pct if f.sensors_ok else -1,
        time_remaining=0,
        charge_state=1,
        voltages_ext=[0, 0, 0, 0],
        mode=0,
        fault_bitmask=0,
    )


def _sys_status(mav: Any, f: _Flight) -> Any:
    sensors = 0x3520_FC2F
    return mav.sys_status_encode(
        onboard_control_sensors_present=sensors,
        onboard_control_sensors_enabled=sensors if f.armed else sensors & ~0x8000,
        onboard_control_sensors_health=sensors,
        load=round(200 + f.rng.random() * 100),
        voltage_battery=round(f.voltage_v * 1000),
        current_battery=round(f.current_a * 100) if f.sensors_ok else -1,
        battery_remaining=f.remaining_pct if f.sensors_ok else -1,
        drop_rate_comm=0,
        errors_comm=0,
        errors_count1=0,
        errors_count2=0,
        errors_count3=0,
        errors_count4=0,
        onboard_control_sensors_present_extended=1,
        onboard_control_sensors_enabled_extended=1,
        onboard_control_sensors_health_extended=1,
    )


def _gps_raw(mav: Any, f: _Flight) -> Any:
    return mav.gps_raw_int_encode(
        time_usec=f.boot_ms * 1000,
        fix_type=6 if f.sensors_ok else 3,
        lat=round(f.lat_deg * 1e7),
        lon=round(f.lon_deg * 1e7),
        alt=round((f.home_alt_m + f.rel_alt_m) * 1000),
        eph=round(70 + f.rng.random() * 60),
        epv=round(110 + f.rng.random() * 60),
        vel=round(f.ground_speed * 100),
        cog=f.heading_cdeg,
        satellites_visible=f.rng.randrange(10, 22),
        alt_ellipsoid=round((f.home_alt_m + f.rel_alt_m + 3.4) * 1000),
        h_acc=800,
        v_acc=1200,
        vel_acc=150,
        hdg_acc=0,
        yaw=0,
    )


def _global_position(mav: Any, f: _Flight, *, yaw_known: bool = True) -> Any:
    return mav.global_position_int_encode(
        time_boot_ms=f.boot_ms,
        lat=round(f.lat_deg * 1e7),
        lon=round(f.lon_deg * 1e7),
        alt=round((f.home_alt_m + f.rel_alt_m) * 1000),
        relative_alt=round(f.rel_alt_m * 1000),
        vx=round(f.vn * 100),
        vy=round(f.ve * 100),
        vz=round(f.vd * 100),
        hdg=f.heading_cdeg if yaw_known else UINT16_MAX,
    )


def _attitude(mav: Any, f: _Flight) -> Any:
    return mav.attitude_encode(
        f.boot_ms, f.roll, f.pitch, f.yaw, f.roll * 0.1, f.pitch * 0.1, 0.01
    )


def _vfr_hud(mav: Any, f: _Flight) -> Any:
    return mav.vfr_hud_encode(
        airspeed=f.ground_speed,
        groundspeed=f.ground_speed,
        heading=round(math.degrees(f.yaw)) % 360,
        throttle=45 if f.armed else 0,
        alt=f.home_alt_m + f.rel_alt_m,
        climb=-f.vd,
    )


def _copter_heartbeat(mav: Any, f: _Flight) -> Any:
    return mav.heartbeat_encode(
        type=mavlink.MAV_TYPE_QUADROTOR,
        autopilot=mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA,
        base_mode=81 | (128 if f.armed else 0),
        custom_mode=COPTER_MODES[f.mode_index % len(COPTER_MODES)],
        system_status=4 if f.armed else 3,
        mavlink_version=3,
    )


def _px4_heartbeat(mav: Any, f: _Flight) -> Any:
    return mav.heartbeat_encode(
        type=mavlink.MAV_TYPE_QUADROTOR,
        autopilot=mavlink.MAV_AUTOPILOT_PX4,
        base_mode=29 | (128 if f.armed else 0),
        custom_mode=PX4_MODES[f.mode_index % len(PX4_MODES)],
        system_status=4 if f.armed else 3,
        mavlink_version=3,
    )


def _px4_battery(mav: Any, f: _Flight) -> Any:
    return mav.battery_status_encode(
        id=0,
        battery_function=0,
        type=1,
        temperature=INT16_MAX,
        voltages=[round(f.voltage_v / 4 * 1000)] * 4 + [UINT16_MAX] * 6,
        current_battery=round(f.current_a * 100),
        current_consumed=round(f.consumed_mah),
        energy_consumed=-1,
        battery_remaining=f.remaining_pct,
        time_remaining=round(f.remaining_pct * 12),
        charge_state=1 if f.remaining_pct > 20 else 2,
        voltages_ext=[0, 0, 0, 0],
        mode=0,
        fault_bitmask=0,
    )


ARDUCOPTER_STREAMS: tuple[tuple[float, Builder], ...] = (
    (1.0, _copter_heartbeat),
    # EXT_STAT
    (2.0, _sys_status),
    (2.0, lambda m, f: m.power_status_encode(5000, 0, 3)),
    (2.0, lambda m, f: m.meminfo_encode(0, 65535, 180_000)),
    (2.0, lambda m, f: m.mission_current_encode(f.mode_index % 7, 7, 2, 0)),
    (2.0, _gps_raw),
    (
        2.0,
        lambda m, f: m.nav_controller_output_encode(
            0.0, 0.0, 90, 90, 120, f.rel_alt_m - 40.0, 0.0, 0.3
        ),
    ),
    (2.0, lambda m, f: m.fence_status_encode(0, 0, 0, 0, 0)),
    # RAW_SENS
    (
        2.0,
        lambda m, f: m.raw_imu_encode(
            f.boot_ms * 1000, 3, -2, -1001, 1, 0, -1, 212, 44, -380, 0, 3550
        ),
    ),
    (
        2.0,
        lambda m, f: m.scaled_imu2_encode(
            f.boot_ms, 2, -3, -998, 0, 1, 0, 210, 45, -381, 3600
        ),
    ),
    (2.0, lambda m, f: m.scaled_pressure_encode(f.boot_ms, 1008.9, 0.0, 3125, 0)),
    # RC_CHAN
    (
        2.0,
        lambda m, f: m.servo_output_raw_encode(
            f.boot_ms * 1000, 0, *([1500 if f.armed else 1000] * 4), *([0] * 12)
        ),
    ),
    (
        2.0,
        lambda m, f: m.rc_channels_encode(
            f.boot_ms, 16, *([1500] * 16), UINT16_MAX, UINT16_MAX, 254
        ),
    ),
    # POSITION
    (10.0, _global_position),
    (
        10.0,
        lambda m, f: m.local_position_ned_encode(
            f.boot_ms, 0.0, 0.0, -f.rel_alt_m, f.vn, f.ve, f.vd
        ),
    ),
    # EXTRA1 (SIMSTATE: SITL's)
    (10.0, _attitude),
    (
        10.0,
        lambda m, f: m.ahrs2_encode(
            f.roll,
            f.pitch,
            f.yaw,
            f.home_alt_m + f.rel_alt_m,
            round(f.lat_deg * 1e7),
            round(f.lon_deg * 1e7),
        ),
    ),
    (
        10.0,
        lambda m, f: m.simstate_encode(
            f.roll,
            f.pitch,
            f.yaw,
            0.0,
            0.0,
            -9.8,
            0.0,
            0.0,
            0.0,
            round(f.lat_deg * 1e7),
            round(f.lon_deg * 1e7),
        ),
    ),
    # EXTRA2
    (10.0, _vfr_hud),
    # EXTRA3
    (2.0, lambda m, f: m.ahrs_encode(0.0, 0.0, 0.0, 0.0, 0.0, 0.001, 0.002)),
    (2.0, lambda m, f: m.system_time_encode(1_750_000_000_000_000, f.boot_ms)),
    (2.0, lambda m, f: m.wind_encode(225.0, 3.5, 0.0)),
    (2.0, _ardupilot_battery),
    (
        2.0,
        lambda m, f: m.ekf_status_report_encode(
            0x33F if f.sensors_ok else 0x8000 | 0x33F, 0.1, 0.2, 0.1, 0.05, 0.0, 0.0
        ),
    ),
    (
        2.0,
        lambda m, f: m.vibration_encode(f.boot_ms * 1000, 4.5, 5.1, 9.2, 0, 0, 0),
    ),
    (1.0, lambda m, f: m.timesync_encode(0, f.boot_ms * 1_000_000)),
)
"""(Hz, builder): ArduCopter's streams at common request rates."""

PX4_STREAMS: tuple[tuple[float, Builder], ...] = (
    (1.0, _px4_heartbeat),
    (5.0, _sys_status),
    (1.0, lambda m, f: m.extended_sys_state_encode(0, 2 if f.armed else 1)),
    (0.5, _px4_battery),
    (1.0, _gps_raw),
    (5.0, lambda m, f: _global_position(m, f, yaw_known=f.sensors_ok)),
    (
        1.0,
        lambda m, f: m.local_position_ned_encode(
            f.boot_ms, 1.0, 2.0, -f.rel_alt_m, f.vn, f.ve, f.vd
        ),
    ),
    (25.0, _attitude),
    (
        10.0,
        lambda m, f: m.attitude_quaternion_encode(
            f.boot_ms, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.01, [0.0, 0.0, 0.0, 0.0]
        ),
    ),
    (
        1.0,
        lambda m, f: m.altitude_encode(
            f.boot_ms * 1000,
            f.home_alt_m + f.rel_alt_m,
            f.home_alt_m + f.rel_alt_m,
            f.rel_alt_m,
            f.rel_alt_m,
            math.nan,
            math.nan,
        ),
    ),
    (4.0, _vfr_hud),
    (
        1.0,
        lambda m, f: m.estimator_status_encode(
            f.boot_ms * 1000, 831, 0.02, 0.05, 0.01, 0.03, 0.0, 0.0, 0.6, 0.9
        ),
    ),
    (1.0, lambda m, f: m.system_time_encode(1_750_000_000_000_000, f.boot_ms)),
    (0.5, lambda m, f: m.vibration_encode(f.boot_ms * 1000, 0.1, 0.1, 0.2, 0, 0, 0)),
    (
        0.5,
        lambda m, f: m.utm_global_position_encode(
            1_750_000_000_000_000,
            bytes(18),
            round(f.lat_deg * 1e7),
            round(f.lon_deg * 1e7),
            round((f.home_alt_m + f.rel_alt_m) * 1000),
            round(f.rel_alt_m * 1000),
            round(f.vn * 100),
            round(f.ve * 100),
            round(f.vd * 100),
            80,
            120,
            30,
            0,
            0,
            0,
            100,
            3 if f.armed else 2,
            31,
        ),
    ),
    (
        1.0,
        lambda m, f: m.servo_output_raw_encode(
            f.boot_ms * 1000, 0, *([1500 if f.armed else 900] * 4), *([0] * 12)
        ),
    ),
    (0.1, lambda m, f: m.ping_encode(f.boot_ms * 1000, int(f.t_s), 0, 0)),
)
"""(Hz, builder): a PX4 multicopter's default streams on a GCS link."""


class _Sender:
    """pymavlink's encoder for one component: its seq, MAVLink 1 or signing."""

    def __init__(
        self,
        sysid: int,
        compid: int,
        *,
        mavlink1: bool = False,
        signing_key: bytes | None = None,
        wall_s: float = 1_750_000_000.0,
    ) -> None:
        self.mav = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=compid)
        self.mavlink1 = mavlink1
        if signing_key is not None:
            self.mav.signing.secret_key = signing_key
            self.mav.signing.sign_outgoing = True
            self.mav.signing.link_id = 1
            self.mav.signing.timestamp = int((wall_s - SIGNING_EPOCH_S) * 100_000)

    def pack(self, msg: Any) -> bytes:
        frame: bytes = msg.pack(self.mav, force_mavlink1=self.mavlink1)
        self.mav.seq = (self.mav.seq + 1) % 256
        return frame


def _fly(
    streams: Sequence[tuple[float, Builder]],
    sender: _Sender,
    seconds: float,
    seed: int,
    extra: Callable[[_Flight, int], list[bytes]] | None = None,
) -> list[bytes]:
    flight = _Flight(random.Random(seed))
    frames: list[bytes] = []
    ticks = round(seconds * TICK_HZ)
    for tick in range(ticks):
        flight.step(1.0 / TICK_HZ)
        for rate_hz, build in streams:
            every = max(1, round(TICK_HZ / rate_hz))
            if tick % every == 0:
                frames.append(sender.pack(build(sender.mav, flight)))
        if extra is not None:
            frames += extra(flight, tick)
    return frames


def ardupilot_copter(
    seconds: float = 60.0,
    *,
    sysid: int = 1,
    seed: int = 1,
    mavlink1: bool = False,
    signing_key: bytes | None = None,
) -> list[bytes]:
    """Return the frames an ArduCopter (and its SiK radio) sends in ``seconds``.

    Its parameters first, as a ground station's fetch gets them; STATUSTEXT now
    and then; a signing key makes every frame of the autopilot signed.
    """
    sender = _Sender(sysid, 1, mavlink1=mavlink1, signing_key=signing_key)
    radio = _Sender(SIK_SYSID, SIK_COMPID, mavlink1=mavlink1)
    names = [b"FENCE_ENABLE", b"FENCE_ACTION", b"FENCE_ALT_MAX", b"SYSID_THISMAV"]
    frames = [
        sender.pack(sender.mav.param_value_encode(name, float(i), 9, len(names), i))
        for i, name in enumerate(names)
    ]

    def extra(f: _Flight, tick: int) -> list[bytes]:
        out: list[bytes] = []
        if tick % TICK_HZ == 0:
            rssi = f.rng.randrange(60, 200)
            out.append(
                radio.pack(
                    radio.mav.radio_status_encode(rssi, rssi - 5, 100, 40, 42, 0, 0)
                )
            )
        if tick % (7 * TICK_HZ) == 3:
            text = (
                b"PreArm: fence requires position"
                if f.armed
                else b"EKF3 IMU0 in-flight yaw alignment complete"
            )
            out.append(sender.pack(sender.mav.statustext_encode(6, text, 0, 0)))
        return out

    return frames + _fly(ARDUCOPTER_STREAMS, sender, seconds, seed, extra)


def px4_multicopter(
    seconds: float = 60.0, *, sysid: int = 1, seed: int = 2
) -> list[bytes]:
    """Return the frames a PX4 multicopter sends on a GCS link in ``seconds``."""
    sender = _Sender(sysid, 1)

    def extra(f: _Flight, tick: int) -> list[bytes]:
        if tick % (11 * TICK_HZ) != 7:
            return []
        text = "Takeoff detected" if f.armed else "Landing detected"
        return [sender.pack(sender.mav.statustext_encode(6, text.encode(), 0, 0))]

    return _fly(PX4_STREAMS, sender, seconds, seed, extra)


def random_value(rng: random.Random, ftype: str) -> Any:
    """A value for a field of MAVLink type ``ftype``: anywhere in an integer's
    range (its ends often), a special or random float."""
    if ftype in ("float", "double"):
        if rng.random() < 0.5:
            return rng.choice(SPECIAL_FLOATS)
        return rng.uniform(-1e4, 1e4)
    low, high = _INT_RANGES[ftype]
    roll = rng.random()
    if roll < 0.15:
        return low
    if roll < 0.3:
        return high
    if roll < 0.45:
        return 0
    return rng.randint(low, high)


def random_message(rng: random.Random, msg_type: Any) -> Any:
    """Return an instance of the pymavlink message class ``msg_type`` with random
    values (``random_value``); text fields get random bytes."""
    values: list[Any] = []
    for ftype, length in zip(
        msg_type.fieldtypes, _lengths_by_field(msg_type), strict=True
    ):
        if ftype == "char":
            values.append(rng.randbytes(rng.randrange(0, length + 1)))
        elif length > 1:
            values.append([random_value(rng, ftype) for _ in range(length)])
        else:
            values.append(random_value(rng, ftype))
    return msg_type(*values)


def _lengths_by_field(msg_type: Any) -> list[int]:
    """Array lengths in the order of ``fieldnames`` (1 for a scalar)."""
    return [max(1, msg_type.array_lengths[order]) for order in msg_type.orders]


def random_frames(
    rng: random.Random, msg_ids: Sequence[int], count: int, *, sysid: int = 9
) -> list[bytes]:
    """``count`` MAVLink 2 frames of random messages of ``msg_ids``."""
    sender = _Sender(sysid, 1)
    return [
        sender.pack(random_message(rng, mavlink.mavlink_map[rng.choice(msg_ids)]))
        for _ in range(count)
    ]


def bundle(frames: Sequence[bytes], rng: random.Random, most: int = 4) -> list[bytes]:
    """Pack consecutive ``frames`` into datagrams of 1..``most`` frames each."""
    datagrams: list[bytes] = []
    at = 0
    while at < len(frames):
        take = rng.randint(1, most)
        datagrams.append(b"".join(frames[at : at + take]))
        at += take
    return datagrams
