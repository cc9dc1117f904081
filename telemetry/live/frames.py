"""The JSON shapes of the live stream (docs/live-stream.md), built from gateway state.

One place turns vehicles and events into the dictionaries the hub serialises, so
the snapshot and the per-tick frames can never disagree on field names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from airspace.monitor import BREACH_KINDS, ConformanceEvent, EventKind
from airspace.utc import as_utc
from telemetry.incidents.model import Incident, IncidentEvent
from telemetry.live.vehicles import VehicleState

WARNING_KINDS = frozenset(
    {
        "near_edge",
        "predicted_exit",
        "low_battery",
        "vessel_proximity",
        "fence_disagreement",
        "fence_mismatch",
        "fence_refused",
        "fence_not_verified",
    }
)
INFO_KINDS = frozenset({"returned", "link_restored"})
INCIDENT_KINDS = frozenset(
    {str(k) for k in BREACH_KINDS}
    | {"link_lost", "fence_breach", "spoofed_frames", "vessel_separation_breach"}
)
"""Event kinds that open (or join) an incident."""


def utc_iso(t_s: float) -> str:
    """``t_s`` as ISO 8601 UTC with millisecond precision and a ``Z``."""
    stamp = datetime.fromtimestamp(t_s, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _finite(value: float | None, digits: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


def vehicle_frame(v: VehicleState, now_s: float) -> dict[str, Any]:
    """One vehicle as in the ``vehicles`` and ``snapshot`` frames."""
    # Built once a second for every vehicle: plain conditionals, not helpers. The
    # position is NaN until the first one arrives and finite after; the gateway
    # stores margins and exit times finite or None.
    placed = v.has_position
    heading, margin, exit_s = v.heading_deg, v.lateral_margin_m, v.seconds_to_exit
    return {
        "key": v.key,
        "site_id": v.site_id,
        "sysid": v.sysid,
        "drone_id": v.drone_id,
        "drone_name": v.drone_name,
        "operator_id": v.operator_id,
        "booking_id": v.booking_id,
        "corridor_id": v.corridor_id,
        "t_s": round(v.last_position_s, 3) if placed else None,
        "lat_deg": _finite(v.lat_deg, 7) if placed else None,
        "lon_deg": _finite(v.lon_deg, 7) if placed else None,
        "alt_amsl_m": _finite(v.alt_amsl_m, 2) if placed else None,
        "rel_alt_m": _finite(v.rel_alt_m, 2) if placed else None,
        "heading_deg": None if heading is None else round(heading, 1),
        "speed_mps": round(math.hypot(v.vn_mps, v.ve_mps), 2),
        "climb_mps": round(-v.vd_mps, 2),
        "armed": v.armed,
        "flying": v.flying,
        "battery_pct": v.battery_pct,
        "gps_fix": v.gps_fix,
        "link_age_s": round(max(0.0, now_s - v.last_message_s), 2),
        "frames_per_s": round(v.frames_per_s, 1),
        "state": "link_lost" if v.link_lost else v.conformance,
        "seconds_to_exit": None if exit_s is None else round(exit_s, 2),
        "lateral_margin_m": None if margin is None else round(margin, 2),
        "decoded_per_s": round(v.rate_mps, 1),
    }


MOTION_FIELDS: Final = (
    "key",
    "operator_id",
    "t_s",
    "lat_deg",
    "lon_deg",
    "alt_amsl_m",
    "rel_alt_m",
    "heading_deg",
    "speed_mps",
    "climb_mps",
    "armed",
    "flying",
    "battery_pct",
    "gps_fix",
    "link_age_s",
    "frames_per_s",
    "state",
    "seconds_to_exit",
    "lateral_margin_m",
    "decoded_per_s",
)
"""Column names of a motion row, in order (``motion_fields`` of a ``vehicles``
frame): every field that telemetry changes. The rest of a full record (names,
site, drone, booking, corridor) changes only when the gateway re-ties a vehicle,
and then a full record is sent."""
MOTION_KEY: Final = 0
MOTION_OPERATOR: Final = 1
"""Positions of ``key`` and ``operator_id`` in a motion row."""

MotionRow = tuple[Any, ...]
"""One vehicle's ``MOTION_FIELDS`` values, in order."""


