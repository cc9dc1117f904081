"""What the gateway is tuned by, and where it sends live frames."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from telemetry.live.frames import MotionRow
from telemetry.live.quotas import QuotaLimits


class LivePublisher(Protocol):
    def publish_vehicles(
        self,
        t_s: float,
        vehicles: Sequence[Mapping[str, Any]],
        motion: Sequence[MotionRow] = (),
    ) -> None: ...

    def publish(self, frame: Mapping[str, Any], operator_id: str | None) -> None: ...


@dataclass(frozen=True)
class GatewaySettings:
    tick_s: float = 0.02
    link_lost_s: float = 3.0
    """A vehicle silent this long (no heartbeat, no message) is ``link_lost``."""
    low_battery_pct: int = 20
    evidence_s: float = 30.0
    """Evidence kept before and after an incident's first breach."""
    track_interval_s: float = 1.0
    tlog_flush_s: float = 1.0
    rebind_s: float = 1.0
    """A vehicle is re-tied to its drone and booking at least this often."""
    resite_s: float = 10.0
    """A sysid registered at several sites is re-matched to the nearest this often."""
    spoof_report_s: float = 5.0
    gcs_sysid: int = 245
    """SkyBerth's own system id when it talks on a link (fences, commands,
    heartbeats); ground stations are numbered down from 255."""
    fence_disagreement_s: float = 5.0
    """The autopilot's fence and SkyBerth's check must disagree this long before a
    ``fence_disagreement`` warning (edge noise: fence simplification, margins)."""
    """Rejected (spoofed) frames of one sender are reported at most this often."""
    live_interval_s: float = 0.2
    """``vehicles`` frames go out at most this often (events at once, every tick):
    maps redraw a few times a second, and each frame costs every viewer bytes."""
    evaluate_every_s: float = 0.05
    """A site's waiting positions are checked at least this often (and at once when
    ``evaluate_batch`` are waiting): each check has a fixed cost of ~0.5 ms, which
    for many sites every 20 ms tick would cost more than the checks themselves."""
    evaluate_batch: int = 128
    link_check_s: float = 0.25
    """How often every vehicle's silence is checked against ``link_lost_s``."""
    full_frame_s: float = 1.0
    """Every vehicle is re-sent this often, changed or not (as a motion row), so a
    client that lost frames (or a vehicle gone quiet) is never stale for longer."""
    full_record_s: float = 10.0
    """Every vehicle's full record (names, drone, booking, corridor) is re-sent this
    often; it goes out at once whenever those change, this only heals a client that
    lost the frame that carried it."""
    landed_end_s: float = 60.0
    """An active booking's flight ends (the booking is completed) once its vehicle
    has been on the ground and disarmed this long; a touch-and-go shorter than
    this keeps the booking active."""
    forget_after_s: float = 600.0
    """A vehicle silent this long is dropped from the live picture."""
    quotas: QuotaLimits = field(default_factory=QuotaLimits)
    """What one link may cost for sysids no drone is registered with."""
