"""What the pages need to show a site's positions in the HK1980 Grid and heights in
mPD without a server round trip per mouse move (``GET /api/v1/sites/{id}``'s
``display`` member).

The browser has no PROJ, so the server sends a quadratic fit of the HK1980 Grid
around the site (``airspace.hk_grid.local_grid_fit``, millimetres within ~5 km) and
the site's mPD offset with its label (English) and the label's parts (method,
benchmark, grid file) for the pages to say in their language. A geoid-grid site
sends the grid's offset at the reference point, labelled as such; exports use the
grid itself everywhere.
"""

from __future__ import annotations

from typing import Any

from airspace.hk_grid import (
    HK1980_GRID,
    MpdMethod,
    MpdReference,
    in_hk1980_area,
    local_grid_fit,
)
from airspace.site import Site


def site_display(site: Site, mpd: MpdReference) -> dict[str, Any]:
    """Return the ``display`` member of a site collection (see module docstring)."""
    lon, lat = site.ref_lon_deg, site.ref_lat_deg
    if not in_hk1980_area(lon, lat):
        return {"hk1980": None, "mpd": None}
    fit = local_grid_fit(lon, lat)
    label = mpd.label
    try:
        offset_m: float | None = float(mpd.to_mpd(0.0, lon, lat))
    except ValueError:
        offset_m = None
    if mpd.method is MpdMethod.GEOID_GRID:
        label += ", its value at the site's reference point"
    return {
        "hk1980": {
            "crs": HK1980_GRID,
            "ref_lon_deg": fit.ref_lon_deg,
            "ref_lat_deg": fit.ref_lat_deg,
            "easting_terms": list(fit.easting_terms),
            "northing_terms": list(fit.northing_terms),
            "half_size_deg": fit.half_size_deg,
            "max_error_m": fit.max_error_m,
        },
        "mpd": {
            "offset_m": offset_m,
            "label": label,
            "method": str(mpd.method),
            # The label's parts, for a page that says it in another language.
            "benchmark": mpd.benchmark or None,
            "grid": mpd.grid_path.name if mpd.grid_path else None,
        },
    }
