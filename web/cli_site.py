"""``skyberth site``: check a site file and convert it between formats.

A broken file is the user's data, not a bug: its problems go to stderr, one a line,
and the command exits 1 without a traceback.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from airspace.errors import SiteFileError, SiteValidationError
from airspace.hk_grid import MpdReference, in_hk1980_area, to_hk1980
from airspace.site import Corridor, GeofenceKind, Site
from airspace.site_files import (
    SiteFormat,
    demo_site_path,
    format_for_path,
    load_site,
    save_site,
)

site_app = typer.Typer(
    help="Check site files and convert them (GeoJSON, KML, GeoPackage).",
    no_args_is_help=True,
)


def _load_or_exit(path: Path) -> Site:
    """Return the site at ``path``; on a broken file print why and exit 1."""
    try:
        return load_site(path)
    except SiteValidationError as exc:
        typer.echo(f"{path}: {exc}", err=True)
    except SiteFileError as exc:
        typer.echo(str(exc), err=True)
    raise typer.Exit(code=1)


def _count(number: int, noun: str) -> str:
    if number == 1:
        return f"1 {noun}"
    return f"{number} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"


def _distance(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{metres:.0f} m"


def _area(square_metres: float) -> str:
    if square_metres >= 1_000_000:
        return f"{square_metres / 1_000_000:.2f} km²"
    return f"{square_metres / 10_000:.2f} ha"


def _corridor_line(site: Site, corridor: Corridor) -> str:
    band = corridor.band
    parts = [
        f"{band.floor_m:g}-{band.ceiling_m:g} m {band.ref}",
        f"capacity {corridor.capacity}",
    ]
    if corridor.half_width_m is not None:
        line_m = site.projection.geometry_to_metric(corridor.geometry_lonlat)
        parts.append(f"length {_distance(line_m.length)}")
        parts.append(f"half-width {corridor.half_width_m:g} m")
    parts.append(f"area {_area(corridor.volume.outline.area)}")
    if corridor.over_water_segments:
        segments = ",".join(str(i) for i in corridor.over_water_segments)
        parts.append(f"over water on segments {segments}")
    else:
        parts.append("over water" if corridor.over_water else "over land")
    return f"    {corridor.id} {corridor.name}: " + ", ".join(parts)


def _hk_grid_line(site: Site, mpd: MpdReference) -> str | None:
    """Return the reference point in the HK1980 Grid and the ground in mPD, for
    sites inside the grid's area of use."""
    lon, lat = site.ref_lon_deg, site.ref_lat_deg
    if not in_hk1980_area(lon, lat):
        return None
    east, north = to_hk1980(lon, lat)
    try:
        ground = f"{float(mpd.to_mpd(site.ground_elev_m, lon, lat)):.2f} {mpd.label}"
    except ValueError as exc:
        ground = f"not known ({exc})"
    return (
        f"  HK1980 Grid (EPSG:2326) E {float(east):.2f} N {float(north):.2f}; "
        f"ground {ground}"
    )


def site_summary(site: Site, mpd: MpdReference | None = None) -> str:
    """Return a few human-readable lines describing ``site``; ``mpd`` says how its
    heights become mPD (default: the approximate reference)."""
    lat = f"{abs(site.ref_lat_deg):.6f} {'N' if site.ref_lat_deg >= 0 else 'S'}"
    lon = f"{abs(site.ref_lon_deg):.6f} {'E' if site.ref_lon_deg >= 0 else 'W'}"
    exclusions = len(site.exclusions)
    boundaries = sum(1 for g in site.geofences if g.kind is GeofenceKind.BOUNDARY)
    crs = site.crs if site.crs == site.metric_crs else f"{site.crs} ({site.metric_crs})"
    lines = [
        f"Site {site.id}: {site.name}",
        f"  CRS {crs}; reference point {lat}, {lon}",
        f"  ground {site.ground_elev_m:g} m AMSL; limit {site.max_alt_agl_m:g} m AGL; "
        f"timezone {site.timezone}",
        f"  {_count(len(site.pads), 'pad')}, "
        f"{_count(len(site.corridors), 'corridor')}, "
        f"{_count(len(site.geofences), 'geofence')} "
        f"({_count(exclusions, 'exclusion')}, {_count(boundaries, 'boundary')})",
    ]
    if site.corridors:
        lines.append("  Corridors:")
        lines += [_corridor_line(site, corridor) for corridor in site.corridors]
    grid_line = _hk_grid_line(site, mpd or MpdReference())
    if grid_line is not None:
        lines.append(grid_line)
    return "\n".join(lines)


