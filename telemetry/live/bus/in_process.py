"""The default live bus: one process, a direct call into the hub, as cheap as
having no bus at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from telemetry.live.bus.base import BusStats, LiveSink
from telemetry.live.frames import MotionRow


class InProcessBus:
    """The default bus: frames go straight to the sink, in the caller's call."""

    remote = False
    connected = True
    control = None
    """No other process to ask for records or report links to."""

    def __init__(self, sink: LiveSink | None = None) -> None:
        self._sink = sink
        self._vehicle_batches = 0
        self._events = 0

    async def start(self, sink: LiveSink | None) -> None:
        """Deliver to ``sink`` from now on (None keeps the one given at creation)."""
        if sink is not None:
            self._sink = sink

    async def close(self) -> None:
        """Nothing is ever pending in process."""

    def publish_vehicles(
        self,
        t_s: float,
        vehicles: Sequence[Mapping[str, Any]],
        motion: Sequence[MotionRow] = (),
    ) -> None:
        """Hand the batch to the sink (a ``LiveHub`` serialises it per audience)."""
        if self._sink is not None and (vehicles or motion):
            self._vehicle_batches += 1
            self._sink.publish_vehicles(t_s, vehicles, motion)

    def publish(self, frame: Mapping[str, Any], operator_id: str | None) -> None:
        """Hand the must-keep frame to the sink."""
        if self._sink is not None:
            self._events += 1
            self._sink.publish(frame, operator_id)

    def stats(self) -> BusStats:
        return BusStats(
            kind="in-process",
            connected=True,
            vehicle_batches_sent=self._vehicle_batches,
            events_sent=self._events,
            vehicle_batches_received=self._vehicle_batches,
            events_received=self._events,
        )
