"""The map's cursor readout in a real browser: WGS84 by default, HK1980 Grid on the
toggle (computed offline from the server's fit), the choice kept on reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from airspace.hk_grid import to_hk1980
from tests.e2e.conftest import Browsing

pytestmark = pytest.mark.e2e


def test_cursor_readout_switches_between_wgs84_and_hk1980(tab: Browsing) -> None:
    tab.sign_in("pilot")
    page = tab.page
    expect(page.locator("#map")).to_have_attribute("data-site-loaded", "true")
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    readout = page.locator("#cursor-readout .cursor-position")
    expect(readout).to_have_text(re.compile(r"^22\.\d{6}° N, 114\.\d{6}° E$"))
    lat_s, lon_s = re.findall(r"[\d.]+", readout.inner_text())[:2]

    page.click("#coordinate-toggle")
    expect(readout).to_have_text(re.compile(r"^HK1980 E \d{6}\.\d N \d{6}\.\d$"))
    e_s, n_s = re.findall(r"\d+\.\d", readout.inner_text())
    e, n = to_hk1980(float(lon_s), float(lat_s))
    # The readout rounds degrees to 1e-6 (~0.1 m); the fit itself is within mm.
    assert abs(float(e_s) - float(e)) < 0.3
    assert abs(float(n_s) - float(n)) < 0.3
    expect(page.locator("#coordinate-toggle")).to_have_text("Show WGS84")
    tab.shot("map-hk1980-readout")

    page.reload()
    expect(page.locator("#map")).to_have_attribute("data-site-loaded", "true")
    expect(page.locator("#coordinate-toggle")).to_have_text("Show WGS84")
