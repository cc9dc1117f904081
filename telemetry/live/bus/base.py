"""The live bus: the seam between the side that makes live frames and the side that
shows them (docs/bus.md).

Two kinds of traffic cross it, both as the live stream's JSON frames
(docs/live-stream.md):

- **vehicle updates** (``publish_vehicles``): full records and motion rows
  (``telemetry.live.frames.MOTION_FIELDS``), ephemeral, latest wins. A lost batch costs
  nothing lasting, because the gateway re-sends every vehicle each second;
- **must-keep frames** (``publish``: ``event``, ``incident``, ``booking``,
  ``closure``): never dropped; over NATS they are acknowledged by JetStream and a
  consumer that was away resumes where it stopped.

Producers (the gateway, the booking event hook, the incident routes) call the two
``publish`` methods on the event loop; neither awaits nor blocks. Consumers give
:meth:`LiveBus.start` a :class:`LiveSink` (a ``LiveHub``, or a
:class:`VehicleRelay` in front of one) that receives what arrives.

Implementations: :class:`InProcessBus` (the default: one process, a direct call
into the hub, as cheap as having no bus) and ``telemetry.live.bus.nats_bus.NatsBus``
(several gateway and web processes on one NATS server, ``open_bus("nats://...")``).

:class:`VehicleRelay` is what a web process puts between the bus and its hub: it
keeps the latest full record of every vehicle, motion rows merged in (the snapshot
a new viewer gets), merges the batches of several gateways into one ``vehicles``
frame per ``coalesce_s`` (records and rows passed on as they came), and
marks a vehicle ``link_lost`` when nothing was heard of it for ``stale_s`` (its
gateway died: gateways re-send every vehicle each second, so silence means gone).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol

from telemetry.live.frames import MOTION_KEY, MOTION_OPERATOR, MotionRow, motion_record

logger = logging.getLogger(__name__)

MUST_KEEP_TYPES = frozenset({"event", "incident", "booking", "closure"})
"""Frame types the live stream never drops (docs/live-stream.md)."""
_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class LiveSink(Protocol):
    """Where live frames go: the gateway's ``LivePublisher``, a ``LiveHub``, a bus."""

    def publish_vehicles(
        self,
        t_s: float,
        vehicles: Sequence[Mapping[str, Any]],
        motion: Sequence[MotionRow] = (),
    ) -> None:
        """Take full vehicle records and motion rows (docs/live-stream.md)."""
        ...

    def publish(self, frame: Mapping[str, Any], operator_id: str | None) -> None: ...


@dataclass(frozen=True, slots=True)
class BusStats:
    """Counters for ``/metrics``, totals since the bus started."""

    kind: str
    """``in-process`` or ``nats``."""
    connected: bool
    vehicle_batches_sent: int = 0
    vehicle_batches_dropped: int = 0
    """Position batches not sent: bus down, or the sender fell behind."""
    events_sent: int = 0
    """Must-keep frames handed over (acknowledged by JetStream over NATS)."""
    events_pending: int = 0
    """Must-keep frames waiting for the bus (kept in memory, retried)."""
    events_retried: int = 0
    events_dropped: int = 0
    """Must-keep frames refused: too big, too many waiting, or after close."""
    vehicle_batches_received: int = 0
    events_received: int = 0
    events_duplicate: int = 0
    """Redelivered frames recognised by their stream sequence and skipped."""
    bad_messages: int = 0
    """Received messages that were not live frames (logged, acknowledged, skipped)."""

    def as_dict(self) -> dict[str, int]:
        """The numeric counters by name (``connected`` as 0/1)."""
        return {
            "connected": int(self.connected),
            "vehicle_batches_sent": self.vehicle_batches_sent,
            "vehicle_batches_dropped": self.vehicle_batches_dropped,
            "events_sent": self.events_sent,
            "events_pending": self.events_pending,
            "events_retried": self.events_retried,
            "events_dropped": self.events_dropped,
            "vehicle_batches_received": self.vehicle_batches_received,
            "events_received": self.events_received,
            "events_duplicate": self.events_duplicate,
            "bad_messages": self.bad_messages,
        }


class LiveBus(LiveSink, Protocol):
    """A bus: publish from producers, deliver to the sink given to ``start``."""

    @property
    def remote(self) -> bool:
        """True when frames travel between processes (vehicles need a relay)."""
        ...

    @property
    def connected(self) -> bool:
        """True while the bus can carry frames (always, in process)."""
        ...

    async def start(self, sink: LiveSink | None) -> None:
        """Begin delivering received frames to ``sink`` (None: publish only)."""
        ...

    async def close(self) -> None:
        """Hand over what is pending (bounded wait), then stop; idempotent."""
        ...

    def stats(self) -> BusStats: ...


