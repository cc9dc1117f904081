"""Conformance reports: the aggregate measures of ASTM F3548 over recorded flights.

Pure: takes replay samples (``t_s``, ``state``, ``vehicle_key``) already read from
the store, returns figures. The measures and their thresholds:

- time conforming (``inside`` or ``near_edge``) as a share of flight time, >= 95 %;
- excursions (runs of breach states) per flight hour, <= 18;
- the longest excursion, <= 10 s.

How time is counted (zero-order hold). A sample's state holds until the next
sample of the same vehicle, so the interval ``[t_i, t_i+1)`` is credited to sample
``i``'s state. An interval is not flight time when sample ``i`` is ``on_ground`` or
when the next sample is more than ``max_gap_s`` (5 s) later: nothing was heard, so
nothing is claimed either way. A vehicle's last sample credits nothing.

An excursion is a run of consecutive breach samples (any mix of breach states); an
on-ground sample, a conforming sample or a gap ends it. Its duration is the flight
time credited to its samples, so a single breach sample before a gap is an
excursion of 0 s: it was seen outside, and it is counted.

States neither conforming, breach nor ``on_ground`` (none today; a future state)
are flight time in ``unclassified_s``: they lower the conforming share rather than
being silently dropped.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

CONFORMING_STATES = frozenset({"inside", "near_edge"})
BREACH_STATES = frozenset(
    {
        "outside_lateral",
        "outside_vertical",
        "unassigned",
        "outside_boundary",
        "in_exclusion",
    }
)
"""The conformance states that are a breach (``airspace.conformance.BREACH_STATES``)."""
GROUND_STATE = "on_ground"
MAX_GAP_S = 5.0
SECONDS_PER_HOUR = 3600.0


class TimedState(Protocol):
    """One replay sample as far as the report cares (``TrackSample`` is one)."""

    @property
    def t_s(self) -> float: ...  # UTC epoch seconds

    @property
    def state(self) -> str: ...

    @property
    def vehicle_key(self) -> str: ...


@dataclass(frozen=True)
class Thresholds:
    """The F3548 aggregate limits the figures are judged against."""

    min_conforming_pct: float = 95.0
    max_excursions_per_flight_hour: float = 18.0
    max_excursion_s: float = 10.0


F3548 = Thresholds()


@dataclass(frozen=True)
class Excursion:
    """One run of breach samples of one vehicle: when, how long, which state first."""

    vehicle_key: str
    start_s: float
    duration_s: float
    state: str


@dataclass(frozen=True)
class FlightTally:
    """Seconds of flight by kind, and the excursions, of one or more vehicles."""

    flight_s: float = 0.0
    conforming_s: float = 0.0
    nonconforming_s: float = 0.0
    unclassified_s: float = 0.0
    excursions: tuple[Excursion, ...] = ()
    vehicle_keys: frozenset[str] = field(default_factory=frozenset)

    def __add__(self, other: FlightTally) -> FlightTally:
        return FlightTally(
            self.flight_s + other.flight_s,
            self.conforming_s + other.conforming_s,
            self.nonconforming_s + other.nonconforming_s,
            self.unclassified_s + other.unclassified_s,
            self.excursions + other.excursions,
            self.vehicle_keys | other.vehicle_keys,
        )


def tally_series(
    samples: Iterable[TimedState], *, max_gap_s: float = MAX_GAP_S
) -> FlightTally:
    """Return the flight tally of one vehicle's samples, given in time order.

    ``ValueError`` when the samples go back in time or mix vehicles: the caller
    orders and groups them (``tally_samples`` does both).
    """
    if not max_gap_s > 0:
        raise ValueError(f"max_gap_s must be positive, not {max_gap_s}")
    flight = conforming = breach = unclassified = 0.0
    excursions: list[Excursion] = []
    run: Excursion | None = None
    key: str | None = None
    prev: TimedState | None = None
    for sample in itertools.chain(samples, [None]):
        if sample is not None:
            if key is None:
                key = sample.vehicle_key
            elif sample.vehicle_key != key:
                raise ValueError(
                    f"one series mixes vehicles {key!r} and {sample.vehicle_key!r}"
                )
            if prev is not None and sample.t_s < prev.t_s:
                raise ValueError(
                    f"samples of {key!r} go back in time: {sample.t_s} after {prev.t_s}"
                )
        if prev is not None:
            dt = 0.0 if sample is None else sample.t_s - prev.t_s
            counted = prev.state != GROUND_STATE and dt <= max_gap_s
            credit = dt if counted else 0.0
            flight += credit
            if prev.state in BREACH_STATES:
                breach += credit
                if run is None:
                    run = Excursion(prev.vehicle_key, prev.t_s, 0.0, prev.state)
                run = dataclasses.replace(run, duration_s=run.duration_s + credit)
            elif prev.state in CONFORMING_STATES:
                conforming += credit
            elif prev.state != GROUND_STATE:
                unclassified += credit
            ends_run = (
                sample is None or not counted or sample.state not in BREACH_STATES
            )
            if run is not None and ends_run:
                excursions.append(run)
                run = None
        prev = sample
    return FlightTally(
        flight,
        conforming,
        breach,
        unclassified,
        tuple(excursions),
        frozenset() if key is None else frozenset({key}),
    )


def tally_samples(
    samples: Iterable[TimedState], *, max_gap_s: float = MAX_GAP_S
) -> FlightTally:
    """Return the tally of samples of any vehicles, in any order (sorted here)."""
    ordered = sorted(samples, key=lambda s: (s.vehicle_key, s.t_s))
    total = FlightTally()
    for _, series in itertools.groupby(ordered, key=lambda s: s.vehicle_key):
        total += tally_series(series, max_gap_s=max_gap_s)
    return total


@dataclass(frozen=True)
class Check:
    """One measure against its threshold; ``passed`` is None with nothing to judge."""

    value: float | None
    threshold: float
    limit: str
    """``"min"``: the value must be at least the threshold; ``"max"``: at most."""

    @property
    def passed(self) -> bool | None:
        """True/False against the threshold, None when there is no value."""
        if self.value is None:
            return None
        if self.limit == "min":
            return self.value >= self.threshold
        return self.value <= self.threshold


@dataclass(frozen=True)
class ConformanceReport:
    """The aggregate conformance figures of one operator over one period."""

    tally: FlightTally
    link_losses: int
    thresholds: Thresholds = F3548

    @property
    def flight_hours(self) -> float:
        """Flight time in hours."""
        return self.tally.flight_s / SECONDS_PER_HOUR

    @property
    def conforming_pct(self) -> float | None:
        """Share of flight time conforming, in percent; None without flight time."""
        if self.tally.flight_s <= 0:
            return None
        return 100.0 * self.tally.conforming_s / self.tally.flight_s

    @property
    def excursion_count(self) -> int:
        """How many excursions."""
        return len(self.tally.excursions)

    @property
    def excursions_per_flight_hour(self) -> float | None:
        """Excursions per hour of flight; None without flight time."""
        if self.tally.flight_s <= 0:
            return None
        # Multiply first: 2 * 3600 / 8 is exactly 900, 2 / (8 / 3600) is not.
        return self.excursion_count * SECONDS_PER_HOUR / self.tally.flight_s

    @property
    def longest_excursion(self) -> Excursion | None:
        """The longest excursion (the earliest of equals), or None."""
        if not self.tally.excursions:
            return None
        return max(self.tally.excursions, key=lambda e: (e.duration_s, -e.start_s))

    @property
    def longest_excursion_s(self) -> float | None:
        """Duration of the longest excursion; 0 with flight but none; None unflown."""
        longest = self.longest_excursion
        if longest is not None:
            return longest.duration_s
        return 0.0 if self.tally.flight_s > 0 else None

    @property
    def checks(self) -> dict[str, Check]:
        """The three F3548 measures against their thresholds, by measure name."""
        t = self.thresholds
        return {
            "conforming_pct": Check(self.conforming_pct, t.min_conforming_pct, "min"),
            "excursions_per_flight_hour": Check(
                self.excursions_per_flight_hour,
                t.max_excursions_per_flight_hour,
                "max",
            ),
            "longest_excursion_s": Check(
                self.longest_excursion_s, t.max_excursion_s, "max"
            ),
        }

    @property
    def passed(self) -> bool | None:
        """True when every measure passes, False when one fails, None unflown."""
        results = [c.passed for c in self.checks.values()]
        if any(r is False for r in results):
            return False
        return None if any(r is None for r in results) else True

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON-ready figures (seconds, hours, percent)."""
        longest = self.longest_excursion
        return {
            "vehicles": len(self.tally.vehicle_keys),
            "flight_s": self.tally.flight_s,
            "flight_hours": self.flight_hours,
            "conforming_s": self.tally.conforming_s,
            "nonconforming_s": self.tally.nonconforming_s,
            "unclassified_s": self.tally.unclassified_s,
            "conforming_pct": self.conforming_pct,
            "excursions": self.excursion_count,
            "excursions_per_flight_hour": self.excursions_per_flight_hour,
            "longest_excursion_s": self.longest_excursion_s,
            "longest_excursion": None
            if longest is None
            else {
                "vehicle_key": longest.vehicle_key,
                "start_s": longest.start_s,
                "duration_s": longest.duration_s,
                "state": longest.state,
            },
            "link_losses": self.link_losses,
            "checks": {
                name: {
                    "value": c.value,
                    "threshold": c.threshold,
                    "limit": c.limit,
                    "passed": c.passed,
                }
                for name, c in self.checks.items()
            },
            "passed": self.passed,
        }


