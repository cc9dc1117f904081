"""The audit trail for site staff: filtered listing and chain verification.

``GET /audit`` lists records newest first with their chain hashes; ``GET
/audit/verify`` walks the whole hash chain (as ``skyberth audit verify`` does) and
reports the first broken link. Site admins and safety officers only (403 for
others).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel
from sqlalchemy.engine import Engine

from booking.audit_heads import AuditHeadsError, read_heads, seal_of
from booking.audit_trail import AuditFilter, AuditRecord, list_audit, verify_trail
from booking.model import Actor, Role
from web.deps import SessionDep, require_role
from web.input_limits import Offset

router = APIRouter(tags=["audit"])

MAX_PAGE = 1000
StaffDep = Annotated[Actor, Depends(require_role(Role.SITE_ADMIN, Role.SAFETY_OFFICER))]


class AuditRecordPublic(BaseModel):
    """One audit record with its chain hashes."""

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
    def of(cls, r: AuditRecord) -> AuditRecordPublic:
        """Return the public view of ``r``."""
        return cls(**r.__dict__)


def _subject(subject: str | None) -> tuple[str | None, str | None]:
    if subject is None:
        return None, None
    kind, _, ident = subject.partition(":")
    return kind, ident or None


@router.get("/audit")
def audit_index(
    _staff: StaffDep,
    session: SessionDep,
    actor: str | None = None,
    action: Annotated[
        str | None,
        Query(description="An action (booking.approved), or a prefix ending in '.'."),
    ] = None,
    subject: Annotated[
        str | None,
        Query(
            description="KIND or KIND:ID, e.g. incident or incident:7.",
            pattern=r"^[A-Za-z_]+(:[^:]{1,128})?$",
        ),
    ] = None,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 200,
    offset: Offset = 0,
) -> list[AuditRecordPublic]:
    """Return audit records, newest first, filtered by who, what, which and when."""
    kind, ident = _subject(subject)
    f = AuditFilter(actor, action, kind, ident, start, end)
    return [
        AuditRecordPublic.of(r)
        for r in list_audit(session, f, limit=limit, offset=offset)
    ]


@router.get("/audit/verify")
def audit_verify(_staff: StaffDep, request: Request) -> dict[str, Any]:
    """Walk the hash chain and the exported heads (``skyberth audit verify``);
    ``intact`` false names the first broken link."""
    engine = cast(Engine, request.app.state.engine)
    seal = seal_of(engine)
    try:
        heads = read_heads(seal.heads_path) if seal and seal.heads_path else {}
    except (AuditHeadsError, OSError) as exc:
        return {"intact": False, "heads_error": str(exc)}
    report = verify_trail(engine, seal.key if seal else None, heads)
    first = report.first_break
    return {
        "intact": report.intact,
        "heads_checked": len(heads),
        "records": report.records,
        "head_id": report.head_id,
        "head_hash": report.head_hash,
        "breaks": report.break_count,
        "first_break": None
        if first is None
        else {
            "record_id": first.record_id,
            "column": first.column,
            "expected": first.expected,
            "found": first.found,
            "message": str(first),
        },
    }
