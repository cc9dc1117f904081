"""Operators and users (with password hashes) on SQL.

Not part of the booking unit of work: the CLI, the auth path and the live stream
use them on their own sessions and connections.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from booking.model import Operator, User
from booking.tables import OperatorRow, UserRow, user_from_row

_USERS = SQLModel.metadata.tables["users"]
_USER_BY_ID = sa.select(_USERS).where(_USERS.c.id == sa.bindparam("id"))


def user_by_id(connection: sa.Connection, user_id: str) -> User | None:
    """Return the user with id ``user_id``, or None.

    One Core query on a plain connection: authentication runs it on every request.
    """
    row = connection.execute(_USER_BY_ID, {"id": user_id}).first()
    return user_from_row(row) if row else None


def user_and_language_by_id(
    connection: sa.Connection, user_id: str
) -> tuple[User, str | None] | None:
    """Return the user with id ``user_id`` and their stored page language, or None.

    The same one query as ``user_by_id``: authentication keeps the language for
    the request's error messages at no extra cost.
    """
    row = connection.execute(_USER_BY_ID, {"id": user_id}).first()
    return (user_from_row(row), row.language) if row else None


class SqlUsers:
    """Operators and users (with password hashes) in the database."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add_operator(self, operator: Operator) -> None:
        if self._s.get(OperatorRow, operator.id) is None:
            self._s.add(OperatorRow(id=operator.id, name=operator.name))

    def add(self, user: User, password_hash: str, now: datetime) -> None:
        self._s.add(
            UserRow(
                id=user.id,
                username=user.name,
                password_hash=password_hash,
                role=str(user.role),
                operator_id=user.operator_id,
                created_at=now,
            )
        )

    def get(self, user_id: str) -> User | None:
        return user_by_id(self._s.connection(), user_id)

    def all(self) -> list[User]:
        """Every user, by name."""
        rows = self._s.exec(select(UserRow).order_by(UserRow.username)).all()
        return [user_from_row(row) for row in rows]

    def save(self, user: User, password_hash: str | None = None) -> None:
        """Store ``user``'s role, organisation, status and token version (and a
        new password hash when given) over its row, which must exist."""
        row = self._s.get(UserRow, user.id)
        if row is None:
            raise LookupError(f"user {user.id} does not exist")
        row.role = str(user.role)
        row.operator_id = user.operator_id
        row.disabled = user.disabled
        row.token_version = user.token_version
        if password_hash is not None:
            row.password_hash = password_hash
        self._s.add(row)

    def by_username(self, username: str) -> tuple[User, str] | None:
        """Return the user and their password hash, or None."""
        row = self._s.exec(select(UserRow).where(UserRow.username == username)).first()
        return (user_from_row(row), row.password_hash) if row else None

    def language_of(self, user_id: str) -> str | None:
        """Return the page language the user chose (a BCP 47 tag), or None."""
        row = self._s.get(UserRow, user_id)
        return row.language if row else None

    def set_language(self, user_id: str, language: str | None) -> None:
        """Store the user's page language (None: follow the browser again)."""
        row = self._s.get(UserRow, user_id)
        if row is None:
            raise LookupError(f"user {user_id} does not exist")
        row.language = language
        self._s.add(row)
