"""The Flights view of an organisation (``/campaign``, issue 18 item 5) in
headless Chromium against a real server: a recorded flight listed from the
campaign report's JSON, its charts drawn by the server (matplotlib SVG) opened
from the row; a pilot sees their organisation's, a safety officer chooses any
operator or all, and the bookings page links to it."""

from __future__ import annotations

import re
from datetime import datetime

import httpx2
import pytest
from playwright.sync_api import expect

from airspace.site_files import demo_site_path, load_site
from tests.e2e.conftest import Browsing, Server
from tests.flight_script import T0, out_and_back, records, write_tlog
from tests.integration.api_world import PASSWORD, SITE, slot

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def booking_id(server: Server) -> int:
    """A booking of acme's d1 with one scripted flight a minute after it opens."""
    window = slot(2, 14)
    with httpx2.Client(base_url=server.base_url, timeout=10) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": "operator", "password": PASSWORD}
        ).json()["access_token"]
        booked = client.post(
            "/api/v1/bookings",
            json={"site_id": SITE, "drone_id": "d1", "corridor_id": "C1", **window},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert booked.status_code == 201, booked.text
    bid = int(booked.json()["id"])
    offset = datetime.fromisoformat(window["start"]).timestamp() + 60 - T0
    write_tlog(
        server.data_dir / "tlogs" / SITE / f"booking-{bid}.tlog",
        records(load_site(demo_site_path()), out_and_back(offset)),
    )
    return bid


def _charts_shown(tab: Browsing, booking_id: int) -> None:
    row = tab.page.locator(f'#of-rows tr[data-booking-id="{booking_id}"]')
    row.locator("summary").click()
    charts = row.locator("img.flight-chart")
    expect(charts).to_have_count(2)
    for chart in charts.all():
        expect(chart).to_have_js_property("complete", True)
        assert chart.evaluate("(img) => img.naturalWidth") > 300


def test_a_pilot_sees_the_organisations_flights_and_their_charts(
    tab: Browsing, booking_id: int
) -> None:
    tab.sign_in("pilot", then="/bookings")
    page = tab.page
    page.get_by_role("link", name="Flights").click()
    page.wait_for_url("**/campaign")
    expect(page.locator("#of-operator-field")).to_be_hidden()
    row = page.locator(f'#of-rows tr[data-booking-id="{booking_id}"]')
    expect(row).to_have_count(1)
    expect(row).to_contain_text("acme")
    expect(row).to_contain_text("8.0")  # flight time, s
    expect(row).to_contain_text("60.0")  # ground distance, m
    expect(page.locator("#of-status")).to_contain_text(re.compile(r"^\d+ flights?, "))
    _charts_shown(tab, booking_id)
    tab.shot("campaign-pilot-charts")
    row.get_by_role("link", name=f"#{booking_id}").click()
    page.wait_for_url(f"**/bookings/{booking_id}/flights")
    assert tab.external_requests() == []
    assert tab.unexpected_console_errors() == []


def test_a_safety_officer_chooses_any_operator_or_all(
    tab: Browsing, booking_id: int
) -> None:
    tab.sign_in("safety_officer", then="/campaign")
    page = tab.page
    operator = page.locator("#of-operator")
    expect(operator).to_be_visible()
    expect(operator).to_have_value("")  # all operators
    row = page.locator(f'#of-rows tr[data-booking-id="{booking_id}"]')
    expect(row).to_have_count(1)
    operator.select_option("rival")
    page.click("#of-range button[type=submit]")
    expect(page.locator("#of-status")).to_have_text("No flight in this period.")
    expect(row).to_have_count(0)
    operator.select_option("acme")
    page.click("#of-range button[type=submit]")
    expect(row).to_have_count(1)
    tab.shot("campaign-safety-officer")
    assert tab.unexpected_console_errors() == []


def test_the_booking_flights_page_opens_a_flights_charts(
    tab: Browsing, booking_id: int
) -> None:
    tab.sign_in("operator", then=f"/bookings/{booking_id}/flights")
    page = tab.page
    row = page.locator("#flights-rows tr").first
    row.locator("summary").click()
    expect(row.locator("img.chart-altitude_speed")).to_have_count(1)
    expect(row.locator("img.chart-signal")).to_have_count(1)
    tab.shot("flights-page-charts")
    assert tab.unexpected_console_errors() == []
