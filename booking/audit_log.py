"""Appending to the audit log: the hash-chained, keyed write side.

``SqlAudit`` appends records on the connection of the caller's transaction, chained
onto the newest record (``booking.audit_chain``). When the engine has an
``AuditSeal`` (``booking.audit_heads.seal_engine``, done by the composition root),
records are keyed with its HMAC key, and once the transaction commits the head it
left (newest id and hash) is appended to the seal's heads file. Reading and
verifying is ``booking.audit_trail``'s job.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from airspace.utc import as_utc
from booking.audit_chain import GENESIS_HASH, chained
from booking.audit_heads import AuditSeal, export_head, seal_of
from booking.model import AuditEntry
from booking.tables import AuditRow

logger = logging.getLogger(__name__)

_AUDIT = SQLModel.metadata.tables[str(AuditRow.__tablename__)]
_INSERT_AUDIT = sa.insert(_AUDIT)
SYSTEM_ACTOR = "skyberth"
"""``actor_id`` of records the system writes itself (an incident opened)."""
SYSTEM_ROLE = "system"
_HEAD_KEY = "skyberth.audit_head"
"""``Session.info`` key: the head this transaction appended, exported on commit."""
_LISTENING_KEY = "skyberth.audit_head_listener"
"""``Session.info`` key: the session already exports heads on commit."""


class SqlAudit:
    """The append-only audit log, hash-chained (``booking.audit_chain``).

    ``seal`` defaults to the one registered for the session's engine; without one
    the records are unkeyed and no head is exported.
    """

    _CHAIN_LOCK = sa.text(
        "SELECT pg_advisory_xact_lock(hashtextextended('skyberth.audit_chain', 0))"
    )
    _LAST_HASH = sa.select(_AUDIT.c.hash).order_by(_AUDIT.c.id.desc()).limit(1)

    def __init__(self, session: Session, seal: AuditSeal | None = None) -> None:
        self._session = session
        self._c = session.connection()
        self._seal = seal if seal is not None else seal_of(self._c.engine)

    def append(self, entry: AuditEntry) -> None:
        """Append ``entry`` (a user's action) to the chain."""
        self._append(
            {
                # UTC, as SQLite gives it back: the hash covers the value read back.
                "at": as_utc(entry.at),
                "actor_id": entry.actor_id,
                "actor_role": str(entry.actor_role),
                "action": entry.action,
                "subject_kind": entry.subject_kind,
                "subject_id": entry.subject_id,
                "before_json": json.dumps(entry.before) if entry.before else None,
                "after_json": json.dumps(entry.after) if entry.after else None,
                "note": entry.note,
            }
        )

    def append_system(
        self,
        at: datetime,
        action: str,
        subject_kind: str,
        subject_id: str,
        after: Mapping[str, str | int],
        note: str = "",
    ) -> None:
        """Append a record of something the system did itself (``SYSTEM_ACTOR``)."""
        self._append(
            {
                "at": as_utc(at),
                "actor_id": SYSTEM_ACTOR,
                "actor_role": SYSTEM_ROLE,
                "action": action,
                "subject_kind": subject_kind,
                "subject_id": subject_id,
                "before_json": None,
                "after_json": json.dumps(dict(after), sort_keys=True),
                "note": note,
            }
        )

    def _append(self, values: dict[str, Any]) -> None:
        # Read the last hash and insert under one lock held to commit, or two
        # writers would chain onto the same record: BEGIN IMMEDIATE already
        # serialises SQLite writers; PostgreSQL takes the chain's advisory lock.
        if self._c.dialect.name == "postgresql":
            self._c.execute(self._CHAIN_LOCK)
        prev_hash = self._c.execute(self._LAST_HASH).scalar_one_or_none()
        key = self._seal.key if self._seal is not None else None
        row = chained(prev_hash or GENESIS_HASH, values, key)
        result = self._c.execute(_INSERT_AUDIT, row)
        if self._seal is None or self._seal.heads_path is None:
            return
        (record_id,) = result.inserted_primary_key or (None,)
        if record_id is None:
            raise RuntimeError("the database assigned no audit record id")
        info = self._session.info
        if _LISTENING_KEY not in info:
            info[_LISTENING_KEY] = True
            _export_on_commit(self._session, self._seal)
        info[_HEAD_KEY] = (int(record_id), row["hash"])


def _export_on_commit(session: Session, seal: AuditSeal) -> None:
    """Export the transaction's head once it commits; forget it on rollback."""

    def committed(s: Session) -> None:
        head = s.info.pop(_HEAD_KEY, None)
        if head is None or seal.heads_path is None:
            return
        try:
            export_head(seal.heads_path, head[0], head[1], datetime.now(UTC))
        except OSError:
            # The records are committed; a missing head makes `audit verify`
            # stricter, not wrong: it shows up there, and here in the log.
            logger.exception("could not export audit head %d", head[0])

    def rolled_back(s: Session, _transaction: object) -> None:
        s.info.pop(_HEAD_KEY, None)

    sa.event.listen(session, "after_commit", committed)
    sa.event.listen(session, "after_soft_rollback", rolled_back)
