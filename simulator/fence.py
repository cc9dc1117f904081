"""A geofence as a ground station uploads it (MAV_MISSION_TYPE_FENCE), and its check.

The items are kept exactly as received, so a download returns them unchanged; the
shapes are read from them the way ArduPilot reads them: runs of
``MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION`` / ``_EXCLUSION`` items whose
``param1`` is the vertex count of their polygon, circles with the radius in
``param1``, and an optional return point. The vehicle is in breach when it is outside
every inclusion shape (if there is any) or inside an exclusion shape; that is
reported in FENCE_STATUS as a boundary breach.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import shapely
from shapely.geometry import Point, Polygon

from airspace.projection import SiteProjection

CMD_RETURN_POINT = 5000
CMD_POLYGON_INCLUSION = 5001
CMD_POLYGON_EXCLUSION = 5002
CMD_CIRCLE_INCLUSION = 5003
CMD_CIRCLE_EXCLUSION = 5004
FENCE_COMMANDS = frozenset(
    {
        CMD_RETURN_POINT,
        CMD_POLYGON_INCLUSION,
        CMD_POLYGON_EXCLUSION,
        CMD_CIRCLE_INCLUSION,
        CMD_CIRCLE_EXCLUSION,
    }
)
MAX_FENCE_ITEMS = 500


@dataclass(frozen=True)
class FenceItem:
    """One fence item as uploaded (degrees, not 1e7 integers)."""

    seq: int
    command: int
    frame: int
    param1: float
    param2: float
    param3: float
    param4: float
    lat_deg: float
    lon_deg: float
    alt_m: float


@dataclass(frozen=True)
class Fence:
    """The shapes of an uploaded fence, in WGS84 lon/lat (radii in metres)."""

    items: tuple[FenceItem, ...]
    inclusion_polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    exclusion_polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    inclusion_circles: tuple[tuple[float, float, float], ...] = ()
    exclusion_circles: tuple[tuple[float, float, float], ...] = ()
    return_point: tuple[float, float, float] | None = None
    _metric: dict[str, list[Polygon]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def breached(self, projection: SiteProjection, x_m: float, y_m: float) -> bool:
        """Return True when site-metre point ``(x_m, y_m)`` breaches the fence."""
        if not self._metric:
            self._metric.update(self._project(projection))
        point = Point(x_m, y_m)
        inclusions = self._metric["inclusion"]
        if inclusions and not any(shapely.contains(p, point) for p in inclusions):
            return True
        return any(shapely.contains(p, point) for p in self._metric["exclusion"])

    def _project(self, projection: SiteProjection) -> dict[str, list[Polygon]]:
        def polygons(
            rings: tuple[tuple[tuple[float, float], ...], ...],
            circles: tuple[tuple[float, float, float], ...],
        ) -> list[Polygon]:
            shapes = [projection.geometry_to_metric(Polygon(r)) for r in rings]
            for lon, lat, radius in circles:
                x, y = projection.to_metric([lon], [lat])
                shapes.append(Point(float(x[0]), float(y[0])).buffer(radius))
            return shapes

        return {
            "inclusion": polygons(self.inclusion_polygons, self.inclusion_circles),
            "exclusion": polygons(self.exclusion_polygons, self.exclusion_circles),
        }


def fence_from_items(items: tuple[FenceItem, ...]) -> Fence:
    """Return the fence the items describe; ValueError says what is wrong."""
    inclusion: list[tuple[tuple[float, float], ...]] = []
    exclusion: list[tuple[tuple[float, float], ...]] = []
    inc_circles: list[tuple[float, float, float]] = []
    exc_circles: list[tuple[float, float, float]] = []
    return_point: tuple[float, float, float] | None = None
    i = 0
    while i < len(items):
        item = items[i]
        if item.command not in FENCE_COMMANDS:
            raise ValueError(
                f"item {item.seq}: command {item.command} is not a fence item"
            )
        if not (-90 <= item.lat_deg <= 90 and -180 <= item.lon_deg <= 180):
            raise ValueError(f"item {item.seq}: position is not lat/lon degrees")
        if item.command in (CMD_POLYGON_INCLUSION, CMD_POLYGON_EXCLUSION):
            count = int(item.param1)
            if count < 3 or count != item.param1:
                raise ValueError(
                    f"item {item.seq}: a polygon needs param1 = its vertex count >= 3"
                )
            run = items[i : i + count]
            if len(run) < count or any(v.command != item.command for v in run):
                raise ValueError(
                    f"item {item.seq}: polygon of {count} vertices is cut short"
                )
            ring = tuple((v.lon_deg, v.lat_deg) for v in run)
            if not Polygon(ring).is_valid:
                raise ValueError(f"item {item.seq}: polygon is not valid")
            (inclusion if item.command == CMD_POLYGON_INCLUSION else exclusion).append(
                ring
            )
            i += count
            continue
        if item.command in (CMD_CIRCLE_INCLUSION, CMD_CIRCLE_EXCLUSION):
            if not item.param1 > 0:
                raise ValueError(f"item {item.seq}: circle radius (param1) must be > 0")
            circle = (item.lon_deg, item.lat_deg, item.param1)
            (
                inc_circles if item.command == CMD_CIRCLE_INCLUSION else exc_circles
            ).append(circle)
        else:
            return_point = (item.lon_deg, item.lat_deg, item.alt_m)
        i += 1
    return Fence(
        items=items,
        inclusion_polygons=tuple(inclusion),
        exclusion_polygons=tuple(exclusion),
        inclusion_circles=tuple(inc_circles),
        exclusion_circles=tuple(exc_circles),
        return_point=return_point,
    )
