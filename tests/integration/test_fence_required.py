"""A site that requires a verified fence keeps a contradicted booking on the
ground, and fence reports outlive the process that made them.

A real ``skyberth serve`` with ``SKYBERTH_REQUIRE_VERIFIED_FENCE`` uploads the
booking's fence by itself to the real simulator (a subprocess, UDP); the simulated
autopilot stores another fence (``fence_corrupted``), so the read-back is a
mismatch. When the drone takes off in its window the booking is not activated
(rule ``fence_not_verified``) and the drone's live stream carries the warning
event. The reports are rows in the migrated database: a new server reads them.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from telemetry.live.fence_reports import SqlFenceReports
from telemetry.live.fence_upload import FenceReport, FenceState
from tests.integration.live_server import live_server
from tests.integration.sim_world import (
    SOURCE_ROOT,
    LiveRecorder,
    register_and_book,
    simulator_env,
)
from web.app import create_app
from web.cli_demo import seed_demo
from web.migrate import alembic_config, upgrade
from web.settings import Settings

SYSID = 47


@pytest.mark.slow
def test_a_mismatched_fence_keeps_the_booking_from_becoming_active(
    tmp_path: Path,
) -> None:
    with live_server(
        tmp_path,
        SKYBERTH_FENCE_UPLOAD_LEAD_MIN="5",
        SKYBERTH_REQUIRE_VERIFIED_FENCE="true",
    ) as server:
        # The window opens in 12 s: the fence goes up (and mismatches) on the pad.
        booking_id = register_and_book(
            server, "g-1", SYSID, corridor="C1", pad="P4", lead_s=12
        )
        with (
            LiveRecorder.running(server.ws_url, server.tokens["site_admin"]) as live,
            (tmp_path / "simulator.log").open("wb") as log,
        ):
            simulator = subprocess.Popen(
                [
                    *(sys.executable, "-m", "simulator"),
                    *("--api", server.base_url),
                    *("--token", server.tokens["site_admin"]),
                    *("--to", f"udpout:127.0.0.1:{server.mavlink_port}"),
                    *("--speed", "1", "--laps", "1"),
                    *("--scenario", "fence_corrupted"),
                ],
                cwd=SOURCE_ROOT,
                env=simulator_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                live.wait_for(
                    lambda f: (
                        f.get("type") == "event"
                        and f["event"]["kind"] == "fence_not_verified"
                    ),
                    40,
                )
            finally:
                simulator.terminate()
                simulator.wait(timeout=15)
        fence = server.get("operator", f"/api/v1/bookings/{booking_id}/fence").json()
        booking = server.get("operator", f"/api/v1/bookings/{booking_id}").json()
    assert fence["state"] == "mismatch", fence
    (event,) = live.events(kind="fence_not_verified")
    assert event["severity"] == "warning"
    assert event["booking_id"] == booking_id
    assert event["details"]["rule"] == "fence_not_verified"
    assert "requires a verified fence" in event["message"]
    assert "mismatch" in event["message"]
    assert booking["state"] == "approved", booking
    assert live.events(kind="fence_mismatch"), "the mismatch itself is a warning too"


def test_fence_reports_are_rows_a_restarted_server_reads_back(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"opening_hours": "24h"})
    now = datetime.now(UTC)
    app = create_app(settings)
    (booking_id,) = seed_demo(app, settings, 1, now).booking_ids
    store = SqlFenceReports(app.state.engine)
    first = FenceReport(
        booking_id,
        FenceState.MISMATCH,
        "the vehicle stores another fence (item 0: vertex 22.1,114.1 stored, ...)",
        now,
        vertices=38,
        alt_max_m=60.0,
        differences=("item 0: vertex 22.1,114.1 stored, 22.2,114.1 sent",),
        reason_code="mismatch_vertex",
        reason_params={"item": 0, "stored": "22.1,114.1", "sent": "22.2,114.1"},
    )
    store.save(first)
    assert store.load() == {booking_id: first}
    later = FenceReport(
        booking_id,
        FenceState.VERIFIED,
        "38 items read back identical",
        now + timedelta(minutes=1),
        vertices=38,
        alt_max_m=60.0,
        altitude="FENCE_ALT_MAX = 60 confirmed",
        reason_code="identical",
        reason_params={"items": 38},
    )
    store.save(later)  # the newest replaces it: one row per booking
    app.state.engine.dispose()

    restarted = create_app(settings)
    assert restarted.state.telemetry.fences.reports == {booking_id: later}
    restarted.state.engine.dispose()


def test_a_fence_report_stored_before_reason_codes_reads_back_with_its_words(
    settings: Settings,
) -> None:
    """Rows of a database migrated to 0010 keep their English reason and get an
    empty code (the pages show the words as stored)."""
    settings = settings.model_copy(update={"opening_hours": "24h"})
    app = create_app(settings)
    (booking_id,) = seed_demo(app, settings, 1, datetime.now(UTC)).booking_ids
    engine = app.state.engine
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0010_fence_reports")
        connection.execute(
            sa.text(
                "INSERT INTO fence_reports (booking_id, state, reason, at_utc,"
                " vertices, altitude, differences) VALUES (:id, 'refused',"
                " 'vehicle answered MAV_MISSION_ERROR', :at, 12, 'not sent', '[]')"
            ),
            {"id": booking_id, "at": datetime.now(UTC)},
        )
    upgrade(engine)
    (report,) = SqlFenceReports(engine).load().values()
    assert report.reason == "vehicle answered MAV_MISSION_ERROR"
    assert (report.reason_code, dict(report.reason_params)) == ("", {})
    engine.dispose()
