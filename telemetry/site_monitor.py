"""Conformance of one site's flying vehicles, one batch per gateway tick.

Wraps the airspace engine and the debouncing ``FleetMonitor`` for a site: the
engine's assignable volumes are the site's corridors (volume index = corridor
position), its exclusions the site's exclusion geofences plus the area closures
active now, its boundary the site's inclusion boundary. The engine is rebuilt only
when the set of active closures changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from airspace.conformance import (
    ConformanceEngine,
    ConformanceResult,
    ConformanceState,
    DroneBatch,
)
from airspace.monitor import ConformanceEvent, FleetMonitor, MonitorSettings
from airspace.site import Site
from airspace.volume import Volume
from telemetry.fleet import AreaClosure
from telemetry.vehicles import VehicleState

STATE_NAMES: dict[int, str] = {int(s): s.name.lower() for s in ConformanceState}


class SiteMonitor:
    """Evaluates a site's vehicles and keeps their debounced conformance state."""

    def __init__(self, site: Site, monitor: MonitorSettings | None = None) -> None:
        self.site = site
        self.corridor_index: dict[str, int] = {
            c.id: i for i, c in enumerate(site.corridors)
        }
        self.monitor = FleetMonitor(monitor)
        self._closure_ids: tuple[int, ...] = ()
        self._exclusion_names: list[str] = []
        self.engine = self._build(())

    def _build(self, closures: Sequence[AreaClosure]) -> ConformanceEngine:
        exclusions: list[Volume] = [g.volume for g in self.site.exclusions]
        names: list[str] = [g.id for g in self.site.exclusions]
        for closure in closures:
            exclusions.append(closure.volume)
            names.append(f"closure {closure.closure_id}")
        self._exclusion_names = names
        boundary = self.site.boundary
        return ConformanceEngine(
            [c.volume for c in self.site.corridors],
            exclusions,
            boundary.volume if boundary is not None else None,
        )

    def exclusion_name(self, index: int) -> str | None:
        if 0 <= index < len(self._exclusion_names):
            return self._exclusion_names[index]
        return None

    def set_closures(self, closures: Sequence[AreaClosure]) -> None:
        """Make ``closures`` (the active area closures) exclusions, if they changed."""
        ids = tuple(sorted(c.closure_id for c in closures))
        if ids != self._closure_ids:
            self._closure_ids = ids
            self.engine = self._build(closures)

    def evaluate(
        self, vehicles: Sequence[VehicleState], now_s: float
    ) -> tuple[ConformanceResult | None, list[ConformanceEvent]]:
        """Check ``vehicles`` (flying, with a fresh position) and update their state.

        Each vehicle's ``corridor_id`` selects its volume (none: unassigned).
        """
        if not vehicles:
            return None, []
        n = len(vehicles)
        lon = np.fromiter((v.lon_deg for v in vehicles), np.float64, n)
        lat = np.fromiter((v.lat_deg for v in vehicles), np.float64, n)
        alt = np.fromiter((v.alt_amsl_m for v in vehicles), np.float64, n)
        vn = np.fromiter((v.vn_mps for v in vehicles), np.float64, n)
        ve = np.fromiter((v.ve_mps for v in vehicles), np.float64, n)
        vd = np.fromiter((v.vd_mps for v in vehicles), np.float64, n)
        t = np.fromiter((v.last_position_s for v in vehicles), np.float64, n)
        index = self.corridor_index
        vol = np.fromiter(
            (
                index.get(v.corridor_id, -1) if v.corridor_id is not None else -1
                for v in vehicles
            ),
            np.int64,
            n,
        )
        ids = np.empty(n, dtype=object)
        ids[:] = [v.key for v in vehicles]
        batch = DroneBatch(ids, lon, lat, alt, vn, ve, vd, t, vol)
        result = self.engine.evaluate(batch, self.site.projection)
        events = self.monitor.update(result, now_s)
        states = result.state.tolist()
        margins = result.lateral_distance_m.tolist()
        exits = result.seconds_to_exit.tolist()
        for i, v in enumerate(vehicles):
            v.conformance = STATE_NAMES[states[i]]
            v.mark_state(states[i])
            margin = margins[i]
            v.lateral_margin_m = margin if math.isfinite(margin) else None
            exit_s = exits[i]
            v.seconds_to_exit = exit_s if math.isfinite(exit_s) else None
        return result, events

    def forget(self, key: str) -> None:
        self.monitor.forget(key)
