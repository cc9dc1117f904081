"""The incident API on a real app and SQLite file: roles, lifecycle, audit, replay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from airspace.site import Site
from telemetry.incidents.model import VolumeSnapshot
from telemetry.incidents.repository import IncidentRepository
from telemetry.live.hub import Audience
from telemetry.recording.track_store import TrackStore
from tests.integration.api_world import SITE, World, api_world, drone_body, slot
from tests.integration.incident_scenario import (
    StoredIncident,
    store_booking_track,
    store_drifting_incident,
)
from web.app import API_PREFIX
from web.routes import audit, incident_replays, incidents
from web.settings import Settings

API = "/api/v1"
STAFF = ("safety_officer", "site_admin")
ORG = ("operator", "pilot")


def ensure_routes(app: FastAPI) -> None:
    """Include the incident and audit routers unless the app already does."""
    paths = {getattr(route, "path", "") for route in app.routes}
    for module in (incidents, incident_replays, audit):
        if not any(getattr(r, "path", "") in paths for r in module.router.routes):
            app.include_router(module.router, prefix=API_PREFIX)


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with api_world(settings) as w:
        ensure_routes(w.app)
        yield w


def incidents_of(world: World) -> IncidentRepository:
    incidents = world.app.state.telemetry.incidents
    assert isinstance(incidents, IncidentRepository)
    return incidents


def tracks_of(world: World) -> TrackStore:
    tracks = world.app.state.telemetry.tracks
    assert isinstance(tracks, TrackStore)
    return tracks


def site_of(world: World) -> Site:
    site: Site = world.app.state.sites[SITE]
    return site


def incident(world: World, **kwargs: Any) -> StoredIncident:
    return store_drifting_incident(incidents_of(world), site_of(world), **kwargs)


def act(world: World, who: str | None, iid: int, action: str, **body: Any) -> Any:
    return world.post(who, f"{API}/incidents/{iid}/{action}", json=body)


def walk_to_investigating(world: World, iid: int) -> None:
    assert act(world, "safety_officer", iid, "acknowledge").status_code == 200
    assert act(world, "safety_officer", iid, "investigate").status_code == 200


class TestRoles:
    @pytest.mark.parametrize("who", ORG)
    def test_operators_and_pilots_read_but_may_not_change(
        self, world: World, who: str
    ) -> None:
        iid = incident(world).incident_id
        assert world.get(who, f"{API}/incidents/{iid}").status_code == 200
        for action, body in [
            ("acknowledge", {}),
            ("assign", {"assignee_id": "safety_officer"}),
            ("note", {"text": "mine"}),
            ("investigate", {}),
            ("close", {"summary": "done"}),
            ("reopen", {"reason": "again"}),
            ("severity", {"severity": "info", "reason": "small"}),
            ("root-cause", {"root_cause": "weather"}),
        ]:
            response = act(world, who, iid, action, **body)
            assert response.status_code == 403, (action, response.text)
            assert response.json()["rule"] == "permission"
        detail = world.get("safety_officer", f"{API}/incidents/{iid}").json()
        assert detail["version"] == 1
        assert [e["kind"] for e in detail["events"]] == ["opened"]

    def test_another_organisations_incident_is_not_found(self, world: World) -> None:
        iid = incident(world).incident_id
        missing = world.get("rival", f"{API}/incidents/999999")
        assert missing.status_code == 404
        for url in ("", "/evidence", "/track", "/export?format=csv"):
            other = world.get("rival", f"{API}/incidents/{iid}{url}")
            assert other.status_code == 404, url
            assert other.json()["message"] == f"incident {iid} not found"
        assert act(world, "rival", iid, "acknowledge").status_code == 404

    def test_anonymous_callers_are_refused(self, world: World) -> None:
        iid = incident(world).incident_id
        assert world.get(None, f"{API}/incidents").status_code == 401
        assert act(world, None, iid, "acknowledge").status_code == 401

    @pytest.mark.parametrize("who", STAFF)
    def test_staff_change_any_incident(self, world: World, who: str) -> None:
        iid = incident(world, operator_id=None, drone_id=None).incident_id
        response = act(world, who, iid, "acknowledge", note="seen")
        assert response.status_code == 200, response.text
        assert response.json()["incident"]["state"] == "acknowledged"
        assert response.json()["event"]["actor_id"] == who

    def test_listing_follows_the_organisation(self, world: World) -> None:
        ours = incident(world).incident_id
        theirs = incident(world, operator_id="rival", drone_id="r1").incident_id
        unknown = incident(world, operator_id=None, drone_id=None).incident_id

        def ids(who: str, query: str = "") -> set[int]:
            response = world.get(who, f"{API}/incidents{query}")
            assert response.status_code == 200, response.text
            return {i["id"] for i in response.json()}

        assert ids("operator") == {ours}
        assert ids("pilot") == {ours}
        assert ids("rival") == {theirs}
        assert ids("operator", "?operator=rival") == set()
        assert ids("safety_officer") == {ours, theirs, unknown}
        assert ids("site_admin", "?operator=rival") == {theirs}
        assert ids("site_admin", "?drone=r1") == {theirs}
        assert ids("site_admin", "?kind=corridor_exit_lateral&state=open") == {
            ours,
            theirs,
            unknown,
        }
        assert ids("site_admin", "?state=closed") == set()
        assert ids("site_admin", f"?site={SITE}&booking=999") == set()
        assert ids("site_admin", "?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00Z") == {
            ours,
            theirs,
            unknown,
        }
        assert ids("site_admin", "?from=2100-01-01T00:00:00Z") == set()
        assert ids("site_admin", "?to=2000-01-01T00:00:00Z") == set()
        naive = world.get("site_admin", f"{API}/incidents?from=2000-01-01T00:00:00")
        assert naive.status_code == 422
        bad_kind = world.get("site_admin", f"{API}/incidents?kind=crash")
        assert bad_kind.status_code == 422


class TestLifecycle:
    def test_from_open_to_closed_and_reopened_with_timeline_and_audit(
        self, world: World
    ) -> None:
        iid = incident(world).incident_id
        steps: list[tuple[str, str, dict[str, Any], str]] = [
            ("safety_officer", "acknowledge", {"note": "on it"}, "acknowledged"),
            ("site_admin", "assign", {"assignee_id": "safety_officer"}, "acknowledged"),
            ("safety_officer", "note", {"text": "gusts of 12 m/s"}, "acknowledged"),
            ("safety_officer", "investigate", {}, "investigating"),
            (
                "safety_officer",
                "severity",
                {"severity": "warning", "reason": "0.5 m only"},
                "investigating",
            ),
            (
                "safety_officer",
                "root-cause",
                {"root_cause": "weather"},
                "investigating",
            ),
            (
                "safety_officer",
                "close",
                {"summary": "Gust pushed it out; pilot recovered in 4 s."},
                "closed",
            ),
            ("site_admin", "reopen", {"reason": "video shows more"}, "reopened"),
            ("safety_officer", "acknowledge", {}, "acknowledged"),
        ]
        for version, (who, action, body, state) in enumerate(steps, start=1):
            response = act(world, who, iid, action, version=version, **body)
            assert response.status_code == 200, (action, response.text)
            changed = response.json()["incident"]
            assert changed["state"] == state
            assert changed["version"] == version + 1
        detail = world.get("operator", f"{API}/incidents/{iid}").json()
        assert detail["assignee_id"] == "safety_officer"
        assert detail["severity"] == "warning"
        assert detail["root_cause"] == "weather"
        assert detail["closing_summary"].startswith("Gust pushed it out")
        assert detail["closed_at"] is None  # reopened
        kinds = [e["kind"] for e in detail["events"]]
        assert kinds == [
            "opened",
            "state_changed",
            "assigned",
            "note",
            "state_changed",
            "severity_changed",
            "root_cause_set",
            "state_changed",
            "state_changed",
            "state_changed",
        ]
        assert detail["events"][3]["details"] == {"note": "gusts of 12 m/s"}
        assert detail["events"][3]["actor_id"] == "safety_officer"

        trail = world.get("site_admin", f"{API}/audit?subject=incident:{iid}")
        assert trail.status_code == 200, trail.text
        actions = [(r["action"], r["actor_id"]) for r in reversed(trail.json())]
        # The system audits the opening first; its evidence digest lands whenever
        # the recorder stores the evidence, so it is checked apart from the order.
        assert actions[0] == ("incident.opened", "skyberth")
        assert ("incident.evidence", "skyberth") in actions
        actions = [a for a in actions if a[1] != "skyberth"]
        assert actions == [
            ("incident.acknowledged", "safety_officer"),
            ("incident.assigned", "site_admin"),
            ("incident.noted", "safety_officer"),
            ("incident.investigating", "safety_officer"),
            ("incident.severity_changed", "safety_officer"),
            ("incident.root_cause_set", "safety_officer"),
            ("incident.closed", "safety_officer"),
            ("incident.reopened", "site_admin"),
            ("incident.acknowledged", "safety_officer"),
        ]
        verify = world.get("safety_officer", f"{API}/audit/verify").json()
        assert verify["intact"] is True
        assert verify["records"] >= len(steps)

    def test_refusals_name_the_rule(self, world: World) -> None:
        iid = incident(world).incident_id
        early = act(world, "safety_officer", iid, "close", summary="too early")
        assert early.status_code == 409
        assert (early.json()["rule"], early.json()["from_state"]) == (
            "transition",
            "open",
        )
        walk_to_investigating(world, iid)
        no_summary = act(world, "safety_officer", iid, "close", summary="   ")
        assert no_summary.status_code == 422
        assert no_summary.json()["field"] == "summary"
        assert "closing summary" in no_summary.json()["message"]
        missing_body = world.post("safety_officer", f"{API}/incidents/{iid}/close")
        assert missing_body.status_code == 422
        for who, reason in (("pilot", "a pilot is not staff"), ("ghost", "no such")):
            bad = act(world, "site_admin", iid, "assign", assignee_id=who)
            assert bad.status_code == 422, bad.text
            assert bad.json()["field"] == "assignee_id"
            assert reason in bad.json()["message"]
        bad_cause = act(world, "safety_officer", iid, "root-cause", root_cause="luck")
        assert bad_cause.status_code == 422
        unknown_field = act(world, "safety_officer", iid, "note", txt="typo")
        assert unknown_field.status_code == 422
        detail = world.get("safety_officer", f"{API}/incidents/{iid}").json()
        assert (detail["state"], detail["version"]) == ("investigating", 3)

    def test_a_stale_version_is_refused_not_overwritten(self, world: World) -> None:
        iid = incident(world).incident_id
        first = act(world, "safety_officer", iid, "note", text="mine", version=1)
        assert first.status_code == 200
        second = act(world, "site_admin", iid, "acknowledge", version=1)
        assert second.status_code == 409
        body = second.json()
        assert (body["rule"], body["expected_version"], body["version"]) == (
            "concurrent_write",
            1,
            2,
        )
        assert world.get("site_admin", f"{API}/incidents/{iid}").json()["state"] == (
            "open"
        )

    def test_a_change_is_published_to_staff_and_the_organisation(
        self, world: World
    ) -> None:
        hub = world.app.state.telemetry.hub
        staff = hub.connect(Audience(sees_all=True))
        acme = hub.connect(Audience(sees_all=False, operator_id="acme"))
        rival = hub.connect(Audience(sees_all=False, operator_id="rival"))
        try:
            iid = incident(world).incident_id
            assert act(world, "safety_officer", iid, "acknowledge").status_code == 200
            for subscriber in (staff, acme):
                frame = json.loads(subscriber.next_frame_nowait())
                assert frame["type"] == "incident"
                assert frame["change"] == "state_changed"
                assert frame["incident"]["id"] == iid
                assert frame["incident"]["state"] == "acknowledged"
                assert frame["event"]["actor_id"] == "safety_officer"
            assert rival.pending() == 0
        finally:
            for subscriber in (staff, acme, rival):
                hub.disconnect(subscriber)


class TestEvidenceAndReplay:
    def test_evidence_is_frozen_at_the_time(self, world: World) -> None:
        outline = {
            "type": "Polygon",
            "coordinates": [
                [[114.1, 22.2], [114.2, 22.2], [114.2, 22.3], [114.1, 22.2]]
            ],
        }
        then = VolumeSnapshot(outline, 3.0, 45.0, "corridor:C1")
        stored = incident(world, volume=then)
        response = world.get("pilot", f"{API}/incidents/{stored.incident_id}/evidence")
        assert response.status_code == 200, response.text
        evidence = response.json()
        assert evidence["volume"] == then.as_dict()
        assert evidence["volume"]["ceiling_amsl_m"] != (
            site_of(world).corridor("C1").volume.ceiling_amsl_m
        )
        assert len(evidence["before"]) + len(evidence["after"]) == len(stored.samples)
        assert evidence["covered_s"] == {"before": 30.0, "after": 30.0}
        assert evidence["frames"]["count"] == len(stored.frames)
        assert evidence["frames"]["bytes"] == sum(len(f) for _, f in stored.frames)
        assert evidence["rule"]["near_edge_m"] == 5.0
        assert evidence["link"]["msgs_per_s"] == 15.1
        assert {s["state"] for s in evidence["after"]} == {"outside_lateral"}

    def test_incident_track_is_time_ordered_with_states_and_events(
        self, world: World
    ) -> None:
        stored = incident(world)
        iid = stored.incident_id
        act(world, "safety_officer", iid, "acknowledge", note="watching")
        track = world.get("operator", f"{API}/incidents/{iid}/track").json()
        times = [s["t_s"] for s in track["samples"]]
        assert times == sorted(times)
        assert len(times) == len(stored.samples)
        assert [s["state"] for s in track["samples"]] == [
            s.state for s in stored.samples
        ]
        assert [e["kind"] for e in track["events"]] == ["opened", "state_changed"]
        assert track["volume"]["source"] == "corridor:C1"
        assert track["start_utc"] < track["end_utc"]

    def test_booking_track_carries_its_incidents_events(self, world: World) -> None:
        assert (
            world.post("operator", f"{API}/drones", json=drone_body("d1", 7))
        ).status_code == 201
        booked = world.post(
            "operator",
            f"{API}/bookings",
            json={
                "site_id": SITE,
                "drone_id": "d1",
                "corridor_id": "C1",
                **slot(1, 10),
            },
        )
        assert booked.status_code == 201, booked.text
        bid = booked.json()["id"]
        track = store_booking_track(tracks_of(world), site_of(world), bid)
        iid = incident(world, booking_id=bid).incident_id
        response = world.get("pilot", f"{API}/bookings/{bid}/track")
        assert response.status_code == 200, response.text
        replay = response.json()
        assert [s["t_s"] for s in replay["samples"]] == [s.t_s for s in track]
        assert replay["incident_ids"] == [iid]
        assert {e["incident_id"] for e in replay["events"]} == {iid}
        assert replay["volume"]["floor_amsl_m"] < replay["volume"]["ceiling_amsl_m"]
        assert world.get("rival", f"{API}/bookings/{bid}/track").status_code == 404


class TestAuditApi:
    def test_staff_only_with_filters(self, world: World) -> None:
        assert world.post("operator", f"{API}/drones", json=drone_body("d1", 7))
        booked = world.post(
            "operator",
            f"{API}/bookings",
            json={
                "site_id": SITE,
                "drone_id": "d1",
                **slot(1, 11),
                "corridor_id": "C1",
            },
        )
        bid = booked.json()["id"]
        approve = world.post("site_admin", f"{API}/bookings/{bid}/approve")
        assert approve.status_code == 200
        iid = incident(world).incident_id
        act(world, "safety_officer", iid, "note", text="checked")
        for who in ORG:
            assert world.get(who, f"{API}/audit").status_code == 403

        def actions(query: str) -> list[str]:
            response = world.get("safety_officer", f"{API}/audit{query}")
            assert response.status_code == 200, response.text
            return [r["action"] for r in response.json()]

        assert actions(f"?subject=booking:{bid}") == [
            "booking.approved",
            "booking.requested",
        ]
        assert actions("?action=booking.") == ["booking.approved", "booking.requested"]
        assert actions("?action=incident.noted") == ["incident.noted"]
        assert actions("?actor=site_admin") == ["booking.approved"]
        by_staff = {"incident.opened", "incident.evidence"}.isdisjoint
        on_incidents = actions("?subject=incident")
        assert [a for a in on_incidents if by_staff({a})] == ["incident.noted"]
        assert "incident.opened" in on_incidents  # the system audits the opening
        assert actions("?from=2100-01-01T00:00:00Z") == []
        assert world.get("site_admin", f"{API}/audit?subject=::").status_code == 422
        record = world.get("site_admin", f"{API}/audit?limit=1").json()[0]
        assert len(record["hash"]) == 64
        assert record["after"]["version"] == "2"


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("incident-fuzz")
    with api_world(
        Settings(env="test", data_dir=data_dir, http_port=0, mavlink=[])
    ) as w:
        ensure_routes(w.app)
        incident(w)
        yield w


junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
plausible = st.sampled_from(
    [
        "safety_officer",
        "pilot",
        "ghost",
        "",
        "weather",
        "info",
        "breach",
        " ",
        "x" * 300,
    ]
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        name: plausible | st.integers(-2, 40) | junk
        for name in (
            "note",
            "text",
            "reason",
            "summary",
            "assignee_id",
            "severity",
            "root_cause",
            "version",
        )
    },
)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(
        [
            "acknowledge",
            "investigate",
            "assign",
            "note",
            "severity",
            "root-cause",
            "close",
            "reopen",
        ]
    ),
    st.sampled_from([1, 2, 999_999, -1]),
    bodies | junk,
    st.sampled_from(["safety_officer", "site_admin", "operator", "rival"]),
)
def test_incident_changes_never_fail_with_500(
    fuzz_world: World, action: str, iid: int, body: Any, who: str
) -> None:
    response = fuzz_world.post(who, f"{API}/incidents/{iid}/{action}", json=body)
    assert response.status_code < 500, response.text
    response.json()
