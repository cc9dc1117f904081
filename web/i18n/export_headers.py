"""A CSV's header row: the stable column codes, or a human row in a language.

Every CSV the API serves (an incident's or booking's positions, a booking's flights,
the conformance and campaign reports) is written by ``telemetry`` with its column
codes as the header (``t_utc``, ``flight_time_s``...): scripts parse those, and
they never change with a language. When the reader asked for a language
(``?lang=``, or a language stored for the user: ``ChosenLanguage.asked``) the
header row is replaced by the columns' names in it (catalogue keys ``column.<code>``),
or when ``?header=labels`` asks for it; ``?header=codes`` keeps the codes in every
case. Only the header row changes: the values (times in UTC, states, booleans) are
the same bytes either way. A labelled CSV starts with a UTF-8 byte order mark so
that spreadsheets (Excel) read its Chinese as UTF-8.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Annotated, Final, Literal

from fastapi import Query

from web.i18n.catalogue import catalogue
from web.i18n.request_language import ChosenLanguage

BOM: Final = "\ufeff"

HeaderChoice = Literal["codes", "labels"]
HeaderQuery = Annotated[
    HeaderChoice | None,
    Query(
        alias="header",
        description=(
            "CSV header row: the stable column codes, or the columns' names in the "
            "chosen language. Default: names when ?lang= is given or the user "
            "stored a language, codes otherwise."
        ),
    ),
]


def column_label(language: str, code: str) -> str:
    """Return column ``code``'s name in ``language`` (the code where none)."""
    key = f"column.{code}"
    return catalogue(language).get(key) or catalogue("en").get(key) or code


def wants_labels(chosen: ChosenLanguage, header: HeaderChoice | None) -> bool:
    """Return whether the header row should hold names rather than codes."""
    return header == "labels" or (header is None and chosen.asked)


def labelled_header(language: str, codes: Sequence[str]) -> list[str]:
    """Return the names of ``codes`` in ``language``, in order."""
    return [column_label(language, code) for code in codes]


def relabel_csv(text: str, language: str) -> str:
    """Return CSV ``text`` with its header row of codes replaced by names (and a
    byte order mark); the rows after it are untouched."""
    first, newline, rest = text.partition("\n")
    codes = next(csv.reader([first]), [])
    out = io.StringIO()
    csv.writer(out, lineterminator=newline or "\n").writerow(
        labelled_header(language, codes)
    )
    return BOM + out.getvalue() + rest


def export_csv(
    text: str, chosen: ChosenLanguage, header: HeaderChoice | None = None
) -> str:
    """Return CSV ``text`` (header of codes) with the header row the request asks
    for (``wants_labels``)."""
    return relabel_csv(text, chosen.language) if wants_labels(chosen, header) else text
