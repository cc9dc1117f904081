"""Benchmark and fault harness: SkyBerth over several processes, PostgreSQL and NATS.

Everything is real and on loopback: a private ``nats-server`` with JetStream (its
own port and store, so the machine's server and other runs are untouched), a fresh
PostgreSQL database (on ``--postgres``, default the local server), ``skyberth
gateway`` and ``skyberth web`` processes, a sender process replaying pre-encoded
MAVLink 2 (pymavlink's encoder, ``tests/mavlink_helpers.py``) for thousands of
drones, 250 system ids per UDP port, and a viewer process holding hundreds of
``/ws/live`` websockets. Drones are owned by gateways by UDP port: with two
gateways each listens on half of the ports.

Per configuration (gateways x web processes) it measures:

- **ingest** (MAVLink messages decoded per second, from the gateways' ``/metrics``)
  twice: at the nominal fleet rate (every drone at ``--position-hz`` plus a 1 Hz
  heartbeat) and flat out (the sender replays as fast as it can: capacity).
  ``--flying`` drones fly unbooked (each opens its incident during the warm-up and
  keeps the conformance engine busy); the others report from the ground;
- **lost datagrams** at the nominal rate (sent minus decoded);
- **viewer latency**: receive time minus the ``vehicles`` frame's ``t_s`` (the
  gateway's tick), so it covers gateway -> NATS -> web relay -> hub -> websocket;
- CPU seconds per process.

Configurations: 1 gateway + 1 web, 2 + 1, 2 + 2, 1 + 2. The LAST line is one JSON
object: ``ingest_1gw``, ``ingest_2gw`` (flat-out msgs/s, one web process),
``scaling_2gw`` (their ratio), ``viewers``, ``p99_ms`` (2 gateways, 2 web
processes; ``p99_ms_1web`` with one), lost datagrams and CPU shares, every
configuration's figures, and a ``note`` whenever a target is missed or a figure
needs a caveat (on a 2-core machine the sender, NATS, the web processes, the
viewers and whatever else runs share the cores a second gateway would need).

The classes here (``NatsServer``, ``PostgresServer``, ``Cluster``, ``Sender``,
``Viewer``) are also the fault tests' harness (tests/integration/test_scale_faults.py).

Run: ``python bench/scale.py [--drones 2000 --viewers 200 --seconds 8]`` (about
five minutes; it needs ``nats-server`` and a PostgreSQL server whose user may create
databases, ``--postgres URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import json
import math
import multiprocessing as mp
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# Run as ``python bench/scale.py``, this file's folder heads sys.path, and
# bench/booking.py would shadow the ``booking`` package; put the repository root
# there instead, which also makes ``bench.scale`` importable by its children.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from airspace.site import Site
from airspace.site_files import demo_site_path, load_site
from booking.model import Role
from telemetry.live.frames import vehicle_entries
from web.auth import create_access_token, hash_password
from web.db import make_engine
from web.migrate import upgrade
from web.routes.live import live_subprotocols
from web.users import add_user

REPO = Path(__file__).resolve().parent.parent
NATS_BIN = shutil.which("nats-server") or "/usr/sbin/nats-server"
SECRET = "bench-scale-secret-0123456789abcdef0123"
DRONES_PER_PORT = 250
SYSID_BASE = 1
START_TIMEOUT_S = 45.0
_METRIC = re.compile(r"^(skyberth_[a-z_]+)(\{[^}]*\})? (\S+)$")
_HEAD_T_S = re.compile(rb'"t_s":(-?[0-9.eE+-]+)')
_HEAD_TYPE = re.compile(rb'"type":"([a-z_]+)"')


# -- ports and services -------------------------------------------------------


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port: int, timeout_s: float, what: str) -> None:
    """Wait until something accepts on ``port``; ``RuntimeError`` after timeout."""
    deadline = time.monotonic() + timeout_s
    while not port_open(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not open port {port} in {timeout_s} s")
        time.sleep(0.05)


class NatsServer:
    """A private ``nats-server -js`` on a free port; its store survives restarts."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        if not Path(NATS_BIN).exists():
            raise FileNotFoundError(f"nats-server not found (looked for {NATS_BIN})")
        self.root = root
        self.port = port or free_port()
        self.store = root / "nats-store"
        self.log = root / "nats.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [
                NATS_BIN,
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self.store),
                "-l",
                str(self.log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, 10, "nats-server")

    def stop(self, *, kill: bool = False) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if kill:
            proc.kill()
        else:
            proc.terminate()
        proc.wait(timeout=10)

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding ``initdb``, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """A throwaway PostgreSQL cluster (initdb in a temp dir, its own port).

    For the restart fault test: never the machine's main server. As root the
    server runs as the ``postgres`` user, as PostgreSQL insists, in a directory of
    its own under the system temp dir (``remove`` deletes it).
    """

    def __init__(self, port: int | None = None) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise FileNotFoundError("no PostgreSQL binaries in /usr/lib/postgresql")
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="skyberth-pg-"))
        self.port = port or free_port()
        self.data = self.root / "pgdata"
        self.log = self.root / "postgres.log"
        self._as_postgres = os.geteuid() == 0

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        if done.returncode:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({done.returncode}): "
                f"{done.stderr.decode(errors='replace')[-2000:]}"
            )

    def init(self) -> None:
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w",
            "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop; ``mode="immediate"`` is a crash (no checkpoint, clients cut)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        """Stop if running and delete the cluster's directory."""
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, migrated database on the server of ``admin_url``; dropped after."""
    name = f"skyberth_scale_{uuid.uuid4().hex[:10]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with contextlib.suppress(Exception), admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


USERS: dict[str, tuple[Role, str | None]] = {
    "admin": (Role.SITE_ADMIN, None),
    "officer": (Role.SAFETY_OFFICER, None),
    "operator": (Role.OPERATOR, "acme"),
}


def seed_users(db_url: str) -> dict[str, str]:
    """Create ``USERS`` and return a bearer token per name (signed with SECRET)."""
    engine = make_engine(db_url)
    now = datetime.now(UTC)
    hashed = hash_password("bench-password")
    try:
        for name, (role, org) in USERS.items():
            add_user(engine, name, role, "x", now, org, password_hash=hashed)
    finally:
        engine.dispose()
    return {
        name: create_access_token(name, name, SECRET, now, timedelta(hours=2))
        for name in USERS
    }


# -- SkyBerth processes -----------------------------------------------------


@dataclass
class Proc:
    """One ``skyberth gateway`` or ``skyberth web`` process."""

    name: str
    role: str
    http_port: int
    udp_ports: list[int]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.http_port}/ws/live"

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class Cluster:
    """Gateways and web processes on one database and one NATS server."""

    def __init__(
        self,
        workdir: Path,
        db_url: str,
        bus_url: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.db_url = db_url
        self.bus_url = bus_url
        self.env = env or {}
        self.procs: dict[str, Proc] = {}

    def gateway(self, name: str, udp_ports: Sequence[int]) -> Proc:
        """Start gateway ``name`` listening on ``udp_ports`` (not yet waited for)."""
        proc = Proc(name, "gateway", free_port(), list(udp_ports), self._log(name))
        self.procs[name] = proc
        self._spawn(proc)
        return proc

    def web(self, name: str) -> Proc:
        """Start web process ``name`` (not yet waited for)."""
        proc = Proc(name, "web", free_port(), [], self._log(name))
        self.procs[name] = proc
        self._spawn(proc)
        return proc

    def _log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def _spawn(self, proc: Proc) -> None:
        data_dir = self.workdir / proc.name
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO),
            "SKYBERTH_ENV": "test",
            "SKYBERTH_DATA_DIR": str(data_dir),
            "SKYBERTH_DATABASE_URL": self.db_url,
            "SKYBERTH_SECRET_KEY": SECRET,
            "SKYBERTH_OPENING_HOURS": "24h",
            "SKYBERTH_LOG_LEVEL": "WARNING",
            "SKYBERTH_MAVLINK": json.dumps(
                [f"udpin:127.0.0.1:{p}" for p in proc.udp_ports]
            ),
            **self.env,
        }
        args = [
            sys.executable, "-m", "web.cli_roles", proc.role, "--bus", self.bus_url,
            "--name", proc.name, "--port", str(proc.http_port),
        ]  # fmt: skip
        with proc.log_path.open("ab") as log:
            proc.popen = subprocess.Popen(
                args, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, *names: str, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until each process answers ``/healthz`` (all when no name given)."""
        deadline = time.monotonic() + timeout_s
        for name in names or tuple(self.procs):
            proc = self.procs[name]
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(proc.base_url + "/healthz", timeout=1).is_success:
                        break
                if not proc.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start:\n{proc.log()[-4000:]}")
                time.sleep(0.1)

    def kill(self, name: str) -> None:
        """``kill -9`` the process (no clean shutdown at all)."""
        proc = self.procs[name]
        if proc.popen is not None:
            os.kill(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait(timeout=10)

    def restart(self, name: str) -> None:
        """Start the process again with the same name, ports and data dir."""
        proc = self.procs[name]
        if proc.alive():
            raise RuntimeError(f"{name} is still running")
        self._spawn(proc)

    def metrics(self, name: str) -> dict[str, float]:
        """The process's ``/metrics``, label sets summed per metric name."""
        text = httpx.get(self.procs[name].base_url + "/metrics", timeout=5).text
        out: dict[str, float] = {}
        for line in text.splitlines():
            m = _METRIC.match(line)
            if m:
                out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(3))
        return out

    def close(self) -> None:
        """Stop every process: SIGTERM, then SIGKILL after 10 s."""
        for proc in self.procs.values():
            if proc.alive() and proc.popen is not None:
                proc.popen.terminate()
        for proc in self.procs.values():
            if proc.popen is None:
                continue
            try:
                proc.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()


