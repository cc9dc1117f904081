"""The catalogue for the pages, and each user's chosen language.

``GET /i18n/{lang}.json`` serves one language's messages (no sign-in: the login
page needs them too). ``GET``/``PUT /api/v1/me/language`` read and store the
signed-in user's choice; without one the answer is negotiated from the request's
``Accept-Language``.
"""

from __future__ import annotations

from typing import Annotated, Literal, cast

from fastapi import APIRouter, Header, Request, Response, status
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session

from booking.user_repository import SqlUsers
from web.deps import CurrentUser, SessionDep
from web.errors import ApiError
from web.i18n.catalogue import LANGUAGES, catalogue, negotiate

catalogue_router = APIRouter(include_in_schema=False)
router = APIRouter(tags=["users"])

Language = Literal["en", "zh-Hant-HK"]
AcceptLanguage = Annotated[str | None, Header()]


class LanguageChoice(BaseModel):
    """A user's page language; ``stored`` is false when it came from the browser."""

    language: Language
    stored: bool = False


class LanguageChange(BaseModel):
    """The language to store; null returns to following the browser."""

    language: Language | None


@catalogue_router.get("/i18n/{language}.json")
def catalogue_json(language: str, response: Response) -> dict[str, str]:
    """Return every message of ``language`` by key (404 for a language not served)."""
    if language not in LANGUAGES:
        raise ApiError(
            status.HTTP_404_NOT_FOUND,
            "no_language",
            f"no language {language!r}",
            language=language,
        )
    response.headers["Cache-Control"] = "no-cache"
    return dict(catalogue(language))


@router.get("/me/language")
def my_language(
    user: CurrentUser,
    session: SessionDep,
    accept_language: AcceptLanguage = None,
) -> LanguageChoice:
    """Return the user's stored language, or the one their browser asks for."""
    stored = SqlUsers(session).language_of(user.id)
    if stored in LANGUAGES:
        return LanguageChoice(language=cast(Language, stored), stored=True)
    return LanguageChoice(language=cast(Language, negotiate(accept_language)))


@router.put("/me/language")
def set_my_language(
    change: LanguageChange,
    user: CurrentUser,
    request: Request,
    accept_language: AcceptLanguage = None,
) -> LanguageChoice:
    """Store the user's page language (null: follow the browser again)."""
    # Its own short write transaction, as web.accounts does for other user changes.
    with Session(cast(Engine, request.app.state.engine)) as session, session.begin():
        SqlUsers(session).set_language(user.id, change.language)
    if change.language is None:
        return LanguageChoice(language=cast(Language, negotiate(accept_language)))
    return LanguageChoice(language=change.language, stored=True)
