"""Copies of a site, moved east side by side, for fleets spread over many sites.

A MAVLink system id is 8 bits and unique per site, so thousands of drones need
several sites; copies of the demo site ``SITE_SPACING_DEG`` apart keep each drone
nearest its own copy.
"""

from __future__ import annotations

from typing import Any

from shapely import affinity

from airspace.site import Site
from airspace.site_features import site_to_features
from airspace.site_parse import parse_site

SITE_SPACING_DEG = 0.02
"""Longitude between site copies (~2 km at 22 N): each drone is nearest its own."""


def site_copy(base: Site, k: int, corridor_capacity: int) -> list[dict[str, Any]]:
    """Features of site copy ``k``: ``base`` moved ``k`` spacings east, id
    ``{base.id}-{k}``, every corridor's capacity set to ``corridor_capacity``."""
    features = site_to_features(base)
    out: list[dict[str, Any]] = []
    for feature in features:
        props = dict(feature["properties"])
        if props.get("kind") == "site":
            props.update(id=f"{base.id}-{k}", name=f"{base.name} (bench copy {k})")
        elif props.get("kind") == "corridor":
            props["capacity"] = corridor_capacity
        geometry = affinity.translate(feature["geometry"], xoff=k * SITE_SPACING_DEG)
        out.append({"geometry": geometry, "properties": props})
    parse_site(out)  # fail here, with the reasons, rather than in the server
    return out


def site_id(base: Site, k: int) -> str:
    """Return the id of ``base``'s copy ``k``."""
    return f"{base.id}-{k}"
