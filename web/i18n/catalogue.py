"""Reading the ``.po`` catalogues, choosing a language, filling in a message."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Final

from babel.messages.pofile import read_po

LOCALE_DIR: Final = Path(__file__).resolve().parent.parent / "locale"

LANGUAGES: Final[dict[str, str]] = {"en": "en", "zh-Hant-HK": "zh_Hant_HK"}
"""The languages served, as BCP 47 tags (pages, API) -> gettext locale (files)."""
DEFAULT_LANGUAGE: Final = "en"

Catalogue = MappingProxyType[str, str]
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@cache
def catalogue(language: str) -> Catalogue:
    """Return the messages of ``language`` (a key of ``LANGUAGES``) by key.

    Entries without a translation are left out, so a lookup falls back (see
    ``translate``) and the completeness test sees the gap. Raises KeyError for a
    language not served.
    """
    locale = LANGUAGES[language]
    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        po = read_po(handle, locale=locale)
    messages = {
        str(m.id): str(m.string)
        for m in po
        if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string
    }
    return MappingProxyType(messages)


def negotiate(accept_language: str | None) -> str:
    """Return the served language that fits an ``Accept-Language`` header best.

    Any Chinese tag (``zh``, ``zh-HK``, ``zh-Hant``, ``zh-TW``) gets Traditional
    Chinese (the site's people read Hong Kong usage); anything else English.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        choice = {"zh": "zh-Hant-HK", "en": "en"}.get(tag.strip().lower()[:2])
        if choice and q > 0:
            # Earlier tags win ties: the header lists them in preference order.
            ranked.append((q, -position, choice))
    return max(ranked)[2] if ranked else DEFAULT_LANGUAGE


def translate(language: str, key: str, /, **params: object) -> str:
    """Return message ``key`` in ``language`` with ``{name}`` filled from ``params``.

    Falls back to English, then to the key itself, so a gap never hides the fact.
    A ``count`` parameter picks the plural key (``key.one`` for 1 in English,
    ``key.other`` otherwise), as the pages' ``Intl.PluralRules`` does.
    """
    messages = catalogue(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    english = catalogue(DEFAULT_LANGUAGE)
    if "count" in params and key not in messages:
        one = params["count"] == 1 and language == "en"
        key = f"{key}.one" if one and f"{key}.one" in messages else f"{key}.other"
    text = messages.get(key) or english.get(key) or key
    return _PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))), text)
