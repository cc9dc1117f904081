"""The gateway benchmark's report: the human table, the targets, the JSON line."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

TARGET_BREACH_P99_MS_1000 = 150.0
TARGET_LOST_1000 = 0
TARGET_CPU_PCT_1000 = 30.0
TARGET_BREACH_P99_MS_5000 = 250.0
TARGET_RATIO_5000 = 1.0
TARGET_MSGS_PER_CPU_S = 100_000
TARGET_LOSSLESS_DRONES = 5000
TARGET_OVERLOAD_P99_MS = 1000.0
TARGET_POSITION_AGE_MS = 1000.0


Cell = Callable[[dict[str, Any]], object]
"""One table cell from a run's figures."""
ROWS: list[tuple[str, Cell]] = [
    (
        "drones / viewers connected",
        lambda f: f"{f['drones']} / {f['viewers_connected']}",
    ),
    ("sites (one udpin port each)", lambda f: f["sites"]),
    (
        "offered / really sent msgs/s",
        lambda f: f"{f['offered_msgs_per_s']:,} / {f['sent_msgs_per_s']:,}",
    ),
    (
        "decoded / read msgs/s (median 1 s)",
        lambda f: f"{f['ingest_msgs_per_s']:,} / {f.get('read_msgs_per_s', 0):,}",
    ),
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
    ("  backlog max in seconds of traffic", lambda f: f["udp_backlog_s_max"]),
    ("viewer frames dropped (reported)", lambda f: f["viewer_dropped_frames"]),
    ("viewer reconnects (after 4408)", lambda f: f["viewer_reconnects"]),
    (
        "server / sender / viewers CPU %",
        lambda f: (
            f"{f['server_cpu_pct']} / {f['sender_cpu_pct']} / {f['viewers_cpu_pct']}"
        ),
    ),
    (
        "  server main thread CPU % (event loop)",
        lambda f: f.get("server_main_thread_cpu_pct"),
    ),
    ("  UDP datagrams per wakeup", lambda f: f.get("datagrams_per_wakeup")),
    ("other processes (cores)", lambda f: f["others_cores"]),
    (
        "sender late p99 / max ms",
        lambda f: f"{f['sender_late_ms_p99']} / {f['sender_late_ms_max']}",
    ),
    ("gateway tick max ms", lambda f: f["tick_ms_max"]),
    (
        "server loop lag p99 / max ms",
        lambda f: f"{f['server_loop_lag_ms_p99']} / {f['server_loop_lag_ms_max']}",
    ),
    (
        "overloaded / datagrams shed",
        lambda f: f"{'yes' if f['overloaded'] else 'no'} / {f['shed_datagrams']:,}",
    ),
    (
        "age at decoding / on map p99 ms",
        lambda f: f"{f['decode_age_ms_p99']} / {f['position_age_ms_p99']}",
    ),
]


def print_table(results: dict[str, dict[str, Any]]) -> None:
    """Print ``ROWS`` for every run side by side."""
    labels = list(results)
    print()
    print(f"{'':34}" + "".join(f"{label:>24}" for label in labels))
    for name, cell in ROWS:
        print(
            f"{name:34}" + "".join(f"{cell(results[label])!s:>24}" for label in labels)
        )
    print()


def max_lossless(results: dict[str, dict[str, Any]]) -> int:
    """The largest fleet that lost no datagram and shed none (0: none did)."""
    return max(
        (
            f["drones"]
            for f in results.values()
            if f["lost_datagrams"] == 0 and not f["shed_datagrams"]
        ),
        default=0,
    )


def summary(
    results: dict[str, dict[str, Any]],
    sustainable: int,
    overload: str | None,
    factor: int,
) -> dict[str, Any]:
    """The JSON line: the issue's headline figures, then every size's."""
    one = results.get("1000")
    five = results.get("5000")
    over = results.get(overload) if overload else None
    out: dict[str, Any] = {
        "ratio_vs_raw_parse": five["ratio_vs_raw_parse"] if five else None,
        "lost_datagrams_1000": one["lost_datagrams"] if one else None,
        "breach_latency_p99_ms": one["breach_latency_p99_ms"] if one else None,
        "msgs_per_cpu_s": one["ingest_msgs_per_server_cpu_s"] if one else None,
        "server_cpu_pct_1000": one["server_cpu_pct"] if one else None,
        "max_lossless_drones": sustainable,
        "overload_drones": over["drones"] if over else None,
        "overload_factor": factor,
        "overload_breach_latency_p99_ms": (
            over["breach_latency_p99_ms"] if over else None
        ),
        "overload_position_age_ms_p99": over["position_age_ms_p99"] if over else None,
        "sizes": results,
    }
    missed, notes = judge(results, sustainable, over)
    out["targets_met"] = not missed
    out["missed"] = missed
    if notes:
        out["note"] = "; ".join(notes)
    return out


