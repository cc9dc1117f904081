"""SkyBerth processes: ``skyberth gateway`` and ``skyberth web`` on one database
and one NATS server, started, killed and restarted the way an operator would.

Each process runs ``python -m web.cli_roles`` from this checkout with its own data
directory, HTTP port and log file; ``seed_users`` makes the users the tests and
benchmarks sign in as (tokens signed with ``SECRET``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2

from booking.model import Role
from tests.harness.ports import free_port
from web.auth import create_access_token, hash_password
from web.db import make_engine
from web.local_cluster import ProcessRole, role_command, role_environment, wait_healthy
from web.users import add_user

REPO = Path(__file__).resolve().parents[2]
SECRET = "bench-scale-secret-0123456789abcdef0123"
START_TIMEOUT_S = 45.0
_METRIC = re.compile(r"^(skyberth_[a-z_]+)(\{[^}]*\})? (\S+)$")


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

    def log_tail(self) -> str:
        return self.log()[-4000:]


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
        # Started as ``skyberth cluster`` starts them (web.local_cluster).
        data_dir = self.workdir / proc.name
        data_dir.mkdir(parents=True, exist_ok=True)
        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO),
            "SKYBERTH_ENV": "test",
            "SKYBERTH_OPENING_HOURS": "24h",
            "SKYBERTH_LOG_LEVEL": "WARNING",
        }
        env = role_environment(
            base,
            data_dir=data_dir,
            database_url=self.db_url,
            secret_key=SECRET,
            udp_ports=proc.udp_ports,
            extra=self.env,
        )
        role: ProcessRole = "gateway" if proc.role == "gateway" else "web"
        args = role_command(role, proc.name, proc.http_port, self.bus_url)
        with proc.log_path.open("ab") as log:
            proc.popen = subprocess.Popen(
                args, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, *names: str, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until each process answers ``/healthz`` (all when no name given)."""
        for name in names or tuple(self.procs):
            proc = self.procs[name]
            wait_healthy(proc.base_url, proc.alive, timeout_s, proc.log_tail)

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
        text = httpx2.get(self.procs[name].base_url + "/metrics", timeout=5).text
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
