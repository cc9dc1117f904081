"""Booking a drone without a signing key at a site that requires MAVLink signing,
through the real API on a real SQLite file (issue 16 item 3): 409, rule
``signing_required``, naming the drone and the site; the same drone with a key
is booked.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airspace.site_files import demo_site_path, load_site, save_site
from tests.integration.api_world import SITE, World, api_world, drone_body, slot
from web.settings import Settings


@pytest.fixture
def strict_world(tmp_path: Path) -> Iterator[World]:
    """The demo site, with ``require_signing: true`` in its site file."""
    strict = dataclasses.replace(load_site(demo_site_path()), require_signing=True)
    site_file = save_site(strict, tmp_path / "strict-site.geojson")
    settings = Settings(
        env="test",
        data_dir=tmp_path,
        http_port=0,
        mavlink=["udpin:127.0.0.1:0"],
        site_files=[site_file],
    )
    with api_world(settings) as world:
        yield world


def book(world: World, drone_id: str) -> Any:
    body = {
        "site_id": SITE,
        "drone_id": drone_id,
        "takeoff_pad_id": "P2",
        "landing_pad_id": "P2",
        "corridor_id": "C1",
        **slot(1, 10),
    }
    return world.post("operator", "/api/v1/bookings", json=body)


def test_a_drone_without_a_key_cannot_be_booked_at_a_site_that_requires_signing(
    strict_world: World,
) -> None:
    keyless = strict_world.post(
        "operator", "/api/v1/drones", json=drone_body("nokey", 21)
    )
    assert keyless.status_code == 201, keyless.text
    assert keyless.json()["signed"] is False

    refused = book(strict_world, "nokey")
    assert refused.status_code == 409, refused.text
    assert refused.json()["rule"] == "signing_required"
    assert "nokey" in refused.json()["message"]
    assert SITE in refused.json()["message"]
    listed = strict_world.get("operator", "/api/v1/bookings")
    assert listed.status_code == 200
    assert listed.json() == []


def test_a_drone_with_a_key_is_booked_at_a_site_that_requires_signing(
    strict_world: World,
) -> None:
    keyed = strict_world.post(
        "operator",
        "/api/v1/drones",
        json=drone_body("keyed", 22, signing_key_hex=secrets.token_hex(32)),
    )
    assert keyed.status_code == 201, keyed.text
    booked = book(strict_world, "keyed")
    assert booked.status_code == 201, booked.text
    assert booked.json()["state"] == "pending"
