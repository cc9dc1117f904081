"""The sites API, in-process and as a real server started by the CLI."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from booking.model import Role
from tests.conftest import free_port
from tests.integration.api_world import PASSWORD, api_world, password_hash
from web.app import create_app
from web.db import make_engine
from web.migrate import upgrade
from web.settings import Settings
from web.users import add_user


def test_lists_the_demo_site_with_its_feature_counts(settings: Settings) -> None:
    with api_world(settings) as world:
        response = world.get("pilot", "/api/v1/sites")
    assert response.status_code == 200
    (site,) = response.json()
    assert site["metric_crs"] == "EPSG:2326"
    assert site["pads"] >= 4
    assert site["corridors"] >= 3


def test_serves_a_site_as_geojson_in_lon_lat(settings: Settings) -> None:
    with api_world(settings) as world:
        site_id = world.get("pilot", "/api/v1/sites").json()[0]["id"]
        collection = world.get("pilot", f"/api/v1/sites/{site_id}").json()
    assert collection["type"] == "FeatureCollection"
    kinds = {f["properties"]["kind"] for f in collection["features"]}
    assert {"site", "pad", "corridor", "exclusion"} <= kinds
    lon, lat = next(
        f["geometry"]["coordinates"]
        for f in collection["features"]
        if f["properties"]["kind"] == "site"
    )
    assert 114.0 < lon < 114.3
    assert 22.1 < lat < 22.4


def test_unknown_site_is_a_404_that_names_it(settings: Settings) -> None:
    with api_world(settings) as world:
        response = world.get("pilot", "/api/v1/sites/nowhere")
    assert response.status_code == 404
    assert "nowhere" in response.json()["detail"]


def test_sites_and_their_closures_need_a_token(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        for path in ("/api/v1/sites", "/api/v1/sites/cyberport-pier"):
            response = client.get(path)
            assert response.status_code == 401, path
            assert "not authenticated" in response.json()["detail"]


@pytest.mark.slow
def test_skyberth_serve_answers_over_real_http(tmp_path: Path) -> None:
    port = free_port()
    engine = make_engine(f"sqlite:///{tmp_path / 'skyberth.sqlite3'}")
    upgrade(engine)
    add_user(
        engine,
        "pilot",
        Role.PILOT,
        PASSWORD,
        datetime.now(UTC),
        "acme",
        password_hash=password_hash(),
    )
    engine.dispose()
    env = {
        "SKYBERTH_DATA_DIR": str(tmp_path),
        "SKYBERTH_MAVLINK": '["udpin:127.0.0.1:0"]',
        "PATH": "/usr/bin:/bin",
    }
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx2.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert response.json() == {"status": "ok"}
        base = f"http://127.0.0.1:{port}/api/v1"
        issued = httpx2.post(
            f"{base}/auth/token",
            data={"username": "pilot", "password": PASSWORD},
            timeout=10,
        ).json()
        bearer = {"Authorization": f"Bearer {issued['access_token']}"}
        sites = httpx2.get(f"{base}/sites", headers=bearer, timeout=5).json()
        assert len(sites) == 1
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
