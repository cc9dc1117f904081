"""An incident's draft carries its corridor as it was, projected once per site."""

from __future__ import annotations

import dataclasses

from airspace.site_files import demo_site_path, load_site
from telemetry.incidents.model import VolumeSnapshot
from telemetry.live.incident_draft import draft_incident
from telemetry.live.vehicles import VehicleState

T0 = 1_800_000_000.0


def vehicle(corridor_id: str | None) -> VehicleState:
    v = VehicleState("udpin:0.0.0.0:14550", 7, T0)
    v.site_id, v.corridor_id = "demo", corridor_id
    return v


def test_the_drafts_corridor_is_the_corridor_in_lon_lat() -> None:
    site = load_site(demo_site_path())
    corridor = site.corridors[0]
    new = draft_incident(vehicle(corridor.id), "link_lost", T0, "lost", site, None)
    expected = VolumeSnapshot.of(
        corridor.volume, site.projection, f"corridor:{corridor.id}"
    )
    assert new.volume == expected


def test_a_corridor_is_projected_once_per_loaded_site() -> None:
    site = load_site(demo_site_path())
    corridor_id = site.corridors[0].id
    drafts = [
        draft_incident(vehicle(corridor_id), "link_lost", T0 + i, "lost", site, None)
        for i in range(3)
    ]
    assert drafts[0].volume is drafts[1].volume is drafts[2].volume
    # A site loaded again (its file may have changed) is projected again.
    reloaded = dataclasses.replace(site)
    again = draft_incident(vehicle(corridor_id), "link_lost", T0, "x", reloaded, None)
    assert again.volume is not drafts[0].volume
    assert again.volume == drafts[0].volume


def test_an_unknown_corridor_leaves_the_volume_out() -> None:
    site = load_site(demo_site_path())
    new = draft_incident(vehicle("no-such"), "link_lost", T0, "lost", site, None)
    assert new.volume is None
