"""What a replay shows: the time-ordered track, its conformance states and events.

One ``Replay`` serves the replay API (``GET .../track``), every export format and
the incident report, so they all show the same track. Pure: the web layer reads
the stores and builds it with ``incident_replay`` or ``booking_replay``.

An incident's track is its evidence (full rate, from before it opened to after);
a booking's is the recorded replay track (about 1 Hz) of its flight. Positions are
WGS84 degrees with altitude in metres AMSL; ``t_s`` is UTC epoch seconds.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from airspace.hk_grid import MpdReference
from telemetry.incidents.model import (
    EvidenceSample,
    Incident,
    IncidentEvent,
    TrackSample,
    VolumeSnapshot,
)
from telemetry.live.frames import utc_iso
from telemetry.reports.vessel_tracks import VesselTrack

PLACE_WITHIN_S = 5.0
"""An event is drawn on the track only this close in time to a position."""


@dataclass(frozen=True, slots=True)
class ReplaySample:
    """One position of a replay, with the conformance state it had."""

    t_s: float
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    rel_alt_m: float
    speed_mps: float
    """Ground speed."""
    heading_deg: float | None
    state: str
    phase: str | None = None
    """``before``/``after`` the incident opened (evidence only)."""
    battery_pct: float | None = None
    vehicle_key: str | None = None

    @property
    def t_utc(self) -> datetime:
        """The sample time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.t_s, UTC)


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    """One timeline entry: an occurrence, a return, an acknowledgement, a note."""

    t_s: float
    kind: str
    incident_id: int
    actor_id: str | None
    details: Mapping[str, Any]

    @property
    def t_utc(self) -> datetime:
        """The event time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.t_s, UTC)


@dataclass(frozen=True)
class Replay:
    """A track to play back, with the volume it was held to and the events.

    ``subject`` is ``"incident"`` or ``"booking"``; ``volume`` is the assigned
    volume (for an incident: as it was when it opened), None when unknown.
    """

    subject: str
    subject_id: int
    title: str
    samples: tuple[ReplaySample, ...]
    events: tuple[ReplayEvent, ...]
    volume: VolumeSnapshot | None
    incidents: tuple[Incident, ...] = field(default=())
    mpd: MpdReference = field(default_factory=MpdReference)
    """How the site turns heights into mPD, for the exports' grid columns."""
    vessels: tuple[VesselTrack, ...] = field(default=())
    """AIS vessels heard around it (from the raw AIS recording)."""

    @property
    def start_s(self) -> float | None:
        """The earliest sample or event time, or None when there is neither."""
        times = [s.t_s for s in self.samples[:1]] + [e.t_s for e in self.events[:1]]
        return min(times) if times else None

    @property
    def end_s(self) -> float | None:
        """The latest sample or event time, or None when there is neither."""
        times = [s.t_s for s in self.samples[-1:]] + [e.t_s for e in self.events[-1:]]
        return max(times) if times else None


def from_evidence(samples: Iterable[EvidenceSample]) -> tuple[ReplaySample, ...]:
    """Return evidence positions as replay samples, in time order."""
    return tuple(
        ReplaySample(
            t_s=s.t_s,
            lat_deg=s.lat_deg,
            lon_deg=s.lon_deg,
            alt_amsl_m=s.alt_amsl_m,
            rel_alt_m=s.rel_alt_m,
            speed_mps=math.hypot(s.vn_mps, s.ve_mps),
            heading_deg=s.heading_deg,
            state=s.state,
            phase=str(s.phase),
        )
        for s in sorted(samples, key=lambda s: s.t_s)
    )


def from_track(samples: Iterable[TrackSample]) -> tuple[ReplaySample, ...]:
    """Return replay-track positions as replay samples, in time order."""
    return tuple(
        ReplaySample(
            t_s=s.t_s,
            lat_deg=s.lat_deg,
            lon_deg=s.lon_deg,
            alt_amsl_m=s.alt_amsl_m,
            rel_alt_m=s.rel_alt_m,
            speed_mps=s.speed_mps,
            heading_deg=s.heading_deg,
            state=s.state,
            battery_pct=s.battery_pct,
            vehicle_key=s.vehicle_key,
        )
        for s in sorted(samples, key=lambda s: s.t_s)
    )


def from_timeline(events: Iterable[IncidentEvent]) -> list[ReplayEvent]:
    """Return timeline entries as replay events (not sorted)."""
    return [
        ReplayEvent(e.at.timestamp(), e.kind, e.incident_id, e.actor_id, e.details)
        for e in events
    ]


def incident_title(incident: Incident) -> str:
    """Return a one-line title: ``Incident 7: corridor_exit_lateral, drone D7``."""
    who = f"drone {incident.drone_id}" if incident.drone_id else incident.vehicle_key
    return f"Incident {incident.id}: {incident.kind}, {who}"


