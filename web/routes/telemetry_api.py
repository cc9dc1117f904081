"""Gateway health for operators and monitoring: per-link figures and ``/metrics``.

``GET /api/v1/telemetry/links`` (any signed-in user) lists every MAVLink link with
its messages, bad frames and drops. ``GET /metrics`` is the Prometheus text format
(version 0.0.4), unauthenticated like most exporters: bind the HTTP port to a
trusted network or put it behind the reverse proxy that guards the rest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

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


BAD_INPUT_KINDS = (
    "bad_crc",
    "malformed",
    "garbage_bytes",
    "truncated",
    "unknown_msg_id",
    "signature_rejected",
)


def _labels(**labels: str) -> str:
    """Prometheus labels, values escaped as the exposition format requires."""
    body = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels.items()
    )
    return "{" + body + "}"


def _metric_lines(runtime: TelemetryRuntime) -> Iterator[str]:
    gateway = runtime.gateway

    def metric(name: str, kind: str, help_text: str) -> Iterator[str]:
        yield f"# HELP skyberth_{name} {help_text}"
        yield f"# TYPE skyberth_{name} {kind}"

    yield from metric("vehicles", "gauge", "Vehicles heard in the last 10 minutes.")
    yield f"skyberth_vehicles {gateway.vehicle_count()}"
    yield from metric("gateway_ticks_total", "counter", "Gateway ticks run.")
    yield f"skyberth_gateway_ticks_total {gateway.ticks}"
    yield from metric("gateway_tick_seconds_max", "gauge", "Slowest tick so far.")
    yield f"skyberth_gateway_tick_seconds_max {gateway.tick_seconds_max:.6f}"
    yield from metric("events_total", "counter", "Gateway events raised, by kind.")
    for kind, count in sorted(gateway.events_total.items()):
        yield f"skyberth_events_total{_labels(kind=kind)} {count}"
    streams = gateway.links()
    yield from metric(
        "link_messages_total", "counter", "MAVLink frames decoded, by stream."
    )
    for row in streams:
        yield f"skyberth_link_messages_total{_labels(link=row['link_id'])} " + str(
            row["frames_ok"]
        )
    yield from metric(
        "link_bad_input_total", "counter", "Bad MAVLink input by stream and kind."
    )
    for row in streams:
        for kind in BAD_INPUT_KINDS:
            labels = _labels(link=row["link_id"], kind=kind)
            yield f"skyberth_link_bad_input_total{labels} {row.get(kind, 0)}"
    yield from metric("link_seq_lost_total", "counter", "Frames lost (sequence gaps).")
    for row in streams:
        labels = _labels(link=row["link_id"])
        yield f"skyberth_link_seq_lost_total{labels} {row.get('seq_lost', 0)}"
    hub = runtime.hub.stats()
    yield from metric("live_subscribers", "gauge", "Connected live-stream clients.")
    yield f"skyberth_live_subscribers {hub.subscribers}"
    yield from metric(
        "live_frames_dropped_total",
        "counter",
        "Position frames dropped for slow clients.",
    )
    yield f"skyberth_live_frames_dropped_total {hub.frames_dropped_total}"
    yield from metric(
        "live_clients_overflowed_total", "counter", "Clients cut off as too slow."
    )
    yield f"skyberth_live_clients_overflowed_total {hub.overflowed_total}"
    bus = runtime.bus.stats().as_dict()
    yield from metric("bus_connected", "gauge", "1 while the live bus carries frames.")
    yield f"skyberth_bus_connected {int(bus.pop('connected'))}"
    yield from metric(
        "bus_events_pending", "gauge", "Must-keep frames waiting for the bus."
    )
    yield f"skyberth_bus_events_pending {bus.pop('events_pending')}"
    yield from metric("bus_total", "counter", "Live bus traffic, by what happened.")
    for key, value in sorted(bus.items()):
        yield f"skyberth_bus_total{_labels(what=key)} {value}"
    if runtime.recorder is not None:
        stats = dataclasses.asdict(runtime.recorder.counters())
        yield from metric("recorder_rows", "counter", "Recorder work, by outcome.")
        for key, value in sorted(stats.items()):
            yield f"skyberth_recorder_rows{_labels(outcome=key)} {value}"


@metrics_router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> str:
    """Prometheus text exposition of the gateway, hub and recorder counters."""
    return "\n".join(_metric_lines(_runtime(request))) + "\n"
