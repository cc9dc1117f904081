"""``skyberth demo``: the whole product on one machine, offline, in one command.

Starts the server on the demo site with a fresh SQLite database, seeds demo users
(printed with their passwords), drones and bookings for right now, then starts the
simulator as a separate process that flies the booked drones over real MAVLink/UDP
- one drifting out of its corridor, plus an intruder without a booking - and prints
the URL of the live map. Ctrl-C stops the simulator and the server cleanly.
"""

from __future__ import annotations

import logging
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from fastapi import FastAPI

from airspace.site import CorridorId, PadId, SiteId
from booking import drone_services, services
from booking.model import Actor, DroneId, OperatorId, Role, UserId
from booking.unit_of_work import SqlUnitOfWork
from web.auth import create_access_token
from web.input_limits import MAX_WS_MESSAGE_BYTES
from web.logs import configure_logging
from web.settings import Settings
from web.users import add_user

log = logging.getLogger(__name__)

DEMO_ORG = "harbour-air"
DEMO_USERS: dict[str, tuple[Role, str | None]] = {
    "admin": (Role.SITE_ADMIN, None),
    "safety": (Role.SAFETY_OFFICER, None),
    "operator": (Role.OPERATOR, DEMO_ORG),
    "pilot": (Role.PILOT, DEMO_ORG),
}
DEMO_FLIGHTS: tuple[tuple[str, str, str], ...] = (
    ("C1", "P1", "P1"),
    ("C2", "P2", "P2"),
    ("C3", "P3", "P3"),
    ("C1", "P4", "P4"),
)
"""(corridor, take-off pad, landing pad) per demo drone, cycled."""
DRIFTING_DRONE = 4
"""The fleet position of the drone that drifts out of its corridor: Kite-4 on the
over-water loop C1, so that Kite-2 flies the maritime corridor C2 as planned and
meets the crossing ferry early."""
VESSEL_CROSSING_AT_S = 80.0
"""When the demo's ferry crosses under the drone flying the maritime corridor C2
(simulated s): Kite-2 is over the water from about 65 s; the simulator aims the
ferry at where that drone will be then (``skyberth sim --vessel-crossing``)."""
DEGRADED_SIGNAL_DRONE = 3
"""The fleet position of the drone reporting RADIO_STATUS and WIND, its GNSS and
radio degraded for 20 s in flight: C3, the dense-urban corridor, where signal
among tall buildings is what trials test; its flights show radio and wind."""
DEMO_FENCE_LEAD_MIN = 5.0
"""The demo's bookings begin now: their fences go up as their drones connect."""


@dataclass(frozen=True)
class DemoSeed:
    passwords: dict[str, str]
    operator_token: str
    booking_ids: list[int]
    start: datetime
    """When the bookings begin (UTC): the drones take off no earlier."""


def seed_demo(app: FastAPI, settings: Settings, drones: int, now: datetime) -> DemoSeed:
    """Create the demo users, drones and today's approved bookings."""
    engine = app.state.engine
    site_id = SiteId(next(iter(app.state.sites)))
    passwords = {name: secrets.token_urlsafe(9) for name in DEMO_USERS}
    for name, (role, org) in DEMO_USERS.items():
        add_user(engine, name, role, passwords[name], now, org)
    operator = Actor(UserId("operator"), Role.OPERATOR, OperatorId(DEMO_ORG))
    admin = Actor(UserId("admin"), Role.SITE_ADMIN)

    def uow() -> SqlUnitOfWork:
        factory = app.state.uow_factory
        result: SqlUnitOfWork = factory()
        return result

    start = now + timedelta(seconds=2)
    booking_ids = []
    for n in range(1, drones + 1):
        corridor, takeoff, landing = DEMO_FLIGHTS[(n - 1) % len(DEMO_FLIGHTS)]
        drone_id = DroneId(f"kite-{n}")
        drone_services.register_drone(
            uow(),
            drone_services.RegisterDrone(
                drone_id, f"Kite-{n}", site_id, OperatorId(DEMO_ORG), n, 4.5
            ),
            operator,
            now,
        )
        # Pads hold one booking at a time: drones beyond the pads fly from none.
        pads = n <= len(DEMO_FLIGHTS)
        booking = services.request_booking(
            uow(),
            services.RequestBooking(
                site_id,
                drone_id,
                start,
                start + timedelta(hours=2),
                PadId(takeoff) if pads else None,
                PadId(landing) if pads else None,
                CorridorId(corridor),
            ),
            operator,
            now,
        )
        services.approve(uow(), booking.id, admin, now)
        booking_ids.append(int(booking.id))
    token = create_access_token(
        "operator", "operator", settings.secret_key, now, timedelta(hours=12)
    )
    return DemoSeed(passwords, token, booking_ids, start)


