"""User accounts for site admins: list, disable, enable, new password, new role.

The same changes as ``skyberth user ...`` through ``web/accounts.py``, each audited
with the admin as actor. Site admins only (403 for everyone else). A new password
or a disabled account revokes the user's tokens at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Path, Request, status
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine

from booking.model import Actor, Role, User
from web.accounts import (
    UnknownUser,
    list_users,
    set_disabled,
    set_password,
    set_role,
)
from web.deps import require_role
from web.errors import ApiError
from web.schemas import UserPublic
from web.users import UserError

router = APIRouter(tags=["users"])

AdminDep = Annotated[Actor, Depends(require_role(Role.SITE_ADMIN))]
UserName = Annotated[str, Path(min_length=1, max_length=128)]


class PasswordChange(BaseModel):
    """A new password for a user."""

    password: str = Field(min_length=8, max_length=1024)


class RoleChange(BaseModel):
    """A new role; ``operator_id`` for operators and pilots."""

    role: Role
    operator_id: str | None = Field(default=None, max_length=128)


def _engine(request: Request) -> Engine:
    return cast(Engine, request.app.state.engine)


def _refusal(status_code: int, exc: UserError) -> ApiError:
    error = ApiError(status_code, exc.code, str(exc))
    error.params = exc.params
    return error


def _applied(change: Callable[[], User]) -> UserPublic:
    try:
        return UserPublic.of(change())
    except UnknownUser as exc:
        raise _refusal(status.HTTP_404_NOT_FOUND, exc) from exc
    except UserError as exc:
        raise _refusal(status.HTTP_422_UNPROCESSABLE_CONTENT, exc) from exc


@router.get("/users")
def users(request: Request, _admin: AdminDep) -> list[UserPublic]:
    """Every user (without password hashes), by name."""
    return [UserPublic.of(user) for user in list_users(_engine(request))]


@router.post("/users/{name}/disable")
def disable(request: Request, name: UserName, admin: AdminDep) -> UserPublic:
    """Disable a user: they cannot log in and their tokens stop working."""
    now = datetime.now(UTC)
    return _applied(
        lambda: set_disabled(
            _engine(request), name, True, now, admin.user_id, admin.role
        )
    )


@router.post("/users/{name}/enable")
def enable(request: Request, name: UserName, admin: AdminDep) -> UserPublic:
    """Enable a user again (they log in anew; old tokens stay revoked)."""
    now = datetime.now(UTC)
    return _applied(
        lambda: set_disabled(
            _engine(request), name, False, now, admin.user_id, admin.role
        )
    )


@router.post("/users/{name}/password")
def change_password(
    request: Request, name: UserName, body: PasswordChange, admin: AdminDep
) -> UserPublic:
    """Set a user's password; their tokens stop working."""
    now = datetime.now(UTC)
    return _applied(
        lambda: set_password(
            _engine(request), name, body.password, now, admin.user_id, admin.role
        )
    )


@router.post("/users/{name}/role")
def change_role(
    request: Request, name: UserName, body: RoleChange, admin: AdminDep
) -> UserPublic:
    """Give a user another role (and organisation, for operators and pilots)."""
    now = datetime.now(UTC)
    return _applied(
        lambda: set_role(
            _engine(request),
            name,
            body.role,
            now,
            body.operator_id,
            admin.user_id,
            admin.role,
        )
    )
