"""A real ``skyberth serve`` for the gateway benchmark, and how it is read.

The server runs in a subprocess on a fresh SQLite database with one ``udpin`` link
per site copy, opening hours ``24h`` and copies of the demo site with their
corridors' capacity raised (so 250 bookings can share each bench corridor).
Drones and bookings are made through the REST API like an operator would; gateway
figures come from ``GET /api/v1/telemetry/links`` and ``/metrics``, CPU from ``/proc``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2

from airspace.site import CorridorId, Site, SiteId
from airspace.site_files import save_site
from airspace.site_parse import parse_site
from bench.gateway_fleet import FleetLayout, SimDrone
from bench.gateway_sender import Progress
from booking import drone_services, services
from booking.catalogue import StaticSiteCatalogue
from booking.model import Actor, DroneId, OperatorId, Role, UserId
from booking.rules import SitePolicy
from booking.unit_of_work import SqlUnitOfWork
from tests.harness.sites import site_copy, site_id
from web.auth import hash_password
from web.db import make_engine, write_session
from web.migrate import upgrade
from web.users import add_user

PASSWORD = "bench-password"
OPERATOR, ADMIN, STAFF = "bench-op", "bench-admin", "bench-safety"
USERS: dict[str, tuple[Role, str | None]] = {
    OPERATOR: (Role.OPERATOR, "bench"),
    ADMIN: (Role.SITE_ADMIN, None),
    STAFF: (Role.SAFETY_OFFICER, None),
}
CORRIDOR_CAPACITY = 10_000
START_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 30.0
PROC_STAT = Path("/proc/stat")
PROC_UDP = Path("/proc/net/udp")
_METRIC = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$")


def write_bench_sites(directory: Path, base: Site, sites: int) -> list[Path]:
    """Write ``sites`` copies of ``base`` (see ``site_copy``); return their paths."""
    paths = []
    for k in range(sites):
        path = directory / f"bench_site_{k}.geojson"
        save_site(parse_site(site_copy(base, k, CORRIDOR_CAPACITY)), path)
        paths.append(path)
    return paths


def free_udp_ports(n: int) -> list[int]:
    """``n`` distinct UDP ports on 127.0.0.1 that were free a moment ago."""
    with ExitStack() as stack:
        socks = [
            stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            for _ in range(n)
        ]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BenchServer:
    """A running server: its process, addresses, tokens and an HTTP client."""

    process: subprocess.Popen[bytes]
    base_url: str
    ws_url: str
    udp_ports: list[int]
    log_path: Path
    tokens: dict[str, str]
    client: httpx2.Client

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.client.request(
            method, self.base_url + path, headers=headers, **kwargs
        )

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def seed_users(db_url: str) -> None:
    """Create the bench users (one argon2 hash for all) in a migrated database."""
    engine = make_engine(db_url)
    upgrade(engine)
    hashed = hash_password(PASSWORD)
    now = datetime.now(UTC)
    for name, (role, org) in USERS.items():
        add_user(engine, name, role, PASSWORD, now, org, password_hash=hashed)
    engine.dispose()


def seed_fleet(
    db_url: str, base: Site, layout: FleetLayout, drones: list[SimDrone]
) -> None:
    """Register ``drones``, approve their bookings and mark them active (flying)
    straight through the booking services (the same rules as the API, without
    HTTP), before the server starts.

    Through the API each registration makes the server reload its whole fleet
    directory, so thousands take many minutes; the API path is exercised by the
    drones ``register_and_book`` handles.
    """
    sites = {
        site_id(base, k): parse_site(site_copy(base, k, CORRIDOR_CAPACITY))
        for k in range(layout.sites)
    }
    engine = make_engine(db_url)
    catalogue = StaticSiteCatalogue(sites, default_policy=SitePolicy(always_open=True))

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(lambda: write_session(engine), catalogue)

    operator = Actor(UserId(OPERATOR), Role.OPERATOR, OperatorId("bench"))
    admin = Actor(UserId(ADMIN), Role.SITE_ADMIN, None)
    now = datetime.now(UTC)
    start = now + timedelta(seconds=1)
    for drone in drones:
        site = SiteId(site_id(base, drone.site))
        drone_id = DroneId(drone_key(drone))
        drone_services.register_drone(
            uow(),
            drone_services.RegisterDrone(
                drone_id, drone_key(drone), site, OperatorId("bench"), drone.sysid, 4.0
            ),
            operator,
            now,
        )
        booking = services.request_booking(
            uow(),
            services.RequestBooking(
                site,
                drone_id,
                start,
                start + timedelta(hours=2),
                corridor_id=CorridorId(layout.corridor_id),
            ),
            operator,
            now,
        )
        services.approve(uow(), booking.id, admin, now)
        # Already flying: the steady state of a fleet that took off a while ago,
        # not a thousand take-offs in the first seconds of the run.
        services.activate(uow(), booking.id, operator, start)
    engine.dispose()


def drone_key(drone: SimDrone) -> str:
    """The bench's drone id for ``drone`` (also its name)."""
    return f"bench-{drone.site}-{drone.sysid}"


