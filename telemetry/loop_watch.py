"""Is the event loop keeping up? Its lag, and where it was stuck when it stalled.

Everything live (datagrams, the tick, viewers' frames) runs on one asyncio loop;
one callback that holds it for half a second delays every breach alert by as
much. :class:`LoopWatch` measures the loop's lag (how late a short sleep wakes
up), keeps the recent figures for ``/metrics`` and the links report, and a
watchdog thread logs the loop thread's stack while the loop is stalled, so that a
slow tail can be traced to the code that caused it rather than guessed at.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass

from telemetry.log_limits import RateLimitedLog

logger = logging.getLogger(__name__)

PROBE_S = 0.02
"""How often the probe wakes: the lag resolution."""
STALL_S = 0.5
"""A loop that has not woken for this long is stalled: its stack is logged."""
RECENT = 1500
"""Lags kept for the percentiles: 30 s at ``PROBE_S``."""


@dataclass(frozen=True, slots=True)
class LoopLag:
    """The loop's recent lag, in seconds."""

    p50_s: float
    p99_s: float
    max_s: float
    stalls: int


class LoopWatch:
    """Probe the running loop's lag; log where it was stuck when it stalls."""

    def __init__(self, probe_s: float = PROBE_S, stall_s: float = STALL_S) -> None:
        self.probe_s = probe_s
        self.stall_s = stall_s
        self._lags: deque[float] = deque(maxlen=RECENT)
        self._beat_s = time.monotonic()
        self._loop_thread: int | None = None
        self._stop = threading.Event()
        self.stalls = 0
        self.max_lag_s = 0.0
        # Each watch its own limit: one loop's stall must not silence another's
        # (two servers in one process, or a test after a server).
        self._limited = RateLimitedLog(logger, interval_s=30.0)

    def lag(self) -> LoopLag:
        """The recent lag's median, 99th percentile and the largest seen."""
        lags = sorted(self._lags)
        if not lags:
            return LoopLag(0.0, 0.0, self.max_lag_s, self.stalls)
        return LoopLag(
            lags[len(lags) // 2],
            lags[min(len(lags) - 1, int(len(lags) * 0.99))],
            self.max_lag_s,
            self.stalls,
        )

    async def run(self) -> None:
        """Probe until cancelled, with the watchdog thread beside it."""
        self._loop_thread = threading.get_ident()
        self._beat_s = time.monotonic()
        self._stop.clear()
        watchdog = threading.Thread(
            target=self._watch, name="loop-watchdog", daemon=True
        )
        watchdog.start()
        try:
            while True:
                before = time.monotonic()
                await asyncio.sleep(self.probe_s)
                now = time.monotonic()
                self._beat_s = now
                lag_s = max(0.0, now - before - self.probe_s)
                self._lags.append(lag_s)
                self.max_lag_s = max(self.max_lag_s, lag_s)
        finally:
            self._stop.set()

    def _watch(self) -> None:
        # A thread, because a stalled loop cannot report on itself; it only reads
        # the beat and, while a stall lasts, the loop thread's current frame.
        # The last beat before the stall being watched, and whether its lines
        # are written (its first was not held back by the limit).
        stall_beat: float | None = None
        reporting = False
        next_report_s = math.inf
        while not self._stop.wait(self.stall_s / 2):
            beat = self._beat_s
            if stall_beat is not None and beat != stall_beat:
                if reporting:
                    # How long it lasted, which its first line (written as it
                    # passed ``stall_s``) could not say.
                    logger.warning(
                        "event loop stall ended after %.1f s", beat - stall_beat
                    )
                stall_beat = None
            stalled_s = time.monotonic() - beat
            if stalled_s < self.stall_s:
                continue
            if stall_beat is None:
                stall_beat = beat
                self.stalls += 1
                next_report_s = 2 * self.stall_s
                reporting = self._limited(
                    logging.WARNING,
                    "stall",
                    "event loop stalled for over %.1f s; it was in:\n%s",
                    stalled_s,
                    self._where(),
                )
            elif reporting and stalled_s >= next_report_s:
                # A long stall may have moved on from where it was first seen:
                # where it is now, at doubling lengths.
                next_report_s *= 2
                logger.warning(
                    "event loop still stalled after %.1f s; now in:\n%s",
                    stalled_s,
                    self._where(),
                )

    def _where(self) -> str:
        """The loop thread's innermost frames, then every other thread's: a loop
        stuck in C code (its stack ends in the loop's run) is often waiting for the
        GIL that another thread holds."""
        names = {t.ident: t.name for t in threading.enumerate()}
        own = threading.get_ident()
        parts: list[str] = []
        frames = sys._current_frames()
        ordered = sorted(frames.items(), key=lambda item: item[0] != self._loop_thread)
        for ident, frame in ordered:
            if ident == own:
                continue
            # The innermost frames: where it is, not how it was started.
            stack = "".join(traceback.format_stack(frame)[-8:])
            parts.append(f"[thread {names.get(ident, ident)}]\n{stack}")
        return "".join(parts) or "?"
