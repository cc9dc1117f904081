"""The live pipeline: MAVLink bytes in, conformance, events and live frames out.

Read it in the order the data flows:

- ``gateway`` (the :class:`Gateway` coordinator) over ``state``; ``ingest`` (the
  transports' hot path), ``tick`` (batched work every ``tick_s``), ``binding``
  (vehicle to drone, site and booking via ``fleet``), ``checks`` (pure vehicle
  checks), ``site_monitor`` (conformance per site), ``announcing`` (events and
  incidents, announced once stored) and ``output`` (frames, tracks, evidence,
  ``.tlog``);
- ``vehicles`` (one vehicle's state and rings), ``incident_draft`` (what an
  incident stores), ``frames`` (every live-stream JSON shape, built in one place);
- ``hub`` (fan-out to browsers, one bounded queue per viewer) and ``bus`` (the
  seam between gateway and web processes: in process or over NATS).

Settings and the ports the gateway is given (hub, recorder, booking activator)
are in ``gateway_settings`` and ``gateway_ports``. What other packages use is
listed in ``__all__``.
"""

from __future__ import annotations

from telemetry.live.fleet import AreaClosure, BookingEntry, DroneEntry, FleetDirectory
from telemetry.live.frames import (
    incident_change_frame,
    incident_frame,
    utc_iso,
    vehicle_entries,
)
from telemetry.live.gateway import Gateway
from telemetry.live.gateway_ports import (
    BookingActivator,
    BookingFinisher,
    GatewayRecorder,
)
from telemetry.live.gateway_settings import GatewaySettings, LivePublisher
from telemetry.live.hub import (
    Audience,
    LiveHub,
    LiveStreamError,
    Subscriber,
    SubscriberClosed,
    SubscriberOverflowed,
)
from telemetry.live.vehicles import VehicleState

__all__ = [
    "AreaClosure",
    "Audience",
    "BookingActivator",
    "BookingEntry",
    "BookingFinisher",
    "DroneEntry",
    "FleetDirectory",
    "Gateway",
    "GatewayRecorder",
    "GatewaySettings",
    "LiveHub",
    "LivePublisher",
    "LiveStreamError",
    "Subscriber",
    "SubscriberClosed",
    "SubscriberOverflowed",
    "VehicleState",
    "incident_change_frame",
    "incident_frame",
    "utc_iso",
    "vehicle_entries",
]
