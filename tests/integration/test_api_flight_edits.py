"""The operator's split and merge of a booking's flights (issue 18 item 1) on a
real app and SQLite database (migrated to ``0008_flight_edits``): stored as
overrides with a reason, audited, applied to the flights the API answers (and
the campaign report), refused when they change nothing, filed by operators only."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.flight_script import T0, out_and_back, records, write_tlog
from tests.integration.api_world import SITE, World, api_world
from tests.integration.test_api_flights import booked
from tests.integration.test_api_incidents import site_of
from web.settings import Settings

API = "/api/v1"


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with api_world(settings) as w:
        yield w


def at(t_s: float) -> str:
    return datetime.fromtimestamp(T0 + t_s, UTC).isoformat()


def recorded(world: World, settings: Settings) -> int:
    """A booking with two recorded flights, 1.02-10.02 s and 101.02-110.02 s."""
    bid = booked(world)
    second = [dataclasses.replace(s, t_s=s.t_s + 100) for s in out_and_back()]
    write_tlog(
        settings.tlog_dir / SITE / f"booking-{bid}.tlog",
        records(site_of(world), out_and_back() + second),
    )
    return bid


def test_operator_merges_then_splits_and_everyone_sees_the_edited_flights(
    world: World, settings: Settings
) -> None:
    bid = recorded(world, settings)
    url = f"{API}/bookings/{bid}/flights"
    merge = {"kind": "merge", "at_utc": at(50), "reason": "one sortie, battery swap"}
    response = world.post("operator", f"{url}/edits", json=merge)
    assert response.status_code == 201, response.text
    assert response.json()["number"] == 1
    (merged,) = world.get("safety_officer", url).json()["flights"]
    assert merged["flight_time_s"] == pytest.approx(108.0)
    assert merged["touch_and_goes"] == 1
    split = {"kind": "split", "at_utc": at(5.5), "reason": "hover was a test point"}
    assert world.post("operator", f"{url}/edits", json=split).status_code == 201
    body = world.get("pilot", url).json()
    assert [f["flight_time_s"] for f in body["flights"]] == pytest.approx([3.0, 104.0])
    assert [(e["kind"], e["applied"]) for e in body["edits"]] == [
        ("merge", True),
        ("split", True),
    ]
    assert body["edits"][0]["reason"] == "one sortie, battery swap"
    audit = world.get(
        "safety_officer", f"{API}/audit?action=flight_edit.&subject=booking:{bid}"
    ).json()
    assert sorted(r["action"] for r in audit) == [
        "flight_edit.merge",
        "flight_edit.split",
    ]


def test_campaign_report_counts_the_edited_flights(
    world: World, settings: Settings
) -> None:
    bid = recorded(world, settings)
    merge = {"kind": "merge", "at_utc": at(50), "reason": "one sortie"}
    assert (
        world.post("operator", f"{API}/bookings/{bid}/flights/edits", json=merge)
    ).status_code == 201
    # Wide enough for both the booking's window and the scripted take-offs.
    period = {"from": "2020-01-01T00:00:00Z", "to": "2040-01-01T00:00:00Z"}
    report = world.get("operator", f"{API}/reports/campaign", params=period)
    assert report.status_code == 200, report.text
    assert report.json()["flights"] == 1


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"kind": "split", "at_utc": at(50), "reason": "x"}, "nothing flies then"),
        ({"kind": "merge", "at_utc": at(105), "reason": "x"}, "no next flight"),
        ({"kind": "split", "at_utc": at(5), "reason": "  "}, "no reason"),
        ({"kind": "cut", "at_utc": at(5), "reason": "x"}, "unknown kind"),
        ({"kind": "split", "at_utc": "2026-01-01T00:00", "reason": "x"}, "no offset"),
    ],
)
def test_refuses_an_edit_that_changes_nothing_or_lacks_a_reason(
    world: World, settings: Settings, body: dict[str, str], why: str
) -> None:
    bid = recorded(world, settings)
    response = world.post("operator", f"{API}/bookings/{bid}/flights/edits", json=body)
    assert response.status_code == 422, why
    assert response.json()["rule"] == "flight_edit"


@pytest.mark.parametrize(
    ("who", "status"),
    [("pilot", 403), ("safety_officer", 403), ("rival", 404), (None, 401)],
)
def test_only_the_bookings_operators_edit_its_flights(
    world: World, settings: Settings, who: str | None, status: int
) -> None:
    bid = recorded(world, settings)
    split = {"kind": "split", "at_utc": at(5.5), "reason": "x"}
    response = world.post(who, f"{API}/bookings/{bid}/flights/edits", json=split)
    assert response.status_code == status
