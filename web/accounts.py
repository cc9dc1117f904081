"""Changing accounts: disable, enable, new password, new role; one write path.

Used by ``skyberth user ...`` and the admin routes (``web/routes/users.py``). Each
change is one write transaction holding the new row and its audit record. A new
password or a disabled account bumps the user's token version, which revokes every
token issued before (HTTP at once, open live sockets within
``SKYBERTH_SESSION_CHECK_S``). Enabling does not bump it: tokens revoked by the
disabling stay revoked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from booking.model import (
    ORGANISATION_ROLES,
    AuditEntry,
    Operator,
    OperatorId,
    Role,
    User,
    UserId,
)
from booking.repositories import SqlAudit
from booking.user_repository import SqlUsers
from web.auth import hash_password
from web.db import write_session
from web.errors import Word
from web.users import UserError

CLI_ACTOR = UserId("system:cli")


class UnknownUser(UserError):
    """No user has the name given."""


def list_users(engine: Engine) -> list[User]:
    """Every user, by name."""
    with Session(engine) as session:
        return SqlUsers(session).all()


def set_disabled(
    engine: Engine,
    name: str,
    disabled: bool,
    now: datetime,
    actor_id: UserId = CLI_ACTOR,
    actor_role: Role = Role.SITE_ADMIN,
) -> User:
    """Disable (revoking the user's tokens) or enable user ``name``; return it."""
    action = "user.disabled" if disabled else "user.enabled"

    def change(user: User) -> User:
        bump = 1 if disabled and not user.disabled else 0
        return dataclasses.replace(
            user, disabled=disabled, token_version=user.token_version + bump
        )

    return _change(engine, name, change, action, now, actor_id, actor_role)


def set_password(
    engine: Engine,
    name: str,
    password: str,
    now: datetime,
    actor_id: UserId = CLI_ACTOR,
    actor_role: Role = Role.SITE_ADMIN,
) -> User:
    """Give user ``name`` a new password, revoking their tokens; return the user."""
    if not password:
        raise UserError("a password cannot be empty", code="password_empty")
    hashed = hash_password(password)

    def change(user: User) -> User:
        return dataclasses.replace(user, token_version=user.token_version + 1)

    return _change(
        engine, name, change, "user.password_changed", now, actor_id, actor_role, hashed
    )


def set_role(
    engine: Engine,
    name: str,
    role: Role,
    now: datetime,
    operator_id: str | None = None,
    actor_id: UserId = CLI_ACTOR,
    actor_role: Role = Role.SITE_ADMIN,
) -> User:
    """Give user ``name`` a new role (and organisation, for operators and pilots).

    Staff roles drop the organisation; organisation roles keep the current one
    unless ``operator_id`` names another (created when new).
    """

    def change(user: User) -> User:
        if role not in ORGANISATION_ROLES:
            return dataclasses.replace(user, role=role, operator_id=None)
        org = OperatorId(operator_id) if operator_id else user.operator_id
        if org is None:
            raise UserError(
                f"a {role} needs an organisation (--org)",
                code="role_needs_organisation",
                role=Word(f"role.{role}"),
            )
        return dataclasses.replace(user, role=role, operator_id=org)

    return _change(engine, name, change, "user.role_changed", now, actor_id, actor_role)


def _change(
    engine: Engine,
    name: str,
    change: Callable[[User], User],
    action: str,
    now: datetime,
    actor_id: UserId,
    actor_role: Role,
    password_hash: str | None = None,
) -> User:
    with write_session(engine) as session:
        users = SqlUsers(session)
        found = users.by_username(name)
        if found is None:
            raise UnknownUser(f"no user named {name}", code="user_unknown", name=name)
        before = found[0]
        after = change(before)
        if after.operator_id is not None:
            users.add_operator(Operator(after.operator_id, after.operator_id))
            session.flush()
        users.save(after, password_hash)
        SqlAudit(session).append(
            AuditEntry(
                at=now,
                actor_id=actor_id,
                actor_role=actor_role,
                action=action,
                subject_kind="user",
                subject_id=after.id,
                before=_audited(before),
                after=_audited(after),
            )
        )
    return after


def _audited(user: User) -> dict[str, str]:
    # The hash is never audited; the version says a password changed.
    return {
        "role": str(user.role),
        "operator_id": user.operator_id or "",
        "disabled": str(user.disabled).lower(),
        "token_version": str(user.token_version),
    }
