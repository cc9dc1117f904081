"""Which drones of a fleet this run flies: ``--sysids`` and ``--shard``.

A fleet split over several gateways is flown by several ``skyberth sim`` runs, one
per gateway, each taking a disjoint part of the same booked fleet. Both choices go
by MAVLink system id, never by position in a list, so two runs that read the
bookings at slightly different moments still never fly the same drone:

- ``--sysids 1-3,7``: exactly these system ids;
- ``--shard K/N``: the drones whose ``(sysid - 1) % N == K - 1``, so shards
  ``1/N`` .. ``N/N`` together cover every system id once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simulator.assignments import DroneEntry
from simulator.errors import FleetError


@dataclass(frozen=True)
class Selection:
    """A choice of system ids; the empty selection takes every drone."""

    sysids: frozenset[int] | None = None
    shard: tuple[int, int] | None = None
    """``(K, N)``: the K-th of N shards, 1-based."""

    def takes(self, sysid: int | None) -> bool:
        """True when the drone with ``sysid`` is flown (extra intruders, which
        have no system id of their own, always are)."""
        if sysid is None:
            return True
        if self.sysids is not None and sysid not in self.sysids:
            return False
        if self.shard is not None:
            k, n = self.shard
            return (sysid - 1) % n == k - 1
        return True

    def apply(self, entries: Sequence[DroneEntry]) -> list[DroneEntry]:
        """The entries this selection flies, in their order."""
        return [e for e in entries if self.takes(e.sysid)]

    def __bool__(self) -> bool:
        return self.sysids is not None or self.shard is not None

    def describe(self) -> str:
        """The selection as the command line wrote it (for error messages)."""
        parts = []
        if self.sysids is not None:
            parts.append(f"--sysids {','.join(str(s) for s in sorted(self.sysids))}")
        if self.shard is not None:
            parts.append(f"--shard {self.shard[0]}/{self.shard[1]}")
        return " ".join(parts) or "every drone"


def parse_sysids(text: str) -> frozenset[int]:
    """System ids from ``1-3,7``; FleetError when malformed or outside 1-255."""
    found: set[int] = set()
    for part in text.split(","):
        first, sep, last = part.strip().partition("-")
        try:
            low = int(first)
            high = int(last) if sep else low
        except ValueError:
            raise FleetError(f"--sysids {text!r}: write ranges like 1-3,7") from None
        if not 1 <= low <= high <= 255:
            raise FleetError(f"--sysids {text!r}: ids go 1-255, low to high")
        found.update(range(low, high + 1))
    return frozenset(found)


def parse_shard(text: str) -> tuple[int, int]:
    """``(K, N)`` from ``K/N`` with 1 <= K <= N; FleetError when malformed."""
    k_text, sep, n_text = text.partition("/")
    try:
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise FleetError(f"--shard {text!r}: write K/N, e.g. 1/2") from None
    if not sep or not 1 <= k <= n:
        raise FleetError(f"--shard {text!r}: K/N needs 1 <= K <= N")
    return k, n
