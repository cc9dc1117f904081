"""The fence a booking's airspace becomes on the aircraft: few vertices, safe sides.

An autopilot stores a fence as a handful of items (ArduPilot: 84 items on a
Pixhawk's storage, the wiki says "polygon fences with up to 70 points"; PX4 notes a
64-vertex limit), while the engine's outline of a corridor and its transits has
round caps of 32 points each. ``plan_fence`` turns the booked outline into one
inclusion polygon plus an exclusion polygon per no-fly zone that touches it, all
inside ``MAX_FENCE_ITEMS`` items, with two guarantees (checked exactly, not hoped
for; ``tests/unit/test_fence_plan.py`` is the property test):

* the inclusion lies within the booked outline grown by ``tolerance_m`` and
  covers it shrunk by ``tolerance_m`` (the aircraft is neither let far out nor
  fenced out of its own airspace);
* each uploaded exclusion covers its no-fly zone (grown outward, never trimmed),
  so the fence never admits an exclusion zone.

Simplification is Douglas-Peucker (``shapely.simplify``, topology-preserving) at the
smallest tolerance that fits the budget, tried upwards to ``tolerance_m``;
exclusions are first grown by half the tolerance so their simplified ring still
contains them. The altitude limit rides along as heights above home (the pad's
ground): ArduPilot's ``FENCE_ALT_MAX``/``FENCE_ALT_MIN``, PX4's ``GF_MAX_VER_DIST``.
Pure geometry in site metres; ``fence_lonlat`` converts once at the edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from shapely.geometry import MultiPolygon, Polygon

from airspace.errors import FenceTooComplex
from airspace.site import Site
from airspace.volume import Volume

MAX_FENCE_ITEMS = 70
"""Vertices the whole fence may use: ArduPilot's documented 70 polygon points,
under its 84-item storage (the return point and headers take the rest)."""
TOLERANCE_M = 1.0
"""How far the uploaded fence may depart from the booked outline, either way."""
_STEPS = 24


@dataclass(frozen=True)
class FencePlan:
    """A fence in site metres: one inclusion polygon, exclusion polygons, altitudes.

    ``alt_max_m`` and ``alt_min_m`` are heights above the site's ground (home).
    """

    inclusion: Polygon
    exclusions: tuple[Polygon, ...]
    alt_max_m: float
    alt_min_m: float
    tolerance_m: float

    @property
    def vertex_count(self) -> int:
        """Vertices of every polygon (each one fence item)."""
        return sum(_vertices(p) for p in (self.inclusion, *self.exclusions))


@dataclass(frozen=True)
class FenceRing:
    """One fence polygon in lon/lat degrees, vertices unclosed (as MAVLink sends)."""

    inclusion: bool
    vertices_lonlat: tuple[tuple[float, float], ...]


def _vertices(p: Polygon) -> int:
    return len(p.exterior.coords) - 1


def _single(geom: shapely.Geometry) -> Polygon | None:
    if isinstance(geom, Polygon) and not geom.is_empty:
        return Polygon(geom.exterior)  # holes are uploaded as exclusions instead
    if isinstance(geom, MultiPolygon):
        return max(geom.geoms, key=lambda g: g.area)
    return None


def _fit_inclusion(
    outline: Polygon | MultiPolygon, budget: int, tolerance_m: float
) -> Polygon:
    outer = outline.buffer(tolerance_m)
    inner = outline.buffer(-tolerance_m)
    base = _single(outline)
    if base is None:
        raise FenceTooComplex("the booked outline is empty", "outline_empty", {})
    for step in range(_STEPS + 1):
        candidate = _single(shapely.simplify(base, tolerance_m * step / _STEPS))
        if candidate is None or _vertices(candidate) > budget:
            continue
        if candidate.within(outer) and candidate.covers(inner):
            return candidate
    raise FenceTooComplex(
        f"the booked outline needs more than {budget} vertices within {tolerance_m} m",
        "too_many_vertices",
        {"limit": budget, "tolerance_m": tolerance_m},
    )


def _fit_exclusion(zone: Polygon, tolerance_m: float) -> Polygon:
    grown = zone.buffer(tolerance_m / 2, join_style="mitre")
    best: Polygon | None = None
    for step in range(_STEPS, -1, -1):
        candidate = _single(shapely.simplify(grown, tolerance_m / 2 * step / _STEPS))
        if candidate is not None and candidate.covers(zone):
            best = candidate
            break
    return best if best is not None else Polygon(zone.exterior)


def plan_fence(
    site: Site,
    outline: Polygon | MultiPolygon,
    volumes: Sequence[Volume],
    exclusions: Sequence[Volume] | None = None,
    max_items: int = MAX_FENCE_ITEMS,
    tolerance_m: float = TOLERANCE_M,
) -> FencePlan:
    """Return the fence for a booking whose airspace is ``volumes`` (outline
    ``outline``, site metres), given the no-fly ``exclusions`` (default: the site's).

    Only exclusions whose outline meets the inclusion are kept. Raises
    ``FenceTooComplex`` when the fence cannot fit ``max_items`` vertices within
    ``tolerance_m``.
    """
    if exclusions is None:
        exclusions = [g.volume for g in site.exclusions]
    zones = [v.outline for v in exclusions]
    if isinstance(outline, Polygon):
        zones += [Polygon(hole) for hole in outline.interiors]
    near = [z for z in zones if z.intersects(outline.buffer(tolerance_m))]
    fitted = tuple(_fit_exclusion(z, tolerance_m) for z in near)
    budget = max_items - sum(_vertices(z) for z in fitted)
    if budget < 3:
        raise FenceTooComplex(
            f"the exclusion zones alone need {max_items - budget} of {max_items} "
            "fence vertices",
            "exclusions_too_many",
            {"needed": max_items - budget, "limit": max_items},
        )
    inclusion = _fit_inclusion(outline, budget, tolerance_m)
    ground = site.ground_elev_m
    return FencePlan(
        inclusion=inclusion,
        exclusions=fitted,
        alt_max_m=max(v.ceiling_amsl_m for v in volumes) - ground,
        alt_min_m=min(v.floor_amsl_m for v in volumes) - ground,
        tolerance_m=tolerance_m,
    )


def fence_lonlat(site: Site, plan: FencePlan) -> tuple[FenceRing, ...]:
    """Return the plan's polygons in lon/lat, inclusion first, clockwise (as QGC
    writes them), vertices unclosed."""
    rings = []
    for inclusion, polygon in [(True, plan.inclusion)] + [
        (False, z) for z in plan.exclusions
    ]:
        ll = site.projection.geometry_to_lonlat(
            shapely.orient_polygons(polygon, exterior_cw=True)
        )
        coords = tuple((float(x), float(y)) for x, y in ll.exterior.coords[:-1])
        rings.append(FenceRing(inclusion, coords))
    return tuple(rings)
