"""Read and write site files (GeoJSON, KML, GeoPackage) through geopandas and pyogrio.

The edge between files and the pure site model: this module turns a file into the
GeoJSON-like features ``airspace.site_parse.parse_site`` validates, and a ``Site``
back into a file. Every format holds the same columns, one row per feature (see
docs/site-format.md). Anything GDAL cannot read becomes a ``SiteFileError`` naming the
path and the reason, never a raw GDAL or pandas traceback.

geopandas, pandas and pyogrio are imported inside the functions that read or write
a file: together they take most of a second to import, and ``skyberth --help`` or a
process that never touches a site file should not pay for them.
"""

from __future__ import annotations

import enum
import os
import secrets
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pyproj import CRS

from airspace.errors import SiteFileError
from airspace.site import Site
from airspace.site_features import site_to_features
from airspace.site_parse import parse_site

if TYPE_CHECKING:
    import geopandas as gpd
    from pandas.api.extensions import ExtensionDtype

DEMO_SITE_FILE = "cyberport_pier.geojson"
LAYER_NAME = "site"
"""The layer written; when a file has several layers, this one is read."""
WGS84 = "EPSG:4326"


def _gdal_errors() -> tuple[type[Exception], ...]:
    """Return GDAL's exceptions as pyogrio raises them (every other pyogrio error
    subclasses these), plus OSError."""
    from pyogrio.errors import DataLayerError, DataSourceError

    return (DataSourceError, DataLayerError, OSError)


class SiteFormat(enum.StrEnum):
    """A file format for sites."""

    GEOJSON = "geojson"
    KML = "kml"
    GPKG = "gpkg"


_DRIVERS = {
    SiteFormat.GEOJSON: "GeoJSON",
    # LIBKML (not the older KML driver) writes ExtendedData with a typed schema.
    SiteFormat.KML: "LIBKML",
    SiteFormat.GPKG: "GPKG",
}
_SUFFIXES = {
    ".geojson": SiteFormat.GEOJSON,
    ".json": SiteFormat.GEOJSON,
    ".kml": SiteFormat.KML,
    ".gpkg": SiteFormat.GPKG,
}
# KML readers give the placemark's <name> and <description> capitalised.
_KML_COLUMN_NAMES = {"Name": "name", "Description": "description"}


def format_for_path(path: str | os.PathLike[str]) -> SiteFormat:
    """Return the format a file's suffix names; SiteFileError for an unknown one."""
    suffix = Path(path).suffix.lower()
    try:
        return _SUFFIXES[suffix]
    except KeyError:
        known = ", ".join(_SUFFIXES)
        raise SiteFileError(
            f"{path}: cannot tell the format from the suffix {suffix!r} "
            f"(use one of {known}, or give the format)"
        ) from None


def demo_site_path() -> Path:
    """Return the path of the packaged demo site (the Cyberport waterfront pier)."""
    # A package installed from a wheel or in place is a directory on disk, so the
    # resource is a real file that GDAL can open (no zip imports here).
    return Path(str(files("airspace") / "data" / DEMO_SITE_FILE))


def load_site(path: str | os.PathLike[str]) -> Site:
    """Read the site file at ``path`` (format sniffed by GDAL) and validate it.

    Raises ``SiteFileError`` when the file is missing or not a readable site file and
    ``SiteValidationError`` (listing every problem) when its features are wrong.
    """
    return parse_site(read_features(path))


