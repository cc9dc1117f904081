"""The pages in a real browser: sign in, the map of the demo site, booking with a
refused overlap explained in words, what each role sees, and nothing fetched from
any other host."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from playwright.sync_api import expect
from shapely.geometry import Polygon

from airspace import demo_site_path, load_site
from tests.e2e.conftest import Browsing, Server
from tests.integration.api_world import HK, PASSWORD, SITE

pytestmark = pytest.mark.e2e

DASH = "\N{EN DASH}"  # the pages write ranges as 20-60 with an en dash


def _tomorrow() -> str:
    return (datetime.now(HK).date() + timedelta(days=1)).isoformat()


def _request_booking(
    tab: Browsing, drone: str, pad: str, corridor: str, start: str, end: str
) -> None:
    page = tab.page
    page.select_option("#bk-drone", drone)
    page.select_option("#bk-takeoff", pad)
    page.select_option("#bk-landing", "=")
    page.select_option("#bk-corridor", corridor)
    page.fill("#bk-date", _tomorrow())
    page.fill("#bk-start", start)
    page.fill("#bk-end", end)
    page.click("#booking-form button[type=submit]")


def test_login_form_signs_in_and_the_map_draws_the_demo_site(tab: Browsing) -> None:
    tab.goto("/")
    tab.page.wait_for_url("**/login?next=*")  # / -> /map -> not signed in -> /login
    tab.page.fill("#username", "pilot")
    tab.page.fill("#password", "wrong password")
    tab.page.click("#login-form button[type=submit]")
    expect(tab.page.locator("#login-error")).to_contain_text("do not match")
    tab.shot("login")

    tab.sign_in("pilot")
    page = tab.page
    expect(page.locator("#map")).to_have_attribute("data-site-loaded", "true")
    pads = page.locator(".leaflet-tooltip.pad-label")
    expect(pads).to_have_count(4)
    assert {t.strip(" ⚡") for t in pads.all_inner_texts()} == {"P1", "P2", "P3", "P4"}
    corridors = page.locator(".leaflet-tooltip.corridor-label").all_inner_texts()
    assert sorted(corridors) == [
        f"C1 · 20{DASH}60 m AGL",
        f"C2 · 30{DASH}90 m AGL",
        f"C3 · 60{DASH}90 m AGL",
    ]
    expect(page.locator("path.corridor")).to_have_count(3)
    expect(page.locator("path.exclusion")).to_have_count(2)
    expect(page.locator(".leaflet-land-pane path")).not_to_have_count(0)
    expect(page.locator(".leaflet-control-attribution")).to_contain_text("GSHHG")
    expect(page.locator("#who")).to_contain_text("pilot")
    expect(page.locator("#clock")).to_contain_text("UTC")
    expect(page.locator("#live-status")).to_have_attribute(
        "data-state", re.compile("connecting|reconnecting|live")
    )

    # The drawn corridors are the engine's own outlines, not a browser re-buffer.
    drawn = page.evaluate(
        """() => Object.fromEntries([...window.skyberth.layers.corridors]
            .map(([id, c]) => [id, c.layer.getLatLngs()[0]
                .map((p) => [p.lng, p.lat])]))"""
    )
    site = load_site(demo_site_path())
    for corridor in site.corridors:
        ring = drawn[corridor.id]
        polygon = site.projection.geometry_to_metric(Polygon(ring))
        assert polygon.hausdorff_distance(corridor.volume.outline) < 0.05, corridor.id

    page.locator("path.corridor-C1").click()
    expect(page.locator(".leaflet-popup-content")).to_contain_text("Capacity")
    expect(page.locator(".leaflet-popup-content")).to_contain_text(f"20{DASH}60 m AGL")
    expect(page.locator(".leaflet-popup")).to_have_css("opacity", "1")  # faded in
    tab.shot("map")
    assert tab.external_requests() == []
    # The one 401 is the wrong password above.
    assert tab.unexpected_console_errors("401") == []


def test_bookings_page_books_and_explains_the_refused_overlap(tab: Browsing) -> None:
    tab.sign_in("operator", then="/bookings")
    page = tab.page
    page.wait_for_selector("#timeline .timeline")
    _request_booking(tab, "d1", "P2", "C1", "10:00", "10:30")
    result = page.locator("#booking-result")
    expect(result).to_have_attribute("data-kind", "ok")
    expect(result).to_contain_text("requested")
    booking_id = result.get_attribute("data-booking-id")
    assert booking_id is not None
    pad_row = page.locator('.tl-track[data-resource="pad:P2"]')
    expect(pad_row.locator(f'[data-booking-id="{booking_id}"]')).to_have_class(
        re.compile("pending")
    )
    corridor_row = page.locator('.tl-track[data-resource="corridor:C1"]')
    expect(corridor_row.locator(f'[data-booking-id="{booking_id}"]')).to_be_visible()

    _request_booking(tab, "d2", "P2", "", "10:15", "10:45")
    expect(result).to_have_attribute("data-kind", "refused")
    expect(result).to_contain_text("Booking refused \N{EM DASH} pad already booked")
    expect(result).to_contain_text(f"Booking #{booking_id} holds it: drone d1")
    expect(result).to_contain_text("Pick another pad")
    tab.shot("bookings-conflict")

    page.click("#ics-download")  # a Blob download: no navigation, no error
    assert tab.external_requests() == []
    assert tab.unexpected_console_errors("409") == []


def test_each_role_sees_only_its_controls_and_the_api_backs_them(tab: Browsing) -> None:
    tab.sign_in("operator", then="/bookings")
    page = tab.page
    page.wait_for_selector("#timeline .timeline")
    _request_booking(tab, "d1", "P3", "C3", "14:00", "14:30")
    expect(page.locator("#booking-result")).to_have_attribute("data-kind", "ok")
    booking_id = page.locator("#booking-result").get_attribute("data-booking-id")
    expect(page.locator("#booking-form")).to_be_visible()
    expect(page.locator("#pending-list")).to_be_hidden()
    expect(page.locator("#closure-form")).to_be_hidden()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)

    page.evaluate("sessionStorage.clear()")
    tab.sign_in("rival", then=f"/bookings?date={_tomorrow()}")
    page.wait_for_selector("#timeline .timeline")
    p3 = page.locator('.tl-track[data-resource="pad:P3"]')
    expect(p3.locator(".tl-block.busy")).not_to_have_count(0)  # busy, no details
    expect(page.locator(f'[data-booking-id="{booking_id}"]')).to_have_count(0)

    page.evaluate("sessionStorage.clear()")
    tab.sign_in("site_admin", then=f"/bookings?date={_tomorrow()}")
    expect(page.locator("#booking-form")).to_be_visible()
    pending = page.locator(f'#pending-list li[data-booking-id="{booking_id}"]')
    pending.get_by_role("button", name="Approve").click()
    expect(page.locator("#booking-detail")).to_contain_text("is now approved")
    row = page.locator(f'#booking-table tr[data-booking-id="{booking_id}"]')
    expect(row).to_contain_text("approved")
    # No drone is flying here: the fence cannot be sent, and the page says why.
    row.get_by_role("button", name="Send fence").click()
    fence = page.locator(
        f'#booking-detail .fence-state[data-booking-id="{booking_id}"]'
    )
    expect(fence).to_have_attribute("data-fence-state", "not_supported")
    expect(fence).to_contain_text("fence not supported — the drone is not connected")
    # The reason is worded from its code, so a language switch says it again.
    for language, words in (("zh-Hant-HK", "無人機未連線"), ("en", "not connected")):
        with page.expect_response(
            lambda r: r.url.endswith("/me/language") and r.request.method == "PUT"
        ):
            page.select_option(".lang-select", language)
        expect(fence).to_contain_text(words)
    with page.expect_download() as plan:
        row.get_by_role("button", name=".plan").click()
    assert plan.value.suggested_filename == f"skyberth-booking-{booking_id}.plan"
    tab.shot("bookings-site-admin")

    page.evaluate("sessionStorage.clear()")
    tab.sign_in("safety_officer", then=f"/bookings?date={_tomorrow()}")
    expect(page.locator("#booking-form")).to_be_hidden()
    expect(page.locator("#closure-form")).to_be_visible()
    expect(page.get_by_role("button", name="Send fence")).to_have_count(0)
    page.select_option("#cl-target", "pad:P3")
    page.fill("#cl-date", _tomorrow())
    page.fill("#cl-start", "13:00")
    page.fill("#cl-end", "15:00")
    page.fill("#cl-reason", "debris on pad")
    page.click("#closure-form button[type=submit]")
    closure = page.locator("#closure-result")
    expect(closure).to_have_attribute("data-kind", "ok")
    expect(closure).to_contain_text(f"Bumped bookings: #{booking_id} (drone d1, acme)")
    closed = page.locator('.tl-track[data-resource="pad:P3"] .tl-block.closed')
    expect(closed).not_to_have_count(0)
    tab.shot("bookings-closure")
    assert tab.external_requests() == []
    assert tab.unexpected_console_errors() == []


def test_incidents_page_says_when_the_server_has_no_incident_list(
    tab: Browsing,
) -> None:
    tab.sign_in("safety_officer", then="/incidents")
    table = tab.page.locator("#incident-table")
    expect(table.locator(".unavailable, table, p.muted").first).to_be_visible()
    answer = tab.page.request.get(tab.base_url + "/api/v1/incidents")
    if answer.status == 404:
        expect(table).to_contain_text("not available on this server yet")
    tab.shot("incidents")
    assert tab.external_requests() == []


TRAP = '<img src=x onerror="window.__pwned = 1">'


def test_free_text_on_the_map_stays_text_and_next_stays_on_this_server(
    tab: Browsing, server: Server
) -> None:
    token = httpx2.post(
        f"{server.base_url}/api/v1/auth/token",
        data={"username": "site_admin", "password": PASSWORD},
        timeout=10,
    ).json()["access_token"]
    start = datetime.now(UTC) + timedelta(hours=2)
    created = httpx2.post(
        f"{server.base_url}/api/v1/closures",
        json={
            "site_id": SITE,
            "pad_id": "P4",
            "reason": TRAP,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text

    # A backslash path is another host to the browser: sign-in lands on /map.
    tab.goto("/login?next=/%5Cevil.example/")
    tab.page.fill("#username", "pilot")
    tab.page.fill("#password", PASSWORD)
    tab.page.click("#login-form button[type=submit]")
    tab.page.wait_for_url("**/map")
    page = tab.page
    expect(page.locator("#map")).to_have_attribute("data-site-loaded", "true")
    tooltip = page.locator(".leaflet-tooltip", has_text="Closed pad P4")
    # Other tests of the module closed things too: hover each until P4's shows.
    for closure in page.locator("path.closure").all():
        closure.hover(force=True)
        if tooltip.count():
            break
    expect(tooltip).to_contain_text(TRAP)  # shown as the characters typed
    assert page.locator(".leaflet-tooltip img").count() == 0
    assert page.evaluate("window.__pwned") is None
