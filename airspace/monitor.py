"""Per-drone conformance state machines: samples in, debounced events out.

The engine says, per sample, where each drone is. This module turns that into the
events people act on, without flapping on GNSS noise:

- A breach (``corridor_exit_lateral``, ``corridor_exit_vertical``, ``boundary_exit``,
  ``exclusion_entry``, ``unbooked_flight``) is raised once it is *confirmed*:
  ``confirm_samples`` consecutive breaching samples (default 2). One wild sample
  between good ones raises nothing; at 10 Hz a real breach is raised 100 ms after
  its first sample.
- ``returned`` closes a breach after ``return_samples`` consecutive samples back
  inside (default 3): hysteresis, so a drone hugging the edge makes one excursion,
  not a string of them. Invariant: never two breach events for a drone without a
  ``returned`` in between.
- A worse breach during an open one (a corridor exit that drifts into an exclusion
  zone) is reported as ``breach_escalated``, confirmed the same way; it is not a new
  breach and needs no ``returned`` of its own.
- Warnings (``near_edge``, ``predicted_exit``) fire at once but only when armed;
  firing (or a breach) disarms them, and they re-arm after the drone has been
  clear (INSIDE, no predicted exit) for ``rearm_after_s`` seconds.

Everything runs on numpy arrays over all drones of a batch; Python work is spent only
on drones that emit an event. The monitor is pure: it reads no clock, time is the
``now_s`` each batch is given (UTC epoch seconds).
"""

from __future__ import annotations

import enum
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from airspace.conformance import ConformanceResult, ConformanceState

_BREACH_FLOOR = int(ConformanceState.OUTSIDE_VERTICAL)


class EventKind(enum.StrEnum):
    """What a conformance event reports."""

    NEAR_EDGE = "near_edge"
    """Warning: inside, within the near-edge band."""
    PREDICTED_EXIT = "predicted_exit"
    """Warning: the current velocity leaves the volume within the horizon."""
    CORRIDOR_EXIT_LATERAL = "corridor_exit_lateral"
    CORRIDOR_EXIT_VERTICAL = "corridor_exit_vertical"
    BOUNDARY_EXIT = "boundary_exit"
    EXCLUSION_ENTRY = "exclusion_entry"
    UNBOOKED_FLIGHT = "unbooked_flight"
    BREACH_ESCALATED = "breach_escalated"
    """An open breach became a worse one (``state`` says which)."""
    RETURNED = "returned"
    """The open breach is over: the drone is back inside, confirmed."""


BREACH_KIND_OF_STATE: dict[ConformanceState, EventKind] = {
    ConformanceState.OUTSIDE_VERTICAL: EventKind.CORRIDOR_EXIT_VERTICAL,
    ConformanceState.OUTSIDE_LATERAL: EventKind.CORRIDOR_EXIT_LATERAL,
    ConformanceState.UNASSIGNED: EventKind.UNBOOKED_FLIGHT,
    ConformanceState.OUTSIDE_BOUNDARY: EventKind.BOUNDARY_EXIT,
    ConformanceState.IN_EXCLUSION: EventKind.EXCLUSION_ENTRY,
}
BREACH_KINDS = frozenset(BREACH_KIND_OF_STATE.values())
"""Event kinds that open a breach; each is closed by exactly one ``returned``."""


@dataclass(frozen=True)
class MonitorSettings:
    """Debounce and hysteresis of the monitor; defaults suit 1-10 Hz telemetry."""

    confirm_samples: int = 2
    """Consecutive breaching samples before a breach (or escalation) is raised."""
    return_samples: int = 3
    """Consecutive non-breaching samples before ``returned``."""
    predict_warn_s: float = 10.0
    """``predicted_exit`` fires when ``0 < seconds_to_exit <= predict_warn_s``."""
    rearm_after_s: float = 5.0
    """Seconds clear of every warning condition before warnings re-arm."""

    def __post_init__(self) -> None:
        if self.confirm_samples < 1 or self.return_samples < 1:
            raise ValueError("confirm_samples and return_samples must be >= 1")
        if self.rearm_after_s < 0 or self.predict_warn_s < 0:
            raise ValueError("rearm_after_s and predict_warn_s must be >= 0")


