"""Pre- and post-flight forms (issue 18 item 3) on a real app and SQLite database
(migrated to ``0007_flight_records``): validated with the rule named, stored as
versions, audited, and seen and filed by the right roles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airspace.site_files import demo_site_path
from booking.flight_forms import DEFAULT_CHECKLIST
from tests.integration.api_world import SITE, World, api_world, drone_body, slot
from web.settings import Settings

API = "/api/v1"


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with api_world(settings) as w:
        yield w


@pytest.fixture
def bid(world: World) -> int:
    return booked_on_p1(world)


def booked_on_p1(world: World) -> int:
    assert world.post("operator", f"{API}/drones", json=drone_body("d1", 11))
    response = world.post(
        "operator",
        f"{API}/bookings",
        json={
            "site_id": SITE,
            "drone_id": "d1",
            "corridor_id": "C1",
            "takeoff_pad_id": "P1",
            **slot(1, 10),
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def pre_flight(**changes: Any) -> dict[str, Any]:
    return {
        "takeoff_mass_kg": 3.2,
        "payload_kind": "water sampler",
        "payload_mass_kg": 0.6,
        "wind_speed_mps": 6.0,
        "wind_from_deg": 90.0,
        "visibility_m": 8000.0,
        "precipitation": "none",
        "temperature_c": 24.5,
        "sea_state": 2,
        "remote_pilot": "pilot",
        "observer": "Lee",
        "test_objective": "HDOP over the harbour",
        "checklist": dict.fromkeys(DEFAULT_CHECKLIST, True),
        **changes,
    }


def put(world: World, who: str, bid: int, kind: str, body: dict[str, Any]) -> Any:
    return world.client.put(
        f"{API}/bookings/{bid}/forms/{kind}", json=body, headers=world.headers(who)
    )


def test_pilot_files_both_forms_and_everyone_allowed_reads_them(
    world: World, bid: int
) -> None:
    first = put(world, "pilot", bid, "pre_flight", pre_flight())
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1
    again = put(world, "operator", bid, "pre_flight", pre_flight(takeoff_mass_kg=3.4))
    assert again.json()["version"] == 2
    post = put(
        world,
        "pilot",
        bid,
        "post_flight",
        {"result": "completed", "emergency_procedures": ["rtl", "lost_link"]},
    )
    assert post.status_code == 200, post.text
    for who in ("operator", "pilot", "safety_officer"):
        forms = world.get(who, f"{API}/bookings/{bid}/forms").json()
        assert forms["pre_flight"]["body"]["takeoff_mass_kg"] == 3.4
        assert forms["pre_flight"]["submitted_by"] == "operator"
        assert forms["post_flight"]["body"]["emergency_procedures"] == [
            "rtl",
            "lost_link",
        ]
    assert world.get("rival", f"{API}/bookings/{bid}/forms").status_code == 404
    audit = world.get(
        "safety_officer", f"{API}/audit?action=flight_form.&subject=booking:{bid}"
    ).json()
    assert sorted(r["action"] for r in audit) == [
        "flight_form.post_flight",
        "flight_form.pre_flight",
        "flight_form.pre_flight",
    ]


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"takeoff_mass_kg": 5.0}, "drone_mass"),  # the drone's maximum is 4.5 kg
        ({"takeoff_mass_kg": -1.0}, "form"),
        ({"payload_mass_kg": 4.0}, "form"),  # payload above the whole mass
        ({"wind_speed_mps": 80.0}, "form"),
        ({"sea_state": 12}, "form"),
        ({"precipitation": "hail"}, "form"),
        ({"remote_pilot": " "}, "form"),
        ({"checklist": {"fence_verified": True}}, "checklist"),
        ({"checklist": dict.fromkeys(DEFAULT_CHECKLIST, False)}, "checklist"),
    ],
)
def test_a_bad_pre_flight_form_is_refused_naming_the_rule(
    world: World, bid: int, changes: dict[str, Any], rule: str
) -> None:
    response = put(world, "pilot", bid, "pre_flight", pre_flight(**changes))
    assert response.status_code == 422, response.text
    assert response.json()["rule"] == rule
    assert (
        world.get("pilot", f"{API}/bookings/{bid}/forms").json()["pre_flight"] is None
    )


def test_only_the_organisation_files_forms(world: World, bid: int) -> None:
    assert (
        put(world, "safety_officer", bid, "pre_flight", pre_flight()).status_code == 403
    )
    assert put(world, "rival", bid, "pre_flight", pre_flight()).status_code == 404
    assert put(world, "pilot", bid, "preflight", pre_flight()).status_code == 422
    bad = put(world, "pilot", bid, "post_flight", {"result": "fine"})
    assert bad.json()["rule"] == "form"


SITE_CHECKLIST = ["fence_verified", "ditching_kit_aboard", "ais_picture_checked"]


@pytest.fixture
def own_checklist_world(settings: Settings, tmp_path: Path) -> Iterator[World]:
    """The demo site, its file given its own ``preflight_checklist``."""
    doc = json.loads(demo_site_path().read_text())
    for feature in doc["features"]:
        if feature["properties"].get("kind") == "site":
            feature["properties"]["preflight_checklist"] = SITE_CHECKLIST
    path = tmp_path / "own_checklist.geojson"
    path.write_text(json.dumps(doc))
    with api_world(settings.model_copy(update={"site_files": [path]})) as w:
        yield w


def test_the_sites_own_checklist_is_asked_for_and_required(
    own_checklist_world: World,
) -> None:
    world = own_checklist_world
    bid = booked_on_p1(world)
    forms = world.get("pilot", f"{API}/bookings/{bid}/forms").json()
    assert forms["checklist"] == SITE_CHECKLIST
    default_ticked = pre_flight()
    refused = put(world, "pilot", bid, "pre_flight", default_ticked)
    assert refused.status_code == 422
    assert refused.json()["rule"] == "checklist"
    ticked = pre_flight(checklist=dict.fromkeys(SITE_CHECKLIST, True))
    assert put(world, "pilot", bid, "pre_flight", ticked).status_code == 200


def test_a_site_without_its_own_checklist_asks_for_the_default(
    world: World, bid: int
) -> None:
    forms = world.get("pilot", f"{API}/bookings/{bid}/forms").json()
    assert forms["checklist"] == list(DEFAULT_CHECKLIST)