def incident_replay(
    incident: Incident,
    evidence: Sequence[EvidenceSample],
    timeline: Iterable[IncidentEvent],
) -> Replay:
    """Return an incident's replay: its evidence and its timeline."""
    return Replay(
        subject="incident",
        subject_id=incident.id,
        title=incident_title(incident),
        samples=from_evidence(evidence),
        events=_ordered(from_timeline(timeline)),
        volume=incident.volume,
        incidents=(incident,),
    )


def booking_replay(
    booking_id: int,
    title: str,
    track: Sequence[TrackSample],
    incidents: Sequence[tuple[Incident, Sequence[IncidentEvent]]],
    volume: VolumeSnapshot | None,
) -> Replay:
    """Return a booking's replay: its track and the events of its incidents.

    ``volume`` is the booking's corridor; when None, the first incident's
    snapshot (if any) stands in.
    """
    events: list[ReplayEvent] = []
    for _, timeline in incidents:
        events.extend(from_timeline(timeline))
    if volume is None:
        volume = next((i.volume for i, _ in incidents if i.volume), None)
    return Replay(
        subject="booking",
        subject_id=booking_id,
        title=title,
        samples=from_track(track),
        events=_ordered(events),
        volume=volume,
        incidents=tuple(i for i, _ in incidents),
    )


def _ordered(events: list[ReplayEvent]) -> tuple[ReplayEvent, ...]:
    return tuple(sorted(events, key=lambda e: (e.t_s, e.incident_id)))


def positions_at(
    samples: Sequence[ReplaySample],
    times_s: Iterable[float],
    max_gap_s: float = PLACE_WITHIN_S,
) -> list[ReplaySample | None]:
    """Return, per time, the sample nearest to it, or None when none is within
    ``max_gap_s`` (an acknowledgement an hour later is not placed on the track).

    ``samples`` must be in time order (a ``Replay``'s are).
    """
    stamps = [s.t_s for s in samples]
    found: list[ReplaySample | None] = []
    for t_s in times_s:
        i = bisect.bisect_left(stamps, t_s)
        nearby = [j for j in (i - 1, i) if 0 <= j < len(samples)]
        best = min(nearby, key=lambda j: abs(stamps[j] - t_s), default=None)
        near = best is not None and abs(stamps[best] - t_s) <= max_gap_s
        found.append(samples[best] if near and best is not None else None)
    return found


SAMPLE_FIELDS: Final = (
    "lat_deg",
    "lon_deg",
    "alt_amsl_m",
    "rel_alt_m",
    "speed_mps",
    "heading_deg",
    "state",
    "phase",
    "battery_pct",
)
"""A replay sample's fields after its time, as the replay API sends them."""
EVIDENCE_FIELDS: Final = (
    "lat_deg",
    "lon_deg",
    "alt_amsl_m",
    "rel_alt_m",
    "vn_mps",
    "ve_mps",
    "vd_mps",
    "heading_deg",
    "state",
)
"""An evidence sample's fields after its time, as the evidence API sends them."""


class TimedSample(Protocol):
    """A position sample: anything with its time in Unix seconds."""

    @property
    def t_s(self) -> float: ...


def sample_json(
    s: TimedSample, fields: Sequence[str] = SAMPLE_FIELDS
) -> dict[str, Any]:
    """Return a sample as the APIs send it: ``t_s``, ``t_utc``, then ``fields``.

    The one sample-to-JSON helper of the replay, the exports and the evidence
    route (``EVIDENCE_FIELDS`` for an ``EvidenceSample``).
    """
    out: dict[str, Any] = {"t_s": s.t_s, "t_utc": utc_iso(s.t_s)}
    for name in fields:
        out[name] = getattr(s, name)
    return out


def event_json(e: ReplayEvent) -> dict[str, Any]:
    """Return an event as the replay API sends it."""
    return {
        "t_s": e.t_s,
        "t_utc": utc_iso(e.t_s),
        "kind": e.kind,
        "incident_id": e.incident_id,
        "actor_id": e.actor_id,
        "details": dict(e.details),
    }


def volume_json(volume: VolumeSnapshot | None) -> dict[str, Any] | None:
    """Return the volume as ``{outline (GeoJSON), floor_amsl_m, ceiling_amsl_m,
    source}``, or None."""
    return volume.as_dict() if volume is not None else None


def replay_json(replay: Replay) -> dict[str, Any]:
    """Return the replay as the API sends it (the pages' time slider reads it)."""
    start, end = replay.start_s, replay.end_s
    return {
        "subject": replay.subject,
        "id": replay.subject_id,
        "title": replay.title,
        "start_utc": utc_iso(start) if start is not None else None,
        "end_utc": utc_iso(end) if end is not None else None,
        "volume": volume_json(replay.volume),
        "samples": [sample_json(s) for s in replay.samples],
        "events": [event_json(e) for e in replay.events],
        "incident_ids": [i.id for i in replay.incidents],
        "vessels": [v.as_json() for v in replay.vessels],
    }
