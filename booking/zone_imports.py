"""Importing official restricted zones as area closures, one transaction per file.

An imported zone becomes an area closure (``ClosedArea``) carrying its origin
(``ZoneOrigin``: the source and the zone's id there), so it is an exclusion for
bookings, for the live conformance check and on the map, like a drawn closure.
Re-importing the same source updates the closures it made instead of adding more:
a zone whose volume, window or reason changed is replaced under the same closure
id, an unchanged one is left alone. Zones the source no longer lists are left in
place (a partial file must not open airspace); delete them by hand.

Permanent zones get the window ``[PERMANENT_FROM, PERMANENT_UNTIL)``; a zone whose
window is already over is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from airspace.geozones import GeoZone, zone_volume
from airspace.site import Site, SiteId
from airspace.volume import TimeWindow, Volume
from booking.closure_services import bump_hit_bookings
from booking.errors import NotFound
from booking.model import (
    Actor,
    Booking,
    ClosedArea,
    Closure,
    ZoneOrigin,
    closure_snapshot,
)
from booking.permissions import require_closure_manager
from booking.ports import UnitOfWork
from booking.service_support import _audit

logger = logging.getLogger(__name__)

PERMANENT_FROM = datetime(2000, 1, 1, tzinfo=UTC)
PERMANENT_UNTIL = datetime(2100, 1, 1, tzinfo=UTC)
_EVERYTHING = TimeWindow(PERMANENT_FROM, PERMANENT_UNTIL)


@dataclass(frozen=True)
class ImportedZone:
    """One zone ready to store: its origin, volume in site metres, window, reason."""

    origin: ZoneOrigin
    volume: Volume
    window: TimeWindow
    reason: str


@dataclass(frozen=True)
class ZoneImportOutcome:
    """What ``import_zones`` did, zone by zone."""

    created: tuple[Closure, ...]
    updated: tuple[Closure, ...]
    unchanged: tuple[Closure, ...]
    expired: tuple[str, ...]
    """Ids of zones whose window was over: not imported."""
    bumped: tuple[Booking, ...]


def zones_for_site(
    zones: Sequence[GeoZone], site: Site, source: str
) -> list[ImportedZone]:
    """Return ``zones`` as volumes of ``site``, labelled with ``source``."""
    found: list[ImportedZone] = []
    for zone in zones:
        start = zone.valid_from or PERMANENT_FROM
        end = zone.valid_to or PERMANENT_UNTIL
        found.append(
            ImportedZone(
                ZoneOrigin(source, zone.identifier),
                zone_volume(zone, site),
                TimeWindow(start.astimezone(UTC), end.astimezone(UTC)),
                zone.describe(),
            )
        )
    return found


def _same(a: Closure, b: ImportedZone) -> bool:
    if not isinstance(a.target, ClosedArea):
        return False
    v = a.target.volume
    return (
        a.window == b.window
        and a.reason == b.reason
        and v.floor_amsl_m == b.volume.floor_amsl_m
        and v.ceiling_amsl_m == b.volume.ceiling_amsl_m
        # Stored as WKT: compare with a millimetre's tolerance, not bit for bit.
        and v.outline.equals_exact(b.volume.outline, 1e-3)
    )


def import_zones(
    uow: UnitOfWork,
    site_id: SiteId,
    zones: Sequence[ImportedZone],
    actor: Actor,
    now: datetime,
) -> ZoneImportOutcome:
    """Store ``zones`` as closures of ``site_id`` in one unit of work.

    Site admins and safety officers only. New zones bump the pending and approved
    bookings they hit, as any closure does; so do changed ones.
    """
    require_closure_manager(actor, "import official zones")
    created: list[Closure] = []
    updated: list[Closure] = []
    unchanged: list[Closure] = []
    expired: list[str] = []
    bumped: list[Booking] = []
    with uow:
        site = uow.sites.get(site_id)
        if site is None:
            raise NotFound("site", site_id)
        bookings = uow.bookings.for_update(site.id, _EVERYTHING)
        existing = {
            c.origin: c
            for c in uow.closures.overlapping(site.id, _EVERYTHING)
            if c.origin is not None
        }
        for zone in zones:
            if zone.window.end <= now:
                expired.append(zone.origin.zone_id)
                continue
            old = existing.get(zone.origin)
            if old is not None and _same(old, zone):
                unchanged.append(old)
                continue
            closure = Closure(
                old.id if old is not None else uow.closures.next_id(),
                site.id,
                ClosedArea(zone.volume),
                zone.window,
                zone.reason,
                actor.user_id,
                now,
                zone.origin,
            )
            if old is not None:
                uow.closures.remove(old.id)
            uow.closures.add(closure)
            _audit(
                uow,
                actor,
                now,
                "closure.updated" if old is not None else "closure.created",
                ("closure", str(closure.id)),
                closure_snapshot(old) if old is not None else None,
                closure_snapshot(closure),
            )
            (updated if old is not None else created).append(closure)
            hit, _active = bump_hit_bookings(uow, closure, site, bookings, actor, now)
            bumped += hit
            bookings = [b for b in bookings if b.id not in {h.id for h in hit}] + hit
        uow.commit()
    logger.info(
        "zones imported into site %s by %s: %d new, %d updated, %d unchanged, "
        "%d expired",
        site_id,
        actor,
        len(created),
        len(updated),
        len(unchanged),
        len(expired),
    )
    return ZoneImportOutcome(
        tuple(created), tuple(updated), tuple(unchanged), tuple(expired), tuple(bumped)
    )
