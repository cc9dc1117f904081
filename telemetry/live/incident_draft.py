"""Records the gateway hands to the recorder, built from a vehicle's state: an
incident's draft (rule, booking, volume, link figures), its evidence samples and
the 1 Hz track samples for replay."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from airspace.site import CorridorId, Site, SiteId
from booking.model import BookingId, DroneId, OperatorId
from telemetry.incidents.model import (
    EvidenceBuilder,
    EvidenceFrame,
    EvidencePhase,
    EvidenceSample,
    IncidentKind,
    NewIncident,
    Severity,
    TrackSample,
    VolumeSnapshot,
)
from telemetry.live.frames import severity_of
from telemetry.live.site_monitor import STATE_NAMES
from telemetry.live.vehicles import RingSnapshot, Sample, VehicleState

_SNAPSHOTS_KEPT = 4096
_SNAPSHOTS: dict[tuple[int, str], tuple[Site, VolumeSnapshot | None]] = {}
"""(id of the site, corridor id) -> the site and its corridor's snapshot. A site
is immutable, so each corridor is projected to lon/lat once per loaded site: a
whole fleet losing its link at once drafts a thousand incidents in one tick."""


def corridor_snapshot(site: Site, corridor_id: str) -> VolumeSnapshot | None:
    """The snapshot of ``site``'s corridor ``corridor_id`` (None if it has none)."""
    key = (id(site), corridor_id)
    cached = _SNAPSHOTS.get(key)
    if cached is not None and cached[0] is site:
        return cached[1]
    try:
        corridor = site.corridor(corridor_id)
    except KeyError:
        snapshot = None
    else:
        snapshot = VolumeSnapshot.of(
            corridor.volume, site.projection, f"corridor:{corridor.id}"
        )
    if len(_SNAPSHOTS) >= _SNAPSHOTS_KEPT:
        _SNAPSHOTS.clear()  # sites reloaded many times: drop the old ones
    _SNAPSHOTS[key] = (site, snapshot)
    return snapshot


def draft_incident(
    v: VehicleState,
    kind: str,
    t_s: float,
    message: str,
    site: Site | None,
    seq_lost: int | None,
) -> NewIncident:
    """The incident ``kind`` of ``v`` at ``t_s``, with the volume it was bound to
    (``site``'s corridor) and its link figures (``seq_lost`` when known)."""
    volume: VolumeSnapshot | None = None
    if site is not None and v.corridor_id is not None:
        volume = corridor_snapshot(site, v.corridor_id)
    link: dict[str, Any] = {
        "link_id": v.link_id,
        "frames_per_s": round(v.frames_per_s, 2),
        "decoded_per_s": round(v.rate_mps, 2),
        "link_age_s": round(v.link_age_s(t_s), 3),
        "gps_fix": v.gps_fix,
        "satellites": v.gps_satellites,
    }
    if seq_lost is not None:
        link["seq_lost"] = seq_lost
    return NewIncident(
        site_id=SiteId(v.site_id or ""),
        kind=IncidentKind(kind),
        severity=Severity(severity_of(kind)),
        at=datetime.fromtimestamp(t_s, UTC),
        vehicle_key=v.key,
        sysid=v.sysid,
        message=message,
        drone_id=DroneId(v.drone_id) if v.drone_id else None,
        operator_id=OperatorId(v.operator_id) if v.operator_id else None,
        booking_id=BookingId(v.booking_id) if v.booking_id is not None else None,
        corridor_id=CorridorId(v.corridor_id) if v.corridor_id else None,
        rule={"rule": kind, **_RULE_THRESHOLDS.get(kind, {})},
        volume=volume,
        link=link,
        idempotency_key=f"{v.key}:{kind}:{round(t_s * 1000)}",
    )


def track_sample(v: VehicleState) -> TrackSample:
    """``v``'s newest position as a replay sample."""
    return TrackSample(
        site_id=SiteId(v.site_id or ""),
        vehicle_key=v.key,
        sysid=v.sysid,
        drone_id=DroneId(v.drone_id) if v.drone_id else None,
        booking_id=BookingId(v.booking_id) if v.booking_id is not None else None,
        t_s=v.last_position_s,
        lat_deg=v.lat_deg,
        lon_deg=v.lon_deg,
        alt_amsl_m=v.alt_amsl_m,
        rel_alt_m=v.rel_alt_m,
        speed_mps=v.speed_mps,
        heading_deg=v.heading_deg,
        battery_pct=None if v.battery_pct is None else float(v.battery_pct),
        state=v.conformance,
    )


def evidence_samples(
    samples: list[Sample], phase: EvidencePhase
) -> list[EvidenceSample]:
    return [
        EvidenceSample(
            t_s=s.t_s,
            lat_deg=s.lat_deg,
            lon_deg=s.lon_deg,
            alt_amsl_m=s.alt_amsl_m,
            rel_alt_m=s.rel_alt_m,
            vn_mps=s.vn_mps,
            ve_mps=s.ve_mps,
            vd_mps=s.vd_mps,
            heading_deg=None if math.isnan(s.heading_deg) else s.heading_deg,
            state=STATE_NAMES.get(int(s.state_code), "on_ground"),
            phase=phase,
        )
        for s in samples
        if math.isfinite(s.lat_deg) and math.isfinite(s.alt_amsl_m)
    ]


def evidence_builder(snapshot: RingSnapshot, phase: EvidencePhase) -> EvidenceBuilder:
    """Evidence (positions and raw frames) from ``snapshot``, built when called:
    by the recorder's thread, off the gateway's loop."""

    def build() -> tuple[list[EvidenceSample], list[EvidenceFrame]]:
        return evidence_samples(snapshot.samples(), phase), snapshot.raw_frames()

    return build


_RULE_THRESHOLDS: dict[str, dict[str, Any]] = {
    "corridor_exit_lateral": {"confirm_samples": 2},
    "corridor_exit_vertical": {"confirm_samples": 2},
    "boundary_exit": {"confirm_samples": 2},
    "exclusion_entry": {"confirm_samples": 2},
    "unbooked_flight": {"confirm_samples": 2},
}
