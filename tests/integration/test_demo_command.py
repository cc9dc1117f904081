"""``skyberth demo`` as a user runs it: one command, then Ctrl-C.

The demo runs as a subprocess in its own session (process group) on free ports and
a temporary data directory. The test reads the passwords it prints, signs in as the
pilot, and checks within bounded times that the live map answers, that the live
stream shows the booked drones moving, that every booked drone's fence is
``verified``, and that SIGINT stops the server and the
simulator it started: exit code 0, no traceback, no process left in its group.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from telemetry.live.frames import vehicle_entries
from tests.conftest import free_port
from tests.integration.sim_world import SOURCE_ROOT, LiveRecorder, simulator_env

pytestmark = pytest.mark.slow
logger = logging.getLogger(__name__)

SPEED = 4
BOOKED_DRONES = 4
"""The demo's default fleet: kite-1 .. kite-4, plus an intruder."""
FERRY_SPEED = 10
"""Fast enough that the ferry (80 s simulated) comes within seconds, slow enough
that the simulator keeps pace on a busy two-core machine."""
FERRY_TIMEOUT_S = 45.0
CROSSING_FERRY_MMSI = 477000199
START_TIMEOUT_S = 30.0
MOVING_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0
FENCE_TIMEOUT_S = 15.0
PASSWORD_LINE = re.compile(r"^\s+(\w+)\s+(\S+)\s+\((\w+)\)\s*$", re.MULTILINE)


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    base_url: str
    ws_url: str
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    with running_demo(tmp_path, SPEED) as started:
        yield started


