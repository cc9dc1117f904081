"""The loop watch: a stalled event loop is measured and its stack is logged."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from telemetry.loop_watch import LoopWatch


def _holds_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # what a slow callback does to every other task


def _watch_a_hold(
    caplog: pytest.LogCaptureFixture, hold_s: float, after_s: float
) -> LoopWatch:
    """Run a watch (stalls from 0.1 s) over a loop held for ``hold_s``."""
    watch = LoopWatch(probe_s=0.01, stall_s=0.1)

    async def scenario() -> None:
        task = asyncio.create_task(watch.run())
        await asyncio.sleep(0.05)
        _holds_the_loop(hold_s)
        await asyncio.sleep(after_s)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.WARNING, logger="telemetry.loop_watch"):
        asyncio.run(scenario())
    return watch


def test_a_stall_is_counted_measured_and_logged_with_where_it_was(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = _watch_a_hold(caplog, 0.4, 0.05)
    lag = watch.lag()
    assert lag.stalls == 1
    assert lag.max_s >= 0.3
    assert lag.p50_s < lag.max_s
    assert any("_holds_the_loop" in r.getMessage() for r in caplog.records)


def test_a_long_stall_is_traced_again_as_it_lasts_and_its_length_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = _watch_a_hold(caplog, 0.7, 0.2)
    lines = [r.getMessage() for r in caplog.records]
    assert watch.lag().stalls == 1
    still = [line for line in lines if line.startswith("event loop still stalled")]
    assert still, lines
    assert all("_holds_the_loop" in line for line in still), lines
    (ended,) = [line for line in lines if line.startswith("event loop stall ended")]
    assert 0.6 <= float(ended.split()[-2]) < 2.0, ended


def test_a_loop_that_keeps_up_reports_no_stall() -> None:
    watch = LoopWatch(probe_s=0.01, stall_s=0.5)

    async def scenario() -> None:
        task = asyncio.create_task(watch.run())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert watch.lag().stalls == 0
    assert watch.lag().p50_s < 0.5
