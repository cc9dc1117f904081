"""The live map in a real browser, fed by real drones through a real server.

``skyberth serve`` runs as a subprocess on the demo site (``serve_process``); two
drones of organisation acme are registered and booked over REST, and the real
simulator (``python -m simulator --api``, a subprocess) flies them over MAVLink/UDP:
``Drone lm-1`` flies corridor C1 as planned, ``Drone lm-2`` drifts out of it sideways
and stays out. Debian's Chromium, signed in as acme's pilot, must show both drones
with their labels, the drift's incident as a toast and in the side list, the
"reconnecting" state while the server is down, and the picture again, from the
new connection's snapshot, once the server is back on the same port.
"""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, WebSocket, expect

from tests.e2e.conftest import Browsing
from tests.e2e.serve_process import ServeProcess
from tests.integration.api_world import SITE, drone_body
from tests.integration.sim_world import SOURCE_ROOT, simulator_env
from web.i18n import catalogue

pytestmark = pytest.mark.e2e

SPEED = 4
NOMINAL = ("lm-1", 31, "P1")
DRIFTING = ("lm-2", 32, "P4")
"""(drone id, MAVLink system id, pad); both fly corridor C1."""
DRIFT = "lateral_drift@2:at_s=5,speed_mps=4,hold_s=400"
"""The second drone of the fleet (by system id) leaves C1 as soon as it flies a
leg along it, and stays out for the rest of the test."""
LABEL_LINE = re.compile(r"-?\d+\.\d m · \d+\.\d m/s · \d+ % · \d+\.\d s")
"""A label's second line: altitude, speed, battery and link age, with units."""
STALE = re.compile(r"\bstale\b")
NOT_CHINESE = re.compile(
    r"Drone lm-\d|lm-\d|udpin:\S+|safety_officer|acme|SkyBerth|Leaflet|UTC|HKT"
    r"|AGL|AMSL|mPD|WGS84|HK1980|GPS|MAVLink|AIS|corridor:C\d|corridor_exit_lateral"
    r"|confirm_samples|GeoJSON|KML|CSV|GeoPackage|HTML|tlog|GMT\+8|English"
)
"""What stays in Latin letters on a Traditional Chinese page: the drones' names and
ids, link keys, user and organisation names, product and library names, units,
datums, zones and codes (a rule's name, a volume's source, export formats), and
the language switch's own "English"."""
WS_DOWN = "WebSocket connection to"
"""Chromium logs each refused reconnect attempt while the server is down."""