@contextlib.contextmanager
def running_demo(tmp_path: Path, speed: float) -> Iterator[Demo]:
    http_port = free_port()
    udp_port = free_port(socket.SOCK_DGRAM)
    log_path = tmp_path / "demo.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "web.cli", "demo"),
                *("--port", str(http_port), "--mavlink-port", str(udp_port)),
                *("--data-dir", str(tmp_path / "data"), "--speed", str(speed)),
            ],
            cwd=SOURCE_ROOT,
            env=simulator_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the test can see what is left
        )
    base_url = f"http://127.0.0.1:{http_port}"
    try:
        yield Demo(process, base_url, f"ws://127.0.0.1:{http_port}/ws/live", log_path)
    finally:
        # Whatever the test did, nothing of the demo outlives it.
        if _group_alive(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _wait_for_map(demo: Demo) -> float:
    started = time.monotonic()
    while True:
        with contextlib.suppress(httpx2.HTTPError):
            if httpx2.get(demo.base_url + "/map", timeout=2).status_code == 200:
                return time.monotonic() - started
        if demo.process.poll() is not None:
            pytest.fail(f"the demo exited early:\n{demo.output()[-3000:]}")
        if time.monotonic() - started > START_TIMEOUT_S:
            pytest.fail(f"no map after {START_TIMEOUT_S} s:\n{demo.output()[-3000:]}")
        time.sleep(0.2)


def _pilot_token(demo: Demo) -> str:
    return _token(demo, "pilot")


def _token(demo: Demo, user: str) -> str:
    passwords = {
        name: password
        for name, password, role in PASSWORD_LINE.findall(demo.output())
        if role in {"site_admin", "safety_officer", "operator", "pilot"}
    }
    assert user in passwords, demo.output()
    response = httpx2.post(
        demo.base_url + "/api/v1/auth/token",
        data={"username": user, "password": passwords[user]},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _moved_m(first: dict[str, float], last: dict[str, float]) -> float:
    dlat_m = (last["lat_deg"] - first["lat_deg"]) * 111_320.0
    dlon_m = (
        (last["lon_deg"] - first["lon_deg"])
        * 111_320.0
        * math.cos(math.radians(first["lat_deg"]))
    )
    return math.hypot(dlat_m, dlon_m)


def _merged_reports(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every vehicles-frame entry as a client holds it after merging it into what
    came before for its key (a delta may carry only the moving fields)."""
    held: dict[str, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for frame in frames:
        if frame["type"] != "vehicles":
            continue
        for v in vehicle_entries(frame):
            merged = held[v["key"]] = {**held.get(v["key"], {}), **v}
            out.append(merged)
    return out


def _fence_states(demo: Demo, token: str) -> dict[str, str | None]:
    """Each booked drone's fence state, once all are verified or after
    ``FENCE_TIMEOUT_S``."""
    auth = {"Authorization": f"Bearer {token}"}
    bookings = httpx2.get(demo.base_url + "/api/v1/bookings", headers=auth, timeout=10)
    assert bookings.status_code == 200, bookings.text
    deadline = time.monotonic() + FENCE_TIMEOUT_S
    while True:
        states: dict[str, str | None] = {}
        for booking in bookings.json():
            answer = httpx2.get(
                f"{demo.base_url}/api/v1/bookings/{booking['id']}/fence",
                headers=auth,
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            states[booking["drone_id"]] = answer.json()["state"]
        if set(states.values()) == {"verified"} or time.monotonic() > deadline:
            return states
        time.sleep(0.5)


def test_demo_serves_the_map_flies_the_booked_drones_and_stops_on_sigint(
    demo: Demo,
) -> None:
    map_after_s = _wait_for_map(demo)
    token = _pilot_token(demo)
    booked = {f"kite-{n}" for n in range(1, BOOKED_DRONES + 1)}
    with LiveRecorder.running(demo.ws_url, token) as live:
        live.wait_for(lambda f: f.get("type") == "snapshot", 10)

        def all_moving(_: object) -> bool:
            first: dict[str, dict[str, float]] = {}
            moved: set[str] = set()
            for v in _merged_reports(live.snapshot()):
                drone = v.get("drone_id")
                if drone not in booked:
                    continue
                if drone not in first:
                    first[drone] = v
                elif _moved_m(first[drone], v) > 5.0:
                    moved.add(drone)
            return moved == booked

        moving_since = time.monotonic()
        live.wait_for(all_moving, MOVING_TIMEOUT_S)
        moving_after_s = time.monotonic() - moving_since
        # The demo's scripted vessels reach the map over AIS (every role sees them).
        live.wait_for(
            lambda f: (
                f.get("type") == "vessels"
                and any(v["name"] == "CHEUNG CHAU FERRY" for v in f["vessels"])
            ),
            MOVING_TIMEOUT_S,
        )
    # A pilot of the demo organisation sees its drones flying their bookings.
    reports = _merged_reports(live.snapshot())
    flying_booked = {
        v["drone_id"] for v in reports if v["booking_id"] is not None and v["flying"]
    }
    assert flying_booked == booked
    # Each booked drone holds its booking's fence, read back identical (the demo
    # sends them automatically as the drones connect).
    assert _fence_states(demo, token) == dict.fromkeys(booked, "verified")

    assert demo.process.poll() is None, demo.output()[-3000:]
    sent = time.monotonic()
    demo.process.send_signal(signal.SIGINT)
    try:
        returncode = demo.process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the demo did not stop within {STOP_TIMEOUT_S} s")
    stop_s = time.monotonic() - sent
    output = demo.output()
    assert not _group_alive(demo.process.pid), "a process of the demo is left"
    assert "stopped after" in output, output[-3000:]  # the simulator's own summary
    assert "demo stopped" in output, output[-3000:]
    assert "Traceback" not in output, output[-5000:]
    assert returncode == 0, output[-5000:]
    logger.info(
        f"map after {map_after_s:.1f} s, all booked drones moving after "
        f"{moving_after_s:.1f} s, stopped {stop_s:.1f} s after SIGINT"
    )


def test_demo_ferry_crosses_under_the_maritime_drone_with_a_proximity_warning(
    tmp_path: Path,
) -> None:
    # Issue 20's done-when: the crossing ferry aims at Kite-2, the demo's drone on
    # the maritime corridor C2, and passes under it early in the demo (80 s
    # simulated, ~8 s here); the safety officer's live stream shows the warning.
    with running_demo(tmp_path, FERRY_SPEED) as demo:
        _wait_for_map(demo)
        token = _token(demo, "safety")
        with LiveRecorder.running(demo.ws_url, token) as live:
            live.wait_for(lambda f: f.get("type") == "snapshot", 10)
            started = time.monotonic()
            warning = live.wait_for(
                lambda f: (
                    f.get("type") == "event"
                    and f["event"]["kind"] == "vessel_proximity"
                    and f["event"]["drone_id"] == "kite-2"
                    and f["event"]["details"]["vessel_name"] == "CROSSING FERRY"
                ),
                FERRY_TIMEOUT_S,
            )["event"]
            warned_after_s = time.monotonic() - started
        assert demo.process.poll() is None, demo.output()[-3000:]
        output = demo.output()
    assert "vessel_crossing: under Kite-2" in output, output[-3000:]
    assert warning["details"]["mmsi"] == CROSSING_FERRY_MMSI
    assert warning["details"]["dcpa_m"] < 50.0
    logger.info(f"the crossing ferry's warning for kite-2 after {warned_after_s:.1f} s")
