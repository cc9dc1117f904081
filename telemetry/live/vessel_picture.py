"""The live vessel picture: AIS links in, vessels and proximity events out.

:class:`VesselPicture` is to AIS what the gateway is to MAVLink, on the same loop:
``ingest(stream_id, data, now_s)`` is the transports' ``on_data`` (it only feeds
the stream's :class:`~telemetry.ais.AisLinkCodec` and folds messages into the
:class:`~telemetry.live.vessels.VesselTable`), and ``tick(now_s)``, every
``tick_s``, does the rest in one batch:

* expires stale vessels and publishes one ``vessels`` frame with the vessels that
  changed and the MMSIs that went (docs/live-stream.md; everyone sees vessels);
* for each site with over-water corridors, checks every flying drone over water
  against every vessel in one vectorised pass
  (:func:`airspace.vessel_proximity.proximity_alerts`) and raises
  ``vessel_proximity`` warnings and ``vessel_separation_breach`` incidents through
  the gateway's own ``announcing.emit`` (so a breach is stored with its evidence
  like any other incident before it is announced);
* hands the raw sentences received since the last tick to ``on_sentences`` (the
  recording), per site: a sentence goes to each site whose area
  (:func:`airspace.vessel_proximity.site_area`) its vessel is in, and to every
  site when its vessel has no position yet or it has no MMSI (an undecodable or
  incomplete message); a vessel far from every site is not recorded.

A warning is raised again for the same drone and vessel at most every
``repeat_s``; a breach once, until the pair is clear again (``breach_m`` x 1.5).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import shapely

from airspace.cpa import KNOT_MPS, velocity_en
from airspace.site import Site
from airspace.vessel_proximity import (
    BREACH,
    ProximityAlert,
    ProximityLimits,
    over_water_mask,
    over_water_zones,
    proximity_alerts,
    site_area,
)
from telemetry.ais import AisLinkCodec, AisSentence
from telemetry.live import announcing
from telemetry.live.fleet import BookingEntry
from telemetry.live.frames import utc_iso
from telemetry.live.state import GatewayState
from telemetry.live.vehicles import VehicleState
from telemetry.live.vessels import STALE_AFTER_S, VesselState, VesselTable
from telemetry.mavlink.transports import link_key

logger = logging.getLogger(__name__)

TICK_S = 0.5
"""Vessels report every 2-10 s under way, drones move ~10 m/s: twice a second keeps
a CPA at most 5 m of drone travel old, at the cost of one small matrix."""
REPEAT_S = 30.0
VESSELS_PER_FRAME = 200
"""A vessel record with its trail is up to ~1 kB: 200 a frame stays well under the
bus's limit for one frame (``nats_bus.MAX_EVENT_BYTES``) when all 2000 go at once."""
CLEAR_FACTOR = 1.5

OnSentences = Callable[[str, str, Sequence[AisSentence]], None]
"""Called with a site id, a link id and the link's sentences received since the
last tick that belong to the site."""


