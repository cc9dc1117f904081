"""The audit trail's hash chain: canonical form, hashing, verification. Pure.

Every audit record stores ``prev_hash``, the ``hash`` of the record appended just
before it (``GENESIS_HASH`` for the first), its own ``hash`` and its
``chain_version``::

    version None (unkeyed, before migration 0005):
        hash = sha256_hex(prev_hash + canonical_content(record))
    version 2 (KEYED):
        hash = hmac_sha256_hex(audit_key, prev_hash + canonical_content(record))

The audit key is not in the database (``web.settings.Settings.audit_seal``), so
someone who can write the table but does not hold the key cannot forge a keyed
record. Records from before the key keep their unkeyed hashes and still verify;
once a keyed record exists, an unkeyed record after it is a break (a downgrade).

``canonical_content`` is compact JSON with sorted keys of the record's stored
values (``CHAINED_FIELDS``; the time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``), so the
hash is computed from exactly what a reader gets back from the database.

What the chain shows. Editing a record's content breaks its own hash; deleting a
record breaks the next record's ``prev_hash``; rewriting a record's hash to hide an
edit breaks the next record's ``prev_hash``. Removing the newest records leaves a
shorter chain that is still whole, and whoever holds the key can re-hash the whole
table: both are caught by the heads exported outside the database after every
append (``booking.audit_heads``), which ``verify_chain`` checks when given. The
row id is not hashed: the database assigns it after the hash is computed, and the
order is carried by ``prev_hash``.

Appending is the store's job (``booking.audit_log.SqlAudit``): it must read the last
hash and insert under one lock, or two writers would both chain onto the same
record (a fork; the store's unique index on ``prev_hash`` refuses the second).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

GENESIS_HASH: Final = "0" * 64
"""The ``prev_hash`` of the first record."""

CHAINED_FIELDS: Final = (
    "at",
    "actor_id",
    "actor_role",
    "action",
    "subject_kind",
    "subject_id",
    "before_json",
    "after_json",
    "note",
)
"""The stored columns a record's hash covers (all of its content)."""

KEYED: Final = 2
"""``chain_version`` of a record hashed with HMAC-SHA256 under the audit key."""

MAX_REPORTED_BREAKS: Final = 1000
"""``verify_chain`` keeps at most this many breaks (it still counts them all)."""


