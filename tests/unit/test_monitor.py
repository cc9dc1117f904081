"""The fleet monitor debounces conformance samples into events."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from airspace.conformance import ConformanceResult, ConformanceState as S
from airspace.monitor import (
    BREACH_KINDS,
    ConformanceEvent,
    EventKind as K,
    FleetMonitor,
    MonitorSettings,
)

TICK_S = 0.1  # 10 Hz


def result(
    states: Sequence[S],
    ids: Sequence[Hashable] | None = None,
    seconds_to_exit: Sequence[float] | None = None,
) -> ConformanceResult:
    n = len(states)
    state = np.asarray([int(s) for s in states], dtype=np.int8)
    ste = (
        np.asarray(seconds_to_exit, float)
        if seconds_to_exit is not None
        else np.where(state >= S.OUTSIDE_VERTICAL, 0.0, np.inf)
    )
    drone_ids = np.empty(n, dtype=object)
    drone_ids[:] = list(ids) if ids is not None else list(range(n))
    return ConformanceResult(
        drone_id=drone_ids if ids is not None else np.arange(n),
        volume_index=np.where(state == S.UNASSIGNED, -1, 0).astype(np.int64),
        state=state,
        outside_lateral=state == S.OUTSIDE_LATERAL,
        outside_vertical=state == S.OUTSIDE_VERTICAL,
        outside_boundary=state == S.OUTSIDE_BOUNDARY,
        in_exclusion=np.where(state == S.IN_EXCLUSION, 0, -1).astype(np.int64),
        lateral_distance_m=np.full(n, 20.0),
        lateral_distance_exact=np.zeros(n, dtype=bool),
        vertical_distance_m=np.full(n, 20.0),
        seconds_to_exit=ste,
    )


def feed(
    monitor: FleetMonitor, states: Sequence[S], start_s: float = 0.0
) -> list[list[ConformanceEvent]]:
    """Feed one drone's samples at 10 Hz; return the events of each sample."""
    return [
        monitor.update(result([s]), start_s + i * TICK_S) for i, s in enumerate(states)
    ]


def kinds(per_sample: list[list[ConformanceEvent]]) -> list[K]:
    return [e.kind for events in per_sample for e in events]


IN, N, LAT, VERT = S.INSIDE, S.NEAR_EDGE, S.OUTSIDE_LATERAL, S.OUTSIDE_VERTICAL


def test_single_wild_sample_between_good_ones_raises_nothing() -> None:
    assert kinds(feed(FleetMonitor(), [IN, IN, LAT, IN, IN, IN, IN])) == []


def test_breach_is_raised_on_the_second_breaching_sample() -> None:
    per_sample = feed(FleetMonitor(), [IN, LAT, LAT, LAT])
    assert [len(e) for e in per_sample] == [0, 0, 1, 0]
    event = per_sample[2][0]
    assert event.kind is K.CORRIDOR_EXIT_LATERAL
    assert event.t_s == pytest.approx(0.2)  # 100 ms after the first outside sample
    assert event.state is LAT
    assert event.drone_id == 0


def test_returned_only_after_three_samples_back_inside() -> None:
    per_sample = feed(FleetMonitor(), [LAT, LAT, IN, IN, LAT, IN, IN, IN])
    assert kinds(per_sample) == [K.CORRIDOR_EXIT_LATERAL, K.RETURNED]
    returned = per_sample[7][0]
    assert returned.breach is K.CORRIDOR_EXIT_LATERAL
    assert returned.breach_started_s == pytest.approx(0.1)


def test_edge_hugging_drone_makes_one_excursion() -> None:
    noisy = [LAT, LAT, N, LAT, N, N, LAT, N, LAT, LAT, N, N, N]
    assert kinds(feed(FleetMonitor(), noisy)) == [K.CORRIDOR_EXIT_LATERAL, K.RETURNED]


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        (S.OUTSIDE_LATERAL, K.CORRIDOR_EXIT_LATERAL),
        (S.OUTSIDE_VERTICAL, K.CORRIDOR_EXIT_VERTICAL),
        (S.IN_EXCLUSION, K.EXCLUSION_ENTRY),
        (S.UNASSIGNED, K.UNBOOKED_FLIGHT),
        (S.OUTSIDE_BOUNDARY, K.BOUNDARY_EXIT),
    ],
)
def test_each_breach_state_raises_its_kind(state: S, kind: K) -> None:
    assert kinds(feed(FleetMonitor(), [state, state])) == [kind]


def test_mixed_breach_states_still_confirm_a_breach() -> None:
    assert kinds(feed(FleetMonitor(), [VERT, LAT])) == [K.CORRIDOR_EXIT_LATERAL]


