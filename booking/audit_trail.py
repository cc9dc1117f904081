"""Reading the audit trail: filtered listings, the chain walk, and report lines.

Appending is ``booking.audit_log.SqlAudit``'s job; this module only reads. The chain
is walked in id order in batches (keyset pagination), so verifying a long trail holds
neither a transaction open for long nor the whole table in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from airspace.utc import as_utc
from booking.audit_chain import CHAINED_FIELDS, AuditLine, ChainReport, verify_chain
from booking.tables import AuditRow

# Importing AuditRow registers the table (and its chain columns) on the metadata.
_AUDIT = SQLModel.metadata.tables[str(AuditRow.__tablename__)]
VERIFY_BATCH_ROWS = 2000


@dataclass(frozen=True)
class AuditFilter:
    """Optional filters; ``action`` ending in ``.`` matches every action it
    prefixes (``incident.``); ``start``/``end`` bound ``at`` to ``[start, end)``."""

    actor_id: str | None = None
    action: str | None = None
    subject_kind: str | None = None
    subject_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class AuditRecord:
    """One stored audit record with its chain hashes."""

    id: int
    at: datetime
    actor_id: str
    actor_role: str
    action: str
    subject_kind: str
    subject_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str
    prev_hash: str | None
    hash: str | None

    @classmethod
    def of(cls, row: sa.RowMapping) -> AuditRecord:
        """Return the record stored in ``row``."""
        return cls(
            id=row["id"],
            at=as_utc(row["at"]),
            actor_id=row["actor_id"],
            actor_role=row["actor_role"],
            action=row["action"],
            subject_kind=row["subject_kind"],
            subject_id=row["subject_id"],
            before=json.loads(row["before_json"]) if row["before_json"] else None,
            after=json.loads(row["after_json"]) if row["after_json"] else None,
            note=row["note"],
            prev_hash=row["prev_hash"],
            hash=row["hash"],
        )


def list_audit(
    session: Session, f: AuditFilter, *, limit: int = 200, offset: int = 0
) -> list[AuditRecord]:
    """Return matching records, newest first."""
    query = sa.select(_AUDIT)
    if f.actor_id is not None:
        query = query.where(_AUDIT.c.actor_id == f.actor_id)
    if f.action is not None:
        if f.action.endswith("."):
            query = query.where(_AUDIT.c.action.startswith(f.action, autoescape=True))
        else:
            query = query.where(_AUDIT.c.action == f.action)
    if f.subject_kind is not None:
        query = query.where(_AUDIT.c.subject_kind == f.subject_kind)
    if f.subject_id is not None:
        query = query.where(_AUDIT.c.subject_id == f.subject_id)
    # SQLite stores UTC without an offset: compare in UTC.
    if f.start is not None:
        query = query.where(_AUDIT.c.at >= f.start.astimezone(UTC))
    if f.end is not None:
        query = query.where(_AUDIT.c.at < f.end.astimezone(UTC))
    query = query.order_by(_AUDIT.c.id.desc()).limit(limit).offset(offset)
    return [AuditRecord.of(r) for r in session.connection().execute(query).mappings()]


def iter_chain(
    engine: Engine, batch_rows: int = VERIFY_BATCH_ROWS
) -> Iterator[dict[str, Any]]:
    """Yield every audit record (id, chained fields, hashes) in id order."""
    columns = [_AUDIT.c.id, *(_AUDIT.c[n] for n in CHAINED_FIELDS)]
    columns += [_AUDIT.c.prev_hash, _AUDIT.c.hash, _AUDIT.c.chain_version]
    last_id: int | None = None
    while True:
        query = sa.select(*columns).order_by(_AUDIT.c.id).limit(batch_rows)
        if last_id is not None:
            query = query.where(_AUDIT.c.id > last_id)
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        if not rows:
            return
        yield from rows
        last_id = rows[-1]["id"]


def verify_trail(
    engine: Engine,
    key: bytes | None = None,
    heads: Mapping[int, str] | None = None,
) -> ChainReport:
    """Walk the whole audit chain and return what ``verify_chain`` found, checking
    keyed records with ``key`` and the exported ``heads`` (``booking.audit_heads``)."""
    return verify_chain(iter_chain(engine), key, heads)


def audit_lines(
    session: Session, subjects: Sequence[tuple[str, str]]
) -> list[AuditLine]:
    """Return the audit records about any of ``subjects`` (kind, id), oldest first."""
    if not subjects:
        return []
    wanted = sa.or_(
        *(
            sa.and_(_AUDIT.c.subject_kind == kind, _AUDIT.c.subject_id == ident)
            for kind, ident in subjects
        )
    )
    query = sa.select(_AUDIT).where(wanted).order_by(_AUDIT.c.id)
    return [
        AuditLine(
            at=as_utc(r["at"]),
            actor_id=r["actor_id"],
            actor_role=r["actor_role"],
            action=r["action"],
            subject=f"{r['subject_kind']} {r['subject_id']}",
            note=r["note"],
            hash=r["hash"],
        )
        for r in session.connection().execute(query).mappings()
    ]
