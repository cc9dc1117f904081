"""A real ``skyberth serve`` in a subprocess, with users, for end-to-end tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from tests.conftest import free_port
from tests.integration.api_world import PASSWORD, USERS, password_hash
from web.db import make_engine
from web.migrate import upgrade
from web.routes.live import live_subprotocols
from web.users import add_user


@dataclass
class LiveServer:
    base_url: str
    ws_url: str
    mavlink_port: int
    data_dir: Path
    tokens: dict[str, str]
    log_path: Path
    pid: int = 0
    """The server process (for its memory figures)."""

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def post(self, who: str, path: str, **kwargs: Any) -> httpx2.Response:
        return httpx2.post(
            self.base_url + path, headers=self.headers(who), timeout=10, **kwargs
        )

    def get(self, who: str, path: str, **kwargs: Any) -> httpx2.Response:
        return httpx2.get(
            self.base_url + path, headers=self.headers(who), timeout=10, **kwargs
        )

    def connect(self, who: str, **kwargs: Any) -> connect:
        """Open ``/ws/live`` as ``who`` (the token offered as a subprotocol)."""
        return connect_live(self.ws_url, self.tokens[who], **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def connect_live(ws_url: str, token: str, **kwargs: Any) -> connect:
    """Open ``/ws/live`` with ``token`` as a browser does: in the subprotocols."""
    protocols = [Subprotocol(p) for p in live_subprotocols(token)]
    return connect(ws_url, subprotocols=protocols, **kwargs)


def _wait_healthy(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx2.get(url + "/healthz", timeout=1).raise_for_status()
            return
        except httpx2.HTTPError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"server did not start:\n{log.read_text()}"
                ) from None
            time.sleep(0.1)


@contextmanager
def live_server(tmp_path: Path, **env_extra: str) -> Iterator[LiveServer]:
    """Start ``skyberth serve`` on a fresh SQLite DB with ``USERS``; stop it after."""
    db_url = f"sqlite:///{tmp_path / 'skyberth.sqlite3'}"
    engine = make_engine(db_url)
    upgrade(engine)
    now = datetime.now(UTC)
    for name, (role, org) in USERS.items():
        add_user(engine, name, role, PASSWORD, now, org, password_hash=password_hash())
    engine.dispose()
    http_port = free_port()
    udp_port = free_port(kind=2)  # SOCK_DGRAM
    env = {
        "SKYBERTH_DATA_DIR": str(tmp_path),
        "SKYBERTH_MAVLINK": f'["udpin:127.0.0.1:{udp_port}"]',
        "SKYBERTH_OPENING_HOURS": "24h",
        "SKYBERTH_LOG_LEVEL": "INFO",
        "PATH": "/usr/bin:/bin",
        **env_extra,
    }
    log_path = tmp_path / "server.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(http_port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{http_port}"
    try:
        _wait_healthy(base_url, server, log_path)
        tokens = {}
        for name in USERS:
            response = httpx2.post(
                base_url + "/api/v1/auth/token",
                data={"username": name, "password": PASSWORD},
                timeout=10,
            )
            response.raise_for_status()
            tokens[name] = response.json()["access_token"]
        yield LiveServer(
            base_url,
            f"ws://127.0.0.1:{http_port}/ws/live",
            udp_port,
            tmp_path,
            tokens,
            log_path,
            server.pid,
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
