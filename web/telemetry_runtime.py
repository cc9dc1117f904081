"""Assembles and runs the live side: MAVLink links, gateway, hub, recorder.

``TelemetryRuntime.start`` (called from the app's lifespan) loads the fleet
directory, opens every ``--mavlink`` endpoint, and starts the gateway's tick and the
directory refresh and the sweep that completes active bookings whose window has
ended; ``stop`` undoes it in reverse and drains the recorder so nothing
recorded is lost on a clean shutdown. Committed booking events reach the hub (and
trigger a directory refresh) through the ``EventLog`` subscription, as the
``booking`` frames of ``web.runtime_bookings``.

Scale-out (docs/bus.md): every live frame goes out through ``bus`` (in process by
default, straight into the hub). With a remote bus the process has a ``role``:
``gateway`` runs the links, the gateway and the recorder and only publishes;
``web`` opens no link and shows what the bus brings, through a ``VehicleRelay``
in front of its hub; ``all`` does both.

Four parts live beside it, each built and run from here: ``web.runtime_ais`` (AIS
links, sentence log, vessel picture), ``web.runtime_bookings`` (the ``booking``
frames, which booking changes reload the directory, and the gateway's own booking
changes with their retries), ``web.runtime_fences`` (automatic fence upload,
activation with the fence's standing) and ``web.runtime_overload`` (the live
stream's ``gateway`` frame while links shed load).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import Engine

from airspace.site import Site
from airspace.vessel_proximity import ProximityLimits
from booking.model import Actor, DomainEvent, Role, UserId
from booking.unit_of_work import SqlUnitOfWork
from telemetry.incidents.repository import IncidentRepository
from telemetry.live.bus import InProcessBus, LiveBus, VehicleRelay
from telemetry.live.bus.control import LINK_REPORT_S
from telemetry.live.fence_reports import SqlFenceReports
from telemetry.live.gateway import Gateway
from telemetry.live.gateway_settings import GatewaySettings
from telemetry.live.hub import LiveHub
from telemetry.live.link_router import (
    LinkRouter,
    RoutedLink,
    forwarding,
    open_targets,
)
from telemetry.live.vessels import STALE_AFTER_S
from telemetry.loop_watch import LoopWatch
from telemetry.mavlink.sender_filter import SenderFilter, parse_networks
from telemetry.mavlink.transports import (
    Link,
    OnData,
    OnDataFrom,
    link_key,
    open_link,
    parse_endpoint,
)
from telemetry.recording.recorder import TelemetryRecorder
from telemetry.recording.track_store import TrackStore
from web.booking_fences import BookingFences
from web.events import EventLog
from web.fleet_directory import load_fleet_directory
from web.runtime_ais import AisRuntime
from web.runtime_bookings import (
    EventFrame,
    change_off_loop,
    completion,
    event_frames,
    publish_event_frames,
    run_window_end_sweep,
)
from web.runtime_fences import bookings_between, fenced_activation
from web.runtime_overload import OverloadFeed

logger = logging.getLogger(__name__)

GATEWAY_ACTOR = Actor(UserId("system:gateway"), Role.SITE_ADMIN)
"""Who the audit trail names when the gateway starts or ends a booking's flight."""
DIRECTORY_REFRESH_S = 2.0
DIRECTORY_REFRESH_GAP_S = 0.25
"""At least this long between two directory reloads (changes coalesce meanwhile)."""
RETENTION_SWEEP_S = 3600.0

FIRST_RECORDS_WAIT_S = 0.5
"""A starting web process waits this long for the full records it asked the
gateways for (they answer at their next tick, 20 ms) before it serves viewers."""

SNAPSHOT_SHARED_S = 0.2
"""Snapshots built within this of each other share their vehicle records (the
live frames' own interval, so a map is never further behind than its next frame)."""
ProcessRole = Literal["all", "gateway", "web"]


