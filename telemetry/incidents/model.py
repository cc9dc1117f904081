"""What the telemetry store keeps: incidents with their evidence, and replay tracks.

Plain frozen values; ``telemetry/incidents/repository.py`` and
``telemetry/recording/track_store.py`` map them to tables. An incident is opened by
the gateway when a rule fires (``IncidentKind``) and then lives through the safety
officers' workflow (``IncidentState``; the transitions are the incident
workflow's business, the store only records them).

Evidence is frozen at the time: ``VolumeSnapshot`` holds the assigned volume as it
was (outline in WGS84 lon/lat, band in metres AMSL), so a later corridor edit never
changes an old incident. Positions carry ``t_s``, UTC epoch seconds as the gateway
received them; incident times are aware UTC datetimes.

Values are checked on construction (finite numbers, JSON-able details, aware
times), so bad data fails in the caller, with a clear message, and never later in
the recorder's writer thread where it could only be logged.
"""

from __future__ import annotations

import enum
import json
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NewType

import shapely
from shapely.geometry import Polygon, mapping, shape

from airspace.projection import SiteProjection
from airspace.site import CorridorId, SiteId
from airspace.volume import Volume
from booking.model import BookingId, DroneId, OperatorId

IncidentId = NewType("IncidentId", int)


class IncidentKind(enum.StrEnum):
    """The rule that fired (the live stream's event ``kind`` for breaches)."""

    CORRIDOR_EXIT_LATERAL = "corridor_exit_lateral"
    CORRIDOR_EXIT_VERTICAL = "corridor_exit_vertical"
    BOUNDARY_EXIT = "boundary_exit"
    EXCLUSION_ENTRY = "exclusion_entry"
    UNBOOKED_FLIGHT = "unbooked_flight"
    LINK_LOST = "link_lost"
    FENCE_BREACH = "fence_breach"
    """The autopilot's own FENCE_STATUS reported a breach."""
    SPOOFED_FRAMES = "spoofed_frames"
    """Frames with a signing drone's system id failed the signature check."""
    LOW_BATTERY = "low_battery"
    VESSEL_SEPARATION_BREACH = "vessel_separation_breach"
    """A drone low over water closer to an AIS vessel than the minimum separation."""
    BREACH_ESCALATED = "breach_escalated"
    """Nonconforming for longer than the contingency limit (F3548: 60 s)."""


class Severity(enum.StrEnum):
    """How bad it is; ordered ``info < warning < breach``."""

    INFO = "info"
    WARNING = "warning"
    BREACH = "breach"

    @property
    def rank(self) -> int:
        """0 for info, 1 for warning, 2 for breach."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.BREACH: 2}


class IncidentState(enum.StrEnum):
    """Where an incident is in the safety officers' workflow."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    CLOSED = "closed"
    REOPENED = "reopened"


class EvidencePhase(enum.StrEnum):
    """Whether an evidence position precedes the incident's opening or follows it."""

    BEFORE = "before"
    AFTER = "after"


class IncidentNotFound(LookupError):
    """No incident has the given id."""

    def __init__(self, incident_id: int) -> None:
        self.incident_id = incident_id
        super().__init__(f"incident {incident_id} not found")