def read_features(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Return the features of a site file as ``parse_site`` takes them (lon/lat).

    Missing values come back as None and numpy scalars as Python values, whatever
    the format; the properties are otherwise as the file holds them.
    """
    import geopandas as gpd
    from pyogrio import list_layers

    path = Path(path)
    if not path.exists():
        raise SiteFileError(f"{path}: no such file")
    if not path.is_file():
        raise SiteFileError(f"{path}: not a file")
    try:
        with _expected_reader_warnings_ignored():
            layers = [str(name) for name, _ in list_layers(path)]
            if not layers:
                raise SiteFileError(f"{path}: holds no layers, so no site features")
            layer = LAYER_NAME if LAYER_NAME in layers else layers[0]
            frame = gpd.read_file(path, engine="pyogrio", layer=layer)
        frame = _to_wgs84(frame)
    except _gdal_errors() as exc:
        raise SiteFileError(f"{path}: cannot read it as a site file: {exc}") from exc
    if frame.empty:
        raise SiteFileError(f"{path}: holds no features (is it a site file?)")
    frame = frame.rename(
        columns={
            old: new
            for old, new in _KML_COLUMN_NAMES.items()
            if old in frame.columns and new not in frame.columns
        }
    )
    geometry_column = frame.geometry.name
    columns = [str(c) for c in frame.columns if c != geometry_column]
    rows = frame[columns].itertuples(index=False, name=None)
    return [
        {
            "geometry": geometry,
            "properties": {c: _plain(v) for c, v in zip(columns, row, strict=True)},
        }
        for geometry, row in zip(frame.geometry, rows, strict=True)
    ]


@contextmanager
def _expected_reader_warnings_ignored() -> Iterator[None]:
    """Silence two reader warnings that say nothing the validation will not.

    GDAL gives a GeoJSON property holding mixed types (``"capacity": "two"`` next to
    ``3``) as text tagged JSON; pyogrio warns that it cannot parse it and keeps the
    text, which is what the typed readers check. A GeoPackage saved under another
    suffix (``save_site(..., fmt=GPKG)``) makes GDAL warn about the suffix.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"Could not parse column '.*' as JSON; leaving as string",
            category=UserWarning,
        )
        warnings.filterwarnings(
            "ignore",
            message=r".*has GPKG application_id, but non conformant file extension",
            category=RuntimeWarning,
        )
        yield


def _to_wgs84(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return ``frame`` in lon/lat degrees; a frame without a CRS is lon/lat."""
    if frame.crs is None or CRS.from_user_input(frame.crs).equals(
        WGS84, ignore_axis_order=True
    ):
        return frame
    return frame.to_crs(WGS84)


def _plain(value: object) -> object:
    """Return ``value`` as plain Python, with every flavour of missing as None."""
    import pandas as pd

    if isinstance(value, list | tuple | np.ndarray):
        return value  # list fields (GDAL IntegerList); pd.isna would test each item
    if pd.isna(value):  # type: ignore[call-overload]  # object is a scalar here
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_site(
    site: Site, path: str | os.PathLike[str], fmt: SiteFormat | None = None
) -> Path:
    """Write ``site`` to ``path`` as ``fmt`` (default: by suffix); return the path.

    An existing file is replaced whole: the file is written next to it under a
    temporary name and moved into place, so a failed write leaves the old file.
    """
    path = Path(path)
    fmt = format_for_path(path) if fmt is None else SiteFormat(fmt)
    if not path.parent.is_dir():
        raise SiteFileError(f"{path}: the directory {path.parent} does not exist")
    features = site_to_features(site)
    if fmt is SiteFormat.KML:
        _refuse_text_libkml_would_corrupt(features, path)
    frame = _site_frame(features)
    # GDAL picks some behaviour from the suffix (GPKG warns on a foreign one).
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.{fmt}")
    try:
        frame.to_file(
            temporary, driver=_DRIVERS[fmt], engine="pyogrio", layer=LAYER_NAME
        )
        temporary.replace(path)
    except _gdal_errors() as exc:
        raise SiteFileError(f"{path}: cannot write it as {fmt}: {exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _refuse_text_libkml_would_corrupt(
    features: list[dict[str, Any]], path: Path
) -> None:
    """Raise SiteFileError for text LIBKML would write as broken XML.

    LIBKML wraps text in CDATA sections without splitting a ``]]>`` inside them.
    """
    for feature in features:
        for key, value in feature["properties"].items():
            if isinstance(value, str) and "]]>" in value:
                label = f"{feature['properties']['kind']} {feature['properties']['id']}"
                raise SiteFileError(
                    f"{path}: cannot write {label} as KML: its {key} holds ']]>', "
                    "which GDAL's KML writer corrupts"
                )


def _column_dtypes() -> dict[str, ExtensionDtype]:
    """Pandas dtypes that keep booleans and integers typed even where a kind lacks
    them."""
    import pandas as pd

    return {
        "charger": pd.BooleanDtype(),
        "over_water": pd.BooleanDtype(),
        "capacity": pd.Int64Dtype(),
    }


def _site_frame(features: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import pandas as pd

    table = pd.DataFrame([feature["properties"] for feature in features])
    for column, dtype in _column_dtypes().items():
        if column in table.columns:
            table[column] = table[column].astype(dtype)
    geometry = [feature["geometry"] for feature in features]
    return gpd.GeoDataFrame(table, geometry=geometry, crs=WGS84)
