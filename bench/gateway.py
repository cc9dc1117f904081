"""Benchmark: the telemetry gateway of a real ``skyberth serve`` under a drone fleet.

Each configuration runs a fresh server (one process, SQLite, conformance on) and,
in the same run:

1. encodes 16 s of MAVLink 2 per simulated drone once (pymavlink's encoder):
   GLOBAL_POSITION_INT at 10 Hz plus HEARTBEAT, SYS_STATUS, ATTITUDE, VFR_HUD,
   GPS_RAW_INT and BATTERY_STATUS at 1 Hz = 16 msgs/s per drone, 256 frames whose
   sequence numbers wrap exactly once per loop, so the replay keeps every drone's
   ``seq`` continuous; one frame per UDP datagram, as autopilots send
   (``--frames-per-datagram`` bundles a drone's consecutive frames, as a router
   might); the drones of a site send from one UDP socket, as through one router
   (``--socket-per-drone`` gives each its own);
2. times pymavlink's bare ``MAVLink(None).parse_buffer`` (robust_parsing, one call
   per datagram, as the gateway is fed) on that very stream: the baseline
   ``raw_parse_msgs_per_s``, median of ``--repeats`` runs before the load and
   ``--repeats`` after it;
3. spreads the fleet over copies of the demo site 2 km apart, 250 drones each on a
   ``udpin`` port of its own (a system id is 8 bits and unique per site); most
   drones are registered with an approved booking of their site's corridor C1 (the
   breachers and ``--api-drones`` through the REST API as an operator and a site
   admin would, the rest straight through the booking services before the server
   starts), ``--unregistered-pct`` fly unregistered (one ``unbooked_flight``
   incident each, in the warm-up);
4. connects K websocket viewers with a safety officer's token, in a process of
   their own; a viewer the server closes (4408, too slow) reconnects like a browser;
5. replays the stream in real time from a separate sender process: a warm-up in
   which the drones take off at random instants, then the measuring window in which
   ``--breachers`` booked drones step 30 m outside their corridor and
   ``--intruders`` unregistered drones appear, at staggered known instants;
6. measures over the window: ingest (frames the server decoded, from
   ``GET /api/v1/telemetry/links`` ``frames_ok``; median of ~1 s slices), server CPU
   and its main thread's, the event loop's (``/proc``), UDP datagrams per loop
   wakeup, the server's UDP receive backlog (``/proc/net/udp``), lost
   datagrams (sent minus the links' ``datagrams_in`` once the backlog is read, over
   the whole run; the kernel's drop count and the codec's ``seq_lost`` agree when
   all is well); breach latency = first out-of-corridor (or first intruder)
   position datagram sent -> that vehicle's ``event`` frame
   (``corridor_exit_lateral`` / ``unbooked_flight``) received, for every viewer (a
   viewer that never gets it within a grace period counts as missed); the gateway's
   own detection time (event ``t_s`` - sent); viewer frame latency = receive time -
   the ``vehicles`` frame's ``t_s``.

Sizes and targets (issue 21, one gateway process on a 2-core machine): the fleet
sizes of ``--sizes`` (1,000 / 2,000 / 5,000 / 10,000 drones, 100 viewers each),
each run ``--runs`` times (fresh server each, medians). The largest size with no
datagram lost and nothing shed is ``max_lossless_drones`` (sustainable); the
overload case is ``--overload-factor`` times that (a size already run is reused).
While overloaded the gateway sheds stale datagrams (``telemetry.mavlink.shedding``)
so that what it decodes is fresh: there, breach latency counts the drones whose
positions were processed, and ``position_age_ms_p99`` bounds how old a position
on the map is (age at decoding, p99 of the worst link, plus the viewers' frame
latency p99). A breach is confirmed on the second outside position (100 ms later
at 10 Hz), which is part of the latency.

The last line printed is one JSON object: ``ratio_vs_raw_parse`` (5,000 drones:
ingest / pymavlink's bare parse of the same frames), ``lost_datagrams_1000``,
``breach_latency_p99_ms`` (1,000 drones), ``msgs_per_cpu_s`` (1,000 drones),
``max_lossless_drones``, ``overload_breach_latency_p99_ms`` (and the overload
case's size and position age), every size's figures under ``sizes``,
``targets_met``, ``missed`` and a ``note`` saying why for each miss.

Run: ``python bench/gateway.py --runs 3`` (the figures in the README; about an
hour), ``--sizes 1000 --runs 1`` for a quick look. The machine's other load
shows as ``others_cores``; on a shared machine expect run-to-run noise of tens
of per cent.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as ``python bench/gateway.py``, this file's folder heads sys.path, and
# bench/booking.py would shadow the ``booking`` package; put the repository root
# there instead, which also makes ``bench.gateway_*`` importable.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from airspace.site_files import demo_site_path, load_site
from bench.gateway_figures import Case, Consumed, Measured, combine, figures
from bench.gateway_fleet import FleetLayout, Role, make_layout
from bench.gateway_report import json_default, max_lossless, print_table, summary
from bench.gateway_sender import SenderReport, run_sender
from bench.gateway_server import (
    STAFF,
    BenchServer,
    KernelWatch,
    bench_server,
    datagram_truesize,
    process_cpu_s,
    read_metrics,
    register_and_book,
    sample_gateway,
    seed_fleet,
    udp_socket_queues,
    write_bench_sites,
)
from bench.gateway_stream import SendPlan, build_plan, raw_parse
from bench.gateway_viewers import ViewerResult, run_viewers

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


def main() -> None:
    args = _parser().parse_args()
    sizes = [int(n) for n in args.sizes.split(",") if n.strip() and int(n) > 0]
    if not sizes:
        raise SystemExit("nothing to run: --sizes names no fleet")
    results: dict[str, dict[str, Any]] = {}
    for drones in sizes:
        results[str(drones)] = _run_size(drones, args)
    sustainable = max_lossless(results)
    overload: str | None = None
    if args.overload_factor > 0 and sustainable:
        drones = args.overload_factor * sustainable
        overload = str(drones)
        if overload not in results:
            print(
                f"overload case: {args.overload_factor} x {sustainable} sustainable "
                f"= {drones} drones",
                flush=True,
            )
            results[overload] = _run_size(drones, args)
    print_table(results)
    print(
        json.dumps(
            summary(results, sustainable, overload, args.overload_factor),
            default=json_default,
        )
    )


def _run_size(drones: int, args: argparse.Namespace) -> dict[str, Any]:
    case = Case(str(drones), drones, args.viewers, args.seconds, args.warmup)
    return combine([run_case(case, args) for _ in range(args.runs)])


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
    sizes = parser.add_argument_group("fleet sizes")
    sizes.add_argument(
        "--sizes",
        default="1000,2000,5000,10000",
        help="drones per run, comma-separated",
    )
    sizes.add_argument(
        "--viewers", type=int, default=100, help="websocket viewers (staff token)"
    )
    sizes.add_argument("--seconds", type=float, default=10.0, help="measuring window")
    sizes.add_argument(
        "--warmup", type=float, default=8.0, help="seconds of traffic before it"
    )
    sizes.add_argument(
        "--overload-factor",
        type=int,
        default=5,
        help="run the overload case at this many times max_lossless_drones (0: no)",
    )
    fleet_shape = parser.add_argument_group("every run")
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
        "--socket-per-drone",
        action="store_true",
        help="every drone sends from its own UDP port (default: one per site, as "
        "through a router; thousands of sockets slow the benchmark's /proc reads)",
    )
    fleet_shape.add_argument(
        "--viewer-deflate",
        action="store_true",
        help="viewers offer permessage-deflate, as browsers do (default: off)",
    )
    fleet_shape.add_argument(
        "--repeats", type=int, default=5, help="raw-parse repeats, before and after"
    )
    fleet_shape.add_argument(
        "--runs",
        type=int,
        default=3,
        help="run each size this many times (fresh server each) and report "
        "medians; a run takes 1-5 minutes",
    )
    fleet_shape.add_argument("--log-level", default="WARNING", help="server log level")
    fleet_shape.add_argument(
        "--keep", action="store_true", help="keep each run's data dir (logs, DB)"
    )
    return parser


# --- one run ----------------------------------------------------------------------


def run_case(case: Case, args: argparse.Namespace) -> dict[str, Any]:
    """Run one configuration end to end; return its figures."""
    tag = f"[{case.drones} drones, {case.viewers} viewers]"
    tmp = Path(tempfile.mkdtemp(prefix=f"skyberth-gwbench-{case.drones}-"))
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
    consumed = Consumed(datagram_truesize(sample[:1000]), plan.frames_per_datagram)
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
        measured = _drive(
            case, args, server, layout, plan, window, duration, tag, consumed
        )
    raw_after = raw_parse(sample, args.repeats)
    print(
        f"{tag} raw parse_buffer after: {raw_after.msgs_per_s:,.0f} msgs/s", flush=True
    )
    return figures(
        case, layout, plan, raw.merged(raw_after), n_booked, measured, consumed
    )


def _raw_sample(plan: SendPlan, from_s: float) -> list[bytes]:
    """At least RAW_SAMPLE_DATAGRAMS of the stream from ``from_s`` (all if fewer)."""
    per_s = max(1.0, plan.datagrams / plan.duration_s)
    span = max(1.0, RAW_SAMPLE_DATAGRAMS / per_s)
    start = max(0.0, min(from_s, plan.duration_s - span))
    return plan.window(start, start + span)


def _drive(
    case: Case,
    args: argparse.Namespace,
    server: BenchServer,
    layout: FleetLayout,
    plan: SendPlan,
    window: tuple[float, float],
    duration: float,
    tag: str,
    consumed: Consumed,
) -> Measured:
    ctx = mp.get_context("fork")
    viewers_conn = viewers_proc = None
    if case.viewers > 0:
        viewers_conn, child = ctx.Pipe()
        viewers_proc = ctx.Process(
            target=run_viewers,
            args=(
                server.ws_url,
                server.tokens[STAFF],
                case.viewers,
                args.viewer_deflate,
                child,
            ),
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
    sent = ctx.RawValue("q", 0)
    sender = ctx.Process(
        target=run_sender,
        args=(
            plan,
            ports,
            [d.link for d in layout.drones],
            child,
            sent,
            args.socket_per_drone,
        ),
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
    viewers_pid = viewers_proc.pid if viewers_proc else None
    with KernelWatch(ports, server.process.pid, sent) as watch:
        # Progress from the kernel's side only: asking an overloaded server over
        # HTTP takes seconds and perturbs it.
        _sleep_until(win_from)
        viewer_cpu0 = process_cpu_s(viewers_pid) if viewers_pid else 0.0
        prev = watch.sample()
        while time.time() < win_to - 0.05:
            _sleep_until(min(win_to, prev.t_s + 1.0))
            cur = watch.sample()
            dt = cur.t_s - prev.t_s
            print(
                f"{tag}   +{cur.t_s - start_at:5.1f} s  ingest "
                f"{consumed.rate(prev, cur):8,.0f} msgs/s  server "
                f"{(cur.server_cpu_s - prev.server_cpu_s) / dt:4.0%} CPU  machine "
                f"{(cur.machine_busy_s - prev.machine_busy_s) / dt:3.1f} cores  "
                f"UDP backlog {cur.queued_bytes / 1e6:5.1f} MB  kernel drops "
                f"{cur.dropped:,}",
                flush=True,
            )
            prev = cur
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
        print(
            f"{tag} after the sender stopped the server needed {drain_s:.1f} s to "
            "read its UDP backlog"
        )
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
        watch.samples,
        final,
        metrics,
        report,
        viewers,
        viewers_cpu_s,
        start_at,
        (win_from, win_to),
        ports,
        drain_s,
    )


def _sleep_until(t_s: float) -> None:
    time.sleep(max(0.0, t_s - time.time()))


# --- figures ----------------------------------------------------------------------


# --- report -----------------------------------------------------------------------


if __name__ == "__main__":
    main()
