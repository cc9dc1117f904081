"""Every simulator scenario, flown by the real simulator against a real server.

One ``skyberth serve`` (subprocess, fresh SQLite, UDP gateway on loopback) serves a
test copy of the demo site with eight pads (``sim_world.scenario_site``). Over REST,
one drone per scenario is registered and its booking of corridor C1 approved; the
simulator (``python -m simulator --api``, a subprocess) reads those bookings and
flies all of them at once, each with its own scenario from a scenario file, plus an
intruder and a spoofer that have no booking. A safety officer's websocket records
the live stream meanwhile. When every drone has landed, each test checks one
scenario: the incidents stored for its drone (``GET /api/v1/incidents``) are
exactly the expected kinds, with the live events and states that go with them.

Time runs ``SPEED`` times faster in the simulator while the gateway runs in real
time, so the real-time thresholds are met with scenario parameters: the link stays
silent ``LINK_SILENT_SIM_S`` simulated seconds, over the gateway's 3 real seconds.
Positions come at ``RATE_HZ`` simulated, 20 per real second, slower than the
gateway's 50 Hz tick, so each sample (the one wild GPS sample included) is checked
on its own rather than overwritten by the next within a tick.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airspace.site import Site
from airspace.site_files import load_site
from tests.integration.live_server import LiveServer, live_server
from tests.integration.sim_world import (
    LiveRecorder,
    SimulatorRun,
    register_and_book,
    run_simulator,
    scenario_site,
)

pytestmark = pytest.mark.slow

SPEED = 10.0
RATE_HZ = 1.0
LINK_LOST_REAL_S = 3.0
"""The gateway's default ``link_lost_s``."""
LINK_SILENT_SIM_S = (LINK_LOST_REAL_S + 1.5) * SPEED
VICTIM_SYSID = 57
VICTIM_KEY = bytes(range(100, 132))
INTRUDER_SYSID = 91
SPOOFER_SYSID = 92
SEED = 7
SIMULATOR_TIMEOUT_S = 60.0
BOOKING_LEAD_S = 1.5
GROUND_STATES = {"on_ground", "inside", "near_edge"}
"""States of a drone that never breached (``near_edge`` is a warning)."""


@dataclass(frozen=True)
class Flight:
    """One scenario's booked drone and what must come of its flight."""

    scenario: str
    sysid: int
    pad: str
    scenario_toml: str
    incident_kinds: tuple[str, ...]

    @property
    def drone_id(self) -> str:
        return f"sc-{self.scenario.replace('_', '-')}"


BOOKED = (
    Flight("nominal", 51, "P1", '"nominal"', ()),
    Flight(
        "lateral_drift",
        52,
        "P2",
        '{ name = "lateral_drift", at_s = 25, hold_s = 10 }',
        ("corridor_exit_lateral",),
    ),
    Flight(
        "altitude_bust",
        53,
        "P3",
        '{ name = "altitude_bust", at_s = 25, hold_s = 10 }',
        ("corridor_exit_vertical",),
    ),
    Flight(
        "link_loss",
        54,
        "P4",
        f'{{ name = "link_loss", at_s = 25, duration_s = {LINK_SILENT_SIM_S:g} }}',
        ("link_lost",),
    ),
    Flight("low_battery", 55, "P5", '"low_battery"', ()),
    Flight(
        "gps_glitch",
        56,
        "P6",
        '{ name = "gps_glitch", at_s = 25, offset_m = 300 }',
        (),
    ),
    # The victim of spoofed_sysid: it signs its frames and flies nominal; the
    # spoofer below sends unsigned frames under its system id.
    Flight("spoofed_sysid", VICTIM_SYSID, "P7", '"nominal"', ("spoofed_frames",)),
)
UNBOOKED_TOML = f"""
[[drones]]
sysid = {INTRUDER_SYSID}
corridor = "C1"
pad = "P8"
scenarios = [{{ name = "intruder", sysid = {INTRUDER_SYSID} }}]

[[drones]]
sysid = {SPOOFER_SYSID}
corridor = "C1"
pad = "P8"
scenarios = [{{ name = "spoofed_sysid", victim = {VICTIM_SYSID} }}]
"""
"""Drones without a booking (the simulator appends file drones it cannot match to
a booking): the intruder, and the spoofer, whose own id is never sent."""


