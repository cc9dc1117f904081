"""CAD registration through the API on a real SQLite file: stored, shown, enforced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.api_world import (
    SITE,
    World,
    api_world,
    drone_body,
    local_day,
    slot,
)
from web.settings import Settings


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with api_world(settings) as w:
        yield w


def _cad(mark_until: str, pilot_until: str) -> dict[str, str]:
    return {
        "registration_mark": "SUA-TEST-0001",
        "registration_valid_until": mark_until,
        "serial_number": "SN 42/B",
        "operator_registration": "OP-77",
        "operator_registration_valid_until": "2099-12-31",
        "remote_pilot_registration": "RP-5",
        "remote_pilot_registration_valid_until": pilot_until,
    }


def _book(world: World, drone: str, days_ahead: int) -> Any:
    body = {"site_id": SITE, "drone_id": drone, "takeoff_pad_id": "P2"}
    return world.post(
        "operator", "/api/v1/bookings", json={**body, **slot(days_ahead, 10)}
    )


def test_registration_is_stored_and_shown_with_the_mass_category(world: World) -> None:
    cad = _cad("2099-01-01", "2099-01-01")
    created = world.post(
        "operator", "/api/v1/drones", json=drone_body("d1", 1, cad=cad)
    )
    assert created.status_code == 201, created.text
    shown = world.get("operator", "/api/v1/drones/d1").json()["cad"]
    assert shown["registration_mark"] == "SUA-TEST-0001"
    assert shown["registration_valid_until"] == "2099-01-01"
    assert shown["serial_number"] == "SN 42/B"
    assert shown["category"] == "A2"  # 4.5 kg
    assert shown["remote_pilot_registration_valid_until"] == "2099-01-01"


def test_a_drone_whose_registration_expires_before_the_booking_day_is_refused(
    world: World,
) -> None:
    last_day = local_day(2).isoformat()
    cad = _cad(last_day, "2099-01-01")
    assert world.post("operator", "/api/v1/drones", json=drone_body("d1", 1, cad=cad))
    on_last_day = _book(world, "d1", 2)
    assert on_last_day.status_code == 201, on_last_day.text
    after = _book(world, "d1", 3)
    assert after.status_code == 409
    assert after.json()["rule"] == "drone_registration"
    assert last_day in after.json()["message"]


def test_a_remote_pilot_with_an_expired_registration_is_refused(world: World) -> None:
    yesterday = (local_day(0) - timedelta(days=1)).isoformat()
    cad = _cad("2099-01-01", yesterday)
    world.post("operator", "/api/v1/drones", json=drone_body("d1", 1, cad=cad))
    refused = _book(world, "d1", 1)
    assert refused.status_code == 409
    assert refused.json()["rule"] == "pilot_registration"


def test_a_site_that_requires_registration_refuses_an_unregistered_drone(
    settings: Settings,
) -> None:
    strict = settings.model_copy(update={"require_cad_registration": True})
    with api_world(strict) as world:
        world.post("operator", "/api/v1/drones", json=drone_body("d1", 1))
        refused = _book(world, "d1", 1)
        assert refused.status_code == 409
        assert refused.json()["rule"] == "drone_registration"


def test_the_booking_report_shows_the_drones_cad_registration(world: World) -> None:
    cad = _cad("2099-01-01", "2098-06-30")
    world.post("operator", "/api/v1/drones", json=drone_body("d1", 1, cad=cad))
    booked = _book(world, "d1", 1)
    assert booked.status_code == 201, booked.text
    report = world.get(
        "operator", f"/api/v1/bookings/{booked.json()['id']}/export?format=html"
    )
    assert report.status_code == 200, report.text
    assert "SUA-TEST-0001 (valid until 2099-01-01)" in report.text
    assert "RP-5 (valid until 2098-06-30)" in report.text
    assert "Drone category (CAD)" in report.text
