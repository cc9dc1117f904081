"""Which language a report or an export is made in, for one request.

An explicit ``?lang=`` wins, then the language the user stored
(``PUT /api/v1/me/language``), then the request's ``Accept-Language``. The HTML
reports and charts follow the result whatever chose it. A CSV's header row is
different: scripts parse it, so it holds the stable column codes unless the request
asked for a language (``?lang=``) or the user stored one (``ChosenLanguage.asked``);
``?header=codes`` keeps the codes even then (``web.i18n.export_headers``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query

from booking.user_repository import SqlUsers
from web.deps import ActorDep, SessionDep
from web.i18n.catalogue import LANGUAGES, negotiate
from web.i18n.routes import Language


@dataclass(frozen=True)
class ChosenLanguage:
    """The request's language and whether the reader asked for it."""

    language: str
    asked: bool
    """True when ``?lang=`` or the user's stored language chose it; False when it
    came from the ``Accept-Language`` header (or the default)."""


def choose_language(
    explicit: str | None, stored: str | None, accept_language: str | None
) -> ChosenLanguage:
    """Return the language: ``explicit``, then ``stored``, then negotiated."""
    for asked in (explicit, stored):
        if asked in LANGUAGES:
            return ChosenLanguage(asked, asked=True)
    return ChosenLanguage(negotiate(accept_language), asked=False)


LangQuery = Annotated[
    Language | None,
    Query(
        alias="lang",
        description=(
            "The language of the report, chart or CSV header row; default: the "
            "user's stored language, then Accept-Language."
        ),
    ),
]


def _chosen_language(
    actor: ActorDep,
    session: SessionDep,
    lang: LangQuery = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> ChosenLanguage:
    stored = None if lang else SqlUsers(session).language_of(actor.user_id)
    return choose_language(lang, stored, accept_language)


ChosenLanguageDep = Annotated[ChosenLanguage, Depends(_chosen_language)]
"""The request's ``ChosenLanguage`` (its reader is signed in: ``ActorDep``)."""
