"""What the gateway knows between two datagrams: every field its modules share.

:class:`GatewayState` is the ``Gateway``'s data and nothing else; the work on it
lives beside it, one seam a module (``ingest``, ``tick``, ``binding``,
``announcing``, ``output``), as functions taking the state first. The fields with a
leading underscore are internal to ``telemetry.live``; the rest are read by the web
process (metrics, snapshots).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from airspace.site import Site
from telemetry.incidents.model import TrackSample
from telemetry.live.fleet import FleetDirectory
from telemetry.live.frames import MotionRow
from telemetry.live.gateway_ports import (
    BookingActivator,
    BookingFinisher,
    GatewayRecorder,
)
from telemetry.live.gateway_settings import GatewaySettings, LivePublisher
from telemetry.live.quotas import UnregisteredQuotas
from telemetry.live.site_monitor import SiteMonitor
from telemetry.live.vehicle_exchange import VehicleExchanges
from telemetry.live.vehicles import VehicleState
from telemetry.mavlink.codec import LinkCodec, LinkCounters


@dataclass
class PendingEvidence:
    """An opened incident whose ``after`` evidence is taken at ``due_s``."""

    due_s: float
    incident_id: int
    vehicle: VehicleState
    from_s: float


class GatewayState:
    """All live vehicles of all links and sites, and the gateway's bookkeeping."""

    def __init__(
        self,
        sites: Mapping[str, Site],
        hub: LivePublisher,
        recorder: GatewayRecorder | None = None,
        settings: GatewaySettings | None = None,
        activate_booking: BookingActivator | None = None,
        clock: Callable[[], float] = time.time,
        finish_booking: BookingFinisher | None = None,
    ) -> None:
        self.sites = dict(sites)
        self.hub = hub
        self.recorder = recorder
        self.settings = settings or GatewaySettings()
        self.activate_booking = activate_booking
        self.finish_booking = finish_booking
        self.clock = clock
        self.monitors = {sid: SiteMonitor(site) for sid, site in self.sites.items()}
        self._site_refs = [
            (sid, s.ref_lon_deg, s.ref_lat_deg) for sid, s in self.sites.items()
        ]
        self.require_signing = bool(self.sites) and all(
            s.require_signing for s in self.sites.values()
        )
        """Every link's codec is strict (``require_signing``): the links are shared
        by every site, so they are the site's own only when all sites require it."""
        self.strict_sites = frozenset(
            sid for sid, s in self.sites.items() if s.require_signing
        )
        """Sites with ``require_signing``: a vehicle bound to one is refused until
        its frames verify (``telemetry.live.strict_sites``), strict codecs or not."""
        self.mixed_signing = bool(self.strict_sites)
        """Some site requires signing: ``ingest`` checks each vehicle's
        ``signing_required`` (when all do, the strict codecs refuse first)."""
        self._refusing: dict[str, VehicleState] = {}
        """Refusing markers: vehicles bound to a strict site whose frames did not
        verify, kept off the live picture (``strict_sites``)."""
        self.directory = FleetDirectory()
        self.quotas = UnregisteredQuotas(self.settings.quotas)
        """Unregistered sysids' spend per link (``telemetry.live.quotas``)."""
        self.codecs: dict[str, LinkCodec] = {}
        self.vehicles: dict[str, VehicleState] = {}
        self.exchanges = VehicleExchanges(self.settings.gcs_sysid, clock=clock)
        """Fence transfers and commands waiting for their vehicle's replies."""
        self._by_link: dict[str, dict[int, VehicleState]] = {}
        self._streams: dict[str, tuple[LinkCodec, str, dict[int, VehicleState]]] = {}
        """Per stream: its codec, link and the link's vehicles (one lookup each)."""
        self._retired: list[LinkCounters] = []
        """Counters of streams that ended (kept for the totals)."""
        self._changed: set[str] = set()
        self._unbound: dict[str, VehicleState] = {}
        """Vehicles heard since the last tick for the first time: tied to their
        drone and booking by the tick from their first frame, not their first
        position (the sysid says who it is; the site can come from the drone)."""
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
        self._prompt_tick = False
        """A tick is asked for as soon as the loop is free (``ingest``: a position
        that may confirm a breach arrived; waiting for the regular tick would
        announce the breach up to ``tick_s`` later)."""
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
        """Per vehicle: the track slot (t_s // track_interval_s) of its last sample."""
        self._tracks: list[TrackSample] = []
        """Track samples not yet handed to the recorder (with the tlogs, once a
        second: each hand-off wakes the writer thread, which then competes for the
        GIL)."""
        self._spoofed: Counter[tuple[str, int]] = Counter()
        """Per (link, sysid): frames refused since the last ``spoofed_frames``."""
        self.refused_frames: Counter[str] = Counter()
        """Frames refused since start, by reason (``wrong_source``: a sender other
        than the one the vehicle is pinned to; the signature reasons are counted
        per link by the codecs)."""
        self._spoof_reported: dict[tuple[str, int], float] = {}
        self._open_incident: dict[tuple[str, str], int] = {}
        self._evidence: list[PendingEvidence] = []
        self._activated: set[int] = set()
        self._finished: set[int] = set()
        """Bookings handed to ``finish_booking`` (once each)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._from_threads: deque[Callable[[], None]] = deque()
        """Calls handed over by the recorder's thread (stored incidents to
        announce); run by the next ``ingest`` or ``tick``, or by the loop."""
        self.ticks = 0
        self.tick_seconds_max = 0.0
        self.tick_seconds_last = 0.0
        self.events_total: Counter[str] = Counter()
        self.incidents_announced = 0

    def activate_again(self, booking_id: int) -> None:
        """Let the next frame of ``booking_id``'s flying drone ask again for the
        booking to be activated (the reason it was refused, such as a fence that
        did not verify, has gone)."""
        self._activated.discard(booking_id)
