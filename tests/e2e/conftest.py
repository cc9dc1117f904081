"""Browser tests: a real uvicorn server on a fresh SQLite file, driven by Debian's
Chromium through Playwright (``executable_path``; never a browser download).

Locally the tests skip when ``/usr/bin/chromium`` is missing; on CI they fail.
Screenshots go to ``$SKYBERTH_SHOTS_DIR`` (default ``/tmp/skyberth-shots``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright

import web
from tests.conftest import ON_CI, free_port
from tests.integration.api_world import PASSWORD, USERS, drone_body, password_hash
from web.db import make_engine
from web.migrate import upgrade
from web.users import add_user

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS_DIR = Path(os.environ.get("SKYBERTH_SHOTS_DIR", "/tmp/skyberth-shots"))
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SOURCE_ROOT = Path(web.__file__).resolve().parent.parent

DRONES = {"d1": ("operator", 11), "d2": ("operator", 12), "r1": ("rival", 21)}
"""Drone id -> (registering user, MAVLink system id)."""


@dataclass(frozen=True)
class Server:
    """A running SkyBerth server."""

    base_url: str
    data_dir: Path
    ais_port: int = 0
    """UDP port of the server's AIS listener (NMEA !AIVDM)."""
    mavlink_port: int = 0
    """UDP port of the server's MAVLink gateway."""


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx2.get(f"{base_url}/healthz", timeout=1).raise_for_status()
            return
        except httpx2.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                pytest.fail(f"the server did not start:\n{tail}")
            time.sleep(0.2)


def _seed_users(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        now = datetime.now(UTC)
        for name, (role, org) in USERS.items():
            add_user(
                engine, name, role, PASSWORD, now, org, password_hash=password_hash()
            )
    finally:
        engine.dispose()


def _register_drones(base_url: str) -> None:
    with httpx2.Client(base_url=base_url, timeout=10) as client:
        tokens: dict[str, str] = {}
        for drone_id, (who, sysid) in DRONES.items():
            if who not in tokens:
                answer = client.post(
                    "/api/v1/auth/token", data={"username": who, "password": PASSWORD}
                )
                answer.raise_for_status()
                tokens[who] = answer.json()["access_token"]
            body = drone_body(drone_id, sysid, name=f"Kite {drone_id}")
            created = client.post(
                "/api/v1/drones",
                json=body,
                headers={"Authorization": f"Bearer {tokens[who]}"},
            )
            assert created.status_code == 201, created.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real uvicorn process serving the app with the pages, users and drones."""
    data_dir = tmp_path_factory.mktemp("e2e-data")
    _seed_users(f"sqlite:///{data_dir / 'skyberth.sqlite3'}")
    port = free_port()
    ais_port = free_port(kind=2)  # SOCK_DGRAM
    mavlink_port = free_port(kind=2)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(SOURCE_ROOT),
        "SKYBERTH_ENV": "test",
        "SKYBERTH_DATA_DIR": str(data_dir),
        # The telemetry gateway (when there is one) must not take the shared port.
        "SKYBERTH_MAVLINK": f'["udpin:127.0.0.1:{mavlink_port}"]',
        "SKYBERTH_AIS": f'["udpin:127.0.0.1:{ais_port}"]',
    }
    log = data_dir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.e2e.app_factory:build",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=SOURCE_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url, process, log)
        _register_drones(base_url)
        yield Server(base_url, data_dir, ais_port, mavlink_port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium (skipped locally when it is not installed).

    Module-scoped: Playwright's sync API keeps an event loop running on this
    thread while it is open, and the asyncio tests that follow need it gone.
    """
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Browsing:
    """One browser tab on the server, with every request and console error seen."""

    page: Page
    base_url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        """Open ``path`` on the server."""
        self.page.goto(self.base_url + path)

    def sign_in(self, user: str, then: str = "/map") -> None:
        """Sign in as ``user`` through the login form and wait for ``then``."""
        self.goto(f"/login?next={then}")
        self.page.fill("#username", user)
        self.page.fill("#password", PASSWORD)
        self.page.click("#login-form button[type=submit]")
        self.page.wait_for_url(f"**{then}")

    def shot(self, name: str) -> Path:
        """Save a full-page screenshot as ``SHOTS_DIR/name.png`` and return it."""
        SHOTS_DIR.mkdir(parents=True, exist_ok=True)
        path = SHOTS_DIR / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def external_requests(self) -> list[str]:
        """Return every request made to a host other than this machine (a
        ``blob:`` URL is its creating page's origin: a chart fetched, then shown)."""
        return [
            u
            for u in self.requests
            if urlsplit(u.removeprefix("blob:")).hostname not in LOCAL_HOSTS
        ]

    def unexpected_console_errors(self, *allowed: str) -> list[str]:
        """Return console errors, less those containing one of ``allowed``."""
        return [e for e in self.console_errors if not any(a in e for a in allowed)]


@pytest.fixture
def tab(browser: Browser, server: Server) -> Iterator[Browsing]:
    """A fresh browser context (own sessionStorage) at 1280 by 800 pixels."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-GB", timezone_id="UTC"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    seen = Browsing(page, server.base_url)

    def on_request(request: Request) -> None:
        seen.requests.append(request.url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.console_errors.append(message.text)

    page.on("request", on_request)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: seen.console_errors.append(f"uncaught: {exc}"))
    try:
        yield seen
    finally:
        context.close()