def test_worse_breach_during_an_open_one_escalates_without_a_new_breach() -> None:
    x = S.IN_EXCLUSION
    per_sample = feed(FleetMonitor(), [LAT, LAT, x, LAT, x, x, x, IN, IN, IN])
    assert kinds(per_sample) == [
        K.CORRIDOR_EXIT_LATERAL,
        K.BREACH_ESCALATED,
        K.RETURNED,
    ]
    assert per_sample[5][0].breach is K.EXCLUSION_ENTRY
    assert per_sample[-1][0].breach is K.EXCLUSION_ENTRY


def test_near_edge_warns_once_and_rearms_after_being_clear() -> None:
    monitor = FleetMonitor(MonitorSettings(rearm_after_s=1.0))
    per_sample = feed(monitor, [N, N, IN, N, *[IN] * 12, N])
    assert kinds(per_sample) == [K.NEAR_EDGE, K.NEAR_EDGE]
    assert per_sample[-1][0].t_s == pytest.approx(1.6)


def test_predicted_exit_warns_with_the_seconds() -> None:
    monitor = FleetMonitor()
    events = monitor.update(result([IN], seconds_to_exit=[4.5]), 0.0)
    assert [e.kind for e in events] == [K.PREDICTED_EXIT]
    assert events[0].seconds_to_exit == 4.5
    assert monitor.update(result([IN], seconds_to_exit=[4.4]), 0.1) == []


def test_no_warning_right_after_a_return() -> None:
    per_sample = feed(FleetMonitor(), [LAT, LAT, N, N, N, N, N])
    assert kinds(per_sample) == [K.CORRIDOR_EXIT_LATERAL, K.RETURNED]


def test_drones_are_tracked_by_id_whatever_the_batch_order() -> None:
    monitor = FleetMonitor()
    assert monitor.update(result([LAT, IN], ids=["a", "b"]), 0.0) == []
    events = monitor.update(result([IN, LAT], ids=["b", "a"]), 0.1)
    assert [(e.drone_id, e.kind) for e in events] == [("a", K.CORRIDOR_EXIT_LATERAL)]
    assert monitor.open_breach("a") is K.CORRIDOR_EXIT_LATERAL
    assert monitor.open_breach("b") is None
    assert len(monitor) == 2


def test_forget_drops_state() -> None:
    monitor = FleetMonitor()
    feed(monitor, [LAT, LAT])
    monitor.forget(0)
    assert monitor.open_breach(0) is None
    assert kinds(feed(monitor, [LAT, LAT], start_s=1.0)) == [K.CORRIDOR_EXIT_LATERAL]


def test_grows_past_its_initial_capacity() -> None:
    monitor = FleetMonitor()
    n = 1000
    monitor.update(result([LAT] * n), 0.0)
    events = monitor.update(result([LAT] * n), 0.1)
    assert len(events) == n
    assert len({e.drone_id for e in events}) == n


def test_rejects_zero_confirmation() -> None:
    with pytest.raises(ValueError, match="confirm_samples"):
        MonitorSettings(confirm_samples=0)


any_state = st.sampled_from(list(S))
good_state = st.sampled_from([S.INSIDE, S.NEAR_EDGE])
bad_state = st.sampled_from([s for s in S if s >= S.OUTSIDE_VERTICAL])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 3), any_state), max_size=4),
        max_size=40,
    ),
    st.lists(st.floats(0, 20, allow_nan=False), min_size=1, max_size=5),
)
def test_never_two_breaches_without_a_return_between(
    batches: list[list[tuple[int, S]]], exits: list[float]
) -> None:
    monitor = FleetMonitor()
    open_breach: dict[Hashable, bool] = {}
    for tick, rows in enumerate(batches):
        unique = dict(rows)  # one sample per drone per batch
        ids, states = list(unique), list(unique.values())
        ste = [exits[i % len(exits)] for i in range(len(ids))]
        for event in monitor.update(result(states, ids, ste), tick * TICK_S):
            if event.kind in BREACH_KINDS:
                assert not open_breach.get(event.drone_id, False)
                open_breach[event.drone_id] = True
            elif event.kind in (K.RETURNED, K.BREACH_ESCALATED):
                assert open_breach.get(event.drone_id, False)
                if event.kind is K.RETURNED:
                    open_breach[event.drone_id] = False


@settings(max_examples=200, deadline=None)
@given(
    st.lists(good_state, min_size=1, max_size=10),
    bad_state,
    st.lists(good_state, min_size=1, max_size=10),
)
def test_one_outlier_between_good_samples_raises_no_breach(
    before: list[S], outlier: S, after: list[S]
) -> None:
    events = kinds(feed(FleetMonitor(), [*before, outlier, *after]))
    assert not set(events) & (BREACH_KINDS | {K.RETURNED, K.BREACH_ESCALATED})


def test_breach_latency_at_10_hz_is_under_250_ms() -> None:
    per_sample = feed(FleetMonitor(), [IN, IN, LAT, LAT, LAT])
    first_out_s = 2 * TICK_S
    raised_s = next(e.t_s for events in per_sample for e in events)
    assert raised_s - first_out_s < 0.25
    assert math.isclose(raised_s - first_out_s, TICK_S)
