"""``skyberth serve`` as a subprocess that a test can stop and start again on the
same ports and database (not a test module).

The browser's reconnect is tested by cutting the server away under it: ``stop``
ends the process (SIGTERM, as a service manager would), ``start`` brings up a new
one on the same HTTP and UDP ports, the same SQLite file and the same token
secret, so the page's token still holds and its websocket can come back.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2

from tests.conftest import free_port
from tests.integration.api_world import PASSWORD, USERS, password_hash
from tests.integration.sim_world import SOURCE_ROOT, simulator_env
from web.db import make_engine
from web.migrate import upgrade
from web.users import add_user

SECRET_KEY = "e2e-live-map-secret-that-survives-a-restart"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


@dataclass
class ServeProcess:
    """One server's ports, data directory and (while running) process."""

    data_dir: Path
    http_port: int = field(default_factory=free_port)
    udp_port: int = field(default_factory=lambda: free_port(socket.SOCK_DGRAM))
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def seed_users(self) -> None:
        """Create the database with every user of ``USERS`` (password ``PASSWORD``)."""
        engine = make_engine(f"sqlite:///{self.data_dir / 'skyberth.sqlite3'}")
        try:
            upgrade(engine)
            now = datetime.now(UTC)
            for name, (role, org) in USERS.items():
                add_user(
                    engine,
                    name,
                    role,
                    PASSWORD,
                    now,
                    org,
                    password_hash=password_hash(),
                )
        finally:
            engine.dispose()

    def start(self) -> float:
        """Start the server and wait until it is healthy; return the seconds taken."""
        assert self.process is None, "already running"
        env = {
            **simulator_env(),
            "SKYBERTH_DATA_DIR": str(self.data_dir),
            "SKYBERTH_MAVLINK": f'["udpin:127.0.0.1:{self.udp_port}"]',
            "SKYBERTH_OPENING_HOURS": "24h",
            "SKYBERTH_SECRET_KEY": SECRET_KEY,
            "SKYBERTH_LOG_LEVEL": "INFO",
        }
        self.starts += 1
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "web.cli",
                    "serve",
                    "--port",
                    str(self.http_port),
                ],
                cwd=SOURCE_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        while True:
            try:
                httpx2.get(self.base_url + "/healthz", timeout=1).raise_for_status()
                return time.monotonic() - started
            except httpx2.HTTPError:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"server exited:\n{self.log()[-3000:]}"
                    ) from None
                if time.monotonic() - started > START_TIMEOUT_S:
                    raise RuntimeError(
                        f"server not healthy after {START_TIMEOUT_S} s:\n"
                        f"{self.log()[-3000:]}"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server (SIGTERM; SIGKILL if it hangs)."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def token(self, user: str) -> str:
        """Sign ``user`` in through the API (once); return the bearer token."""
        if user in self._tokens:
            return self._tokens[user]
        response = httpx2.post(
            self.base_url + "/api/v1/auth/token",
            data={"username": user, "password": PASSWORD},
            timeout=10,
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        self._tokens[user] = token
        return token

    def call(self, user: str, method: str, path: str, **kwargs: Any) -> Any:
        """Call ``/api/v1{path}`` as ``user``; fail on an error status."""
        response = httpx2.request(
            method,
            f"{self.base_url}/api/v1{path}",
            headers={"Authorization": f"Bearer {self.token(user)}"},
            timeout=10,
            **kwargs,
        )
        assert response.status_code < 300, response.text
        return response.json()
