"""The bookings timeline in a real browser: concurrent bookings of a corridor
with capacity > 1 (C1 takes 3 at once) sit in lanes, one under the other, so
neither hides the other (issue 18 item 5)."""

from __future__ import annotations

import httpx2
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Browsing, Server
from tests.integration.api_world import PASSWORD, SITE, local_day, slot

pytestmark = pytest.mark.e2e

DAYS_AHEAD = 5


@pytest.fixture(scope="module")
def concurrent_ids(server: Server) -> list[int]:
    """Two overlapping bookings of corridor C1 by the operator's d1 and d2."""
    ids = []
    with httpx2.Client(base_url=server.base_url, timeout=10) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": "operator", "password": PASSWORD}
        ).json()["access_token"]
        for drone, minute in (("d1", 0), ("d2", 20)):
            booked = client.post(
                "/api/v1/bookings",
                json={
                    "site_id": SITE,
                    "drone_id": drone,
                    "corridor_id": "C1",
                    **slot(DAYS_AHEAD, 11, minute, minutes=40),
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            assert booked.status_code == 201, booked.text
            ids.append(int(booked.json()["id"]))
    return ids


def test_concurrent_corridor_bookings_sit_in_lanes(
    tab: Browsing, concurrent_ids: list[int]
) -> None:
    day = local_day(DAYS_AHEAD).isoformat()
    tab.sign_in("operator", then=f"/bookings?date={day}&view=day")
    row = tab.page.locator('.tl-track[data-resource="corridor:C1"]')
    first, second = (row.locator(f'[data-booking-id="{i}"]') for i in concurrent_ids)
    expect(first).to_have_attribute("data-lane", "0")
    expect(second).to_have_attribute("data-lane", "1")
    a, b, track = first.bounding_box(), second.bounding_box(), row.bounding_box()
    assert a is not None
    assert b is not None
    assert track is not None
    assert a["x"] < b["x"] < a["x"] + a["width"]  # they overlap in time ...
    assert a["y"] + a["height"] <= b["y"]  # ... and not on the screen
    assert b["y"] + b["height"] <= track["y"] + track["height"]  # inside the row
    # A row with one booking at a time keeps a single lane.
    expect(
        tab.page.locator('.tl-track[data-resource="corridor:C2"] [data-lane]')
    ).to_have_count(0)
    tab.shot("timeline-lanes")
    assert tab.unexpected_console_errors() == []
