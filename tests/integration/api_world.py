"""A running API with one user per role, for the API tests (not a test module).

Users share one argon2 hash (hashed once per session) and get tokens minted
directly, so a test world is ready in milliseconds; ``test_api_bookings`` also goes
through the real token route.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.testclient import TestClient

from booking.model import Role
from web.app import create_app
from web.auth import create_access_token, hash_password
from web.settings import Settings
from web.users import add_user

PASSWORD = "correct horse battery staple"
SITE = "cyberport-pier"
HK = ZoneInfo("Asia/Hong_Kong")

USERS: dict[str, tuple[Role, str | None]] = {
    "operator": (Role.OPERATOR, "acme"),
    "pilot": (Role.PILOT, "acme"),
    "safety_officer": (Role.SAFETY_OFFICER, None),
    "site_admin": (Role.SITE_ADMIN, None),
    "rival": (Role.OPERATOR, "rival"),
}
"""Username -> (role, organisation); ``rival`` is an operator of another org."""


@cache
def password_hash() -> str:
    """One argon2 hash of ``PASSWORD``, shared by every test user."""
    return hash_password(PASSWORD)


@dataclass
class World:
    """A TestClient on a fresh app and a bearer token per username."""

    app: FastAPI
    client: TestClient
    tokens: dict[str, str]

    def headers(self, who: str | None) -> dict[str, str]:
        """Return the Authorization header of ``who`` (None: anonymous)."""
        return {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}

    def post(self, who: str | None, url: str, **kwargs: Any) -> Any:
        """POST as ``who``."""
        return self.client.post(url, headers=self.headers(who), **kwargs)

    def get(self, who: str | None, url: str, **kwargs: Any) -> Any:
        """GET as ``who``."""
        return self.client.get(url, headers=self.headers(who), **kwargs)


@contextmanager
def api_world(settings: Settings) -> Iterator[World]:
    """Yield a started app on ``settings`` with every user of ``USERS``."""
    app = create_app(settings)
    now = datetime.now(UTC)
    tokens = {}
    for name, (role, org) in USERS.items():
        add_user(
            app.state.engine,
            name,
            role,
            PASSWORD,
            now,
            org,
            password_hash=password_hash(),
        )
        tokens[name] = create_access_token(
            name, name, app.state.settings.secret_key, now, timedelta(hours=1)
        )
    with TestClient(app) as client:
        yield World(app, client, tokens)


def local_day(days_ahead: int) -> date:
    """Return the site's local date ``days_ahead`` days after today."""
    return datetime.now(HK).date() + timedelta(days=days_ahead)


def slot(
    days_ahead: int, hour: int, minute: int = 0, minutes: int = 30
) -> dict[str, str]:
    """Return ``{"start", "end"}`` (ISO, UTC) for a window at local ``hour``."""
    start = datetime.combine(local_day(days_ahead), time(hour, minute), tzinfo=HK)
    end = start + timedelta(minutes=minutes)
    return {
        "start": start.astimezone(UTC).isoformat(),
        "end": end.astimezone(UTC).isoformat(),
    }


def drone_body(drone_id: str, sysid: int, **extra: Any) -> dict[str, Any]:
    """Return a valid drone registration body for the demo site."""
    return {
        "id": drone_id,
        "name": f"Drone {drone_id}",
        "site_id": SITE,
        "mavlink_sysid": sysid,
        "max_takeoff_mass_kg": 4.5,
        **extra,
    }
