"""``skyberth gateway`` and ``skyberth web``: SkyBerth split over several processes.

Both run against one database (PostgreSQL when there are several processes) and
one NATS server (``--bus`` or ``SKYBERTH_BUS_URL``); docs/bus.md says what travels
between them. A **gateway** owns the MAVLink links given to it, checks conformance,
records and opens incidents, and publishes live frames; it serves ``/healthz`` and
``/metrics`` only. A **web** process serves the API, the pages and ``/ws/live`` from
what the bus brings, and opens no MAVLink link. ``skyberth serve`` stays the
one-process way.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

import typer
from pydantic import ValidationError

from telemetry.mavlink.sender_filter import parse_networks
from telemetry.mavlink.transports import parse_endpoint
from web.input_limits import MAX_WS_MESSAGE_BYTES
from web.logs import configure_logging
from web.settings import Settings

log = logging.getLogger(__name__)

BusOption = Annotated[
    str | None,
    typer.Option(
        "--bus",
        help="NATS server with JetStream, nats://HOST:PORT [env SKYBERTH_BUS_URL].",
    ),
]
NameOption = Annotated[
    str | None,
    typer.Option(
        help="This process's name on the bus, unique per process (letters, digits, "
        "'-', '_'); a web process resumes its missed events under it "
        "[env SKYBERTH_NODE_NAME; default <role>-<host>-<port>].",
    ),
]
SiteOption = Annotated[
    list[Path] | None,
    typer.Option(
        help="Site file (repeatable); default: the demo site "
        "[env SKYBERTH_SITE_FILES as a JSON list].",
        exists=True,
        dir_okay=False,
    ),
]
HostOption = Annotated[
    str | None, typer.Option(help="HTTP bind address [env SKYBERTH_HTTP_HOST].")
]


def gateway(
    mavlink: Annotated[
        list[str] | None,
        typer.Option(
            help="MAVLink endpoint this gateway owns (repeatable), as for serve: "
            "udpin:HOST:PORT, udpout:..., tcp:..., tcpin:..., serial:DEVICE:BAUD "
            "[env SKYBERTH_MAVLINK as a JSON list].",
        ),
    ] = None,
    mavlink_allow: Annotated[
        list[str] | None,
        typer.Option(
            help="Accept MAVLink senders only from this network (repeatable), as "
            "for serve [env SKYBERTH_MAVLINK_ALLOW as a JSON list].",
        ),
    ] = None,
    ais: Annotated[
        list[str] | None,
        typer.Option(
            help="AIS (NMEA !AIVDM) source this gateway owns (repeatable), as for "
            "serve: udpin:HOST:PORT or tcp:HOST:PORT [env SKYBERTH_AIS].",
        ),
    ] = None,
    bus: BusOption = None,
    name: NameOption = None,
    site: SiteOption = None,
    host: HostOption = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port of /healthz and /metrics [env SKYBERTH_HTTP_PORT]."),
    ] = None,
) -> None:
    """Run a gateway process: MAVLink ingest, conformance, incidents and
    recording, publishing live frames to the bus (no API, no pages)."""
    overrides: dict[str, object] = {"mavlink": mavlink} if mavlink else {}
    if mavlink_allow:
        try:
            parse_networks(mavlink_allow)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--mavlink-allow") from exc
        overrides["mavlink_allow"] = mavlink_allow
    if ais:
        overrides["ais"] = ais
    settings = _settings("gateway", bus, name, site, host, port, overrides)
    try:
        for spec in settings.mavlink:
            parse_endpoint(spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mavlink") from exc
    try:
        for spec in settings.ais:
            parse_endpoint(spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--ais") from exc
    _run(settings)


def web(
    bus: BusOption = None,
    name: NameOption = None,
    site: SiteOption = None,
    host: HostOption = None,
    port: Annotated[
        int | None, typer.Option(help="HTTP port [env SKYBERTH_HTTP_PORT].")
    ] = None,
) -> None:
    """Run a web process: REST API, pages and the live stream, fed by the bus
    (no MAVLink links)."""
    _run(_settings("web", bus, name, site, host, port, {"mavlink": []}))


def _settings(
    role: Literal["gateway", "web"],
    bus: str | None,
    name: str | None,
    site: list[Path] | None,
    host: str | None,
    port: int | None,
    overrides: dict[str, object],
) -> Settings:
    """The environment's settings with the options given on top, validated."""
    given: dict[str, object] = {"role": role, **overrides}
    for key, value in (
        ("bus_url", bus),
        ("node_name", name),
        ("site_files", site or None),
        ("http_host", host),
        ("http_port", port),
    ):
        if value is not None:
            given[key] = value
    try:
        return Settings(**given)  # type: ignore[arg-type]  # checked by pydantic
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise typer.BadParameter(problems) from None


def _run(settings: Settings) -> None:
    import uvicorn

    from web.app import create_app

    configure_logging(settings.log_level, settings.log_format)
    application = create_app(settings, tune_interpreter=True)
    log.info(
        "%s %s: %d site(s), bus %s, http://%s:%d",
        settings.role,
        settings.effective_node_name,
        len(application.state.sites),
        settings.bus_url,
        settings.http_host,
        settings.http_port,
    )
    uvicorn.run(
        application,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        ws_per_message_deflate=False,  # frames are serialised once for all viewers
        ws_max_size=MAX_WS_MESSAGE_BYTES,
    )


roles_app = typer.Typer(
    name="skyberth-roles",
    help="SkyBerth's scale-out processes (also registered on `skyberth`).",
    no_args_is_help=True,
    add_completion=False,
)
roles_app.command("gateway")(gateway)
roles_app.command("web")(web)

if __name__ == "__main__":
    roles_app()
