"""Benchmark: the gateway's own CPU per message, without sockets, database or clock.

The same fleet and MAVLink stream as ``bench/gateway.py`` (one frame per datagram,
16 msgs/s per drone, conformance on every position), fed in simulated time to one
in-process :class:`~telemetry.live.gateway.Gateway` with its real hub and
``--viewers`` staff subscribers whose queues are drained as a websocket sender
would; a tick every 20 ms of stream time. What ``bench/gateway.py`` measures
end to end, this measures for the Python path alone, repeatably (CPU time of
this process), with ``--profile`` to say where the time goes.

In the same run, the baseline: pymavlink's bare ``parse_buffer`` on the same
datagrams (one call per datagram, as the gateway is fed).

Last line: one JSON object with ``drones``, ``messages``, ``gateway_us_per_msg``,
``gateway_msgs_per_cpu_s``, ``raw_parse_msgs_per_s``, ``ratio_vs_raw_parse``
(medians of ``--repeats``) and ``us_per_msg_by_part``: CPU per message of
decoding, of the rest of ``ingest``, of the ticks and of the conformance checks
(medians of ``--repeats`` more runs, timed by part).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from airspace.site_files import demo_site_path, load_site
from airspace.site_parse import parse_site
from bench.gateway_fleet import FleetLayout, make_layout
from bench.gateway_server import CORRIDOR_CAPACITY, drone_key
from bench.gateway_stream import SendPlan, build_plan, raw_parse
from telemetry.live.fleet import BookingEntry, DroneEntry, FleetDirectory
from telemetry.live.gateway import Gateway
from telemetry.live.hub import Audience, LiveHub
from telemetry.live.site_monitor import SiteMonitor
from telemetry.mavlink.codec import LinkCodec
from tests.harness.sites import site_copy, site_id

T0 = 1_795_000_000.0
TICK_S = 0.02


def directory(layout: FleetLayout, base_id: str) -> FleetDirectory:
    drones, bookings = [], []
    for d in layout.registered:
        site = f"{base_id}-{d.site}"
        key = drone_key(d)
        drones.append(DroneEntry(key, key, site, "bench", d.sysid))
        bookings.append(
            BookingEntry(
                d.index + 1,
                key,
                site,
                "bench",
                layout.corridor_id,
                T0 - 600,
                T0 + 7200,
                "active",
            )
        )
    return FleetDirectory(tuple(drones), tuple(bookings))


def run_once(
    layout: FleetLayout,
    plan: SendPlan,
    viewers: int,
    profile: cProfile.Profile | None,
    split: dict[str, float] | None = None,
) -> tuple[float, int]:
    """Feed the whole plan once; return (CPU seconds, messages). With ``split``,
    add to it the CPU seconds of the ticks (``tick_s``) and of the conformance
    checks in them and in ``ingest`` (``conformance_s``)."""
    base = load_site(demo_site_path())
    sites = {
        site_id(base, k): parse_site(site_copy(base, k, CORRIDOR_CAPACITY))
        for k in range(layout.sites)
    }
    hub = LiveHub()
    subs = [
        hub.connect(Audience(sees_all=True, operator_id=None)) for _ in range(viewers)
    ]
    gateway = Gateway(sites, hub)
    gateway.set_directory(directory(layout, base.id), T0)
    links = [f"udpin:127.0.0.1:{20000 + k}" for k in range(layout.links)]
    sources = [("127.0.0.1", 30000 + k) for k in range(layout.links)]
    view = memoryview(plan.blob)
    starts, ends, drone_of, times = plan.starts, plan.ends, plan.drone, plan.times_s
    link_of = [d.link for d in layout.drones]
    messages = 0
    next_tick = 0.0
    started = time.process_time()
    if profile is not None:
        profile.enable()
    for k in range(len(times)):
        t = times[k]
        while t >= next_tick:
            if split is None:
                gateway.tick(T0 + next_tick)
            else:
                tick_started = time.process_time()
                gateway.tick(T0 + next_tick)
                split["tick_s"] += time.process_time() - tick_started
            for sub in subs:
                while sub.next_frame_nowait() is not None:
                    pass
            next_tick += TICK_S
        start = starts[k]
        if start < 0:
            continue
        link = link_of[drone_of[k]]
        gateway.ingest(links[link], bytes(view[start : ends[k]]), T0 + t, sources[link])
        messages += 1
    if profile is not None:
        profile.disable()
    return time.process_time() - started, messages


def decode_only(layout: FleetLayout, plan: SendPlan) -> float:
    """CPU seconds of the codecs alone on the plan's datagrams (fresh codecs, one
    per link, as the gateway's), decoding as the gateway does: ``take_single``
    for a datagram that is one clean hot frame, ``feed`` for the rest."""
    codecs = [
        LinkCodec(f"udpin:127.0.0.1:{20000 + k}", {}, framing="datagram")
        for k in range(layout.links)
    ]
    view = memoryview(plan.blob)
    link_of = [d.link for d in layout.drones]
    started = time.process_time()
    for k, t in enumerate(plan.times_s):
        start = plan.starts[k]
        if start >= 0:
            codec = codecs[link_of[plan.drone[k]]]
            data = bytes(view[start : plan.ends[k]])
            if codec.take_single(data, T0 + t) is None:
                codec.feed(data, T0 + t)
    return time.process_time() - started


def split_run(layout: FleetLayout, plan: SendPlan, viewers: int) -> dict[str, float]:
    """One more run, timed by part: CPU seconds of decoding (a separate pass over
    the same datagrams), the ticks, the conformance checks (timed around
    ``SiteMonitor.evaluate`` for this run), and the rest (``ingest`` besides
    decoding, and this loop's slicing)."""
    split = {"tick_s": 0.0, "conformance_s": 0.0}
    evaluate = SiteMonitor.evaluate

    def timed(self: SiteMonitor, *args: Any) -> Any:
        checked = time.process_time()
        try:
            return evaluate(self, *args)
        finally:
            split["conformance_s"] += time.process_time() - checked

    SiteMonitor.evaluate = timed  # type: ignore[method-assign, assignment]
    try:
        total, _ = run_once(layout, plan, viewers, None, split)
    finally:
        SiteMonitor.evaluate = evaluate  # type: ignore[method-assign]
    decode = decode_only(layout, plan)
    return {
        "total_s": total,
        "decode_s": decode,
        "ingest_rest_s": total - decode - split["tick_s"],
        **split,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="bench/ingest.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--drones", type=int, default=1000, help="fleet size (1000)")
    parser.add_argument("--seconds", type=float, default=8.0, help="stream time (8)")
    parser.add_argument(
        "--viewers", type=int, default=10, help="staff subscribers (10)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs, median (3)")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="print the N costliest functions of one more, profiled run",
    )
    args = parser.parse_args()
    base = load_site(demo_site_path())
    layout = make_layout(
        base,
        "C1",
        args.drones,
        round(args.drones * 0.05),
        20,
        10,
        args.seconds * 0.5,
        args.seconds - 1.0,
        ramp_s=1.0,
    )
    plan = build_plan(layout, args.seconds)
    datagrams = plan.window(0.0, args.seconds)
    raw = raw_parse(datagrams, args.repeats)
    runs = [run_once(layout, plan, args.viewers, None) for _ in range(args.repeats)]
    cpu = statistics.median(r[0] for r in runs)
    messages = runs[0][1]
    per_cpu = messages / cpu
    print(
        f"{args.drones} drones, {messages:,} messages in {args.seconds:.0f} s of "
        f"stream: gateway {1e6 * cpu / messages:.1f} us/msg "
        f"({per_cpu:,.0f} msgs per CPU-s, median of {args.repeats}); pymavlink "
        f"parse_buffer alone {raw.msgs_per_s:,.0f} msgs/s"
    )
    splits = [split_run(layout, plan, args.viewers) for _ in range(args.repeats)]
    part_us = {
        name: round(1e6 * statistics.median(r[name] for r in splits) / messages, 2)
        for name in ("decode_s", "ingest_rest_s", "tick_s", "conformance_s")
    }
    print(
        f"where the CPU goes, us per message (medians of {args.repeats} timed "
        f"runs): decoding {part_us['decode_s']}, the rest of ingest and the feed "
        f"loop {part_us['ingest_rest_s']}, ticks {part_us['tick_s']} (of which "
        f"conformance checks {part_us['conformance_s']}, some of them in ingest)"
    )
    if args.profile:
        profile = cProfile.Profile()
        run_once(layout, plan, args.viewers, profile)
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)
    print(
        json.dumps(
            {
                "drones": args.drones,
                "messages": messages,
                "gateway_us_per_msg": round(1e6 * cpu / messages, 2),
                "gateway_msgs_per_cpu_s": round(per_cpu),
                "raw_parse_msgs_per_s": round(raw.msgs_per_s),
                "ratio_vs_raw_parse": round(per_cpu / raw.msgs_per_s, 3),
                "us_per_msg_by_part": {
                    name.removesuffix("_s"): us for name, us in part_us.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
