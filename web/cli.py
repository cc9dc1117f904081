"""The ``skyberth`` command line.

Every setting can also come from a ``SKYBERTH_*`` environment variable; an option
given here wins over the environment.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from simulator.cli import sim
from telemetry.mavlink.sender_filter import parse_networks
from telemetry.mavlink.transports import parse_endpoint
from web.cli_admin import db_app, user_app
from web.cli_audit import audit_app
from web.cli_cluster import cluster
from web.cli_demo import demo
from web.cli_export import export_app
from web.cli_report import report_app
from web.cli_roles import gateway, web
from web.cli_site import site_app
from web.input_limits import MAX_WS_MESSAGE_BYTES
from web.logs import configure_logging
from web.settings import Settings

app = typer.Typer(
    name="skyberth",
    help=(
        "SkyBerth: manage a drone test site - pad and corridor bookings, live "
        "MAVLink telemetry checked against corridors, and incident audit."
    ),
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(site_app, name="site")
app.add_typer(user_app, name="user")
app.add_typer(db_app, name="db")
app.add_typer(export_app, name="export")
app.add_typer(audit_app, name="audit")
app.add_typer(report_app, name="report")
app.command("sim")(sim)
app.command("demo")(demo)
app.command("cluster")(cluster)
app.command("gateway")(gateway)
app.command("web")(web)

log = logging.getLogger(__name__)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="HTTP bind address [env SKYBERTH_HTTP_HOST].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="HTTP port [env SKYBERTH_HTTP_PORT].")
    ] = None,
    site: Annotated[
        list[Path] | None,
        typer.Option(
            help="Site file to serve (repeatable); default: the demo site "
            "[env SKYBERTH_SITE_FILES as a JSON list].",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    mavlink: Annotated[
        list[str] | None,
        typer.Option(
            help="MAVLink endpoint to listen on or connect to (repeatable): "
            "udpin:HOST:PORT, udpout:HOST:PORT, tcp:HOST:PORT, tcpin:HOST:PORT or "
            "serial:DEVICE:BAUD. Default udpin:0.0.0.0:14550 (all interfaces) "
            "[env SKYBERTH_MAVLINK as a JSON list].",
        ),
    ] = None,
    forward: Annotated[
        list[str] | None,
        typer.Option(
            help="Forward target (repeatable), e.g. udpout:127.0.0.1:14551 for "
            "QGroundControl: it gets every MAVLink frame, its frames go back to the "
            "vehicles [env SKYBERTH_FORWARD as a JSON list].",
        ),
    ] = None,
    talk: Annotated[
        list[str] | None,
        typer.Option(
            help="A --mavlink endpoint SkyBerth may talk on unasked (repeatable): "
            "its GCS heartbeat (sysid SKYBERTH_GCS_SYSID, 245) and rate requests "
            "where no other ground station is heard [env SKYBERTH_MAVLINK_TALK].",
        ),
    ] = None,
    mavlink_allow: Annotated[
        list[str] | None,
        typer.Option(
            help="Accept MAVLink senders only from this network, e.g. "
            "10.42.0.0/16 (repeatable); others are refused and counted. Default: "
            "any sender [env SKYBERTH_MAVLINK_ALLOW as a JSON list].",
        ),
    ] = None,
    ais: Annotated[
        list[str] | None,
        typer.Option(
            help="AIS (NMEA 0183 !AIVDM) source (repeatable): udpin:HOST:PORT or "
            "tcp:HOST:PORT. Default: none [env SKYBERTH_AIS as a JSON list].",
        ),
    ] = None,
) -> None:
    """Run the SkyBerth server on one process: REST API, pages, the MAVLink
    gateway and the live stream."""
    import uvicorn

    from web.app import create_app

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["http_host"] = host
    if port is not None:
        overrides["http_port"] = port
    if site:
        overrides["site_files"] = site
    if mavlink:
        overrides["mavlink"] = mavlink
    if ais:
        overrides["ais"] = ais
    if forward:
        overrides["forward"] = forward
    if talk:
        overrides["mavlink_talk"] = talk
    if mavlink_allow:
        try:
            parse_networks(mavlink_allow)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--mavlink-allow") from exc
        overrides["mavlink_allow"] = mavlink_allow
    try:
        settings = Settings().model_copy(update=overrides)
    except ValidationError as exc:
        # The public development key outside dev/test, or too short a key.
        raise typer.BadParameter(
            "; ".join(str(err["msg"]) for err in exc.errors())
        ) from None
    configure_logging(settings.log_level, settings.log_format)
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
    try:
        for spec in [*settings.forward, *settings.mavlink_talk]:
            parse_endpoint(spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--forward/--talk") from exc
    application = create_app(settings, tune_interpreter=True)
    log.info(
        "serving %d site(s) on http://%s:%d (API docs at /docs)",
        len(application.state.sites),
        settings.http_host,
        settings.http_port,
    )
    uvicorn.run(
        application,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        # Each live frame is serialised once for all viewers; per-message deflate
        # would compress it again for every client, on the event loop.
        ws_per_message_deflate=False,
        ws_max_size=MAX_WS_MESSAGE_BYTES,
    )


@app.command()
def version() -> None:
    """Print SkyBerth's version."""
    from importlib.metadata import version as dist_version

    typer.echo(f"skyberth {dist_version('skyberth')}")


if __name__ == "__main__":
    app()
