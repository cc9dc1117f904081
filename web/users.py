"""Creating users and checking passwords, for the CLI and the token route."""

from __future__ import annotations

from datetime import datetime
from functools import cache

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
from web.auth import hash_password, verify_password
from web.db import write_session
from web.errors import Word


class UserError(ValueError):
    """A user cannot be created as asked (duplicate name, missing organisation).

    ``code`` and ``params`` name the refusal for the API's ``web.errors.ApiError``.
    """

    def __init__(self, message: str, *, code: str = "user_refused", **params: object):
        self.code = code
        self.params = params
        super().__init__(message)


def add_user(
    engine: Engine,
    name: str,
    role: Role,
    password: str,
    now: datetime,
    operator_id: str | None = None,
    *,
    password_hash: str | None = None,
    actor_id: str = "system:cli",
) -> User:
    """Create user ``name`` (its id is the name) and return it.

    Operators and pilots need ``operator_id``; the organisation is created when new.
    ``password_hash`` may be given instead of hashing ``password`` again (tests).
    The creation is in the audit trail, by ``actor_id`` (the command line by default).
    """
    if role in ORGANISATION_ROLES and not operator_id:
        raise UserError(
            f"a {role} needs an organisation (--org)",
            code="role_needs_organisation",
            role=Word(f"role.{role}"),
        )
    if not name or not password:
        raise UserError("a user needs a name and a password", code="user_incomplete")
    user = User(
        UserId(name), name, role, OperatorId(operator_id) if operator_id else None
    )
    hashed = password_hash or hash_password(password)
    with write_session(engine) as session:
        users = SqlUsers(session)
        if users.get(user.id) is not None or users.by_username(name) is not None:
            raise UserError(
                f"user {name} already exists", code="user_exists", name=name
            )
        if user.operator_id is not None:
            users.add_operator(Operator(user.operator_id, user.operator_id))
            session.flush()
        users.add(user, hashed, now)
        SqlAudit(session).append(
            AuditEntry(
                at=now,
                actor_id=UserId(actor_id),
                actor_role=Role.SITE_ADMIN,
                action="user.created",
                subject_kind="user",
                subject_id=user.id,
                before=None,
                after={
                    "name": name,
                    "role": str(role),
                    "operator_id": user.operator_id or "",
                },
            )
        )
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """Return the user when ``password`` is theirs, else None."""
    found = SqlUsers(session).by_username(username)
    if found is None:
        # Verify against a dummy hash anyway so timing does not reveal unknown names.
        verify_password(_dummy_hash(), password)
        return None
    user, stored = found
    return user if verify_password(stored, password) else None


@cache
def _dummy_hash() -> str:
    return hash_password("skyberth-dummy-password")
