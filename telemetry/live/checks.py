"""The per-vehicle checks beside conformance, as pure functions: link loss, low
battery, the autopilot's own fence (and its disagreement with SkyBerth's check),
signature failures, the end of a flight.

Each takes a vehicle's state (``VehicleState``, read only), ``now_s`` and its
thresholds and returns what changed: the vehicle's new flag and, when an operator
must hear of it, an :class:`Alert`. The tick (``telemetry.live.tick``) applies the
flags and emits the alerts, so these stay testable without a gateway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from telemetry.live.vehicles import VehicleState

BATTERY_HYSTERESIS_PCT = 5
"""A low battery clears only this far above the threshold (no flapping on noise)."""


@dataclass(frozen=True, slots=True)
class Alert:
    """An event to raise: its ``kind`` (docs/live-stream.md), a line for people,
    and the details the frame carries."""

    kind: str
    message: str
    details: dict[str, Any]


def _name(v: VehicleState) -> str:
    return v.drone_name or f"sysid {v.sysid}"


def link_alert(
    v: VehicleState, now_s: float, link_lost_s: float, paused_until_s: float
) -> Alert | None:
    """``link_lost`` when ``v`` (tied to a site) has been silent over
    ``link_lost_s`` and its link is not paused (``now_s < paused_until_s``: the
    gateway itself is behind); ``link_restored`` when a lost vehicle is heard again;
    None when neither. The caller sets ``v.link_lost`` to ``kind == "link_lost"``."""
    silent = now_s - v.last_message_s
    if (
        not v.link_lost
        and silent > link_lost_s
        and v.site_id
        and now_s >= paused_until_s
    ):
        return Alert(
            "link_lost",
            f"{_name(v)}: link lost (silent {silent:.1f} s)",
            {"silent_s": round(silent, 2), "timeout_s": link_lost_s},
        )
    if v.link_lost and silent <= link_lost_s:
        return Alert("link_restored", f"{_name(v)}: link restored", {})
    return None


def battery_check(v: VehicleState, threshold_pct: int) -> tuple[bool, Alert | None]:
    """``v.low_battery`` as it should now be, and a ``low_battery`` alert when a
    flying vehicle first drops below ``threshold_pct``."""
    pct = v.battery_pct
    if pct is None:
        return v.low_battery, None
    if not v.low_battery and pct < threshold_pct and v.flying:
        return True, Alert(
            "low_battery",
            f"{_name(v)}: battery {pct} %",
            {"battery_pct": pct, "threshold_pct": threshold_pct},
        )
    if v.low_battery and pct >= threshold_pct + BATTERY_HYSTERESIS_PCT:
        return False, None
    return v.low_battery, None


def fence_check(v: VehicleState, raised: bool) -> tuple[bool, Alert | None]:
    """Whether the autopilot's fence breach is raised after this position (given
    ``raised`` before it), and a ``fence_breach`` alert when it is newly raised for
    a vehicle tied to a site."""
    breached = v.fence_breach
    if breached and not raised and v.site_id:
        return True, Alert(
            "fence_breach",
            f"{_name(v)}: the autopilot reports a fence breach",
            {},
        )
    if not breached and raised:
        return False, None
    return raised, None


_OUTSIDE_LATERAL = 3
"""``ConformanceState.OUTSIDE_LATERAL``: from here up SkyBerth sees the vehicle
out of its outline sideways, which a 2-D fence on the aircraft also sees."""


def fence_disagreement_check(
    v: VehicleState, now_s: float, hold_s: float
) -> Alert | None:
    """Track whether the autopilot's fence (FENCE_STATUS) and SkyBerth's own check
    disagree on ``v`` being outside; return a ``fence_disagreement`` alert once
    they have disagreed for ``hold_s`` (a stale fence on the aircraft, a wrong
    datum). Updates ``v.fence_disagree_since_s`` and ``v.fence_disagreement``.

    Only vehicles that report FENCE_STATUS and are being checked (flying, tied to a
    site) count; SkyBerth's side is lateral (the uploaded fence is 2-D, its floor
    is not armed on ArduPilot by default), so a vertical-only exit is not a
    disagreement. The near-edge tolerance (1 m fence simplification, the
    autopilot's margin) is what ``hold_s`` absorbs.
    """
    if not v.fence_reported or not v.site_id or v.state_code < 0:
        v.fence_disagree_since_s = None
        v.fence_disagreement = False
        return None
    ours = v.state_code >= _OUTSIDE_LATERAL
    if ours == v.fence_breach:
        v.fence_disagree_since_s = None
        v.fence_disagreement = False
        return None
    if v.fence_disagree_since_s is None:
        v.fence_disagree_since_s = now_s
    lasted = now_s - v.fence_disagree_since_s
    if v.fence_disagreement or lasted < hold_s:
        return None
    v.fence_disagreement = True
    autopilot = "breach" if v.fence_breach else "inside"
    skyberth = v.conformance
    return Alert(
        "fence_disagreement",
        f"{_name(v)}: the autopilot's fence says {autopilot}, SkyBerth says "
        f"{skyberth.replace('_', ' ')} (for {lasted:.1f} s)",
        {"autopilot": autopilot, "skyberth": skyberth, "for_s": round(lasted, 1)},
    )


def spoof_alert(link_id: str, sysid: int, count: int) -> Alert:
    """The ``spoofed_frames`` alert for ``count`` frames of ``sysid`` on ``link_id``
    that were refused: a missing or bad signature, or a sender other than the
    address the vehicle is pinned to."""
    return Alert(
        "spoofed_frames",
        f"{count} frame(s) claiming sysid {sysid} refused (bad or missing "
        "signature, or not from the address the vehicle is pinned to)",
        {"frames": count, "link_id": link_id},
    )


def landed_since(v: VehicleState, now_s: float) -> float:
    """When ``v`` came down and disarmed: NaN while it flies (armed, or above
    ``FLYING_REL_ALT_M``), its ``landed_since_s`` if already on the ground, else
    ``now_s`` (it has just been seen landed)."""
    if v.flying:
        return math.nan
    since = v.landed_since_s
    return now_s if since != since else since


def flight_over(landed_since_s: float, now_s: float, landed_end_s: float) -> bool:
    """True when a vehicle on the ground since ``landed_since_s`` (NaN: flying)
    has stayed landed and disarmed ``landed_end_s``: its booking's flight ended.
    A touch-and-go (airborne or armed again sooner) resets ``landed_since_s``."""
    return landed_since_s == landed_since_s and now_s - landed_since_s >= landed_end_s