def simulator_command(
    settings: Settings, token: str, speed: float, drones: int
) -> list[str]:
    """The ``skyberth sim`` command line the demo runs."""
    mavlink_port = settings.mavlink[0].rsplit(":", 1)[1]
    api = f"http://{settings.http_host}:{settings.http_port}"
    # Vessels: the harbour traffic, and a ferry crossing the maritime corridor
    # under the drone flying it (and every ~6.5 min after, on the same line).
    ais: list[str] = []
    if settings.ais:
        ais_port = settings.ais[0].rsplit(":", 1)[1]
        ais = ["--ais", f"127.0.0.1:{ais_port}"]
        ais += ["--vessel-crossing", str(VESSEL_CROSSING_AT_S)]
    return [
        sys.executable,
        "-m",
        "simulator",
        "--api",
        api,
        "--token",
        token,
        "--to",
        f"udpout:127.0.0.1:{mavlink_port}",
        "--scenario",
        f"lateral_drift@{min(DRIFTING_DRONE, drones)}:at_s=45,hold_s=25",
        "--scenario",
        f"degraded_signal@{min(DEGRADED_SIGNAL_DRONE, drones)}:at_s=30,duration_s=20",
        "--intruders",
        "1",
        "--speed",
        str(speed),
        "--repeat",
        "--progress-s",
        "30",
        *ais,
    ]


def _start_simulator_when_ready(
    server_started: threading.Event,
    command: list[str],
    procs: list[subprocess.Popen[bytes]],
    bookings_start: datetime,
) -> None:
    if not server_started.wait(timeout=60):
        log.error("server did not start; not starting the simulator")
        return
    # A drone in the air before its booking begins is an unbooked flight: the
    # demo would open a false incident in its first second.
    wait_s = (bookings_start - datetime.now(UTC)).total_seconds() + 0.5
    if wait_s > 0:
        time.sleep(wait_s)
    procs.append(subprocess.Popen(command))


def demo(
    port: Annotated[int, typer.Option(help="HTTP port of the demo server.")] = 8000,
    mavlink_port: Annotated[
        int, typer.Option(help="UDP port the gateway listens on (127.0.0.1).")
    ] = 14550,
    ais_port: Annotated[
        int | None,
        typer.Option(help="UDP port for AIS (127.0.0.1); default MAVLink port + 1."),
    ] = None,
    drones: Annotated[
        int, typer.Option(help="Booked demo drones (one drifts out).", min=1, max=50)
    ] = 4,
    speed: Annotated[
        float, typer.Option(help="Simulated time per real second.", min=0.1, max=20)
    ] = 1.0,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the demo keeps its database and recordings "
            "(default: a new temporary directory).",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Run the demo: server + simulated drones + live map, offline, in one go.

    Prints the live map's URL and the demo users' passwords. One drone drifts out
    of its corridor about a minute in, and an unbooked intruder appears, so the map
    shows incidents. Ctrl-C stops everything.
    """
    import uvicorn

    from web.app import create_app

    directory = data_dir or Path(tempfile.mkdtemp(prefix="skyberth-demo-"))
    directory.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        env="dev",
        data_dir=directory,
        http_host="127.0.0.1",
        http_port=port,
        mavlink=[f"udpin:127.0.0.1:{mavlink_port}"],
        ais=[f"udpin:127.0.0.1:{ais_port or mavlink_port + 1}"],
        opening_hours="24h",
        log_level="WARNING",
        # The simulated drones obey their fences, so the demo sends each booking's
        # fence as soon as its drone connects (the server's default is by hand).
        fence_upload_lead_min=DEMO_FENCE_LEAD_MIN,
    )
    configure_logging("INFO")
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    app = create_app(settings, tune_interpreter=True)
    seed = seed_demo(app, settings, drones, datetime.now(UTC))
    base = f"http://127.0.0.1:{port}"
    typer.echo(
        "\n".join(
            [
                "",
                "SkyBerth demo",
                f"  live map:   {base}/map",
                f"  bookings:   {base}/bookings",
                f"  API docs:   {base}/docs",
                f"  MAVLink:    udp 127.0.0.1:{mavlink_port} "
                "(ground stations: skyberth serve --forward, README)",
                f"  AIS:        udp 127.0.0.1:{ais_port or mavlink_port + 1} "
                "(any NMEA !AIVDM source; the demo's vessels come here)",
                f"  data:       {directory}",
                "  users (name / password):",
                *(
                    f"    {name:<9} {password}   ({DEMO_USERS[name][0]})"
                    for name, password in seed.passwords.items()
                ),
                f"  {drones} booked drone(s) take off now; Kite-"
                f"{min(DRIFTING_DRONE, drones)} drifts out of its corridor, and an "
                "intruder flies without a booking.",
                "  AIS: harbour traffic, and a ferry crossing under the drone on the "
                f"maritime corridor C2 (about {VESSEL_CROSSING_AT_S:.0f} s in, "
                "then every ~6.5 min).",
                "  Ctrl-C stops the demo.",
                "",
            ]
        )
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            ws_per_message_deflate=False,  # frames are serialised once for all
            ws_max_size=MAX_WS_MESSAGE_BYTES,
        )
    )
    procs: list[subprocess.Popen[bytes]] = []
    started = threading.Event()
    watcher = threading.Thread(
        target=_start_simulator_when_ready,
        args=(
            started,
            simulator_command(settings, seed.operator_token, speed, drones),
            procs,
            seed.start,
        ),
        daemon=True,
    )
    watcher.start()

    def announce_start() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            started.set()

    threading.Thread(target=announce_start, daemon=True).start()
    # On the main thread uvicorn re-raises SIGINT after its shutdown (exit 130):
    # serve from a thread and stop it from here, so Ctrl-C is a clean exit 0.
    serving = threading.Thread(target=server.run, name="demo-server")

    def stop(_signum: int, _frame: object) -> None:
        server.should_exit = True

    previous = {
        sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    serving.start()
    try:
        while serving.is_alive():
            serving.join(timeout=0.5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        typer.echo(f"demo stopped; its data stays in {directory}")
