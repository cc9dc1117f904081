"""Gateway health for operators and monitoring: per-link figures and ``/metrics``.

``GET /api/v1/telemetry/links`` (any signed-in user) lists every MAVLink link with
its messages, bad frames and drops. ``GET /metrics`` is the Prometheus text format
(version 0.0.4; the metrics are listed in ``web.metrics`` and docs/bus.md),
unauthenticated like most exporters: bind the HTTP port to a
trusted network or put it behind the reverse proxy that guards the rest.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from telemetry.mavlink.transports import link_key
from web.deps import ActorDep
from web.telemetry_runtime import TelemetryRuntime

router = APIRouter(prefix="/telemetry", tags=["telemetry"])
metrics_router = APIRouter(tags=["operations"])


def _runtime(request: Request) -> TelemetryRuntime:
    return cast(TelemetryRuntime, request.app.state.telemetry)


def links_view(runtime: TelemetryRuntime) -> list[dict[str, Any]]:
    """Transport and codec figures per link, joined on the link id."""
    codec_rows = {row["link_id"]: row for row in runtime.gateway.links()}
    rows: list[dict[str, Any]] = []
    for link in runtime.links:
        row: dict[str, Any] = {
            "link_id": link.link_id,
            "local_address": str(link.local_address),
            "transport": dataclasses.asdict(link.counters),
        }
        row["streams"] = [
            codec_row
            for codec_id, codec_row in codec_rows.items()
            if link_key(codec_id) == link.link_id
        ]
        rows.append(row)
    return rows


@router.get("/links")
def telemetry_links(request: Request, _actor: ActorDep) -> dict[str, Any]:
    """Every MAVLink link: transport counters and, per stream, decoded figures."""
    runtime = _runtime(request)
    return {
        "links": links_view(runtime),
        "vehicles": runtime.gateway.vehicle_count(),
        "tick_ms_last": round(runtime.gateway.tick_seconds_last * 1000, 3),
        "tick_ms_max": round(runtime.gateway.tick_seconds_max * 1000, 3),
    }


# The schema must say text, not JSON: scrapers and the schema fuzzer read it.
@metrics_router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> Response:
    """Prometheus text exposition of the gateway, hub, bus and recorder figures
    (``web.metrics``), read at this scrape from the app's own registry."""
    registry = cast(CollectorRegistry, request.app.state.metrics)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
