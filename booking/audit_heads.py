"""The audit key and the heads exported outside the database.

An ``AuditSeal`` holds what keeps the audit chain honest against someone who can
write the database: the HMAC key (``booking.audit_chain``; never stored in the
database) and the heads file, an append-only text file in the data directory. After
every transaction that appended audit records, ``SqlAudit`` appends one line with
the newest record's id and hash::

    <record id> <hash> <UTC time of export>

``skyberth audit verify`` then requires every exported head to be in the chain with
the same hash, so deleting the newest rows, or re-hashing the whole table (even with
the key), is a break. The file is only opened with ``O_APPEND``; on a real site make
it append-only for everyone (``chattr +a``, see docs/audit.md) or ship its lines
off the machine.

Which seal an engine's writers use is registered once per engine
(``seal_engine``) by the composition root, so every writer on that engine (booking
unit of work, incident repository, user commands) keys its records without each
constructor having to carry the seal; like ``web.db``'s per-engine writer locks,
the registry is weak and dies with the engine.
"""

from __future__ import annotations

import logging
import os
import weakref
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

HEADS_FILE_MODE = 0o600


class AuditHeadsError(ValueError):
    """The heads file has a line that is not ``<id> <hash> <time>``."""


@dataclass(frozen=True)
class AuditSeal:
    """The audit key (bytes, not in the database) and where heads are exported
    (``None``: nowhere, records are still keyed)."""

    key: bytes
    heads_path: Path | None = None

    def __repr__(self) -> str:
        # Never print the key.
        return f"AuditSeal(key=<{len(self.key)} bytes>, heads_path={self.heads_path})"


_seals: weakref.WeakKeyDictionary[Engine, AuditSeal] = weakref.WeakKeyDictionary()


def seal_engine(engine: Engine, seal: AuditSeal) -> None:
    """Key every audit record appended through ``engine`` with ``seal``."""
    _seals[engine] = seal


def seal_of(engine: Engine) -> AuditSeal | None:
    """Return the seal registered for ``engine``, or None (unkeyed records)."""
    return _seals.get(engine)


def export_head(path: Path, record_id: int, digest: str, at: datetime) -> None:
    """Append the head ``record_id``/``digest`` to ``path`` and flush it to disk.

    One ``write`` of a short line on an ``O_APPEND`` descriptor, so lines from
    several processes never interleave.
    """
    line = f"{record_id} {digest} {at.isoformat()}\n".encode("ascii")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, HEADS_FILE_MODE)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_heads(path: Path) -> dict[int, str]:
    """Return the exported heads in ``path`` (record id -> hash); empty when the
    file does not exist. ``AuditHeadsError`` names a malformed line, or one id
    exported with two hashes."""
    if not path.exists():
        return {}
    heads: dict[int, str] = {}
    with path.open(encoding="ascii", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            parts = line.split()
            if len(parts) != 3 or not parts[0].isdigit() or len(parts[1]) != 64:
                raise AuditHeadsError(f"{path} line {number}: not '<id> <hash> <time>'")
            record_id, digest = int(parts[0]), parts[1]
            if heads.setdefault(record_id, digest) != digest:
                raise AuditHeadsError(
                    f"{path} line {number}: record {record_id} was exported with "
                    "another hash before (the chain was forked or rewritten)"
                )
    return heads
