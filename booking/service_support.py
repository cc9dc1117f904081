"""The small steps every booking use case shares: ``now``, the site, the audit entry.

``booking.services`` (the booking lifecycle), ``booking.closure_services``,
``booking.drone_services`` and ``booking.zone_imports`` call these inside their own
unit of work. Private to the booking package: the leading underscores say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from airspace.site import Site, SiteId
from booking.errors import NotFound
from booking.model import Actor, AuditEntry, as_utc
from booking.ports import UnitOfWork


def _now(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (UTC)")
    return as_utc(now, "now")


def _site(uow: UnitOfWork, site_id: SiteId) -> Site:
    site = uow.sites.get(site_id)
    if site is None:
        raise NotFound("site", site_id)
    return site


def _audit(
    uow: UnitOfWork,
    actor: Actor,
    now: datetime,
    action: str,
    subject: tuple[str, str],
    before: Mapping[str, str] | None,
    after: Mapping[str, str] | None,
    note: str = "",
) -> None:
    kind, ident = subject
    uow.audit.append(
        AuditEntry(
            now, actor.user_id, actor.role, action, kind, ident, before, after, note
        )
    )
