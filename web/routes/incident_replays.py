"""Replay tracks and exports of incidents and bookings.

``GET /incidents/{id}/track`` and ``/bookings/{id}/track`` return the
time-ordered samples with their conformance state, the events and the assigned
volume, for the pages' time slider (``telemetry.reports.replay.replay_json``).
``GET .../export?format=geojson|kml|csv|gpkg|tlog|html`` returns a file
(``telemetry.reports.export_sources``). Visibility is the incidents' and bookings' own:
another
organisation's answers 404.

The report and KML speak the reader's language (``?lang=``, the stored language,
then ``Accept-Language``: ``web.i18n.request_language``) with times in the site's
zone; a CSV's header row holds column codes unless a language was asked for
(``web.i18n.export_headers``); GeoJSON and GeoPackage keys are always codes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session

from airspace.site import Site
from telemetry.recording.track_store import TrackStore
from telemetry.reports.export_sources import (
    MEDIA_TYPES,
    ExportFile,
    ExportFormat,
    ExportSources,
    booking_replay_of,
    export_booking,
    export_incident,
    incident_replay_of,
)
from telemetry.reports.replay import replay_json
from web.db import write_session
from web.deps import ActorDep, SessionDep
from web.i18n.export_headers import HeaderQuery, export_csv
from web.i18n.report_words import report_words, sites_zone
from web.i18n.request_language import ChosenLanguage, ChosenLanguageDep
from web.input_limits import DbId
from web.queries import get_booking
from web.routes.incidents import incident_repository, visible_incident
from web.settings import Settings

router = APIRouter(tags=["incidents"])

FormatQuery = Annotated[
    ExportFormat, Query(alias="format", description="The file format to export.")
]
_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {media: {} for media in sorted(set(MEDIA_TYPES.values()))}}
}


def _track_store(request: Request) -> TrackStore:
    """The app's track store (one on the engine if the runtime has none)."""
    tracks = getattr(request.app.state.telemetry, "tracks", None)
    if isinstance(tracks, TrackStore):
        return tracks
    engine = cast(Engine, request.app.state.engine)
    return TrackStore(lambda: write_session(engine), lambda: Session(engine))


def export_sources(request: Request) -> ExportSources:
    """The app's export sources: incidents, tracks, engine, sites, tlog directory."""
    settings = cast(Settings, request.app.state.settings)
    sites = cast(dict[str, Site], request.app.state.sites)
    return ExportSources(
        incidents=incident_repository(request),
        tracks=_track_store(request),
        engine=cast(Engine, request.app.state.engine),
        sites=sites,
        tlog_dir=Path(settings.tlog_dir),
        mpd={site_id: settings.mpd_reference(site_id) for site_id in sites},
        ais_dir=Path(settings.data_dir) / "ais",
    )


def _response(
    export: ExportFile,
    fmt: ExportFormat,
    chosen: ChosenLanguage,
    header: HeaderQuery,
) -> Response:
    if export.path is not None:
        return FileResponse(
            export.path, media_type=export.media_type, filename=export.filename
        )
    body = export.read()
    if fmt == ExportFormat.CSV:
        body = export_csv(body.decode(), chosen, header).encode()
    headers = {"Content-Disposition": f'attachment; filename="{export.filename}"'}
    if fmt in (ExportFormat.HTML, ExportFormat.KML):
        headers["Content-Language"] = chosen.language
    return Response(body, media_type=export.media_type, headers=headers)


@router.get("/incidents/{incident_id}/track")
def incidents_track(
    incident_id: DbId, request: Request, actor: ActorDep
) -> dict[str, Any]:
    """Return the incident's evidence track, timeline and volume for replay."""
    incidents = incident_repository(request)
    incident = visible_incident(incidents, actor, incident_id)
    ais_dir = export_sources(request).ais_dir
    return replay_json(incident_replay_of(incidents, incident, ais_dir))


@router.get("/bookings/{booking_id}/track")
def bookings_track(
    booking_id: DbId, request: Request, actor: ActorDep, session: SessionDep
) -> dict[str, Any]:
    """Return the booking's recorded track, its incidents' events and its corridor."""
    booking = get_booking(session, actor, booking_id)
    sources = export_sources(request)
    return replay_json(
        booking_replay_of(sources.incidents, sources.tracks, sources.sites, booking)
    )


@router.get(
    "/incidents/{incident_id}/export",
    response_class=Response,
    responses=_FILE_RESPONSES,
)
def incidents_export(
    incident_id: DbId,
    request: Request,
    actor: ActorDep,
    fmt: FormatQuery,
    chosen: ChosenLanguageDep,
    header: HeaderQuery = None,
) -> Response:
    """Return the incident as a file: GeoJSON, KML, CSV, GeoPackage, its raw
    evidence frames as ``.tlog``, or the HTML report."""
    sources = export_sources(request)
    incident = visible_incident(sources.incidents, actor, incident_id)
    words = report_words(chosen.language, sites_zone(sources.sites, incident.site_id))
    export = export_incident(sources, incident, fmt, datetime.now(UTC), words)
    return _response(export, fmt, chosen, header)


@router.get(
    "/bookings/{booking_id}/export",
    response_class=Response,
    responses=_FILE_RESPONSES,
)
def bookings_export(
    booking_id: DbId,
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    fmt: FormatQuery,
    chosen: ChosenLanguageDep,
    header: HeaderQuery = None,
) -> Response:
    """Return the booking's flight as a file: GeoJSON, KML, CSV, GeoPackage, its
    raw recording (``.tlog``), or an HTML report."""
    booking = get_booking(session, actor, booking_id)
    sources = export_sources(request)
    words = report_words(chosen.language, sites_zone(sources.sites, booking.site_id))
    export = export_booking(sources, booking, fmt, datetime.now(UTC), words)
    return _response(export, fmt, chosen, header)
