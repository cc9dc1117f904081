"""A booking's fence reaches its drone: a real ``skyberth serve`` uploads it over
UDP to the real simulator (a subprocess), reads it back and reports ``verified``;
roles on the new routes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.conftest import free_port
from tests.integration.live_server import LiveServer, live_server
from tests.integration.sim_world import SOURCE_ROOT, register_and_book, simulator_env
from web.i18n import translate

pytestmark = pytest.mark.slow

SYSID = 41
SEND_TIMEOUT_S = 30.0
"""An upload to a silent vehicle takes 6 x 1.5 s before it gives up."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server that sends fences only when asked (the default: no automatic
    upload racing the test's own request)."""
    with live_server(tmp_path, SKYBERTH_FENCE_UPLOAD_LEAD_MIN="0") as s:
        yield s


@pytest.fixture
def auto_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server that uploads fences by itself 5 min before the window."""
    with live_server(tmp_path, SKYBERTH_FENCE_UPLOAD_LEAD_MIN="5") as s:
        yield s


@contextmanager
def _simulator(
    server: LiveServer, tmp_path: Path, *extra: str, to: str | None = None
) -> Iterator[None]:
    """Run the simulator on the server's booked drones (over UDP unless ``to``
    names another endpoint) while inside."""
    with (tmp_path / "simulator.log").open("wb") as log:
        simulator = subprocess.Popen(
            [
                *(sys.executable, "-m", "simulator"),
                *("--api", server.base_url),
                *("--token", server.tokens["site_admin"]),
                *("--to", to or f"udpout:127.0.0.1:{server.mavlink_port}"),
                *("--speed", "1", "--laps", "1", *extra),
            ],
            cwd=SOURCE_ROOT,
            env=simulator_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield
        finally:
            simulator.terminate()
            simulator.wait(timeout=15)


@pytest.fixture
def flying(server: LiveServer, tmp_path: Path) -> Iterator[int]:
    """The booking of drone f-1 (corridor C1 from P4), its simulator running."""
    booking_id = register_and_book(server, "f-1", SYSID, corridor="C1", pad="P4")
    with _simulator(server, tmp_path):
        yield booking_id


def _send_when_connected(server: LiveServer, booking_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        answer = httpx2.post(
            f"{server.base_url}/api/v1/bookings/{booking_id}/fence",
            headers=server.headers("pilot"),
            timeout=SEND_TIMEOUT_S,
        )
        assert answer.status_code == 200, answer.text
        report: dict[str, Any] = answer.json()
        if report["reason"] != "the drone is not connected":
            return report
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.5)


def test_fence_uploads_over_udp_and_reads_back_verified(
    server: LiveServer, flying: int
) -> None:
    report = _send_when_connected(server, flying)
    assert report["state"] == "verified", report
    assert 3 <= report["vertices"] <= 70
    ceiling = report["alt_max_m"]
    assert report["altitude"] == f"FENCE_ALT_MAX = {round(ceiling, 1):g} confirmed"
    shown = server.get("operator", f"/api/v1/bookings/{flying}/fence").json()
    assert shown["state"] == "verified"
    assert (shown["reason_code"], shown["reason_params"]) == (
        "identical",
        {"items": report["vertices"]},
    )


def test_fence_of_a_booking_whose_drone_is_silent_is_not_supported_with_reason(
    server: LiveServer,
) -> None:
    booking_id = register_and_book(server, "f-2", 42, corridor="C1", pad="P4")
    report = server.post("operator", f"/api/v1/bookings/{booking_id}/fence").json()
    assert (report["state"], report["reason"], report["reason_code"]) == (
        "not_supported",
        "the drone is not connected",
        "not_connected",
    )
    # Safety officers watch; they do not upload (403). Other organisations: 404.
    assert (
        server.post(
            "safety_officer", f"/api/v1/bookings/{booking_id}/fence"
        ).status_code
        == 403
    )
    assert (
        server.post("rival", f"/api/v1/bookings/{booking_id}/fence").status_code == 404
    )
    assert (
        server.get("rival", f"/api/v1/bookings/{booking_id}/fence").status_code == 404
    )


@pytest.mark.parametrize(
    ("scenario", "state", "reason", "code"),
    [
        (
            "fence_refused",
            "refused",
            "vehicle answered MAV_MISSION_ERROR",
            "vehicle_answered",
        ),
        ("mute", "refused", "no answer after 5 retries of MISSION_COUNT", "no_answer"),
        (
            "fence_corrupted",
            "mismatch",
            "the vehicle stores another fence (item 0",
            "mismatch_vertex",
        ),
        ("request_lost", "verified", "items read back identical", "identical"),
    ],
)
def test_fence_error_paths_over_udp(
    server: LiveServer,
    tmp_path: Path,
    scenario: str,
    state: str,
    reason: str,
    code: str,
) -> None:
    booking_id = register_and_book(server, "f-3", 43, corridor="C2", pad="P1")
    with _simulator(server, tmp_path, "--scenario", scenario):
        report = _send_when_connected(server, booking_id)
    assert report["state"] == state, report
    assert reason in report["reason"]
    # The same reason as a code and values, which the pages put in their words.
    assert report["reason_code"] == code
    chinese = translate("zh-Hant-HK", f"fence.reason.{code}", **report["reason_params"])
    assert "{" not in chinese
    assert chinese != f"fence.reason.{code}"


def test_fence_goes_up_by_itself_before_the_window_and_shows_verified(
    auto_server: LiveServer, tmp_path: Path
) -> None:
    """``SKYBERTH_FENCE_UPLOAD_LEAD_MIN`` (5 min) covers a window 2 min away: the
    drone on its pad gets its fence without anyone pressing the button."""
    booking_id = register_and_book(
        auto_server, "f-4", 44, corridor="C1", pad="P4", lead_s=120
    )
    with _simulator(auto_server, tmp_path):
        deadline = time.monotonic() + 30
        while True:
            shown = auto_server.get("operator", f"/api/v1/bookings/{booking_id}/fence")
            if shown.json()["state"] == "verified":
                break
            assert time.monotonic() < deadline, shown.json()
            time.sleep(0.5)


def test_fence_uploads_over_tcp_and_reads_back_verified(tmp_path: Path) -> None:
    """The same upload and read-back over a TCP link (the gateway listens, the
    simulated autopilot dials in, as a radio bridge or SITL would)."""
    port = free_port()
    with live_server(
        tmp_path,
        SKYBERTH_FENCE_UPLOAD_LEAD_MIN="0",
        SKYBERTH_MAVLINK=f'["tcpin:127.0.0.1:{port}"]',
    ) as server:
        booking_id = register_and_book(server, "f-5", 45, corridor="C3", pad="P3")
        with _simulator(server, tmp_path, to=f"tcp:127.0.0.1:{port}"):
            report = _send_when_connected(server, booking_id)
    assert report["state"] == "verified", report
