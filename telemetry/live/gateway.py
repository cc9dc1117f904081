"""The telemetry gateway: bytes from every link in, conformance and events out.

``ingest`` is called by the transports for every datagram or stream chunk; it only
decodes (``codec.py``) and folds messages into ``VehicleState``s, so it stays cheap.
``tick`` runs every ``tick_s`` (20 ms by default) on the event loop and does the
rest in batches: ties vehicles to drones and bookings, checks every fresh position
of every flying vehicle through the site's ``SiteMonitor`` (the airspace engine),
turns state changes into events, opens incidents through the recorder, publishes
one ``vehicles`` frame plus event frames to the hub, samples tracks at 1 Hz and
hands raw frames to the ``.tlog`` recording. Incidents are announced only after the
recorder has persisted them (``on_done``), so a viewer never sees an incident id
that is not in the database.

Nothing here blocks: the database is behind the recorder's thread, the directory
is swapped in whole by ``set_directory``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airspace.conformance import ConformanceState
from airspace.monitor import ConformanceEvent, EventKind
from airspace.site import Site
from telemetry.incidents.model import (
    EvidencePhase,
    NewIncident,
    TrackSample,
)
from telemetry.live.fleet import DroneEntry, FleetDirectory, nearest_site
from telemetry.live.frames import (
    INCIDENT_KINDS,
    MotionRow,
    conformance_details,
    conformance_message,
    event_frame,
    incident_frame,
    vehicle_frame,
    vehicle_motion,
)
from telemetry.live.gateway_ports import BookingActivator, GatewayRecorder
from telemetry.live.gateway_settings import GatewaySettings, LivePublisher
from telemetry.live.incident_draft import (
    draft_incident,
    evidence_builder,
    track_sample,
)
from telemetry.live.site_monitor import SiteMonitor
from telemetry.live.vehicles import VehicleState
from telemetry.mavlink.codec import Framing, LinkCodec, LinkCounters
from telemetry.mavlink.messages import GlobalPosition
from telemetry.mavlink.transports import BEHIND_AFTER_S, link_key

logger = logging.getLogger(__name__)

_BREACHING = int(ConformanceState.OUTSIDE_VERTICAL)
"""State codes from here up are breaches (confirmed after ``confirm_samples``)."""


@dataclass
class _PendingEvidence:
    due_s: float
    incident_id: int
    vehicle: VehicleState
    from_s: float


class Gateway:
    """All live vehicles of all links and sites; see the module docstring."""

    def __init__(
        self,
        sites: Mapping[str, Site],
        hub: LivePublisher,
        recorder: GatewayRecorder | None = None,
        settings: GatewaySettings | None = None,
        activate_booking: BookingActivator | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sites = dict(sites)
        self.hub = hub
        self.recorder = recorder
        self.settings = settings or GatewaySettings()
        self.activate_booking = activate_booking
        self.clock = clock
        self.monitors = {sid: SiteMonitor(site) for sid, site in self.sites.items()}
        self._site_refs = [
            (sid, s.ref_lon_deg, s.ref_lat_deg) for sid, s in self.sites.items()
        ]
        self.directory = FleetDirectory()
        self.codecs: dict[str, LinkCodec] = {}
        self.vehicles: dict[str, VehicleState] = {}
        self._by_link: dict[str, dict[int, VehicleState]] = {}
        self._streams: dict[str, tuple[LinkCodec, str, dict[int, VehicleState]]] = {}
        """Per stream: its codec, link and the link's vehicles (one lookup each)."""
        self._retired: list[LinkCounters] = []
        """Counters of streams that ended (kept for the totals)."""
        self._changed: set[str] = set()
        self._fresh: dict[str, VehicleState] = {}
        """Vehicles with a position since the last tick: the only ones it visits."""
        self._published_s = -math.inf
        self._behind_until: dict[str, float] = {}
        """Per link: link-loss checks are paused until then (``note_backlog``)."""
        self._awaiting: dict[str, dict[str, VehicleState]] = {}
        """Per site: flying vehicles whose newest position is not yet checked."""
        self._evaluated_s: dict[str, float] = {}
        self._urgent: set[str] = set()
        """Sites with a vehicle whose breach awaits its confirming sample: checked at
        the next tick, not after ``evaluate_every_s`` (a breach is announced up to
        that much sooner; it costs one more check only while a breach is pending)."""
        self._checked: dict[str, list[MotionRow]] = {}
        """Per vehicle, motion rows of positions checked early and replaced since
        (see ``ingest``), then of each later check until the next publish: the
        stream shows them all, in order, rather than skip them."""
        self._link_checked_s = -math.inf
        self._full_frame_s = 0.0
        self._full_record_s = 0.0
        self._directory_version = 0
        self._tlog_flushed_s = 0.0
        self._track_s: dict[str, float] = {}
        self._tracks: list[TrackSample] = []
        """Track samples not yet handed to the recorder (with the tlogs, once a
        second: each hand-off wakes the writer thread, which then competes for the
        GIL)."""
        self._spoofed: Counter[tuple[str, int]] = Counter()
        self._spoof_reported: dict[tuple[str, int], float] = {}
        self._open_incident: dict[tuple[str, str], int] = {}
        self._evidence: list[_PendingEvidence] = []
        self._activated: set[int] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._from_threads: deque[Callable[[], None]] = deque()
        """Calls handed over by the recorder's thread (stored incidents to
        announce); run by the next ``ingest`` or ``tick``, or by the loop."""
        self.ticks = 0
        self.tick_seconds_max = 0.0
        self.tick_seconds_last = 0.0
        self.events_total: Counter[str] = Counter()
        self.incidents_announced = 0

    # -- input -------------------------------------------------------------------

    def set_directory(self, directory: FleetDirectory, now_s: float) -> None:
        """Swap in a fresh fleet directory; rebinds every vehicle at the next tick."""
        self.directory = directory
        self._directory_version += 1
        keys = directory.signing_keys()
        for codec in self.codecs.values():
            codec.set_signing_keys(keys)
        for site_id, monitor in self.monitors.items():
            monitor.set_closures(directory.active_closures(site_id, now_s))

    def ingest(self, stream_id: str, data: bytes, now_s: float) -> None:
        """Decode ``data`` from one stream of a link; never raises on bad bytes.

        A stream is a UDP link or one TCP/serial connection (``transports``): the
        codec keeps partial frames per stream, vehicles are keyed per link.
        """
        if self._from_threads:
            self._run_from_threads()
        stream = self._streams.get(stream_id)
        if stream is None:
            stream = self._open_stream(stream_id)
        codec, link_id, by_sysid = stream
        decoded = codec.feed(data, now_s)
        fresh, awaiting = self._fresh, self._awaiting
        for msg in decoded.messages:
            vehicle = by_sysid.get(msg.sysid)
            if vehicle is None:
                vehicle = by_sysid[msg.sysid] = VehicleState(link_id, msg.sysid, now_s)
                self.vehicles[vehicle.key] = vehicle
            if type(msg) is GlobalPosition:
                if vehicle.position_pending and not vehicle.is_gcs:
                    # Its last position came after the last tick (datagrams that
                    # waited together in the kernel): queue every fresh vehicle for
                    # its check now, as the tick would, so this one is checked
                    # below before it is replaced.
                    self._queue_fresh(now_s)
                    fresh, awaiting = self._fresh, self._awaiting
                site_id = vehicle.site_id
                if site_id is not None and vehicle.key in awaiting.get(site_id, ()):
                    # Its last position is still unchecked and about to be replaced:
                    # check the site now, so that every position is checked, and
                    # keep that position for the stream.
                    self._evaluate_site(site_id, now_s)
                    if vehicle.key not in self._checked:  # else the check added it
                        self._checked[vehicle.key] = [vehicle_motion(vehicle, now_s)]
                fresh[vehicle.key] = vehicle
            vehicle.apply(msg)
        for frame in decoded.frames:
            vehicle = by_sysid.get(frame.sysid)
            if vehicle is not None:
                vehicle.record_frame(frame.t_s, frame.raw)
        for rejected in decoded.rejected:
            self._spoofed[(link_id, rejected.sysid)] += 1

    def _open_stream(
        self, stream_id: str
    ) -> tuple[LinkCodec, str, dict[int, VehicleState]]:
        framing: Framing = "datagram" if stream_id.startswith("udp") else "stream"
        codec = self.codecs[stream_id] = LinkCodec(
            stream_id, self.directory.signing_keys(), framing=framing
        )
        link_id = link_key(stream_id)
        by_sysid = self._by_link.setdefault(link_id, {})
        stream = self._streams[stream_id] = (codec, link_id, by_sysid)
        return stream

    def note_backlog(self, link_id: str, now_s: float) -> None:
        """The link's reader is behind (datagrams waited in the kernel; some may be
        dropped there). Silence on it is then ours, not the drones': no vehicle of
        it is declared ``link_lost`` until it has been caught up for a while."""
        if now_s >= self._behind_until.get(link_id, -math.inf):
            logger.warning(
                "%s: the gateway is behind on this link (datagrams waited over "
                "%.1f s in the kernel); link-loss checks paused on it",
                link_id,
                BEHIND_AFTER_S,
            )
        self._behind_until[link_id] = now_s + self.settings.link_lost_s

    def end_stream(self, stream_id: str) -> None:
        """A TCP connection or serial device went away: drop its partial frames."""
        self._streams.pop(stream_id, None)
        codec = self.codecs.pop(stream_id, None)
        if codec is not None:
            self._retired.append(codec.counters)

    # -- the tick ----------------------------------------------------------------

    async def run(self) -> None:
        """Tick every ``tick_s`` until cancelled; a failing tick is logged."""
        self._loop = asyncio.get_running_loop()
        period = self.settings.tick_s
        next_at = time.monotonic()
        while True:
            try:
                self.tick(self.clock())
            except Exception:
                logger.exception("gateway tick failed; continuing")
            next_at += period
            delay = next_at - time.monotonic()
            if delay < 0:
                next_at = time.monotonic()
                delay = 0
            await asyncio.sleep(delay)

    def tick(self, now_s: float) -> None:
        """One batch: bind, evaluate, raise events, publish, record.

        Only vehicles with a new position are visited (``_fresh``, filled by
        ``ingest``); every vehicle's silence is checked each ``link_check_s``.
        """
        started = time.perf_counter()
        self.ticks += 1
        if self._from_threads:
            self._run_from_threads()
        if now_s - self._link_checked_s >= self.settings.link_check_s:
            self._link_checked_s = now_s
            for vehicle in list(self.vehicles.values()):
                if not vehicle.is_gcs:
                    self._check_link(vehicle, now_s)
        self._queue_fresh(now_s)
        self._evaluate_due(now_s)
        self._check_spoofing(now_s)
        if now_s - self._published_s >= self.settings.live_interval_s:
            self._published_s = now_s
            self._publish_changed(now_s)
        self._due_evidence(now_s)
        if now_s - self._tlog_flushed_s >= self.settings.tlog_flush_s:
            self._flush_tlog(now_s)
        self._forget_silent(now_s)
        self.tick_seconds_last = time.perf_counter() - started
        self.tick_seconds_max = max(self.tick_seconds_max, self.tick_seconds_last)

    def _queue_fresh(self, now_s: float) -> None:
        """Take every vehicle with a new position: bind it if due, queue a flying
        one for its site's next check, and run the per-position checks."""
        fresh = self._fresh
        self._fresh = {}
        awaiting = self._awaiting
        tracks = self._tracks
        for vehicle in fresh.values():
            if vehicle.is_gcs or not vehicle.position_pending:
                continue
            if vehicle.link_lost:
                self._check_link(vehicle, now_s)
            vehicle.position_pending = False
            if (
                vehicle.bound_version != self._directory_version
                or now_s >= vehicle.bound_until_s
            ):
                self._bind(vehicle, now_s)
            if vehicle.site_id is None:
                self._changed.add(vehicle.key)
                continue
            if vehicle.flying:
                # Published once checked (``_evaluate_due``), so a position never
                # goes out with the state of the one before.
                site_waiting = awaiting.get(vehicle.site_id)
                if site_waiting is None:
                    site_waiting = awaiting[vehicle.site_id] = {}
                site_waiting[vehicle.key] = vehicle
                if (
                    vehicle.state_code >= _BREACHING
                    and self.monitors[vehicle.site_id].monitor.open_breach(vehicle.key)
                    is None
                ):
                    self._urgent.add(vehicle.site_id)
            else:
                self._changed.add(vehicle.key)
                if vehicle.conformance != "on_ground":
                    vehicle.conformance = "on_ground"
                    vehicle.state_code = -1
                    vehicle.seconds_to_exit = vehicle.lateral_margin_m = None
                    self.monitors[vehicle.site_id].forget(vehicle.key)
            self._check_battery(vehicle, now_s)
            self._check_fence(vehicle, now_s)
            self._sample_track(vehicle, tracks)

    def _evaluate_due(self, now_s: float) -> None:
        """Check the waiting positions of every site that is due (see settings)."""
        every_s, batch = self.settings.evaluate_every_s, self.settings.evaluate_batch
        urgent = self._urgent
        for site_id, waiting in self._awaiting.items():
            if waiting and (
                len(waiting) >= batch
                or site_id in urgent
                or now_s - self._evaluated_s.get(site_id, -math.inf) >= every_s
            ):
                self._evaluate_site(site_id, now_s)
        urgent.clear()

    def _evaluate_site(self, site_id: str, now_s: float) -> None:
        waiting = self._awaiting.get(site_id)
        if not waiting:
            return
        self._evaluated_s[site_id] = now_s
        # Landed or moved to another site since: no longer this site's to check.
        flying = [v for v in waiting.values() if v.flying and v.site_id == site_id]
        waiting.clear()
        if not flying:
            return
        self._changed.update([v.key for v in flying])
        monitor = self.monitors[site_id]
        _, events = monitor.evaluate(flying, now_s)
        checked = self._checked
        if checked:
            for v in flying:
                early = checked.get(v.key)
                if early is not None:
                    early.append(vehicle_motion(v, now_s))
        for event in events:
            self._on_conformance_event(monitor, event, now_s)

    def _bind(self, v: VehicleState, now_s: float) -> None:
        """Tie the vehicle to its registered drone, site and current booking.

        Done again when the directory changes and at least every ``rebind_s``
        (booking windows open and close; an unregistered vehicle changes site).
        """
        before = (v.site_id, v.drone_id, v.operator_id, v.booking_id, v.corridor_id)
        self._bind_fields(v, now_s)
        after = (v.site_id, v.drone_id, v.operator_id, v.booking_id, v.corridor_id)
        if after != before:
            v.needs_full_frame = True

    def _bind_fields(self, v: VehicleState, now_s: float) -> None:
        v.bound_version = self._directory_version
        v.bound_until_s = now_s + self.settings.rebind_s
        drones = self.directory.drones_with_sysid(v.sysid)
        if len(drones) == 1:
            drone = drones[0]
        elif drones:
            drone = self._nearest_of(v, drones, now_s)
        else:
            drone = None
        if drone is None or drone.site_id not in self.sites:
            v.drone_id = v.drone_name = v.operator_id = None
            v.booking_id = v.corridor_id = None
            v.takeoff_pad_id = v.landing_pad_id = None
            v.site_id = nearest_site(v.lon_deg, v.lat_deg, self._site_refs)
            return
        v.site_id = drone.site_id
        v.drone_id, v.drone_name, v.operator_id = (
            drone.drone_id,
            drone.name,
            drone.operator_id,
        )
        booking = self.directory.booking_for(drone.drone_id, now_s)
        if booking is None:
            v.booking_id = v.corridor_id = None
            v.takeoff_pad_id = v.landing_pad_id = None
            return
        v.booking_id, v.corridor_id = booking.booking_id, booking.corridor_id
        v.takeoff_pad_id = booking.takeoff_pad_id
        v.landing_pad_id = booking.landing_pad_id
        if (
            booking.state == "approved"
            and v.flying
            and booking.booking_id not in self._activated
            and self.activate_booking is not None
        ):
            self._activated.add(booking.booking_id)
            self.activate_booking(booking.booking_id, now_s)

    def _nearest_of(
        self, v: VehicleState, drones: Sequence[DroneEntry], now_s: float
    ) -> DroneEntry:
        """The drone, of several sites' with ``v``'s sysid, at the nearest site.

        Sticky for ``resite_s``: a big multi-site fleet rebinds thousands of
        vehicles a second, and none changes site in a second.
        """
        if now_s < v.resite_after_s:
            for drone in drones:
                if drone.site_id == v.site_id:
                    return drone
        v.resite_after_s = now_s + self.settings.resite_s
        sites = {d.site_id for d in drones}
        site_id = nearest_site(
            v.lon_deg, v.lat_deg, [r for r in self._site_refs if r[0] in sites]
        )
        return next(d for d in drones if d.site_id == site_id)

    # -- events ------------------------------------------------------------------

    def _on_conformance_event(
        self, monitor: SiteMonitor, event: ConformanceEvent, now_s: float
    ) -> None:
        v = self.vehicles.get(str(event.drone_id))
        if v is None:
            return
        exclusion = monitor.exclusion_name(event.exclusion_index)
        message = conformance_message(v, event, exclusion)
        details = conformance_details(event)
        if exclusion is not None:
            details["exclusion"] = exclusion
        kind = str(event.kind)
        if event.kind is EventKind.BREACH_ESCALATED and event.breach is not None:
            kind = str(event.breach)
        if event.kind is EventKind.RETURNED:
            self._close_occurrence(v, str(event.breach), now_s, details)
        self._emit(v, kind, event.t_s, message, details)

    def _emit(
        self,
        v: VehicleState,
        kind: str,
        t_s: float,
        message: str,
        details: dict[str, Any],
    ) -> None:
        self.events_total[kind] += 1
        if kind not in INCIDENT_KINDS or (kind == "link_lost" and not v.flying):
            self.hub.publish(event_frame(v, kind, t_s, message, details), v.operator_id)
            return
        if self.recorder is None:
            self._announce(v, kind, t_s, message, details, None, True)
            return
        new = self._draft(v, kind, t_s, message)
        # Copied now, built into evidence by the recorder's thread: a burst of
        # incidents (a whole fleet's link lost at once) must not stall the loop.
        snapshot = v.ring_snapshot(t_s - self.settings.evidence_s, t_s)

        def done(incident_id: int, created: bool) -> None:
            self._call_in_loop(
                self._announce, v, kind, t_s, message, details, incident_id, created
            )

        self.recorder.open_incident(
            new,
            done,
            later_evidence=evidence_builder(snapshot, EvidencePhase.BEFORE),
        )

    def _announce(
        self,
        v: VehicleState,
        kind: str,
        t_s: float,
        message: str,
        details: dict[str, Any],
        incident_id: int | None,
        created: bool,
    ) -> None:
        if incident_id is not None:
            self._open_incident[(v.key, kind)] = incident_id
            logger.warning(
                "incident %d %s: %s",
                incident_id,
                "opened" if created else "repeated",
                message,
            )
            if created:
                self._evidence.append(
                    _PendingEvidence(
                        t_s + self.settings.evidence_s, incident_id, v, t_s
                    )
                )
            state = "open"
            self.hub.publish(
                incident_frame(incident_id, v, kind, t_s, message, state), v.operator_id
            )
        self.incidents_announced += 1
        self.hub.publish(
            event_frame(v, kind, t_s, message, details, incident_id), v.operator_id
        )

    def _close_occurrence(
        self, v: VehicleState, kind: str, t_s: float, details: dict[str, Any]
    ) -> None:
        incident_id = self._open_incident.get((v.key, kind))
        if incident_id is not None and incident_id >= 0 and self.recorder is not None:
            self.recorder.add_incident_event(incident_id, t_s, "returned", details)

    def _draft(
        self, v: VehicleState, kind: str, t_s: float, message: str
    ) -> NewIncident:
        codec = next(
            (c for sid, c in self.codecs.items() if link_key(sid) == v.link_id), None
        )
        seq_lost = None if codec is None else codec.counters.seq_lost_of(v.sysid)
        return draft_incident(
            v, kind, t_s, message, self.sites.get(v.site_id or ""), seq_lost
        )

    def _call_in_loop(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the event loop's thread, soon.

        Queued for the next ``ingest`` (every datagram) or ``tick``, whichever
        comes first, and the loop is woken for it too: behind a busy loop's other
        callbacks (a tick, readers with hundreds of datagrams each) a stored
        incident waited 25-35 ms to be announced.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            fn(*args)
            return
        self._from_threads.append(functools.partial(fn, *args))
        loop.call_soon_threadsafe(self._run_from_threads)

    def _run_from_threads(self) -> None:
        calls = self._from_threads
        while calls:
            try:
                calls.popleft()()
            except IndexError:  # taken meanwhile by another run on this thread
                return
            except Exception:
                logger.exception("a call handed over by the recorder failed")

    # -- link, battery, fence, spoofing -------------------------------------------

    def _check_link(self, v: VehicleState, now_s: float) -> None:
        silent = now_s - v.last_message_s
        if (
            not v.link_lost
            and silent > self.settings.link_lost_s
            and v.site_id
            and now_s >= self._behind_until.get(v.link_id, -math.inf)
        ):
            v.link_lost = True
            self._changed.add(v.key)
            self._emit(
                v,
                "link_lost",
                now_s,
                f"{v.drone_name or f'sysid {v.sysid}'}: link lost "
                f"(silent {silent:.1f} s)",
                {"silent_s": round(silent, 2), "timeout_s": self.settings.link_lost_s},
            )
        elif v.link_lost and silent <= self.settings.link_lost_s:
            v.link_lost = False
            self._changed.add(v.key)
            self._emit(
                v,
                "link_restored",
                now_s,
                f"{v.drone_name or f'sysid {v.sysid}'}: link restored",
                {},
            )

    def _check_battery(self, v: VehicleState, now_s: float) -> None:
        pct = v.battery_pct
        if pct is None:
            return
        threshold = self.settings.low_battery_pct
        if not v.low_battery and pct < threshold and v.flying:
            v.low_battery = True
            self._emit(
                v,
                "low_battery",
                now_s,
                f"{v.drone_name or f'sysid {v.sysid}'}: battery {pct} %",
                {"battery_pct": pct, "threshold_pct": threshold},
            )
        elif v.low_battery and pct >= threshold + 5:
            v.low_battery = False

    def _check_fence(self, v: VehicleState, now_s: float) -> None:
        breached = v.fence_breach
        key = (v.key, "fence_breach")
        if breached and key not in self._open_incident and v.site_id:
            self._open_incident[key] = -1  # raised; the real id follows on_done
            self._emit(
                v,
                "fence_breach",
                now_s,
                f"{v.drone_name or f'sysid {v.sysid}'}: the autopilot reports a "
                "fence breach",
                {},
            )
        elif not breached and self._open_incident.get(key) is not None:
            del self._open_incident[key]

    def _check_spoofing(self, now_s: float) -> None:
        """Report rejected frames per (link, sysid): the first at once, then the
        count gathered at most every ``spoof_report_s`` (a spoofer sends many frames
        a second; one breach event each would flood every viewer)."""
        if not self._spoofed:
            return
        due = [
            key
            for key in self._spoofed
            if now_s - self._spoof_reported.get(key, -math.inf)
            >= self.settings.spoof_report_s
        ]
        for key in due:
            self._spoof_reported[key] = now_s
            link_id, sysid = key
            count = self._spoofed.pop(key)
            v = self._by_link.get(link_id, {}).get(sysid)
            if v is None:
                v = VehicleState(link_id, sysid, now_s)
                v.site_id = next(iter(self.sites), None)
            drones = self.directory.drones_with_sysid(sysid)
            if drones:
                v.drone_id, v.drone_name = drones[0].drone_id, drones[0].name
                v.operator_id, v.site_id = drones[0].operator_id, drones[0].site_id
            self._emit(
                v,
                "spoofed_frames",
                now_s,
                f"{count} frame(s) claiming sysid {sysid} failed the signature check",
                {"frames": count, "link_id": link_id},
            )

    # -- output ------------------------------------------------------------------

    def _publish_changed(self, now_s: float) -> None:
        """One ``vehicles`` frame: motion rows of changed vehicles, full records of
        new or re-tied ones; every vehicle each ``full_frame_s``, in full each
        ``full_record_s``."""
        settings = self.settings
        every = now_s - self._full_frame_s >= settings.full_frame_s
        whole = now_s - self._full_record_s >= settings.full_record_s
        if every:
            self._full_frame_s = now_s
            self._changed.update(k for k, v in self.vehicles.items() if not v.is_gcs)
        if whole:
            self._full_record_s = now_s
        if not self._changed:
            return
        records: list[dict[str, Any]] = []
        rows: list[MotionRow] = []
        vehicles, checked = self.vehicles, self._checked
        for key in self._changed:
            v = vehicles.get(key)
            if v is None:
                continue
            if v.needs_full_frame or whole or not v.has_position:
                v.needs_full_frame = False
                records.append(vehicle_frame(v, now_s))
            elif (early := checked.get(key)) is not None:
                rows += early
            else:
                rows.append(vehicle_motion(v, now_s))
        self._changed.clear()
        checked.clear()
        self.hub.publish_vehicles(now_s, records, rows)

    def _sample_track(self, v: VehicleState, out: list[TrackSample]) -> None:
        """Add ``v``'s position to ``out`` if its last track sample is old enough."""
        if self.recorder is None or not v.flying:
            return
        last = self._track_s.get(v.key, -math.inf)
        if v.last_position_s - last < self.settings.track_interval_s:
            return
        self._track_s[v.key] = v.last_position_s
        out.append(track_sample(v))

    def _due_evidence(self, now_s: float) -> None:
        if not self._evidence or self.recorder is None:
            return
        due = [e for e in self._evidence if e.due_s <= now_s]
        if not due:
            return
        self._evidence = [e for e in self._evidence if e.due_s > now_s]
        for item in due:
            snapshot = item.vehicle.ring_snapshot(item.from_s, item.due_s)
            self.recorder.add_evidence(
                item.incident_id,
                later_evidence=evidence_builder(snapshot, EvidencePhase.AFTER),
            )

    def _flush_tlog(self, now_s: float) -> None:
        self._tlog_flushed_s = now_s
        if self._tracks and self.recorder is not None:
            self.recorder.record_track(self._tracks)
            self._tracks = []
        batch: list[tuple[str, bytes, int]] = []
        for v in self.vehicles.values():
            if not v.tlog_pending_count:
                continue
            records, count = v.take_tlog()
            if v.is_gcs:
                continue
            name = (
                f"{v.site_id}/booking-{v.booking_id}"
                if v.booking_id is not None
                else f"{v.site_id}/unbooked-sysid-{v.sysid}"
            )
            batch.append((name, records, count))
        if batch and self.recorder is not None:
            # One hand-off a second: a thread wake-up per vehicle cost more.
            self.recorder.record_tlogs(batch)

    def _forget_silent(self, now_s: float) -> None:
        if self.ticks % 50:
            return
        horizon = now_s - self.settings.forget_after_s
        for key, v in list(self.vehicles.items()):
            if v.last_message_s < horizon:
                del self.vehicles[key]
                self._by_link.get(v.link_id, {}).pop(v.sysid, None)
                if v.site_id in self.monitors:
                    self.monitors[v.site_id].forget(key)

    # -- views -------------------------------------------------------------------

    def vehicle_frames(self, now_s: float) -> list[dict[str, Any]]:
        """Every live vehicle, as the snapshot lists them."""
        return [vehicle_frame(v, now_s) for v in self.vehicles.values() if not v.is_gcs]

    def links(self) -> list[dict[str, Any]]:
        """Per link: vehicles, messages and bad-input counters."""
        out = []
        for link_id, codec in self.codecs.items():
            counters = codec.counters
            out.append(
                {
                    "link_id": link_id,
                    "vehicles": len(self._by_link.get(link_id, {})),
                    **counters.as_dict(),
                }
            )
        return out
