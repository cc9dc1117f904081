"""The web process's live picture (vehicles and vessels) between the bus and its hub.

:class:`VehicleRelay` keeps the latest full record of every vehicle, motion rows
merged in (the snapshot a new viewer gets), merges the batches of several gateways
into one ``vehicles`` frame per ``coalesce_s`` (records and rows passed on as they
came), and marks a vehicle ``link_lost`` when nothing was heard of it for
``stale_s`` (its gateway died: gateways re-send every vehicle each second, so
silence means gone).

It also keeps the latest AIS vessel picture from the gateways' ``vessels`` frames
(changed vessels and the MMSIs that went, docs/live-stream.md), so a web process's
snapshot lists the vessels as a gateway's own does. A vessel nothing was said of
for ``vessel_forget_s`` leaves the picture (its gateway died: a living one says
``gone`` when the vessel goes stale, docs/ais.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from typing import Any

from telemetry.live.bus.base import LiveSink
from telemetry.live.frames import (
    MOTION_KEY,
    MOTION_OPERATOR,
    MotionRow,
    motion_record,
    utc_iso,
)

logger = logging.getLogger(__name__)

_MISSING = object()
VESSEL_FORGET_S = 420.0
"""A gateway drops a vessel silent for 360 s (``SKYBERTH_AIS_STALE_S``) and says so;
the relay forgets one nothing was said of for a minute longer (a dead gateway)."""


def _owner_ok(operator_id: object) -> bool:
    """True for an ``operator_id`` the hub can group by: a string, or None."""
    return operator_id is None or isinstance(operator_id, str)


def _motion_fields(row: object) -> dict[str, Any] | None:
    """``row`` as a mapping of ``MOTION_FIELDS``, or None when it is malformed."""
    if not isinstance(row, list | tuple):
        return None
    try:
        fields = motion_record(row)
    except ValueError:
        return None
    if not isinstance(row[MOTION_KEY], str) or not _owner_ok(row[MOTION_OPERATOR]):
        return None
    return fields


class VehicleRelay:
    """A web process's vehicle picture, fed by the bus, feeding a ``LiveHub``.

    ``publish_vehicles`` (called by the bus) keeps one full record per vehicle
    ``key``: a full record replaces it, a motion row is merged into it (a row of a
    vehicle with no full record yet stands in for one, so the vehicle still shows).
    Both are queued as they came and reach the hub as one ``vehicles`` frame
    ``coalesce_s`` later (at once when ``coalesce_s`` is 0), so several gateways'
    batches cost viewers one frame. Per key at most one of each is queued: a full
    record drops the queued row; a row after a queued record is queued beside it
    (clients apply records before rows, so they end up where the relay is).
    ``expire`` marks vehicles not heard of for ``stale_s`` as ``link_lost`` (and
    publishes their full record) and forgets those silent for ``forget_after_s``.
    Must-keep frames pass straight through. Run ``run`` as a task for the timing;
    every method is for the event loop thread.
    """

    def __init__(
        self,
        hub: LiveSink,
        *,
        stale_s: float = 3.0,
        coalesce_s: float = 0.05,
        expire_every_s: float = 0.5,
        forget_after_s: float = 600.0,
        vessel_forget_s: float = VESSEL_FORGET_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if stale_s <= 0 or coalesce_s < 0 or expire_every_s <= 0:
            raise ValueError(
                f"relay timings must be positive: stale_s={stale_s}, "
                f"coalesce_s={coalesce_s}, expire_every_s={expire_every_s}"
            )
        self._hub = hub
        self.stale_s = stale_s
        self.coalesce_s = coalesce_s
        self.expire_every_s = expire_every_s
        self.forget_after_s = forget_after_s
        self.vessel_forget_s = vessel_forget_s
        self._clock = clock
        self._latest: dict[str, dict[str, Any]] = {}
        self._heard_s: dict[str, float] = {}
        self._marked_lost: set[str] = set()
        # Queued for the next flush. Records are kept apart from ``_latest`` (which
        # rows update in place) so what is queued is what arrived.
        self._pending: dict[str, Mapping[str, Any]] = {}
        self._pending_rows: dict[str, MotionRow] = {}
        self._pending_t_s = 0.0
        self._wakeup = asyncio.Event()
        self._vessels: dict[int, dict[str, Any]] = {}
        """The latest record of each vessel by MMSI, as its gateway sent it."""
        self._vessel_heard_s: dict[int, float] = {}
        self.bad_vehicles = 0
        """Entries refused: a record that is not a mapping, or has no ``key`` or
        ``operator_id``; a row of the wrong length or without a ``key``; either
        with an ``operator_id`` that is neither a string nor None."""
        self.marked_lost_total = 0
        self.bad_vessels = 0
        """Vessel records without an integer ``mmsi`` (skipped)."""
        self.lag_s = 0.0
        """Receive time minus gateway tick of the latest batch: the bus's delay
        (plus any clock difference between the machines)."""

    # -- LiveSink ----------------------------------------------------------------

    def publish_vehicles(
        self,
        t_s: float,
        vehicles: Sequence[Mapping[str, Any]],
        motion: Sequence[MotionRow] = (),
    ) -> None:
        """Take a batch from the bus: update each vehicle, queue it for the hub.

        Malformed entries (they came over the network) are counted in
        ``bad_vehicles`` and skipped; this never raises for them.
        """
        now_s = self._clock()
        heard = False
        for vehicle in vehicles:
            key = vehicle.get("key") if isinstance(vehicle, Mapping) else None
            if not isinstance(key, str) or not _owner_ok(
                vehicle.get("operator_id", _MISSING)
            ):
                # The hub must know the owner of every vehicle it shows.
                self.bad_vehicles += 1
                continue
            self._latest[key] = dict(vehicle)
            self._pending[key] = vehicle
            self._pending_rows.pop(key, None)  # older than this record
            self._heard(key, now_s)
            heard = True
        for row in motion:
            fields = _motion_fields(row)
            if fields is None:
                self.bad_vehicles += 1
                continue
            key = fields["key"]
            latest = self._latest.get(key)
            if latest is None:
                self._latest[key] = fields
            else:
                latest.update(fields)
            self._pending_rows[key] = tuple(row)
            self._heard(key, now_s)
            heard = True
        if heard:
            self.lag_s = max(0.0, now_s - t_s)
            self._pending_t_s = max(self._pending_t_s, t_s)
            if self.coalesce_s == 0:
                self.flush()
            else:
                self._wakeup.set()

    def _heard(self, key: str, now_s: float) -> None:
        self._heard_s[key] = now_s
        self._marked_lost.discard(key)

    def publish(self, frame: Mapping[str, Any], operator_id: str | None) -> None:
        """Pass a frame to the hub as it is; a ``vessels`` frame also updates the
        vessel picture first."""
        if frame.get("type") == "vessels":
            self._take_vessels(frame)
        self._hub.publish(frame, operator_id)

    def _take_vessels(self, frame: Mapping[str, Any]) -> None:
        """Fold a ``vessels`` frame in: its records replace, its ``gone`` remove.
        Malformed entries (they came over the network) count in ``bad_vessels``."""
        now_s = self._clock()
        records, gone = frame.get("vessels", ()), frame.get("gone", ())
        for vessel in records if isinstance(records, list) else ():
            mmsi = vessel.get("mmsi") if isinstance(vessel, Mapping) else None
            if not isinstance(mmsi, int):
                self.bad_vessels += 1
                continue
            self._vessels[mmsi] = dict(vessel)
            self._vessel_heard_s[mmsi] = now_s
        for mmsi in gone if isinstance(gone, list) else ():
            if isinstance(mmsi, int):
                self._vessels.pop(mmsi, None)
                self._vessel_heard_s.pop(mmsi, None)

    # -- the picture ---------------------------------------------------------------

    def vehicle_frames(self, now_s: float) -> list[dict[str, Any]]:
        """Every vehicle's latest full record (rows merged in), for a new viewer's
        snapshot."""
        del now_s  # the frames carry the gateway's own ages
        return list(self._latest.values())

    def vessel_frames(self) -> list[dict[str, Any]]:
        """Every vessel with a position, as a gateway's snapshot lists them."""
        return [
            v
            for v in self._vessels.values()
            if v.get("lat_deg") is not None and v.get("lon_deg") is not None
        ]

    @property
    def vessels(self) -> int:
        """Vessels in the picture."""
        return len(self._vessels)

    @property
    def vehicles(self) -> int:
        """Vehicles in the picture (``link_lost`` ones included)."""
        return len(self._latest)

    @property
    def link_lost(self) -> int:
        """Vehicles shown ``link_lost`` now."""
        return len(self._marked_lost)

    def flush(self) -> None:
        """Send what is queued to the hub as one ``vehicles`` frame."""
        if not (self._pending or self._pending_rows):
            return
        records = list(self._pending.values())
        rows = list(self._pending_rows.values())
        t_s, self._pending_t_s = self._pending_t_s, 0.0
        self._pending.clear()
        self._pending_rows.clear()
        self._hub.publish_vehicles(t_s, records, rows)

    def expire(self, now_s: float) -> None:
        """Queue stale vehicles as ``link_lost``; forget the long-silent ones
        (vehicles and vessels; viewers are told which vessels went)."""
        self._forget_vessels(now_s)
        for key, heard_s in list(self._heard_s.items()):
            silent_s = now_s - heard_s
            if silent_s > self.forget_after_s:
                del self._heard_s[key], self._latest[key]
                self._pending.pop(key, None)
                self._pending_rows.pop(key, None)
                self._marked_lost.discard(key)
            elif silent_s > self.stale_s and key not in self._marked_lost:
                self._marked_lost.add(key)
                self.marked_lost_total += 1
                before = self._latest[key]
                age = before.get("link_age_s")
                lost = {
                    **before,
                    "state": "link_lost",
                    "link_age_s": round(
                        silent_s + (age if isinstance(age, int | float) else 0.0), 2
                    ),
                }
                self._latest[key] = lost
                self._pending[key] = dict(lost)
                self._pending_rows.pop(key, None)
                self._pending_t_s = max(self._pending_t_s, now_s)
                logger.info("vehicle %s not heard for %.1f s: link_lost", key, silent_s)

    def _forget_vessels(self, now_s: float) -> None:
        gone = [
            mmsi
            for mmsi, heard_s in self._vessel_heard_s.items()
            if now_s - heard_s > self.vessel_forget_s
        ]
        if not gone:
            return
        for mmsi in gone:
            del self._vessels[mmsi], self._vessel_heard_s[mmsi]
        logger.info(
            "%d vessels not heard of for %.0f s: gone", len(gone), self.vessel_forget_s
        )
        self._hub.publish(
            {
                "type": "vessels",
                "t_s": round(now_s, 3),
                "t_utc": utc_iso(now_s),
                "vessels": [],
                "gone": gone,
            },
            None,
        )

    async def run(self) -> None:
        """Flush ``coalesce_s`` after the first queued batch; expire periodically."""
        next_expiry = time.monotonic() + self.expire_every_s
        while True:
            timeout = max(0.0, next_expiry - time.monotonic())
            woke = False
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)
                woke = True
            if woke:
                self._wakeup.clear()
                await asyncio.sleep(self.coalesce_s)
            try:
                if time.monotonic() >= next_expiry:
                    next_expiry = time.monotonic() + self.expire_every_s
                    self.expire(self._clock())
                self.flush()
            except Exception:
                logger.exception("vehicle relay flush failed; continuing")
