"""Benchmark: the telemetry gateway of a real ``skyberth serve`` under a drone fleet.

Each configuration runs a fresh server (one process, SQLite, conformance on) and,
in the same run:

1. encodes a few seconds of MAVLink 2 per simulated drone once (pymavlink's
   encoder): GLOBAL_POSITION_INT at 10 Hz plus HEARTBEAT, SYS_STATUS, ATTITUDE,
   VFR_HUD, GPS_RAW_INT and BATTERY_STATUS at 1 Hz = 16 msgs/s per drone, with each
   drone's own continuous sequence numbers; one frame per UDP datagram by default
   (``--frames-per-datagram`` bundles a drone's consecutive frames, as a router
   might); every drone sends from its own UDP socket;
2. times pymavlink's bare ``MAVLink(None).parse_buffer`` (robust_parsing, one call
   per datagram) on that very stream: the baseline ``raw_parse_msgs_per_s``,
   median of ``--repeats`` before the load and ``--repeats`` after;
3. registers drones and books the bench corridor for them through the REST API
   (operator creates, site admin approves); the other drones stay unregistered;
4. connects K websocket viewers with a safety officer's token, in a process of
   their own;
5. replays the stream in real time from a separate sender process: the warm-up
   (every unregistered drone opens its ``unbooked_flight`` incident then), then the
   measuring window in which ``--breachers`` booked drones step 30 m outside the
   corridor and ``--intruders`` unregistered drones appear, at staggered known
   instants;
6. measures over the window: ingest (frames decoded by the server, from
   ``GET /api/v1/telemetry/links`` ``frames_ok``; median of 1 s slices), server CPU
   (``/proc``), lost datagrams (sent by the sender minus ``datagrams_in`` of the
   server's links, over the whole run) and the codec's ``seq_lost``; breach latency
   = first out-of-corridor (or first intruder) datagram sent -> that vehicle's
   ``event`` frame (``corridor_exit_lateral`` / ``unbooked_flight``) received, for
   every viewer; viewer frame latency = receive time - the ``vehicles`` frame's
   ``t_s``.

A MAVLink system id is 8 bits, so a fleet over 250 drones arrives on several
``udpin`` links (ports); registered ids are used on link 0 only (the gateway maps
system ids to drones whatever the link).

Targets (issue 4): the fleet run (1,000 drones, 100 viewers) loses no datagram and
has ``breach_latency_p99_ms`` <= 250; the big run (5,000 drones) reaches
``ratio_vs_raw_parse`` >= 0.5. Breaches are confirmed on the second outside position
(100 ms later at 10 Hz), which is part of the latency. The last line printed is one
JSON object: the fleet run's figures, the big run's under ``big_*``, ``missed``
and a ``note`` whenever a target is missed.

Run: ``python bench/gateway.py`` (both runs), ``--big-drones 0`` (fleet run only),
``--drones 0`` (big run only). The machine's other load shows as ``others_cores``.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

# Run as ``python bench/gateway.py``, this file's folder heads sys.path, and
# bench/booking.py would shadow the ``booking`` package; put the repository root
# there instead, which also makes ``bench.gateway_*`` importable.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from airspace.site_files import demo_site_path, load_site
from bench.gateway_fleet import FleetLayout, Role, make_layout
from bench.gateway_sender import SenderReport, run_sender
from bench.gateway_server import (
    STAFF,
    BenchServer,
    GatewaySample,
    UdpQueueWatch,
    bench_server,
    process_cpu_s,
    read_metrics,
    register_and_book,
    sample_gateway,
    seed_fleet,
    udp_socket_queues,
    write_bench_sites,
)
from bench.gateway_stream import MSGS_PER_S, RawParse, SendPlan, build_plan, raw_parse
from bench.gateway_viewers import EventSeen, ViewerResult, run_viewers

TAIL_S = 1.5
"""The sender keeps sending this long after the window (the last breaches' events)."""
SETTLE_S = 1.0
EVENT_GRACE_S = 5.0
"""Viewers keep listening this long after the final reading for late breach
events; a breach event not received by then counts as missed."""
DRAIN_TIMEOUT_S = 120.0
"""Wait after the sender stops before reading the final counters."""
RAW_SAMPLE_DATAGRAMS = 40_000
RAMP = 0.5
"""Unregistered drones take off at random over this share of the warm-up."""
BREACH_KIND = {Role.BREACHER: "corridor_exit_lateral", Role.INTRUDER: "unbooked_flight"}
IGNORED_KINDS = ("predicted_exit", "near_edge", "link_lost", "link_restored")
"""Not a wrong answer to a breach: warnings before it, the sender's stop after."""
TARGET_BREACH_P99_MS = 250.0
TARGET_RATIO = 0.5


@dataclass(frozen=True)
class Case:
    """One configuration to run."""

    label: str
    drones: int
    viewers: int
    seconds: float
    warmup_s: float


def main() -> None:
    args = _parser().parse_args()
    cases = [
        Case("fleet", args.drones, args.viewers, args.seconds, args.warmup),
        Case(
            "big", args.big_drones, args.big_viewers, args.big_seconds, args.big_warmup
        ),
    ]
    results: dict[str, dict[str, Any]] = {}
    for case in cases:
        if case.drones > 0:
            results[case.label] = run_case(case, args)
    if not results:
        raise SystemExit("nothing to run: --drones and --big-drones are both 0")
    print_table(results)
    print(json.dumps(summary(results), default=_json_default))


class _HelpFormatter(
    argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter
):
    """The module docstring as written, and every option's default."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/gateway.py",
        description=__doc__,
        formatter_class=_HelpFormatter,
    )
    fleet = parser.add_argument_group("fleet run (targets: 0 lost, breach p99 <= 250)")
    fleet.add_argument("--drones", type=int, default=1000, help="0 skips this run")
    fleet.add_argument(
        "--viewers", type=int, default=100, help="websocket viewers (staff token)"
    )
    fleet.add_argument("--seconds", type=float, default=10.0, help="measuring window")
    fleet.add_argument(
        "--warmup", type=float, default=6.0, help="seconds of traffic before it"
    )
    big = parser.add_argument_group("big run (target: ratio_vs_raw_parse >= 0.5)")
    big.add_argument("--big-drones", type=int, default=5000, help="0 skips this run")
    big.add_argument("--big-viewers", type=int, default=1, help="websocket viewers")
    big.add_argument("--big-seconds", type=float, default=10.0, help="window")
    big.add_argument(
        "--big-warmup", type=float, default=10.0, help="seconds of traffic before it"
    )
    fleet_shape = parser.add_argument_group("both runs")
    fleet_shape.add_argument(
        "--unregistered-pct",
        type=float,
        default=5.0,
        help="share of the fleet flying unregistered (one incident each); the rest "
        "are registered and booked",
    )
    fleet_shape.add_argument(
        "--breachers", type=int, default=20, help="booked drones that leave"
    )
    fleet_shape.add_argument(
        "--intruders", type=int, default=10, help="unregistered drones that appear"
    )
    fleet_shape.add_argument(
        "--api-drones",
        type=int,
        default=50,
        help="drones registered and booked through the REST API (every breacher "
        "among them); the rest go straight through the booking services, because "
        "each API registration reloads the server's whole fleet directory",
    )
    fleet_shape.add_argument("--corridor", default="C1", help="the booked corridor")
    fleet_shape.add_argument(
        "--frames-per-datagram",
        type=int,
        default=1,
        choices=(1, 2, 4, 8, 16),
        help="consecutive frames of one drone per datagram (1 = as autopilots send)",
    )
    fleet_shape.add_argument(
        "--viewer-deflate",
        action="store_true",
        help="viewers offer permessage-deflate, as browsers do (default: off)",
    )
    fleet_shape.add_argument(
        "--repeats", type=int, default=5, help="raw-parse repeats, before and after"
    )
    fleet_shape.add_argument("--log-level", default="WARNING", help="server log level")
    fleet_shape.add_argument(
        "--keep", action="store_true", help="keep each run's data dir (logs, DB)"
    )
    return parser


# --- one run ----------------------------------------------------------------------


def run_case(case: Case, args: argparse.Namespace) -> dict[str, Any]:
    """Run one configuration end to end; return its figures."""
    tag = f"[{case.label} {case.drones} drones, {case.viewers} viewers]"
    tmp = Path(tempfile.mkdtemp(prefix=f"skyberth-gwbench-{case.label}-"))
    try:
        return _run_case(case, args, tmp, tag)
    finally:
        if args.keep:
            print(f"{tag} data kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _run_case(
    case: Case, args: argparse.Namespace, tmp: Path, tag: str
) -> dict[str, Any]:
    base = load_site(demo_site_path())
    unregistered = round(case.drones * args.unregistered_pct / 100)
    unregistered = max(0, min(unregistered, case.drones - args.intruders))
    registered = case.drones - unregistered - args.intruders
    breachers = min(args.breachers, registered)
    window = (case.warmup_s, case.warmup_s + case.seconds)
    layout = make_layout(
        base,
        args.corridor,
        case.drones,
        unregistered,
        breachers,
        args.intruders,
        window[0] + 0.5,
        window[1] - 1.0,
        ramp_s=RAMP * case.warmup_s,
    )
    site_paths = write_bench_sites(tmp, base, layout.sites)
    duration = window[1] + TAIL_S
    print(
        f"{tag} encoding {duration:.1f} s of MAVLink 2 for {case.drones} drones "
        f"at {layout.sites} sites ({registered} booked incl. {breachers} breachers, "
        f"{unregistered} unregistered, {args.intruders} intruders)",
        flush=True,
    )
    t0 = time.perf_counter()
    plan = build_plan(layout, duration, args.frames_per_datagram)
    print(
        f"{tag} {plan.datagrams:,} datagrams, {len(plan.blob) / 1e6:.1f} MB encoded "
        f"in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    sample = _raw_sample(plan, window[0])
    raw = raw_parse(sample, args.repeats)
    print(
        f"{tag} raw parse_buffer before: {raw.msgs_per_s:,.0f} msgs/s "
        f"({len(sample):,} datagrams, median of {args.repeats})",
        flush=True,
    )
    via_api = [d for d in layout.registered if d.role is Role.BREACHER]
    via_api += [d for d in layout.registered if d.role is Role.BOOKED][
        : max(0, args.api_drones - len(via_api))
    ]
    api_ids = {d.index for d in via_api}
    seeded = [d for d in layout.registered if d.index not in api_ids]

    def prepare(db_url: str) -> None:
        t0 = time.perf_counter()
        seed_fleet(db_url, base, layout, seeded)
        print(
            f"{tag} {len(seeded)} drones registered and booked through the booking "
            f"services in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )

    with bench_server(tmp, site_paths, layout.links, args.log_level, prepare) as server:
        print(f"{tag} server pid {server.process.pid} up", flush=True)
        t0 = time.perf_counter()
        n_api, last_start = register_and_book(server, layout, base, via_api)
        print(
            f"{tag} {n_api} drones (every breacher) registered and booked through "
            f"the REST API in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        n_booked = n_api + len(seeded)
        # Let every booking start and the directory refresh pick them up.
        time.sleep(max(0.0, last_start.timestamp() - time.time()) + 1.5)
        measured = _drive(case, args, server, layout, plan, window, duration, tag)
    raw_after = raw_parse(sample, args.repeats)
    print(
        f"{tag} raw parse_buffer after: {raw_after.msgs_per_s:,.0f} msgs/s", flush=True
    )
    return figures(case, args, layout, plan, raw.merged(raw_after), n_booked, measured)


def _raw_sample(plan: SendPlan, from_s: float) -> list[bytes]:
    """At least RAW_SAMPLE_DATAGRAMS of the stream from ``from_s`` (all if fewer)."""
    per_s = max(1.0, plan.datagrams / plan.duration_s)
    span = max(1.0, RAW_SAMPLE_DATAGRAMS / per_s)
    start = max(0.0, min(from_s, plan.duration_s - span))
    return plan.window(start, start + span)


@dataclass
class Measured:
    samples: list[GatewaySample]
    final: GatewaySample
    metrics: dict[str, float]
    sender: SenderReport
    viewers: ViewerResult | None
    viewers_cpu_s: float
    started_s: float
    udp_ports: list[int]
    udp_queue_mb_max: float
    """Most bytes waiting in the server's UDP receive buffers during the window."""
    udp_kernel_drops: int
    """Datagrams the kernel dropped at the server's sockets (buffers full)."""


def _drive(
    case: Case,
    args: argparse.Namespace,
    server: BenchServer,
    layout: FleetLayout,
    plan: SendPlan,
    window: tuple[float, float],
    duration: float,
    tag: str,
) -> Measured:
    ctx = mp.get_context("fork")
    viewers_conn = viewers_proc = None
    if case.viewers > 0:
        viewers_conn, child = ctx.Pipe()
        url = f"{server.ws_url}?token={server.tokens[STAFF]}"
        viewers_proc = ctx.Process(
            target=run_viewers,
            args=(url, case.viewers, args.viewer_deflate, child),
            name="bench-viewers",
        )
        viewers_proc.start()
        child.close()
        if not viewers_conn.poll(300):
            raise SystemExit(f"{tag} viewers did not connect within 300 s")
        _, connected, errors = viewers_conn.recv()
        print(f"{tag} {connected}/{case.viewers} viewers connected", flush=True)
        for error in errors[:5]:
            print(f"{tag}   {error}")
    sender_conn, child = ctx.Pipe()
    ports = server.udp_ports
    sender = ctx.Process(
        target=run_sender,
        args=(plan, ports, [d.link for d in layout.drones], child),
        name="bench-sender",
    )
    sender.start()
    child.close()
    if not sender_conn.poll(120) or sender_conn.recv() != "ready":
        raise SystemExit(f"{tag} the sender did not get ready")
    start_at = time.time() + 0.5
    sender_conn.send(start_at)
    win_from, win_to = start_at + window[0], start_at + window[1]
    if viewers_conn is not None:
        viewers_conn.send(("go", win_from, win_to))
    print(
        f"{tag} sending {case.warmup_s:.0f} s warm-up + {case.seconds:.0f} s window "
        f"+ {TAIL_S} s tail",
        flush=True,
    )
    with UdpQueueWatch(ports) as watch:
        _sleep_until(win_from)
        samples = [sample_gateway(server)]
        viewers_pid = viewers_proc.pid if viewers_proc else None
        viewer_cpu0 = process_cpu_s(viewers_pid) if viewers_pid else 0.0
        while time.time() < win_to - 0.05:
            _sleep_until(min(win_to, samples[-1].t_s + 1.0))
            samples.append(sample_gateway(server))
            prev, cur = samples[-2], samples[-1]
            dt = cur.t_s - prev.t_s
            queued = watch.samples[-1][1] if watch.samples else 0
            print(
                f"{tag}   +{cur.t_s - start_at:5.1f} s  ingest "
                f"{(cur.frames_ok - prev.frames_ok) / dt:8,.0f} msgs/s  server "
                f"{(cur.server_cpu_s - prev.server_cpu_s) / dt:4.0%} CPU  UDP "
                f"backlog {queued / 1e6:5.1f} MB  tick max {cur.tick_ms_max:.0f} ms  "
                f"GET {cur.request_s * 1000:.0f} ms",
                flush=True,
            )
        viewers_cpu_s = process_cpu_s(viewers_pid) - viewer_cpu0 if viewers_pid else 0.0
        if not sender_conn.poll(duration + 120):
            raise SystemExit(f"{tag} the sender did not finish")
        report: SenderReport = sender_conn.recv()
        sender.join(30)
        if report.error:
            raise SystemExit(f"{tag} sender failed: {report.error}")
        # Count losses only once the server has read everything queued for it.
        t_sent = time.time()
        while udp_socket_queues(ports)[0] and time.time() < t_sent + DRAIN_TIMEOUT_S:
            time.sleep(0.1)
        drain_s = time.time() - t_sent
        time.sleep(SETTLE_S)
        final = sample_gateway(server)
        metrics = read_metrics(server)
        if drain_s > 0.5:
            print(f"{tag} the server needed {drain_s:.1f} s to read its backlog")
    queue_mb_max = watch.max_queued_bytes(win_from, win_to) / 1e6
    kernel_drops = watch.samples[-1][2] if watch.samples else 0
    viewers: ViewerResult | None = None
    if viewers_conn is not None and viewers_proc is not None:
        time.sleep(EVENT_GRACE_S)
        viewers_conn.send(("stop",))
        if viewers_conn.poll(120):
            message = viewers_conn.recv()
            viewers = message[1] if message[0] == "result" else None
        viewers_proc.join(30)
        if viewers is None:
            print(f"{tag} viewers sent no result")
        else:
            if viewers.error:
                print(f"{tag} viewers: {viewers.error}")
            for at_s, line in viewers.closed_early[:3]:
                print(f"{tag} at +{at_s - start_at:.1f} s the server closed {line}")
            if len(viewers.closed_early) > 3:
                print(f"{tag} ... {len(viewers.closed_early)} closures in all")
    return Measured(
        samples,
        final,
        metrics,
        report,
        viewers,
        viewers_cpu_s,
        start_at,
        ports,
        queue_mb_max,
        kernel_drops,
    )


def _sleep_until(t_s: float) -> None:
    time.sleep(max(0.0, t_s - time.time()))


# --- figures ----------------------------------------------------------------------


def figures(
    case: Case,
    args: argparse.Namespace,
    layout: FleetLayout,
    plan: SendPlan,
    raw: RawParse,
    n_booked: int,
    m: Measured,
) -> dict[str, Any]:
    """The run's figures, as they go into the JSON line (rounded)."""
    first, last = m.samples[0], m.samples[-1]
    wall = max(last.t_s - first.t_s, 1e-9)
    slices = [
        (b.frames_ok - a.frames_ok) / (b.t_s - a.t_s) for a, b in pairwise(m.samples)
    ]
    ingest = statistics.median(slices) if slices else 0.0
    ingest_mean = (last.frames_ok - first.frames_ok) / wall
    server_cpu = (last.server_cpu_s - first.server_cpu_s) / wall
    machine = (last.machine_busy_s - first.machine_busy_s) / wall
    offered = _offered_msgs_per_s(plan, case.warmup_s, case.warmup_s + case.seconds)
    per_cpu = (last.frames_ok - first.frames_ok) / max(
        last.server_cpu_s - first.server_cpu_s, 1e-9
    )
    sender_cores = m.sender.cpu_s / max(m.sender.wall_s, 1e-9)
    viewer_cores = m.viewers_cpu_s / wall
    lost = m.sender.datagrams_sent - m.final.datagrams_in
    breach = breach_figures(layout, m)
    v = m.viewers
    lat = sorted(v.frame_latency_s) if v else []
    out: dict[str, Any] = {
        "drones": case.drones,
        "viewers": case.viewers,
        "viewers_connected": v.connected if v else 0,
        "seconds": case.seconds,
        "links": layout.links,
        "booked": n_booked,
        "frames_per_datagram": plan.frames_per_datagram,
        "offered_msgs_per_s": round(offered),
        "ingest_msgs_per_s": round(ingest),
        "ingest_msgs_per_s_mean": round(ingest_mean),
        "ingest_msgs_per_s_min": round(min(slices)) if slices else 0,
        "raw_parse_msgs_per_s": round(raw.msgs_per_s),
        "raw_parse_bulk_msgs_per_s": round(raw.bulk_msgs_per_s),
        "ratio_vs_raw_parse": round(ingest / raw.msgs_per_s, 3),
        "ingest_msgs_per_server_cpu_s": round(per_cpu),
        "ratio_per_cpu_vs_raw_parse": round(per_cpu / raw.msgs_per_cpu_s, 3),
        "datagrams_sent": m.sender.datagrams_sent,
        "datagrams_received": m.final.datagrams_in,
        "lost_datagrams": lost,
        "seq_lost": m.final.seq_lost,
        "udp_kernel_drops": m.udp_kernel_drops,
        "udp_backlog_mb_max": round(m.udp_queue_mb_max, 2),
        "stats_request_ms_max": round(1000 * max(s.request_s for s in m.samples), 1),
        "bad_input": {k: n for k, n in m.final.bad_input.items() if n},
        **breach,
        "viewer_frame_latency_p50_ms": _pct_ms(lat, 0.5),
        "viewer_frame_latency_p99_ms": _pct_ms(lat, 0.99),
        "viewer_frames": len(lat),
        "viewer_frames_by_type": dict(v.frames) if v else {},
        "viewer_seq_gaps": v.seq_gaps if v else 0,
        "viewer_dropped_frames": v.dropped_reported if v else 0,
        "viewer_mb_per_s": round(
            (v.bytes_received if v else 0) / 1e6 / max(case.seconds + case.warmup_s, 1),
            1,
        ),
        "viewer_reconnects": v.reconnects if v else 0,
        "viewer_loop_lag_ms_p99": round(v.loop_lag_ms_p99, 1) if v else None,
        "snapshot_kb_max": round((v.snapshot_bytes_max if v else 0) / 1e3, 1),
        "server_cpu_pct": round(100 * server_cpu, 1),
        "sender_cpu_pct": round(100 * sender_cores, 1),
        "viewers_cpu_pct": round(100 * viewer_cores, 1),
        "others_cores": round(
            max(0.0, machine - server_cpu - sender_cores - viewer_cores), 2
        ),
        "sender_late_ms_p99": round(m.sender.late_ms_p99, 1),
        "sender_late_ms_max": round(m.sender.late_ms_max, 1),
        "tick_ms_max": round(last.tick_ms_max, 1),
        "vehicles": last.vehicles,
        "events_total": {
            k.split('"')[1]: int(n)
            for k, n in m.metrics.items()
            if k.startswith("skyberth_events_total{")
        },
        "live_frames_dropped_total": int(
            m.metrics.get("skyberth_live_frames_dropped_total", 0)
        ),
    }
    return out


def _offered_msgs_per_s(plan: SendPlan, from_s: float, to_s: float) -> float:
    frames = sum(
        plan.frames_per_datagram
        for k, t in enumerate(plan.times_s)
        if from_s <= t < to_s and plan.starts[k] >= 0
    )
    return frames / (to_s - from_s)


def breach_figures(layout: FleetLayout, m: Measured) -> dict[str, Any]:
    """Latency from each marked datagram to each viewer's matching event frame."""
    v = m.viewers
    link_ids = {m.udp_ports.index(_port_of(lid)): lid for lid in m.final.link_ids}
    events: dict[str, list[EventSeen]] = defaultdict(list)
    for e in v.events if v else []:
        events[e.vehicle_key].append(e)
    samples: list[float] = []
    firsts: list[float] = []
    detects: list[float] = []
    missed = 0
    wrong: Counter[str] = Counter()
    kinds_of_booked: Counter[str] = Counter()
    drones = {d.index: d for d in layout.drones}
    for d in layout.drones:
        if d.role is Role.BOOKED:
            key = f"{link_ids.get(d.link)}/{d.sysid}"
            for e in events.get(key, []):
                if e.viewer == 0:
                    kinds_of_booked[e.kind] += 1
    for index, sent_s in m.sender.marker_sent_s.items():
        d = drones[index]
        key = f"{link_ids.get(d.link)}/{d.sysid}"
        want = BREACH_KIND[d.role]
        per_viewer: dict[int, EventSeen] = {}
        for e in sorted(events.get(key, []), key=lambda e: e.received_s):
            if e.kind != want:
                if e.kind not in IGNORED_KINDS and e.viewer == 0:
                    wrong[e.kind] += 1
                continue
            if e.received_s >= sent_s and e.viewer not in per_viewer:
                per_viewer[e.viewer] = e
        viewers = v.connected if v else 0
        missed += viewers - len(per_viewer)
        if per_viewer:
            got = [e.received_s - sent_s for e in per_viewer.values()]
            samples.extend(got)
            firsts.append(min(got))
            detects.append(next(iter(per_viewer.values())).event_t_s - sent_s)
    samples.sort()
    firsts.sort()
    detects.sort()
    return {
        "breaches": len(m.sender.marker_sent_s),
        "breach_latency_p50_ms": _pct_ms(samples, 0.5),
        "breach_latency_p99_ms": _pct_ms(samples, 0.99),
        "breach_latency_max_ms": _pct_ms(samples, 1.0),
        "breach_latency_first_viewer_p99_ms": _pct_ms(firsts, 0.99),
        "breach_detect_p50_ms": _pct_ms(detects, 0.5),
        "breach_detect_p99_ms": _pct_ms(detects, 0.99),
        "breach_samples": len(samples),
        "breach_events_missed": missed,
        "breach_other_kinds": dict(wrong),
        "events_on_conforming_drones": dict(kinds_of_booked),
    }


def _port_of(link_id: str) -> int:
    return int(link_id.rsplit(":", 1)[1])


def _pct_ms(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


# --- report -----------------------------------------------------------------------


Cell = Callable[[dict[str, Any]], object]
ROWS: list[tuple[str, Cell]] = [
    (
        "drones / viewers connected",
        lambda f: f"{f['drones']} / {f['viewers_connected']}",
    ),
    ("links (udpin ports)", lambda f: f["links"]),
    ("offered msgs/s", lambda f: f"{f['offered_msgs_per_s']:,}"),
    ("ingest msgs/s (median 1 s)", lambda f: f"{f['ingest_msgs_per_s']:,}"),
    ("raw parse_buffer msgs/s", lambda f: f"{f['raw_parse_msgs_per_s']:,}"),
    ("ratio vs raw parse", lambda f: f["ratio_vs_raw_parse"]),
    (
        "ingest msgs per server CPU-s",
        lambda f: f"{f['ingest_msgs_per_server_cpu_s']:,}",
    ),
    ("  ratio per CPU vs raw parse", lambda f: f["ratio_per_cpu_vs_raw_parse"]),
    (
        "datagrams sent / received",
        lambda f: f"{f['datagrams_sent']:,} / {f['datagrams_received']:,}",
    ),
    (
        "lost datagrams / seq_lost",
        lambda f: f"{f['lost_datagrams']:,} / {f['seq_lost']:,}",
    ),
    (
        "breach latency p50 / p99 ms",
        lambda f: f"{f['breach_latency_p50_ms']} / {f['breach_latency_p99_ms']}",
    ),
    (
        "  first viewer p99 / detect p99",
        lambda f: (
            f"{f['breach_latency_first_viewer_p99_ms']} / {f['breach_detect_p99_ms']}"
        ),
    ),
    (
        "  samples / missed",
        lambda f: f"{f['breach_samples']} / {f['breach_events_missed']}",
    ),
    (
        "viewer frame latency p50/p99 ms",
        lambda f: (
            f"{f['viewer_frame_latency_p50_ms']} / {f['viewer_frame_latency_p99_ms']}"
        ),
    ),
    (
        "UDP backlog max MB / kernel drops",
        lambda f: f"{f['udp_backlog_mb_max']} / {f['udp_kernel_drops']:,}",
    ),
    ("slowest GET /links ms", lambda f: f["stats_request_ms_max"]),
    ("viewer frames dropped (reported)", lambda f: f["viewer_dropped_frames"]),
    ("viewer reconnects (after 4408)", lambda f: f["viewer_reconnects"]),
    (
        "server / sender / viewers CPU %",
        lambda f: (
            f"{f['server_cpu_pct']} / {f['sender_cpu_pct']} / {f['viewers_cpu_pct']}"
        ),
    ),
    ("other processes (cores)", lambda f: f["others_cores"]),
    (
        "sender late p99 / max ms",
        lambda f: f"{f['sender_late_ms_p99']} / {f['sender_late_ms_max']}",
    ),
    ("gateway tick max ms", lambda f: f["tick_ms_max"]),
]


def print_table(results: dict[str, dict[str, Any]]) -> None:
    labels = list(results)
    print()
    print(f"{'':34}" + "".join(f"{label:>24}" for label in labels))
    for name, cell in ROWS:
        print(
            f"{name:34}" + "".join(f"{cell(results[label])!s:>24}" for label in labels)
        )
    print()


def summary(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The JSON line: the fleet run's figures, the big run's as ``big_*``."""
    out: dict[str, Any] = {}
    if "fleet" in results:
        out.update(results["fleet"])
    if "big" in results:
        out.update({f"big_{k}": v for k, v in results["big"].items()})
    missed, notes = judge(results)
    out["targets_met"] = not missed
    out["missed"] = missed
    if notes:
        out["note"] = "; ".join(notes)
    return out


def judge(results: dict[str, dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Which targets were missed, and why as far as the figures tell."""
    missed: list[str] = []
    notes: list[str] = []
    fleet = results.get("fleet")
    if fleet is not None:
        if fleet["lost_datagrams"] > 0:
            missed.append("lost_datagrams")
            notes.append(_why_lost("fleet", fleet))
        p99 = fleet["breach_latency_p99_ms"]
        if p99 is None or p99 > TARGET_BREACH_P99_MS or fleet["breach_events_missed"]:
            missed.append("breach_latency_p99_ms")
            notes.append(
                f"fleet: breach p99 {p99} ms (first viewer "
                f"{fleet['breach_latency_first_viewer_p99_ms']} ms, gateway detection "
                f"p99 {fleet['breach_detect_p99_ms']} ms, "
                f"{fleet['breach_events_missed']} viewer receipts missing); server "
                f"CPU {fleet['server_cpu_pct']} %, viewers' loop lag p99 "
                f"{fleet['viewer_loop_lag_ms_p99']} ms"
            )
    big = results.get("big")
    if big is not None and big["ratio_vs_raw_parse"] < TARGET_RATIO:
        missed.append("big_ratio_vs_raw_parse")
        offered, ingest = big["offered_msgs_per_s"], big["ingest_msgs_per_s"]
        per_cpu, cpu = big["ratio_per_cpu_vs_raw_parse"], big["server_cpu_pct"]
        if big["lost_datagrams"] == 0 and ingest >= 0.97 * offered:
            notes.append(
                f"big: the gateway kept up with all {offered:,} msgs/s offered (the "
                f"real-time rate of {big['drones']} drones at {MSGS_PER_S:.0f} "
                f"msgs/s) at {cpu} % CPU, so the ratio is capped by the offered "
                f"load; per CPU-second it is {per_cpu}"
            )
        else:
            notes.append(
                f"big: ingest {ingest:,} of {offered:,} msgs/s offered at {cpu} % "
                f"server CPU, raw parse {big['raw_parse_msgs_per_s']:,} msgs/s; "
                f"per CPU-second {per_cpu}; other processes used "
                f"{big['others_cores']} cores"
            )
    if big is not None and big["lost_datagrams"] > 0:
        notes.append(_why_lost("big", big))
    return missed, notes


def _why_lost(label: str, f: dict[str, Any]) -> str:
    reasons = [f"{label}: {f['lost_datagrams']:,} datagrams lost"]
    if f["server_cpu_pct"] >= 90:
        reasons.append(f"the server was saturated ({f['server_cpu_pct']} % of a core)")
    if f["others_cores"] >= 0.5:
        reasons.append(f"other processes used {f['others_cores']} of the 2 cores")
    if f["sender_late_ms_max"] > 50:
        reasons.append(
            f"the sender ran up to {f['sender_late_ms_max']} ms late (bursts)"
        )
    reasons.append(
        f"gateway tick max {f['tick_ms_max']} ms, UDP backlog up to "
        f"{f['udp_backlog_mb_max']} MB"
    )
    return ", ".join(reasons)


def _json_default(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON serialisable: {value!r}")


if __name__ == "__main__":
    main()
