"""The telemetry gateway: bytes from every link in, conformance and events out.

``ingest`` is called by the transports for every datagram or stream chunk; it only
decodes (``codec.py``) and folds messages into ``VehicleState``s, so it stays cheap.
``tick`` runs every ``tick_s`` (20 ms by default) on the event loop and does the
rest in batches: ties vehicles to drones and bookings, checks every fresh position
of every flying vehicle through the site's ``SiteMonitor`` (the airspace engine),
turns state changes into events, opens incidents through the recorder, publishes
one ``vehicles`` frame plus event frames to the hub, samples tracks at 1 Hz and
hands raw frames to the ``.tlog`` recording. Incidents are announced only after the
recorder has persisted them (``on_done``), so a viewer never sees an incident id
that is not in the database.

Nothing here blocks: the database is behind the recorder's thread, the directory
is swapped in whole by ``set_directory``.
"""

from __future__ import annotations

import math
from typing import Any

from telemetry.live import binding, output, tick
from telemetry.live.fleet import FleetDirectory
from telemetry.live.ingest import (
    end_stream as _end_stream,
    ingest as _ingest,
    note_backlog as _note_backlog,
    record_shed as _record_shed,
)
from telemetry.live.state import GatewayState


class Gateway(GatewayState):
    """All live vehicles of all links and sites; see the module docstring.

    A thin coordinator: the state is :class:`GatewayState`; each method below is
    the entry point of one seam (``ingest``, ``tick``, ``binding``, ``output``;
    ``announcing`` and ``checks`` are reached from the tick).
    """

    # -- input -------------------------------------------------------------------

    def set_directory(self, directory: FleetDirectory, now_s: float) -> None:
        """Swap in a fresh fleet directory; rebinds every vehicle at the next tick."""
        binding.set_directory(self, directory, now_s)

    def request_full_records(self) -> None:
        """Send every vehicle's full record at the next tick (a web process that
        just started asks, so its first snapshot names every drone)."""
        self._full_frame_s = self._full_record_s = -math.inf

    # The function itself, not a method calling it: ``ingest`` runs for every
    # datagram, and the hot path gains no call layer from the split.
    ingest = _ingest
    record_shed = _record_shed
    note_backlog = _note_backlog
    end_stream = _end_stream

    # -- the tick ----------------------------------------------------------------

    async def run(self) -> None:
        """Tick every ``tick_s`` until cancelled; a failing tick is logged."""
        await tick.run(self)

    def tick(self, now_s: float) -> None:
        """One batch: bind, evaluate, raise events, publish, record."""
        tick.tick(self, now_s)

    # -- views -------------------------------------------------------------------

    def vehicle_frames(self, now_s: float) -> list[dict[str, Any]]:
        """Every live vehicle, as the snapshot lists them."""
        return output.vehicle_frames(self, now_s)

    def vehicle_count(self) -> int:
        """Vehicles heard (autopilots; ground stations are not counted)."""
        return output.vehicle_count(self)

    def links(self) -> list[dict[str, Any]]:
        """Per link: vehicles, messages and bad-input counters."""
        return output.links(self)
