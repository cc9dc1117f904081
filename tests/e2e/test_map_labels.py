"""Pad and drone labels near the pier on the live map, in a real browser: two
drones standing on pads P2 and P3 (pymavlink frames over UDP to the server's
gateway) put their labels over the pads' labels; the page stacks them so that
no label covers another (issue 18 item 5)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from airspace.site import Pad
from airspace.site_files import demo_site_path, load_site
from tests.e2e.conftest import DRONES, Browsing, Server
from tests.mavlink_helpers import VehicleEncoder

pytestmark = pytest.mark.e2e

ON_PADS = {"d1": "P2", "d2": "P3"}


@pytest.fixture
def drones_on_pads(server: Server) -> Iterator[None]:
    """d1 and d2 report their positions on P2 and P3 at 4 Hz until the test ends."""
    site = load_site(demo_site_path())
    pads: dict[str, Pad] = {p.id: p for p in site.pads}
    stop = threading.Event()

    def send() -> None:
        encoders = {d: VehicleEncoder(DRONES[d][1]) for d in ON_PADS}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while not stop.is_set():
                for drone, pad_id in ON_PADS.items():
                    point = pads[pad_id].geometry_lonlat.centroid
                    lon, lat = point.x, point.y
                    encoder = encoders[drone]
                    for frame in (
                        encoder.heartbeat(armed=False),
                        encoder.position(lat, lon, 6.0, 0.0),
                    ):
                        sock.sendto(frame, ("127.0.0.1", server.mavlink_port))
                stop.wait(0.25)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _label_boxes(tab: Browsing) -> list[dict[str, Any]]:
    boxes: list[dict[str, Any]] = tab.page.evaluate(
        """() => [...document.querySelectorAll('#map .pad-label, #map .drone-label')]
            .filter((l) => l.getClientRects().length > 0)
            .map((l) => { const r = l.getBoundingClientRect();
              return {text: l.textContent, x: r.x, y: r.y, w: r.width, h: r.height,
                      dy: Number(l.dataset.dy || 0)}; })"""
    )
    return boxes


def _arrow_boxes(tab: Browsing) -> list[dict[str, Any]]:
    boxes: list[dict[str, Any]] = tab.page.evaluate(
        """() => [...document.querySelectorAll('#map .drone-arrow')]
            .map((a) => { const r = a.getBoundingClientRect();
              return {text: 'arrow', x: r.x, y: r.y, w: r.width, h: r.height}; })"""
    )
    return boxes


def _cover(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def _overlapping(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (a["text"], b["text"])
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if _cover(a, b)
    ]


def test_pad_and_drone_labels_at_the_pier_do_not_cover_each_other(
    tab: Browsing, drones_on_pads: None
) -> None:
    tab.sign_in("operator")
    page = tab.page
    expect(page.locator("#map")).to_have_attribute("data-site-loaded", "true")
    expect(page.locator(".drone-label b")).to_have_count(2, timeout=15_000)
    page.get_by_role("button", name="Pier").click()
    page.wait_for_function("() => window.skyberth.labels.runs > 2")
    page.wait_for_timeout(600)  # one more pass after the last label update
    boxes = _label_boxes(tab)
    assert len(boxes) >= 6  # four pads, two drones
    assert _overlapping(boxes) == []
    arrows = _arrow_boxes(tab)
    assert len(arrows) == 2
    assert [(b["text"], "arrow") for b in boxes for a in arrows if _cover(a, b)] == []
    assert any(b["dy"] for b in boxes), boxes  # something had to move
    tab.shot("map-pier-labels")
    assert tab.unexpected_console_errors() == []
