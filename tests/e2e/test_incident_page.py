"""The incident page in a real browser: a drifting drone's incident (stored through
the server's own database) replayed on the map around the breach, and a safety
officer taking it from open to closed while a pilot only reads it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from airspace.site_files import demo_site_path, load_site
from telemetry.incidents.model import VolumeSnapshot
from telemetry.incidents.repository import IncidentRepository
from tests.e2e.conftest import Browsing, Server
from tests.integration.incident_scenario import store_drifting_incident
from web.db import make_engine, write_session

pytestmark = pytest.mark.e2e

INSIDE_COLOUR = "#1a9850"  # drone_layer.js STATE_INFO
OUTSIDE_COLOUR = "#d7191c"


@pytest.fixture(scope="module")
def incident_id(server: Server) -> Iterator[int]:
    """The id of an incident stored in the running server's database."""
    engine = make_engine(f"sqlite:///{server.data_dir / 'skyberth.sqlite3'}")
    try:
        incidents = IncidentRepository(
            lambda: write_session(engine), lambda: Session(engine)
        )
        stored = store_drifting_incident(incidents, load_site(demo_site_path()))
        yield int(stored.incident_id)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def long_corridor_incident_id(server: Server) -> Iterator[int]:
    """An incident whose assigned volume is C2, the 12 km route to Cheung Chau."""
    engine = make_engine(f"sqlite:///{server.data_dir / 'skyberth.sqlite3'}")
    try:
        incidents = IncidentRepository(
            lambda: write_session(engine), lambda: Session(engine)
        )
        site = load_site(demo_site_path())
        c2 = VolumeSnapshot.of(
            site.corridor("C2").volume, site.projection, "corridor:C2"
        )
        stored = store_drifting_incident(incidents, site, volume=c2)
        yield int(stored.incident_id)
    finally:
        engine.dispose()


def _state(tab: Browsing) -> str | None:
    return tab.page.locator("#inc-state").get_attribute("data-state")


def test_safety_officer_replays_and_closes_the_incident(
    tab: Browsing, incident_id: int
) -> None:
    tab.sign_in("safety_officer", then="/incidents")
    page = tab.page
    page.locator(f'tr[data-incident-id="{incident_id}"] a.incident-link').click()
    page.wait_for_url(f"**/incidents/{incident_id}")
    state = page.locator("#inc-state")
    expect(state).to_have_attribute("data-state", "open")
    expect(page.locator("#inc-message")).to_contain_text("left corridor C1 sideways")
    # The rule and the volume's source in words, not as the codes stored.
    expect(page.locator("#inc-rule")).to_contain_text("corridor exit (lateral)")
    expect(page.locator("#inc-volume")).to_contain_text("corridor C1")
    expect(page.locator("path.inc-volume")).to_have_count(1)
    expect(page.locator("path.track-inside")).not_to_have_count(0)
    expect(page.locator("path.track-outside_lateral")).not_to_have_count(0)
    expect(page.locator("#inc-timeline")).to_contain_text("opened")
    expect(page.locator("#inc-exports a")).to_have_count(6)

    # The slider starts at the breach; Home and End move the marker along the track.
    slider = page.locator("#replay-slider")
    readout = page.locator("#replay-readout")
    marker = page.locator("path.inc-marker")
    expect(readout).to_have_attribute("data-state", "outside_lateral")
    start_xy = marker.get_attribute("d")
    slider.press("Home")
    expect(readout).to_have_attribute("data-index", "0")
    expect(readout).to_have_attribute("data-state", "inside")
    expect(readout).to_contain_text("from opening")
    expect(marker).to_have_attribute("fill", INSIDE_COLOUR)
    assert marker.get_attribute("d") != start_xy
    slider.press("End")
    expect(readout).to_have_attribute("data-state", "outside_lateral")
    expect(marker).to_have_attribute("fill", OUTSIDE_COLOUR)
    page.click("#replay-play")  # from the end: starts over, and plays on
    expect(readout).to_have_attribute("data-index", re.compile(r"^[1-9][0-9]?$"))
    page.click("#replay-play")
    expect(page.locator("#replay-play")).to_have_text("Play")
    paused_at = readout.get_attribute("data-index")
    assert paused_at is not None
    expect(slider).to_have_value(paused_at)
    page.wait_for_timeout(400)  # paused: it stays put
    expect(readout).to_have_attribute("data-index", paused_at)

    with page.expect_download() as download:
        page.locator('#inc-exports a[data-format="geojson"]').click()
    assert download.value.suggested_filename.endswith(".geojson")

    # The drone can be commanded from here: a reason first; this drone is not
    # connected to this server, so the command is not sent, and the page says so.
    commanded = page.locator("#cmd-result")
    page.click("#cmd-rtl")
    expect(commanded).to_contain_text("RTL needs a reason")
    page.fill("#act-text", "drifting out of C1")
    page.click("#cmd-rtl")
    expect(commanded).to_contain_text("RTL not sent")
    page.fill("#act-text", "")

    expect(page.locator("#act-investigate")).to_be_hidden()
    page.click("#act-acknowledge")
    expect(state).to_have_attribute("data-state", "acknowledged")
    result = page.locator("#act-result")
    expect(result).to_have_attribute("data-kind", "ok")
    page.fill("#act-text", "GNSS log requested from the operator")
    page.click("#act-investigate")
    expect(state).to_have_attribute("data-state", "investigating")
    expect(page.locator("#inc-timeline")).to_contain_text("GNSS log requested")

    page.fill("#act-assignee", "safety_officer")
    page.click("#act-assign")
    expect(page.locator("#inc-facts")).to_contain_text("safety_officer")
    page.fill("#act-text", "Pilot says the wind picked up")
    page.click("#act-note")
    expect(page.locator("#inc-timeline")).to_contain_text("the wind picked up")
    assert _state(tab) == "investigating"

    page.click("#act-close")  # no summary: refused, in words
    expect(result).to_have_attribute("data-kind", "refused")
    expect(result).to_contain_text("summary")
    assert _state(tab) == "investigating"
    page.fill("#act-text", "Wind gust at the pier; pilot briefed")
    page.click("#act-close")
    expect(state).to_have_attribute("data-state", "closed")
    expect(page.locator("#inc-facts")).to_contain_text("Wind gust at the pier")
    expect(page.locator("#act-reopen")).to_be_visible()
    expect(page.locator("#act-close")).to_be_hidden()
    tab.shot("incident-closed")
    assert tab.external_requests() == []
    assert tab.unexpected_console_errors("422", "409", "400", "404") == []