@dataclass
class LiveMapWorld:
    """The server (``base_url`` is what the ``tab`` fixture opens), the bookings of
    its drones, and the simulator once ``fly`` has started it."""

    serve: ServeProcess
    bookings: dict[str, int]
    simulator_log: Path
    simulator: subprocess.Popen[bytes] | None = None
    opens_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When the last booking's window opens: nothing may fly unbooked before."""

    @property
    def base_url(self) -> str:
        return self.serve.base_url

    def fly(self) -> None:
        """Start the simulator on the booked drones (once)."""
        if self.simulator is not None:
            return
        time.sleep(max(0.0, (self.opens_at - datetime.now(UTC)).total_seconds()))
        with self.simulator_log.open("wb") as log:
            self.simulator = subprocess.Popen(
                [
                    sys.executable,
                    *("-m", "simulator", "--api", self.serve.base_url),
                    *("--token", self.serve.token("site_admin")),
                    *("--to", f"udpout:127.0.0.1:{self.serve.udp_port}"),
                    *("--speed", str(SPEED), "--laps", "3", "--scenario", DRIFT),
                    *("--progress-s", "10"),
                ],
                cwd=SOURCE_ROOT,
                env=simulator_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop_flying(self) -> None:
        simulator, self.simulator = self.simulator, None
        if simulator is None:
            return
        simulator.send_signal(signal.SIGINT)
        try:
            simulator.wait(timeout=10)
        except subprocess.TimeoutExpired:
            simulator.kill()
            simulator.wait()


def _book(
    serve: ServeProcess, drone_id: str, sysid: int, pad: str
) -> tuple[int, datetime]:
    """Register the drone, book C1 from ``pad`` and approve; return id and start."""
    serve.call("operator", "POST", "/drones", json=drone_body(drone_id, sysid))
    start = datetime.now(UTC) + timedelta(seconds=1)
    booking = serve.call(
        "operator",
        "POST",
        "/bookings",
        json={
            "site_id": SITE,
            "drone_id": drone_id,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "corridor_id": "C1",
            "takeoff_pad_id": pad,
            "landing_pad_id": pad,
        },
    )
    serve.call("site_admin", "POST", f"/bookings/{booking['id']}/approve")
    return int(booking["id"]), start


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveMapWorld]:
    """Overrides conftest's ``server``: ours has booked drones to fly and can be
    restarted."""
    data_dir = tmp_path_factory.mktemp("live-map")
    serve = ServeProcess(data_dir)
    serve.seed_users()
    serve.start()
    world = LiveMapWorld(serve, {}, data_dir / "simulator.log")
    try:
        for drone_id, sysid, pad in (NOMINAL, DRIFTING):
            booking_id, world.opens_at = _book(serve, drone_id, sysid, pad)
            world.bookings[drone_id] = booking_id
        yield world
    finally:
        world.stop_flying()
        serve.stop()


@dataclass
class SocketLog:
    """The frames every websocket of the page received, per connection."""

    connections: list[list[dict[str, Any]]] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("websocket", self._opened)

    def _opened(self, ws: WebSocket) -> None:
        frames: list[dict[str, Any]] = []
        self.connections.append(frames)

        def received(payload: str | bytes) -> None:
            text = payload.decode() if isinstance(payload, bytes) else payload
            # Only the first frame (the snapshot) and events matter here.
            if text.startswith(('{"type":"snapshot"', '{"type":"incident"')):
                frames.append(json.loads(text))

        ws.on("framereceived", received)


def _markers(page: Page) -> dict[str, dict[str, Any]]:
    """Each drawn drone: its label and marker position (page pixels) by drone id."""
    found: dict[str, dict[str, Any]] = page.evaluate(
        """() => Object.fromEntries([...window.skyberth.drones.entries.values()]
            .filter((e) => e.marker)
            .map((e) => {
              const box = e.marker.getElement().getBoundingClientRect();
              return [e.v.drone_id, {
                key: e.key, state: e.v.state,
                name: e.root.querySelector('.drone-label b').textContent,
                line: e.root.querySelector('.drone-label span').textContent,
                x: box.x, y: box.y, classes: e.root.className,
              }];
            }))"""
    )
    return found


def _wait_for_both_drones(tab: Browsing, timeout_s: float = 30.0) -> None:
    tab.page.wait_for_function(
        """() => window.skyberth && window.skyberth.drones
            && ['lm-1', 'lm-2'].every((id) => [...window.skyberth.drones.entries
                 .values()].some((e) => e.v.drone_id === id && e.marker))""",
        timeout=timeout_s * 1000,
    )


def _wait_for_drift_incident(tab: Browsing, timeout_s: float = 40.0) -> None:
    items = tab.page.locator("#incident-list li", has_text="corridor exit (lateral)")
    expect(items).to_have_count(1, timeout=timeout_s * 1000)


