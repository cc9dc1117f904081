"""``skyberth export incident|booking ID --format F --output PATH``.

The same files as ``GET /api/v1/incidents/{id}/export`` and
``/bookings/{id}/export`` (``telemetry.reports.export_sources``), read straight from the
configured database and recordings, with no visibility filter: whoever can run
this can read the database anyway. ``--output -`` writes to standard output. An
existing output file is kept unless ``--force``; a missing incident, booking or
recording exits 1 with the reason. ``--lang zh-Hant-HK`` writes the report and the
KML's names in Traditional Chinese and gives a CSV a header row of column names
(as ``?lang=`` does in the API); without it: English, and a CSV header of codes.
"""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer

from telemetry.reports.export_sources import ExportFile, ExportFormat
from web.settings import Settings

export_app = typer.Typer(
    help="Export an incident or a booking's flight to a file.", no_args_is_help=True
)

FormatOption = Annotated[
    ExportFormat, typer.Option("--format", "-f", help="The file format.")
]
OutputOption = Annotated[
    Path, typer.Option("--output", "-o", help="Where to write ('-': stdout).")
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Overwrite an existing output file.")
]
LangOption = Annotated[
    Literal["en", "zh-Hant-HK"] | None,
    typer.Option(
        "--lang",
        help="Language of the report and KML names; a CSV gets a header of names.",
    ),
]


@export_app.callback()
def _group() -> None:
    """Export an incident or a booking's flight to a file."""


def _write(export: ExportFile, output: Path, force: bool) -> None:
    if str(output) == "-":
        sys.stdout.buffer.write(export.read())
        sys.stdout.buffer.flush()
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    if export.path is not None:
        shutil.copyfile(export.path, output)
    else:
        output.write_bytes(export.read())
    typer.echo(f"wrote {export.filename} to {output}", err=True)


def _run(
    kind: str,
    ident: int,
    fmt: ExportFormat,
    output: Path,
    force: bool,
    lang: str | None,
) -> None:
    from sqlmodel import Session

    from airspace.errors import SiteFileError, SiteValidationError
    from airspace.site import Site
    from airspace.site_files import load_site
    from booking.errors import NotFound
    from booking.tables import BookingRow, booking_from_row
    from telemetry.incidents.repository import IncidentRepository
    from telemetry.recording.track_store import TrackStore
    from telemetry.reports.export_sources import (
        ExportSources,
        export_booking,
        export_incident,
    )
    from web.db import make_engine, write_session
    from web.i18n.export_headers import export_csv
    from web.i18n.report_words import report_words, sites_zone
    from web.i18n.request_language import ChosenLanguage
    from web.migrate import upgrade

    if str(output) != "-" and output.exists() and not force:
        typer.echo(f"{output} exists; use --force to overwrite it", err=True)
        raise typer.Exit(code=1)
    settings = Settings()
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade(engine)
        sites: dict[str, Site] = {
            site.id: site for site in map(load_site, settings.site_files)
        }
        incidents = IncidentRepository(
            lambda: write_session(engine), lambda: Session(engine)
        )
        tracks = TrackStore(lambda: write_session(engine), lambda: Session(engine))
        mpd = {site_id: settings.mpd_reference(site_id) for site_id in sites}
        sources = ExportSources(
            incidents,
            tracks,
            engine,
            sites,
            settings.tlog_dir,
            mpd,
            settings.data_dir / "ais",
        )
        now = datetime.now(UTC)
        chosen = ChosenLanguage(lang or "en", asked=lang is not None)
        if kind == "incident":
            incident = incidents.get_incident(ident)
            if incident is None:
                raise NotFound("incident", ident)
            zone = sites_zone(sites, incident.site_id)
            words = report_words(chosen.language, zone)
            export = export_incident(sources, incident, fmt, now, words)
        else:
            with Session(engine) as session:
                row = session.get(BookingRow, ident)
            if row is None:
                raise NotFound("booking", ident)
            booking = booking_from_row(row)
            words = report_words(chosen.language, sites_zone(sites, booking.site_id))
            export = export_booking(sources, booking, fmt, now, words)
        if fmt == ExportFormat.CSV:
            body = export_csv(export.read().decode(), chosen).encode()
            export = ExportFile(export.filename, export.media_type, body)
    except NotFound as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(code=1) from None
    except (SiteFileError, SiteValidationError) as exc:
        typer.echo(f"cannot load the site files: {exc}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    _write(export, output, force)


@export_app.command("incident")
def incident(
    incident_id: Annotated[int, typer.Argument(help="The incident id.")],
    fmt: FormatOption,
    output: OutputOption,
    force: ForceOption = False,
    lang: LangOption = None,
) -> None:
    """Export one incident (its evidence track, volume, timeline, or report)."""
    _run("incident", incident_id, fmt, output, force, lang)


@export_app.command("booking")
def booking(
    booking_id: Annotated[int, typer.Argument(help="The booking id.")],
    fmt: FormatOption,
    output: OutputOption,
    force: ForceOption = False,
    lang: LangOption = None,
) -> None:
    """Export one booking's flight (track, corridor, incidents, or recording)."""
    _run("booking", booking_id, fmt, output, force, lang)
