"""What the gateway needs from the outside: a recorder, a booking activator and
a booking finisher.

The gateway runs on the event loop and never touches the database itself; it hands
incidents, evidence, tracks and raw tlog records to a ``GatewayRecorder`` (in
production ``telemetry.recording.recorder.TelemetryRecorder``, a writer thread) and
tells a
``BookingActivator`` when a booked drone starts flying and a ``BookingFinisher``
when it has landed and disarmed for good. All are injected by the composition
root; tests pass real ones or None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from telemetry.incidents.model import (
    EvidenceBuilder,
    NewIncident,
    TrackSample,
)

IncidentDone = Callable[[int, bool], None]
"""Called with (incident id, created) once persisted; False = joined an open one."""
Frames = Sequence[tuple[float, bytes]]
"""Raw MAVLink frames with their receive time, oldest first."""


class GatewayRecorder(Protocol):
    def open_incident(
        self,
        new: NewIncident,
        on_done: IncidentDone,
        *,
        later_evidence: EvidenceBuilder | None = None,
    ) -> None: ...

    def add_evidence(self, incident_id: int, later_evidence: EvidenceBuilder) -> None:
        """Queue the evidence ``later_evidence`` builds off the caller's thread."""
        ...

    def add_incident_event(
        self, incident_id: int, at_s: float, kind: str, details: Mapping[str, Any]
    ) -> None: ...

    def record_track(self, samples: Sequence[TrackSample]) -> None: ...

    def record_tlogs(self, batch: Sequence[tuple[str, bytes, int]]) -> None:
        """Append to each recording ``key`` of ``batch`` its ``count`` encoded tlog
        records (``telemetry.mavlink.tlog.encode_record`` output, concatenated)."""
        ...

    def record_frames(self, key: str, frames: Frames) -> None:
        """Append ``frames`` to the ``.tlog`` recording named ``key``."""
        ...


BookingActivator = Callable[[int, float], None]
"""Called once with (booking id, t_s) when a booked drone is first seen flying."""

BookingFinisher = Callable[[int, float, str], None]
"""Called once with (booking id, t_s, why) when an active booking's drone has been
landed and disarmed for ``GatewaySettings.landed_end_s``: the booking is complete."""
