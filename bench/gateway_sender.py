"""The benchmark's sender: replays a ``SendPlan`` in real time from its own process.

Each simulated drone has its own UDP socket (its own source port, as separate
autopilots or radios would), connected to its link's ``udpin`` port. The loop sends
whatever is due, then sleeps until the next datagram is; it never sends ahead of
time, and it records how late it ran so a sender that could not keep up is visible
rather than mistaken for a slow gateway.
"""

from __future__ import annotations

import socket
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from bench.gateway_stream import SendPlan

MAX_SLEEP_S = 0.002


@dataclass
class SenderReport:
    """What the sender did; times are Unix epoch seconds (``time.time``)."""

    datagrams_sent: int = 0
    frames_sent: int = 0
    bytes_sent: int = 0
    send_errors: int = 0
    marker_sent_s: dict[int, float] = field(default_factory=dict)
    """Drone index -> when its marked datagram (first breach/appearance) left."""
    late_ms_p50: float = 0.0
    late_ms_p99: float = 0.0
    late_ms_max: float = 0.0
    """How far behind schedule batches started (0 when the sender kept up)."""
    cpu_s: float = 0.0
    wall_s: float = 0.0
    started_s: float = 0.0
    error: str | None = None


def run_sender(
    plan: SendPlan,
    ports: Sequence[int],
    drone_links: Sequence[int],
    conn: Connection,
) -> None:
    """Process entry point: open one socket per drone, say ``"ready"`` on ``conn``,
    receive the start time (epoch seconds), send ``plan`` from then on, and put a
    ``SenderReport`` on ``conn``."""
    report = SenderReport()
    socks: list[socket.socket] = []
    try:
        for link in drone_links:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.connect(("127.0.0.1", ports[link]))
            socks.append(sock)
        conn.send("ready")
        start_at_s = float(conn.recv())
        _send_all(plan, [s.send for s in socks], start_at_s, report)
    except Exception as exc:  # report, never hang the parent waiting on the pipe
        report.error = f"{type(exc).__name__}: {exc}"
    finally:
        for sock in socks:
            sock.close()
        conn.send(report)
        conn.close()


def _send_all(
    plan: SendPlan,
    sends: Sequence[Callable[[memoryview], int]],
    start_at_s: float,
    report: SenderReport,
) -> None:
    times, starts, ends, drone = plan.times_s, plan.starts, plan.ends, plan.drone
    view = memoryview(plan.blob)
    markers = sorted(plan.markers)
    marker_at = markers.pop(0) if markers else -1
    lates: list[float] = []
    n = len(times)
    sent = errors = sent_bytes = 0
    send_fns = list(sends)
    while time.time() < start_at_s - 0.01:
        time.sleep(0.005)
    while time.time() < start_at_s:
        pass
    # perf_counter paces; time.time stamps the markers (the viewers use it too).
    base = time.perf_counter() - (time.time() - start_at_s)
    report.started_s = time.time()
    c0 = time.process_time()
    i = 0
    while i < n:
        now = time.perf_counter() - base
        j = bisect_right(times, now, i)
        if j == i:
            time.sleep(min(times[i] - now, MAX_SLEEP_S))
            continue
        lates.append(now - times[i])
        for k in range(i, j):
            start = starts[k]
            if start < 0:
                continue
            try:
                send_fns[drone[k]](view[start : ends[k]])
            except OSError:
                errors += 1
                continue
            sent += 1
            sent_bytes += ends[k] - start
            if k == marker_at:
                report.marker_sent_s[plan.markers[k]] = time.time()
                marker_at = markers.pop(0) if markers else -1
        # A marker whose datagram failed to send gives no sample.
        while 0 <= marker_at < j:
            marker_at = markers.pop(0) if markers else -1
        i = j
    report.cpu_s = time.process_time() - c0
    report.wall_s = time.time() - report.started_s
    report.datagrams_sent = sent
    report.frames_sent = sent * plan.frames_per_datagram
    report.bytes_sent = sent_bytes
    report.send_errors = errors
    if lates:
        lates.sort()
        report.late_ms_p50 = 1000 * lates[len(lates) // 2]
        report.late_ms_p99 = 1000 * lates[min(len(lates) - 1, int(0.99 * len(lates)))]
        report.late_ms_max = 1000 * lates[-1]
