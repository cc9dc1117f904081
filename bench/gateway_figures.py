"""The gateway benchmark's figures: what one run measured, and how it is summed up.

``Measured`` is what a run collects (kernel readings, the server's final counters,
the sender's and the viewers' reports); ``figures`` turns it into the flat,
rounded dict that goes into the JSON line; ``combine`` takes medians over runs.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from bench.gateway_fleet import FleetLayout, Role
from bench.gateway_sender import SenderReport
from bench.gateway_server import GatewaySample, KernelSample
from bench.gateway_stream import RawParse, SendPlan
from bench.gateway_viewers import EventSeen, ViewerResult

BREACH_KIND = {Role.BREACHER: "corridor_exit_lateral", Role.INTRUDER: "unbooked_flight"}
IGNORED_KINDS = ("predicted_exit", "near_edge", "link_lost", "link_restored")
"""Not a wrong answer to a breach: warnings before it, the sender's stop after."""


@dataclass(frozen=True)
class Case:
    """One configuration to run."""

    label: str
    drones: int
    viewers: int
    seconds: float
    warmup_s: float


@dataclass
class Measured:
    kernel: list[KernelSample]
    """10 Hz readings of the server's sockets and CPU, whole run."""
    final: GatewaySample
    """``/api/v1/telemetry/links`` once the server had read its backlog."""
    metrics: dict[str, float]
    sender: SenderReport
    viewers: ViewerResult | None
    viewers_cpu_s: float
    started_s: float
    window: tuple[float, float]
    """The measuring window, epoch seconds."""
    udp_ports: list[int]
    drain_s: float


@dataclass
class Consumed:
    """Frames the server has taken off its sockets, from the outside: datagrams
    sent (the sender's shared counter, read with each kernel sample) - dropped by
    the kernel - still queued (bytes / a queued datagram's kernel size)."""

    truesize: float
    frames_per_datagram: int

    def frames(self, k: KernelSample) -> float:
        taken = k.sent - k.dropped - k.queued_bytes / self.truesize
        return max(0.0, taken) * self.frames_per_datagram

    def rate(self, a: KernelSample, b: KernelSample) -> float:
        return (self.frames(b) - self.frames(a)) / max(b.t_s - a.t_s, 1e-9)


def _window_samples(m: Measured) -> list[KernelSample]:
    """Kernel readings about 1 s apart spanning the window."""
    inside = [k for k in m.kernel if m.window[0] <= k.t_s <= m.window[1]]
    picked: list[KernelSample] = []
    for k in inside:
        if not picked or k.t_s - picked[-1].t_s >= 0.95:
            picked.append(k)
    if inside and picked[-1] is not inside[-1]:
        picked.append(inside[-1])
    return picked