def subject_token(site_id: object) -> str:
    """``site_id`` as one NATS subject token (``_`` when there is none).

    Characters outside letters, digits, ``-`` and ``_`` (dots, spaces, wildcards)
    become ``_``: the token routes messages, the frame inside says the real id.
    """
    if not isinstance(site_id, str) or not site_id:
        return "_"
    return _TOKEN_UNSAFE.sub("_", site_id)


def frame_site(frame: Mapping[str, Any]) -> object:
    """The ``site_id`` a must-keep frame is about (None when it names none)."""
    body = frame.get(str(frame.get("type")))
    return body.get("site_id") if isinstance(body, Mapping) else None


class InProcessBus:
    """The default bus: frames go straight to the sink, in the caller's call."""

    remote = False
    connected = True

    def __init__(self, sink: LiveSink | None = None) -> None:
        self._sink = sink
        self._vehicle_batches = 0
        self._events = 0

    async def start(self, sink: LiveSink | None) -> None:
        """Deliver to ``sink`` from now on (None keeps the one given at creation)."""
        if sink is not None:
            self._sink = sink

    async def close(self) -> None:
        """Nothing is ever pending in process."""

    def publish_vehicles(
        self,
        t_s: float,
        vehicles: Sequence[Mapping[str, Any]],
        motion: Sequence[MotionRow] = (),
    ) -> None:
        """Hand the batch to the sink (a ``LiveHub`` serialises it per audience)."""
        if self._sink is not None and (vehicles or motion):
            self._vehicle_batches += 1
            self._sink.publish_vehicles(t_s, vehicles, motion)

    def publish(self, frame: Mapping[str, Any], operator_id: str | None) -> None:
        """Hand the must-keep frame to the sink."""
        if self._sink is not None:
            self._events += 1
            self._sink.publish(frame, operator_id)

    def stats(self) -> BusStats:
        return BusStats(
            kind="in-process",
            connected=True,
            vehicle_batches_sent=self._vehicle_batches,
            events_sent=self._events,
            vehicle_batches_received=self._vehicle_batches,
            events_received=self._events,
        )


def open_bus(url: str, node_name: str) -> LiveBus:
    """The bus ``url`` names: ``""`` in process, ``nats://`` or ``tls://`` NATS.

    ``node_name`` names this process on the bus (its durable JetStream consumer);
    it must be unique per process. Raises ``ValueError`` for another scheme and
    ``ImportError`` with the fix when nats-py is not installed.
    """
    if not url:
        return InProcessBus()
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in {"nats", "tls"}:
        raise ValueError(
            f"bus URL {url!r}: use nats://HOST:PORT (or tls://), or empty for the "
            "in-process bus"
        )
    try:
        from telemetry.live.bus.nats_bus import NatsBus
    except ImportError as exc:  # pragma: no cover - the extra is installed in dev
        raise ImportError(
            "the NATS bus needs nats-py: pip install 'skyberth[nats]'"
        ) from exc
    return NatsBus(url, node_name)


_MISSING = object()


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
        self.bad_vehicles = 0
        """Entries refused: a record that is not a mapping, or has no ``key`` or
        ``operator_id``; a row of the wrong length or without a ``key``; either
        with an ``operator_id`` that is neither a string nor None."""
        self.marked_lost_total = 0

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
            self._pending_t_s = max(self._pending_t_s, t_s)
            if self.coalesce_s == 0:
                self.flush()
            else:
                self._wakeup.set()

    def _heard(self, key: str, now_s: float) -> None:
        self._heard_s[key] = now_s
        self._marked_lost.discard(key)

    def publish(self, frame: Mapping[str, Any], operator_id: str | None) -> None:
        """Pass a must-keep frame to the hub as it is."""
        self._hub.publish(frame, operator_id)

    # -- the picture ---------------------------------------------------------------

    def vehicle_frames(self, now_s: float) -> list[dict[str, Any]]:
        """Every vehicle's latest full record (rows merged in), for a new viewer's
        snapshot."""
        del now_s  # the frames carry the gateway's own ages
        return list(self._latest.values())

    @property
    def vehicles(self) -> int:
        return len(self._latest)

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
        """Queue stale vehicles as ``link_lost``; forget the long-silent ones."""
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