def test_a_pilot_reads_the_incident_without_any_action(
    tab: Browsing, incident_id: int
) -> None:
    tab.sign_in("pilot", then=f"/incident?id={incident_id}")
    page = tab.page
    expect(page.locator("#inc-state")).to_have_attribute(
        "data-state", re.compile(r"\w+")
    )
    expect(page.locator("#replay-slider")).to_be_visible()
    expect(page.locator("#inc-actions")).to_have_count(0)
    for name in ("Acknowledge", "Investigate", "Close", "Reopen", "Add note", "RTL"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    tab.shot("incident-pilot")
    assert tab.external_requests() == []
    assert tab.unexpected_console_errors() == []


def test_a_missing_incident_is_explained(tab: Browsing) -> None:
    tab.sign_in("safety_officer", then="/incidents/999999")
    status = tab.page.locator("#inc-status")
    expect(status).to_contain_text("does not exist or is not visible to you")
    assert tab.unexpected_console_errors("404") == []


def test_the_map_fits_the_track_around_the_breach_not_the_whole_corridor(
    tab: Browsing, long_corridor_incident_id: int
) -> None:
    tab.sign_in("safety_officer", then=f"/incidents/{long_corridor_incident_id}")
    page = tab.page
    expect(page.locator("path.inc-volume")).to_have_count(1)
    breach = page.locator("path.inc-breach")
    expect(breach).to_have_count(1)
    # The 60 s evidence track (240 m) comes to span a good part of the map (about
    # a third: the wide map's height sets the zoom), inside it; at the corridor's
    # 12 km it would be a dot (under 20 px). Polled: the fit may still be moving.
    page.wait_for_function(
        """() => {
          const map = document.getElementById('inc-map').getBoundingClientRect();
          const boxes = [...document.querySelectorAll('path.inc-track')]
            .map((p) => p.getBoundingClientRect());
          if (!boxes.length) return false;
          const left = Math.min(...boxes.map((b) => b.left));
          const right = Math.max(...boxes.map((b) => b.right));
          return left >= map.left && right <= map.right
            && right - left > map.width / 5;
        }"""
    )
    # Leaflet's scale bar reads in metres at a few hundred metres across, in km
    # at the corridor's 12 km.
    expect(page.locator(".leaflet-control-scale-line")).to_have_text(
        re.compile(r"^\d+ m$")
    )
    tab.shot("incident-long-corridor-fit")
    assert tab.unexpected_console_errors() == []
