"""The live bus's port: the seam between the side that makes live frames and the
side that shows them (docs/bus.md), and the types every bus shares.

Two kinds of traffic cross it, both as the live stream's JSON frames
(docs/live-stream.md):

- **vehicle updates** (``publish_vehicles``): full records and motion rows
  (``telemetry.live.frames.MOTION_FIELDS``), ephemeral, latest wins. A lost batch costs
  nothing lasting, because the gateway re-sends every vehicle each second;
- **must-keep frames** (``publish``: ``event``, ``incident``, ``booking``,
  ``closure``): never dropped; over NATS they are acknowledged by JetStream and a
  consumer that was away resumes where it stopped.

Producers (the gateway, the booking event hook, the incident routes) call the two
``publish`` methods on the event loop; neither awaits nor blocks. Consumers give
:meth:`LiveBus.start` a :class:`LiveSink` (a ``LiveHub``, or a
``telemetry.live.bus.relay.VehicleRelay`` in front of one) that receives what
arrives.

Implementations live beside this module and import only it:
``in_process.InProcessBus`` (the default) and ``nats_bus.NatsBus``; the package's
``open_bus`` picks one by URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from telemetry.live.frames import MotionRow

if TYPE_CHECKING:
    from telemetry.live.bus.control import ControlChannel

MUST_KEEP_TYPES = frozenset({"event", "incident", "booking", "closure"})
"""Frame types the live stream never drops (docs/live-stream.md)."""
_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class LiveSink(Protocol):
    """Where live frames go: the gateway's ``LivePublisher``, a ``LiveHub``, a bus."""

    def publish_vehicles(
        self,
        t_s: float,
        vehicles: Sequence[Mapping[str, Any]],
        motion: Sequence[MotionRow] = (),
    ) -> None:
        """Take full vehicle records and motion rows (docs/live-stream.md)."""
        ...

    def publish(self, frame: Mapping[str, Any], operator_id: str | None) -> None: ...


@dataclass(frozen=True, slots=True)
class BusStats:
    """Counters for ``/metrics``, totals since the bus started."""

    kind: str
    """``in-process`` or ``nats``."""
    connected: bool
    vehicle_batches_sent: int = 0
    vehicle_batches_dropped: int = 0
    """Position batches not sent: bus down, or the sender fell behind."""
    events_sent: int = 0
    """Must-keep frames handed over (acknowledged by JetStream over NATS)."""
    events_pending: int = 0
    """Must-keep frames waiting for the bus (kept in memory, retried)."""
    events_retried: int = 0
    events_dropped: int = 0
    """Must-keep frames refused: too big, too many waiting, or after close."""
    vehicle_batches_received: int = 0
    events_received: int = 0
    events_duplicate: int = 0
    """Redelivered frames recognised by their stream sequence and skipped."""
    bad_messages: int = 0
    """Received messages that were not live frames (logged, acknowledged, skipped)."""

    def as_dict(self) -> dict[str, int]:
        """The numeric counters by name (``connected`` as 0/1)."""
        return {
            "connected": int(self.connected),
            "vehicle_batches_sent": self.vehicle_batches_sent,
            "vehicle_batches_dropped": self.vehicle_batches_dropped,
            "events_sent": self.events_sent,
            "events_pending": self.events_pending,
            "events_retried": self.events_retried,
            "events_dropped": self.events_dropped,
            "vehicle_batches_received": self.vehicle_batches_received,
            "events_received": self.events_received,
            "events_duplicate": self.events_duplicate,
            "bad_messages": self.bad_messages,
        }


class LiveBus(LiveSink, Protocol):
    """A bus: publish from producers, deliver to the sink given to ``start``."""

    @property
    def remote(self) -> bool:
        """True when frames travel between processes (vehicles need a relay)."""
        ...

    @property
    def connected(self) -> bool:
        """True while the bus can carry frames (always, in process)."""
        ...

    @property
    def control(self) -> ControlChannel | None:
        """Full-record requests and link reports between processes (None in
        process: there is no other process)."""
        ...

    async def start(self, sink: LiveSink | None) -> None:
        """Begin delivering received frames to ``sink`` (None: publish only)."""
        ...

    async def close(self) -> None:
        """Hand over what is pending (bounded wait), then stop; idempotent."""
        ...

    def stats(self) -> BusStats: ...


def subject_token(site_id: object) -> str:
    """``site_id`` as one NATS subject token (``_`` when there is none).

    Characters outside letters, digits, ``-`` and ``_`` (dots, spaces, wildcards)
    become ``_``: the token routes messages, the frame inside says the real id.
    """
    if not isinstance(site_id, str) or not site_id:
        return "_"
    return _TOKEN_UNSAFE.sub("_", site_id)


def frame_site(frame: Mapping[str, Any]) -> object:
    """The ``site_id`` a must-keep frame is about (None when it names none)."""
    body = frame.get(str(frame.get("type")))
    return body.get("site_id") if isinstance(body, Mapping) else None
