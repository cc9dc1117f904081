"""Tokens: the OAuth2 password flow (``/docs`` has an Authorize button for it).

Failed logins are throttled per user name and per client address
(``web/login_guard.py``): a throttled attempt gets ``429`` with ``Retry-After``
before any password is checked. A disabled user cannot log in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from web.auth import create_access_token
from web.deps import CurrentUser, SessionDep, SettingsDep
from web.errors import ApiError
from web.login_guard import LoginGuard, PasswordChecksBusy
from web.schemas import Token, UserPublic
from web.users import authenticate

router = APIRouter(tags=["auth"])


def _refused(code: str, detail: str, **params: object) -> ApiError:
    return ApiError(
        status.HTTP_401_UNAUTHORIZED,
        code,
        detail,
        headers={"WWW-Authenticate": "Bearer"},
        **params,
    )


@router.post(
    "/auth/token",
    responses={429: {"description": "too many failed logins: wait Retry-After s"}},
)
def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    """Return a bearer token for a username and password (form fields)."""
    guard = cast(LoginGuard, request.app.state.login_guard)
    address = request.client.host if request.client else "unknown"
    wait_s = guard.wait_s(form.username, address)
    if wait_s is not None:
        raise ApiError(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "login_throttled",
            f"too many failed logins: try again in {wait_s:.0f} s",
            headers={"Retry-After": f"{wait_s:.0f}"},
            wait_s=f"{wait_s:.0f}",
        )
    try:
        with guard.password_check():
            user = authenticate(session, form.username, form.password)
    except PasswordChecksBusy as exc:
        raise ApiError(
            status.HTTP_503_SERVICE_UNAVAILABLE, "password_checks_busy", str(exc)
        ) from exc
    if user is None:
        guard.failed(form.username, address, "wrong user name or password")
        raise _refused("login_failed", "incorrect username or password")
    if user.disabled:
        guard.failed(form.username, address, "user is disabled")
        raise _refused("user_disabled", f"user {user.name} is disabled")
    guard.succeeded(form.username)
    now = datetime.now(UTC)
    ttl = timedelta(minutes=settings.token_ttl_min)
    token = create_access_token(
        user.id,
        user.name,
        settings.secret_key,
        now,
        ttl,
        token_version=user.token_version,
    )
    return Token(access_token=token, expires_at=(now + ttl).replace(microsecond=0))


@router.get("/auth/me")
def who_am_i(user: CurrentUser) -> UserPublic:
    """Return the user the bearer token belongs to."""
    return UserPublic.of(user)