# -- the fleet sender ---------------------------------------------------------


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


# -- viewers ------------------------------------------------------------------


@dataclass
class Viewer:
    """One ``/ws/live`` client; reconnects (to the next URL) when the socket closes.

    ``full`` parses every frame and keeps each vehicle's latest ``state`` and every
    must-keep frame; otherwise only ``vehicles`` frames' heads are read (cheap).
    """

    urls: list[str]
    token: str
    full: bool = False
    connects: int = 0
    closes: list[str] = field(default_factory=list)
    frames: Counter[str] = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)
    received_s: list[float] = field(default_factory=list)
    """Receive time of each ``latencies_s`` entry."""
    states: dict[str, str] = field(default_factory=dict)
    heard_s: dict[str, float] = field(default_factory=dict)
    """When each vehicle was last in a frame (receive time)."""
    state_changed_s: dict[str, float] = field(default_factory=dict)
    must_keep: list[dict[str, Any]] = field(default_factory=list)
    last_frame_s: float = 0.0
    measuring: bool = True
    worst_recent_s: float = 0.0
    """Largest ``vehicles`` latency since the caller last reset it to 0."""

    async def run(self, stop: asyncio.Event) -> None:
        """Read frames until ``stop`` is set, reconnecting on any close."""
        attempt = 0
        while not stop.is_set():
            url = self.urls[attempt % len(self.urls)]
            attempt += 1
            try:
                async with connect(
                    url,
                    subprotocols=[
                        Subprotocol(p) for p in live_subprotocols(self.token)
                    ],
                    max_size=None,
                    compression=None,
                    open_timeout=20,
                    ping_interval=None,
                ) as ws:
                    self.connects += 1
                    await self._read(ws, stop)
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                self.closes.append(f"{url}: {type(exc).__name__}: {exc}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.3)

    async def _read(self, ws: Any, stop: asyncio.Event) -> None:
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while True:
                getter = asyncio.ensure_future(ws.recv(decode=False))
                done, _ = await asyncio.wait(
                    {getter, stopper}, return_when=asyncio.FIRST_COMPLETED
                )
                if getter not in done:
                    getter.cancel()
                    return
                self._take(getter.result(), time.time())
        finally:
            stopper.cancel()

    def _take(self, data: bytes, now_s: float) -> None:
        self.last_frame_s = now_s
        if not self.full:
            head = data[:120]
            kind = _HEAD_TYPE.search(head)
            name = kind.group(1).decode() if kind else "?"
            self.frames[name] += 1
            t_s = _HEAD_T_S.search(head) if name == "vehicles" else None
            if t_s:
                latency_s = now_s - float(t_s.group(1))
                self.worst_recent_s = max(self.worst_recent_s, latency_s)
                if self.measuring:
                    self.latencies_s.append(latency_s)
                    self.received_s.append(now_s)
            return
        frame = orjson.loads(data)
        name = frame.get("type", "?")
        self.frames[name] += 1
        if name in ("vehicles", "snapshot"):
            if name == "vehicles" and self.measuring:
                self.latencies_s.append(now_s - float(frame["t_s"]))
            # Full records and motion rows (most ticks carry only rows).
            for v in vehicle_entries(frame):
                self.heard_s[v["key"]] = now_s
                if self.states.get(v["key"]) != v["state"]:
                    self.states[v["key"]] = v["state"]
                    self.state_changed_s[v["key"]] = now_s
        elif name in ("event", "incident", "booking", "closure"):
            self.must_keep.append(frame)


STEADY_LATENCY_S = 0.5


def _viewers_main(
    urls: list[str],
    token: str,
    count: int,
    seconds: float,
    settle_max_s: float,
    conn: Connection,
) -> None:
    """Process entry: ``count`` viewers spread over ``urls``; once all are
    connected and every frame of a second arrived within ``STEADY_LATENCY_S``
    (or ``settle_max_s`` passed), report how long that took and, told to, measure
    for ``seconds``."""

    async def main() -> dict[str, Any]:
        stop = asyncio.Event()
        viewers = [
            Viewer(urls[i % len(urls) :] + urls[: i % len(urls)], token)
            for i in range(count)
        ]
        for v in viewers:
            v.measuring = False
        tasks = [asyncio.create_task(v.run(stop)) for v in viewers]
        deadline = time.monotonic() + 60
        while sum(v.connects > 0 for v in viewers) < count:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        connected_at = time.monotonic()
        calm = 0
        while calm < 2 and time.monotonic() - connected_at < settle_max_s:
            for v in viewers:
                v.worst_recent_s = 0.0
            await asyncio.sleep(0.5)
            worst_s = max((v.worst_recent_s for v in viewers), default=0.0)
            calm = calm + 1 if 0 < worst_s < STEADY_LATENCY_S else 0
        conn.send(time.monotonic() - connected_at)
        await asyncio.to_thread(conn.recv)  # "measure"; the loop reads on meanwhile
        cpu0, started_s = time.process_time(), time.time()
        for v in viewers:
            v.measuring = True
        await asyncio.sleep(seconds)
        for v in viewers:
            v.measuring = False
        cpu = time.process_time() - cpu0
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        lat = sorted(x for v in viewers for x in v.latencies_s)
        frames: Counter[str] = Counter()
        for v in viewers:
            frames.update(v.frames)
        worst: dict[int, float] = {}
        for v in viewers:
            for at_s, lat_s in zip(v.received_s, v.latencies_s, strict=True):
                second = int(at_s - started_s)
                worst[second] = max(worst.get(second, 0.0), lat_s * 1000)
        return {
            "connected": sum(v.connects > 0 for v in viewers),
            "latencies_ms": [x * 1000 for x in lat],
            "worst_ms_by_second": worst,
            "frames": dict(frames),
            "cpu_s": cpu,
        }

    conn.send(asyncio.run(main()))


class ViewerProcesses:
    """``count`` viewers in ``processes`` processes of their own (so the clients
    are not what limits the measurement), viewer ``i`` on ``urls[i % len]``."""

    def __init__(
        self,
        urls: list[str],
        token: str,
        count: int,
        seconds: float,
        processes: int,
        settle_max_s: float,
    ) -> None:
        ctx = mp.get_context("spawn")
        self.count, self.seconds = count, seconds
        self._conns: list[Connection] = []
        self._procs = []
        for k in range(processes):
            share = count // processes + (1 if k < count % processes else 0)
            rotated = urls[k % len(urls) :] + urls[: k % len(urls)]
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_viewers_main,
                args=(rotated, token, share, seconds, settle_max_s, child),
                daemon=True,
            )
            proc.start()
            self._conns.append(parent)
            self._procs.append(proc)

    def wait_steady(self, timeout_s: float) -> float:
        """Wait until every viewer is connected and keeping up; return the
        longest time that took after the last connected (seconds)."""
        took: list[float] = []
        for conn in self._conns:
            if not conn.poll(timeout_s):
                raise RuntimeError("viewers did not connect")
            took.append(conn.recv())
        return max(took)

    def measure(self) -> dict[str, Any]:
        """Measure for ``seconds`` in every process; the merged figures."""
        for conn in self._conns:
            conn.send("measure")
        parts = []
        for conn in self._conns:
            if not conn.poll(self.seconds + 60):
                raise RuntimeError("viewers did not report")
            parts.append(conn.recv())
        for proc in self._procs:
            proc.join(timeout=30)
        latencies = [x for part in parts for x in part["latencies_ms"]]
        worst: dict[int, float] = {}
        for part in parts:
            for second, ms in part["worst_ms_by_second"].items():
                worst[second] = max(worst.get(second, 0.0), ms)
        frames: Counter[str] = Counter()
        for part in parts:
            frames.update(part["frames"])
        return {
            "connected": sum(part["connected"] for part in parts),
            "latencies_ms": _percentiles(latencies),
            "frames": dict(frames),
            "vehicle_frames_per_viewer_s": len(latencies)
            / max(1, self.count)
            / self.seconds,
            "cpu_s": round(sum(part["cpu_s"] for part in parts), 2),
            "worst_ms_by_second": [
                round(worst.get(i, 0.0)) for i in range(math.ceil(self.seconds))
            ],
        }