def test_live_map_shows_the_drones_with_labels_and_the_drift_as_an_incident(
    tab: Browsing, server: LiveMapWorld
) -> None:
    tab.sign_in("pilot")
    page = tab.page
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    # The pilot watches as the drones take off (and their bookings go active).
    server.fly()
    _wait_for_both_drones(tab)
    first = _markers(page)
    assert first["lm-1"]["name"] == "Drone lm-1"
    assert first["lm-2"]["name"] == "Drone lm-2"
    expect(page.locator("#drone-count")).to_have_text("2 drones")
    expect(page.locator("#drone-list")).to_contain_text("Drone lm-1")

    # Once under way (climbed, heading for the corridor), the drones move on the
    # screen between two reads.
    page.wait_for_function(
        """() => [...window.skyberth.drones.entries.values()]
            .filter((e) => e.v.speed_mps > 2).length === 2""",
        timeout=30_000,
    )
    first = _markers(page)
    # The label's second line: altitude, speed, battery, link age, with units.
    for marker in first.values():
        assert LABEL_LINE.fullmatch(marker["line"]), marker
    page.wait_for_timeout(1500)
    later = _markers(page)
    for drone in ("lm-1", "lm-2"):
        moved_px = math.hypot(
            later[drone]["x"] - first[drone]["x"], later[drone]["y"] - first[drone]["y"]
        )
        assert moved_px > 5, (drone, first[drone], later[drone])

    _wait_for_drift_incident(tab)
    incident = page.locator("#incident-list li", has_text="corridor exit (lateral)")
    expect(incident).to_contain_text("lm-2")
    toast = page.locator("#toasts .toast-breach", has_text="Incident #")
    expect(toast.first).to_contain_text("Drone lm-2 left corridor C1")
    expect(page.locator(f'[data-key="{later["lm-2"]["key"]}"] .drone')).to_have_class(
        re.compile(r"\bstate-outside_lateral\b")
    )
    assert "state-outside_lateral" not in _markers(page)["lm-1"]["classes"]
    expect(page.locator("#event-list")).to_contain_text("left corridor C1")

    # Well out (10 m past the edge), the drifting drone is picked from the side
    # list: its live values and its booking show, the map pans to it.
    page.wait_for_function(
        """() => [...window.skyberth.drones.entries.values()].some((e) =>
            e.v.drone_id === 'lm-2' && e.v.lateral_margin_m < -10)""",
        timeout=30_000,
    )
    page.locator("#drone-list button", has_text="Drone lm-2").click()
    expect(page.locator("#selected")).to_be_visible()
    expect(page.locator("#selected-name")).to_have_text("Drone lm-2")
    expect(page.locator("#selected-state")).to_have_text(
        "outside the corridor sideways"
    )
    booking = page.locator("#selected-booking")
    expect(booking).to_contain_text(f"#{server.bookings['lm-2']}")
    expect(booking).to_contain_text("C1")
    expect(booking).to_contain_text("P4 → P4")
    expect(page.locator("#selected-commands")).to_be_hidden()  # pilots: no commands
    tab.shot("live-map-incident")
    assert tab.external_requests() == []
    assert tab.unexpected_console_errors() == []


