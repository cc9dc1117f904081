"""The operator's split and merge of detected flights (issue 18 item 1), applied
to flights detected from real ``.tlog`` files made by pymavlink's encoder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from airspace.site_files import demo_site_path, load_site
from telemetry.flights import EditKind, FlightFigures, SpanEdit, edited_flight_tracks
from telemetry.mavlink.tlog import read_tlog
from tests.flight_script import T0, Step, out_and_back, records, write_tlog

SITE = load_site(demo_site_path())
LANDED_END_S = 10.0


def shifted(steps: list[Step], by_s: float) -> list[Step]:
    return [dataclasses.replace(s, t_s=s.t_s + by_s) for s in steps]


def edited(
    tmp_path: Path, steps: list[Step], *edits: SpanEdit
) -> tuple[list[FlightFigures], list[bool]]:
    path = write_tlog(tmp_path / f"booking-{len(edits)}.tlog", records(SITE, steps))
    tracks, applied = edited_flight_tracks(
        read_tlog(path), SITE, LANDED_END_S, edits=edits
    )
    return [t.figures for t in tracks], applied


TWO_FLIGHTS = out_and_back() + shifted(out_and_back(), 26)
"""Flights 1.02-10.02 s and 27.02-36.02 s after T0 (the second armed at 27 s)."""


def test_split_makes_two_flights_at_the_operators_time(tmp_path: Path) -> None:
    (first, second), applied = edited(
        tmp_path, out_and_back(), SpanEdit(EditKind.SPLIT, T0 + 5.5)
    )
    assert applied == [True]
    assert first.landing_utc.timestamp() == pytest.approx(T0 + 5.02)
    assert second.takeoff_utc.timestamp() == pytest.approx(T0 + 6.02)
    assert second.landing_utc.timestamp() == pytest.approx(T0 + 10.02)
    assert (first.complete, second.complete) == (True, True)


def test_merge_joins_a_flight_with_the_next_and_counts_a_touch_and_go(
    tmp_path: Path,
) -> None:
    (merged,), applied = edited(
        tmp_path, TWO_FLIGHTS, SpanEdit(EditKind.MERGE, T0 + 15.0)
    )
    assert applied == [True]
    assert merged.takeoff_utc.timestamp() == pytest.approx(T0 + 2.02)
    assert merged.landing_utc.timestamp() == pytest.approx(T0 + 36.02)
    assert merged.touch_and_goes == 1
    assert merged.ground_distance_m == pytest.approx(120.0, abs=0.2)


def test_a_merge_at_the_split_time_undoes_the_split(tmp_path: Path) -> None:
    (undone,), applied = edited(
        tmp_path,
        out_and_back(),
        SpanEdit(EditKind.SPLIT, T0 + 5.5),
        SpanEdit(EditKind.MERGE, T0 + 5.5),
    )
    (plain,), _ = edited(tmp_path, out_and_back())
    assert applied == [True, True]
    assert (undone.takeoff_utc, undone.landing_utc) == (
        plain.takeoff_utc,
        plain.landing_utc,
    )
    assert undone.ground_distance_m == pytest.approx(plain.ground_distance_m)


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (SpanEdit(EditKind.SPLIT, T0 + 20.0), "between flights: nothing flies"),
        (SpanEdit(EditKind.SPLIT, T0 + 100.0), "after the last flight"),
        (SpanEdit(EditKind.MERGE, T0 + 30.0), "the last flight has no next"),
        (SpanEdit(EditKind.MERGE, T0 - 5.0), "before the first flight"),
    ],
)
def test_an_edit_that_finds_no_flight_changes_nothing(
    tmp_path: Path, edit: SpanEdit, why: str
) -> None:
    flights, applied = edited(tmp_path, TWO_FLIGHTS, edit)
    assert applied == [False], why
    assert len(flights) == 2
