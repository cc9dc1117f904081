"""jittered_waits: full-jitter exponential back-off, bounded by the first and
longest wait the caller gives."""

from __future__ import annotations

from itertools import islice

import pytest

from telemetry.retry_policy import jittered_waits

SAMPLES = 400


def nth_waits(first_s: float, max_s: float, n: int) -> list[float]:
    """The ``n``-th wait (0-based) of many fresh series."""
    return [
        next(islice(jittered_waits(first_s, max_s), n, None)) for _ in range(SAMPLES)
    ]


@pytest.mark.parametrize(
    ("n", "ceiling_s"),
    [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (12, 10.0)],
)
def test_each_wait_stays_under_its_doubling_ceiling_capped_at_the_longest(
    n: int, ceiling_s: float
) -> None:
    waits = nth_waits(0.5, 10.0, n)
    assert all(0.0 <= wait_s <= ceiling_s for wait_s in waits)


def test_waits_are_jittered_not_fixed() -> None:
    waits = nth_waits(0.5, 10.0, 3)
    assert len(set(waits)) > SAMPLES // 2
    # Full jitter spreads over the whole range up to the ceiling (4 s here).
    assert min(waits) < 1.0 < 3.0 < max(waits)


def test_the_series_never_ends_and_stays_capped() -> None:
    waits = list(islice(jittered_waits(0.05, 0.2), 1000))
    assert len(waits) == 1000
    assert max(waits) <= 0.2


def test_floor_raises_the_shortest_wait() -> None:
    waits = list(islice(jittered_waits(1.0, 2.0, floor_s=0.5), SAMPLES))
    assert all(0.5 <= wait_s <= 2.0 for wait_s in waits)


@pytest.mark.parametrize(("first_s", "max_s"), [(0.0, 1.0), (-1.0, 1.0), (2.0, 1.0)])
def test_refuses_a_first_wait_not_positive_or_above_the_longest(
    first_s: float, max_s: float
) -> None:
    with pytest.raises(ValueError, match="first_s"):
        next(jittered_waits(first_s, max_s))
