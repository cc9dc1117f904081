"""What a report says, in its reader's language: the port the web layer fills.

The reports (``incident_report``, ``campaign``, ``campaign_charts``) write no
English of their own: every heading, label and chart axis is a catalogue key
(``report.*``, ``chart.*``) looked up through a ``Words`` they are given, and every
instant goes through ``Words.when`` (the site's zone, formatted for the language).
The catalogue lives in ``web`` (``web.i18n``), which ``telemetry`` may not import,
so ``web.i18n.report_words`` builds the ``Words`` and passes it down; the command
line does the same, English unless ``--lang`` says otherwise.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Words(Protocol):
    """A report's language: messages by key, and how instants are written."""

    @property
    def language(self) -> str:
        """The BCP 47 tag of the language (``<html lang>``): ``en``, ``zh-Hant-HK``."""
        ...

    @property
    def zone_name(self) -> str:
        """How the report names the zone its times are in (``HKT``, ``香港時間``)."""
        ...

    def __call__(self, key: str, /, **params: object) -> str:
        """Return message ``key`` with its ``{name}`` placeholders filled."""
        ...

    def when(self, t: datetime) -> str:
        """Return aware instant ``t`` as a date and time in the report's zone."""
        ...


def term(words: Words, family: str, code: str | None) -> str:
    """Return the reader's word for domain code ``code`` of ``family``
    (``incident.kind``, ``role``...), or the code itself where the catalogue has
    none: a code added later stays legible rather than showing a key."""
    if code is None:
        return ""
    key = f"{family}.{code}"
    text = words(key)
    return code if text == key else text