CSV_COLUMNS: Sequence[str] = (
    "operator_id",
    "from",
    "to",
    "vehicles",
    "flight_s",
    "flight_hours",
    "conforming_s",
    "nonconforming_s",
    "unclassified_s",
    "conforming_pct",
    "min_conforming_pct",
    "conforming_pct_passed",
    "excursions",
    "excursions_per_flight_hour",
    "max_excursions_per_flight_hour",
    "excursions_per_flight_hour_passed",
    "longest_excursion_s",
    "max_excursion_s",
    "longest_excursion_s_passed",
    "link_losses",
    "passed",
)
"""The columns of ``csv_row``, in order."""


def csv_row(
    operator_id: str, start: str, end: str, report: ConformanceReport
) -> Mapping[str, Any]:
    """Return one CSV row (``CSV_COLUMNS``) of ``report``; None values stay None."""
    d = report.as_dict()
    checks = d["checks"]
    limits = report.thresholds
    values = {
        **d,
        "operator_id": operator_id,
        "from": start,
        "to": end,
        "min_conforming_pct": checks["conforming_pct"]["threshold"],
        "conforming_pct_passed": checks["conforming_pct"]["passed"],
        "max_excursions_per_flight_hour": limits.max_excursions_per_flight_hour,
        "excursions_per_flight_hour_passed": checks["excursions_per_flight_hour"][
            "passed"
        ],
        "max_excursion_s": limits.max_excursion_s,
        "longest_excursion_s_passed": checks["longest_excursion_s"]["passed"],
    }
    return {column: values[column] for column in CSV_COLUMNS}