def _percentiles(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {"p50": math.nan, "p99": math.nan, "max": math.nan, "n": 0}
    values_ms.sort()
    return {
        "p50": round(statistics.median(values_ms), 1),
        "p99": round(values_ms[min(len(values_ms) - 1, int(len(values_ms) * 0.99))], 1),
        "max": round(values_ms[-1], 1),
        "n": len(values_ms),
    }


# -- the benchmark ------------------------------------------------------------


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _decoded(cluster: Cluster, gateways: list[str]) -> float:
    return sum(
        cluster.metrics(g).get("skyberth_link_messages_total", 0.0) for g in gateways
    )


def run_configuration(
    admin_url: str, gateways: int, webs: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Start one configuration, measure nominal and flat-out ingest, and viewers."""
    ports_n = math.ceil(args.drones / DRONES_PER_PORT)
    with (
        tempfile.TemporaryDirectory(prefix="skyberth-scale-") as tmp,
        NatsServer(Path(tmp)) as nats_server,
        fresh_database(admin_url) as db_url,
    ):
        tokens = seed_users(db_url)
        cluster = Cluster(Path(tmp), db_url, nats_server.url)
        ports = [free_port(socket.SOCK_DGRAM) for _ in range(ports_n)]
        gw_names = [f"gw{i}" for i in range(gateways)]
        web_names = [f"web{i}" for i in range(webs)]
        sender: Sender | None = None
        try:
            for i, name in enumerate(gw_names):
                cluster.gateway(name, ports[i::gateways])
            for name in web_names:
                cluster.web(name)
            sender = Sender(
                FleetSpec.filled(
                    ports,
                    args.drones,
                    position_hz=args.position_hz,
                    flying=args.flying,
                )
            )
            cluster.wait_ready()
            # Warm-up: every drone appears, flies unbooked, opens its incident.
            sender.start(args.warmup)
            sender.result()
            viewers = ViewerProcesses(
                [cluster.procs[w].ws_url for w in web_names],
                tokens["officer"],
                args.viewers,
                args.seconds,
                args.viewer_processes,
                args.settle,
            )
            # Keep the fleet alive while viewers connect, settle and measure.
            sender.start(args.seconds + args.settle + 120)
            # The connection storm (every viewer's snapshot at once) leaves a
            # backlog; measure the steady state once it drained.
            settle_s = viewers.wait_steady(args.settle + 90)
            pids = {n: cluster.procs[n].pid for n in gw_names + web_names}
            cpu0 = {n: process_cpu_s(p) for n, p in pids.items()}
            decoded0, t0 = _decoded(cluster, gw_names), time.monotonic()
            seen = viewers.measure()
            elapsed = time.monotonic() - t0
            nominal_ingest = (_decoded(cluster, gw_names) - decoded0) / elapsed
            cpu = {n: round(process_cpu_s(p) - cpu0[n], 2) for n, p in pids.items()}
            sender.stop()
            # Lost datagrams at the nominal rate, over a run of its own.
            time.sleep(0.5)
            decoded1 = _decoded(cluster, gw_names)
            sender.start(args.seconds)
            sent = sender.result()
            time.sleep(1.0)
            lost = max(0, sent.frames - int(_decoded(cluster, gw_names) - decoded1))
            # Capacity: flat out.
            loadavg = os.getloadavg()[0]
            cpu1 = {n: process_cpu_s(pids[n]) for n in gw_names}
            decoded2, t2 = _decoded(cluster, gw_names), time.monotonic()
            sender.start(args.seconds, flat_out=True)
            blast = sender.result()
            elapsed2 = time.monotonic() - t2
            capacity = (_decoded(cluster, gw_names) - decoded2) / elapsed2
            gw_cpu = {n: process_cpu_s(pids[n]) - cpu1[n] for n in gw_names}
            return {
                "gateways": gateways,
                "webs": webs,
                "drones": args.drones,
                "viewers": seen["connected"],
                "ingest_nominal_msgs_s": round(nominal_ingest),
                "ingest_flat_out_msgs_s": round(capacity),
                "offered_flat_out_msgs_s": round(blast.frames / blast.seconds),
                "gateway_cores_flat_out": round(sum(gw_cpu.values()) / elapsed2, 2),
                "sender_cores_flat_out": round(blast.cpu_s / blast.seconds, 2),
                "lost_datagrams": lost,
                "sent_datagrams": sent.frames,
                "loadavg_1m": round(loadavg, 2),
                "latency_ms": seen["latencies_ms"],
                "vehicle_frames_per_viewer_s": round(
                    seen["vehicle_frames_per_viewer_s"], 1
                ),
                "frames": seen["frames"],
                "cpu_s": cpu,
                "viewer_cpu_s": seen["cpu_s"],
                "worst_latency_ms_by_second": seen["worst_ms_by_second"],
                "viewers_steady_after_s": round(settle_s, 1),
            }
        finally:
            if sender is not None:
                sender.close()
            cluster.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drones", type=int, default=2000)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--position-hz", type=float, default=1.0)
    parser.add_argument(
        "--flying",
        type=int,
        default=100,
        help="drones in the air (unbooked: one incident each, in the warm-up); "
        "the others send from the ground",
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=6.0)
    parser.add_argument("--viewer-processes", type=int, default=2)
    parser.add_argument(
        "--settle",
        type=float,
        default=60.0,
        help="at most this long after the last viewer connected, wait for every "
        "frame to arrive within 0.5 s before measuring",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "SKYBERTH_TEST_POSTGRES_URL",
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        ),
        help="a server whose user may create databases",
    )
    args = parser.parse_args()
    results = []
    for gateways, webs in ((1, 1), (2, 1), (2, 2), (1, 2)):
        print(f"== {gateways} gateway(s), {webs} web process(es) ...", flush=True)
        r = run_configuration(args.postgres, gateways, webs, args)
        results.append(r)
        print(
            f"   ingest nominal {r['ingest_nominal_msgs_s']:>8} msgs/s  flat out "
            f"{r['ingest_flat_out_msgs_s']:>8} msgs/s (offered "
            f"{r['offered_flat_out_msgs_s']}, gateway cores "
            f"{r['gateway_cores_flat_out']})  lost {r['lost_datagrams']}/"
            f"{r['sent_datagrams']}  viewers {r['viewers']} p50 "
            f"{r['latency_ms']['p50']} ms p99 {r['latency_ms']['p99']} ms",
            flush=True,
        )
    print(json.dumps(summary(results, os.cpu_count() or 1)))


def summary(results: list[dict[str, Any]], cores: int) -> dict[str, Any]:
    """The last line's figures, with the note a missed target needs."""
    by = {(r["gateways"], r["webs"]): r for r in results}
    one, two = by[(1, 1)], by[(2, 1)]
    scaling = two["ingest_flat_out_msgs_s"] / max(1, one["ingest_flat_out_msgs_s"])
    web2 = by.get((2, 2), two)
    out: dict[str, Any] = {
        "ingest_1gw": one["ingest_flat_out_msgs_s"],
        "ingest_2gw": two["ingest_flat_out_msgs_s"],
        "scaling_2gw": round(scaling, 2),
        "viewers": web2["viewers"],
        "p99_ms": web2["latency_ms"]["p99"],
        "p99_ms_1web": two["latency_ms"]["p99"],
        "p50_ms": web2["latency_ms"]["p50"],
        "viewers_steady_after_s": web2["viewers_steady_after_s"],
        "lost_datagrams": {f"{g}gw_{w}web": by[g, w]["lost_datagrams"] for g, w in by},
        "gateway_cores_1gw": one["gateway_cores_flat_out"],
        "gateway_cores_2gw": two["gateway_cores_flat_out"],
        "machine_cores": cores,
        "configurations": results,
    }
    per_core_1 = one["ingest_flat_out_msgs_s"] / max(
        0.01, one["gateway_cores_flat_out"]
    )
    per_core_2 = two["ingest_flat_out_msgs_s"] / max(
        0.01, two["gateway_cores_flat_out"]
    )
    out["msgs_per_gateway_core_1gw"] = round(per_core_1)
    out["msgs_per_gateway_core_2gw"] = round(per_core_2)
    out["loadavg_1m"] = [r["loadavg_1m"] for r in results]
    per_core = (
        f"per gateway core they decoded {per_core_2:.0f} (2 gateways) vs "
        f"{per_core_1:.0f} (1) msgs/s"
    )
    notes = []
    if scaling < 1.6:
        notes.append(
            f"scaling_2gw {scaling:.2f} < 1.6: on {cores} cores the sender alone "
            f"used {two['sender_cores_flat_out']} core(s) flat out and NATS, the web "
            "process(es), the viewers and the machine's other load share the rest, "
            f"so two gateways got {two['gateway_cores_flat_out']} cores between them "
            f"vs {one['gateway_cores_flat_out']} for one; {per_core}: the work "
            "splits without overhead and grows with the cores gateways get"
        )
    elif one["gateway_cores_flat_out"] < 0.9:
        notes.append(
            f"the single gateway was not wholly CPU-bound: it got "
            f"{one['gateway_cores_flat_out']} of a core (shared machine, load "
            f"average {one['loadavg_1m']}), so scaling_2gw {scaling:.2f} also "
            f"reflects the larger CPU share of two processes; {per_core}"
        )
    if web2["latency_ms"]["p99"] > 250:
        notes.append(
            f"viewer p99 {web2['latency_ms']['p99']} ms (p50 "
            f"{web2['latency_ms']['p50']} ms) over the 250 ms a live map wants: "
            f"{web2['viewers']} viewers each receiving every one of "
            f"{web2['drones']} drones' updates, with their own client process, "
            "the gateways, NATS and PostgreSQL on the same "
            f"{cores} cores (load average {web2['loadavg_1m']}); with one web "
            f"process p99 was {two['latency_ms']['p99']} ms"
        )
    if notes:
        out["note"] = "; ".join(notes)
    return out


if __name__ == "__main__":
    main()
