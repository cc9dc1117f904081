"""The Flights page of a booking (issue 18 item 5) in headless Chromium against a
real server: the recorded flight's numbers, the post-flight form filed and read
back, a refused pre-flight form explained with its rule."""

from __future__ import annotations

import httpx2
import pytest
from playwright.sync_api import expect

from airspace.site_files import demo_site_path, load_site
from tests.e2e.conftest import Browsing, Server
from tests.flight_script import out_and_back, records, write_tlog
from tests.integration.api_world import PASSWORD, SITE, slot
from web.i18n import catalogue

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def booking_id(server: Server) -> int:
    """A booking of the operator's d1 with one scripted flight recorded."""
    with httpx2.Client(base_url=server.base_url, timeout=10) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": "operator", "password": PASSWORD}
        ).json()["access_token"]
        booked = client.post(
            "/api/v1/bookings",
            json={"site_id": SITE, "drone_id": "d1", "corridor_id": "C1", **slot(3, 9)},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert booked.status_code == 201, booked.text
    bid = int(booked.json()["id"])
    site = load_site(demo_site_path())
    write_tlog(
        server.data_dir / "tlogs" / SITE / f"booking-{bid}.tlog",
        records(site, out_and_back()),
    )
    return bid


def test_pilot_sees_the_flight_and_files_the_forms(
    tab: Browsing, booking_id: int
) -> None:
    tab.sign_in("pilot", then=f"/bookings/{booking_id}/flights")
    page = tab.page
    expect(page.locator("#flights-rows tr")).to_have_count(1)
    row = page.locator("#flights-rows tr").first
    expect(row).to_contain_text("P1 → P1")
    expect(row).to_contain_text("8.0")  # flight time, s
    expect(row).to_contain_text("60.0")  # ground distance, m
    page.select_option("#post-form select[name=result]", "partial")
    page.check("#post-form input[name=rtl]")
    page.click("#post-form button[type=submit]")
    expect(page.locator("#post-status")).to_contain_text("Saved (version 1)")
    page.fill("#pre-form input[name=takeoff_mass_kg]", "9")
    page.fill("#pre-form input[name=payload_kind]", "camera")
    for name, value in [
        ("wind_speed_mps", "4"),
        ("wind_from_deg", "90"),
        ("visibility_m", "5000"),
        ("temperature_c", "22"),
        ("remote_pilot", "pilot"),
        ("test_objective", "HDOP"),
    ]:
        page.fill(f"#pre-form input[name={name}]", value)
    for box in page.locator("#pre-form fieldset input").all():
        box.check()
    page.click("#pre-form button[type=submit]")
    # The rule in words (not its code), then the server's reason.
    refused = page.locator("#pre-status")
    expect(refused).to_contain_text(catalogue("en")["rule.drone_mass"])
    expect(refused).to_contain_text("take-off mass 9 kg exceeds drone d1 maximum")
    page.reload()
    expect(page.locator("#post-form input[name=rtl]")).to_be_checked()
    expect(page.locator("#post-form select[name=result]")).to_have_value("partial")
    assert tab.external_requests() == []
    assert tab.unexpected_console_errors("422") == []


def test_the_flights_page_switches_language_in_place_keeping_its_codes(
    tab: Browsing, booking_id: int
) -> None:
    tab.sign_in("operator", then=f"/bookings/{booking_id}/flights")
    page = tab.page
    expect(page.locator("#flights-rows tr")).to_have_count(1)
    for language in ("zh-Hant-HK", "en"):  # English last: the user stores it
        with page.expect_response(
            lambda r: r.url.endswith("/me/language") and r.request.method == "PUT"
        ):
            page.select_option(".lang-select", language)
        words = catalogue(language)
        title = words["flights.title"].replace("{id}", str(booking_id))
        expect(page.locator("#flights-title")).to_have_text(title)
        row = page.locator("#flights-rows tr").first
        expect(row.locator("td").nth(11)).to_have_text(words["ui.none"])  # incidents
        expect(page.locator("#checklist-items")).to_contain_text(
            words["ui.fence_verified"]
        )
        # The selects' words follow the language; the values sent stay codes.
        precipitation = page.locator("#pre-form select[name=precipitation] option")
        values = precipitation.evaluate_all("(options) => options.map((o) => o.value)")
        assert values == ["none", "drizzle", "rain", "heavy_rain", "snow"]
        expect(precipitation.first).to_have_text(words["ui.none"])
    assert tab.unexpected_console_errors() == []
