"""The live map says when the gateway sheds load (issue 21), in a real browser.

A burst of real MAVLink positions, far more than the server can decode in a
quarter of a second, goes to its UDP listener at once: the reader falls behind,
sheds the stale datagrams (``telemetry.mavlink.shedding``), and Chromium, signed in
as a safety officer, must show the overload banner, then hide it once the gateway
has caught up.
"""

from __future__ import annotations

import socket

import pytest
from playwright.sync_api import expect
from pymavlink.dialects.v20 import common as mavlink2

from tests.e2e.conftest import Browsing, Server

pytestmark = pytest.mark.e2e

BURST = 60_000
"""Datagrams in the burst: seconds of decoding, sent in a fraction of one."""
SYSIDS = (201, 202, 203)


def _burst(port: int) -> None:
    frames = []
    for sysid in SYSIDS:
        mav = mavlink2.MAVLink(None, srcSystem=sysid, srcComponent=1)
        for i in range(BURST // len(SYSIDS)):
            msg = mav.global_position_int_encode(
                i, 222606000, 1141289000, 61200, 58900, 0, 0, 0, 0
            )
            frames.append(bytes(msg.pack(mav)))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for frame in frames:
            sock.sendto(frame, ("127.0.0.1", port))


def test_the_map_shows_while_the_gateway_sheds_load(
    tab: Browsing, server: Server
) -> None:
    tab.sign_in("safety_officer")
    page = tab.page
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    banner = page.locator("#overload-banner")
    expect(banner).to_be_hidden()
    _burst(server.mavlink_port)
    expect(banner).to_be_visible(timeout=15_000)
    expect(banner).to_contain_text("overloaded")
    tab.shot("map-overloaded")
    expect(banner).to_be_hidden(timeout=15_000)