@contextmanager
def bench_server(
    data_dir: Path,
    site_paths: list[Path],
    links: int,
    log_level: str,
    prepare: Callable[[str], None] | None = None,
) -> Iterator[BenchServer]:
    """Start ``skyberth serve`` with ``links`` udpin links; stop it on exit.

    ``prepare`` gets the database URL after the users are made, before the start.
    """
    db_url = f"sqlite:///{data_dir / 'skyberth.sqlite3'}"
    seed_users(db_url)
    if prepare is not None:
        prepare(db_url)
    http_port = free_tcp_port()
    udp_ports = free_udp_ports(links)
    env = dict(os.environ)
    env.update(
        SKYBERTH_DATA_DIR=str(data_dir),
        SKYBERTH_SITE_FILES=json.dumps([str(p) for p in site_paths]),
        SKYBERTH_MAVLINK=json.dumps([f"udpin:127.0.0.1:{p}" for p in udp_ports]),
        SKYBERTH_OPENING_HOURS="24h",
        SKYBERTH_LOG_LEVEL=log_level,
    )
    env.pop("SKYBERTH_DATABASE_URL", None)
    log_path = data_dir / "server.log"
    base_url = f"http://127.0.0.1:{http_port}"
    with log_path.open("wb") as log, httpx2.Client(timeout=HTTP_TIMEOUT_S) as client:
        process = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--port", str(http_port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_healthy(client, base_url, process, log_path)
            tokens = {name: _login(client, base_url, name) for name in USERS}
            yield BenchServer(
                process,
                base_url,
                f"ws://127.0.0.1:{http_port}/ws/live",
                udp_ports,
                log_path,
                tokens,
                client,
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(
    client: httpx2.Client, base_url: str, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            client.get(base_url + "/healthz", timeout=1).raise_for_status()
            return
        except httpx2.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
                raise SystemExit(
                    f"server did not start; its log ends:\n{tail}"
                ) from None
            time.sleep(0.2)


def _login(client: httpx2.Client, base_url: str, name: str) -> str:
    response = client.post(
        base_url + "/api/v1/auth/token", data={"username": name, "password": PASSWORD}
    )
    if response.status_code != 200:
        raise SystemExit(
            f"login of {name} failed: {response.status_code} {response.text}"
        )
    return str(response.json()["access_token"])


def register_and_book(
    server: BenchServer,
    layout: FleetLayout,
    base: Site,
    drones: list[SimDrone],
    workers: int = 8,
) -> tuple[int, datetime]:
    """Register ``drones`` and book their sites' bench corridor now, via the API.

    Returns the number of bookings and when the last one starts. Each booking starts
    a second after it is requested (bookings may not start in the past) and lasts
    two hours; a site admin approves it. ``workers`` clients work in parallel.
    """
    with ThreadPoolExecutor(workers) as pool:
        starts = list(
            pool.map(lambda d: _register_one(server, layout, base, d), drones)
        )
    return len(drones), max(starts, default=datetime.now(UTC))


def _register_one(
    server: BenchServer, layout: FleetLayout, base: Site, drone: SimDrone
) -> datetime:
    site = site_id(base, drone.site)
    drone_id = drone_key(drone)
    _expect(
        server.call(
            OPERATOR,
            "POST",
            "/api/v1/drones",
            json={
                "id": drone_id,
                "name": drone_id,
                "site_id": site,
                "mavlink_sysid": drone.sysid,
                "max_takeoff_mass_kg": 4.0,
            },
        ),
        201,
    )
    start = datetime.now(UTC) + timedelta(seconds=1)
    response = _expect(
        server.call(
            OPERATOR,
            "POST",
            "/api/v1/bookings",
            json={
                "site_id": site,
                "drone_id": drone_id,
                "start": start.isoformat(),
                "end": (start + timedelta(hours=2)).isoformat(),
                "corridor_id": layout.corridor_id,
            },
        ),
        201,
    )
    booking_id = int(response.json()["id"])
    _expect(server.call(ADMIN, "POST", f"/api/v1/bookings/{booking_id}/approve"), 200)
    return start


def _expect(response: httpx2.Response, status: int) -> httpx2.Response:
    if response.status_code != status:
        raise SystemExit(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response


@dataclass(frozen=True)
class GatewaySample:
    """The gateway's counters at one instant (``t_s``: mid-request, epoch s)."""

    t_s: float
    frames_ok: int
    datagrams_in: int
    seq_lost: int
    bad_input: dict[str, int]
    vehicles: int
    tick_ms_max: float
    tick_ms_last: float
    loop_lag_ms: dict[str, float]
    decode_age_ms_p99: float
    """The worst link's 99th percentile of datagram age at decoding."""
    shed_datagrams: int
    overloaded: bool
    """The server's event-loop lag (p50, p99, max over its last 30 s; stalls)."""
    server_cpu_s: float
    wakeups: int
    """Socket reads of every UDP link (``wakeups``: one loop wakeup each)."""
    machine_busy_s: float
    link_ids: tuple[str, ...]
    request_s: float
    """How long the request took (the server's load shows here first)."""


BAD_KEYS = ("bad_crc", "malformed", "garbage_bytes", "truncated", "internal_errors")


def sample_gateway(server: BenchServer) -> GatewaySample:
    """Read ``/api/v1/telemetry/links`` and the server's CPU time."""
    t0 = time.time()
    response = _expect(server.call(STAFF, "GET", "/api/v1/telemetry/links"), 200)
    t1 = time.time()
    body = response.json()
    frames_ok = datagrams_in = seq_lost = 0
    links = body["links"]
    bad = dict.fromkeys((*BAD_KEYS, "callback_errors"), 0)
    for link in body["links"]:
        datagrams_in += int(link["transport"]["datagrams_in"])
        bad["callback_errors"] += int(link["transport"].get("callback_errors", 0))
        for stream in link["streams"]:
            frames_ok += int(stream["frames_ok"])
            seq_lost += int(stream.get("seq_lost", 0))
            for key in BAD_KEYS:
                bad[key] += int(stream.get(key, 0))
    return GatewaySample(
        # The server's own reading time when it gives one, else mid-request.
        t_s=float(body.get("t_s", (t0 + t1) / 2)),
        frames_ok=frames_ok,
        datagrams_in=datagrams_in,
        seq_lost=seq_lost,
        bad_input=bad,
        vehicles=int(body.get("vehicles", 0)),
        tick_ms_max=float(body.get("tick_ms_max", 0.0)),
        tick_ms_last=float(body.get("tick_ms_last", 0.0)),
        loop_lag_ms={k: float(v) for k, v in body.get("loop_lag_ms", {}).items()},
        decode_age_ms_p99=max(
            (float(link.get("decode_age_ms", {}).get("p99", 0.0)) for link in links),
            default=0.0,
        ),
        shed_datagrams=sum(
            int(link["transport"].get("shed_datagrams", 0)) for link in links
        ),
        overloaded=bool(body.get("overloaded", False)),
        server_cpu_s=process_cpu_s(server.process.pid),
        wakeups=sum(int(link["transport"].get("wakeups", 0)) for link in links),
        machine_busy_s=machine_busy_s(),
        link_ids=tuple(str(link["link_id"]) for link in body["links"]),
        request_s=t1 - t0,
    )


def read_metrics(server: BenchServer) -> dict[str, float]:
    """``/metrics`` as ``{"name{labels}": value}``."""
    response = _expect(server.call(STAFF, "GET", "/metrics"), 200)
    out: dict[str, float] = {}
    for line in response.text.splitlines():
        match = _METRIC.match(line)
        if match:
            out[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return out


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads); Linux only."""
    return _cpu_s(Path(f"/proc/{pid}/stat"))


def main_thread_cpu_s(pid: int) -> float:
    """User + system CPU seconds of the main thread of process ``pid`` (the event
    loop's, for the server); Linux only."""
    return _cpu_s(Path(f"/proc/{pid}/task/{pid}/stat"))


def _cpu_s(stat: Path) -> float:
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds the whole machine was busy (all cores), from ``/proc/stat``."""
    if not PROC_STAT.exists():
        return 0.0
    ticks = [int(v) for v in PROC_STAT.read_text().split("\n")[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def udp_socket_queues(ports: Collection[int]) -> tuple[int, int]:
    """Bytes queued in, and datagrams dropped by, the 127.0.0.1 UDP sockets bound to
    ``ports`` (``/proc/net/udp``: ``rx_queue`` counts kernel buffer bytes, roughly
    1 KiB per small datagram)."""
    wanted = {f"0100007F:{port:04X}" for port in ports}
    queued = dropped = 0
    try:
        lines = PROC_UDP.read_text().splitlines()[1:]
    except OSError:
        return 0, 0
    for line in lines:
        fields = line.split()
        if len(fields) > 12 and fields[1] in wanted:
            queued += int(fields[4].split(":")[1], 16)
            dropped += int(fields[12])
    return queued, dropped


@dataclass(frozen=True)
class KernelSample:
    """The server seen from outside at one instant (epoch seconds)."""

    t_s: float
    queued_bytes: int
    """Bytes waiting in its UDP receive buffers (kernel accounting)."""
    dropped: int
    """Datagrams the kernel dropped at its sockets so far (buffers full)."""
    server_cpu_s: float
    server_main_cpu_s: float
    """Of ``server_cpu_s``, the main thread's (the event loop: the gateway, the
    sockets and the viewers; the rest is the recorder's and worker threads)."""
    machine_busy_s: float
    sent: int
    """Datagrams the sender had sent (its shared counter), read just before."""


class KernelWatch:
    """Samples the server's UDP sockets and CPU every ``period_s`` in a thread.

    Nothing here asks the server: an overloaded server answers HTTP late, the
    kernel's counters are read at once.
    """

    def __init__(
        self,
        ports: Collection[int],
        pid: int,
        sent: Progress,
        period_s: float = 0.1,
    ) -> None:
        self.ports = list(ports)
        self.pid = pid
        self.sent = sent
        self.period_s = period_s
        self.samples: list[KernelSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> KernelWatch:
        self.samples.append(self.sample())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(self.sample())

    def sample(self) -> KernelSample:
        sent = int(self.sent.value)
        queued, dropped = udp_socket_queues(self.ports)
        return KernelSample(
            time.time(),
            queued,
            dropped,
            process_cpu_s(self.pid),
            main_thread_cpu_s(self.pid),
            machine_busy_s(),
            sent,
        )

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.samples.append(self.sample())


def datagram_truesize(datagrams: list[bytes]) -> float:
    """Kernel bytes a queued datagram of this stream takes (about 0.8-1.3 KiB for
    small ones), measured by queueing ``datagrams`` on a socket nobody reads."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        port = int(sink.getsockname()[1])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as source:
            for data in datagrams:
                source.sendto(data, ("127.0.0.1", port))
        time.sleep(0.05)
        queued, dropped = udp_socket_queues([port])
    kept = len(datagrams) - dropped
    return queued / kept if kept > 0 else 1024.0
