"""Accounts against a real ``skyberth serve``: revocation (HTTP and open live
sockets), socket expiry, and login throttling per name and per address."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.integration.api_world import PASSWORD
from tests.integration.live_server import LiveServer, live_server
from web.auth import create_access_token
from web.routes.live import live_subprotocols
from web.secret_key import SECRET_KEY_FILE


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("accounts")) as running:
        yield running


def _login(server: LiveServer, name: str, password: str) -> httpx2.Response:
    return httpx2.post(
        server.base_url + "/api/v1/auth/token",
        data={"username": name, "password": password},
        timeout=30,
    )


def _me(server: LiveServer, token: str) -> httpx2.Response:
    return httpx2.get(
        server.base_url + "/api/v1/auth/me",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


async def _closed_within(ws_url: str, token: str, act: object, limit_s: float) -> str:
    """Connect, read the snapshot, run ``act``; return the close reason (4401)."""
    async with connect(
        ws_url, subprotocols=[Subprotocol(p) for p in live_subprotocols(token)]
    ) as ws:
        await ws.recv()  # the snapshot: the socket is authenticated and open
        if callable(act):
            await asyncio.to_thread(act)
        started = time.monotonic()
        closed = await _close_of(ws, limit_s)
        assert time.monotonic() - started < limit_s
    assert closed.rcvd is not None
    assert closed.rcvd.code == 4401
    return closed.rcvd.reason


async def _close_of(ws: ClientConnection, limit_s: float) -> ConnectionClosed:
    """Read frames until the server closes; a quiet ``limit_s`` fails the test."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout=limit_s)
    except ConnectionClosed as closed:
        return closed


def test_a_new_password_revokes_the_users_tokens_at_once(server: LiveServer) -> None:
    old = server.tokens["pilot"]
    assert _me(server, old).status_code == 200
    changed = server.post(
        "site_admin", "/api/v1/users/pilot/password", json={"password": "new-pw-123"}
    )
    assert changed.status_code == 200, changed.text
    refused = _me(server, old)
    assert refused.status_code == 401
    assert "token revoked" in refused.json()["detail"]
    assert _login(server, "pilot", PASSWORD).status_code == 401
    fresh = _login(server, "pilot", "new-pw-123")
    assert fresh.status_code == 200, fresh.text
    assert _me(server, fresh.json()["access_token"]).status_code == 200


async def test_disabling_a_user_closes_their_open_live_socket_and_login(
    server: LiveServer,
) -> None:
    token = server.tokens["safety_officer"]

    def disable() -> None:
        done = server.post("site_admin", "/api/v1/users/safety_officer/disable")
        assert done.status_code == 200, done.text

    reason = await _closed_within(server.ws_url, token, disable, limit_s=3.0)
    assert "safety_officer is disabled" in reason
    assert _me(server, token).status_code == 401
    login = _login(server, "safety_officer", PASSWORD)
    assert login.status_code == 401
    assert "disabled" in login.json()["detail"]
    enabled = server.post("site_admin", "/api/v1/users/safety_officer/enable")
    assert enabled.status_code == 200
    assert _me(server, token).status_code == 401  # revoked stays revoked
    assert _login(server, "safety_officer", PASSWORD).status_code == 200


async def test_a_live_socket_is_closed_when_its_token_expires(
    server: LiveServer,
) -> None:
    key = (server.data_dir / SECRET_KEY_FILE).read_text().strip()
    short = create_access_token(
        "operator", "operator", key, datetime.now(UTC), timedelta(seconds=2)
    )
    reason = await _closed_within(server.ws_url, short, None, limit_s=4.0)
    assert "token expired" in reason


def test_failed_logins_are_throttled_per_name_with_retry_after(
    server: LiveServer,
) -> None:
    # The default 5/minute per name: measure what a guesser gets in a few seconds.
    answers = [_login(server, "rival", f"guess-{n}") for n in range(12)]
    codes = [a.status_code for a in answers]
    assert codes == [401] * 5 + [429] * 7
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    assert "too many failed logins" in answers[-1].json()["detail"]
    # The right password is refused too while throttled (no oracle for guessers).
    assert _login(server, "rival", PASSWORD).status_code == 429
    assert "failed login for 'rival'" in server.log()
    assert "throttled" in server.log()


def test_failed_logins_are_throttled_per_address_across_names(
    server: LiveServer,
) -> None:
    # 20/minute per address: a spray over many names from one host stops too.
    codes = [_login(server, f"nobody{n}", "x").status_code for n in range(22)]
    assert codes.count(401) <= 20
    assert codes[-1] == 429
