"""Exports of an incident or a booking: gather the replay, render one format.

The API (``GET /api/v1/incidents/{id}/export``, ``/bookings/{id}/export``) and the
command line (``skyberth export``) both come here, so a file is the same whichever
way it was made. Visibility is the caller's business (the routes check it; the
command line is for whoever holds the database).

Formats (``ExportFormat``): ``geojson``, ``kml``, ``csv``, ``gpkg``, ``tlog`` and
``html`` (the report). An incident's ``tlog`` holds its evidence frames; a
booking's is its recording ``<tlog_dir>/<site>/booking-<id>.tlog``, served from
disk as it is.

The report and the KML's names speak the reader's language (``Words``, given by the
caller); GeoJSON, CSV and GeoPackage carry stable codes only (the web layer may
put a human header row on a CSV: ``web.i18n.export_headers``).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Final

from sqlalchemy.engine import Engine
from sqlmodel import Session

from airspace.hk_grid import MpdReference
from airspace.site import Site
from booking.audit_chain import AuditLine
from booking.audit_trail import audit_lines
from booking.errors import NotFound
from booking.model import Booking, Drone, cad_snapshot
from booking.tables import DroneRow, drone_from_row
from telemetry.incidents.model import Incident, VolumeSnapshot
from telemetry.incidents.repository import IncidentRepository
from telemetry.recording.tlog_writer import TLOG_SUFFIX
from telemetry.recording.track_store import TrackStore
from telemetry.reports import exports
from telemetry.reports.incident_report import incident_title, render_report
from telemetry.reports.replay import Replay, booking_replay, incident_replay
from telemetry.reports.vessel_tracks import read_vessel_tracks
from telemetry.reports.words import Words, term

MAX_BOOKING_INCIDENTS: Final = 1000


class ExportFormat(enum.StrEnum):
    """A file format an incident or a booking can be exported to."""

    GEOJSON = "geojson"
    KML = "kml"
    CSV = "csv"
    GPKG = "gpkg"
    TLOG = "tlog"
    HTML = "html"


MEDIA_TYPES: Final[Mapping[ExportFormat, str]] = {
    ExportFormat.GEOJSON: "application/geo+json",
    ExportFormat.KML: "application/vnd.google-earth.kml+xml",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.GPKG: "application/geopackage+sqlite3",
    ExportFormat.TLOG: "application/octet-stream",
    ExportFormat.HTML: "text/html; charset=utf-8",
}
_RENDERERS: Final[Mapping[ExportFormat, Callable[[Replay, Words, str], bytes]]] = {
    ExportFormat.GEOJSON: lambda replay, _, __: exports.to_geojson(replay),
    ExportFormat.KML: exports.to_kml,
    ExportFormat.CSV: lambda replay, _, __: exports.to_csv(replay),
    ExportFormat.GPKG: lambda replay, _, __: exports.to_gpkg(replay),
}
"""Each format from (replay, words, title): only KML has words for people (its
names); the other formats are data."""


@dataclass(frozen=True)
class ExportFile:
    """An export: its bytes, or (a large recording) the file that holds them."""

    filename: str
    media_type: str
    content: bytes | None = None
    path: Path | None = None

    def read(self) -> bytes:
        """Return the export's bytes."""
        if self.content is not None:
            return self.content
        if self.path is None:
            raise ValueError(f"export {self.filename} has neither content nor a path")
        return self.path.read_bytes()


@dataclass(frozen=True)
class ExportSources:
    """Where exports read from."""

    incidents: IncidentRepository
    tracks: TrackStore
    engine: Engine
    sites: Mapping[str, Site]
    tlog_dir: Path
    mpd: Mapping[str, MpdReference] = field(default_factory=dict)
    """Each site's mPD reference (``web.settings.Settings.mpd_reference``); a site
    missing here gets the approximate one."""
    ais_dir: Path | None = None
    """The raw AIS recording, for the vessels around an incident."""

    def with_mpd(self, replay: Replay, site_id: str) -> Replay:
        """Return ``replay`` with the mPD reference of ``site_id``."""
        return dataclasses.replace(replay, mpd=self.mpd.get(site_id) or MpdReference())


