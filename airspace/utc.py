"""UTC instants: the one rule for datetimes read back from a database.

Every time in SkyBerth is aware UTC. SQLite hands stored datetimes back naive (it
keeps no zone), PostgreSQL's ``timestamptz`` hands them back aware; both were
written as UTC, so a naive one *is* UTC. Pure; the lowest package holds it so
every other one can use it.
"""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(t: datetime) -> datetime:
    """``t`` as aware UTC; a naive ``t`` is taken to be UTC already."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def as_utc_or_none(t: datetime | None) -> datetime | None:
    """:func:`as_utc`, passing ``None`` through (an optional column)."""
    return None if t is None else as_utc(t)