@site_app.command()
def validate(
    file: Annotated[
        Path, typer.Argument(help="Site file: .geojson/.json, .kml or .gpkg.")
    ],
) -> None:
    """Check a site file and summarise it; list every problem and exit 1 if broken."""
    from web.settings import Settings

    site = _load_or_exit(file)
    typer.echo(site_summary(site, Settings().mpd_reference(site.id)))


@site_app.command()
def export(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write (replaced if there).")
    ],
    site_file: Annotated[
        Path | None,
        typer.Option("--site", help="Site file to export; default: the demo site."),
    ] = None,
    fmt: Annotated[
        SiteFormat | None,
        typer.Option(
            "--format", "-f", help="Output format; default: from the output suffix."
        ),
    ] = None,
) -> None:
    """Write a site (default: the demo site) as GeoJSON, KML or GeoPackage."""
    site = _load_or_exit(demo_site_path() if site_file is None else site_file)
    try:
        fmt = format_for_path(output) if fmt is None else fmt
        written = save_site(site, output, fmt)
    except SiteFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"Wrote site {site.id} as {fmt} to {written}")


@site_app.command("import-zones")
def import_zones_command(
    file: Annotated[
        Path,
        typer.Argument(help="Zone file: ED-269/ED-318 .json, .geojson or .kml."),
    ],
    site_id: Annotated[str, typer.Option("--site", help="Site id to import into.")],
    source: Annotated[
        str | None,
        typer.Option(help="Source label; re-imports update zones of the same label."),
    ] = None,
    actor_name: Annotated[
        str, typer.Option("--as", help="Recorded as the importing user.")
    ] = "cli",
) -> None:
    """Import official restricted zones as closures of a site (updates on re-import)."""
    from airspace.geozones import GeoZoneError
    from airspace.site import SiteId
    from booking.catalogue import StaticSiteCatalogue
    from booking.model import Actor, Role, UserId
    from booking.unit_of_work import SqlUnitOfWork
    from booking.zone_imports import import_zones, zones_for_site
    from web.app import load_sites
    from web.cli_admin import _migrated_engine
    from web.db import write_session
    from web.settings import Settings
    from web.zone_files import read_zone_file

    settings = Settings()
    sites = load_sites(settings)
    site = sites.get(site_id)
    if site is None:
        typer.echo(f"no site {site_id!r}; served: {', '.join(sites)}", err=True)
        raise typer.Exit(code=1)
    label = source or f"file {file.name}"
    try:
        zones = zones_for_site(read_zone_file(file), site, label)
    except (GeoZoneError, ValueError) as exc:
        typer.echo(f"{file}: {exc}", err=True)
        raise typer.Exit(code=1) from None
    engine = _migrated_engine(settings)
    try:
        catalogue = StaticSiteCatalogue(sites, settings.site_policy())
        uow = SqlUnitOfWork(lambda: write_session(engine), catalogue)
        actor = Actor(UserId(actor_name), Role.SITE_ADMIN)
        done = import_zones(uow, SiteId(site_id), zones, actor, datetime.now(UTC))
    finally:
        engine.dispose()
    typer.echo(
        f"Imported {_count(len(zones), 'zone')} from {label} into site {site_id}: "
        f"{len(done.created)} new, {len(done.updated)} updated, "
        f"{len(done.unchanged)} unchanged, {len(done.expired)} expired, "
        f"{_count(len(done.bumped), 'booking')} bumped"
    )
