"""The site model: pads, corridors and geofences of one drone test site.

Geometry comes in as WGS84 lon/lat (what files and people use) and is kept twice: as
given (``*_lonlat``, for export and maps) and in the site's metric CRS (for every
computation). Build a ``Site`` with ``airspace.site_parse.parse_site``, which validates
every feature; the constructors here trust their arguments.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NewType

from shapely.geometry import LineString, Point, Polygon

from airspace.projection import SiteProjection
from airspace.volume import AltitudeBand, Volume

SiteId = NewType("SiteId", str)
PadId = NewType("PadId", str)
CorridorId = NewType("CorridorId", str)
GeofenceId = NewType("GeofenceId", str)

DEFAULT_MAX_ALT_AGL_M = 90.0
"""Hong Kong's 300 ft rule for small drones; a site setting, not a constant."""


class Terrain(enum.StrEnum):
    """What lies under a corridor, for test-condition records (signal quality over
    water and among tall buildings is what trials test)."""

    WATER = "water"
    OPEN = "open"
    DENSE_URBAN = "dense_urban"


class GeofenceKind(enum.StrEnum):
    """What a geofence does."""

    EXCLUSION = "exclusion"
    """No-fly zone: a drone inside it (and inside its band, if any) is in breach."""
    BOUNDARY = "boundary"
    """The site's inclusion boundary: a drone outside it is in breach."""


@dataclass(frozen=True)
class Pad:
    """A take-off/landing pad on the pier."""

    id: PadId
    name: str
    geometry_lonlat: Point | Polygon
    geometry_m: Point | Polygon
    charger: bool
    max_takeoff_mass_kg: float
    turnaround_min: float
    """Padding before and after each booking, for clearing and charging."""


@dataclass(frozen=True)
class Corridor:
    """An airspace corridor: an outline (polygon, or centre line + half-width) and band.

    ``volume`` is the corridor in site metres with its band in metres AMSL; the
    conformance engine and every overlap check use it.
    """

    id: CorridorId
    name: str
    geometry_lonlat: Polygon | LineString
    half_width_m: float | None
    """Set for centre-line corridors: the outline is the line buffered by this."""
    band: AltitudeBand
    capacity: int
    """How many drones may fly in it at once."""
    over_water: bool
    over_water_segments: tuple[int, ...]
    """For centre-line corridors partly over water: indexes of the line's segments
    (0 = first vertex to second) that are over water. Empty when ``over_water`` says
    it all."""
    volume: Volume
    terrain: Terrain | None = None
    """The corridor's terrain class when the site file gives one (optional)."""


@dataclass(frozen=True)
class Geofence:
    """An exclusion zone or the site boundary, with an optional altitude band."""

    id: GeofenceId
    name: str
    kind: GeofenceKind
    geometry_lonlat: Polygon
    band: AltitudeBand | None
    """None: from the ground up without limit."""
    volume: Volume


@dataclass(frozen=True)
class Site:
    """One test site: reference point, metric CRS, pads, corridors and geofences."""

    id: SiteId
    name: str
    ref_lon_deg: float
    ref_lat_deg: float
    ground_elev_m: float
    """Ground elevation in metres AMSL; AGL bands are measured from it."""
    crs: str
    """Metric CRS as configured (``EPSG:2326`` or ``auto`` for the UTM zone)."""
    metric_crs: str
    """The resolved authority string of the metric CRS."""
    max_alt_agl_m: float
    timezone: str
    description: str
    pads: tuple[Pad, ...]
    corridors: tuple[Corridor, ...]
    geofences: tuple[Geofence, ...]
    projection: SiteProjection = field(repr=False, compare=False)
    require_signing: bool = False
    """Every MAVLink frame on the site's links must be signed with a registered key
    (README, "MAVLink trust model"), and only drones with a key may be booked."""
    preflight_checklist: tuple[str, ...] | None = None
    """The items (ids like ``fence_verified``) every pre-flight form on this site
    must tick; None: the booking domain's default list."""
    require_verified_fence: bool = False
    """A booking whose fence on its aircraft is ``mismatch`` or ``refused`` may not
    become active (rule ``fence_not_verified``; README, "Fences")."""

    def pad(self, pad_id: str) -> Pad:
        """Return the pad with ``pad_id``; KeyError names it when absent."""
        for pad in self.pads:
            if pad.id == pad_id:
                return pad
        raise KeyError(f"site {self.id} has no pad {pad_id!r}")

    def corridor(self, corridor_id: str) -> Corridor:
        """Return the corridor with ``corridor_id``; KeyError names it when absent."""
        for corridor in self.corridors:
            if corridor.id == corridor_id:
                return corridor
        raise KeyError(f"site {self.id} has no corridor {corridor_id!r}")

    @property
    def exclusions(self) -> tuple[Geofence, ...]:
        """The no-fly zones."""
        return tuple(g for g in self.geofences if g.kind is GeofenceKind.EXCLUSION)

    @property
    def boundary(self) -> Geofence | None:
        """The inclusion boundary, if the site has one."""
        for g in self.geofences:
            if g.kind is GeofenceKind.BOUNDARY:
                return g
        return None
