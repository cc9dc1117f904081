"""The digest of a batch of frozen incident evidence, as its audit record holds it.

When evidence is stored, an ``incident.evidence`` audit record keeps the SHA-256 of
exactly the rows written (positions, then raw MAVLink frames), so later edits of
the evidence tables show against the keyed audit chain. Recompute it from the rows
with ``evidence_digest`` to check.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from telemetry.incidents.model import EvidenceFrame

_ROW_LINE = json.JSONEncoder(separators=(",", ":"), allow_nan=True).encode
"""``json.dumps`` with these options, without building an encoder per row: the
digest of an incident's evidence (thousands of rows) runs on the recorder
thread, which shares the interpreter with the live gateway."""


def evidence_digest(
    sample_rows: Iterable[Sequence[Any]], frames: Iterable[EvidenceFrame]
) -> str:
    """Return the hex SHA-256 over ``sample_rows`` (stored column values, in
    insertion order) and ``frames`` (``(t_s, raw)``), one canonical line each."""
    digest = hashlib.sha256()
    for values in sample_rows:
        digest.update(b"s " + _ROW_LINE(list(values)).encode() + b"\n")
    for t_s, raw in frames:
        digest.update(f"f {t_s!r} ".encode() + bytes(raw).hex().encode() + b"\n")
    return digest.hexdigest()