@dataclass(frozen=True)
class ConformanceEvent:
    """One event about one drone, from the sample evaluated at ``t_s``.

    ``t_s`` is the ``now_s`` the monitor was given (UTC epoch seconds). The other
    fields copy the triggering sample's conformance. For ``returned`` and
    ``breach_escalated``, ``breach`` is the breach kind that ends or is now open and
    ``breach_started_s`` when it was raised.
    """

    drone_id: Hashable
    kind: EventKind
    t_s: float
    state: ConformanceState
    volume_index: int
    exclusion_index: int
    lateral_distance_m: float
    vertical_distance_m: float
    seconds_to_exit: float
    breach: EventKind | None = None
    breach_started_s: float | None = None


class FleetMonitor:
    """The state machines of a whole fleet, keyed by drone id, updated per batch."""

    def __init__(self, settings: MonitorSettings | None = None) -> None:
        self.settings = settings or MonitorSettings()
        self._slot_of: dict[Hashable, int] = {}
        self._free: list[int] = []
        self._last_ids: npt.NDArray[np.generic] | None = None
        self._last_slots: npt.NDArray[np.int64] = np.empty(0, np.int64)
        self._capacity = 0
        self._active = np.empty(0, np.int8)
        """Per slot: the open breach's ``ConformanceState`` value, 0 for none."""
        self._active_since = np.empty(0, np.float64)
        self._breach_run = np.empty(0, np.int32)
        self._good_run = np.empty(0, np.int32)
        self._escalate_run = np.empty(0, np.int32)
        self._near_armed = np.empty(0, np.bool_)
        self._predict_armed = np.empty(0, np.bool_)
        self._clear_since = np.empty(0, np.float64)
        self._grow(64)

    def __len__(self) -> int:
        return len(self._slot_of)

    def _grow(self, capacity: int) -> None:
        """Make room for ``capacity`` drones; new slots join the free list."""
        old = self._capacity
        self._capacity = capacity
        self._active = _resized(self._active, capacity, 0)
        self._active_since = _resized(self._active_since, capacity, np.nan)
        self._breach_run = _resized(self._breach_run, capacity, 0)
        self._good_run = _resized(self._good_run, capacity, 0)
        self._escalate_run = _resized(self._escalate_run, capacity, 0)
        self._near_armed = _resized(self._near_armed, capacity, True)
        self._predict_armed = _resized(self._predict_armed, capacity, True)
        self._clear_since = _resized(self._clear_since, capacity, np.nan)
        self._free.extend(range(capacity - 1, old - 1, -1))

    def _reset(self, slots: npt.NDArray[np.int64]) -> None:
        self._active[slots] = 0
        self._active_since[slots] = np.nan
        self._breach_run[slots] = 0
        self._good_run[slots] = 0
        self._escalate_run[slots] = 0
        self._near_armed[slots] = True
        self._predict_armed[slots] = True
        self._clear_since[slots] = np.nan

    def _slots(self, ids: npt.NDArray[np.generic]) -> npt.NDArray[np.int64]:
        """Return the slot of each id, allocating slots for new drones."""
        last = self._last_ids
        if last is not None and last.shape == ids.shape and np.array_equal(last, ids):
            return self._last_slots
        slot_of = self._slot_of
        slots = np.fromiter(
            (slot_of.get(i, -1) for i in ids.tolist()), np.int64, ids.size
        )
        new = np.flatnonzero(slots < 0)
        if new.size:
            fresh = []
            for row in new.tolist():
                key = ids[row].item() if isinstance(ids[row], np.generic) else ids[row]
                if key in slot_of:  # the same new id twice in one batch
                    slots[row] = slot_of[key]
                    continue
                if not self._free:
                    self._grow(self._capacity * 2)
                slot = self._free.pop()
                slot_of[key] = slot
                slots[row] = slot
                fresh.append(slot)
            self._reset(np.asarray(fresh, np.int64))
        self._last_ids = ids.copy()
        self._last_slots = slots
        return slots

    def forget(self, drone_id: Hashable) -> None:
        """Drop a drone's state (landed, gone); an open breach is dropped too."""
        slot = self._slot_of.pop(drone_id, None)
        if slot is not None:
            self._free.append(slot)
            self._last_ids = None

    def open_breach(self, drone_id: Hashable) -> EventKind | None:
        """Return the kind of the drone's open breach, None when there is none."""
        slot = self._slot_of.get(drone_id)
        if slot is None or self._active[slot] == 0:
            return None
        return BREACH_KIND_OF_STATE[ConformanceState(int(self._active[slot]))]

    def update(self, result: ConformanceResult, now_s: float) -> list[ConformanceEvent]:
        """Advance every drone of ``result`` by one sample; return the batch's events.

        Each drone should appear at most once per batch. Drones absent from a batch
        keep their state unchanged.
        """
        cfg = self.settings
        slots = self._slots(np.asarray(result.drone_id))
        state = result.state.astype(np.int8, copy=False)
        breaching = state >= _BREACH_FLOOR

        active = self._active[slots]
        breach_run = np.where(breaching, self._breach_run[slots] + 1, 0)
        good_run = np.where(breaching, 0, self._good_run[slots] + 1)
        worse = (active > 0) & (state > active)
        escalate_run = np.where(worse, self._escalate_run[slots] + 1, 0)

        raised = (active == 0) & breaching & (breach_run >= cfg.confirm_samples)
        escalated = worse & (escalate_run >= cfg.confirm_samples)
        returned = (active > 0) & (good_run >= cfg.return_samples)
        previous_active = active.copy()
        active_since = self._active_since[slots]
        np.copyto(active, state, where=raised | escalated)
        active[returned] = 0
        active_since[raised] = now_s
        escalate_run[escalated] = 0

        ste = result.seconds_to_exit
        with np.errstate(invalid="ignore"):
            predicting = (ste > 0) & (ste <= cfg.predict_warn_s)
        calm = active == 0
        clear = calm & (state == ConformanceState.INSIDE) & ~predicting
        clear_since = self._clear_since[slots]
        clear_since = np.where(
            clear, np.where(np.isnan(clear_since), now_s, clear_since), np.nan
        )
        rearm = clear & (now_s - clear_since >= cfg.rearm_after_s)
        near_armed = (self._near_armed[slots] | rearm) & ~raised
        predict_armed = (self._predict_armed[slots] | rearm) & ~raised
        warn_ok = calm & ~breaching
        near = warn_ok & near_armed & (state == ConformanceState.NEAR_EDGE)
        predict = warn_ok & predict_armed & predicting
        near_armed &= ~near
        predict_armed &= ~predict

        self._active[slots] = active
        self._active_since[slots] = active_since
        self._breach_run[slots] = breach_run
        self._good_run[slots] = good_run
        self._escalate_run[slots] = escalate_run
        self._near_armed[slots] = near_armed
        self._predict_armed[slots] = predict_armed
        self._clear_since[slots] = clear_since

        events: list[ConformanceEvent] = []
        for row in np.flatnonzero(
            raised | escalated | returned | near | predict
        ).tolist():
            sample = _Sample(result, row, now_s)
            if raised[row]:
                events.append(sample.event(BREACH_KIND_OF_STATE[sample.state]))
            elif escalated[row]:
                events.append(
                    sample.event(
                        EventKind.BREACH_ESCALATED,
                        breach=BREACH_KIND_OF_STATE[sample.state],
                        started=float(active_since[row]),
                    )
                )
            elif returned[row]:
                ended = ConformanceState(int(previous_active[row]))
                events.append(
                    sample.event(
                        EventKind.RETURNED,
                        breach=BREACH_KIND_OF_STATE[ended],
                        started=float(active_since[row]),
                    )
                )
            if near[row]:
                events.append(sample.event(EventKind.NEAR_EDGE))
            if predict[row]:
                events.append(sample.event(EventKind.PREDICTED_EXIT))
        return events


