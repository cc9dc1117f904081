"""The pages over HTTP, without a browser: routes, the security policy that keeps
the browser on this server, and every file the pages load being served."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.e2e.app_factory import build
from web.routes.pages import (
    PAGES,
    STATIC_DIR,
    PageConfig,
    content_security_policy,
    tile_origin,
)
from web.settings import Settings

ASSET = re.compile(r'(?:src|href)="(/static/[^"]+)"')
JS_IMPORT = re.compile(r'from "\./([a-z_]+\.js)"')


@pytest.fixture
def client(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("SKYBERTH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SKYBERTH_ENV", "test")
    # A port of its own: the ground-station default (14550) may be taken.
    monkeypatch.setenv("SKYBERTH_MAVLINK", '["udpin:127.0.0.1:0"]')
    with TestClient(build()) as test_client:
        yield test_client


def test_root_redirects_to_the_live_map(client: TestClient) -> None:
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "/map"


@pytest.mark.parametrize("name", PAGES)
def test_each_page_is_html_that_may_load_only_from_this_server(
    client: TestClient, name: str
) -> None:
    answer = client.get(f"/{name}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert "http" not in policy  # no other origin while tile_url is unset
    assert client.head(f"/{name}").status_code == 200


@pytest.mark.parametrize("name", PAGES)
def test_every_file_a_page_loads_is_served(client: TestClient, name: str) -> None:
    html = client.get(f"/{name}").text
    assets = ASSET.findall(html)
    assert assets, "a page loads its stylesheet and scripts from /static"
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200, f"{asset} is missing" + (
            " (run make setup: it copies Leaflet from npm)" if "vendor" in asset else ""
        )


def test_every_module_a_script_imports_exists() -> None:
    scripts = STATIC_DIR / "js"
    for script in scripts.glob("*.js"):
        for imported in JS_IMPORT.findall(script.read_text(encoding="utf-8")):
            assert (scripts / imported).is_file(), f"{script.name} imports {imported}"


def test_the_land_layer_ships_with_its_attribution(client: TestClient) -> None:
    land = client.get("/static/basemap/hk_land.geojson").json()
    assert "GSHHG" in land["attribution"]
    assert "LGPL" in land["attribution"]
    (feature,) = land["features"]
    assert feature["geometry"]["type"] == "MultiPolygon"
    west, south, east, north = land["bbox"]
    for polygon in feature["geometry"]["coordinates"]:
        for lon, lat in polygon[0]:
            assert west <= lon <= east
            assert south <= lat <= north


def test_the_map_stays_offline_unless_a_tile_server_is_configured(
    client: TestClient,
) -> None:
    assert client.get("/ui/config.json").json()["tile_url"] == ""


def test_an_opted_in_tile_server_is_the_one_other_image_origin() -> None:
    config = PageConfig(tile_url="https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png")
    policy = content_security_policy(config)
    assert "img-src 'self' data: blob: https://*.tile.openstreetmap.org;" in policy
    assert "connect-src 'self';" in policy


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "file:///etc/passwd", "tiles/{z}/{x}/{y}.png", ""]
)
def test_a_tile_url_that_is_not_http_adds_no_origin(url: str) -> None:
    assert tile_origin(url) is None
    assert "img-src 'self' data: blob:;" in content_security_policy(
        PageConfig(tile_url=url)
    )
