"""Graceful overload: when a link's reader is behind, keep what is fresh and useful.

A gateway that cannot keep up must not work through seconds-old positions in order
while the breach it should report waits behind them in the kernel. Once a UDP
reader finds that its datagrams waited ``SHED_AFTER_S`` or more (the kernel's own
receive stamp), it drains the socket and hands the batch to :func:`shed`, which
keeps, per sender and system id:

- the newest ``GLOBAL_POSITION_INT`` and the newest ``HEARTBEAT`` of the batch
  (where it is now, and whether it is armed: what conformance needs);
- each other routine telemetry message (status, GPS, attitude, HUD, battery) at
  most once per ``ROUTINE_EVERY_S`` (the live picture, battery alerts);
- everything else, always: mission, fence, parameter and command traffic, MAVLink
  1, signed frames and datagrams holding several frames are rare and matter.

Nothing here reads a socket or a clock: the reader passes the batch and ``now_s``.
The datagrams shed are counted, never silent, and still recorded: the reader hands
them to ``on_shed``, and the gateway frames, checks and files them in their
vehicles' tlogs without unpacking them. What overload costs is written in the
README ("Overload").
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

SHED_AFTER_S = 0.25
"""A wakeup whose first datagram waited this long in the kernel starts shedding."""
DRAIN_MAX = 16_384
"""At most this many datagrams drained into one batch (~40 ms of reads): a deeper
backlog is shed over several wakeups, so the loop turns in between."""
ROUTINE_EVERY_S = 5.0
"""While shedding, a routine message kind reaches the gateway this often per vehicle."""

Datagram: TypeAlias = tuple[bytes, Any, float]
"""(bytes, sender address, kernel arrival time in epoch seconds)."""

_STX_V2 = 0xFD
_HEADER_V2 = 10
_CHECKSUM = 2
_SIGNED = 0x01
HEARTBEAT = 0
GLOBAL_POSITION_INT = 33
NEWEST_ONLY = frozenset({HEARTBEAT, GLOBAL_POSITION_INT})
ROUTINE = frozenset({1, 24, 30, 74, 147})
"""SYS_STATUS, GPS_RAW_INT, ATTITUDE, VFR_HUD, BATTERY_STATUS."""


def routine_key(data: bytes) -> tuple[int, int] | None:
    """(sysid, msgid) of a datagram that holds exactly one unsigned MAVLink 2 frame
    of a hot message id; None for anything else (kept whole, never shed)."""
    if len(data) < _HEADER_V2 + _CHECKSUM or data[0] != _STX_V2:
        return None
    if data[2] & _SIGNED or len(data) != _HEADER_V2 + data[1] + _CHECKSUM:
        return None
    msgid = data[7] | data[8] << 8 | data[9] << 16
    if msgid in NEWEST_ONLY or msgid in ROUTINE:
        return data[5], msgid
    return None


@dataclass
class Shedder:
    """Per link: when each routine kind of each vehicle last went through."""

    routine_every_s: float = ROUTINE_EVERY_S
    _routine_s: dict[Hashable, float] = field(default_factory=dict)
    shed_datagrams: int = 0
    batches: int = 0

    def shed(
        self, batch: Sequence[Datagram], now_s: float
    ) -> tuple[list[Datagram], list[Datagram]]:
        """``batch`` (oldest first) split into the datagrams worth decoding and
        those shed (each single frames of routine telemetry), both in order."""
        self.batches += 1
        newest: dict[tuple[Any, int, int], int] = {}
        keys: list[tuple[Any, int, int] | None] = []
        for index, (data, source, _) in enumerate(batch):
            frame = routine_key(data)
            if frame is None:
                keys.append(None)
                continue
            key = (source, frame[0], frame[1])
            keys.append(key)
            newest[key] = index
        kept: list[Datagram] = []
        shed: list[Datagram] = []
        routine_s = self._routine_s
        for index, item in enumerate(batch):
            found = keys[index]
            if found is None:
                kept.append(item)
                continue
            key = found
            if newest[key] != index:
                shed.append(item)
                continue
            if key[2] in ROUTINE:
                if now_s - routine_s.get(key, -1e18) < self.routine_every_s:
                    shed.append(item)
                    continue
                routine_s[key] = now_s
            kept.append(item)
        self.shed_datagrams += len(shed)
        if len(routine_s) > 4 * len(newest) + 65_536:
            # Senders come and go; forget the ones not in this batch.
            self._routine_s = {k: routine_s[k] for k in newest if k in routine_s}
        return kept, shed
