"""The operator's corrections to detected flights: split one, merge two.

Detection (``detection``) is a rule; the operator who flew knows better when a
landing was a pause or a hover was two sorties. Corrections are kept as
*overrides* (``booking.flight_edits``), never by storing flights: the flights are
detected again from the recording each time and the overrides are applied in the
order they were made. Each names a time, not a flight number, because numbers
move when an earlier flight is split.

- ``split`` at ``t``: the flight flying at ``t`` (take-off before, landing after)
  becomes two: up to the last sample before ``t``, and from the first at or
  after ``t``.
- ``merge`` at ``t``: the last flight starting at or before ``t`` and the one
  after it become one (``t`` may be any time in the first or in the gap).

An override that finds no such flight changes nothing and is reported as not
applied, so the page can say so instead of hiding it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from telemetry.flights.detection import FlightSpan, span_of
from telemetry.flights.samples import FlightSample


class EditKind(enum.StrEnum):
    """What an override does to the detected flights."""

    SPLIT = "split"
    MERGE = "merge"


@dataclass(frozen=True, slots=True)
class SpanEdit:
    """One override: ``kind`` at ``at_t_s`` (UTC epoch seconds)."""

    kind: EditKind
    at_t_s: float


def apply_edits(
    samples: Sequence[FlightSample],
    spans: Sequence[FlightSpan],
    edits: Sequence[SpanEdit],
    gap_s: float,
) -> tuple[list[FlightSpan], list[bool]]:
    """Return the spans after the edits (in order) and, per edit, whether it
    applied. ``spans`` index into ``samples`` (``detect_flights``'s output)."""
    out = list(spans)
    applied: list[bool] = []
    for edit in edits:
        if edit.kind is EditKind.SPLIT:
            changed = _split(samples, out, edit.at_t_s, gap_s)
        else:
            changed = _merge(samples, out, edit.at_t_s, gap_s)
        applied.append(changed)
    return out, applied


def _split(
    samples: Sequence[FlightSample], spans: list[FlightSpan], t: float, gap_s: float
) -> bool:
    for n, span in enumerate(spans):
        if not span.start_t_s < t < samples[span.last].t_s:
            continue
        cut = next(i for i in range(span.first, span.last + 1) if samples[i].t_s >= t)
        if cut <= span.first:
            return False
        spans[n : n + 1] = [
            span_of(samples, span.first, cut - 1, 0, gap_s),
            span_of(samples, cut, span.last, 0, gap_s, complete=span.complete),
        ]
        return True
    return False


def _merge(
    samples: Sequence[FlightSample], spans: list[FlightSpan], t: float, gap_s: float
) -> bool:
    earlier = [n for n, s in enumerate(spans) if s.start_t_s <= t]
    if not earlier or earlier[-1] + 1 >= len(spans):
        return False
    n = earlier[-1]
    a, b = spans[n], spans[n + 1]
    # The landing between them becomes a touch-and-go of the merged flight.
    touch_and_goes = a.touch_and_goes + b.touch_and_goes + 1
    spans[n : n + 2] = [
        span_of(samples, a.first, b.last, touch_and_goes, gap_s, complete=b.complete)
    ]
    return True
