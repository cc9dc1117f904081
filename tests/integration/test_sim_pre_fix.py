"""A drone that boots like ArduPilot, flown by the real simulator against a real server.

One ``skyberth serve`` (subprocess, fresh SQLite, UDP gateway on loopback) has one
registered drone with an approved booking of C1. The simulator (``python -m
simulator --api``, a subprocess) flies it with the ``pre_fix`` scenario (heartbeats,
status texts, a parameter download and GPS_RAW_INT without a fix, no position, for
the first seconds) and a ground station's heartbeat beside it (``gcs_heartbeat``,
system 255), recording what it sends. Issue 22: the booking's exported ``.tlog``
holds every frame the drone sent, the pre-fix ones included; the link counts one
vehicle, not two; the drone is tied to its drone and booking before its first fix;
no ``None`` path exists in the data dir.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from simulator.boot import WAITING_TEXT
from simulator.recordings import read_tlog
from tests.integration.api_world import SITE
from tests.integration.live_server import LiveServer, live_server
from tests.integration.sim_world import (
    LiveRecorder,
    SimulatorRun,
    register_and_book,
    run_simulator,
)

pytestmark = pytest.mark.slow

SYSID = 61
DRONE_ID = "prefix-1"
SPEED = 2.0
PRE_FIX_SIM_S = 6.0
"""Simulated seconds without a fix: 3 real seconds at ``SPEED``."""
PARAMS = 300
DURATION_SIM_S = 14.0
BOOKING_LEAD_S = 1.5
SCENARIO_TOML = f"""
gcs_heartbeat = true

[[drones]]
sysid = {SYSID}
scenarios = [{{ name = "pre_fix", duration_s = {PRE_FIX_SIM_S:g}, params = {PARAMS} }}]
"""


def messages(frames: list[bytes]) -> list[Any]:
    parser = mavlink.MAVLink(None)
    out: list[Any] = []
    for frame in frames:
        out += parser.parse_buffer(frame) or []
    return out


def sysid_of(frame: bytes) -> int:
    """Return the system id in a MAVLink 2 frame's header."""
    assert frame[0] == 0xFD
    return frame[5]


@dataclass
class Outcome:
    server: LiveServer
    booking_id: int
    run: SimulatorRun
    live: LiveRecorder
    sent: list[bytes]
    """Every frame the simulator sent (its own --record), both systems."""
    link_vehicles: list[int]
    """``vehicles`` of ``/telemetry/links``, polled while the simulator ran."""

    def booking_tlog(self, tmp: Path) -> list[bytes]:
        url = f"/api/v1/bookings/{self.booking_id}/export?format=tlog"
        response = self.server.get("operator", url)
        assert response.status_code == 200, response.text
        path = tmp / "booking.tlog"
        path.write_bytes(response.content)
        return [r.frame for r in read_tlog(path)]


def poll_links(server: LiveServer, seen: list[int], stop: threading.Event) -> None:
    while not stop.wait(0.25):
        response = server.get("safety_officer", "/api/v1/telemetry/links")
        if response.status_code == 200:
            seen.append(int(response.json()["vehicles"]))


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    tmp = tmp_path_factory.mktemp("pre-fix")
    with live_server(tmp, SKYBERTH_LIVE_INTERVAL_MS="0") as server:
        booking_id = register_and_book(
            server, DRONE_ID, SYSID, corridor="C1", pad="P1", lead_s=BOOKING_LEAD_S
        )
        time.sleep(BOOKING_LEAD_S + 0.1)  # the window is open before the first frame
        scenario_file = tmp / "pre-fix.toml"
        scenario_file.write_text(SCENARIO_TOML, encoding="utf-8")
        record = tmp / "sent.tlog"
        args = [
            *("--api", server.base_url, "--token", server.tokens["site_admin"]),
            *("--to", f"udpout:127.0.0.1:{server.mavlink_port}"),
            *("--scenario-file", str(scenario_file), "--record", str(record)),
            *("--speed", f"{SPEED:g}", "--duration-s", f"{DURATION_SIM_S:g}"),
            *("--rate-hz", "4", "--progress-s", "2"),
        ]
        url, token = server.ws_url, server.tokens["safety_officer"]
        seen: list[int] = []
        stop = threading.Event()
        poller = threading.Thread(target=poll_links, args=(server, seen, stop))
        with LiveRecorder.running(url, token) as live:
            poller.start()
            try:
                run = run_simulator(args, tmp / "simulator.log", 60.0)
            finally:
                stop.set()
                poller.join(timeout=5)
            assert run.returncode == 0, run.output
            sent = [r.frame for r in read_tlog(record)]
            yield Outcome(server, booking_id, run, live, sent, seen)


def test_the_booking_tlog_holds_every_frame_the_drone_sent_from_its_first(
    outcome: Outcome, tmp_path: Path
) -> None:
    drone_frames = [f for f in outcome.sent if sysid_of(f) == SYSID]
    # The recorder flushes on its own clock: wait until the last frame is in.
    deadline = time.monotonic() + 10
    while (recorded := outcome.booking_tlog(tmp_path)) != drone_frames:
        assert time.monotonic() < deadline, (len(recorded), len(drone_frames))
        time.sleep(0.3)
    kinds = [m.get_type() for m in messages(recorded)]
    first_position = kinds.index("GLOBAL_POSITION_INT")
    before_fix = Counter(kinds[:first_position])
    assert before_fix["PARAM_VALUE"] == PARAMS
    assert before_fix["STATUSTEXT"] >= 5
    assert before_fix["HEARTBEAT"] >= 3
    texts = [m.text for m in messages(recorded) if m.get_type() == "STATUSTEXT"]
    assert WAITING_TEXT in texts
    # The ground station's heartbeats went out too, but are no part of the record.
    assert any(sysid_of(f) == 255 for f in outcome.sent)


def test_the_link_counts_the_autopilot_not_the_ground_station(
    outcome: Outcome,
) -> None:
    assert outcome.link_vehicles
    assert max(outcome.link_vehicles) == 1
    assert outcome.live.vehicles(255) == []


def test_the_vehicle_is_tied_to_its_drone_and_booking_before_its_first_fix(
    outcome: Outcome,
) -> None:
    reports = [v for _, v in outcome.live.vehicles(SYSID)]
    before_fix = [v for v in reports if v.get("lat_deg") is None]
    assert before_fix, reports[:3]
    assert {(v.get("drone_id"), v.get("booking_id")) for v in before_fix} == {
        (DRONE_ID, outcome.booking_id)
    }
    assert any(v.get("lat_deg") is not None for v in reports)


def test_no_none_path_exists_in_the_data_dir(outcome: Outcome) -> None:
    data_dir = outcome.server.data_dir
    assert not [p for p in data_dir.rglob("*") if "None" in p.name]
    tlogs = data_dir / "tlogs"
    recorded = sorted(p.relative_to(tlogs).as_posix() for p in tlogs.rglob("*.tlog"))
    assert recorded == [f"{SITE}/booking-{outcome.booking_id}.tlog"]