def incident_replay_of(
    incidents: IncidentRepository, incident: Incident, ais_dir: Path | None = None
) -> Replay:
    """Return the incident's replay: evidence positions, timeline, and the AIS
    vessels heard near its site over the same span (when ``ais_dir`` holds a
    recording)."""
    evidence = incidents.evidence(incident.id)
    replay = incident_replay(
        incident, evidence.samples, incidents.incident_events(incident.id)
    )
    start, end = replay.start_s, replay.end_s
    if ais_dir is None or start is None or end is None:
        return replay
    vessels = read_vessel_tracks(ais_dir, incident.site_id, start, end)
    return replace(replay, vessels=vessels)


def booking_volume(
    sites: Mapping[str, Site], booking: Booking
) -> VolumeSnapshot | None:
    """Return the booking's corridor as the site defines it now (None: no corridor)."""
    site = sites.get(booking.site_id)
    if site is None or booking.corridor_id is None:
        return None
    try:
        corridor = site.corridor(booking.corridor_id)
    except KeyError:
        return None
    return VolumeSnapshot.of(
        corridor.volume, site.projection, f"corridor:{corridor.id}"
    )


def booking_replay_of(
    incidents: IncidentRepository,
    tracks: TrackStore,
    sites: Mapping[str, Site],
    booking: Booking,
) -> Replay:
    """Return the booking's replay: its track and its incidents' timelines."""
    found = incidents.list_incidents(booking_id=booking.id, limit=MAX_BOOKING_INCIDENTS)
    found.sort(key=lambda i: (i.opened_at, i.id))
    return booking_replay(
        booking.id,
        f"Booking {booking.id}: drone {booking.drone_id}, {booking.site_id}",
        tracks.track(booking_id=booking.id),
        [(i, incidents.incident_events(i.id)) for i in found],
        booking_volume(sites, booking),
    )


def booking_tlog_path(tlog_dir: Path, booking: Booking) -> Path:
    """Return where the gateway records the booking's raw frames."""
    return tlog_dir / booking.site_id / f"booking-{booking.id}{TLOG_SUFFIX}"


def booking_title(words: Words, booking: Booking) -> str:
    """Return the booking report's one-line title in the reader's words."""
    return words(
        "report.title.booking",
        id=booking.id,
        drone=booking.drone_id,
        site=booking.site_id,
    )


def booking_facts(words: Words, booking: Booking) -> list[tuple[str, object]]:
    """Return the booking's facts for the report, in the reader's words."""
    none = words("report.value.none")

    def label(key: str) -> str:
        return words(f"report.fact.{key}", zone=words.zone_name)

    return [
        (label("booking"), booking.id),
        (label("state"), term(words, "booking.state", booking.state)),
        (label("site"), booking.site_id),
        (label("drone"), booking.drone_id),
        (label("operator"), booking.operator_id),
        (label("requested_by"), booking.requested_by),
        (label("window_start"), words.when(booking.window.start)),
        (label("window_end"), words.when(booking.window.end)),
        (label("takeoff_pad"), booking.takeoff_pad_id or none),
        (label("landing_pad"), booking.landing_pad_id or none),
        (label("corridor"), booking.corridor_id or none),
    ]


