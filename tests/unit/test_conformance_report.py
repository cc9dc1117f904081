"""The F3548 conformance figures on hand-computed sample series, checked exactly."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from airspace.site import SiteId
from telemetry.incidents.model import TrackSample
from telemetry.reports.conformance_report import (
    CSV_COLUMNS,
    ConformanceReport,
    Excursion,
    FlightTally,
    Thresholds,
    csv_row,
    tally_samples,
    tally_series,
)


@dataclass(frozen=True)
class S:
    vehicle_key: str
    t_s: float
    state: str


def series(key: str, points: list[tuple[float, str]]) -> list[S]:
    return [S(key, t, state) for t, state in points]


# t: state. Credited intervals (zero-order hold): 1-4 conforming (3 s), 4-6 outside
# (2 s), 6-7 inside, 7-15 is a gap (0 s), 15-16 inside, 16-17 outside (1 s).
FLIGHT = [
    (0.0, "on_ground"),
    (1.0, "inside"),
    (2.0, "inside"),
    (3.0, "near_edge"),
    (4.0, "outside_lateral"),
    (5.0, "outside_lateral"),
    (6.0, "inside"),
    (7.0, "inside"),
    (15.0, "inside"),
    (16.0, "outside_vertical"),
    (17.0, "on_ground"),
]


class TestTallySeries:
    def test_counts_flight_conforming_and_nonconforming_seconds(self) -> None:
        tally = tally_series(series("v1", FLIGHT))
        assert tally.flight_s == 8.0
        assert tally.conforming_s == 5.0
        assert tally.nonconforming_s == 3.0
        assert tally.unclassified_s == 0.0
        assert tally.vehicle_keys == frozenset({"v1"})

    def test_runs_of_breach_samples_are_excursions_with_their_durations(self) -> None:
        tally = tally_series(series("v1", FLIGHT))
        assert tally.excursions == (
            Excursion("v1", 4.0, 2.0, "outside_lateral"),
            Excursion("v1", 16.0, 1.0, "outside_vertical"),
        )

    def test_a_gap_over_five_seconds_is_not_flight_and_ends_an_excursion(
        self,
    ) -> None:
        tally = tally_series(
            series(
                "v1",
                [
                    (0.0, "outside_lateral"),
                    (5.5, "outside_lateral"),
                    (6.5, "outside_lateral"),
                    (7.5, "inside"),
                ],
            )
        )
        assert tally.flight_s == 2.0
        assert tally.nonconforming_s == 2.0
        assert [(e.start_s, e.duration_s) for e in tally.excursions] == [
            (0.0, 0.0),
            (5.5, 2.0),
        ]

    def test_a_gap_of_exactly_five_seconds_is_flight(self) -> None:
        tally = tally_series(series("v1", [(0.0, "inside"), (5.0, "inside")]))
        assert tally.flight_s == 5.0
        assert tally.conforming_s == 5.0

    def test_consecutive_breach_states_of_any_kind_are_one_excursion(self) -> None:
        tally = tally_series(
            series(
                "v1",
                [
                    (0.0, "inside"),
                    (1.0, "outside_lateral"),
                    (2.0, "outside_boundary"),
                    (3.0, "in_exclusion"),
                    (4.0, "near_edge"),
                ],
            )
        )
        assert tally.excursions == (Excursion("v1", 1.0, 3.0, "outside_lateral"),)

    def test_landing_ends_an_excursion_and_ground_time_is_not_flight(self) -> None:
        tally = tally_series(
            series(
                "v1",
                [
                    (0.0, "unassigned"),
                    (1.0, "on_ground"),
                    (2.0, "on_ground"),
                    (3.0, "unassigned"),
                    (4.0, "unassigned"),
                ],
            )
        )
        assert tally.flight_s == 2.0
        assert [(e.start_s, e.duration_s) for e in tally.excursions] == [
            (0.0, 1.0),
            (3.0, 1.0),
        ]

    def test_an_unknown_state_is_flight_but_not_conforming(self) -> None:
        tally = tally_series(series("v1", [(0.0, "mystery"), (1.0, "inside")]))
        assert (tally.flight_s, tally.unclassified_s, tally.conforming_s) == (
            1.0,
            1.0,
            0.0,
        )
        assert tally.excursions == ()

    def test_no_samples_is_no_flight(self) -> None:
        assert tally_series([]) == FlightTally()

    def test_refuses_samples_going_back_in_time(self) -> None:
        with pytest.raises(ValueError, match="back in time"):
            tally_series(series("v1", [(2.0, "inside"), (1.0, "inside")]))

    def test_refuses_a_series_mixing_vehicles(self) -> None:
        with pytest.raises(ValueError, match="mixes vehicles"):
            tally_series([S("v1", 0.0, "inside"), S("v2", 1.0, "inside")])

    def test_takes_stored_track_samples(self) -> None:
        track = [
            TrackSample(
                site_id=SiteId("s"),
                vehicle_key="udp/7",
                sysid=7,
                t_s=t,
                lat_deg=22.26,
                lon_deg=114.13,
                alt_amsl_m=30.0,
                rel_alt_m=28.0,
                speed_mps=3.0,
                heading_deg=None,
                battery_pct=None,
                state=state,
            )
            for t, state in [(0.0, "inside"), (1.0, "outside_lateral"), (2.0, "inside")]
        ]
        tally = tally_series(track)
        assert (tally.flight_s, tally.nonconforming_s, len(tally.excursions)) == (
            2.0,
            1.0,
            1,
        )


class TestTallySamples:
    def test_sorts_and_groups_interleaved_vehicles(self) -> None:
        a = series("a", [(0.0, "inside"), (1.0, "outside_lateral"), (2.0, "inside")])
        b = series("b", [(0.5, "inside"), (1.5, "inside"), (2.5, "inside")])
        mixed = [b[2], a[1], b[0], a[2], a[0], b[1]]
        tally = tally_samples(mixed)
        assert tally.flight_s == 4.0
        assert tally.conforming_s == 3.0
        assert tally.excursions == (Excursion("a", 1.0, 1.0, "outside_lateral"),)
        assert tally.vehicle_keys == frozenset({"a", "b"})
        assert tally == tally_series(a) + tally_series(b)


def hour_with_excursions(count: int, each_s: int) -> FlightTally:
    """One vehicle, 1 Hz, 3600 s of flight; ``count`` excursions of ``each_s``."""
    states = ["inside"] * 3601
    for n in range(count):
        start = 100 + n * 150
        states[start : start + each_s] = ["outside_lateral"] * each_s
    return tally_series(series("v", [(float(t), s) for t, s in enumerate(states)]))


class TestReport:
    def test_figures_of_the_hand_computed_flight(self) -> None:
        report = ConformanceReport(tally_series(series("v1", FLIGHT)), link_losses=2)
        assert report.flight_hours == 8.0 / 3600.0
        assert report.conforming_pct == 62.5
        assert report.excursion_count == 2
        assert report.excursions_per_flight_hour == 900.0
        assert report.longest_excursion_s == 2.0
        d = report.as_dict()
        assert d["nonconforming_s"] == 3.0
        assert d["link_losses"] == 2
        assert d["longest_excursion"] == {
            "vehicle_key": "v1",
            "start_s": 4.0,
            "duration_s": 2.0,
            "state": "outside_lateral",
        }
        assert d["checks"]["conforming_pct"] == {
            "value": 62.5,
            "threshold": 95.0,
            "limit": "min",
            "passed": False,
        }
        assert d["checks"]["excursions_per_flight_hour"]["passed"] is False
        assert d["checks"]["longest_excursion_s"]["passed"] is True
        assert d["passed"] is False

    def test_an_hour_at_the_limits_passes(self) -> None:
        # 18 excursions of 10 s: 180 s outside, 3420 s of 3600 s conforming (95 %).
        report = ConformanceReport(hour_with_excursions(18, 10), link_losses=0)
        assert report.tally.flight_s == 3600.0
        assert report.conforming_pct == 95.0
        assert report.excursions_per_flight_hour == 18.0
        assert report.longest_excursion_s == 10.0
        assert {n: c.passed for n, c in report.checks.items()} == {
            "conforming_pct": True,
            "excursions_per_flight_hour": True,
            "longest_excursion_s": True,
        }
        assert report.passed is True

    def test_one_more_excursion_fails_the_rate_and_the_share(self) -> None:
        report = ConformanceReport(hour_with_excursions(19, 10), link_losses=0)
        assert report.excursions_per_flight_hour == 19.0
        assert report.conforming_pct == 100.0 * 3410.0 / 3600.0
        checks = {n: c.passed for n, c in report.checks.items()}
        assert checks == {
            "conforming_pct": False,
            "excursions_per_flight_hour": False,
            "longest_excursion_s": True,
        }

    def test_one_excursion_of_eleven_seconds_fails_only_the_duration(self) -> None:
        report = ConformanceReport(hour_with_excursions(1, 11), link_losses=0)
        assert report.longest_excursion_s == 11.0
        checks = {n: c.passed for n, c in report.checks.items()}
        assert checks == {
            "conforming_pct": True,
            "excursions_per_flight_hour": True,
            "longest_excursion_s": False,
        }
        assert report.passed is False

    def test_clean_flight_has_no_excursion_and_passes(self) -> None:
        report = ConformanceReport(hour_with_excursions(0, 0), link_losses=1)
        assert report.longest_excursion_s == 0.0
        assert report.longest_excursion is None
        assert report.passed is True

    def test_no_flight_has_nothing_to_judge(self) -> None:
        report = ConformanceReport(FlightTally(), link_losses=0)
        assert report.conforming_pct is None
        assert report.excursions_per_flight_hour is None
        assert report.longest_excursion_s is None
        assert all(c.passed is None for c in report.checks.values())
        assert report.passed is None

    def test_thresholds_can_be_stricter(self) -> None:
        strict = Thresholds(max_excursion_s=5.0)
        report = ConformanceReport(hour_with_excursions(1, 10), 0, strict)
        assert report.checks["longest_excursion_s"].passed is False

    def test_csv_row_has_every_column(self) -> None:
        report = ConformanceReport(tally_series(series("v1", FLIGHT)), link_losses=2)
        row = csv_row("acme", "2026-01-01T00:00:00.000Z", "2026-02-01T00:00Z", report)
        assert list(row) == list(CSV_COLUMNS)
        assert row["operator_id"] == "acme"
        assert row["conforming_pct"] == 62.5
        assert row["min_conforming_pct"] == 95.0
        assert row["conforming_pct_passed"] is False
        assert row["longest_excursion_s_passed"] is True