def require_utc(t: datetime, what: str) -> datetime:
    """Return ``t`` in UTC; ``ValueError`` naming ``what`` when ``t`` is naive."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} {t.isoformat()} has no timezone; pass UTC")
    return t.astimezone(UTC)


def to_json(value: Mapping[str, Any], what: str) -> str:
    """Return ``value`` as strict JSON; ``ValueError`` naming ``what`` if it is not.

    NaN and infinities are refused: JSON has no spelling for them and a reader
    elsewhere would choke on Python's.
    """
    try:
        return json.dumps(value, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON-serialisable: {exc}") from exc


def _require_finite(owner: str, **values: float | None) -> None:
    for name, value in values.items():
        if value is not None and not math.isfinite(value):
            raise ValueError(f"{owner}: {name} must be a finite number, not {value}")


@dataclass(frozen=True)
class VolumeSnapshot:
    """An assigned volume as it was when the incident opened.

    ``outline_geojson`` is a GeoJSON Polygon geometry in WGS84 lon/lat degrees;
    ``source`` names what the volume was (``"corridor:C1"``, ``"boundary:B"``).
    """

    outline_geojson: Mapping[str, Any]
    floor_amsl_m: float
    ceiling_amsl_m: float
    source: str = ""

    def __post_init__(self) -> None:
        _require_finite(
            "volume", floor_amsl_m=self.floor_amsl_m, ceiling_amsl_m=self.ceiling_amsl_m
        )
        if not self.floor_amsl_m < self.ceiling_amsl_m:
            raise ValueError(
                f"volume {self.source or '?'}: floor {self.floor_amsl_m} m must be "
                f"below ceiling {self.ceiling_amsl_m} m"
            )
        if self.outline_geojson.get("type") != "Polygon":
            raise ValueError(
                f"volume {self.source or '?'}: outline must be a GeoJSON Polygon, "
                f"not {self.outline_geojson.get('type')!r}"
            )
        to_json(self.outline_geojson, "volume outline")

    @classmethod
    def of(
        cls, volume: Volume, projection: SiteProjection, source: str = ""
    ) -> VolumeSnapshot:
        """Return the snapshot of ``volume`` (site metres) in lon/lat degrees."""
        outline = projection.geometry_to_lonlat(volume.outline)
        # 1e-8 deg is about a millimetre: exact enough, and the JSON stays short.
        rounded = shapely.set_precision(outline, 1e-8, mode="pointwise")
        # Through JSON so the snapshot equals the one read back (lists, not tuples).
        geojson = json.loads(json.dumps(mapping(rounded)))
        return cls(geojson, volume.floor_amsl_m, volume.ceiling_amsl_m, source)

    def outline_lonlat(self) -> Polygon:
        """Return the outline as a shapely polygon in lon/lat degrees."""
        geom = shape(dict(self.outline_geojson))
        if not isinstance(geom, Polygon):
            raise ValueError(f"volume {self.source or '?'}: outline is not a polygon")
        return geom

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form the store keeps in ``volume_json``."""
        return {
            "outline": dict(self.outline_geojson),
            "floor_amsl_m": self.floor_amsl_m,
            "ceiling_amsl_m": self.ceiling_amsl_m,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VolumeSnapshot:
        """Return the snapshot ``as_dict`` made."""
        return cls(
            data["outline"],
            float(data["floor_amsl_m"]),
            float(data["ceiling_amsl_m"]),
            str(data.get("source", "")),
        )


def new_idempotency_key() -> str:
    """Return a fresh random key (32 hex digits)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class NewIncident:
    """What the gateway knows when a rule fires; the store opens or joins with it.

    ``vehicle_key`` is the gateway's link + system id; ``drone_id`` and the like are
    None for an unregistered or unbooked vehicle. ``rule`` holds the rule and its
    thresholds, ``link`` the link-quality figures at the time; both must be JSON.
    ``idempotency_key`` makes a retried ``open_incident`` return the first call's
    result instead of counting the occurrence twice.
    """

    site_id: SiteId
    kind: IncidentKind
    severity: Severity
    at: datetime
    vehicle_key: str
    sysid: int
    message: str
    drone_id: DroneId | None = None
    operator_id: OperatorId | None = None
    booking_id: BookingId | None = None
    corridor_id: CorridorId | None = None
    rule: Mapping[str, Any] = field(default_factory=dict)
    volume: VolumeSnapshot | None = None
    link: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str = field(default_factory=new_idempotency_key)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", IncidentKind(self.kind))
        object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "at", require_utc(self.at, "incident time"))
        if not self.vehicle_key:
            raise ValueError("an incident needs the vehicle key it is about")
        if not 0 <= self.sysid <= 255:
            raise ValueError(f"MAVLink system id {self.sysid} is outside 0..255")
        if not 0 < len(self.idempotency_key) <= 128:
            raise ValueError("an idempotency key is 1 to 128 characters")
        to_json(self.rule, f"incident {self.kind} rule")
        to_json(self.link, f"incident {self.kind} link figures")


@dataclass(frozen=True)
class Incident:
    """A stored incident, as the store returns it."""

    id: IncidentId
    site_id: SiteId
    kind: IncidentKind
    severity: Severity
    state: IncidentState
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    vehicle_key: str
    sysid: int
    drone_id: DroneId | None
    operator_id: OperatorId | None
    booking_id: BookingId | None
    corridor_id: CorridorId | None
    message: str
    rule: Mapping[str, Any]
    volume: VolumeSnapshot | None
    link: Mapping[str, Any]
    occurrences: int
    last_occurrence_at: datetime
    idempotency_key: str
    assignee_id: str | None = None
    root_cause: str | None = None
    closing_summary: str | None = None
    version: int = 1
    """One higher after every change, for the workflow's optimistic checks."""

    @property
    def is_closed(self) -> bool:
        """True when the incident is closed (a new occurrence opens a new one)."""
        return self.state is IncidentState.CLOSED


@dataclass(frozen=True)
class IncidentEvent:
    """One entry in an incident's timeline: opened, an occurrence, a note, a change.

    ``actor_id`` is the user who acted, or None for the gateway itself.
    """

    id: int
    incident_id: IncidentId
    at: datetime
    kind: str
    details: Mapping[str, Any]
    actor_id: str | None = None


@dataclass(frozen=True, slots=True)
class EvidenceSample:
    """One full-rate position around an incident, with its conformance state."""

    t_s: float
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    rel_alt_m: float
    vn_mps: float
    ve_mps: float
    vd_mps: float
    """NED: positive down."""
    heading_deg: float | None
    state: str
    """The conformance state at that position (``inside``, ``outside_lateral`` ...)."""
    phase: EvidencePhase = EvidencePhase.BEFORE

    def __post_init__(self) -> None:
        _require_finite(
            "evidence sample",
            t_s=self.t_s,
            lat_deg=self.lat_deg,
            lon_deg=self.lon_deg,
            alt_amsl_m=self.alt_amsl_m,
            rel_alt_m=self.rel_alt_m,
            vn_mps=self.vn_mps,
            ve_mps=self.ve_mps,
            vd_mps=self.vd_mps,
            heading_deg=self.heading_deg,
        )
        object.__setattr__(self, "phase", EvidencePhase(self.phase))


EvidenceFrame = tuple[float, bytes]
"""One raw MAVLink frame of the evidence window: ``(t_s, raw bytes)``."""
EvidenceBuilder = Callable[[], tuple[Sequence[EvidenceSample], Sequence[EvidenceFrame]]]
"""Builds evidence later (on the recorder's thread) from data copied now."""


@dataclass(frozen=True)
class Evidence:
    """An incident's stored positions and raw frames, each in time order."""

    samples: tuple[EvidenceSample, ...]
    frames: tuple[EvidenceFrame, ...]


@dataclass(frozen=True, slots=True)
class TrackSample:
    """One downsampled (about 1 Hz) position kept for replay of a flight."""

    site_id: SiteId
    vehicle_key: str
    sysid: int
    t_s: float
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    rel_alt_m: float
    speed_mps: float
    """Ground speed."""
    heading_deg: float | None
    battery_pct: float | None
    state: str
    """The conformance state at that position."""
    drone_id: DroneId | None = None
    booking_id: BookingId | None = None

    def __post_init__(self) -> None:
        if not self.vehicle_key:
            raise ValueError("a track sample needs its vehicle key")
        _require_finite(
            f"track sample of {self.vehicle_key}",
            t_s=self.t_s,
            lat_deg=self.lat_deg,
            lon_deg=self.lon_deg,
            alt_amsl_m=self.alt_amsl_m,
            rel_alt_m=self.rel_alt_m,
            speed_mps=self.speed_mps,
            heading_deg=self.heading_deg,
            battery_pct=self.battery_pct,
        )