A = TypeVar("A", bound=np.generic)


def _resized(array: npt.NDArray[A], capacity: int, fill: object) -> npt.NDArray[A]:
    """Return ``array`` grown to ``capacity``, new cells set to ``fill``."""
    out = np.full(capacity, fill, dtype=array.dtype)
    out[: array.size] = array
    return out


@dataclass(frozen=True)
class _Sample:
    """One row of a result, for building its events."""

    result: ConformanceResult
    row: int
    now_s: float

    @property
    def state(self) -> ConformanceState:
        return self.result.state_of(self.row)

    def event(
        self,
        kind: EventKind,
        breach: EventKind | None = None,
        started: float | None = None,
    ) -> ConformanceEvent:
        r, i = self.result, self.row
        drone_id = r.drone_id[i]
        return ConformanceEvent(
            drone_id=drone_id.item() if isinstance(drone_id, np.generic) else drone_id,
            kind=kind,
            t_s=self.now_s,
            state=self.state,
            volume_index=int(r.volume_index[i]),
            exclusion_index=int(r.in_exclusion[i]),
            lateral_distance_m=float(r.lateral_distance_m[i]),
            vertical_distance_m=float(r.vertical_distance_m[i]),
            seconds_to_exit=float(r.seconds_to_exit[i]),
            breach=breach,
            breach_started_s=started,
        )
