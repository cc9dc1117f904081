"""Every route x every role -> the expected status, as one table.

Columns: the four roles of organisation ``acme`` or site staff, ``rival`` (an
operator of another organisation: acme's drones and bookings are 404 to it) and
anonymous. Each case gets fresh resources, made as a site admin, so cases are
independent and can run in any order on one module-wide app.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from booking.model import Role
from tests.integration.api_world import (
    PASSWORD,
    SITE,
    World,
    api_world,
    drone_body,
    password_hash,
    slot,
)
from web.settings import Settings
from web.users import add_user

ROLES = ("operator", "pilot", "safety_officer", "site_admin", "rival", None)
_sysids = itertools.count(1)
_windows = itertools.count(0)
_closure_windows = itertools.count(0)
_accounts = itertools.count(0)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir: Path = tmp_path_factory.mktemp("roles")
    with api_world(
        Settings(env="test", data_dir=data_dir, http_port=0, mavlink=[])
    ) as w:
        created = w.post("site_admin", "/api/v1/drones", json=_drone(owner="acme"))
        assert created.status_code == 201, created.text
        yield w


def _expired_zones() -> dict[str, Any]:
    """An ED-269 document whose one zone is over: importing it stores nothing."""
    return {
        "features": [
            {
                "identifier": "OLD1",
                "restriction": "PROHIBITED",
                "applicability": [
                    {
                        "permanent": "NO",
                        "startDateTime": "2020-01-01T00:00:00Z",
                        "endDateTime": "2020-01-02T00:00:00Z",
                    }
                ],
                "geometry": [
                    {
                        "lowerLimit": 0,
                        "upperLimit": 30,
                        "horizontalProjection": {
                            "type": "Circle",
                            "center": [114.128, 22.261],
                            "radius": 20,
                        },
                    }
                ],
            }
        ]
    }


def _drone(owner: str | None = None) -> dict[str, Any]:
    n = next(_sysids)
    extra = {"operator_id": owner} if owner else {}
    return drone_body(f"m{n}", n, **extra)


def _window() -> dict[str, str]:
    # Ten half-hour windows a day on pad P1, one day after another.
    n = next(_windows)
    return slot(1 + n // 10, 8 + n % 10)


def _closure_body() -> dict[str, Any]:
    # Pad P3 late in the horizon: nothing in this module books it.
    n = next(_closure_windows)
    return {
        "site_id": SITE,
        "pad_id": "P3",
        "reason": "test",
        **slot(20 + n // 10, 8 + n % 10),
    }


def _booking(w: World) -> int:
    body = {"site_id": SITE, "drone_id": "m1", "takeoff_pad_id": "P1", **_window()}
    response = w.post("site_admin", "/api/v1/bookings", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _approved_booking(w: World) -> int:
    booking_id = _booking(w)
    approved = w.post("site_admin", f"/api/v1/bookings/{booking_id}/approve")
    assert approved.status_code == 200, approved.text
    return booking_id


def _closure(w: World) -> int:
    response = w.post("site_admin", "/api/v1/closures", json=_closure_body())
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _account(w: World) -> str:
    # A fresh user per case: disabling or re-roling a shared one would leak.
    name = f"account{next(_accounts)}"
    add_user(
        w.app.state.engine,
        name,
        Role.PILOT,
        PASSWORD,
        datetime.now(UTC),
        "acme",
        password_hash=password_hash(),
    )
    return name


def _account_post(action: str, **body: Any) -> Callable[[World, dict[str, str]], Any]:
    return lambda w, h: w.client.post(
        f"/api/v1/users/{_account(w)}/{action}", json=body or None, headers=h
    )


@dataclass(frozen=True)
class Route:
    """One route: how to call it (given the world) and the status per role."""

    name: str
    call: Callable[[World, dict[str, str]], Any]
    expect: tuple[int, int, int, int, int, int]
    """operator, pilot, safety_officer, site_admin, rival, anonymous."""


def _get(path: str) -> Callable[[World, dict[str, str]], Any]:
    return lambda w, h: w.client.get(path, headers=h)


ALL_READ = (200, 200, 200, 200, 200, 401)
ADMIN_ONLY = (403, 403, 403, 200, 403, 401)
ORG_READ = (200, 200, 200, 200, 404, 401)

ROUTES = [
    Route("GET /sites", _get("/api/v1/sites"), ALL_READ),
    Route("GET /sites/{id}", _get(f"/api/v1/sites/{SITE}"), ALL_READ),
    Route(
        "GET /sites/{id}/availability",
        lambda w, h: w.client.get(
            f"/api/v1/sites/{SITE}/availability",
            params={"from": slot(1, 7)["start"], "to": slot(1, 18)["end"]},
            headers=h,
        ),
        ALL_READ,
    ),
    Route("GET /auth/me", _get("/api/v1/auth/me"), ALL_READ),
    Route("GET /me/language", _get("/api/v1/me/language"), ALL_READ),
    Route(
        "PUT /me/language",
        lambda w, h: w.client.put(
            "/api/v1/me/language", json={"language": "zh-Hant-HK"}, headers=h
        ),
        ALL_READ,
    ),
    Route("GET /telemetry/links", _get("/api/v1/telemetry/links"), ALL_READ),
    Route("GET /drones", _get("/api/v1/drones"), ALL_READ),
    Route(
        "POST /drones",
        lambda w, h: w.client.post(
            "/api/v1/drones", json=_drone(owner="acme"), headers=h
        ),
        (201, 403, 403, 201, 403, 401),
    ),
    Route("GET /drones/{id}", _get("/api/v1/drones/m1"), ORG_READ),
    Route("GET /bookings", _get("/api/v1/bookings"), ALL_READ),
    Route(
        "POST /bookings",
        lambda w, h: w.client.post(
            "/api/v1/bookings",
            json={
                "site_id": SITE,
                "drone_id": "m1",
                "takeoff_pad_id": "P1",
                **_window(),
            },
            headers=h,
        ),
        # Pilots may request their organisation's bookings (booking.permissions).
        (201, 201, 403, 201, 404, 401),
    ),
    Route("GET /bookings.ics", _get("/api/v1/bookings.ics"), ALL_READ),
    Route(
        "GET /bookings/{id}",
        lambda w, h: w.client.get(f"/api/v1/bookings/{_booking(w)}", headers=h),
        ORG_READ,
    ),
    Route(
        "GET /bookings/{id}/flights",
        lambda w, h: w.client.get(f"/api/v1/bookings/{_booking(w)}/flights", headers=h),
        ORG_READ,
    ),
    Route(
        "GET /bookings/{id}/flights/{number}/charts/{chart}",
        lambda w, h: w.client.get(
            f"/api/v1/bookings/{_booking(w)}/flights/1/charts/signal", headers=h
        ),
        # 404 for those allowed too: this booking has no recording, so no flight 1
        # (test_api_flight_charts.py draws recorded flights).
        (404, 404, 404, 404, 404, 401),
    ),
    Route(
        "POST /bookings/{id}/flights/edits",
        lambda w, h: w.client.post(
            f"/api/v1/bookings/{_booking(w)}/flights/edits",
            json={"kind": "split", "at_utc": "2026-01-01T00:00:00Z", "reason": "r"},
            headers=h,
        ),
        # 422 for those allowed: this booking has no recording, so no flight to
        # split (test_api_flight_edits.py edits recorded flights).
        (422, 403, 403, 422, 404, 401),
    ),
    Route(
        "GET /bookings/{id}/forms",
        lambda w, h: w.client.get(f"/api/v1/bookings/{_booking(w)}/forms", headers=h),
        ORG_READ,
    ),
    Route(
        "PUT /bookings/{id}/forms/{kind}",
        lambda w, h: w.client.put(
            f"/api/v1/bookings/{_booking(w)}/forms/post_flight",
            json={"result": "completed"},
            headers=h,
        ),
        (200, 200, 403, 200, 404, 401),
    ),
    Route(
        "GET /bookings/{id}/outline",
        lambda w, h: w.client.get(f"/api/v1/bookings/{_booking(w)}/outline", headers=h),
        ORG_READ,
    ),
    Route(
        "POST /bookings/{id}/fence",
        # No drone connected in this world: 200 with state not_supported.
        lambda w, h: w.client.post(
            f"/api/v1/bookings/{_approved_booking(w)}/fence", headers=h
        ),
        (200, 200, 403, 200, 404, 401),
    ),
    Route(
        "GET /bookings/{id}/fence",
        lambda w, h: w.client.get(f"/api/v1/bookings/{_booking(w)}/fence", headers=h),
        ORG_READ,
    ),
    Route(
        "POST /vehicles/{key}/command",
        # No vehicle in this world: staff get 404, everyone else 403 first.
        lambda w, h: w.client.post(
            "/api/v1/vehicles/udpin:127.0.0.1:14550/7/command",
            json={"command": "RTL", "reason": "roles"},
            headers=h,
        ),
        (403, 403, 404, 404, 403, 401),
    ),
    Route(
        "GET /bookings/{id}/plan",
        lambda w, h: w.client.get(f"/api/v1/bookings/{_booking(w)}/plan", headers=h),
        ORG_READ,
    ),
    Route(
        "POST /bookings/{id}/approve",
        lambda w, h: w.client.post(
            f"/api/v1/bookings/{_booking(w)}/approve", headers=h
        ),
        (403, 403, 403, 200, 404, 401),
    ),
    Route(
        "POST /bookings/{id}/reject",
        lambda w, h: w.client.post(f"/api/v1/bookings/{_booking(w)}/reject", headers=h),
        (403, 403, 403, 200, 404, 401),
    ),
    Route(
        "POST /bookings/{id}/cancel",
        lambda w, h: w.client.post(f"/api/v1/bookings/{_booking(w)}/cancel", headers=h),
        (200, 200, 403, 200, 404, 401),
    ),
    Route(
        # A pending booking has no flight to end: the roles allowed get the 409 of
        # the state rule, the others are refused before it.
        "POST /bookings/{id}/complete",
        lambda w, h: w.client.post(
            f"/api/v1/bookings/{_booking(w)}/complete", headers=h
        ),
        (409, 409, 403, 409, 404, 401),
    ),
    Route("GET /closures", _get("/api/v1/closures"), ALL_READ),
    Route(
        "GET /closures/{id}",
        lambda w, h: w.client.get(f"/api/v1/closures/{_closure(w)}", headers=h),
        ALL_READ,
    ),
    Route(
        "POST /closures",
        lambda w, h: w.client.post("/api/v1/closures", json=_closure_body(), headers=h),
        (403, 403, 201, 201, 403, 401),
    ),
    Route(
        "DELETE /closures/{id}",
        lambda w, h: w.client.delete(f"/api/v1/closures/{_closure(w)}", headers=h),
        (403, 403, 200, 200, 403, 401),
    ),
    Route(
        "POST /sites/{id}/zones",
        lambda w, h: w.client.post(
            "/api/v1/sites/cyberport-pier/zones",
            params={"source": "roles"},
            json=_expired_zones(),
            headers=h,
        ),
        (403, 403, 200, 200, 403, 401),
    ),
    Route("GET /users", _get("/api/v1/users"), ADMIN_ONLY),
    Route("POST /users/{name}/disable", _account_post("disable"), ADMIN_ONLY),
    Route("POST /users/{name}/enable", _account_post("enable"), ADMIN_ONLY),
    Route(
        "POST /users/{name}/password",
        _account_post("password", password="a new long password"),
        ADMIN_ONLY,
    ),
    Route(
        "POST /users/{name}/role",
        _account_post("role", role="operator", operator_id="acme"),
        ADMIN_ONLY,
    ),
]

CASES = [
    pytest.param(route, role, code, id=f"{route.name} as {role or 'anonymous'}")
    for route in ROUTES
    for role, code in zip(ROLES, route.expect, strict=True)
]


@pytest.mark.parametrize(("route", "role", "expected"), CASES)
def test_route_answers_role_with_expected_status(
    world: World, route: Route, role: str | None, expected: int
) -> None:
    response = route.call(world, world.headers(role))
    assert response.status_code == expected, response.text


def test_every_api_route_is_in_the_table(world: World) -> None:
    schema = world.client.get("/openapi.json").json()
    served = {
        f"{method.upper()} {path.removeprefix('/api/v1')}"
        for path, ops in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method in ops
    }
    tabled = {r.name.replace("{id}", "{X}") for r in ROUTES}
    normalised = {
        s.replace("{site_id}", "{X}")
        .replace("{drone_id}", "{X}")
        .replace("{booking_id}", "{X}")
        .replace("{closure_id}", "{X}")
        for s in served
    }
    # The incident and audit routes have their own role matrix, with incidents to
    # act on, in test_api_incidents.py; the reports routes, with flights to report
    # on, in test_api_reports.py.
    elsewhere = {
        s
        for s in normalised
        if s.split(" ", 1)[1].startswith(("/incidents", "/audit", "/reports"))
        or s.endswith(("/{X}/track", "/{X}/export"))
    }
    assert normalised - {"POST /auth/token"} - elsewhere == tabled
