"""Benchmark: drone-vessel CPA/TCPA checks per second, vectorised vs a Python loop.

Run ``python bench/ais_proximity.py``. For 500 vessels x 200 flying drones (100,000
pairs), seeded and deterministic, in site metres around the Cyberport pier, it
prints the median of ``REPEATS`` timings of:

- ``cpa``: :func:`airspace.cpa.cpa_matrix` over every pair (the CPA figures alone);
- ``alerts``: :func:`airspace.vessel_proximity.proximity_alerts` (the whole tick's
  check: height and over-water filter, CPA, thresholds, alert objects);
- ``loop``: :func:`airspace.cpa.cpa_pair` in a per-pair Python loop (on
  ``LOOP_SAMPLE`` pairs, extrapolated per pair), the same algebra one pair at a time.

Drones are all over water and low, so every pair is checked (the worst case). The
last line printed is one JSON object with the rates and the ratios to the loop.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

import numpy as np

from airspace.cpa import cpa_matrix, cpa_pair
from airspace.vessel_proximity import ProximityLimits, proximity_alerts

REPEATS = 15
LOOP_SAMPLE = 20_000
SEED = 20
VESSELS = 500
DRONES = 200
SPAN_M = 10_000.0


def median_s(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """Return the median wall time of ``fn`` in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(
    vessels: int = VESSELS,
    drones: int = DRONES,
    repeats: int = REPEATS,
    loop_sample: int = LOOP_SAMPLE,
) -> dict[str, object]:
    """Time the three forms, print their rates (last line JSON) and return it."""
    rng = np.random.default_rng(SEED)
    pa = rng.uniform(0, SPAN_M, (drones, 2))
    va = rng.uniform(-15, 15, (drones, 2))
    pb = rng.uniform(0, SPAN_M, (vessels, 2))
    vb = rng.uniform(-12, 12, (vessels, 2))
    heights = rng.uniform(10, 60, drones)
    water = np.ones(drones, dtype=bool)
    limits = ProximityLimits()
    pairs = drones * vessels

    cpa_s = median_s(lambda: cpa_matrix(pa, va, pb, vb), repeats)
    alerts_s = median_s(
        lambda: proximity_alerts(pa, va, heights, water, pb, vb, limits), repeats
    )
    pa_l, va_l = [tuple(p) for p in pa.tolist()], [tuple(v) for v in va.tolist()]
    pb_l, vb_l = [tuple(p) for p in pb.tolist()], [tuple(v) for v in vb.tolist()]
    sample = [(i % drones, i // drones % vessels) for i in range(loop_sample)]

    def loop() -> None:
        for i, j in sample:
            cpa_pair(pa_l[i], va_l[i], pb_l[j], vb_l[j])

    loop_s = median_s(loop, repeats=3) / loop_sample * pairs
    rates = {
        "cpa_pairs_per_s": pairs / cpa_s,
        "alerts_pairs_per_s": pairs / alerts_s,
        "loop_pairs_per_s": pairs / loop_s,
    }
    for name, rate in rates.items():
        print(f"{name:>22}: {rate:,.0f}")
    summary: dict[str, object] = {
        "case": f"{vessels} vessels x {drones} drones",
        "pairs": pairs,
        **{k: round(v) for k, v in rates.items()},
        "tick_ms": round(alerts_s * 1000, 3),
        "ratio_cpa_vs_loop": round(
            rates["cpa_pairs_per_s"] / rates["loop_pairs_per_s"], 1
        ),
        "ratio_alerts_vs_loop": round(
            rates["alerts_pairs_per_s"] / rates["loop_pairs_per_s"], 1
        ),
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
