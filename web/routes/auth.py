"""Tokens: the OAuth2 password flow (``/docs`` has an Authorize button for it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from web.auth import create_access_token
from web.deps import CurrentUser, SessionDep, SettingsDep
from web.schemas import Token, UserPublic
from web.users import authenticate

router = APIRouter(tags=["auth"])


@router.post("/auth/token")
def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    """Return a bearer token for a username and password (form fields)."""
    user = authenticate(session, form.username, form.password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="incorrect username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    now = datetime.now(UTC)
    ttl = timedelta(minutes=settings.token_ttl_min)
    token = create_access_token(user.id, user.name, settings.secret_key, now, ttl)
    return Token(access_token=token, expires_at=(now + ttl).replace(microsecond=0))


@router.get("/auth/me")
def who_am_i(user: CurrentUser) -> UserPublic:
    """Return the user the bearer token belongs to."""
    return UserPublic.of(user)