def drone_facts(words: Words, drone: Drone | None) -> list[tuple[str, object]]:
    """Return the drone's CAD registration for the report ("not given" when empty)."""
    if drone is None:
        return []
    cad = cad_snapshot(drone)

    def given(number: str, until: str = "") -> str:
        if not number:
            return words("report.value.not_given")
        if not until:
            return number
        return words("report.value.valid_until", number=number, until=until)

    return [
        (words("report.fact.cad_category"), cad["category"]),
        (
            words("report.fact.registration_mark"),
            given(cad["registration_mark"], cad["registration_valid_until"]),
        ),
        (words("report.fact.serial_number"), given(cad["serial_number"])),
        (
            words("report.fact.operator_registration"),
            given(
                cad["operator_registration"], cad["operator_registration_valid_until"]
            ),
        ),
        (
            words("report.fact.pilot_registration"),
            given(
                cad["remote_pilot_registration"],
                cad["remote_pilot_registration_valid_until"],
            ),
        ),
    ]


def _drone(engine: Engine, drone_id: str) -> Drone | None:
    with Session(engine) as session:
        row = session.get(DroneRow, drone_id)
        return drone_from_row(row) if row is not None else None


def _audit(engine: Engine, subjects: list[tuple[str, str]]) -> list[AuditLine]:
    with Session(engine) as session:
        return audit_lines(session, subjects)


def _rendered(
    replay: Replay,
    fmt: ExportFormat,
    stem: str,
    report: Callable[[], str],
    words: Words,
    title: str,
) -> ExportFile:
    name = f"{stem}.{fmt}"
    if fmt is ExportFormat.HTML:
        return ExportFile(name, MEDIA_TYPES[fmt], report().encode())
    return ExportFile(name, MEDIA_TYPES[fmt], _RENDERERS[fmt](replay, words, title))


def export_incident(
    sources: ExportSources,
    incident: Incident,
    fmt: ExportFormat,
    now: datetime,
    words: Words,
) -> ExportFile:
    """Return the incident in ``fmt``; ``NotFound`` for a tlog without frames.

    ``words``: the reader's language and zone, for the report and KML's names."""
    fmt = ExportFormat(fmt)
    stem = f"skyberth-incident-{incident.id}"
    if fmt is ExportFormat.TLOG:
        frames = sources.incidents.evidence(incident.id).frames
        if not frames:
            raise NotFound("raw MAVLink evidence of incident", incident.id)
        return ExportFile(f"{stem}.tlog", MEDIA_TYPES[fmt], exports.to_tlog(frames))
    replay = sources.with_mpd(
        incident_replay_of(sources.incidents, incident, sources.ais_dir),
        incident.site_id,
    )

    def report() -> str:
        audit = _audit(sources.engine, [("incident", str(incident.id))])
        return render_report(replay, words=words, audit=audit, generated_at=now)

    title = incident_title(words, incident)
    return _rendered(replay, fmt, stem, report, words, title)


def export_booking(
    sources: ExportSources,
    booking: Booking,
    fmt: ExportFormat,
    now: datetime,
    words: Words,
) -> ExportFile:
    """Return the booking in ``fmt``; ``NotFound`` when it has no recording (tlog).

    ``words``: the reader's language and zone, for the report and KML's names."""
    fmt = ExportFormat(fmt)
    stem = f"skyberth-booking-{booking.id}"
    if fmt is ExportFormat.TLOG:
        path = booking_tlog_path(sources.tlog_dir, booking)
        if not path.is_file():
            raise NotFound("tlog recording of booking", booking.id)
        return ExportFile(f"{stem}.tlog", MEDIA_TYPES[fmt], path=path)
    replay = sources.with_mpd(
        booking_replay_of(sources.incidents, sources.tracks, sources.sites, booking),
        booking.site_id,
    )

    def report() -> str:
        subjects = [("booking", str(booking.id))]
        subjects += [("incident", str(i.id)) for i in replay.incidents]
        audit = _audit(sources.engine, subjects)
        return render_report(
            replay,
            words=words,
            audit=audit,
            generated_at=now,
            facts=booking_facts(words, booking)
            + drone_facts(words, _drone(sources.engine, booking.drone_id)),
            title=booking_title(words, booking),
        )

    return _rendered(replay, fmt, stem, report, words, booking_title(words, booking))