def canonical_time(at: datetime) -> str:
    """Return ``at`` in UTC as ``2026-11-25T02:00:00.000000Z``.

    A naive time is taken as UTC: the store keeps UTC and SQLite returns it naive.
    """
    utc = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_content(values: Mapping[str, Any]) -> str:
    """Return the canonical JSON of a record's ``CHAINED_FIELDS``.

    ``values`` maps column names to stored values (extra keys are ignored);
    ``KeyError`` names a missing one, ``ValueError`` a value JSON cannot hold.
    """
    content: dict[str, Any] = {}
    for name in CHAINED_FIELDS:
        value = values[name]
        if name == "at":
            if not isinstance(value, datetime):
                raise ValueError(f"audit record time must be a datetime, not {value!r}")
            value = canonical_time(value)
        content[name] = value
    return json.dumps(
        content,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def link_hash(
    prev_hash: str, values: Mapping[str, Any], key: bytes | None = None
) -> str:
    """Return the hex digest of ``prev_hash`` followed by the record's content:
    HMAC-SHA256 under ``key`` (a ``KEYED`` record), plain SHA-256 without one."""
    data = (prev_hash + canonical_content(values)).encode("utf-8")
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def chained(
    prev_hash: str, values: Mapping[str, Any], key: bytes | None = None
) -> dict[str, Any]:
    """Return ``values`` with ``prev_hash``, ``hash`` and ``chain_version`` added,
    ready to insert (keyed when ``key`` is given)."""
    return {
        **values,
        "prev_hash": prev_hash,
        "hash": link_hash(prev_hash, values, key),
        "chain_version": KEYED if key is not None else None,
    }


@dataclass(frozen=True)
class ChainBreak:
    """One place where the stored chain disagrees with the recomputed one.

    ``column`` is ``"prev_hash"`` when the record does not follow the one stored
    before it (a record was removed, or its predecessor's hash rewritten),
    ``"hash"`` when the record's content no longer matches its own hash (edited,
    or keyed under another key), ``"chain_version"`` when an unkeyed record follows
    a keyed one, and ``"head"`` when a head exported outside the database names a
    record that is missing (``found`` None) or has another hash now.
    """

    record_id: int
    column: Literal["prev_hash", "hash", "chain_version", "head"]
    expected: str
    found: str | None

    def __str__(self) -> str:
        why = _WHY[self.column]
        return (
            f"audit record {self.record_id}: {why}; {self.column} expected "
            f"{self.expected}, found {self.found or '(none)'}"
        )


_WHY: Final = {
    "prev_hash": "does not follow the record before it (one was removed or rewritten)",
    "hash": "content does not match its hash (the record was edited, or the "
    "audit key is not the one it was written with)",
    "chain_version": "is unkeyed after keyed records (written without the key)",
    "head": "differs from the head exported when it was appended (the newest "
    "records were removed or the chain was re-hashed)",
}


@dataclass
class ChainReport:
    """What ``verify_chain`` found: counts, the head, and the breaks in order."""

    records: int = 0
    head_hash: str = GENESIS_HASH
    """The stored hash of the newest record (``GENESIS_HASH`` for an empty chain)."""
    head_id: int | None = None
    breaks: list[ChainBreak] = field(default_factory=list)
    break_count: int = 0

    @property
    def intact(self) -> bool:
        """True when no link is broken."""
        return self.break_count == 0

    @property
    def first_break(self) -> ChainBreak | None:
        """The oldest break, or None."""
        return self.breaks[0] if self.breaks else None


def verify_chain(
    records: Iterable[Mapping[str, Any]],
    key: bytes | None = None,
    heads: Mapping[int, str] | None = None,
) -> ChainReport:
    """Walk ``records`` (oldest first, each with ``id``, ``prev_hash``, ``hash``,
    ``chain_version`` and the ``CHAINED_FIELDS``) and return every broken link.

    ``key`` checks the ``KEYED`` records (without it each one is a break);
    ``heads`` maps record ids to the hashes exported when they were the head: each
    must still be there with that hash. After a break the walk goes on from the
    record's *stored* hash, so one edited or deleted record shows as exactly one
    break, not as every record after it.
    """
    report = ChainReport()
    expected_prev = GENESIS_HASH
    keyed_seen = False
    pending = dict(heads or {})
    for record in records:
        record_id = int(record["id"])
        stored_prev = record["prev_hash"]
        stored_hash = record["hash"]
        version = record.get("chain_version")
        if stored_prev != expected_prev:
            _add(report, ChainBreak(record_id, "prev_hash", expected_prev, stored_prev))
        if version == KEYED:
            keyed_seen = True
        elif keyed_seen:
            _add(report, ChainBreak(record_id, "chain_version", str(KEYED), None))
        record_key = (key or b"") if version == KEYED else None
        recomputed = link_hash(stored_prev or "", record, record_key)
        if stored_hash != recomputed or (version == KEYED and key is None):
            _add(report, ChainBreak(record_id, "hash", recomputed, stored_hash))
        exported = pending.pop(record_id, None)
        if exported is not None and exported != stored_hash:
            _add(report, ChainBreak(record_id, "head", exported, stored_hash))
        expected_prev = stored_hash or recomputed
        report.records += 1
        report.head_hash = stored_hash or ""
        report.head_id = record_id
    for record_id, exported in sorted(pending.items()):
        _add(report, ChainBreak(record_id, "head", exported, None))
    return report


def _add(report: ChainReport, broken: ChainBreak) -> None:
    report.break_count += 1
    if len(report.breaks) < MAX_REPORTED_BREAKS:
        report.breaks.append(broken)


@dataclass(frozen=True)
class AuditLine:
    """One audit record as the report lists it."""

    at: datetime
    actor_id: str
    actor_role: str
    action: str
    subject: str
    note: str
    hash: str | None
