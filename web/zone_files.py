"""Reading official zone files (ED-269 / ED-318 JSON, GeoJSON, KML) into ``GeoZone``s.

JSON files are decoded here and parsed by ``airspace.geozones`` (ED-269 documents and
ED-318/GeoJSON feature collections alike); KML and GeoPackage go through the site
file reader (GDAL), which also turns a file written in another CRS into lon/lat.
"""

from __future__ import annotations

import json
from pathlib import Path

from airspace.errors import SiteFileError
from airspace.geozones import (
    GeoZone,
    GeoZoneError,
    parse_features,
    parse_geozone_document,
)
from airspace.site_files import read_features


def read_zone_file(path: Path) -> list[GeoZone]:
    """Return the zones in the file at ``path``; ``GeoZoneError`` says what is wrong."""
    if path.suffix.lower() in (".json", ".geojson"):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GeoZoneError(f"{path}: cannot read it as JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise GeoZoneError(f"{path}: not a JSON object")
        return parse_geozone_document(document)
    try:
        return parse_features(read_features(path))
    except SiteFileError as exc:
        raise GeoZoneError(str(exc)) from exc
