"""The gateway benchmark's report: the human table, the targets, the JSON line."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bench.gateway_stream import MSGS_PER_S

TARGET_BREACH_P99_MS = 250.0
TARGET_RATIO = 0.5


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
    ("  backlog max in seconds of traffic", lambda f: f["udp_backlog_s_max"]),
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
    """Print ``ROWS`` for every run side by side."""
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
    for label, f in results.items():
        if f["sent_msgs_per_s"] < 0.97 * f["offered_msgs_per_s"]:
            notes.append(
                f"{label}: the sender could not keep up ({f['sent_msgs_per_s']:,} of "
                f"{f['offered_msgs_per_s']:,} msgs/s sent in the window, up to "
                f"{f['sender_late_ms_max']} ms late): the machine was saturated "
                f"(other processes {f['others_cores']} cores), so this run "
                "understates the load"
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


def json_default(value: object) -> object:
    """``json.dumps`` fallback: non-finite floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON serialisable: {value!r}")
