"""Graceful overload: when a link's reader is behind, keep what is fresh and useful.

A gateway that cannot keep up must not work through seconds-old positions in order
while the breach it should report waits behind them in the kernel. Once a UDP
reader finds that its datagrams waited ``SHED_AFTER_S`` or more (the kernel's own
receive stamp), it drains the socket into a :class:`Shedder` and decodes from it,
which keeps waiting, per sender and system id:

- the newest ``GLOBAL_POSITION_INT`` and the newest ``HEARTBEAT`` (where it is
  now, and whether it is armed: what conformance needs), a newer one taking the
  place of the one still waiting;
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

import itertools
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any, TypeAlias

SHED_AFTER_S = 0.25
"""A wakeup whose first datagram waited this long in the kernel starts shedding."""
DRAIN_MAX = 16_384
"""At most this many datagrams read at once while behind (~50 ms): a deeper
backlog is drained over several wakeups, decoding in between, so the loop turns."""
DRAIN_EVERY_S = 0.1
"""While behind, the socket is drained this often (a position's interval at 10 Hz):
often enough that what waits is the newest, seldom enough that decoding, not
reading, gets the time."""
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


class Shedder:
    """A link's datagrams waiting to be decoded while it is behind, newest first
    in value: a datagram of (sender, sysid, hot id) replaces the one of the same
    key still waiting, in that one's place in the queue, so the queue never holds
    more than one position per vehicle, however far behind decoding is."""

    def __init__(self, routine_every_s: float = ROUTINE_EVERY_S) -> None:
        self.routine_every_s = routine_every_s
        self._pending: OrderedDict[Hashable, Datagram] = OrderedDict()
        self._routine_s: dict[Hashable, float] = {}
        self._unique = itertools.count()
        self.shed_datagrams = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, batch: Sequence[Datagram], now_s: float) -> list[Datagram]:
        """Queue ``batch`` (oldest first) for decoding; return the datagrams shed:
        superseded by a newer one of the same key, or routine ones within
        ``routine_every_s`` of the last of their key that went through."""
        pending = self._pending
        routine_s = self._routine_s
        every_s = self.routine_every_s
        shed: list[Datagram] = []
        for item in batch:
            frame = routine_key(item[0])
            if frame is None:
                pending[next(self._unique)] = item
                continue
            key = (item[1], frame[0], frame[1])
            waiting = pending.get(key)
            if waiting is not None:
                shed.append(waiting)
                pending[key] = item  # the newest, in the older one's place
            elif frame[1] in ROUTINE and now_s - routine_s.get(key, -1e18) < every_s:
                shed.append(item)
            else:
                pending[key] = item
                if frame[1] in ROUTINE:
                    routine_s[key] = now_s
        self.shed_datagrams += len(shed)
        if len(routine_s) > 65_536 + 8 * len(pending):
            # Senders come and go; forget the ones not waiting now.
            self._routine_s = {k: routine_s[k] for k in pending if k in routine_s}
        return shed

    def take(self) -> Datagram | None:
        """The datagram to decode next (the longest waiting), or None."""
        if not self._pending:
            return None
        return self._pending.popitem(last=False)[1]