def write_scenario_file(path: Path) -> Path:
    parts = [f"seed = {SEED}"]
    for flight in BOOKED:
        parts.append(
            f"[[drones]]\nsysid = {flight.sysid}\nscenarios = [{flight.scenario_toml}]"
        )
    path.write_text("\n\n".join(parts) + "\n" + UNBOOKED_TOML, encoding="utf-8")
    return path


@dataclass
class Outcome:
    """Everything the one flight of the whole fleet left behind."""

    server: LiveServer
    site: Site
    run: SimulatorRun
    live: LiveRecorder
    incidents: list[dict[str, Any]]
    bookings: dict[str, int]

    def incidents_of(self, **match: Any) -> list[dict[str, Any]]:
        return [
            i for i in self.incidents if all(i.get(k) == v for k, v in match.items())
        ]

    def detail(self, incident_id: int) -> dict[str, Any]:
        response = self.server.get("safety_officer", f"/api/v1/incidents/{incident_id}")
        assert response.status_code == 200, response.text
        detail: dict[str, Any] = response.json()
        return detail

    def states(self, sysid: int) -> set[str]:
        return {v["state"] for _, v in self.live.vehicles(sysid)}

    def gateway_figures(self) -> dict[str, Any]:
        """Return the gateway's tick figures (for failure messages)."""
        links: dict[str, Any] = self.server.get(
            "safety_officer", "/api/v1/telemetry/links"
        ).json()
        return {k: v for k, v in links.items() if k != "links"}

    def xy(self, v: dict[str, Any]) -> tuple[float, float]:
        """Return a vehicle report's position in site metres."""
        x, y = self.site.projection.to_metric(v["lon_deg"], v["lat_deg"])
        return float(x), float(y)


