"""Request dependencies shared by the routes, as ``Annotated`` aliases.

``CurrentUser`` is the one place that reads the clock for authentication: the token's
expiry is checked against ``datetime.now(UTC)`` here and nowhere below ``web``.
A missing, malformed or expired token is a 401 whose ``detail`` and ``code`` say
which (``web.errors.ApiError``), with ``WWW-Authenticate: Bearer``; a known user
with the wrong role is a 403. Authentication also notes the user's stored language
on ``request.state`` for the request's error messages.

FastAPI runs every plain ``def`` dependency in its thread pool, one hop each (about
80 us of CPU on the 2-core test machine); the seven hops a booking request once took
cost as much as its whole transaction. So dependencies that only read ``app.state``
or pass values on are ``async def`` (they await nothing and do no I/O);
``CurrentUser`` and ``ActorDep`` read the user on their own short-lived connection
within their one hop; and ``SessionDep`` connects only when a route first uses it, so
it costs a hop (to close it) only then. See ``bench/booking.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, cast

import anyio
import anyio.to_thread
from fastapi import Depends, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from airspace.site import Site
from booking.catalogue import StaticSiteCatalogue
from booking.errors import PermissionDenied
from booking.model import Actor, Role, User
from booking.unit_of_work import SqlUnitOfWork
from booking.user_repository import user_and_language_by_id
from telemetry.incidents.service import IncidentService
from web.auth import TokenError, check_token_holder, decode_access_token
from web.errors import ApiError
from web.settings import Settings

TOKEN_URL = "/api/v1/auth/token"

_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


async def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


# Casts name their types as strings: a subscripted type such as dict[str, Site] is
# built anew on every call, and these run on every request.


async def _sites(request: Request) -> dict[str, Site]:
    return cast("dict[str, Site]", request.app.state.sites)


async def _catalogue(request: Request) -> StaticSiteCatalogue:
    return cast(StaticSiteCatalogue, request.app.state.catalogue)


def _engine(request: Request) -> Engine:
    return cast(Engine, request.app.state.engine)


async def _session(request: Request) -> AsyncIterator[Session]:
    # A new Session does no I/O; it checks out a connection on first use.
    session = Session(_engine(request))
    try:
        yield session
    finally:
        if session.in_transaction():
            # Ending a used session is I/O (rollback, return to the pool): do it
            # off the loop, and finish it even when the request was cancelled.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(session.close)
        else:
            session.close()


async def _uow(request: Request) -> SqlUnitOfWork:
    factory = cast("Callable[[], SqlUnitOfWork]", request.app.state.uow_factory)
    return factory()


async def _incident_service(request: Request) -> IncidentService:
    return cast(IncidentService, request.app.state.incident_service)


SettingsDep = Annotated[Settings, Depends(_settings)]
SitesDep = Annotated[dict[str, Site], Depends(_sites)]
CatalogueDep = Annotated[StaticSiteCatalogue, Depends(_catalogue)]
SessionDep = Annotated[Session, Depends(_session)]
"""A read session; writes go through ``UowDep``."""
UowDep = Annotated[SqlUnitOfWork, Depends(_uow)]
"""A fresh unit of work whose transaction takes the write lock (BEGIN IMMEDIATE)."""
IncidentServiceDep = Annotated[IncidentService, Depends(_incident_service)]
"""The one write path for incident workflow changes (each its own write unit)."""


def _unauthorised(code: str, reason: str) -> ApiError:
    return ApiError(
        status.HTTP_401_UNAUTHORIZED,
        code,
        reason,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _authenticate(request: Request, token: str | None) -> User:
    if token is None:
        raise _unauthorised(
            "not_authenticated", "not authenticated: send Authorization: Bearer <token>"
        )
    settings = cast(Settings, request.app.state.settings)
    try:
        claims = decode_access_token(token, settings.secret_key, datetime.now(UTC))
    except TokenError as exc:
        raise _unauthorised(exc.code, str(exc)) from exc
    # Looked up on every request, so a removed or disabled user, or a revoked
    # token (an older token version), is refused at once.
    with _engine(request).connect() as connection:
        found = user_and_language_by_id(connection, claims.user_id)
    user, language = found if found else (None, None)
    try:
        user = check_token_holder(claims, user)
    except TokenError as exc:
        raise _unauthorised(exc.code, str(exc)) from exc
    # The request's error messages speak the user's stored language (web.errors).
    request.state.language = language
    return user


def _current_user(
    request: Request, token: Annotated[str | None, Depends(_bearer)]
) -> User:
    return _authenticate(request, token)


CurrentUser = Annotated[User, Depends(_current_user)]


def _current_actor(
    request: Request, token: Annotated[str | None, Depends(_bearer)]
) -> Actor:
    # Not built on CurrentUser: one dependency fewer for FastAPI to solve on the
    # event loop per request. A route takes CurrentUser or ActorDep, not both.
    return _authenticate(request, token).as_actor()


ActorDep = Annotated[Actor, Depends(_current_actor)]


def require_role(*roles: Role) -> Callable[[Actor], Awaitable[Actor]]:
    """Return a dependency that passes the actor on when its role is in ``roles``.

    Others get a 403 (``PermissionDenied``) naming the roles that may.
    """
    allowed = frozenset(roles)
    names = ", ".join(sorted(allowed))

    async def check(actor: ActorDep) -> Actor:
        if actor.role not in allowed:
            raise PermissionDenied(f"{actor} may not do this: only {names} may")
        return actor

    return check
