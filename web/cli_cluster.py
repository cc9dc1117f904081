"""``skyberth cluster`` (``make cluster``): the deployment of docs/bus.md on one
machine, in one command.

A fresh database on the local PostgreSQL (dropped on exit unless ``--keep``), the
local NATS with JetStream under a deployment name of its own, 2 gateways and 2 web
processes (started as ``web.local_cluster`` says, as the fault tests start theirs),
the demo users, drones and bookings, and one simulator per gateway flying its
shard of the booked fleet. Prints the URLs and passwords; Ctrl-C stops everything.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated

import sqlalchemy as sa
import typer
from sqlalchemy.engine import make_url

from web.cli_demo import seed_demo
from web.local_cluster import ProcessRole, role_command, role_environment, wait_healthy

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
START_TIMEOUT_S = 60.0


def _echo(text: str) -> None:
    typer.echo(text, err=True)


def _create_database(admin_url: str, name: str) -> str:
    from web.db import make_engine

    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(admin_url: str, name: str) -> None:
    from web.db import make_engine

    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _watchers(
    proc: subprocess.Popen[bytes], log: Path
) -> tuple[Callable[[], bool], Callable[[], str]]:
    """Whether ``proc`` still runs, and the tail of its log (for a start failure)."""
    return (
        lambda: proc.poll() is None,
        lambda: log.read_text(errors="replace")[-3000:],
    )


def _delete_stream(bus_url: str, deployment: str) -> None:
    """Remove the deployment's event stream (it was this run's alone)."""
    import asyncio

    import nats

    from telemetry.live.bus import events_stream_name

    async def delete() -> None:
        nc = await nats.connect(bus_url, connect_timeout=2, max_reconnect_attempts=0)
        try:
            await nc.jetstream().delete_stream(events_stream_name(deployment))
        finally:
            await nc.close()

    try:
        asyncio.run(delete())
    except Exception as exc:
        _echo(f"stream of {deployment} not removed: {exc}")


def cluster(
    admin_url: Annotated[
        str,
        typer.Option(
            help="A PostgreSQL role that may create databases (the URL of its "
            "maintenance database).",
            envvar="SKYBERTH_CLUSTER_ADMIN_URL",
        ),
    ] = ADMIN_URL,
    bus: Annotated[
        str, typer.Option(help="NATS with JetStream.", envvar="SKYBERTH_BUS_URL")
    ] = "nats://127.0.0.1:4222",
    gateways: Annotated[int, typer.Option(min=1, max=9)] = 2,
    webs: Annotated[int, typer.Option("--webs", min=1, max=9)] = 2,
    drones: Annotated[
        int, typer.Option(help="Booked demo drones, split over the gateways.", min=1)
    ] = 6,
    web_port: Annotated[int, typer.Option(help="First web process's port.")] = 8001,
    gateway_port: Annotated[
        int, typer.Option(help="First gateway's health/metrics port.")
    ] = 8101,
    mavlink_port: Annotated[
        int, typer.Option(help="First gateway's MAVLink UDP port.")
    ] = 14551,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the database after Ctrl-C.")
    ] = False,
) -> None:
    """Run 2 gateways, 2 web processes and the split simulator on one machine."""
    from web.app import create_app
    from web.settings import Settings

    tag = secrets.token_hex(4)
    db_name = f"skyberth_cluster_{tag}"
    secret_key = secrets.token_hex(32)
    deployment = f"cluster-{tag}"
    try:
        db_url = _create_database(admin_url, db_name)
    except sa.exc.SQLAlchemyError as exc:
        _echo(f"error: cannot create a database through {admin_url}: {exc}")
        raise typer.Exit(2) from None
    workdir = Path(tempfile.mkdtemp(prefix="skyberth-cluster-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKYBERTH_")}
        env |= {"SKYBERTH_ENV": "prod", "SKYBERTH_OPENING_HOURS": "24h"}
        settings = Settings(
            data_dir=workdir / "seed",
            database_url=db_url,
            secret_key=secret_key,
            opening_hours="24h",
        )
        seed = seed_demo(create_app(settings), settings, drones, datetime.now(UTC))
        started: list[tuple[str, str, Path]] = []
        for i in range(1, gateways + webs + 1):
            role: ProcessRole = "gateway" if i <= gateways else "web"
            n = i if role == "gateway" else i - gateways
            name = f"{'gw' if role == 'gateway' else 'web'}-{n}"
            port = (gateway_port if role == "gateway" else web_port) + n - 1
            udp = [mavlink_port + n - 1] if role == "gateway" else []
            log = workdir / f"{name}.log"
            proc_env = role_environment(
                env,
                data_dir=workdir / name,
                database_url=db_url,
                secret_key=secret_key,
                udp_ports=udp,
                extra={"SKYBERTH_DEPLOYMENT": deployment},
            )
            with log.open("ab") as out:
                procs.append(
                    subprocess.Popen(
                        role_command(role, name, port, bus),
                        env=proc_env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
            started.append((name, f"http://127.0.0.1:{port}", log))
        for (_, url, log), proc in zip(started, procs, strict=True):
            alive, tail = _watchers(proc, log)
            wait_healthy(url, alive, START_TIMEOUT_S, tail)
        web_url = started[gateways][1]
        for k in range(1, gateways + 1):
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "simulator",
                        "--api",
                        web_url,
                        "--token",
                        seed.operator_token,
                        "--shard",
                        f"{k}/{gateways}",
                        "--to",
                        f"udpout:127.0.0.1:{mavlink_port + k - 1}",
                        "--repeat",
                        "--progress-s",
                        "60",
                    ],
                    env=env,
                )
            )
        _echo(f"database {db_name} on {make_url(admin_url).host}, NATS {bus}")
        _echo(f"deployment {deployment}; logs in {workdir}")
        for name, url, _ in started:
            _echo(f"  {name:<6} {url}")
        _echo("users: " + ", ".join(f"{u} / {p}" for u, p in seed.passwords.items()))
        _echo("Ctrl-C stops everything.")

        def stop(_signum: int, _frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not keep:
            _drop_database(admin_url, db_name)
            _delete_stream(bus, deployment)
        _echo(f"stopped; database {db_name} {'kept' if keep else 'dropped'}")
