"""Benchmark: the gateway's MAVLink decoding per datagram against pymavlink's own.

Run ``python bench/codec.py [--runs 5]``. The traffic is the gateway benchmark's
(``bench/gateway_stream.py``: GLOBAL_POSITION_INT at 10 Hz, HEARTBEAT, SYS_STATUS,
ATTITUDE, VFR_HUD, GPS_RAW_INT and BATTERY_STATUS at 1 Hz, MAVLink 2 from
pymavlink's encoder) for ``DRONES`` drones, one frame per datagram as the gateway's
UDP socket hands them over. In the same run, ``--runs`` times each, it times:

- ``pymavlink``: bare ``MAVLink.parse_buffer`` (``robust_parsing``), one call per
  datagram: the parser alone, no conversion, nothing kept;
- ``fast``: ``LinkCodec.feed`` (datagram framing) as the gateway runs it, one call
  per datagram: framing, CRC, signing check, seq accounting, raw frames for the
  tlog, typed messages in SI units, i.e. everything ``telemetry/live/ingest.py``
  gets from the codec, on its fast path (``telemetry/mavlink/fast_codec.py``);
- ``pymavlink path``: the same codec with ``fast_path=False``, as it was before the
  fast path: every frame through pymavlink's parser, then converted.

The traffic is then run again with ``FRAMES_PER_DATAGRAM`` frames per datagram (as
a router bundles them) and with an ArduPilot-like mix in which half the frames
are ids the gateway does not read (recorded raw, never unpacked). Last, the CRC
alone on a GLOBAL_POSITION_INT frame: the fast path's ``binascii.crc_hqx`` over
bit-reversed bytes, pymavlink's ``fastcrc`` and a 256-entry table in Python.

It prints rates and CPU microseconds per message (medians over the runs) and,
last, one JSON line: ``fast_msgs_per_s``, ``pymavlink_msgs_per_s``,
``ratio_fast_vs_pymavlink`` (the first traffic, one frame per datagram), with the
pymavlink path's figure and the CPU per message of each.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import timeit
from binascii import crc_hqx
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pymavlink.dialects.v20 import ardupilotmega as mavlink

# Run as ``python bench/codec.py``, this file's folder heads sys.path: put the
# repository root there instead, so ``bench.*`` and the packages import.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.gateway_fleet import Role, SimDrone
from bench.gateway_stream import encode_loop
from telemetry.mavlink.codec import LinkCodec
from tests.harness.autopilot_streams import ardupilot_copter, bundle, px4_multicopter

DRONES = 40
"""40 drones x 256 frames of one 16 s loop: 10,240 datagrams per pass."""
PASSES = 5
"""Passes over the datagrams per timing (about 50,000 messages)."""
FRAMES_PER_DATAGRAM = 4
NOW_S = 1_750_000_000.0


def traffic(drones: int = DRONES) -> list[bytes]:
    """One loop of every drone's frames, interleaved as they would arrive."""
    loops = [
        encode_loop(
            SimDrone(
                index=i,
                site=0,
                sysid=1 + i,
                role=Role.BOOKED,
                lat_deg=22.2606,
                lon_deg=114.1289 + i * 1e-4,
                alt_amsl_m=60.0,
                rel_alt_m=55.0,
                phase_s=0.0,
            ),
            22.2606,
            114.1289 + i * 1e-4,
        )
        for i in range(drones)
    ]
    return [loop[k] for k in range(len(loops[0])) for loop in loops]


@dataclass(frozen=True)
class Timing:
    """One timed pass set: messages out, wall and CPU seconds."""

    messages: int
    wall_s: float
    cpu_s: float


def time_pymavlink(datagrams: Sequence[bytes]) -> Timing:
    parser = mavlink.MAVLink(None)
    parser.robust_parsing = True
    parse = parser.parse_buffer
    count = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(PASSES):
        for data in datagrams:
            msgs = parse(data)
            if msgs:
                count += len(msgs)
    return Timing(count, time.perf_counter() - t0, time.process_time() - c0)


def time_codec(datagrams: Sequence[bytes], *, fast_path: bool) -> Timing:
    codec = LinkCodec("bench", framing="datagram", fast_path=fast_path)
    feed = codec.feed
    count = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(PASSES):
        for data in datagrams:
            count += len(feed(data, NOW_S).frames)
    return Timing(count, time.perf_counter() - t0, time.process_time() - c0)


@dataclass(frozen=True)
class Figures:
    """Medians over the runs of one contender."""

    msgs_per_s: float
    msgs_per_cpu_s: float
    cpu_us_per_msg: float


def figures(timings: Sequence[Timing]) -> Figures:
    rate = statistics.median(t.messages / t.wall_s for t in timings)
    per_cpu = statistics.median(t.messages / max(t.cpu_s, 1e-9) for t in timings)
    return Figures(rate, per_cpu, 1e6 / per_cpu)


