"""Bounded inputs (issue 16): huge ids are a 422, huge bodies a 413 with a message.

Each test here is a finding from trying the API from outside: before the fix, the
huge id answered 500 (an integer overflow in the database driver) and the 5 MB body
got its connection reset mid-upload.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy.engine import Engine

from tests.integration.api_world import SITE, api_world, drone_body, slot
from tests.integration.live_server import live_server
from web.settings import Settings

HUGE = "99999999999999999999999"

ID_URLS = [
    f"/api/v1/incidents/{HUGE}",
    f"/api/v1/incidents/{HUGE}/evidence",
    f"/api/v1/incidents/{HUGE}/track",
    f"/api/v1/bookings/{HUGE}",
    f"/api/v1/bookings/{HUGE}/track",
    f"/api/v1/closures/{HUGE}",
    f"/api/v1/incidents?booking={HUGE}",
    f"/api/v1/incidents?offset={HUGE}",
    f"/api/v1/bookings?offset={HUGE}",
    f"/api/v1/audit?offset={HUGE}",
    "/api/v1/incidents/2147483648",
    "/api/v1/bookings/0",
    "/api/v1/closures/-1",
]


def test_ids_out_of_range_are_refused_with_422_on_every_database(
    engine: Engine, tmp_path: Path
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(
        env="test",
        data_dir=tmp_path,
        database_url=url,
        mavlink=[],
        opening_hours="24h",
    )
    with api_world(settings) as world:
        for path in ID_URLS:
            response = world.get("site_admin", path)
            assert response.status_code == 422, (path, response.text)
            assert "less than or equal" in response.text or "greater" in response.text
        # the largest id a row can have is simply not found
        largest = world.get("site_admin", "/api/v1/incidents/2147483647")
        assert largest.status_code == 404
        change = world.post(
            "site_admin",
            f"/api/v1/incidents/{HUGE}/acknowledge",
            json={"note": "x"},
        )
        assert change.status_code == 422
        # Found by the schema fuzzer: completing a booking took a bare int (500).
        for action in ("approve", "reject", "cancel", "complete"):
            acted = world.post("site_admin", f"/api/v1/bookings/{HUGE}/{action}")
            assert acted.status_code == 422, (action, acted.text)


def test_a_5_mb_booking_body_gets_413_with_a_message_from_the_real_server(
    tmp_path: Path,
) -> None:
    body = b'{"drone_id": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    with live_server(tmp_path) as server:
        response = httpx2.post(
            server.base_url + "/api/v1/bookings",
            content=body,
            headers={"Content-Type": "application/json", **server.headers("operator")},
            timeout=10,
        )
        assert response.status_code == 413
        assert "too large" in response.json()["detail"]
        # a body that lies about its length (chunked, no Content-Length) too
        chunked = httpx2.post(
            server.base_url + "/api/v1/bookings",
            content=iter([b"[" + b"1," * 400_000] * 4),
            headers={"Content-Type": "application/json", **server.headers("operator")},
            timeout=10,
        )
        assert chunked.status_code == 413
        assert "limit is" in chunked.json()["detail"]
        assert server.get("operator", "/api/v1/auth/me").status_code == 200


@pytest.mark.parametrize("size", [1_000, 900_000])
def test_bodies_under_the_cap_reach_the_route(settings: Settings, size: int) -> None:
    with api_world(settings) as world:
        response = world.client.post(
            "/api/v1/bookings",
            content=b'{"pad_id": "' + b"x" * size + b'"}',
            headers={"Content-Type": "application/json", **world.headers("operator")},
        )
        assert response.status_code == 422  # parsed and validated, not cut off


def test_an_operator_past_its_booking_quota_gets_409_naming_it(
    settings: Settings,
) -> None:
    with api_world(settings.model_copy(update={"booking_quota": 2})) as world:
        registered = world.post("operator", "/api/v1/drones", json=drone_body("q1", 61))
        assert registered.status_code == 201, registered.text

        def book(hour: int) -> Any:
            body = {"site_id": SITE, "drone_id": "q1", "takeoff_pad_id": "P1"}
            return world.post(
                "operator", "/api/v1/bookings", json={**body, **slot(1, hour)}
            )

        first, second = book(9), book(11)
        assert (first.status_code, second.status_code) == (201, 201)
        refused = book(13)
        assert refused.status_code == 409
        assert refused.json()["rule"] == "booking_quota"
        assert "booking quota is 2" in refused.json()["message"]
        cancelled = world.post(
            "operator", f"/api/v1/bookings/{first.json()['id']}/cancel"
        )
        assert cancelled.status_code == 200
        assert book(13).status_code == 201


def test_lists_have_a_hard_page_maximum(settings: Settings) -> None:
    with api_world(settings) as world:
        for n in range(3):
            body = drone_body(f"p{n}", 70 + n)
            assert (
                world.post("operator", "/api/v1/drones", json=body).status_code == 201
            )
        page = world.get("operator", "/api/v1/drones?limit=2&offset=1")
        assert [d["id"] for d in page.json()] == ["p1", "p2"]
        for path in ("drones", "closures", "bookings", "incidents", "audit"):
            response = world.get("site_admin", f"/api/v1/{path}?limit=1001")
            assert response.status_code == 422, path
        assert world.get("site_admin", "/api/v1/closures?limit=1").status_code == 200


def _ring(n: int) -> list[list[float]]:
    """A closed ring of ``n`` positions (n - 1 distinct) round the pier."""
    points = [
        [
            114.13 + 0.001 * math.cos(2 * math.pi * k / (n - 1)),
            22.26 + 0.001 * math.sin(2 * math.pi * k / (n - 1)),
        ]
        for k in range(n - 1)
    ]
    return [*points, points[0]]


@pytest.mark.parametrize(("positions", "status"), [(1000, 201), (1001, 422)])
def test_closure_areas_are_capped_in_vertices(
    settings: Settings, positions: int, status: int
) -> None:
    with api_world(settings) as world:
        body = {
            "site_id": SITE,
            "area": {"type": "Polygon", "coordinates": [_ring(positions)]},
            "floor_m": 0,
            "ceiling_m": 120,
            "reason": "survey",
            **slot(2, 9),
        }
        response = world.post("site_admin", "/api/v1/closures", json=body)
        assert response.status_code == status, response.text[:300]
        if status == 422:
            assert "at most 1000" in response.text


def test_report_periods_are_capped(settings: Settings) -> None:
    with api_world(settings) as world:
        url = "/api/v1/reports/conformance"
        year = {"from": "2025-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
        assert world.get("safety_officer", url, params=year).status_code == 200
        longer = {"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
        response = world.get("safety_officer", url, params=longer)
        assert response.status_code == 422
        assert "at most 366 days" in response.json()["detail"]