class TelemetryRuntime:
    """The gateway and everything it talks to, for one app."""

    def __init__(
        self,
        sites: dict[str, Site],
        engine: Engine,
        events: EventLog,
        uow_factory: Callable[[], SqlUnitOfWork],
        recorder: TelemetryRecorder | None,
        incidents: IncidentRepository | None,
        tracks: TrackStore | None,
        endpoints: Sequence[str],
        gateway_settings: GatewaySettings | None = None,
        hub: LiveHub | None = None,
        retention_days: int = 90,
        bus: LiveBus | None = None,
        role: ProcessRole = "all",
        mavlink_allow: Sequence[str] = (),
        ais_endpoints: Sequence[str] = (),
        vessel_limits: ProximityLimits | None = None,
        ais_stale_s: float = STALE_AFTER_S,
        ais_dir: Path | None = None,
        forward: Sequence[str] = (),
        talk: Sequence[str] = (),
    ) -> None:
        self.sites = sites
        self.engine = engine
        self.events = events
        self.uow_factory = uow_factory
        self.recorder = recorder
        self.incidents = incidents
        self.tracks = tracks
        self.endpoints = [parse_endpoint(spec) for spec in endpoints]
        self.forward = [parse_endpoint(spec) for spec in forward]
        """Forward targets: a pilot's ground station behind SkyBerth (``--forward``)."""
        self.talk = {parse_endpoint(spec).spec for spec in talk}
        """Vehicle links SkyBerth sends heartbeats and rate requests on."""
        networks = parse_networks(mavlink_allow)
        self.allowed = SenderFilter(networks) if networks else None
        """Listeners refuse senders outside these networks (``--mavlink-allow``)."""
        self.hub = hub or LiveHub()
        self.role: ProcessRole = role
        self.bus: LiveBus = bus or InProcessBus(self.hub)
        self.relay = VehicleRelay(self.hub) if self.bus.remote else None
        """The web side's vehicle picture when frames come from other processes."""
        self.gateway = Gateway(
            sites,
            self.bus,
            recorder,
            gateway_settings,
            activate_booking=self._activate_booking,
            finish_booking=self._finish_booking,
        )
        self.ais = AisRuntime(
            self.gateway, ais_endpoints, vessel_limits, ais_stale_s, ais_dir
        )
        """AIS links, sentence log and vessel picture (``web.runtime_ais``)."""
        self.retention_days = retention_days
        self.links: list[Link] = []
        self.fences = BookingFences(
            self.gateway, lambda: self.links, sites, store=SqlFenceReports(engine)
        )
        """Fences sent to the drones, per booking (``web.booking_fences``)."""
        self.overload = OverloadFeed(lambda: self.links, self.publish)
        """Whether the links shed load, for the map (``web.runtime_overload``)."""
        self._tasks: list[asyncio.Task[None]] = []
        self._refresh = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._snapshot_vehicles: tuple[float, list[dict[str, Any]] | None] = (0.0, None)
        self.loop_watch = LoopWatch()
        """The event loop's lag, and where it was when it stalled."""

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._tasks.append(
            asyncio.create_task(self.loop_watch.run(), name="loop-watch")
        )
        consumes = self.role != "gateway"
        await self.bus.start((self.relay or self.hub) if consumes else None)
        if self.relay is not None and consumes:
            self._tasks.append(
                asyncio.create_task(self.relay.run(), name="vehicle-relay")
            )
        control = self.bus.control
        if self.role == "web":
            # No links, no gateway: bookings changed here still reach the bus.
            self.events.subscribe(self._on_domain_events)
            if control is not None and self.bus.connected:
                # The bus asked every gateway for full records as it subscribed;
                # serving before they arrive would show drones without names.
                await asyncio.sleep(FIRST_RECORDS_WAIT_S)
            return
        if control is not None:
            control.on_full_records_wanted = self._full_records_wanted
            self._tasks.append(
                asyncio.create_task(self._link_report_loop(), name="link-reports")
            )
        if self.recorder is not None:
            self.recorder.start()
        await self.refresh_directory()
        self.events.subscribe(self._on_domain_events)
        gw = self.gateway
        self.router = LinkRouter(
            gw.exchanges, self._systems_heard, gw.settings.gcs_sysid, time.time
        )
        on_data: OnData = gw.ingest
        on_data_from: OnDataFrom = gw.ingest
        if self.forward:
            on_data, on_data_from = forwarding(self.router, gw.ingest, gw.ingest)
        for endpoint in self.endpoints:
            link = await open_link(endpoint, on_data, on_stream_end=gw.end_stream)
            link.on_backlog = gw.note_backlog
            link.on_shed = gw.record_shed
            # Set before the loop runs again, so no datagram misses them.
            link.on_data_from = on_data_from
            link.allowed = self.allowed
            self.links.append(link)
            talks = endpoint.spec in self.talk
            self.router.vehicle_links.append(RoutedLink(link.link_id, link, talks))
            logger.info("MAVLink link %s open on %s", link.link_id, link.local_address)
        self.links += await open_targets(self.router, self.forward)
        if self.talk:
            self._tasks.append(asyncio.create_task(self.router.run(), name="router"))
        await self.ais.open_links(self.links)
        if self.ais.endpoints:
            vessels = self.ais.vessels.run()
            self._tasks.append(asyncio.create_task(vessels, name="vessels"))
        self._tasks.append(asyncio.create_task(self.gateway.run(), name="gateway"))
        self._tasks.append(
            asyncio.create_task(self.overload.run(), name="overload-watch")
        )
        self._tasks.append(
            asyncio.create_task(self._refresh_loop(), name="directory-refresh")
        )
        self._tasks.append(
            asyncio.create_task(self._retention_loop(), name="retention")
        )
        self._tasks.append(
            asyncio.create_task(
                run_window_end_sweep(self.engine, self.uow_factory, GATEWAY_ACTOR),
                name="booking-window-end",
            )
        )
        auto_fences = self.fences.run_auto(bookings_between(self.engine, GATEWAY_ACTOR))
        self._tasks.append(asyncio.create_task(auto_fences, name="fence-upload"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for link in self.links:
            await link.close()
        self.links.clear()
        await self.ais.close()
        if self.recorder is not None and self.role != "web":
            await asyncio.to_thread(self.recorder.close)
            await asyncio.sleep(0)  # let the last incidents' announcements queue
        await self.bus.close()

    def vehicle_frames(self, now_s: float) -> list[dict[str, Any]]:
        """Every live vehicle for a snapshot: from the bus's relay when there is
        one, else from this process's gateway.

        Shared by the snapshots of ``SNAPSHOT_SHARED_S``: a hundred maps that
        reconnect at once (a restart, a network blip) would otherwise each build
        every vehicle's record on the loop; the frames that follow a snapshot, and
        every vehicle's re-send each second, bring anything newer."""
        cached_s, frames = self._snapshot_vehicles
        if frames is not None and 0.0 <= now_s - cached_s < SNAPSHOT_SHARED_S:
            return frames
        if self.relay is not None:
            frames = self.relay.vehicle_frames(now_s)
        else:
            frames = self.gateway.vehicle_frames(now_s)
        self._snapshot_vehicles = (now_s, frames)
        return frames

    def vessel_frames(self) -> list[dict[str, Any]]:
        """Every vessel with a position, for a snapshot: from the bus's relay when
        there is one (every gateway's AIS links), else this process's."""
        if self.relay is not None:
            return self.relay.vessel_frames()
        return self.ais.vessels.vessel_frames()

    def _full_records_wanted(self) -> None:
        """A web process started: send it every vehicle and every vessel."""
        self.gateway.request_full_records()
        self.ais.vessels.request_full_picture()

    def links_report(self) -> dict[str, Any]:
        """This process's links (transport and codec figures per link, joined on
        the link id), vehicle count and tick times: ``GET /api/v1/telemetry/links``
        on one process, and what a gateway publishes for the web processes."""
        codec_rows = {row["link_id"]: row for row in self.gateway.links()}
        lag = self.loop_watch.lag()
        ais_rows = self.ais.vessels.links()
        rows: list[dict[str, Any]] = []
        for link in self.links:
            row: dict[str, Any] = {
                "link_id": link.link_id,
                "local_address": str(link.local_address),
                "transport": dataclasses.asdict(link.counters),
                "overloaded": link.overloaded,
                "decode_age_ms": dict(
                    zip(
                        ("p50", "p99", "max"),
                        (round(1000 * a, 1) for a in link.decode_age_s()),
                        strict=True,
                    )
                ),
                "streams": [
                    codec_row
                    for codec_id, codec_row in codec_rows.items()
                    if link_key(codec_id) == link.link_id
                ],
            }
            ais = {s: c for s, c in ais_rows.items() if link_key(s) == link.link_id}
            if ais:
                row["ais_streams"] = ais  # AIS codec counters per stream (docs/ais.md)
            rows.append(row)
        return {
            "links": rows,
            "vehicles": self.gateway.vehicle_count(),
            "overloaded": self.overload.overloaded,
            "vessels": len(self.ais.vessels.table),
            "tick_ms_last": round(self.gateway.tick_seconds_last * 1000, 3),
            "tick_ms_max": round(self.gateway.tick_seconds_max * 1000, 3),
            "loop_lag_ms": {
                "p50": round(lag.p50_s * 1000, 1),
                "p99": round(lag.p99_s * 1000, 1),
                "max": round(lag.max_s * 1000, 1),
                "stalls": lag.stalls,
            },
        }

    async def _link_report_loop(self) -> None:
        """Publish this gateway's link figures for the web processes to add up."""
        control = self.bus.control
        while control is not None:
            try:
                await control.publish_links(self.links_report())
            except Exception:
                logger.exception("link report not published; will retry")
            await asyncio.sleep(LINK_REPORT_S)

    def publish(self, frame: Mapping[str, Any], operator_id: str | None) -> None:
        """Announce a must-keep frame (e.g. an incident change) to every viewer of
        every web process; call on the event loop."""
        self.bus.publish(frame, operator_id)

    async def refresh_directory(self) -> None:
        now = datetime.now(UTC)
        directory = await asyncio.to_thread(load_fleet_directory, self.engine, now)
        self.gateway.set_directory(directory, time.time())

    async def _refresh_loop(self) -> None:
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._refresh.wait(), DIRECTORY_REFRESH_S)
            self._refresh.clear()
            try:
                await self.refresh_directory()
            except Exception:
                logger.exception("fleet directory refresh failed; keeping the old one")
            # Requests that arrive meanwhile are served by one reload after the gap:
            # a fleet taking off activates hundreds of bookings a second, and one
            # reload each would keep a worker thread (and the GIL) busy throughout.
            await asyncio.sleep(DIRECTORY_REFRESH_GAP_S)

    def request_refresh(self) -> None:
        """Reload the fleet directory soon; safe from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._refresh.set)

    async def _retention_loop(self) -> None:
        """Once an hour, delete replay positions and tlogs past the retention."""
        while True:
            if self.recorder is not None:
                try:
                    result = await asyncio.to_thread(
                        self.recorder.purge, self.retention_days
                    )
                    logger.info("retention sweep: %s", result)
                    await self.ais.purge(self.retention_days)
                except Exception:
                    logger.exception("retention sweep failed; will retry")
            await asyncio.sleep(RETENTION_SWEEP_S)

    def _systems_heard(self) -> list[tuple[str, int, bool]]:
        return [(v.link_id, v.sysid, v.is_gcs) for v in self.gateway.vehicles.values()]

    def _activate_booking(self, booking_id: int, t_s: float) -> None:
        """Mark the booking active, off the loop; a refusal is logged, not raised
        (one for its fence is also a warning event on the drone)."""
        activate = fenced_activation(
            self.fences, booking_id, self.uow_factory, GATEWAY_ACTOR, self._loop
        )
        change_off_loop(self._loop, "activated", booking_id, activate, t_s)

    def _finish_booking(self, booking_id: int, t_s: float, why: str) -> None:
        """Mark the active booking completed (``why`` goes to the audit trail), off
        the loop; a refusal (already completed, say by the pilot) is logged."""
        complete = completion(self.uow_factory, GATEWAY_ACTOR, why)
        change_off_loop(self._loop, "completed", booking_id, complete, t_s)

    def _on_domain_events(self, events: Sequence[DomainEvent]) -> None:
        """From the committing request's worker thread: build the frames from the
        bookings the events carry, as the commit stored them (pages replace their
        copy with the frame's), then hand them to the loop (never block it)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        frames = event_frames(events)
        loop.call_soon_threadsafe(self._publish_domain_events, frames)

    def _publish_domain_events(self, frames: list[EventFrame]) -> None:
        if publish_event_frames(frames, self.bus.publish):
            self._refresh.set()
