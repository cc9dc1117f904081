"""RateLimitedLog: the first line at once, then one per interval per key, with the
count of lines held back in between."""

from __future__ import annotations

import logging

import pytest

from telemetry.log_limits import RateLimitedLog

LOGGER = "tests.log_limits"


def limited(interval_s: float = 10.0) -> RateLimitedLog:
    return RateLimitedLog(logging.getLogger(LOGGER), interval_s)


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_logs_the_first_line_of_a_key_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = limited()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        written = log(logging.WARNING, "send", "%s: send dropped", "udp", now_s=0.0)
    assert written is True
    assert lines(caplog) == ["udp: send dropped"]


def test_holds_back_lines_within_the_interval_and_reports_their_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = limited(10.0)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for i in range(5):
            log(logging.WARNING, "send", "dropped", now_s=i * 1.0)
        assert log.held("send") == 4
        log(logging.WARNING, "send", "dropped", now_s=10.0)
    assert lines(caplog) == ["dropped", "dropped (4 more since the last report)"]
    assert log.held("send") == 0


def test_a_line_after_a_quiet_interval_has_no_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = limited(10.0)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        log(logging.WARNING, "send", "dropped", now_s=0.0)
        log(logging.WARNING, "send", "dropped", now_s=25.0)
    assert lines(caplog) == ["dropped", "dropped"]


def test_keys_are_limited_independently(caplog: pytest.LogCaptureFixture) -> None:
    log = limited(10.0)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(3):
            log(logging.WARNING, "send", "send dropped", now_s=1.0)
        log(logging.WARNING, "on_data", "on_data raised", now_s=1.0)
    assert lines(caplog) == ["send dropped", "on_data raised"]
    assert (log.held("send"), log.held("on_data")) == (2, 0)


def test_due_counts_the_current_line_and_those_held_back() -> None:
    log = limited(10.0)
    assert log.due("bad_crc", now_s=0.0) == 1
    assert [log.due("bad_crc", now_s=t) for t in (1.0, 2.0, 3.0)] == [0, 0, 0]
    assert log.due("bad_crc", now_s=10.0) == 4
    assert log.due("garbage", now_s=10.0) == 1


def test_reads_its_clock_when_no_time_is_passed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    log = RateLimitedLog(logging.getLogger(LOGGER), 10.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert log(logging.INFO, "k", "first") is True
        now[0] = 105.0
        assert log(logging.INFO, "k", "held") is False
        now[0] = 110.0
        assert log(logging.INFO, "k", "again") is True
    assert lines(caplog) == ["first", "again (1 more since the last report)"]
