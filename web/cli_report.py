"""``skyberth report campaign``: the campaign report from the command line.

Reads the database and the recordings of the configured data directory, as the
API does (``web.campaign_reports``), so the numbers are the same:
``skyberth report campaign --operator ORG --from 2026-12-01 --to 2026-12-08
--format html|csv|json [--drone D] [--output FILE] [--lang zh-Hant-HK]``. Dates
without a time zone are UTC. The HTML is English unless ``--lang`` names another
language, which also gives the CSV a header row of column names (as ``?lang=`` does
in the API).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer

from web.settings import Settings

report_app = typer.Typer(help="Reports from the command line.", no_args_is_help=True)


@report_app.callback()
def _group() -> None:
    """Reports from the command line."""


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@report_app.command("campaign")
def campaign(
    operator: Annotated[str, typer.Option("--operator", help="The organisation.")],
    start: Annotated[str, typer.Option("--from", help="Start (ISO date or time).")],
    end: Annotated[str, typer.Option("--to", help="End, exclusive (ISO).")],
    fmt: Annotated[
        Literal["html", "csv", "json"], typer.Option("--format", "-f")
    ] = "html",
    drone: Annotated[str | None, typer.Option("--drone")] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write ('-': stdout).")
    ] = Path("-"),
    lang: Annotated[
        Literal["en", "zh-Hant-HK"] | None,
        typer.Option("--lang", help="Language of the HTML and the CSV header row."),
    ] = None,
) -> None:
    """Write the operator's campaign report over [from, to)."""
    from sqlmodel import Session

    from airspace.site import Site
    from airspace.site_files import load_site
    from telemetry.incidents.repository import IncidentRepository
    from telemetry.recording.track_store import TrackStore
    from telemetry.reports.campaign import campaign_csv, campaign_html
    from telemetry.reports.export_sources import ExportSources
    from web.campaign_reports import campaign_report
    from web.db import make_engine, write_session
    from web.i18n.export_headers import export_csv
    from web.i18n.report_words import report_words, sites_zone
    from web.i18n.request_language import ChosenLanguage
    from web.migrate import upgrade

    settings = Settings()
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade(engine)
        sites: dict[str, Site] = {s.id: s for s in map(load_site, settings.site_files)}
        sources = ExportSources(
            IncidentRepository(lambda: write_session(engine), lambda: Session(engine)),
            TrackStore(lambda: write_session(engine), lambda: Session(engine)),
            engine,
            sites,
            settings.tlog_dir,
        )
        with Session(engine) as session:
            summary, flights = campaign_report(
                session,
                sources,
                operator,
                _instant(start),
                _instant(end),
                settings.landed_end_s,
                drone,
            )
    finally:
        engine.dispose()
    if fmt == "json":
        text = json.dumps(summary, indent=2)
    elif fmt == "csv":
        chosen = ChosenLanguage(lang or "en", asked=lang is not None)
        text = export_csv(campaign_csv(summary), chosen)
    else:
        words = report_words(lang or "en", sites_zone(sites))
        text = campaign_html(summary, flights, words)
    if str(output) == "-":
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote the campaign report to {output}", err=True)