def figures(
    case: Case,
    layout: FleetLayout,
    plan: SendPlan,
    raw: RawParse,
    n_booked: int,
    m: Measured,
    consumed: Consumed,
) -> dict[str, Any]:
    """The run's figures, as they go into the JSON line (rounded)."""
    picked = _window_samples(m)
    if len(picked) < 2:
        raise SystemExit("no kernel readings in the window; is /proc mounted?")
    first, last = picked[0], picked[-1]
    wall = last.t_s - first.t_s
    slices = [consumed.rate(a, b) for a, b in pairwise(picked)]
    ingest = statistics.median(slices)
    taken = consumed.frames(last) - consumed.frames(first)
    server_cpu_s = last.server_cpu_s - first.server_cpu_s
    server_cpu = server_cpu_s / wall
    main_cpu = (last.server_main_cpu_s - first.server_main_cpu_s) / wall
    machine = (last.machine_busy_s - first.machine_busy_s) / wall
    offered = _offered_msgs_per_s(plan, case.warmup_s, case.warmup_s + case.seconds)
    per_cpu = taken / max(server_cpu_s, 1e-9)
    sender_cores = m.sender.cpu_s / max(m.sender.wall_s, 1e-9)
    viewer_cores = m.viewers_cpu_s / wall
    in_window = [k for k in m.kernel if m.window[0] <= k.t_s <= m.window[1]]
    backlog_mb = max(k.queued_bytes for k in in_window) / 1e6
    backlog_s = (
        backlog_mb
        * 1e6
        / consumed.truesize
        * plan.frames_per_datagram
        / max(offered, 1.0)
    )
    breach = breach_figures(layout, m)
    v = m.viewers
    lat = sorted(v.frame_latency_s) if v else []
    frames_ok = m.final.frames_ok
    frames_read = m.final.datagrams_in * plan.frames_per_datagram
    decoded_share = min(1.0, frames_ok / frames_read) if frames_read else 1.0
    out: dict[str, Any] = {
        "drones": case.drones,
        "viewers": case.viewers,
        "viewers_connected": v.connected if v else 0,
        "seconds": case.seconds,
        "sites": layout.sites,
        "booked": n_booked,
        "frames_per_datagram": plan.frames_per_datagram,
        "offered_msgs_per_s": round(offered),
        "sent_msgs_per_s": round(
            (last.sent - first.sent) * plan.frames_per_datagram / wall
        ),
        # Decoded, not merely read: while overloaded the gateway reads every
        # datagram but decodes only the newest per drone (the rest is shed), and
        # the ratio compares decoding with decoding.
        "ingest_msgs_per_s": round(ingest * decoded_share),
        "read_msgs_per_s": round(ingest),
        "ingest_msgs_per_s_mean": round(taken * decoded_share / wall),
        "ingest_msgs_per_s_min": round(min(slices) * decoded_share),
        "raw_parse_msgs_per_s": round(raw.msgs_per_s),
        "raw_parse_bulk_msgs_per_s": round(raw.bulk_msgs_per_s),
        "ratio_vs_raw_parse": round(ingest * decoded_share / raw.msgs_per_s, 3),
        "ingest_msgs_per_server_cpu_s": round(per_cpu * decoded_share),
        "read_msgs_per_server_cpu_s": round(per_cpu),
        "ratio_per_cpu_vs_raw_parse": round(
            per_cpu * decoded_share / raw.msgs_per_cpu_s, 3
        ),
        "datagrams_sent": m.sender.datagrams_sent,
        "datagrams_received": m.final.datagrams_in,
        "lost_datagrams": m.sender.datagrams_sent - m.final.datagrams_in,
        "udp_kernel_drops": m.kernel[-1].dropped,
        "seq_lost": m.final.seq_lost,
        "frames_decoded": frames_ok,
        "frames_not_decoded": m.final.datagrams_in * plan.frames_per_datagram
        - frames_ok,
        "udp_backlog_mb_max": round(backlog_mb, 2),
        "udp_backlog_s_max": round(backlog_s, 2),
        "drain_after_send_s": round(m.drain_s, 1),
        "bad_input": {k: n for k, n in m.final.bad_input.items() if n},
        **breach,
        "viewer_frame_latency_p50_ms": _pct_ms(lat, 0.5),
        "viewer_frame_latency_p99_ms": _pct_ms(lat, 0.99),
        "viewer_frames": len(lat),
        "viewer_frames_by_type": dict(v.frames) if v else {},
        "viewer_seq_gaps": v.seq_gaps if v else 0,
        "viewer_dropped_frames": v.dropped_reported if v else 0,
        "viewer_mb_per_s": round(
            (v.bytes_received if v else 0) / 1e6 / max(v.wall_s if v else 1.0, 1.0),
            1,
        ),
        "viewer_reconnects": v.reconnects if v else 0,
        "viewer_loop_lag_ms_p99": round(v.loop_lag_ms_p99, 1) if v else None,
        "snapshot_kb_max": round((v.snapshot_bytes_max if v else 0) / 1e3, 1),
        "server_cpu_pct": round(100 * server_cpu, 1),
        "server_main_thread_cpu_pct": round(100 * main_cpu, 1),
        "datagrams_per_wakeup": round(
            m.final.datagrams_in / max(m.final.wakeups, 1), 1
        ),
        "sender_cpu_pct": round(100 * sender_cores, 1),
        "viewers_cpu_pct": round(100 * viewer_cores, 1),
        "others_cores": round(
            max(0.0, machine - server_cpu - sender_cores - viewer_cores), 2
        ),
        "sender_late_ms_p99": round(m.sender.late_ms_p99, 1),
        "sender_late_ms_max": round(m.sender.late_ms_max, 1),
        "tick_ms_max": round(m.final.tick_ms_max, 1),
        "server_loop_lag_ms_p99": m.final.loop_lag_ms.get("p99"),
        "server_loop_lag_ms_max": m.final.loop_lag_ms.get("max"),
        "server_loop_stalls": int(m.final.loop_lag_ms.get("stalls", 0)),
        "shed_datagrams": m.final.shed_datagrams,
        "overloaded": m.final.overloaded or m.final.shed_datagrams > 0,
        "decode_age_ms_p99": round(m.final.decode_age_ms_p99, 1),
        "position_age_ms_p99": (
            round(m.final.decode_age_ms_p99 + (_pct_ms(lat, 0.99) or 0.0), 1)
            if lat
            else None
        ),
        "vehicles": m.final.vehicles,
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
    times = np.frombuffer(plan.times_s, np.float64)
    starts = np.frombuffer(plan.starts, np.int64)
    due = int(np.count_nonzero((times >= from_s) & (times < to_s) & (starts >= 0)))
    return due * plan.frames_per_datagram / (to_s - from_s)


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
    by_kind: dict[str, list[float]] = defaultdict(list)
    missed = 0
    wrong: Counter[str] = Counter()
    kinds_of_booked: Counter[str] = Counter()
    sender_done_s = m.sender.started_s + m.sender.wall_s
    drones = {d.index: d for d in layout.drones}
    for d in layout.drones:
        if d.role is Role.BOOKED:
            key = f"{link_ids.get(d.link)}/{d.sysid}"
            for e in events.get(key, []):
                # Once the sender stops, every vehicle goes link_lost: expected.
                if e.viewer == 0 and e.event_t_s < sender_done_s:
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
            by_kind[want].extend(got)
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
        "breach_latency_p99_ms_by_kind": {
            kind: _pct_ms(sorted(got), 0.99) for kind, got in sorted(by_kind.items())
        },
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


PER_RUN_KEYS = (
    "ingest_msgs_per_s",
    "ratio_vs_raw_parse",
    "lost_datagrams",
    "breach_latency_p99_ms",
    "server_cpu_pct",
    "others_cores",
)


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One run's figures as they are; several runs' numbers as medians (each figure
    on its own), with the headline figures of every run under ``per_run``."""
    if len(runs) == 1:
        return runs[0]
    out: dict[str, Any] = {}
    for key, last in runs[-1].items():
        values = [r.get(key) for r in runs]
        numbers = [
            v for v in values if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        if numbers and len(numbers) == len(values):
            median = statistics.median(numbers)
            if all(isinstance(v, int) for v in numbers):
                out[key] = round(median)
            else:
                out[key] = round(median, 3)
        elif isinstance(last, int | float) and not isinstance(last, bool):
            out[key] = None  # missing in some run (e.g. no breach event received)
        else:
            out[key] = last
    out["runs"] = len(runs)
    out["per_run"] = [{k: r.get(k) for k in PER_RUN_KEYS} for r in runs]
    return out
