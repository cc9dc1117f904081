"""The reports' words: the catalogue and the site's zone, handed to ``telemetry``.

``telemetry.reports`` renders HTML reports, KML names and chart labels through a
``Words`` port (it may not import ``web``); ``report_words`` fills it from the
``.po`` catalogue (``report.*``, ``chart.*`` and the domain's terms) and writes
instants in the site's zone with Babel's CLDR data for the language, as the pages
do with ``Intl`` (24-hour clock: a timeline reads best that way).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_time, get_timezone_name

from airspace.site import Site
from web.i18n.catalogue import DEFAULT_LANGUAGE, LANGUAGES, translate

CLDR_LOCALES: Final = {"en": "en_GB", "zh-Hant-HK": "zh_Hant_HK"}
"""The CLDR locale of each served language (the pages' ``Intl`` uses en-GB too)."""
UTC_NAME: Final = "UTC"
"""UTC is called UTC in both languages (CLDR's Chinese name for it is clumsy)."""


@dataclass(frozen=True)
class CatalogueWords:
    """``telemetry.reports.words.Words`` from the catalogue of one language."""

    language: str
    zone: tzinfo = UTC

    @property
    def locale(self) -> str:
        """The CLDR locale of the language (``en_GB``, ``zh_Hant_HK``)."""
        return CLDR_LOCALES[self.language]

    @property
    def zone_name(self) -> str:
        """The zone's name for a heading: ``HKT`` in English, ``香港時間`` in
        Chinese (the pages' clock uses the same abbreviation)."""
        if self.zone is UTC or str(self.zone) == "UTC":
            return UTC_NAME
        if self.language == DEFAULT_LANGUAGE:
            return datetime.now(self.zone).tzname() or str(self.zone)
        return str(get_timezone_name(self.zone, locale=self.locale))

    def __call__(self, key: str, /, **params: object) -> str:
        """Return message ``key`` (English, then the key, where it is missing)."""
        return translate(self.language, key, **params)

    def when(self, t: datetime) -> str:
        """Return ``t`` in the zone as the language writes a date, with a 24-hour
        time to the second: ``7 Dec 2026 18:05:03``, ``2026年12月7日 18:05:03``."""
        local = t.astimezone(self.zone)
        day = format_date(local, "medium", locale=self.locale)
        return f"{day} {format_time(local, 'HH:mm:ss', locale=self.locale)}"


def zone_of(name: str | None) -> tzinfo:
    """Return the IANA zone ``name`` (UTC when None or unknown to this machine)."""
    if not name or name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def sites_zone(sites: Mapping[str, Site], site_id: str | None = None) -> tzinfo:
    """Return the zone of site ``site_id``; without one, the zone all the sites
    share (a report over several sites, a campaign), or UTC when they differ."""
    if site_id is not None and site_id in sites:
        return zone_of(sites[site_id].timezone)
    zones = {s.timezone for s in sites.values()}
    return zone_of(zones.pop()) if len(zones) == 1 else UTC


def report_words(language: str, zone: tzinfo = UTC) -> CatalogueWords:
    """Return the words of ``language`` (English when it is not served) in ``zone``."""
    return CatalogueWords(language if language in LANGUAGES else DEFAULT_LANGUAGE, zone)
