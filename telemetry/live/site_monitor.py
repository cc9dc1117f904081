"""Conformance of one site's flying vehicles, one batch per gateway tick.

Wraps the airspace engine and the debouncing ``FleetMonitor`` for a site. A
booking holds its corridor plus the transits between its pads and that corridor
(``airspace.transit``), or only its pad's column when it booked no corridor. The
engine's assignable volumes are therefore every corridor, every pad-to-corridor
transit and every pad column; each drone is checked against its corridor first,
and a drone outside it or near its edge is checked again against its booking's
transits and keeps the better answer, so margins and near-edge warnings are
measured against the whole booked volume (corridor and transits). In a transit,
near-edge and predicted-exit warnings are off: the way out of a transit is
normally into the corridor.

Exclusions are the site's exclusion geofences plus the area closures active now;
the boundary is the site's inclusion boundary. The engine is rebuilt only when the
set of active closures changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import fields as dc_fields

import numpy as np
import numpy.typing as npt

from airspace.conformance import (
    ConformanceEngine,
    ConformanceResult,
    ConformanceState,
    DroneBatch,
)
from airspace.monitor import ConformanceEvent, FleetMonitor, MonitorSettings
from airspace.site import Site
from airspace.transit import pad_column, transit_volume
from airspace.volume import Volume
from telemetry.live.fleet import AreaClosure
from telemetry.live.vehicles import SAMPLE_FIELDS, VehicleState

STATE_NAMES: dict[int, str] = {int(s): s.name.lower() for s in ConformanceState}
_INSIDE = int(ConformanceState.INSIDE)
_NEAR_EDGE = int(ConformanceState.NEAR_EDGE)
_OUTSIDE_VERTICAL = int(ConformanceState.OUTSIDE_VERTICAL)


class SiteMonitor:
    """Evaluates a site's vehicles and keeps their debounced conformance state."""

    def __init__(self, site: Site, monitor: MonitorSettings | None = None) -> None:
        self.site = site
        self.corridor_index: dict[str, int] = {
            c.id: i for i, c in enumerate(site.corridors)
        }
        volumes = [c.volume for c in site.corridors]
        self.transit_index: dict[tuple[str, str], int] = {}
        self.column_index: dict[str, int] = {}
        for pad in site.pads:
            for corridor in site.corridors:
                self.transit_index[(pad.id, corridor.id)] = len(volumes)
                volumes.append(transit_volume(site, pad, corridor))
            self.column_index[pad.id] = len(volumes)
            volumes.append(pad_column(site, pad))
        self._volumes = volumes
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
            self._volumes,
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

    def _primary(self, v: VehicleState) -> int:
        if v.corridor_id is not None:
            return self.corridor_index.get(v.corridor_id, -1)
        pad = v.takeoff_pad_id or v.landing_pad_id
        if pad is not None and v.booking_id is not None:
            return self.column_index.get(pad, -1)
        return -1

    def _transit(self, v: VehicleState, pad_id: str | None) -> int:
        if pad_id is None or v.corridor_id is None:
            return -1
        return self.transit_index.get((pad_id, v.corridor_id), -1)

    def evaluate(
        self, vehicles: Sequence[VehicleState], now_s: float
    ) -> tuple[ConformanceResult | None, list[ConformanceEvent]]:
        """Check ``vehicles`` (flying, with a fresh position) and update their state."""
        if not vehicles:
            return None, []
        n = len(vehicles)
        # The packed rows joined, then whole columns: a batch has only ~100
        # vehicles, so per-vehicle Python would dominate (a row per vehicle read
        # into an array cost eight times as much).
        rows = np.frombuffer(b"".join([v.last_row for v in vehicles]), np.float64)
        cols = rows.reshape(n, len(SAMPLE_FIELDS)).T.copy()
        t, lat, lon, alt, _, vn, ve, vd = cols[:8]
        primary = self._primary
        vol = np.array([primary(v) for v in vehicles], dtype=np.int64)
        ids = np.empty(n, dtype=object)
        ids[:] = [v.key for v in vehicles]
        batch = DroneBatch(ids, lon, lat, alt, vn, ve, vd, t, vol)
        x_m, y_m = self.site.projection.to_metric(lon, lat)
        result = self.engine.evaluate_metric(batch, x_m, y_m)
        result = self._with_transits(vehicles, batch, result, x_m, y_m)
        events = self.monitor.update(result, now_s)
        states = result.state.tolist()
        margins = result.lateral_distance_m.tolist()
        exits = result.seconds_to_exit.tolist()
        isfinite = math.isfinite
        for v, code, margin, exit_s in zip(
            vehicles, states, margins, exits, strict=True
        ):
            v.conformance = STATE_NAMES[code]
            if code != v.state_code:
                # The newest row was stamped with the previous state on arrival.
                v.mark_state(code)
            v.lateral_margin_m = margin if isfinite(margin) else None
            v.seconds_to_exit = exit_s if isfinite(exit_s) else None
        return result, events

    def _with_transits(
        self,
        vehicles: Sequence[VehicleState],
        batch: DroneBatch,
        result: ConformanceResult,
        x_m: npt.NDArray[np.float64],
        y_m: npt.NDArray[np.float64],
    ) -> ConformanceResult:
        """``result``, where a drone outside its corridor or near its edge is
        better placed in one of its booking's transits (inside, clear of its
        edge), replaced by the transit's (warnings off): the margin is then the
        booked volume's (corridor and transits), not the corridor's alone."""
        # Near its corridor's edge counts too: margins are measured against the
        # whole booked volume, and where a transit covers the corridor's edge
        # (its entry corner) that edge is no edge at all.
        outside = (result.state >= _NEAR_EDGE) & (batch.volume_index >= 0)
        if not outside.any():
            return result
        fields = {f.name: getattr(result, f.name).copy() for f in dc_fields(result)}
        for pad_attr in ("takeoff_pad_id", "landing_pad_id"):
            alt_index = np.fromiter(
                (self._transit(v, getattr(v, pad_attr)) for v in vehicles),
                np.int64,
                len(vehicles),
            )
            rows = np.flatnonzero(outside & (alt_index >= 0))
            if rows.size == 0:
                continue
            sub = DroneBatch(
                batch.drone_id[rows],
                batch.lon_deg[rows],
                batch.lat_deg[rows],
                batch.alt_amsl_m[rows],
                batch.vn_mps[rows],
                batch.ve_mps[rows],
                batch.vd_mps[rows],
                batch.t_s[rows],
                alt_index[rows],
            )
            other = self.engine.evaluate_metric(sub, x_m[rows], y_m[rows])
            better = other.state < fields["state"][rows]
            if not better.any():
                continue
            take = rows[better]
            for name, array in fields.items():
                array[take] = getattr(other, name)[better]
            # Leaving a transit is normally entering the corridor: no warnings.
            near = fields["state"][take] == _NEAR_EDGE
            fields["state"][take[near]] = _INSIDE
            fields["seconds_to_exit"][take] = np.where(
                fields["seconds_to_exit"][take] > 0, np.inf, 0.0
            )
            outside[take] = fields["state"][take] >= _NEAR_EDGE
        return ConformanceResult(**fields)

    def forget(self, key: str) -> None:
        self.monitor.forget(key)
