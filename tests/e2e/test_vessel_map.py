"""Vessels from AIS on the live map, in a real browser (issue 20).

pyais-encoded sentences go over UDP to the server's ``--ais`` listener; Debian's
Chromium, signed in as a pilot (vessels are shown to every role), must draw the
ferry as a ship marker with its name and speed, rotated by its heading, and hide
it with the layer toggle.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from playwright.sync_api import expect
from pyais import encode_dict

from tests.e2e.conftest import Browsing, Server

pytestmark = pytest.mark.e2e

FERRY = 477000301


def _send_ferry(port: int) -> None:
    position: dict[str, Any] = {"type": 1, "mmsi": FERRY, "lat": 22.2585}
    position |= {"lon": 114.1262, "speed": 12.5, "course": 225.0, "heading": 230}
    static: dict[str, Any] = {"type": 5, "mmsi": FERRY, "shipname": "MAP FERRY"}
    static |= {"ship_type": 60, "to_bow": 20, "to_stern": 10}
    lines = encode_dict(static, sentence_type="VDM", seq_id=1)
    lines += encode_dict(position, sentence_type="VDM")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto("".join(f"{x}\r\n" for x in lines).encode(), ("127.0.0.1", port))


def test_live_map_draws_ais_vessels_for_a_pilot_and_toggles_them(
    tab: Browsing, server: Server
) -> None:
    tab.sign_in("pilot")
    page = tab.page
    expect(page.locator("#map")).to_have_attribute("data-site-loaded", "true")
    page.wait_for_function("() => window.skyberth && window.skyberth.vessels")
    _send_ferry(server.ais_port)
    marker = page.locator(f".vessel-icon[data-mmsi='{FERRY}']")
    expect(marker).to_have_count(1)
    expect(marker.locator(".vessel-label b")).to_have_text("MAP FERRY")
    expect(marker.locator(".vessel-label span")).to_have_text("12.5 kn")
    style = marker.locator(".vessel-hull").get_attribute("style") or ""
    assert "rotate(230deg)" in style
    tab.shot("map-vessels")
    page.uncheck("#vessel-toggle")
    expect(marker).to_have_count(0)
    page.check("#vessel-toggle")
    expect(marker).to_have_count(1)
    assert not tab.console_errors, tab.console_errors