def vehicle_motion(v: VehicleState, now_s: float) -> MotionRow:
    """The values of ``v`` that telemetry changes, as a row of ``MOTION_FIELDS``.

    A vehicle with a position only. A row serialises to about a third of a full
    record's bytes (no field names, no identity), which is what lets a hundred
    viewers follow a thousand drones at 5 Hz. Values straight from MAVLink
    (integers over a power of ten) already print short, so only computed ones are
    rounded.
    """
    heading, margin, exit_s = v.heading_deg, v.lateral_margin_m, v.seconds_to_exit
    return (
        v.key,
        v.operator_id,
        round(v.last_position_s, 3),
        v.lat_deg,
        v.lon_deg,
        v.alt_amsl_m,
        v.rel_alt_m,
        heading,
        round(math.hypot(v.vn_mps, v.ve_mps), 2),
        -v.vd_mps,
        v.armed,
        v.flying,
        v.battery_pct,
        v.gps_fix,
        round(max(0.0, now_s - v.last_message_s), 2),
        round(v.frames_per_s, 1),
        "link_lost" if v.link_lost else v.conformance,
        None if exit_s is None else round(exit_s, 2),
        None if margin is None else round(margin, 2),
        round(v.rate_mps, 1),
    )


def motion_record(row: Sequence[Any]) -> dict[str, Any]:
    """A motion row as a mapping of ``MOTION_FIELDS``; ``ValueError`` if its length
    is wrong."""
    if len(row) != len(MOTION_FIELDS):
        raise ValueError(
            f"a motion row has {len(MOTION_FIELDS)} values, this one {len(row)}"
        )
    return dict(zip(MOTION_FIELDS, row, strict=True))


