"""``skyberth site``: check a site file and convert it between formats.

A broken file is the user's data, not a bug: its problems go to stderr, one a line,
and the command exits 1 without a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from airspace.errors import SiteFileError, SiteValidationError
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


def site_summary(site: Site) -> str:
    """Return a few human-readable lines describing ``site``."""
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
    return "\n".join(lines)


@site_app.command()
def validate(
    file: Annotated[
        Path, typer.Argument(help="Site file: .geojson/.json, .kml or .gpkg.")
    ],
) -> None:
    """Check a site file and summarise it; list every problem and exit 1 if broken."""
    site = _load_or_exit(file)
    typer.echo(site_summary(site))


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