def judge(
    results: dict[str, dict[str, Any]],
    sustainable: int,
    over: dict[str, Any] | None,
) -> tuple[list[str], list[str]]:
    """Which targets were missed, and why as far as the figures tell."""
    missed: list[str] = []
    notes: list[str] = []

    def miss(key: str, why: str) -> None:
        missed.append(key)
        notes.append(why)

    one = results.get("1000")
    if one is not None:
        if one["lost_datagrams"] > TARGET_LOST_1000:
            miss("lost_datagrams_1000", _why_lost("1000", one))
        p99 = one["breach_latency_p99_ms"]
        if p99 is None or p99 > TARGET_BREACH_P99_MS_1000:
            miss(
                "breach_latency_p99_ms",
                f"1000: breach p99 {p99} ms > {TARGET_BREACH_P99_MS_1000:.0f} (gateway "
                f"detection p99 {one['breach_detect_p99_ms']} ms, of which the "
                "second-sample confirmation is 100 ms; server loop lag p99 "
                f"{one['server_loop_lag_ms_p99']} ms, CPU {one['server_cpu_pct']} %)",
            )
        if one["server_cpu_pct"] > TARGET_CPU_PCT_1000:
            miss(
                "server_cpu_pct_1000",
                f"1000: {one['server_cpu_pct']} % of a core > "
                f"{TARGET_CPU_PCT_1000:.0f} % ({one['ingest_msgs_per_server_cpu_s']:,}"
                " msgs per CPU-second)",
            )
        if one["ingest_msgs_per_server_cpu_s"] < TARGET_MSGS_PER_CPU_S:
            miss(
                "msgs_per_cpu_s",
                f"{one['ingest_msgs_per_server_cpu_s']:,} msgs per CPU-second < "
                f"{TARGET_MSGS_PER_CPU_S:,}: the per-message Python path (bench/"
                "ingest.py --profile says where) plus sockets and viewers",
            )
    five = results.get("5000")
    if five is not None:
        if five["ratio_vs_raw_parse"] < TARGET_RATIO_5000:
            miss(
                "ratio_vs_raw_parse",
                f"5000: ingest {five['ingest_msgs_per_s']:,} of "
                f"{five['offered_msgs_per_s']:,} msgs/s offered, raw parse "
                f"{five['raw_parse_msgs_per_s']:,} msgs/s: ratio "
                f"{five['ratio_vs_raw_parse']} < {TARGET_RATIO_5000}",
            )
        p99 = five["breach_latency_p99_ms"]
        if five["shed_datagrams"] == 0 and (
            p99 is None or p99 > TARGET_BREACH_P99_MS_5000
        ):
            miss(
                "breach_latency_p99_ms_5000",
                f"5000: breach p99 {p99} ms > {TARGET_BREACH_P99_MS_5000:.0f}",
            )
    if sustainable < TARGET_LOSSLESS_DRONES:
        miss(
            "max_lossless_drones",
            f"the largest fleet without loss or shedding was {sustainable} drones "
            f"(target {TARGET_LOSSLESS_DRONES})",
        )
    if over is not None:
        p99 = over["breach_latency_p99_ms"]
        if p99 is None or p99 > TARGET_OVERLOAD_P99_MS:
            miss(
                "overload_breach_latency_p99_ms",
                f"overload ({over['drones']} drones): breach p99 {p99} ms > "
                f"{TARGET_OVERLOAD_P99_MS:.0f} ({over['shed_datagrams']:,} datagrams "
                f"shed, {over['breach_events_missed']} viewer receipts missing, "
                f"server loop lag p99 {over['server_loop_lag_ms_p99']} ms)",
            )
        age = over["position_age_ms_p99"]
        if age is None or age > TARGET_POSITION_AGE_MS:
            miss(
                "overload_position_age_ms_p99",
                f"overload: positions on the map up to {age} ms old (p99)",
            )
    for label, f in results.items():
        if f["sent_msgs_per_s"] < 0.97 * f["offered_msgs_per_s"]:
            notes.append(
                f"{label}: the sender could not keep up ({f['sent_msgs_per_s']:,} of "
                f"{f['offered_msgs_per_s']:,} msgs/s sent in the window, up to "
                f"{f['sender_late_ms_max']} ms late): the machine was saturated "
                f"(other processes {f['others_cores']} cores), so this run "
                "understates the load"
            )
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


def json_default(value: object) -> object:
    """``json.dumps`` fallback: non-finite floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON serialisable: {value!r}")
