"""What the gateway hands on: the ``vehicles`` frame to the hub, track samples,
``after`` evidence and ``.tlog`` records to the recorder, and the views the web
process reads (vehicle snapshot, per-link counters).
"""

from __future__ import annotations

import math
from typing import Any

from telemetry.incidents.model import EvidencePhase, TrackSample
from telemetry.live.binding import bind_unplaced
from telemetry.live.frames import MotionRow, vehicle_frame, vehicle_motion
from telemetry.live.incident_draft import evidence_builder, track_sample
from telemetry.live.state import GatewayState
from telemetry.live.strict_sites import forget_silent_markers
from telemetry.live.vehicles import VehicleState

UNSITED = "unsited"
"""The recording folder of vehicles whose site is not known yet."""


def publish_changed(gw: GatewayState, now_s: float) -> None:
    """One ``vehicles`` frame: motion rows of changed vehicles, full records of
    new or re-tied ones; every vehicle each ``full_frame_s``, in full each
    ``full_record_s``."""
    settings = gw.settings
    every = now_s - gw._full_frame_s >= settings.full_frame_s
    whole = now_s - gw._full_record_s >= settings.full_record_s
    if every:
        gw._full_frame_s = now_s
        gw._changed.update(k for k, v in gw.vehicles.items() if not v.is_gcs)
    if whole:
        gw._full_record_s = now_s
    if not gw._changed:
        return
    records: list[dict[str, Any]] = []
    rows: list[MotionRow] = []
    vehicles, checked = gw.vehicles, gw._checked
    for key in gw._changed:
        v = vehicles.get(key)
        if v is None:
            continue
        if v.needs_full_frame or whole:
            v.needs_full_frame = False
            records.append(vehicle_frame(v, now_s))
            # Clients apply records before rows: positions checked early and
            # replaced since still go out, each with its own state.
            if (early := checked.get(key)) is not None:
                rows += early
        elif not v.has_position:
            # Nothing a motion row could place: its full record goes out when it
            # is new or re-tied, and every ``full_record_s`` like every vehicle's.
            continue
        elif (early := checked.get(key)) is not None:
            rows += early
        else:
            rows.append(vehicle_motion(v, now_s))
    gw._changed.clear()
    checked.clear()
    gw.hub.publish_vehicles(now_s, records, rows)


def sample_track(gw: GatewayState, v: VehicleState, out: list[TrackSample]) -> None:
    """Add ``v``'s position to ``out`` if it is its first in a new
    ``track_interval_s`` slot (UTC-aligned: a 1 Hz track has a sample per second)."""
    if gw.recorder is None or not v.flying:
        return
    # The first position in each new interval (each whole second at 1 Hz), not
    # the first one ``track_interval_s`` after the last kept: that kept samples
    # 1.25 s apart from a 4 Hz stream, a track slower than the 1 Hz documented.
    slot = math.floor(v.last_position_s / gw.settings.track_interval_s)
    if slot <= gw._track_s.get(v.key, -math.inf):
        return
    gw._track_s[v.key] = slot
    if v.drone_id is None and not gw.quotas.take_track_row(v.link_id, v.key):
        return
    out.append(track_sample(v))


def due_evidence(gw: GatewayState, now_s: float) -> None:
    """Hand the recorder the ``after`` evidence of incidents now due."""
    if not gw._evidence or gw.recorder is None:
        return
    due = [e for e in gw._evidence if e.due_s <= now_s]
    if not due:
        return
    gw._evidence = [e for e in gw._evidence if e.due_s > now_s]
    for item in due:
        snapshot = item.vehicle.ring_snapshot(item.from_s, item.due_s)
        gw.recorder.add_evidence(
            item.incident_id,
            later_evidence=evidence_builder(snapshot, EvidencePhase.AFTER),
        )


def flush_tlog(gw: GatewayState, now_s: float) -> None:
    """Hand the recorder the track samples and every vehicle's ``.tlog`` records.

    A vehicle's records go to its booking's recording while it is tied to one
    (from its first frame: ``binding.bind_new``), else to its site's
    ``unbooked-sysid-<n>``; a vehicle whose site is not known yet (unregistered,
    no position) to ``unsited/unbooked-sysid-<n>``."""
    gw._tlog_flushed_s = now_s
    if gw._tracks and gw.recorder is not None:
        gw.recorder.record_track(gw._tracks)
        gw._tracks = []
    batch: list[tuple[str, bytes, int]] = []
    # A copy: binding may take a vehicle off the live picture (``strict_sites``).
    for v in list(gw.vehicles.values()):
        if not v.tlog_pending_count:
            continue
        records, count = v.take_tlog()
        if v.is_gcs:
            continue
        if not bind_unplaced(gw, v, now_s):
            continue  # refused at a site that requires signing: not recorded
        if v.drone_id is None and not gw.quotas.take_tlog(
            v.link_id, v.key, len(records), count
        ):
            continue
        if v.booking_id is not None:
            name = f"{v.site_id}/booking-{v.booking_id}"
        else:
            name = f"{v.site_id or UNSITED}/unbooked-sysid-{v.sysid}"
        batch.append((name, records, count))
    if batch and gw.recorder is not None:
        # One hand-off a second: a thread wake-up per vehicle cost more.
        gw.recorder.record_tlogs(batch)


def forget_silent(gw: GatewayState, now_s: float) -> None:
    """Every 50 ticks, forget vehicles silent for ``forget_after_s``."""
    if gw.ticks % 50:
        return
    horizon = now_s - gw.settings.forget_after_s
    if gw._refusing:
        forget_silent_markers(gw, horizon)
    for key, v in list(gw.vehicles.items()):
        if v.last_message_s < horizon:
            del gw.vehicles[key]
            gw._by_link.get(v.link_id, {}).pop(v.sysid, None)
            gw.quotas.forget(v.link_id, v.sysid, key)
            if v.site_id in gw.monitors:
                gw.monitors[v.site_id].forget(key)


def vehicle_frames(gw: GatewayState, now_s: float) -> list[dict[str, Any]]:
    """Every live vehicle, as the snapshot lists them.

    A vehicle the tick has not bound yet is left out: until then it has no
    organisation, and one with none is shown to everyone, so a viewer connecting
    between its first datagram and the next tick would see another organisation's
    drone. The tick binds it before its first frame goes out (``binding.bind_new``).
    """
    return [
        vehicle_frame(v, now_s)
        for v in gw.vehicles.values()
        if not v.is_gcs and v.bound_version >= 0
    ]


def vehicle_count(gw: GatewayState) -> int:
    """Vehicles heard (autopilots, as MAVLink identifies them; not ground stations)."""
    return sum(1 for v in gw.vehicles.values() if v.is_vehicle)


def links(gw: GatewayState) -> list[dict[str, Any]]:
    """Per link: vehicles (autopilots, not ground stations), messages and
    bad-input counters."""
    out = []
    for link_id, codec in gw.codecs.items():
        counters = codec.counters
        heard = gw._by_link.get(link_id, {})
        out.append(
            {
                "link_id": link_id,
                "vehicles": sum(1 for v in heard.values() if v.is_vehicle),
                **counters.as_dict(),
            }
        )
    return out
