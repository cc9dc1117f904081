"""Campaign reports (issue 18 items 4 and 6) on a real app and SQLite database: a
booking's scripted recording (two flights, the second with HDOP/RSSI degraded over
water) and its post-flight form in; the JSON's numbers equal the flights API's,
the CSV has a row per flight, the HTML is one self-contained page with its
matplotlib charts, and ``skyberth report campaign`` prints the same JSON. In
Chinese (issue 19) the page, its charts and the CSV header rows are Chinese."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from telemetry.reports.campaign import CSV_COLUMNS
from telemetry.reports.campaign_charts import cjk_family
from tests.flight_script import T0, out_and_back, records, write_tlog
from tests.integration.api_world import SITE, World, api_world, drone_body, slot
from tests.integration.test_api_incidents import site_of
from web.cli import app as cli_app
from web.i18n.export_headers import BOM
from web.settings import Settings

API = "/api/v1"
ZH = "zh-Hant-HK"


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with api_world(settings) as w:
        yield w


@pytest.fixture
def campaign(world: World, settings: Settings) -> tuple[int, str, str]:
    """A booking with two recorded flights; returns its id and the period."""
    assert world.post("operator", f"{API}/drones", json=drone_body("d1", 11))
    window = slot(1, 10)
    booked = world.post(
        "operator",
        f"{API}/bookings",
        json={"site_id": SITE, "drone_id": "d1", "corridor_id": "C1", **window},
    )
    assert booked.status_code == 201, booked.text
    bid = int(booked.json()["id"])
    start = datetime.fromisoformat(window["start"])
    offset = start.timestamp() + 60 - T0
    c1 = site_of(world).corridor("C1").volume.outline
    first = out_and_back(offset)
    second = [
        dataclasses.replace(
            s,
            t_s=s.t_s + 100,
            hdop=2.5 if s.east_m < 15 else 0.8,
            rssi=90 if s.east_m < 15 else 200,
        )
        for s in out_and_back(offset)
    ]
    origin = (c1.bounds[2] - 15.0, c1.centroid.y)
    frames = records(site_of(world), first) + records(
        site_of(world), second, origin_xy=origin
    )
    write_tlog(settings.tlog_dir / SITE / f"booking-{bid}.tlog", frames)
    post = world.client.put(
        f"{API}/bookings/{bid}/forms/post_flight",
        json={"result": "completed", "emergency_procedures": ["rtl"]},
        headers=world.headers("pilot"),
    )
    assert post.status_code == 200, post.text
    period = (
        (start - timedelta(hours=1)).isoformat(),
        (start + timedelta(hours=1)).isoformat(),
    )
    return bid, *period


def url(start: str, end: str, **extra: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in extra.items())
    start, end = start.replace("+", "%2B"), end.replace("+", "%2B")
    return f"{API}/reports/campaign?from={start}&to={end}&{query}"


def test_campaign_numbers_equal_the_flights_api(
    world: World, campaign: tuple[int, str, str]
) -> None:
    bid, start, end = campaign
    report = world.get("operator", url(start, end)).json()
    flights = world.get("operator", f"{API}/bookings/{bid}/flights").json()["flights"]
    assert report["flights"] == len(flights) == 2
    hours = sum(f["flight_time_s"] for f in flights) / 3600
    assert report["flight_hours"] == pytest.approx(hours, abs=1e-4)
    assert report["distance_km"] == pytest.approx(
        sum(f["ground_distance_m"] for f in flights) / 1000, abs=1e-3
    )
    assert [
        {k: v for k, v in r.items() if k not in ("booking_id", "drone_id")}
        for r in report["flight_records"]
    ] == flights
    assert report["emergency_procedures"] == {"rtl": 1}
    assert report["conditions"]["water"]["hdop_median"]["max"] == 2.5
    assert report["time_by_terrain_s"]["water"] == pytest.approx(6.0)
    assert report["conformance"] is not None
    assert report["incidents_per_flight_hour"] == 0.0


def test_campaign_csv_and_self_contained_html_with_charts(
    world: World, campaign: tuple[int, str, str]
) -> None:
    _, start, end = campaign
    rows = list(
        csv.DictReader(
            io.StringIO(world.get("pilot", url(start, end, format="csv")).text)
        )
    )
    assert [r["number"] for r in rows] == ["1", "2"]
    assert float(rows[1]["hdop_median"]) == 2.5
    page = world.get("safety_officer", url(start, end, operator="acme", format="html"))
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    # the map, and per flight altitude/speed; the second flight also HDOP/RSSI
    assert text.count('<svg class="skyberth-chart"') == 1 + 2 + 1
    assert "corridor floor" in text
    assert "HDOP" in text
    assert "<script" not in text
    assert "<link" not in text
    for fetch in ('src="http', 'href="http', "url(http", "@import"):
        assert fetch not in text  # nothing to fetch: XML namespaces only


def test_campaign_is_the_organisations_own(
    world: World, campaign: tuple[int, str, str]
) -> None:
    _, start, end = campaign
    assert world.get("rival", url(start, end, operator="acme")).status_code == 404
    assert world.get("rival", url(start, end)).json()["flights"] == 0
    assert world.get("safety_officer", url(start, end)).status_code == 422
    assert world.get(None, url(start, end)).status_code == 401


def test_cli_prints_the_same_numbers(
    world: World, campaign: tuple[int, str, str], settings: Settings
) -> None:
    _, start, end = campaign
    api = world.get("operator", url(start, end)).json()
    env = {
        "SKYBERTH_DATA_DIR": str(settings.data_dir),
        "SKYBERTH_DATABASE_URL": settings.effective_database_url,
    }
    args = ["report", "campaign", "--operator", "acme", "--from", start, "--to", end]
    out = CliRunner().invoke(cli_app, [*args, "--format", "json"], env=env)
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == api


def test_campaign_html_and_charts_speak_the_readers_language(
    world: World, campaign: tuple[int, str, str]
) -> None:
    bid, start, end = campaign
    chinese = world.get(
        "safety_officer", url(start, end, operator="acme", format="html", lang=ZH)
    ).text
    assert chinese.startswith('<!DOCTYPE html><html lang="zh-Hant-HK">')
    for words in (
        "<h1>測試計劃報告：acme</h1>",
        "按訊號質素顯示的軌跡",
        "起飛（香港時間）",
    ):
        assert words in chinese
    assert "自動返航 1" in chinese  # the post-flight form's procedure, in words
    # matplotlib's labels: the axis, the legend, the terrain shading
    for label in ("起飛後分鐘", "飛行走廊下限", "地速（米/秒）", "水面", "經度（度）"):
        assert f">{label}<" in chinese
    if cjk_family() is not None:
        assert "font-family: 'Noto Sans CJK HK'" in chinese
    english = world.get(
        "safety_officer", url(start, end, operator="acme", format="html")
    ).text
    assert english.startswith('<!DOCTYPE html><html lang="en">')
    for words in ("<h1>Campaign report: acme</h1>", "minutes since take-off"):
        assert words in english
    assert not re.search(r"[\u4e00-\u9fff]", english)
    chart = world.get(
        "pilot", f"{API}/bookings/{bid}/flights/2/charts/signal?lang={ZH}"
    )
    assert chart.headers["content-type"] == "image/svg+xml"
    assert ">起飛後分鐘<" in chart.text
    assert "<dc:title>HDOP 及 RSSI</dc:title>" in chart.text


def test_campaign_flights_and_conformance_csv_headers_follow_the_request(
    world: World, campaign: tuple[int, str, str]
) -> None:
    bid, start, end = campaign
    codes = world.get("pilot", url(start, end, format="csv")).text
    assert codes.splitlines()[0] == ",".join(CSV_COLUMNS)
    labelled = world.get("pilot", url(start, end, format="csv", lang=ZH)).text
    first, *rest = labelled.splitlines()
    assert first.startswith(BOM + "預約,無人機,飛行次序,起飛（UTC）")
    assert rest == codes.splitlines()[1:]
    flights = f"{API}/bookings/{bid}/flights?format=csv"
    assert world.get("pilot", flights).text.startswith("number,sysid,takeoff_utc,")
    english = world.get("pilot", f"{flights}&lang=en").text
    assert english.startswith(BOM + "Flight,MAVLink system id,Take-off (UTC),")
    period = f"from={start}&to={end}".replace("+", "%2B")
    conformance = f"{API}/reports/conformance?{period}&format=csv"
    assert world.get("pilot", conformance).text.startswith("operator_id,from,to,")
    named = world.get("pilot", f"{conformance}&lang={ZH}").text
    assert named.startswith(BOM + "營運者,由（UTC）,至（UTC）,飛行器數目,")


def test_cli_report_takes_a_language(
    world: World, campaign: tuple[int, str, str], settings: Settings
) -> None:
    _, start, end = campaign
    env = {
        "SKYBERTH_DATA_DIR": str(settings.data_dir),
        "SKYBERTH_DATABASE_URL": settings.effective_database_url,
    }
    args = ["report", "campaign", "--operator", "acme", "--from", start, "--to", end]
    out = CliRunner().invoke(cli_app, [*args, "--lang", ZH], env=env)
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith('<!DOCTYPE html><html lang="zh-Hant-HK">')
    plain = CliRunner().invoke(cli_app, [*args, "--format", "csv"], env=env)
    assert plain.stdout.splitlines()[0] == ",".join(CSV_COLUMNS)
