"""Every simulator scenario, flown by the real simulator against a real server.

One ``skyberth serve`` (subprocess, fresh SQLite, UDP gateway on loopback) serves a
test copy of the demo site with eight pads. Over REST, one drone per scenario is
registered and its booking of corridor C1 approved; the simulator (``python -m
simulator --api``, a subprocess) reads those bookings and flies all of them at
once, each with its own scenario from a scenario file, plus an intruder and a
spoofer that have no booking. A safety officer's websocket records the live stream
meanwhile. When every drone has landed, each test checks one scenario: the
incidents stored for its drone (``GET /api/v1/incidents``) are exactly the expected
kinds, with the live events that go with them.

Time runs ``SPEED`` times faster in the simulator; the gateway runs in real time,
so the few real-time thresholds are met with scenario parameters: the link stays
silent ``LINK_SILENT_SIM_S`` simulated seconds, over 3 real seconds (the gateway's
``link_lost_s``). Positions come at ``RATE_HZ`` simulated, 20 per real second,
slower than the gateway's 50 Hz tick, so every sample (the one wild GPS sample
included) is evaluated on its own.
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
RATE_HZ = 2.0
LINK_LOST_REAL_S = 3.0
"""The gateway's default ``link_lost_s``."""
LINK_SILENT_SIM_S = (LINK_LOST_REAL_S + 1.5) * SPEED
VICTIM_KEY = bytes(range(100, 132))
SEED = 7
SIMULATOR_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Flight:
    """One scenario's drone: who it is, where it flies, what must come of it."""

    scenario: str
    sysid: int
    pad: str | None
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
        '{ name = "lateral_drift", at_s = 30, hold_s = 15 }',
        ("corridor_exit_lateral",),
    ),
    Flight(
        "altitude_bust",
        53,
        "P3",
        '{ name = "altitude_bust", at_s = 30, hold_s = 15 }',
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
        '{ name = "gps_glitch", at_s = 30, offset_m = 300 }',
        (),
    ),
    Flight("spoofed_sysid", 57, "P7", '"nominal"', ("spoofed_frames",)),
)
"""Booked drones; the ``spoofed_sysid`` one is the signed victim, flying nominal."""
INTRUDER_SYSID = 91
SPOOFER_SYSID = 92
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
scenarios = [{{ name = "spoofed_sysid", victim = 57 }}]
"""


def scenario_file(path: Path) -> Path:
    parts = [f"seed = {SEED}"]
    for flight in BOOKED:
        parts.append(
            f"[[drones]]\nsysid = {flight.sysid}\nscenarios = [{flight.scenario_toml}]"
        )
    path.write_text("\n\n".join(parts) + "\n" + UNBOOKED_TOML, encoding="utf-8")
    return path


@dataclass
class Outcome:
    """Everything the one flight left behind."""

    server: LiveServer
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


def _settled_incidents(server: LiveServer, quiet_s: float) -> list[dict[str, Any]]:
    """The incident list once it has not changed for ``quiet_s``."""
    last: list[dict[str, Any]] | None = None
    stable_since = time.monotonic()
    deadline = stable_since + 15
    while True:
        response = server.get("safety_officer", "/api/v1/incidents?limit=500")
        assert response.status_code == 200, response.text
        now = response.json()
        key = [(i["id"], i["occurrences"], i["updated_at"]) for i in now]
        if last is None or key != [
            (i["id"], i["occurrences"], i["updated_at"]) for i in last
        ]:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet_s:
            return now
        if time.monotonic() > deadline:
            return now
        time.sleep(0.2)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    tmp = tmp_path_factory.mktemp("scenarios")
    site = scenario_site(tmp)
    with live_server(tmp, SKYBERTH_SITE_FILES=json.dumps([str(site)])) as server:
        bookings = {}
        for flight in BOOKED:
            key = VICTIM_KEY if flight.scenario == "spoofed_sysid" else None
            bookings[flight.scenario] = register_and_book(
                server,
                flight.drone_id,
                flight.sysid,
                corridor="C1",
                pad=flight.pad or "",
                signing_key=key,
            )
        # Every window has opened before the first frame: nothing flies unbooked.
        time.sleep(1.6)
        args = [
            *("--api", server.base_url, "--token", server.tokens["site_admin"]),
            *("--to", f"udpout:127.0.0.1:{server.mavlink_port}"),
            *("--scenario-file", str(scenario_file(tmp / "scenarios.toml"))),
            *("--signing-key", f"57:{VICTIM_KEY.hex()}"),
            *("--speed", f"{SPEED:g}", "--rate-hz", f"{RATE_HZ:g}"),
            *("--progress-s", "2"),
        ]
        url = f"{server.ws_url}?token={server.tokens['safety_officer']}"
        with LiveRecorder.running(url) as live:
            run = run_simulator(args, tmp / "simulator.log", SIMULATOR_TIMEOUT_S)
            assert run.returncode == 0, run.output
            incidents = _settled_incidents(server, quiet_s=1.0)
        yield Outcome(server, run, live, incidents, bookings)


def _flight(scenario: str) -> Flight:
    return next(f for f in BOOKED if f.scenario == scenario)


def test_the_simulator_flew_every_booked_drone_and_the_unbooked_ones(
    outcome: Outcome,
) -> None:
    print(outcome.run.output)
    print(outcome.run.wall_s)
    for i in outcome.incidents:
        print(i["id"], i["kind"], i["drone_id"], i["sysid"], i["occurrences"], i["message"])
    for e in outcome.live.events():
        print(e["kind"], e["sysid"], e.get("drone_id"), e["message"])
    assert False


def test_debug(outcome: Outcome) -> None:
    for sysid in (51, 52, 53, 54, 55, 56, 57, 91):
        last = None
        for t, v in outcome.live.vehicles(sysid):
            s = (v["state"], v["corridor_id"], v["booking_id"])
            if s != last:
                print(sysid, round(t % 1000, 2), s, v["lat_deg"], v["lon_deg"], v["rel_alt_m"])
                last = s
    assert False
