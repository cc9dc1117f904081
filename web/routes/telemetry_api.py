"""Gateway health for operators and monitoring: per-link figures and ``/metrics``.

``GET /api/v1/telemetry/links`` (any signed-in user) lists every MAVLink link with
its messages, bad frames and drops, and every AIS link with its codec's counters:
this process's own, or on a web process, every gateway's, added up from what they
publish on the bus. ``GET /metrics`` is the
Prometheus text format (version 0.0.4; the metrics are listed in ``web.metrics``
and docs/bus.md), unauthenticated like most exporters: bind the HTTP port to a
trusted network or put it behind the reverse proxy that guards the rest.
"""

from __future__ import annotations

import time
from typing import Any, cast

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from telemetry.live.bus.control import fleet_links
from web.deps import ActorDep
from web.telemetry_runtime import TelemetryRuntime

router = APIRouter(prefix="/telemetry", tags=["telemetry"])
metrics_router = APIRouter(tags=["operations"])


def _runtime(request: Request) -> TelemetryRuntime:
    return cast(TelemetryRuntime, request.app.state.telemetry)


@router.get("/links")
def telemetry_links(request: Request, _actor: ActorDep) -> dict[str, Any]:
    """Every MAVLink link: transport counters and, per stream, decoded figures.

    On a web process (which has no link of its own) the links of every gateway,
    from the reports they publish on the bus every few seconds, each tagged with
    its gateway's ``node``, plus ``gateways``: each one's vehicles, tick times
    and report age."""
    runtime = _runtime(request)
    control = runtime.bus.control
    if runtime.role == "web" and control is not None:
        return fleet_links(control.link_reports(), time.time())
    return runtime.links_report()


# The schema must say text, not JSON: scrapers and the schema fuzzer read it.
@metrics_router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> Response:
    """Prometheus text exposition of the gateway, hub, bus and recorder figures
    (``web.metrics``), read at this scrape from the app's own registry."""
    registry = cast(CollectorRegistry, request.app.state.metrics)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