def measure(datagrams: Sequence[bytes], runs: int) -> dict[str, Figures]:
    """Each contender ``runs`` times, interleaved, so a busy moment hits all."""
    contenders: dict[str, Callable[[], Timing]] = {
        "pymavlink": lambda: time_pymavlink(datagrams),
        "fast": lambda: time_codec(datagrams, fast_path=True),
        "pymavlink path": lambda: time_codec(datagrams, fast_path=False),
    }
    timings: dict[str, list[Timing]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, run in contenders.items():
            timings[name].append(run())
    return {name: figures(ts) for name, ts in timings.items()}


def report(title: str, result: dict[str, Figures]) -> None:
    print(title)
    for name, f in result.items():
        print(
            f"  {name:15s} {f.msgs_per_s:11,.0f} msgs/s  "
            f"{f.msgs_per_cpu_s:11,.0f} msgs/CPU-s  {f.cpu_us_per_msg:6.2f} us/msg"
        )
    fast = result["fast"]
    print(
        f"  fast vs pymavlink: x{fast.msgs_per_s / result['pymavlink'].msgs_per_s:.2f}"
        f"; vs the codec's pymavlink path: "
        f"x{fast.msgs_per_s / result['pymavlink path'].msgs_per_s:.2f}"
    )


def autopilot_mix() -> list[bytes]:
    """ArduCopter's and PX4's streams (``tests/harness/autopilot_streams.py``),
    1-4 frames a datagram: about half are ids the gateway does not read."""
    rng = random.Random(5)
    frames = ardupilot_copter(60.0, sysid=1) + px4_multicopter(60.0, sysid=2)
    return bundle(frames, rng)


def crc_figures(runs: int) -> dict[str, float]:
    """Nanoseconds per GLOBAL_POSITION_INT frame of each way to check its CRC."""
    mav = mavlink.MAVLink(None, 1, 1)
    frame: bytes = mav.global_position_int_encode(1, 2, 3, 4, 5, 6, 7, 8, 9).pack(mav)
    extra: int = mavlink.MAVLink_global_position_int_message.crc_extra
    body, stored = frame[1:-2], int.from_bytes(frame[-2:], "little")
    extra_byte = bytes((extra,))
    reversed_bits = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))
    extra_reversed = extra_byte.translate(reversed_bits)
    table = [0] * 256
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x8408 if c & 1 else c >> 1
        table[i] = c

    def by_table() -> bool:
        crc = 0xFFFF
        for b in body:
            crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
        return (crc >> 8) ^ table[(crc ^ extra) & 0xFF] == stored

    def by_crc_hqx() -> bool:  # what fast_codec does
        rev = frame.translate(reversed_bits)
        return crc_hqx(rev[1:-2] + extra_reversed, 0xFFFF) == rev[-2] << 8 | rev[-1]

    contenders: dict[str, Callable[[], bool]] = {
        "binascii.crc_hqx, bits reversed": by_crc_hqx,
        "256-entry table in Python": by_table,
    }
    try:
        from fastcrc import crc16  # pymavlink's own choice when installed

        mcrf4xx = crc16.mcrf4xx
        contenders["fastcrc (Rust), pymavlink's"] = lambda: (
            mcrf4xx(body + extra_byte, 0xFFFF) == stored
        )
    except ImportError:
        pass
    result: dict[str, float] = {}
    for name, check in contenders.items():
        if not check():
            raise AssertionError(f"{name}: wrong CRC")
        number = 20_000
        best = min(timeit.repeat(check, number=number, repeat=runs))
        result[name] = best / number * 1e9
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timings per contender")
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3 (the figures are medians)")
    gateway = traffic()
    bundled = [
        b"".join(gateway[i : i + FRAMES_PER_DATAGRAM])
        for i in range(0, len(gateway), FRAMES_PER_DATAGRAM)
    ]
    mix = autopilot_mix()
    main_result = measure(gateway, args.runs)
    report(
        f"gateway traffic: {len(gateway):,} datagrams of 1 frame x {PASSES} passes, "
        f"medians of {args.runs} runs",
        main_result,
    )
    report(
        f"gateway traffic, {FRAMES_PER_DATAGRAM} frames a datagram",
        measure(bundled, args.runs),
    )
    report(
        f"ArduCopter + PX4 mix: {len(mix):,} datagrams of 1-4 frames",
        measure(mix, args.runs),
    )
    print("CRC of one GLOBAL_POSITION_INT frame (best of runs):")
    for name, ns in crc_figures(args.runs).items():
        print(f"  {name:32s} {ns:7.0f} ns")
    fast, raw = main_result["fast"], main_result["pymavlink"]
    slow = main_result["pymavlink path"]
    print(
        json.dumps(
            {
                "fast_msgs_per_s": round(fast.msgs_per_s),
                "pymavlink_msgs_per_s": round(raw.msgs_per_s),
                "ratio_fast_vs_pymavlink": round(fast.msgs_per_s / raw.msgs_per_s, 3),
                "pymavlink_path_msgs_per_s": round(slow.msgs_per_s),
                "fast_cpu_us_per_msg": round(fast.cpu_us_per_msg, 3),
                "pymavlink_cpu_us_per_msg": round(raw.cpu_us_per_msg, 3),
                "pymavlink_path_cpu_us_per_msg": round(slow.cpu_us_per_msg, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
