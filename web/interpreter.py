"""Interpreter settings for a long-running server process (``skyberth serve``,
``gateway``, ``web``), applied once the app has started.

Measured on the gateway benchmark (1,000 drones, 100 viewers), with Python's
defaults:

- **Garbage collection** took ~4 s of CPU in a 30 s run, with pauses of up to
  185 ms: a full collection walks every object the app holds (the web framework,
  pymavlink's message tables, the fleet directory), and the first generation filled
  up about every millisecond. ``gc.freeze()`` moves what exists after start-up out
  of the collector's sight (it lives as long as the process anyway), and a larger
  first generation lets short-lived objects die by reference counting first.
- **The GIL switch interval.** The recorder's writer threads give the GIL up at
  every database step and file write, then wait for it behind the busy event loop;
  at the default 5 ms an incident took ~50 ms to store under load, at 1 ms ~16 ms.
  The number of hand-overs is the same either way.
"""

from __future__ import annotations

import gc
import sys
from typing import Final

GIL_SWITCH_INTERVAL_S: Final = 0.001
GC_THRESHOLDS: Final = (20_000, 10, 10)
"""First generation: objects; older ones: collections of the one below."""


def tune_for_serving() -> None:
    """Apply the settings above to this process; call once, after start-up."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
