"""SkyBerth's airspace domain: sites, 3-D volumes, site files and conformance.

Pure geometry (Shapely 2, NumPy, pyproj): no database, no sockets, no clock reads.
Everything other packages may use is listed in ``__all__``.
"""

from airspace.booked_volume import booked_outline, booked_volumes, outline_lonlat
from airspace.conformance import (
    ConformanceEngine,
    ConformanceResult,
    ConformanceState,
    DroneBatch,
)
from airspace.errors import (
    AirspaceError,
    FeatureProblem,
    SiteFileError,
    SiteValidationError,
    UnknownCrsError,
)
from airspace.monitor import ConformanceEvent, EventKind, FleetMonitor, MonitorSettings
from airspace.projection import SiteProjection, resolve_crs
from airspace.site import (
    Corridor,
    CorridorId,
    Geofence,
    GeofenceId,
    GeofenceKind,
    Pad,
    PadId,
    Site,
    SiteId,
)
from airspace.site_features import site_to_feature_collection, site_to_features
from airspace.site_files import SiteFormat, demo_site_path, load_site, save_site
from airspace.site_parse import parse_site
from airspace.volume import (
    AltitudeBand,
    AltitudeRef,
    TimeWindow,
    Volume,
    Volume4D,
    volumes4d_overlap,
    volumes_overlap,
)

__all__ = [
    "AirspaceError",
    "AltitudeBand",
    "AltitudeRef",
    "ConformanceEngine",
    "ConformanceEvent",
    "ConformanceResult",
    "ConformanceState",
    "Corridor",
    "CorridorId",
    "DroneBatch",
    "EventKind",
    "FeatureProblem",
    "FleetMonitor",
    "Geofence",
    "GeofenceId",
    "GeofenceKind",
    "MonitorSettings",
    "Pad",
    "PadId",
    "Site",
    "SiteFileError",
    "SiteFormat",
    "SiteId",
    "SiteProjection",
    "SiteValidationError",
    "TimeWindow",
    "UnknownCrsError",
    "Volume",
    "Volume4D",
    "booked_outline",
    "booked_volumes",
    "demo_site_path",
    "load_site",
    "outline_lonlat",
    "parse_site",
    "resolve_crs",
    "save_site",
    "site_to_feature_collection",
    "site_to_features",
    "volumes4d_overlap",
    "volumes_overlap",
]
