"""The simulator's tlogs: a replay read whole, a recording written afresh.

The ``.tlog`` format has one home, ``telemetry.mavlink.tlog``, shared with the
gateway's recorder so both sides agree on every byte (and both resynchronise past
bad bytes). It is a file format, not SkyBerth's server, and imports nothing else
of ``telemetry``: this module is the one place the simulator imports it (allowed
by name in pyproject's import contracts). Here, file trouble becomes the
simulator's ``TlogError``.
"""

from __future__ import annotations

import os

from simulator.errors import TlogError
from telemetry.mavlink.tlog import Record, TlogReader, TlogWriter, frame_length

__all__ = [
    "Record",
    "TlogReader",
    "TlogWriter",
    "frame_length",
    "open_recording",
    "read_tlog",
]


def read_tlog(path: str | os.PathLike[str]) -> list[Record]:
    """Return every record of the tlog at ``path``, skipping bytes that are none.

    Raises ``TlogError`` when the file cannot be read or holds no record at all.
    """
    try:
        records = list(TlogReader(path))
    except OSError as exc:
        raise TlogError(f"{path}: cannot read: {exc}") from exc
    if not records:
        raise TlogError(f"{path}: no MAVLink records found (is it a .tlog?)")
    return records


def open_recording(path: str | os.PathLike[str]) -> TlogWriter:
    """Create (or empty) the tlog at ``path`` for ``--record``; ``TlogError`` if not."""
    try:
        return TlogWriter(path, append=False)
    except OSError as exc:
        raise TlogError(f"{path}: cannot write a tlog: {exc}") from exc
