"""Every page in Traditional Chinese (Hong Kong) in a real browser: chosen from the
browser's language, switched in place without losing the page's state, stored per
user. Saves one screenshot per page and language (``SKYBERTH_SHOTS_DIR/i18n``;
the README's come from the page walk, ``test_page_walk.py``, which has data to
show)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import SHOTS_DIR, Browsing, Server
from tests.e2e.test_page_walk import english_words, what_a_person_reads
from tests.integration.api_world import PASSWORD
from web.i18n import catalogue

pytestmark = pytest.mark.e2e

PAGES = {
    "login": "/login",
    "map": "/map",
    "bookings": "/bookings",
    "incidents": "/incidents",
    "incident": "/incidents/1",
    "flights": "/bookings/1/flights",
}


@pytest.fixture
def zh_tab(browser: Browser, server: Server) -> Iterator[Browsing]:
    """A tab of a browser that prefers Traditional Chinese (Hong Kong)."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800},
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


def _sign_in(tab: Browsing, user: str) -> None:
    tab.goto("/login?next=/map")
    tab.page.fill("#username", user)
    tab.page.fill("#password", PASSWORD)
    tab.page.click("#login-form button[type=submit]")
    # Not the glob "**/map": the login page's own URL (?next=/map) matches it.
    tab.page.wait_for_url(lambda url: urlsplit(url).path == "/map")


def _shot(tab: Browsing, name: str) -> Path:
    folder = SHOTS_DIR / "i18n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    tab.page.screenshot(path=str(path))
    return path


def _switch(tab: Browsing, language: str, *, stored: bool) -> None:
    """Choose ``language`` on the page's switch; wait until the server stored it."""
    if not stored:
        tab.page.select_option(".lang-select", language)
        return
    with tab.page.expect_response(
        lambda r: r.url.endswith("/me/language") and r.request.method == "PUT"
    ):
        tab.page.select_option(".lang-select", language)


def _marked_texts(tab: Browsing) -> dict[str, str]:
    texts: dict[str, str] = json.loads(
        tab.page.evaluate(
            """JSON.stringify(Object.fromEntries([...document.querySelectorAll(
                '[data-i18n]')].map((n) => [n.dataset.i18n, n.textContent])))"""
        )
    )
    return texts


@pytest.mark.parametrize("name", list(PAGES))
def test_page_shows_traditional_chinese_to_a_browser_that_prefers_it(
    zh_tab: Browsing, name: str
) -> None:
    chinese, english = catalogue("zh-Hant-HK"), catalogue("en")
    if name != "login":
        _sign_in(zh_tab, "site_admin")
    zh_tab.goto(PAGES[name])
    page = zh_tab.page
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant-HK")
    expect(page.locator(".lang-select")).to_have_value("zh-Hant-HK")
    page.wait_for_load_state("networkidle")
    shown = _marked_texts(zh_tab)
    assert shown, "the page marks no text for translation"
    # Text a script has since replaced (the live status) is the script's business.
    left = {k: v for k, v in shown.items() if v == english[k] and v != chinese[k]}
    assert left == {}
    # Every page's script is translated: no English word is left (the walk's
    # allowlist of names and codes; it checks attributes and data too).
    assert english_words(what_a_person_reads(zh_tab)) == []
    _shot(zh_tab, f"{name}-zh-Hant-HK")
    _switch(zh_tab, "en", stored=name != "login")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    _shot(zh_tab, f"{name}-en")
    _switch(zh_tab, "zh-Hant-HK", stored=name != "login")  # as the next test expects
    assert zh_tab.console_errors == []


def test_switching_language_keeps_the_pages_state_and_is_stored_for_the_user(
    zh_tab: Browsing,
) -> None:
    _sign_in(zh_tab, "pilot")
    zh_tab.goto("/bookings")
    page = zh_tab.page
    expect(page.locator("#schedule-title")).to_have_text("升降坪及飛行走廊時間表")
    page.fill("#bk-start", "11:15")
    _switch(zh_tab, "en", stored=True)
    expect(page.locator("#schedule-title")).to_have_text("Pad and corridor schedule")
    expect(page.locator("#bk-start")).to_have_value("11:15")  # no reload
    # Stored on the server: a fresh tab of the same user opens in English even
    # though its browser prefers Chinese.
    page.evaluate("localStorage.clear()")
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#schedule-title")).to_have_text("Pad and corridor schedule")
