"""The fleet load generator: one process replaying pre-encoded MAVLink 2 for
thousands of drones over UDP, ``DRONES_PER_PORT`` system ids per port.

Frames come from pymavlink's encoder (``tests/mavlink_helpers.py``) and are made
once, in the sender process, so sending costs only ``sendto``.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from airspace.site import Site
from airspace.site_files import demo_site_path, load_site

DRONES_PER_PORT = 250
SYSID_BASE = 1


@dataclass(frozen=True)
class FleetSpec:
    """``counts[i]`` drones (system ids 1..n) on UDP port ``ports[i]``."""

    ports: tuple[int, ...]
    counts: tuple[int, ...]
    position_hz: float = 2.0
    flying: int | None = None
    """How many drones (the first ones, over all ports) fly; the rest stand on
    their pads (disarmed, on the ground) still sending telemetry. None: all fly."""
    rel_alt_m: float = 40.0
    radius_m: float = 60.0
    site_file: str = ""

    @classmethod
    def filled(cls, ports: Sequence[int], drones: int, **kw: Any) -> FleetSpec:
        """``drones`` filling ``ports`` in turn, ``DRONES_PER_PORT`` on each."""
        counts = [
            max(0, min(DRONES_PER_PORT, drones - i * DRONES_PER_PORT))
            for i in range(len(ports))
        ]
        return cls(tuple(ports), tuple(counts), **kw)

    def drones_on(self, port_index: int) -> int:
        return self.counts[port_index]


def encode_fleet(spec: FleetSpec) -> list[list[bytes]]:
    """Per port, one cycle of datagrams in send order (one frame each).

    Every drone sends 256 messages per cycle (a whole sequence-number period, so
    replaying the cycle keeps each drone's sequence continuous): a heartbeat every
    ``position_hz`` positions, the positions along a circle round its own centre.
    Drones take turns, so the cycle interleaves all of them evenly.
    """
    from tests.mavlink_helpers import VehicleEncoder  # pymavlink; only here

    site: Site = load_site(Path(spec.site_file) if spec.site_file else demo_site_path())
    per_port: list[list[bytes]] = []
    period = max(1, round(spec.position_hz))
    for index, _port in enumerate(spec.ports):
        streams: list[list[bytes]] = []
        for n in range(spec.drones_on(index)):
            sysid = SYSID_BASE + n
            enc = VehicleEncoder(sysid)
            k = sum(spec.counts[:index]) + n
            flies = spec.flying is None or k < spec.flying
            rel_alt_m = spec.rel_alt_m if flies else 0.0
            east_m = 150.0 * math.cos(k * 2.399963) * math.sqrt(k % 97 / 97)
            north_m = 150.0 * math.sin(k * 2.399963) * math.sqrt(k % 97 / 97)
            frames: list[bytes] = []
            for i in range(256):
                if i % (period + 1) == 0:
                    frames.append(enc.heartbeat(armed=flies))
                    continue
                angle = 2 * math.pi * i / 256
                x = east_m + spec.radius_m * math.cos(angle)
                y = north_m + spec.radius_m * math.sin(angle)
                lat = site.ref_lat_deg + y / 111_320.0
                lon = site.ref_lon_deg + x / (
                    111_320.0 * math.cos(math.radians(site.ref_lat_deg))
                )
                frames.append(
                    enc.position(
                        lat,
                        lon,
                        rel_alt_m + 5.0,
                        rel_alt_m,
                        vn_mps=2.0 if flies else 0.0,
                        time_boot_ms=i * 100,
                    )
                )
            streams.append(frames)
        per_port.append([s[i] for i in range(256) for s in streams])
    return per_port


@dataclass
class SendReport:
    """What one ``run`` of the sender did."""

    frames_per_port: list[int] = field(default_factory=list)
    seconds: float = 0.0
    cpu_s: float = 0.0
    late_s_max: float = 0.0

    @property
    def frames(self) -> int:
        return sum(self.frames_per_port)


def _sender_main(spec: FleetSpec, conn: Connection) -> None:
    """Process entry: encode, say ready, then serve ``run``/``quit`` commands."""
    cycles = encode_fleet(spec)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
    conn.send("ready")
    positions = [0] * len(cycles)
    while True:
        command = conn.recv()
        if command[0] == "quit":
            return
        _, seconds, rates, active = command
        report = SendReport(frames_per_port=[0] * len(cycles))
        cpu0, t0 = time.process_time(), time.monotonic()
        end = t0 + seconds
        step_s = 0.005
        next_s = t0
        credit = [0.0] * len(cycles)
        while (now := time.monotonic()) < end and not conn.poll():
            if rates:  # paced: this step's share of every port's rate
                report.late_s_max = max(report.late_s_max, now - next_s)
            for p, frames in enumerate(cycles):
                if not frames or not active[p]:
                    continue
                credit[p] += rates[p] * step_s if rates else 64.0
                count = int(credit[p])
                credit[p] -= count
                target = ("127.0.0.1", spec.ports[p])
                for _ in range(count):
                    data = frames[positions[p] % len(frames)]
                    positions[p] += 1
                    try:
                        sock.sendto(data, target)
                        report.frames_per_port[p] += 1
                    except OSError:
                        pass
            if rates:
                next_s += step_s
                delay = next_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        report.seconds = time.monotonic() - t0
        report.cpu_s = time.process_time() - cpu0
        if conn.poll():
            conn.recv()  # the "stop" that ended this run early
        conn.send(report)


class Sender:
    """The fleet's sender process (spawned: it encodes its own frames)."""

    def __init__(self, spec: FleetSpec) -> None:
        self.spec = spec
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_sender_main, args=(spec, child), daemon=True)
        self._proc.start()
        if not self._conn.poll(120) or self._conn.recv() != "ready":
            raise RuntimeError("the sender did not get ready")

    def nominal_rates(self) -> list[float]:
        """Messages per second per port: each drone's positions plus a heartbeat."""
        per_drone = max(1, round(self.spec.position_hz)) + 1
        return [self.spec.drones_on(p) * per_drone for p in range(len(self.spec.ports))]

    def start(
        self,
        seconds: float,
        *,
        flat_out: bool = False,
        active: Sequence[bool] | None = None,
    ) -> None:
        """Send for ``seconds`` in the background (nominal rate, or flat out), on
        the ports ``active`` marks (default: all)."""
        rates = None if flat_out else self.nominal_rates()
        mask = list(active) if active is not None else [True] * len(self.spec.ports)
        self._conn.send(("run", seconds, rates, mask))

    def stop(self) -> SendReport:
        """End the current run now and return its report."""
        self._conn.send(("stop",))
        return self.result()

    def result(self, timeout_s: float = 120.0) -> SendReport:
        if not self._conn.poll(timeout_s):
            raise RuntimeError("the sender did not report")
        report: SendReport = self._conn.recv()
        return report

    def close(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self._conn.send(("quit",))
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()