def settled_incidents(server: LiveServer, quiet_s: float) -> list[dict[str, Any]]:
    """Return the incident list once it has not changed for ``quiet_s``."""
    last: list[tuple[Any, ...]] | None = None
    stable_since = time.monotonic()
    deadline = stable_since + 15
    while True:
        response = server.get("safety_officer", "/api/v1/incidents?limit=500")
        assert response.status_code == 200, response.text
        incidents: list[dict[str, Any]] = response.json()
        key = [(i["id"], i["occurrences"], i["updated_at"]) for i in incidents]
        if key != last:
            last, stable_since = key, time.monotonic()
        elif time.monotonic() - stable_since >= quiet_s:
            return incidents
        if time.monotonic() > deadline:
            raise AssertionError(f"incidents still changing: {key}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    tmp = tmp_path_factory.mktemp("scenarios")
    site_path = scenario_site(tmp)
    # Every position reaches the stream (no 5 Hz thinning), so the tests can look
    # for single samples such as the GPS glitch.
    with live_server(
        tmp,
        SKYBERTH_SITE_FILES=json.dumps([str(site_path)]),
        SKYBERTH_LIVE_INTERVAL_MS="0",
    ) as server:
        bookings = {
            flight.scenario: register_and_book(
                server,
                flight.drone_id,
                flight.sysid,
                corridor="C1",
                pad=flight.pad,
                signing_key=VICTIM_KEY if flight.sysid == VICTIM_SYSID else None,
                lead_s=BOOKING_LEAD_S,
            )
            for flight in BOOKED
        }
        # Every window is open before the first frame, so no drone (and no spoofed
        # frame) comes before its booking: one incident group per drone.
        time.sleep(BOOKING_LEAD_S + 0.1)
        args = [
            *("--api", server.base_url, "--token", server.tokens["site_admin"]),
            *("--to", f"udpout:127.0.0.1:{server.mavlink_port}"),
            *("--scenario-file", str(write_scenario_file(tmp / "scenarios.toml"))),
            *("--signing-key", f"{VICTIM_SYSID}:{VICTIM_KEY.hex()}"),
            *("--speed", f"{SPEED:g}", "--rate-hz", f"{RATE_HZ:g}"),
            *("--progress-s", "2"),
        ]
        token = server.tokens["safety_officer"]
        with LiveRecorder.running(server.ws_url, token) as live:
            run = run_simulator(args, tmp / "simulator.log", SIMULATOR_TIMEOUT_S)
            assert run.returncode == 0, run.output
            incidents = settled_incidents(server, quiet_s=1.0)
        yield Outcome(server, load_site(site_path), run, live, incidents, bookings)


def flight(scenario: str) -> Flight:
    return next(f for f in BOOKED if f.scenario == scenario)


def test_the_simulator_flew_the_booked_fleet_and_the_unbooked_drones(
    outcome: Outcome,
) -> None:
    output = outcome.run.output
    assert "9 drone(s)" in output, output
    for f in BOOKED:
        booking = outcome.bookings[f.scenario]
        assert f"(booking {booking}): sysid {f.sysid}, C1 from {f.pad}" in output
    assert f"sysid {INTRUDER_SYSID}, C1 from P8, intruder" in output
    assert f"sysid {VICTIM_SYSID}, C1 from P8, spoofed_sysid" in output
    assert "finished after" in output
    # Every booked flight started its booking, flew, and came down on its pad.
    for f in BOOKED:
        reports = outcome.live.vehicles(f.sysid)
        assert {"on_ground", "inside"} <= {v["state"] for _, v in reports}, f
        assert reports[-1][1]["state"] == "on_ground", f
        assert reports[-1][1]["booking_id"] == outcome.bookings[f.scenario]
        booking = outcome.server.get(
            "operator", f"/api/v1/bookings/{outcome.bookings[f.scenario]}"
        ).json()
        assert booking["state"] == "active", booking


def test_no_incident_other_than_the_scenarios_own(outcome: Outcome) -> None:
    expected = sorted(
        [(f.drone_id, f.sysid, kind) for f in BOOKED for kind in f.incident_kinds]
        + [(None, INTRUDER_SYSID, "unbooked_flight")],
        key=str,
    )
    found = sorted(
        ((i["drone_id"], i["sysid"], i["kind"]) for i in outcome.incidents), key=str
    )
    assert found == expected, [
        (i["id"], i["kind"], i["sysid"], i["message"]) for i in outcome.incidents
    ]


@pytest.mark.parametrize("scenario", [f.scenario for f in BOOKED])
def test_each_booked_scenario_raises_exactly_its_incidents(
    outcome: Outcome, scenario: str
) -> None:
    f = flight(scenario)
    incidents = outcome.incidents_of(drone_id=f.drone_id)
    assert sorted(i["kind"] for i in incidents) == sorted(f.incident_kinds), incidents
    for incident in incidents:
        assert incident["booking_id"] == outcome.bookings[scenario]
        assert incident["sysid"] == f.sysid
        assert incident["corridor_id"] == "C1"


def test_nominal_flight_never_leaves_its_booked_airspace(outcome: Outcome) -> None:
    f = flight("nominal")
    assert outcome.states(f.sysid) <= GROUND_STATES
    breaches = [
        e for e in outcome.live.events(sysid=f.sysid) if e["severity"] == "breach"
    ]
    assert breaches == []


def test_lateral_drift_is_one_lateral_exit_that_returns(outcome: Outcome) -> None:
    f = flight("lateral_drift")
    (incident,) = outcome.incidents_of(drone_id=f.drone_id)
    assert incident["occurrences"] == 1
    timeline = [e["kind"] for e in outcome.detail(incident["id"])["events"]]
    assert "returned" in timeline, timeline
    assert "outside_lateral" in outcome.states(f.sysid)
    events = [e["kind"] for e in outcome.live.events(sysid=f.sysid)]
    exit_at = events.index("corridor_exit_lateral")
    assert "returned" in events[exit_at:], events
    (exit_event,) = outcome.live.events(sysid=f.sysid, kind="corridor_exit_lateral")
    assert exit_event["incident_id"] == incident["id"]


def test_altitude_bust_in_c1_is_a_vertical_exit_that_returns(
    outcome: Outcome,
) -> None:
    f = flight("altitude_bust")
    (incident,) = outcome.incidents_of(drone_id=f.drone_id)
    # C1's ceiling (60 m AGL) is below the site's (90 m): a corridor exit, not a
    # boundary exit.
    assert incident["kind"] == "corridor_exit_vertical"
    timeline = [e["kind"] for e in outcome.detail(incident["id"])["events"]]
    assert "returned" in timeline, timeline
    assert "outside_vertical" in outcome.states(f.sysid)
    ceiling_agl_m = outcome.site.corridor("C1").volume.ceiling_amsl_m - (
        outcome.site.ground_elev_m
    )
    highest = max(v["rel_alt_m"] for _, v in outcome.live.vehicles(f.sysid))
    assert highest > ceiling_agl_m


def test_link_loss_is_lost_then_restored(outcome: Outcome) -> None:
    f = flight("link_loss")
    (incident,) = outcome.incidents_of(drone_id=f.drone_id)
    assert incident["kind"] == "link_lost"
    kinds = [e["kind"] for e in outcome.live.events(sysid=f.sysid)]
    lost = kinds.index("link_lost")
    assert "link_restored" in kinds[lost:], kinds
    assert "link_lost" in outcome.states(f.sysid)
    # The drone flew on while silent and its telemetry came back in the air.
    reports = outcome.live.vehicles(f.sysid)
    after = [v for _, v in reports if v["state"] != "link_lost"]
    assert after[-1]["state"] == "on_ground"


def test_low_battery_is_a_warning_on_the_live_stream_not_an_incident(
    outcome: Outcome,
) -> None:
    f = flight("low_battery")
    assert outcome.incidents_of(drone_id=f.drone_id) == []
    (warning,) = outcome.live.events(sysid=f.sysid, kind="low_battery")
    assert warning["severity"] == "warning"
    assert warning["incident_id"] is None
    assert warning["details"]["battery_pct"] < warning["details"]["threshold_pct"]
    assert outcome.states(f.sysid) <= GROUND_STATES


def test_one_wild_gps_sample_is_checked_and_raises_nothing(outcome: Outcome) -> None:
    f = flight("gps_glitch")
    assert outcome.incidents_of(drone_id=f.drone_id) == []
    reports: list[dict[str, Any]] = []
    for _, v in outcome.live.vehicles(f.sysid):
        # Every full_frame_s each vehicle is sent again, changed or not: the same
        # position twice in a row is one report, or a wild one would look tame.
        if not reports or v["t_s"] != reports[-1]["t_s"]:
            reports.append(v)
    # The gateway did evaluate the wild sample (300 m off, far outside C1 and its
    # transit) ...
    xy = [outcome.xy(v) for v in reports]
    wild = [
        reports[i]
        for i in range(1, len(reports) - 1)
        if min(math.dist(xy[i], xy[i - 1]), math.dist(xy[i], xy[i + 1])) > 200
    ]
    dropped = [f for f in outcome.live.snapshot() if f["type"] == "dropped"]
    assert len(wild) == 1, (
        f"{len(wild)} wild reports (want 1): {wild}; frames dropped for this "
        f"client: {dropped}; gateway: {outcome.gateway_figures()}"
    )
    assert wild[0]["state"] in ("outside_lateral", "outside_boundary")
    # ... and a single sample is not a breach.
    breaches = [
        e for e in outcome.live.events(sysid=f.sysid) if e["severity"] == "breach"
    ]
    assert breaches == []


def test_intruder_is_an_unbooked_flight(outcome: Outcome) -> None:
    (incident,) = outcome.incidents_of(sysid=INTRUDER_SYSID)
    assert incident["kind"] == "unbooked_flight"
    assert incident["drone_id"] is None
    assert incident["booking_id"] is None
    assert "unassigned" in outcome.states(INTRUDER_SYSID)


def test_spoofed_frames_are_rejected_and_never_move_the_victim(
    outcome: Outcome,
) -> None:
    f = flight("spoofed_sysid")
    (incident,) = outcome.incidents_of(drone_id=f.drone_id)
    assert incident["kind"] == "spoofed_frames"
    events = outcome.live.events(sysid=f.sysid, kind="spoofed_frames")
    assert {e["incident_id"] for e in events} == {incident["id"]}
    rejected = sum(int(e["details"]["frames"]) for e in events)
    links = outcome.server.get("safety_officer", "/api/v1/telemetry/links").json()
    (link,) = links["links"]
    (stream,) = link["streams"]
    # Every rejected frame was the spoofer's and was reported.
    assert stream["signature_rejected"] == rejected > 0
    # The victim's own (signed) frames made its picture; the spoofer's, sent from
    # pad P8, never did: on the ground the victim is always at its pad P7.
    p7 = outcome.site.pad("P7").geometry_m.centroid
    on_ground = [
        v for _, v in outcome.live.vehicles(f.sysid) if v["state"] == "on_ground"
    ]
    assert on_ground
    assert max(math.dist(outcome.xy(v), (p7.x, p7.y)) for v in on_ground) < 5.0
    assert outcome.states(f.sysid) <= GROUND_STATES
