"""The evidence digest keeps its line format: stored audit records hold digests
made by earlier versions, so the bytes hashed must never change."""

from __future__ import annotations

import hashlib
import json
import math

from telemetry.incidents.evidence_digest import evidence_digest


def test_the_digest_hashes_compact_json_lines_then_hex_frames() -> None:
    rows = [
        (7, 1795000000.125, 22.3021, 114.1179, 40.5, None, 3, math.nan),
        (7, 1795000000.225, -0.0, math.inf, -math.inf, 1e-7, 0, 2.5),
    ]
    frames = [(1795000000.13, b"\xfd\x1c\x00"), (1795000000.2, b"\x00\xff")]
    expected = hashlib.sha256()
    for row in rows:
        line = json.dumps(list(row), separators=(",", ":"), allow_nan=True)
        expected.update(f"s {line}\n".encode())
    expected.update(b"f 1795000000.13 fd1c00\n")
    expected.update(b"f 1795000000.2 00ff\n")
    assert evidence_digest(rows, frames) == expected.hexdigest()
    # The line for the first row, spelt out: no spaces, NaN as JSON's extension.
    assert json.dumps(list(rows[0]), separators=(",", ":"), allow_nan=True) == (
        "[7,1795000000.125,22.3021,114.1179,40.5,null,3,NaN]"
    )