def test_live_map_shows_reconnecting_while_the_server_is_down_and_recovers(
    tab: Browsing, server: LiveMapWorld
) -> None:
    sockets = SocketLog()
    sockets.attach(tab.page)
    tab.sign_in("pilot")
    page = tab.page
    status = page.locator("#live-status")
    expect(status).to_have_attribute("data-state", "live")
    server.fly()
    _wait_for_both_drones(tab)
    _wait_for_drift_incident(tab)
    incident_text = page.locator("#incident-list li").first.inner_text()

    server.serve.stop()
    expect(status).to_have_attribute("data-state", "reconnecting", timeout=10_000)
    expect(status).to_have_text("Reconnecting…")
    banner = page.locator("#live-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Reconnecting to the live feed")
    expect(page.locator("#map")).to_have_class(STALE)
    # What was known stays on the map, marked as possibly out of date.
    expect(page.locator("#incident-list li")).to_have_count(1)
    tab.shot("live-map-reconnecting")

    page.wait_for_timeout(1500)  # a few refused attempts while it is down
    server.serve.start()
    # The backoff tops out at 8 s between attempts (live_stream.js).
    expect(status).to_have_attribute("data-state", "live", timeout=20_000)
    expect(banner).to_be_hidden()
    expect(page.locator("#map")).not_to_have_class(STALE)
    _wait_for_both_drones(tab)

    # The new connection began with a snapshot holding the open drift incident
    # (from the database: the new server process had not seen it fly) ...
    assert len(sockets.connections) >= 2
    snapshot = sockets.connections[-1][0]
    assert snapshot["type"] == "snapshot"
    kinds = {(i["kind"], i["drone_id"]) for i in snapshot["incidents"]}
    assert ("corridor_exit_lateral", "lm-2") in kinds
    assert {b["id"] for b in snapshot["bookings"]} == set(server.bookings.values())
    # ... and the page shows it again, and the drones fly on.
    expect(page.locator("#incident-list li")).to_have_count(1)
    assert page.locator("#incident-list li").first.inner_text() == incident_text
    before = _markers(page)
    page.wait_for_timeout(1500)
    after = _markers(page)
    assert after["lm-1"]["x"] != before["lm-1"]["x"] or (
        after["lm-1"]["y"] != before["lm-1"]["y"]
    )
    tab.shot("live-map-recovered")
    assert tab.external_requests() == []
    assert tab.unexpected_console_errors(WS_DOWN) == []
    assert server.simulator is not None
    assert server.simulator.poll() is None, server.simulator_log.read_text()


def test_a_safety_officer_sends_the_drifting_drone_home_from_its_panel(
    tab: Browsing, server: LiveMapWorld
) -> None:
    tab.sign_in("safety_officer")
    page = tab.page
    server.fly()
    _wait_for_both_drones(tab)
    _wait_for_drift_incident(tab)
    page.locator("#drone-list button", has_text="Drone lm-2").click()
    panel = page.locator("#selected-commands")
    expect(panel).to_be_visible()
    answer = page.locator("#cmd-answer")
    panel.get_by_role("button", name="RTL").click()
    expect(answer).to_contain_text("RTL needs a reason")
    page.fill("#cmd-reason", "drifting out of C1")
    panel.get_by_role("button", name="RTL").click()
    expect(answer).to_have_attribute("data-answer", "accepted", timeout=15_000)
    expect(answer).to_contain_text("RTL: accepted (frames not signed)")
    # ArduCopter's RTL is custom mode 6: the drone now heads home.
    tab.shot("live-map-rtl")
    assert tab.external_requests() == []
    assert tab.unexpected_console_errors(WS_DOWN) == []


def _english_words(page: Page) -> list[str]:
    """Words of three letters or more a reader of the page would see as English;
    the map's attribution line (names of the map's data, its licence and package:
    ``tests/e2e/test_page_walk.py`` explains them) is left out."""
    text: str = page.evaluate(
        """() => {
          const body = document.body.cloneNode(true);
          body.querySelectorAll('.leaflet-control-attribution')
            .forEach((n) => n.remove());
          document.documentElement.append(body);
          const text = body.innerText;
          body.remove();
          return text;
        }"""
    )
    return re.findall(r"[A-Za-z]{3,}", NOT_CHINESE.sub(" ", text))


