"""Safety commands over real UDP: a real ``skyberth serve`` commands the real
simulator's drone (a subprocess) RTL, LAND or LOITER and reports its answer:
accepted while flying, denied on the ground, no answer from a mute autopilot;
the command and the answer land in the incident's timeline and the audit trail;
operators and pilots may not command (403)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlmodel import Session

from airspace import demo_site_path, load_site
from telemetry.incidents.repository import IncidentRepository
from tests.integration.incident_scenario import store_drifting_incident
from tests.integration.live_server import LiveServer, live_server
from tests.integration.sim_world import register_and_book
from tests.integration.test_fence_upload import _simulator
from web.db import make_engine, write_session

pytestmark = pytest.mark.slow

COMMAND_TIMEOUT_S = 30.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path) as s:
        yield s


def _key(server: LiveServer, sysid: int) -> str:
    return f"udpin:127.0.0.1:{server.mavlink_port}/{sysid}"


def _command(server: LiveServer, who: str, key: str, **body: Any) -> httpx2.Response:
    return httpx2.post(
        f"{server.base_url}/api/v1/vehicles/{key}/command",
        headers=server.headers(who),
        json=body,
        timeout=COMMAND_TIMEOUT_S,
    )


def _when_heard(server: LiveServer, who: str, key: str, **body: Any) -> Any:
    deadline = time.monotonic() + 20
    while True:
        answer = _command(server, who, key, **body)
        if answer.status_code != 404:
            return answer
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.5)


def _airborne(server: LiveServer, key: str) -> None:
    """Wait until the vehicle flies: LOITER is accepted only in the air (the
    simulator answers MAV_RESULT_FAILED on the ground, as ArduCopter does)."""
    deadline = time.monotonic() + 60
    while True:
        answer = _when_heard(
            server, "safety_officer", key, command="LOITER", reason="wait for air"
        )
        assert answer.status_code == 200, answer.text
        if answer.json()["accepted"]:
            return
        assert time.monotonic() < deadline, "the drone never took off"
        time.sleep(1.0)


def test_rtl_is_accepted_in_flight_and_recorded_on_the_incident(
    server: LiveServer, tmp_path: Path
) -> None:
    booking_id = register_and_book(server, "c-1", 51, corridor="C1", pad="P4")
    engine = make_engine(f"sqlite:///{tmp_path / 'skyberth.sqlite3'}")
    repository = IncidentRepository(
        lambda: write_session(engine), lambda: Session(engine)
    )
    stored = store_drifting_incident(
        repository, load_site(demo_site_path()), drone_id="c-1", booking_id=booking_id
    )
    engine.dispose()
    key = _key(server, 51)
    with _simulator(server, tmp_path):
        for who in ("operator", "pilot"):
            denied = _when_heard(server, who, key, command="RTL", reason="drifting")
            assert denied.status_code == 403, denied.text
        _airborne(server, key)
        answer = _when_heard(
            server,
            "safety_officer",
            key,
            command="RTL",
            reason="drifting out of C1",
            incident_id=stored.incident_id,
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["answer"], body["accepted"], body["authenticated"]) == (
        "accepted",
        True,
        False,
    )
    detail = server.get("safety_officer", f"/api/v1/incidents/{stored.incident_id}")
    events = [e for e in detail.json()["events"] if e["kind"] == "vehicle_command"]
    assert len(events) == 1
    assert events[0]["details"]["command"] == "RTL"
    assert events[0]["details"]["answer"] == "accepted"
    audit = server.get("site_admin", "/api/v1/audit").json()
    actions = [r["action"] for r in audit]
    assert "incident.vehicle_commanded" in actions


def test_on_the_ground_land_is_denied_and_goes_in_the_audit_trail(
    server: LiveServer, tmp_path: Path
) -> None:
    register_and_book(server, "c-2", 52, corridor="C1", pad="P4", lead_s=600)
    with _simulator(server, tmp_path):
        answer = _when_heard(
            server, "site_admin", _key(server, 52), command="LAND", reason="test"
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["answer"] == "denied (MAV_RESULT_FAILED)"
    audit = server.get("site_admin", "/api/v1/audit").json()
    actions = [r["action"] for r in audit]
    assert "vehicle.commanded" in actions


def test_a_mute_autopilot_is_no_answer_after_the_retries(
    server: LiveServer, tmp_path: Path
) -> None:
    register_and_book(server, "c-3", 53, corridor="C1", pad="P4", lead_s=600)
    with _simulator(server, tmp_path, "--scenario", "mute"):
        answer = _when_heard(
            server, "safety_officer", _key(server, 53), command="LOITER", reason="t"
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["answer"] == "no answer after 4 attempts"
    assert answer.json()["accepted"] is False


def test_a_command_needs_a_reason_and_a_known_vehicle(server: LiveServer) -> None:
    key = _key(server, 99)
    assert (
        _command(server, "safety_officer", key, command="RTL", reason="x").status_code
        == 404
    )
    assert (
        _command(server, "safety_officer", key, command="RTL", reason="").status_code
        == 422
    )
    assert (
        _command(server, "safety_officer", key, command="FLIP", reason="x").status_code
        == 422
    )