class VesselPicture:
    """Every AIS link's vessels and their proximity to flying drones."""

    def __init__(
        self,
        gateway: GatewayState,
        *,
        limits: ProximityLimits | None = None,
        stale_after_s: float = STALE_AFTER_S,
        max_vessels: int = 2000,
        tick_s: float = TICK_S,
        repeat_s: float = REPEAT_S,
        on_sentences: OnSentences | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.gateway = gateway
        self.limits = limits or ProximityLimits()
        self.table = VesselTable(stale_after_s=stale_after_s, max_vessels=max_vessels)
        self.tick_s = tick_s
        self.repeat_s = repeat_s
        self.on_sentences = on_sentences
        self.clock = clock
        self.codecs: dict[str, AisLinkCodec] = {}
        self._zones = {
            sid: over_water_zones(site) for sid, site in gateway.sites.items()
        }
        """Per site, per corridor id: its over-water area in site metres."""
        self._areas = {sid: site_area(site) for sid, site in gateway.sites.items()}
        """Per site, where its vessels are (site metres): for the recording."""
        self._in_corridor: set[tuple[int, str]] = set()
        """(MMSI, corridor id) pairs of vessels inside a corridor's water."""
        self._sentences: dict[str, list[AisSentence]] = {}
        self._gone: list[int] = []
        self._warned: dict[tuple[str, int], float] = {}
        self._breached: set[tuple[str, int]] = set()
        self.alerts_total = 0

    # -- input ------------------------------------------------------------------

    def ingest(self, stream_id: str, data: bytes, now_s: float) -> None:
        """Decode one datagram or chunk of ``stream_id`` and fold it in."""
        codec = self.codecs.get(stream_id)
        if codec is None:
            codec = self.codecs[stream_id] = AisLinkCodec(
                link_key(stream_id),
                framing="stream" if stream_id.startswith("tcp") else "datagram",
            )
        out = codec.feed(data, now_s)
        for msg in out.messages:
            self.table.apply(msg)
        if self.on_sentences is not None and out.sentences:
            self._sentences.setdefault(codec.link_id, []).extend(out.sentences)

    def end_stream(self, stream_id: str) -> None:
        """Forget a TCP stream's partial input (the peer went away)."""
        codec = self.codecs.get(stream_id)
        if codec is not None:
            codec.flush_stream()

    # -- the tick ---------------------------------------------------------------

    async def run(self) -> None:
        """Tick every ``tick_s`` until cancelled; a failing tick is logged."""
        while True:
            try:
                self.tick(self.clock())
            except Exception:
                logger.exception("vessel tick failed; continuing")
            await asyncio.sleep(self.tick_s)

    def tick(self, now_s: float) -> None:
        """Expire, publish, check proximity and hand sentences to the recording."""
        self._gone.extend(self.table.expire(now_s))
        if self.table.changed or self._gone:
            changed = [
                v.frame()
                for m in sorted(self.table.changed)
                if (v := self.table.get(m))
            ]
            gone = self._gone
            for i in range(0, max(len(changed), 1), VESSELS_PER_FRAME):
                self.gateway.hub.publish(
                    {
                        "type": "vessels",
                        "t_s": round(now_s, 3),
                        "t_utc": utc_iso(now_s),
                        "vessels": changed[i : i + VESSELS_PER_FRAME],
                        "gone": gone if i == 0 else [],
                    },
                    None,
                )
            self.table.changed.clear()
            self._gone = []
        for site_id, zones in self._zones.items():
            if zones:
                site = self.gateway.sites[site_id]
                self._corridor_entries(site, zones, now_s)
                self._check_site(site, list(zones.values()), now_s)
        if self._sentences and self.on_sentences is not None:
            batches, self._sentences = self._sentences, {}
            for link_id, batch in batches.items():
                for site_id, sentences in self._by_site(batch).items():
                    self.on_sentences(site_id, link_id, sentences)

    def _by_site(self, batch: list[AisSentence]) -> dict[str, list[AisSentence]]:
        """``batch`` split by the sites its vessels are near (module docstring)."""
        placed = [
            v
            for m in {s.mmsi for s in batch if s.mmsi is not None}
            if (v := self.table.get(m)) is not None and v.has_position
        ]
        near: dict[int, list[str]] = {v.mmsi: [] for v in placed}
        if placed:
            lons = [v.lon_deg or 0.0 for v in placed]
            lats = [v.lat_deg or 0.0 for v in placed]
            for site_id, area in self._areas.items():
                x, y = self.gateway.sites[site_id].projection.to_metric(lons, lats)
                for i in np.flatnonzero(shapely.contains_xy(area, x, y)):
                    near[placed[i].mmsi].append(site_id)
        everywhere = list(self._areas)
        out: dict[str, list[AisSentence]] = {}
        for sentence in batch:
            sites = everywhere
            if sentence.mmsi is not None and sentence.mmsi in near:
                sites = near[sentence.mmsi]
            for site_id in sites:
                out.setdefault(site_id, []).append(sentence)
        return out

    def request_full_picture(self) -> None:
        """Publish every vessel at the next tick (a web process that just started
        asks, so its first snapshot has the vessels that rarely report)."""
        self.table.changed.update(v.mmsi for v in self.table.vessels())

    def vessel_frames(self) -> list[dict[str, Any]]:
        """Every vessel with a position, as the snapshot lists them."""
        return [v.frame() for v in self.table.vessels() if v.has_position]

    def links(self) -> dict[str, dict[str, Any]]:
        """Per AIS stream: the codec's counters."""
        return {sid: c.counters.as_dict() for sid, c in self.codecs.items()}

    # -- vessels in corridors -------------------------------------------------------

    def _corridor_entries(
        self, site: Site, zones: dict[str, Any], now_s: float
    ) -> None:
        """Raise ``vessel_in_corridor`` when a vessel enters the water under a
        corridor with an approved or active booking now (once per entry)."""
        vessels = [
            s
            for s in self.table.vessels()
            if s.has_position and not s.aid_to_navigation
        ]
        inside: set[tuple[int, str]] = set()
        if vessels:
            x, y = site.projection.to_metric(
                [s.lon_deg or 0.0 for s in vessels], [s.lat_deg or 0.0 for s in vessels]
            )
            for corridor_id, zone in zones.items():
                hits = np.flatnonzero(over_water_mask([zone], x, y))
                inside.update((vessels[i].mmsi, corridor_id) for i in hits)
        for mmsi, corridor_id in inside - self._in_corridor:
            bookings = [
                b
                for b in self.gateway.directory.bookings
                if b.site_id == site.id
                and b.corridor_id == corridor_id
                and b.covers(now_s)
            ]
            vessel = self.table.get(mmsi)
            if not bookings or vessel is None:
                continue
            self.gateway.events_total["vessel_in_corridor"] += 1
            self.gateway.hub.publish(
                _corridor_frame(site.id, corridor_id, vessel, bookings, now_s), None
            )
        self._in_corridor = inside

    # -- proximity ----------------------------------------------------------------

    def _check_site(self, site: Site, zones: list[Any], now_s: float) -> None:
        drones = [
            v
            for v in self.gateway.vehicles.values()
            if v.site_id == site.id and v.flying and v.has_position
        ]
        vessels = [
            s
            for s in self.table.vessels()
            if s.has_position and not s.aid_to_navigation
        ]
        if not drones or not vessels:
            return
        proj = site.projection
        dx, dy = proj.to_metric(
            [d.lon_deg for d in drones], [d.lat_deg for d in drones]
        )
        sx, sy = proj.to_metric(
            [s.lon_deg or 0.0 for s in vessels], [s.lat_deg or 0.0 for s in vessels]
        )
        # A vessel's reported position is up to a reporting interval old: advance it
        # along its course to now (dead reckoning), as a radar plot would.
        age = np.array([now_s - (s.position_s or now_s) for s in vessels])
        sv = velocity_en(
            [(s.sog_kn or 0.0) * KNOT_MPS for s in vessels],
            [s.cog_deg or 0.0 for s in vessels],
        )
        sxy = np.stack([sx, sy], axis=-1) + sv * np.clip(age, 0, 60)[:, None]
        dxy = np.stack([dx, dy], axis=-1)
        dv = np.array([[d.ve_mps, d.vn_mps] for d in drones], dtype=np.float64)
        dv[~np.isfinite(dv)] = 0.0
        heights = np.array([d.alt_amsl_m for d in drones], dtype=np.float64)
        water = over_water_mask(zones, dx, dy)
        alerts = proximity_alerts(dxy, dv, heights, water, sxy, sv, self.limits)
        self._raise(alerts, drones, vessels, dxy, sxy, now_s)

    def _raise(
        self,
        alerts: list[ProximityAlert],
        drones: list[VehicleState],
        vessels: list[VesselState],
        dxy: np.ndarray,
        sxy: np.ndarray,
        now_s: float,
    ) -> None:
        active: set[tuple[str, int]] = set()
        for alert in alerts:
            drone, vessel = drones[alert.drone], vessels[alert.vessel]
            pair = (drone.key, vessel.mmsi)
            active.add(pair)
            if alert.kind == BREACH:
                if pair in self._breached:
                    continue
                self._breached.add(pair)
            elif now_s - self._warned.get(pair, -math.inf) < self.repeat_s:
                continue
            else:
                self._warned[pair] = now_s
            self.alerts_total += 1
            announcing.emit(
                self.gateway,
                drone,
                alert.kind,
                now_s,
                _message(drone, vessel, alert),
                _details(vessel, alert),
            )
        # A breach is over when the pair is clear by a margin (no flapping).
        clear_m = self.limits.breach_m * CLEAR_FACTOR
        keys = {d.key: i for i, d in enumerate(drones)}
        mmsis = {s.mmsi: j for j, s in enumerate(vessels)}
        for pair in list(self._breached):
            i, j = keys.get(pair[0]), mmsis.get(pair[1])
            if pair in active or i is None or j is None:
                continue
            if float(np.hypot(*(sxy[j] - dxy[i]))) > clear_m:
                self._breached.discard(pair)
        for pair, t_s in list(self._warned.items()):
            if now_s - t_s > self.repeat_s:
                del self._warned[pair]


def _corridor_frame(
    site_id: str,
    corridor_id: str,
    vessel: VesselState,
    bookings: list[BookingEntry],
    t_s: float,
) -> dict[str, Any]:
    """An ``event`` frame for a vessel entering a booked corridor's water."""
    return {
        "type": "event",
        "event": {
            "kind": "vessel_in_corridor",
            "severity": "warning",
            "t_s": round(t_s, 3),
            "t_utc": utc_iso(t_s),
            "vehicle_key": None,
            "site_id": site_id,
            "drone_id": None,
            "booking_id": bookings[0].booking_id,
            "sysid": None,
            "incident_id": None,
            "message": (
                f"vessel {_vessel_name(vessel)} entered the water under corridor "
                f"{corridor_id} (booked now)"
            ),
            "details": {
                "mmsi": vessel.mmsi,
                "vessel_name": vessel.name,
                "corridor_id": corridor_id,
                "booking_ids": [b.booking_id for b in bookings],
                "vessel_lat_deg": vessel.lat_deg,
                "vessel_lon_deg": vessel.lon_deg,
            },
        },
    }


def _vessel_name(vessel: VesselState) -> str:
    return vessel.name or f"MMSI {vessel.mmsi}"


def _message(drone: VehicleState, vessel: VesselState, alert: ProximityAlert) -> str:
    who = drone.drone_name or f"unregistered sysid {drone.sysid}"
    if alert.kind == BREACH:
        return (
            f"{who} is {alert.range_m:.0f} m from vessel {_vessel_name(vessel)} "
            f"at {drone.alt_amsl_m:.0f} m"
        )
    return (
        f"{who}: vessel {_vessel_name(vessel)} passes within {alert.dcpa_m:.0f} m "
        f"in {max(alert.tcpa_s, 0):.0f} s (now {alert.range_m:.0f} m)"
    )


def _details(vessel: VesselState, alert: ProximityAlert) -> dict[str, Any]:
    return {
        "mmsi": vessel.mmsi,
        "vessel_name": vessel.name,
        "range_m": round(alert.range_m, 1),
        "dcpa_m": round(alert.dcpa_m, 1),
        "tcpa_s": round(alert.tcpa_s, 1),
        "vessel_lat_deg": vessel.lat_deg,
        "vessel_lon_deg": vessel.lon_deg,
        "vessel_sog_kn": vessel.sog_kn,
        "vessel_cog_deg": vessel.cog_deg,
        "vessel_trail": [[p.lon_deg, p.lat_deg, p.t_s] for p in vessel.trail],
    }