def test_the_live_map_and_the_incident_read_in_traditional_chinese(
    browser: Browser, server: LiveMapWorld
) -> None:
    context = browser.new_context(
        viewport={"width": 1280, "height": 800},
        locale="zh-HK",
        timezone_id="Asia/Hong_Kong",
    )
    try:
        tab = Browsing(context.new_page(), server.base_url)
        page = tab.page
        page.set_default_timeout(10_000)
        tab.sign_in("safety_officer")
        expect(page.locator("html")).to_have_attribute("lang", "zh-Hant-HK")
        expect(page.locator("#live-status")).to_have_text("即時")
        server.fly()
        _wait_for_both_drones(tab)
        kind = catalogue("zh-Hant-HK")["incident.kind.corridor_exit_lateral"]
        drift = page.locator("#incident-list li", has_text=kind)
        expect(drift).to_have_count(1, timeout=40_000)
        expect(drift).to_contain_text("水平偏離飛行走廊 C1")
        expect(page.locator("#drone-count")).to_have_text("2 架無人機")
        page.locator("#drone-list button", has_text="Drone lm-2").click()
        # Its state now (sent home by an earlier test, it may be back inside).
        expect(page.locator("#selected-state")).to_have_text(_state_words("zh-Hant-HK"))
        values = page.locator("#selected-values")
        expect(values).to_contain_text("位置")
        expect(values).to_contain_text("mPD")
        assert _english_words(page) == []
        tab.shot("live-map-zh-Hant-HK")

        incident_id = page.evaluate("Math.max(...window.skyberth.incidents.keys())")
        tab.goto(f"/incidents/{incident_id}")
        expect(page.locator("#inc-state")).to_have_text("未處理")
        expect(page.locator("#inc-message")).to_contain_text("水平偏離飛行走廊 C1")
        expect(page.locator("#inc-timeline")).to_contain_text("開立")
        expect(page.locator("#replay-readout")).to_contain_text("距開立")
        assert _english_words(page) == []
        tab.shot("incident-zh-Hant-HK")

        # Switched in place, each page writes what it built itself again. (The
        # choice is stored for the user: English last, as the other tests expect.)
        _switch(page, "en")
        expect(page.locator("#inc-message")).to_contain_text(
            "left corridor C1 sideways"
        )
        expect(page.locator("#inc-state")).to_have_text("open")
        expect(page.locator("#replay-readout")).to_contain_text("from opening")
        tab.goto("/map")
        page.locator("#drone-list button", has_text="Drone lm-2").click()
        _switch(page, "zh-Hant-HK")
        expect(page.locator("#selected-state")).to_have_text(_state_words("zh-Hant-HK"))
        expect(page.locator(".legend")).to_contain_text("在飛行走廊內")
        expect(page.locator("#live-status")).to_have_text("即時")
        _expect_map_controls(page, "zh-Hant-HK")
        _switch(page, "en")
        expect(page.locator("#selected-state")).to_have_text(_state_words("en"))
        expect(page.locator(".legend")).to_contain_text("inside its corridor")
        _expect_map_controls(page, "en")
        expect(page.locator("#incident-list")).to_contain_text(
            "corridor exit (lateral)"
        )
        assert tab.external_requests() == []
    finally:
        context.close()


def _expect_map_controls(page: Page, language: str) -> None:
    """The map's own words (Leaflet's zoom buttons, the coastline's credit) are in
    ``language``: written from the catalogue, again after a switch."""
    words = catalogue(language)
    for button, key in (("in", "map.zoom_in"), ("out", "map.zoom_out")):
        zoom = page.locator(f".leaflet-control-zoom-{button}")
        expect(zoom).to_have_attribute("title", words[key])
        expect(zoom).to_have_attribute("aria-label", words[key])
    credit = words["layers.coastline_credit"].split("{", 1)[0]  # "Coastline: "
    credit_line = page.locator(".leaflet-control-attribution")
    expect(credit_line).to_contain_text(credit)
    expect(credit_line).to_contain_text("GSHHG 2.3.6")
    expect(credit_line.locator("a", has_text="Leaflet")).to_have_attribute(
        "title", words["layers.leaflet_licence"]
    )


def _state_words(language: str) -> re.Pattern[str]:
    """Any drone state's words in ``language``, as the selected drone's pill says."""
    words = [v for k, v in catalogue(language).items() if k.startswith("drone.state.")]
    return re.compile("^(?:" + "|".join(map(re.escape, words)) + ")$")


def _switch(page: Page, language: str) -> None:
    """Choose ``language`` on the page's switch; wait until the server stored it."""
    with page.expect_response(
        lambda r: r.url.endswith("/me/language") and r.request.method == "PUT"
    ):
        page.select_option(".lang-select", language)
