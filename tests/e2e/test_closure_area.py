"""Closing an area from the bookings page in a real browser: its vertices typed in
the HK1980 Grid (one line copied from the map's readout), converted by the server,
listed with its band, the booking under it bumped; bad vertices explained before
and after the server; the whole form in Traditional Chinese."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx2
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import SHOTS_DIR, Browsing, Server
from tests.integration.api_world import HK, PASSWORD, SITE

pytestmark = pytest.mark.e2e

DASH = "\N{EN DASH}"  # the pages write ranges as 0-120 with an en dash
PIER_GRID = (831323.165, 813533.596)
PIER_LONLAT = (114.1289, 22.2606)
"""The demo site's reference point in both systems (``tests/unit/test_hk_grid.py``)."""


def _tomorrow() -> str:
    return (datetime.now(HK).date() + timedelta(days=1)).isoformat()


def _as(server: Server, who: str) -> dict[str, str]:
    token = httpx2.post(
        f"{server.base_url}/api/v1/auth/token",
        data={"username": who, "password": PASSWORD},
        timeout=10,
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _book_corridor_c1(server: Server, hour: int) -> int:
    start = datetime.fromisoformat(f"{_tomorrow()}T{hour:02d}:00").replace(tzinfo=HK)
    answer = httpx2.post(
        f"{server.base_url}/api/v1/bookings",
        json={
            "site_id": SITE,
            "drone_id": "d1",
            "corridor_id": "C1",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
        },
        headers=_as(server, "operator"),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    booking_id: int = answer.json()["id"]
    return booking_id


def _grid_square_lines(half_side_m: float) -> str:
    """A square round the pier, a vertex a line, the first as the readout shows it."""
    e, n = PIER_GRID
    d = half_side_m
    first = f"HK1980 E {e - d:.1f} N {n - d:.1f}"
    rest = [
        f"{e + d:.1f}, {n - d:.1f}",
        f"{e + d:.1f} {n + d:.1f}",
        f"{e - d:.1f};{n + d:.1f}",
    ]
    return "\n".join([first, *rest])


def _fill_area(tab: Browsing, vertices: str, start: str, end: str, reason: str) -> None:
    page = tab.page
    page.select_option("#cl-target", "area:")
    expect(page.locator("#cl-area")).to_be_visible()
    page.select_option("#cl-system", "hk1980")
    page.fill("#cl-vertices", vertices)
    page.fill("#cl-floor", "0")
    page.fill("#cl-ceiling", "120")
    page.fill("#cl-date", _tomorrow())
    page.fill("#cl-start", start)
    page.fill("#cl-end", end)
    page.fill("#cl-reason", reason)
    page.click("#closure-form button[type=submit]")


def _metres_apart(a: list[float], b: tuple[float, float]) -> float:
    lat = math.radians((a[1] + b[1]) / 2)
    dx = math.radians(a[0] - b[0]) * math.cos(lat) * 6_371_000
    return math.hypot(dx, math.radians(a[1] - b[1]) * 6_371_000)


def test_an_area_typed_in_the_hk1980_grid_is_closed_and_listed(
    tab: Browsing, server: Server
) -> None:
    booking_id = _book_corridor_c1(server, hour=10)
    tab.sign_in("safety_officer", then=f"/bookings?date={_tomorrow()}")
    page = tab.page
    page.wait_for_selector("#timeline .timeline")
    expect(page.locator("#cl-area")).to_be_hidden()  # a pad is chosen first
    result = page.locator("#closure-result")

    # Checked in the page before sending: a line that is not two numbers.
    _fill_area(tab, "831000 813000\n831400 x\n831400 813400", "09:00", "12:00", "x")
    expect(result).to_have_attribute("data-kind", "refused")
    expect(result).to_contain_text(
        "Line 2 (“831400 x”) is not two numbers: easting, northing."
    )
    # Checked by the server: degrees typed as grid metres.
    _fill_area(
        tab, "114.128 22.259\n114.131 22.259\n114.131 22.262", "09:00", "12:00", "x"
    )
    expect(result).to_have_attribute("data-kind", "refused")
    expect(result).to_contain_text("Closure refused: some fields are not valid")
    expect(result).to_contain_text("Area (HK1980 Grid)")
    expect(result).to_contain_text("is not in the HK1980 Grid over Hong Kong")
    expect(result).to_contain_text("or choose WGS84 degrees")  # worded by the page

    _fill_area(tab, _grid_square_lines(300), "09:00", "12:00", "barge crane lift")
    expect(result).to_have_attribute("data-kind", "ok")
    expect(result).to_contain_text(f"Area 0{DASH}120 m AMSL is closed")
    expect(result).to_contain_text(f"Bumped bookings: #{booking_id} (drone d1, acme)")
    closure_id = result.get_attribute("data-closure-id")
    row = page.locator(f'#closure-table tr[data-closure-id="{closure_id}"]')
    expect(row).to_have_attribute("data-target-kind", "area")
    expect(row).to_contain_text(f"Area 0{DASH}120 m AMSL")
    expect(row).to_contain_text("barge crane lift")
    tab.shot("bookings-area-closure-hk1980")

    # Where the server put it: centred on the pier, within half a metre.
    closure: dict[str, Any] = httpx2.get(
        f"{server.base_url}/api/v1/closures/{closure_id}",
        headers=_as(server, "pilot"),
        timeout=10,
    ).json()
    corners = closure["area"]["coordinates"][0][:-1]
    centre = [sum(p[0] for p in corners) / 4, sum(p[1] for p in corners) / 4]
    assert _metres_apart(centre, PIER_LONLAT) < 0.5
    assert closure["floor_amsl_m"] == 0.0
    assert closure["ceiling_amsl_m"] == 120.0
    # The 422 above is the server's answer to the degrees typed as metres.
    assert tab.unexpected_console_errors("422") == []


@pytest.fixture
def zh_tab(browser: Browser, server: Server) -> Iterator[Browsing]:
    """A tab of a browser that prefers Traditional Chinese (Hong Kong)."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 1000},
        locale="zh-HK",
        timezone_id="Asia/Hong_Kong",
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    seen = Browsing(page, server.base_url)
    page.on("pageerror", lambda exc: seen.console_errors.append(f"uncaught: {exc}"))
    try:
        yield seen
    finally:
        context.close()


def test_the_area_form_and_its_answers_read_in_traditional_chinese(
    zh_tab: Browsing,
) -> None:
    zh_tab.sign_in("site_admin", then=f"/bookings?date={_tomorrow()}")
    page = zh_tab.page
    page.wait_for_selector("#timeline .timeline")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant-HK")
    result = page.locator("#closure-result")
    # The server's refusal, worded by the page from its code and values.
    degrees = "114.128 22.259\n114.131 22.259\n114.131 22.262"
    _fill_area(zh_tab, degrees, "13:00", "14:00", "維修浮躉")
    expect(result).to_have_attribute("data-kind", "refused")
    expect(result).to_contain_text("無法建立關閉安排")
    expect(result).to_contain_text("部分欄位無效")
    expect(result).to_contain_text("114.128, 22.259")
    expect(result).to_contain_text("不在香港1980方格網範圍內")
    _fill_area(zh_tab, _grid_square_lines(100), "13:00", "14:00", "維修浮躉")
    expect(result).to_have_attribute("data-kind", "ok")
    expect(result).to_contain_text(re.compile(r"已建立關閉安排 #\d+"))
    expect(result).to_contain_text(f"區域 0{DASH}120 m AMSL 於")
    expect(result).to_contain_text("沒有預約被取消。")
    form = page.locator("#closure-form")
    expect(form).to_contain_text("關閉升降坪、飛行走廊或區域")
    expect(form).to_contain_text("香港1980方格網")
    # The page's own words (not the data: pad names, reasons, user ids) are
    # Chinese; what stays in Latin letters is codes and units.
    own_words = page.evaluate(
        """() => [
            ...document.querySelectorAll(
                "#closure-form :is(h3, label, legend, .hint, button),"
                + " #cl-system option, #closure-result,"
                + " #closure-table :is(th, td:nth-child(2)),"
                + " #cl-target optgroup, #cl-target option[value='area:']"),
        ].map((n) => n.label || n.innerText).join(" | ")"""
    )
    assert f"區域 0{DASH}120 m AMSL" in own_words
    codes = {"AMSL", "WGS", "HK", "EPSG", "GMT", "HKT", "UTC"}  # GMT+8: the zone
    assert set(re.findall(r"[A-Za-z]{2,}", own_words)) <= codes
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(SHOTS_DIR / "bookings-area-closure-zh.png"), full_page=True
    )
    assert zh_tab.unexpected_console_errors("422") == []
    # Switched in place: the answer already shown is said again in English.
    page.select_option(".lang-select", "en")
    expect(result).to_contain_text(f"Area 0{DASH}120 m AMSL is closed")
    expect(result).to_contain_text("No booking was bumped.")
    expect(page.locator("#who")).to_have_text("site_admin (site admin)")
