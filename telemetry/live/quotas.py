"""Quotas for unregistered system ids: what one link may cost us for sysids no
drone is registered with (README, "MAVLink trust model").

Anyone on the network can send frames for any of the 256 system ids, and each new
one used to become a tracked vehicle with its own ``.tlog``, track rows and
incidents. Per link, at most ``vehicles`` unregistered sysids are tracked at once
(frames of the others are refused and counted); each tracked one may write at most
``tlog_bytes`` of raw frames and ``track_rows`` replay positions; and at most
``incidents_per_min`` incidents a minute are opened for the link's unregistered
vehicles (their events still go to viewers). Registered drones are never limited
here: their sysid is in the fleet directory.

Every refusal is counted in ``refused`` (by quota) and logged at most once a minute
per quota and link. Pure bookkeeping, no I/O; the gateway calls it on its loop.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from dataclasses import dataclass

from telemetry.log_limits import RateLimitedLog

logger = logging.getLogger(__name__)

LOG_INTERVAL_S = 60.0


@dataclass(frozen=True)
class QuotaLimits:
    """What one link may spend on unregistered sysids."""

    vehicles: int = 16
    """Unregistered sysids tracked at once per link."""
    tlog_bytes: int = 8 * 1024 * 1024
    """Raw-frame bytes recorded per unregistered vehicle (about an hour of a
    typical 10 Hz telemetry stream)."""
    track_rows: int = 3600
    """Replay positions per unregistered vehicle (an hour at 1 Hz)."""
    incidents_per_min: int = 6
    """Incidents opened per minute for a link's unregistered vehicles."""

    def __post_init__(self) -> None:
        if min(self.vehicles, self.tlog_bytes, self.track_rows) < 0 or (
            self.incidents_per_min < 0
        ):
            raise ValueError("unregistered-sysid quotas must be >= 0")


class UnregisteredQuotas:
    """The running spend of each link and unregistered vehicle against ``limits``."""

    def __init__(self, limits: QuotaLimits | None = None) -> None:
        self.limits = limits or QuotaLimits()
        self.refused: Counter[str] = Counter()
        """Refusals since start, by quota: ``vehicles`` (frames), ``tlog_bytes``
        (frames), ``track_rows`` (rows), ``incidents`` (incidents)."""
        self._tracked: dict[str, set[int]] = {}
        self._tlog_bytes: Counter[str] = Counter()
        self._track_rows: Counter[str] = Counter()
        self._incidents: dict[str, deque[float]] = {}
        self._log = RateLimitedLog(logger, LOG_INTERVAL_S)

    def admit(self, link_id: str, sysid: int, frames: int = 1) -> bool:
        """Whether a new unregistered ``sysid`` on ``link_id`` may be tracked
        (then it counts against the link until ``forget``); else its ``frames``
        are counted as refused."""
        tracked = self._tracked.setdefault(link_id, set())
        if sysid in tracked or len(tracked) < self.limits.vehicles:
            tracked.add(sysid)
            return True
        self._refuse(
            "vehicles",
            link_id,
            frames,
            "%s: %d unregistered sysids tracked already; frames of sysid %d refused",
            link_id,
            len(tracked),
            sysid,
        )
        return False

    def take_tlog(self, link_id: str, key: str, size: int, frames: int) -> bool:
        """Whether ``size`` more raw-frame bytes of vehicle ``key`` may be recorded."""
        spent = self._tlog_bytes[key]
        if spent + size <= self.limits.tlog_bytes:
            self._tlog_bytes[key] = spent + size
            return True
        self._refuse(
            "tlog_bytes",
            link_id,
            frames,
            "%s: unregistered vehicle %s reached its %d-byte tlog quota; "
            "its raw frames are no longer recorded",
            link_id,
            key,
            self.limits.tlog_bytes,
        )
        return False

    def take_track_row(self, link_id: str, key: str) -> bool:
        """Whether one more replay position of vehicle ``key`` may be stored."""
        if self._track_rows[key] < self.limits.track_rows:
            self._track_rows[key] += 1
            return True
        self._refuse(
            "track_rows",
            link_id,
            1,
            "%s: unregistered vehicle %s reached its %d-row track quota",
            link_id,
            key,
            self.limits.track_rows,
        )
        return False

    def take_incident(self, link_id: str, now_s: float) -> bool:
        """Whether an incident may be opened now for an unregistered vehicle of
        ``link_id`` (a sliding minute)."""
        window = self._incidents.setdefault(link_id, deque())
        while window and window[0] <= now_s - 60.0:
            window.popleft()
        if len(window) < self.limits.incidents_per_min:
            window.append(now_s)
            return True
        self._refuse(
            "incidents",
            link_id,
            1,
            "%s: %d incidents a minute opened for unregistered sysids already; "
            "more are only sent as events",
            link_id,
            self.limits.incidents_per_min,
        )
        return False

    def forget(self, link_id: str, sysid: int, key: str) -> None:
        """A vehicle was dropped from the live picture: it no longer counts."""
        self._tracked.get(link_id, set()).discard(sysid)
        self._tlog_bytes.pop(key, None)
        self._track_rows.pop(key, None)

    def tracked(self, link_id: str) -> int:
        """Unregistered sysids tracked on ``link_id`` now."""
        return len(self._tracked.get(link_id, ()))

    def _refuse(
        self, quota: str, link_id: str, count: int, msg: str, *args: object
    ) -> None:
        self.refused[quota] += count
        self._log(logging.WARNING, f"{quota} {link_id}", msg, *args)
