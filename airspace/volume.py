"""3-D volumes (outline + altitude band) and their overlap in space and time.

A ``Volume`` is what a corridor, a geofence or a closure area occupies: a polygon in
the site's metric CRS and an altitude band normalised to metres above mean sea level
(AMSL). ``Volume4D`` adds a half-open UTC time window, the shape ASTM F3548 uses for
operational intents. Overlap is exact in metres: two volumes that merely touch along
an edge, or whose bands meet at one altitude, do not overlap.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

import shapely
from shapely.geometry import Polygon

# ASTM F3548 asks for 1 cm intersection precision; an overlap thinner than a square
# centimetre is a shared edge in floating point, not shared airspace.
MIN_OVERLAP_AREA_M2 = 1e-4


class AltitudeRef(enum.StrEnum):
    """What an altitude is measured from."""

    AGL = "AGL"
    """Above the site's ground elevation."""
    AMSL = "AMSL"
    """Above mean sea level."""


@dataclass(frozen=True)
class AltitudeBand:
    """Floor and ceiling in metres, both relative to ``ref``."""

    floor_m: float
    ceiling_m: float
    ref: AltitudeRef = AltitudeRef.AGL

    def to_amsl(self, ground_elev_m: float) -> tuple[float, float]:
        """Return ``(floor, ceiling)`` in metres AMSL at ground ``ground_elev_m``."""
        offset = ground_elev_m if self.ref is AltitudeRef.AGL else 0.0
        return self.floor_m + offset, self.ceiling_m + offset


@dataclass(frozen=True)
class Volume:
    """A polygon in site metres with a band in metres AMSL.

    ``outline`` must be a valid polygon in the site's metric CRS; ``floor_amsl_m``
    below ``ceiling_amsl_m``. The outline is prepared on construction so repeated
    point tests are fast.
    """

    outline: Polygon
    floor_amsl_m: float
    ceiling_amsl_m: float

    def __post_init__(self) -> None:
        if not self.floor_amsl_m < self.ceiling_amsl_m:
            raise ValueError(
                f"floor {self.floor_amsl_m} m must be below ceiling "
                f"{self.ceiling_amsl_m} m"
            )
        shapely.prepare(self.outline)


@dataclass(frozen=True)
class TimeWindow:
    """A half-open UTC interval ``[start, end)``; both ends timezone-aware."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("time window ends must be timezone-aware (UTC)")
        if not self.start < self.end:
            raise ValueError(f"window start {self.start} must be before end {self.end}")

    def overlaps(self, other: TimeWindow) -> bool:
        """Return True when the two windows share any instant."""
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Volume4D:
    """A volume occupied over a time window."""

    volume: Volume
    window: TimeWindow


def bands_overlap(a: Volume, b: Volume) -> bool:
    """Return True when the altitude bands share more than one altitude."""
    return a.floor_amsl_m < b.ceiling_amsl_m and b.floor_amsl_m < a.ceiling_amsl_m


def outlines_overlap(a: Volume, b: Volume) -> bool:
    """Return True when the outlines share an area of at least 1 cm²."""
    if not shapely.intersects(a.outline, b.outline):
        return False
    area = shapely.area(shapely.intersection(a.outline, b.outline))
    return bool(area >= MIN_OVERLAP_AREA_M2)


def volumes_overlap(a: Volume, b: Volume) -> bool:
    """Return True when two volumes share airspace (area and altitude)."""
    return bands_overlap(a, b) and outlines_overlap(a, b)


def volumes4d_overlap(a: Volume4D, b: Volume4D) -> bool:
    """Return True when two 4-D volumes share airspace at the same time."""
    return a.window.overlaps(b.window) and volumes_overlap(a.volume, b.volume)
