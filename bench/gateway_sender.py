"""The benchmark's sender: replays a ``SendPlan`` in real time from its own process.

All drones of a site send from one UDP socket connected to the site's ``udpin``
port, as through one radio or router per site; ``socket_per_drone`` gives every
drone its own source port instead (as separate autopilots), which makes the
kernel's socket table (read ten times a second by the benchmark) thousands of
lines long. The loop sends
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
from typing import Protocol

from bench.gateway_stream import SendPlan

MAX_SLEEP_S = 0.002
MAX_BATCH = 500


class Progress(Protocol):
    """A shared counter (``multiprocessing.RawValue("q")``)."""

    value: int


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
    progress: Progress,
    socket_per_drone: bool = False,
) -> None:
    """Process entry point: open the sockets, say ``"ready"`` on ``conn``,
    receive the start time (epoch seconds), send ``plan`` from then on, and put a
    ``SenderReport`` on ``conn``. ``progress.value`` counts datagrams sent so far
    (shared memory, updated after every batch)."""
    report = SenderReport()
    socks: list[socket.socket] = []
    try:
        by_link: dict[int, socket.socket] = {}
        sends = []
        for link in drone_links:
            sock = None if socket_per_drone else by_link.get(link)
            if sock is None:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.connect(("127.0.0.1", ports[link]))
                socks.append(sock)
                by_link[link] = sock
            sends.append(sock.send)
        conn.send("ready")
        start_at_s = float(conn.recv())
        _send_all(plan, sends, start_at_s, report, progress)
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
    progress: Progress,
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
        # A sender behind schedule catches up in slices, so its shared counter
        # and lateness stay current.
        j = min(bisect_right(times, now, i), i + MAX_BATCH)
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
        progress.value = sent
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
