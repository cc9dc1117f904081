"""CPA/TCPA against cases worked by hand (metres east/north, m/s)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from airspace.cpa import KNOT_MPS, cpa_matrix, cpa_pair, velocity_en

# (drone xy, drone v, vessel xy, vessel v, range, tcpa, dcpa), each worked by hand:
CASES = [
    # head-on: r=(1000,0), w=(-20,0): TCPA = 20000/400 = 50 s, they meet
    pytest.param((0, 0), (10, 0), (1000, 0), (-10, 0), 1000.0, 50.0, 0.0, id="head-on"),
    # crossing at right angles, both reach the origin at t=50
    pytest.param(
        (0, -500), (0, 10), (-500, 0), (10, 0), 500 * math.sqrt(2), 50.0, 0.0,
        id="crossing-collision",
    ),
    # crossing, vessel 100 m further north: r=(-500,600), w=(10,-10),
    # TCPA = 11000/200 = 55 s, r + 55 w = (50, 50) -> DCPA = 50 sqrt 2
    pytest.param(
        (0, -500), (0, 10), (-500, 100), (10, 0), math.hypot(500, 600), 55.0,
        50 * math.sqrt(2), id="crossing-miss",
    ),
    # parallel, same velocity 300 m abeam: range constant, TCPA 0
    pytest.param((0, 0), (5, 5), (300, 0), (5, 5), 300.0, 0.0, 300.0, id="parallel"),
    # diverging: r=(100,0), w=(5,0): TCPA = -500/25 = -20 s; closest is now
    pytest.param((0, 0), (0, 0), (100, 0), (5, 0), 100.0, -20.0, 100.0, id="diverging"),
]  # fmt: skip


@pytest.mark.parametrize(("pa", "va", "pb", "vb", "rng", "tcpa", "dcpa"), CASES)
def test_cpa_matches_the_hand_computed_case(
    pa: tuple[float, float],
    va: tuple[float, float],
    pb: tuple[float, float],
    vb: tuple[float, float],
    rng: float,
    tcpa: float,
    dcpa: float,
) -> None:
    m = cpa_matrix([pa], [va], [pb], [vb])
    assert m.range_m.shape == (1, 1)
    assert m.range_m[0, 0] == pytest.approx(rng)
    assert m.tcpa_s[0, 0] == pytest.approx(tcpa)
    assert m.dcpa_m[0, 0] == pytest.approx(dcpa, abs=1e-9)
    assert cpa_pair(pa, va, pb, vb) == pytest.approx((rng, tcpa, dcpa), abs=1e-9)


def test_velocity_from_course_is_east_north() -> None:
    v = velocity_en([10 / KNOT_MPS * KNOT_MPS, 2.0], [90.0, 180.0])
    assert v == pytest.approx(np.array([[10.0, 0.0], [0.0, -2.0]]), abs=1e-12)


def test_matrix_agrees_with_the_per_pair_loop_on_random_traffic() -> None:
    rng = np.random.default_rng(20)
    pa, va = rng.uniform(-5e3, 5e3, (7, 2)), rng.uniform(-15, 15, (7, 2))
    pb, vb = rng.uniform(-5e3, 5e3, (11, 2)), rng.uniform(-12, 12, (11, 2))
    m = cpa_matrix(pa, va, pb, vb)
    for i in range(7):
        for j in range(11):
            r, t, d = cpa_pair(tuple(pa[i]), tuple(va[i]), tuple(pb[j]), tuple(vb[j]))
            assert (m.range_m[i, j], m.tcpa_s[i, j], m.dcpa_m[i, j]) == pytest.approx(
                (r, t, d)
            )


def test_empty_inputs_give_empty_matrices() -> None:
    m = cpa_matrix(np.empty((0, 2)), np.empty((0, 2)), [(1, 2)], [(0, 0)])
    assert m.dcpa_m.shape == (0, 1)


def test_the_proximity_benchmark_runs_on_a_tiny_case(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench.ais_proximity import main

    summary = main(vessels=5, drones=4, repeats=1, loop_sample=20)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == summary
    assert summary["pairs"] == 20
