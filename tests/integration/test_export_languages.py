"""Reports and exports in the reader's language (issue 19), on a real app and
SQLite database: ``?lang=`` wins over the language the user stored, which wins over
``Accept-Language``; the HTML report is Chinese throughout with ``lang="zh-Hant-HK"``
and times in the site's zone; English keeps its headings; a CSV's header row is
codes unless a language was asked for; GeoJSON keys never change; the bookings'
calendar is in the reader's language."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from typer.testing import CliRunner

from telemetry.reports.exports import CSV_COLUMNS
from tests.integration.api_world import SITE, World, api_world, drone_body, slot
from tests.integration.incident_scenario import StoredIncident, store_drifting_incident
from tests.integration.test_api_incidents import ensure_routes, incidents_of, site_of
from web.cli_export import export_app
from web.i18n import catalogue
from web.i18n.export_headers import BOM
from web.settings import Settings

API = "/api/v1"
KML = "{http://www.opengis.net/kml/2.2}"
ZH = "zh-Hant-HK"
ENGLISH_HEADINGS = (
    "<h2>Facts</h2>",
    "<h2>Map</h2>",
    "<h2>Altitude profile</h2>",
    "<h2>Rule and thresholds</h2>",
    "<h2>Link quality at the time</h2>",
    "<h2>Notes and closing summary</h2>",
    "<h2>Timeline</h2>",
    "<h2>Audit trail (who did what)</h2>",
)
CHINESE_HEADINGS = (
    "<h2>基本資料</h2>",
    "<h2>地圖</h2>",
    "<h2>高度剖面</h2>",
    "<h2>規則及門檻</h2>",
    "<h2>當時的通訊鏈路質素</h2>",
    "<h2>備註及結案摘要</h2>",
    "<h2>時序</h2>",
    "<h2>審計記錄（誰做了甚麼）</h2>",
)


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with api_world(settings) as w:
        ensure_routes(w.app)
        yield w


@pytest.fixture
def stored(world: World) -> StoredIncident:
    found = store_drifting_incident(incidents_of(world), site_of(world))
    for action, body in [
        ("acknowledge", {"note": "seen live"}),
        ("investigate", {}),
        ("close", {"summary": "Gust; pilot recovered.", "root_cause": "weather"}),
    ]:
        response = world.post(
            "safety_officer", f"{API}/incidents/{found.incident_id}/{action}", json=body
        )
        assert response.status_code == 200, response.text
    return found


def report(
    world: World, stored: StoredIncident, who: str, query: str = "", **headers: str
) -> str:
    url = f"{API}/incidents/{stored.incident_id}/export?format=html{query}"
    response = world.client.get(url, headers={**world.headers(who), **headers})
    assert response.status_code == 200, response.text
    text: str = response.text
    return text


def store_language(world: World, who: str, language: str | None) -> None:
    response = world.client.put(
        f"{API}/me/language", json={"language": language}, headers=world.headers(who)
    )
    assert response.status_code == 200, response.text


def site_time(world: World, stored: StoredIncident, language: str) -> str:
    """The incident's opening in the site's zone, as the report writes it."""
    local = stored.opened_at.astimezone(ZoneInfo(site_of(world).timezone))
    if language == ZH:
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M:%S}"
    return f"{local.day} {local:%b %Y %H:%M:%S}"


def test_report_in_chinese_has_chinese_headings_lang_and_site_times(
    world: World, stored: StoredIncident
) -> None:
    page = report(world, stored, "operator", f"&lang={ZH}")
    assert page.startswith('<!DOCTYPE html><html lang="zh-Hant-HK">')
    url = f"{API}/incidents/{stored.incident_id}/export?format=html&lang={ZH}"
    assert world.get("operator", url).headers["content-language"] == ZH
    for heading in CHINESE_HEADINGS:
        assert heading in page
    assert "<th>開立時間（香港時間）</th>" in page
    assert site_time(world, stored, ZH) in page
    assert "所有時間均為香港時間" in page
    assert "偏離飛行走廊" in page  # the incident's kind, in words
    assert "已結案" in page  # its state
    assert "Gust; pilot recovered." in page  # what people wrote stays as written
    shown = re.sub(r"<style>.*?</style>|<[^>]+>", " ", page, flags=re.S)
    for english in ("Facts", "Timeline", "Opened", "Severity", "Audit trail", "none"):
        assert english not in shown


def test_report_in_english_keeps_its_headings(
    world: World, stored: StoredIncident
) -> None:
    page = report(world, stored, "operator")
    assert page.startswith('<!DOCTYPE html><html lang="en">')
    for heading in ENGLISH_HEADINGS:
        assert heading in page
    assert "<th>Opened (HKT)</th>" in page
    assert site_time(world, stored, "en") in page
    assert not re.search(r"[\u4e00-\u9fff]", page)


def test_lang_query_beats_stored_language_which_beats_accept_language(
    world: World, stored: StoredIncident
) -> None:
    chinese = {"Accept-Language": "zh-HK,zh;q=0.9"}
    assert 'lang="zh-Hant-HK"' in report(world, stored, "operator", **chinese)
    store_language(world, "operator", "en")
    assert 'lang="en"' in report(world, stored, "operator", **chinese)
    assert 'lang="zh-Hant-HK"' in report(world, stored, "operator", f"&lang={ZH}")
    store_language(world, "operator", ZH)
    assert 'lang="zh-Hant-HK"' in report(world, stored, "operator")
    assert 'lang="en"' in report(world, stored, "operator", "&lang=en")
    assert 'lang="en"' in report(world, stored, "site_admin")  # another user's own
    refused = world.get("operator", f"{API}/incidents/1/export?format=html&lang=fr")
    assert refused.status_code == 422


def csv_rows(world: World, who: str, url: str) -> list[list[str]]:
    response = world.get(who, url)
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text)))


def test_csv_header_row_is_codes_unless_a_language_is_asked_for(
    world: World, stored: StoredIncident
) -> None:
    url = f"{API}/incidents/{stored.incident_id}/export?format=csv"
    codes = csv_rows(world, "operator", url)
    assert codes[0] == list(CSV_COLUMNS)
    chinese = csv_rows(world, "operator", f"{url}&lang={ZH}")
    names = catalogue(ZH)
    assert chinese[0] == [BOM + names["column.t_utc"]] + [
        names[f"column.{code}"] for code in CSV_COLUMNS[1:]
    ]
    assert chinese[0][0] == BOM + "時間（UTC）"
    assert chinese[1:] == codes[1:]  # only the header row changes
    english = csv_rows(world, "operator", f"{url}&lang=en")
    assert english[0][:3] == [BOM + "Time (UTC)", "Time (Unix s)", "Latitude (deg)"]
    # The browser's header alone does not change what a script parses ...
    accept = world.client.get(
        url, headers={**world.headers("operator"), "Accept-Language": "zh-HK"}
    )
    assert next(csv.reader(io.StringIO(accept.text))) == list(CSV_COLUMNS)
    # ... a stored language does, unless the request keeps the codes.
    store_language(world, "operator", ZH)
    assert csv_rows(world, "operator", url)[0] == chinese[0]
    assert csv_rows(world, "operator", f"{url}&header=codes")[0] == list(CSV_COLUMNS)
    labels = csv_rows(world, "site_admin", f"{url}&header=labels")
    assert labels[0][0] == BOM + "Time (UTC)"


def test_geojson_keys_stay_codes_and_kml_names_follow_the_language(
    world: World, stored: StoredIncident
) -> None:
    url = f"{API}/incidents/{stored.incident_id}/export"
    english = world.get("operator", f"{url}?format=geojson").json()
    chinese = world.get("operator", f"{url}?format=geojson&lang={ZH}").json()
    assert chinese == english
    kml = ET.fromstring(world.get("operator", f"{url}?format=kml&lang={ZH}").content)
    folders = {f.findtext(f"{KML}name") for f in kml.iter(f"{KML}Folder")}
    assert {"指定空域", "軌跡", "事件"} <= folders
    assert (kml.findtext(f"{KML}Document/{KML}name") or "").startswith("事故 ")


def test_cli_export_takes_a_language(
    world: World, stored: StoredIncident, settings: Settings, tmp_path: Path
) -> None:
    env = {
        "SKYBERTH_DATA_DIR": str(settings.data_dir),
        "SKYBERTH_DATABASE_URL": settings.effective_database_url,
    }
    iid = str(stored.incident_id)
    runner = CliRunner()
    html = tmp_path / "report.html"
    args = ["incident", iid, "-f", "html", "-o", str(html), "--lang", ZH]
    result = runner.invoke(export_app, args, env=env)
    assert result.exit_code == 0, result.output
    assert '<html lang="zh-Hant-HK">' in html.read_text(encoding="utf-8")
    english = tmp_path / "report-en.html"
    result = runner.invoke(
        export_app, ["incident", iid, "-f", "html", "-o", str(english)], env=env
    )
    assert result.exit_code == 0, result.output
    assert "<h2>Facts</h2>" in english.read_text(encoding="utf-8")
    labelled = tmp_path / "zh.csv"
    args = ["incident", iid, "-f", "csv", "-o", str(labelled), "--lang", ZH]
    assert runner.invoke(export_app, args, env=env).exit_code == 0
    api = world.get("operator", f"{API}/incidents/{iid}/export?format=csv&lang={ZH}")
    assert labelled.read_bytes() == api.content


def test_the_bookings_calendar_speaks_the_readers_language(world: World) -> None:
    assert world.post("operator", f"{API}/drones", json=drone_body("d1", 7))
    booked = world.post(
        "operator",
        f"{API}/bookings",
        json={"site_id": SITE, "drone_id": "d1", "corridor_id": "C1", **slot(1, 10)},
    )
    assert booked.status_code == 201, booked.text
    english = Calendar.from_ical(world.get("operator", f"{API}/bookings.ics").content)
    assert str(english["x-wr-calname"]) == "SkyBerth bookings"
    (event,) = english.walk("VEVENT")
    assert str(event["summary"]).startswith("Drone d1: ")
    assert str(event["summary"]).endswith("corridor C1 (pending)")
    chinese = Calendar.from_ical(
        world.get("operator", f"{API}/bookings.ics?lang={ZH}").content
    )
    (event,) = chinese.walk("VEVENT")
    assert str(chinese["x-wr-calname"]) == "SkyBerth 預約"
    assert str(event["summary"]).startswith("無人機 d1：")
    assert str(event["summary"]).endswith("飛行走廊 C1（待批准）")
    assert str(event["description"]).startswith(f"預約 {booked.json()['id']}，")
    assert str(event["status"]) == "TENTATIVE"  # the protocol's own word
