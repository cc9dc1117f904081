"""Benchmark: the gateway's MAVLink decoding per datagram against pymavlink's own.

Run ``python bench/codec.py [--runs 5]``. The traffic is the gateway benchmark's
(``bench/gateway_stream.py``: GLOBAL_POSITION_INT at 10 Hz, HEARTBEAT, SYS_STATUS,
ATTITUDE, VFR_HUD, GPS_RAW_INT and BATTERY_STATUS at 1 Hz, MAVLink 2 from
pymavlink's encoder) for ``DRONES`` drones, one frame per datagram as the gateway's
UDP socket hands them over. In the same run, ``--runs`` times each, it times:

- ``pymavlink``: bare ``MAVLink.parse_buffer`` (``robust_parsing``), one call per
  datagram: the parser alone, no conversion, nothing kept;
- ``codec``: ``LinkCodec.feed`` (datagram framing), one call per datagram: framing,
  CRC, signing check, seq accounting, raw frames for the tlog, typed messages in
  SI units, i.e. everything ``telemetry/live/ingest.py`` gets from the codec.

It prints CPU microseconds per message (medians over the runs) and, last, one JSON
line: ``fast_msgs_per_s`` (the codec), ``pymavlink_msgs_per_s``,
``ratio_fast_vs_pymavlink``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from bench.gateway_fleet import Role, SimDrone
from bench.gateway_stream import encode_loop
from telemetry.mavlink.codec import LinkCodec

DRONES = 40
"""40 drones x 256 frames of one 16 s loop: 10,240 datagrams per pass."""
PASSES = 5
"""Passes over the datagrams per timing (about 50,000 messages)."""
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


def time_codec(datagrams: Sequence[bytes], make: Callable[[], LinkCodec]) -> Timing:
    codec = make()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timings per contender")
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3 (the figures are medians)")
    datagrams = traffic()
    contenders: dict[str, Callable[[], Timing]] = {
        "pymavlink": lambda: time_pymavlink(datagrams),
        "codec": lambda: time_codec(
            datagrams, lambda: LinkCodec("bench", framing="datagram")
        ),
    }
    timings: dict[str, list[Timing]] = {name: [] for name in contenders}
    for _ in range(args.runs):  # interleaved, so a busy moment hits every contender
        for name, run in contenders.items():
            timings[name].append(run())
    print(
        f"{len(datagrams):,} datagrams (1 frame each) x {PASSES} passes, "
        f"{args.runs} runs; medians:"
    )
    result = {name: figures(ts) for name, ts in timings.items()}
    for name, f in result.items():
        print(
            f"  {name:10s} {f.msgs_per_s:12,.0f} msgs/s  "
            f"{f.msgs_per_cpu_s:12,.0f} msgs/CPU-s  {f.cpu_us_per_msg:6.2f} us/msg"
        )
    fast, raw = result["codec"], result["pymavlink"]
    print(
        json.dumps(
            {
                "fast_msgs_per_s": round(fast.msgs_per_s),
                "pymavlink_msgs_per_s": round(raw.msgs_per_s),
                "ratio_fast_vs_pymavlink": round(fast.msgs_per_s / raw.msgs_per_s, 3),
                "codec_cpu_us_per_msg": round(fast.cpu_us_per_msg, 3),
                "pymavlink_cpu_us_per_msg": round(raw.cpu_us_per_msg, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
