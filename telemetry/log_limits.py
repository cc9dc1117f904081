"""Rate-limited logging: one line per kind of trouble per interval, never a flood.

A garbage datagram, a failed publish or a full disk can repeat thousands of times a
second; logging each would cost more than the trouble itself and bury the one line a
user needs. :class:`RateLimitedLog` logs the first occurrence of each *key* at once,
then at most one line per ``interval_s``, each saying how many were held back since
the last. Shared by every wing of ``telemetry`` (it imports none of them).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

DEFAULT_INTERVAL_S = 10.0


class RateLimitedLog:
    """Logs to ``logger`` at most once per ``interval_s`` for each key.

    ``clock`` gives monotonic seconds; sans-I/O callers pass ``now_s`` per call
    instead (the codec takes its time from the caller, never a clock).
    """

    __slots__ = ("_clock", "_held", "_interval_s", "_last_s", "logger")

    def __init__(
        self,
        logger: logging.Logger,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self._interval_s = interval_s
        self._clock = clock
        self._last_s: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def __call__(
        self,
        level: int,
        key: str,
        msg: str,
        *args: object,
        exc_info: bool = False,
        now_s: float | None = None,
    ) -> bool:
        """Log ``msg % args`` unless ``key`` was logged within the interval.

        Returns whether a line was written. A written line that follows held-back
        ones ends with how many were held back.
        """
        count = self.due(key, now_s=now_s)
        if not count:
            return False
        if count > 1:
            msg = f"{msg} ({count - 1} more since the last report)"
        self.logger.log(level, msg, *args, exc_info=exc_info)
        return True

    def due(self, key: str, *, now_s: float | None = None) -> int:
        """Count one occurrence of ``key``; return how many a line written now covers.

        0 means no line is due (the occurrence is held back); otherwise the count is
        this occurrence plus those held back since the last line, for callers whose
        line states the count itself instead of the ``more since`` suffix (the
        codec's ``link X: 100 bad_crc since the last report``).
        """
        now = self._clock() if now_s is None else now_s
        if now - self._last_s.get(key, -math.inf) < self._interval_s:
            self._held[key] = self._held.get(key, 0) + 1
            return 0
        self._last_s[key] = now
        return self._held.pop(key, 0) + 1

    def held(self, key: str) -> int:
        """How many lines of ``key`` were held back since the last one written."""
        return self._held.get(key, 0)
