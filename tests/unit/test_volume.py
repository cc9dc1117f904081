"""Volumes overlap only when they share area, altitude and (for 4-D) time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import shapely
from hypothesis import given, strategies as st
from shapely.geometry import Polygon

from airspace.volume import (
    AltitudeBand,
    AltitudeRef,
    TimeWindow,
    Volume,
    Volume4D,
    bands_overlap,
    outlines_overlap,
    volumes4d_overlap,
    volumes_overlap,
)

T0 = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)


def box_volume(
    xmin: float, ymin: float, xmax: float, ymax: float, floor: float, ceiling: float
) -> Volume:
    return Volume(shapely.box(xmin, ymin, xmax, ymax), floor, ceiling)


def window(start_min: float, end_min: float) -> TimeWindow:
    return TimeWindow(
        T0 + timedelta(minutes=start_min), T0 + timedelta(minutes=end_min)
    )


A = box_volume(0, 0, 100, 100, 10, 60)


@pytest.mark.parametrize(
    ("other", "expected"),
    [
        (box_volume(50, 50, 150, 150, 20, 40), True),  # area and band overlap
        (box_volume(50, 50, 150, 150, 60, 90), False),  # bands meet at 60 m only
        (box_volume(50, 50, 150, 150, 0, 10), False),  # bands meet at 10 m only
        (box_volume(50, 50, 150, 150, 59.99, 90), True),  # 1 cm of shared band
        (box_volume(100, 0, 200, 100, 10, 60), False),  # edges touch
        (box_volume(100, 100, 200, 200, 10, 60), False),  # corners touch
        (box_volume(99.99, 0, 200, 100, 10, 60), True),  # 1 cm strip, 1 m² overlap
        (box_volume(200, 200, 300, 300, 10, 60), False),  # apart
        (box_volume(20, 20, 30, 30, 0, 200), True),  # inside, band covers
        (box_volume(0, 0, 100, 100, 100, 150), False),  # stacked corridors
    ],
)
def test_volumes_overlap_table(other: Volume, expected: bool) -> None:
    assert volumes_overlap(A, other) is expected
    assert volumes_overlap(other, A) is expected


def test_touching_outlines_with_overlapping_bands_do_not_overlap() -> None:
    assert bands_overlap(A, box_volume(100, 0, 200, 100, 10, 60))
    assert not outlines_overlap(A, box_volume(100, 0, 200, 100, 10, 60))


def test_sliver_below_a_square_centimetre_is_a_shared_edge() -> None:
    sliver = Volume(
        Polygon([(100 - 1e-7, 0), (200, 0), (200, 100), (100 - 1e-7, 100)]), 10, 60
    )
    assert not outlines_overlap(A, sliver)


@pytest.mark.parametrize(
    ("w1", "w2", "expected"),
    [
        ((0, 30), (15, 45), True),
        ((0, 30), (30, 60), False),  # half-open: end meets start
        ((30, 60), (0, 30), False),
        ((0, 60), (10, 20), True),
        ((0, 30), (40, 50), False),
    ],
)
def test_volumes4d_need_overlapping_time(
    w1: tuple[float, float], w2: tuple[float, float], expected: bool
) -> None:
    a = Volume4D(A, window(*w1))
    b = Volume4D(box_volume(50, 50, 150, 150, 20, 40), window(*w2))
    assert volumes4d_overlap(a, b) is expected
    assert volumes4d_overlap(b, a) is expected


def test_same_time_but_apart_in_space_does_not_overlap() -> None:
    a = Volume4D(A, window(0, 30))
    b = Volume4D(box_volume(0, 0, 100, 100, 60, 90), window(0, 30))
    assert not volumes4d_overlap(a, b)


def test_volume_rejects_floor_at_or_above_ceiling() -> None:
    with pytest.raises(ValueError, match="below ceiling"):
        box_volume(0, 0, 1, 1, 60, 60)


def test_time_window_rejects_naive_and_empty() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TimeWindow(datetime(2025, 1, 1), datetime(2025, 1, 2))  # noqa: DTZ001
    with pytest.raises(ValueError, match="before end"):
        TimeWindow(T0, T0)


def test_agl_band_is_lifted_by_ground_elevation() -> None:
    assert AltitudeBand(30, 90).to_amsl(5.0) == (35.0, 95.0)
    assert AltitudeBand(30, 90, AltitudeRef.AMSL).to_amsl(5.0) == (30.0, 90.0)


coord = st.integers(-50, 50)
length = st.integers(1, 50)
band = st.tuples(st.integers(0, 100), st.integers(1, 50))


def int_box(x: int, y: int, w: int, h: int, b: tuple[int, int]) -> Volume:
    return box_volume(x, y, x + w, y + h, b[0], b[0] + b[1])


@given(coord, coord, length, length, band, coord, coord, length, length, band)
def test_overlap_is_symmetric_and_matches_integer_boxes(
    x1: int, y1: int, w1: int, h1: int, b1: tuple[int, int],
    x2: int, y2: int, w2: int, h2: int, b2: tuple[int, int],
) -> None:  # fmt: skip
    a, b = int_box(x1, y1, w1, h1, b1), int_box(x2, y2, w2, h2, b2)
    # Integer boxes share area iff their open intervals intersect on both axes.
    shares_area = x1 < x2 + w2 and x2 < x1 + w1 and y1 < y2 + h2 and y2 < y1 + h1
    shares_band = b1[0] < b2[0] + b2[1] and b2[0] < b1[0] + b1[1]
    assert volumes_overlap(a, b) is (shares_area and shares_band)
    assert volumes_overlap(a, b) is volumes_overlap(b, a)


@given(coord, coord, length, length, band, st.sampled_from(["x", "y", "z"]))
def test_a_volume_shifted_to_touch_never_overlaps(
    x: int, y: int, w: int, h: int, b: tuple[int, int], axis: str
) -> None:
    a = int_box(x, y, w, h, b)
    shift = {"x": (w, 0, 0), "y": (0, h, 0), "z": (0, 0, b[1])}[axis]
    touching = int_box(x + shift[0], y + shift[1], w, h, (b[0] + shift[2], b[1]))
    assert not volumes_overlap(a, touching)
    assert volumes_overlap(a, a)