def vehicle_entries(frame: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every vehicle entry of a ``vehicles`` frame as a mapping, in the order a
    client applies them: full records first, then motion rows (docs/live-stream.md).
    Merge each into what you hold for its ``key``."""
    fields = frame.get("motion_fields", MOTION_FIELDS)
    entries = [dict(v) for v in frame.get("vehicles", ())]
    entries += [dict(zip(fields, row, strict=True)) for row in frame.get("motion", ())]
    return entries


def severity_of(kind: str) -> str:
    if kind in INCIDENT_KINDS:
        return "breach"
    if kind in WARNING_KINDS:
        return "warning"
    return "info"


def _name(v: VehicleState) -> str:
    return v.drone_name or f"unregistered sysid {v.sysid}"


def vertical_side(v: VehicleState) -> str:
    """Which side of its altitude band ``v`` left by: ``above`` when climbing (or
    level), ``below`` when descending (NED: ``vd_mps`` > 0 is down)."""
    return "above" if v.vd_mps <= 0 else "below"


def conformance_message(
    v: VehicleState, event: ConformanceEvent, exclusion: str | None
) -> str:
    """A sentence a pilot understands, with the numbers that matter (English; the
    pages build theirs from the event's kind and details)."""
    who, corridor = _name(v), v.corridor_id or "-"
    lateral, vertical = event.lateral_distance_m, event.vertical_distance_m
    match event.kind:
        case EventKind.CORRIDOR_EXIT_LATERAL:
            return f"{who} left corridor {corridor} sideways ({-lateral:.1f} m outside)"
        case EventKind.CORRIDOR_EXIT_VERTICAL:
            where = {"above": "above the ceiling", "below": "below the floor"}
            side = where[vertical_side(v)]
            return f"{who} left corridor {corridor} {side} ({-vertical:.1f} m out)"
        case EventKind.BOUNDARY_EXIT:
            return f"{who} left the site boundary"
        case EventKind.EXCLUSION_ENTRY:
            return f"{who} entered exclusion zone {exclusion or '?'}"
        case EventKind.UNBOOKED_FLIGHT:
            if v.drone_id is None:
                return f"{who} is flying and is not a registered drone"
            return f"{who} is flying with no booking for now"
        case EventKind.BREACH_ESCALATED:
            return f"{who}: breach escalated to {event.breach}"
        case EventKind.RETURNED:
            return f"{who} is back inside (after {event.breach})"
        case EventKind.NEAR_EDGE:
            return f"{who} is near the edge of corridor {corridor} ({lateral:.1f} m)"
        case EventKind.PREDICTED_EXIT:
            return (
                f"{who} will leave corridor {corridor} in "
                f"{event.seconds_to_exit:.1f} s at this velocity"
            )
    return f"{who}: {event.kind}"


def event_frame(
    v: VehicleState,
    kind: str,
    t_s: float,
    message: str,
    details: dict[str, Any],
    incident_id: int | None = None,
) -> dict[str, Any]:
    """An ``event`` frame (docs/live-stream.md)."""
    return {
        "type": "event",
        "event": {
            "kind": kind,
            "severity": severity_of(kind),
            "t_s": round(t_s, 3),
            "t_utc": utc_iso(t_s),
            "vehicle_key": v.key,
            "site_id": v.site_id,
            "drone_id": v.drone_id,
            "booking_id": v.booking_id,
            "sysid": v.sysid,
            "incident_id": incident_id,
            "message": message,
            "details": details,
        },
    }


def conformance_details(event: ConformanceEvent) -> dict[str, Any]:
    details: dict[str, Any] = {
        "lateral_distance_m": _finite(event.lateral_distance_m, 2),
        "vertical_distance_m": _finite(event.vertical_distance_m, 2),
        "seconds_to_exit": _finite(event.seconds_to_exit, 2),
        "state": event.state.name.lower(),
    }
    if event.breach is not None:
        details["breach"] = str(event.breach)
    if event.breach_started_s is not None:
        details["breach_started_s"] = round(event.breach_started_s, 3)
    return details


def incident_frame(
    incident_id: int, v: VehicleState, kind: str, t_s: float, message: str, state: str
) -> dict[str, Any]:
    """An ``incident`` frame for an incident the gateway opened (or joined) now."""
    return _incident_frame(
        {
            "id": incident_id,
            "site_id": v.site_id,
            "kind": kind,
            "state": state,
            "severity": severity_of(kind),
            "opened_utc": utc_iso(t_s),
            "drone_id": v.drone_id,
            "sysid": v.sysid,
            "vehicle_key": v.key,
            "booking_id": v.booking_id,
            "corridor_id": v.corridor_id,
            "operator_id": v.operator_id,
            "message": message,
        }
    )


PRIVATE_DETAILS = frozenset({"note", "summary"})
"""Free texts the live stream leaves out: an unregistered drone's incident goes to
every viewer, its notes only to those who may read it (``GET /incidents/{id}``)."""


def incident_change_frame(
    i: Incident, event: IncidentEvent | None = None
) -> dict[str, Any]:
    """An ``incident`` frame for a stored incident a person changed.

    The fields of :func:`incident_frame` plus the workflow's; ``change`` names what
    happened (the event kind). The event's free texts (``PRIVATE_DETAILS``) are
    left out.
    """
    body = {
        "id": i.id,
        "site_id": i.site_id,
        "kind": str(i.kind),
        "state": str(i.state),
        "severity": str(i.severity),
        "opened_utc": utc_iso(as_utc(i.opened_at).timestamp()),
        "updated_utc": utc_iso(as_utc(i.updated_at).timestamp()),
        "drone_id": i.drone_id,
        "sysid": i.sysid,
        "vehicle_key": i.vehicle_key,
        "booking_id": i.booking_id,
        "corridor_id": i.corridor_id,
        "operator_id": i.operator_id,
        "message": i.message,
        "assignee_id": i.assignee_id,
        "root_cause": i.root_cause,
        "version": i.version,
    }
    change = event.kind if event is not None else "changed"
    if event is None:
        return _incident_frame(body, change)
    details = {k: v for k, v in event.details.items() if k not in PRIVATE_DETAILS}
    return _incident_frame(
        body,
        change,
        {
            "kind": event.kind,
            "t_utc": utc_iso(as_utc(event.at).timestamp()),
            "actor_id": event.actor_id,
            "details": details,
        },
    )


def _incident_frame(
    body: dict[str, Any],
    change: str | None = None,
    event: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``incident`` frame's envelope (docs/live-stream.md), the one place
    both kinds of incident frame take their shape from."""
    frame: dict[str, Any] = {"type": "incident"}
    if change is not None:
        frame["change"] = change
    frame["incident"] = body
    if event is not None:
        frame["event"] = event
    return frame
