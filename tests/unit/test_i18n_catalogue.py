"""Every user-visible string of the pages is in the catalogue, in both languages.

Part of ``make test`` (issue 19): the two ``.po`` catalogues hold the same keys, each
translated; every text node and visible attribute of ``web/pages/*.html`` is marked
with ``data-i18n``/``data-i18n-attr`` and its key exists; every ``t("key")`` of the
scripts exists; and every script, each named in ``TRANSLATED_SCRIPTS`` (a new one
must be added there, and so checked), holds no English text outside ``t()`` (a
string literal with words in it).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from booking.errors import Rule
from web.i18n import LANGUAGES, catalogue, negotiate, translate

WEB = Path(__file__).resolve().parents[2] / "web"
PAGES = sorted((WEB / "pages").glob("*.html"))
SCRIPTS = sorted((WEB / "static" / "js").glob("*.js"))

TRANSLATED_SCRIPTS = {
    "bookings_page.js",
    "campaign_page.js",
    "drone_commands.js",
    "drone_layer.js",
    "event_sentences.js",
    "field_errors.js",
    "flight_charts.js",
    "flights_page.js",
    "grid_readout.js",
    "i18n.js",
    "incident_page.js",
    "incidents_page.js",
    "label_layout.js",
    "live_stream.js",
    "login_page.js",
    "map_page.js",
    "redirects.js",
    "refusal.js",
    "session.js",
    "site_layers.js",
    "time.js",
    "timeline.js",
    "toasts.js",
    "vertex_list.js",
    "vessel_layer.js",
}
VISIBLE_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")
NOT_WORDS = {"SkyBerth"}  # the product's name stays as it is in every language
_WORDY = re.compile(r"[A-Za-z]{2,}")


def _keys(language: str) -> set[str]:
    return set(catalogue(language))


def test_both_catalogues_hold_the_same_translated_keys() -> None:
    english = _keys("en")
    assert english, "the English catalogue is empty"
    for language in LANGUAGES:
        assert _keys(language) == english, language


def test_every_plural_message_has_its_other_form() -> None:
    for key in _keys("en"):
        if key.endswith(".one"):
            assert key.removesuffix(".one") + ".other" in _keys("zh-Hant-HK")


class _PageText(HTMLParser):
    """Collects untranslated text and the keys a page uses."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, translated)
        self.untranslated: list[str] = []
        self.keys: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        marked = found.get("data-i18n")
        if marked:
            self.keys.add(marked)
        pairs = dict(
            p.split(":", 1) for p in (found.get("data-i18n-attr") or "").split(";") if p
        )
        self.keys.update(pairs.values())
        for name in VISIBLE_ATTRIBUTES:
            value = found.get(name) or ""
            if _WORDY.search(value) and name not in pairs:
                self.untranslated.append(f'<{tag} {name}="{value}">')
        if tag not in {"meta", "link", "img", "input", "br"}:
            self.stack.append((tag, bool(marked)))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        text = data.strip()
        if not text or text in NOT_WORDS or not _WORDY.search(text):
            return
        tags = [tag for tag, _ in self.stack]
        if {"script", "style", "code"} & set(tags):
            return  # commands and code are not translated
        if not (self.stack and self.stack[-1][1]):
            self.untranslated.append(text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_has_no_text_outside_the_catalogue(page: Path) -> None:
    parser = _PageText()
    parser.feed(page.read_text(encoding="utf-8"))
    assert parser.untranslated == []
    assert parser.keys - _keys("en") == set()


_T_CALL = re.compile(r"""\bt\(\s*(["'`])([^"'`$]+)\1""")
_T_PREFIX = re.compile(
    r"""\b(?:t\(\s*`|tValue\(\s*["'`])([a-z_.]+?)[.]?(?:\$\{|["'`])"""
)


def _string_literals(source: str) -> list[tuple[int, str, str]]:
    """Return (offset, quote, body) of the string literals of JavaScript ``source``,
    comments skipped; template literals' ``${...}`` parts are left out of the body."""
    out: list[tuple[int, str, str]] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            i = source.find("\n", i)
            i = n if i < 0 else i
        elif source.startswith("/*", i):
            i = source.find("*/", i + 2) + 2
        elif c == "/" and re.search(r"[(,=:\[!&|?{};]\s*$", source[max(0, i - 20) : i]):
            j = i + 1  # a regular expression literal
            while j < n and source[j] != "/":
                j += 2 if source[j] == "\\" else 1
            i = j + 1
        elif c in "\"'`":
            j, body = i + 1, []
            while j < n and source[j] != c:
                if source[j] == "\\":
                    body.append(source[j : j + 2])
                    j += 2
                elif c == "`" and source.startswith("${", j):
                    depth, j = 1, j + 2
                    while j < n and depth:
                        depth += {"{": 1, "}": -1}.get(source[j], 0)
                        j += 1
                    body.append(" ")
                else:
                    body.append(source[j])
                    j += 1
            out.append((i, c, "".join(body)))
            i = j + 1
        else:
            i += 1
    return out


NOT_UI = {
    "Accept",
    "Authorization",
    "Bearer",
    "Content-Type",
    "Accept-Language",
    "Content-Language",
}
"""Protocol words in the scripts that no person reads."""
NOT_UI |= {"English", "Asia/Hong_Kong"}
NOT_UI |= {"Point", "LineString", "Polygon", "MultiPolygon"}  # GeoJSON types
"""A language's own name stays in that language on the switch; a zone id is data."""
NOT_UI |= {"Enter", "Escape", "Content-Disposition"}  # key names, a response header
NOT_UI |= {"geoid grid"}  # an API enum value (a site's mPD method) the page compares
NOT_UI |= {"Leaflet"}  # the map library's name, credited as it is


def _looks_like_words(text: str) -> bool:
    """True for text a person reads: two words, or a capitalised word.

    Not: keys and storage names (``skyberth.lang``, ``aria-label:lang.switch``),
    a key's prefix before a template part (``incident.kind.${kind}``), CSS class
    lists (``toast toast-``), protocol words (``NOT_UI``), and markup itself (the
    text between its tags is still read).
    """
    text = re.sub(r"<[^<>]*>", " ", text).strip()
    if not text or text in NOT_UI:
        return False
    if re.fullmatch(r"[\w-]+(?:[.:;][\w-]+)+(?:[;:.][\w.-]+)*[.]?", text):
        return False
    if re.fullmatch(r"(?:[a-z-]+:[^;]*;?)+", text):
        return False  # an inline style
    if re.fullmatch(r"[\w/?=&.-]+(?:\s+[\w/?=&.-]+)*", text) and re.search(
        r"/|\.\w{2,4}$", text
    ):
        return False  # a path or a file name (the blanks are template parts)
    tokens = text.split()
    if all(re.fullmatch(r"[a-z][a-z0-9-]*", tok) for tok in tokens) and any(
        "-" in tok for tok in tokens
    ):
        return False
    return bool(
        re.search(r"[A-Za-z]{2,}[ ,.;:!?'\u2019]+[A-Za-z]{2,}", text)
        or re.fullmatch(r"\s*[A-Z][a-z]{2,}.*", text)
    )


def _in_t_call(source: str, offset: int) -> bool:
    return bool(
        re.search(r"\b(?:t|tValue)\(\s*$", source[max(0, offset - 12) : offset])
    )


_MACHINE_ARGUMENT = re.compile(r"(?:\bclass:|\bclassName\s*=|\.on\(|\bapi\()\s*$")


def _is_machine_argument(source: str, offset: int) -> bool:
    """True for a literal no person reads by where it stands: a CSS class list
    (``class: "ok small"``), Leaflet event names (``.on("zoomend moveend"``) or an
    API path (``api(`bookings.ics?...`)``)."""
    return bool(_MACHINE_ARGUMENT.search(source[max(0, offset - 16) : offset]))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_uses_only_keys_in_the_catalogue(script: Path) -> None:
    source = script.read_text(encoding="utf-8")
    keys = _keys("en")
    used = {m.group(2) for m in _T_CALL.finditer(source)}
    # A message with a count may exist only in its plural forms (key.one, key.other).
    assert {k for k in used if k not in keys and f"{k}.other" not in keys} == set()
    for prefix in {m.group(1) for m in _T_PREFIX.finditer(source)}:
        assert any(k.startswith(prefix) for k in keys), prefix


def test_every_script_is_listed_and_so_checked() -> None:
    names = {s.name for s in SCRIPTS}
    assert names == TRANSLATED_SCRIPTS


@pytest.mark.parametrize(
    "script",
    [s for s in SCRIPTS if s.name in TRANSLATED_SCRIPTS],
    ids=lambda p: p.name,
)
def test_translated_script_has_no_english_outside_the_catalogue(script: Path) -> None:
    source = script.read_text(encoding="utf-8")
    left = [
        body
        for offset, _, body in _string_literals(source)
        if _looks_like_words(body)
        and not _in_t_call(source, offset)
        and not _is_machine_argument(source, offset)
        and not body.startswith(("./", "/", ".", "#", "["))  # paths, selectors
    ]
    assert left == []


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("zh-HK,zh;q=0.9,en;q=0.8", "zh-Hant-HK"),
        ("zh-TW", "zh-Hant-HK"),
        ("en;q=0.5,zh-Hant;q=0.9", "zh-Hant-HK"),
        ("fr-FR,de;q=0.8", "en"),
        ("zh;q=0", "en"),
    ],
)
def test_accept_language_chooses_the_served_language(
    header: str | None, language: str
) -> None:
    assert negotiate(header) == language


def test_translate_fills_parameters_and_picks_plural_forms() -> None:
    assert translate("en", "incidents.count", count=1) == "1 incident"
    assert translate("en", "incidents.count", count=3) == "3 incidents"
    assert translate("zh-Hant-HK", "incidents.count", count=3) == "3 宗事故"
    assert translate("zh-Hant-HK", "no.such.key") == "no.such.key"


def test_every_booking_rule_has_its_words_in_both_languages() -> None:
    """The API's ``message`` in Chinese is the rule's words (``web.errors``)."""
    for language in LANGUAGES:
        words = catalogue(language)
        assert {r.value for r in Rule if f"rule.{r.value}" not in words} == set()
