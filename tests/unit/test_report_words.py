"""The reports' words (issue 19): which language a request gets, how a report
writes its times, the CSV header rows, every report key in both catalogues, and the
incident report rendered in each language from the same replay."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from matplotlib.figure import Figure

from airspace.site import CorridorId, SiteId
from booking.audit_chain import AuditLine
from booking.model import BookingId, DroneId, OperatorId
from telemetry.flights import flights_csv
from telemetry.incidents.model import (
    Incident,
    IncidentId,
    IncidentKind,
    IncidentState,
    Severity,
    VolumeSnapshot,
)
from telemetry.reports import (
    campaign,
    campaign_charts,
    conformance_report,
    exports,
    incident_report,
)
from telemetry.reports.replay import Replay, ReplayEvent, ReplaySample
from web.i18n import LANGUAGES, catalogue
from web.i18n.export_headers import BOM, relabel_csv
from web.i18n.report_words import report_words, sites_zone, zone_of
from web.i18n.request_language import choose_language

HK = ZoneInfo("Asia/Hong_Kong")
ZH = "zh-Hant-HK"
T0 = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC, 19:06:40 in Hong Kong
REPORTS = Path(incident_report.__file__).parent


@pytest.mark.parametrize(
    ("explicit", "stored", "accept", "language", "asked"),
    [
        (None, None, None, "en", False),
        (None, None, "zh-HK,zh;q=0.9", ZH, False),
        (None, "en", "zh-HK", "en", True),
        (None, ZH, "en-GB", ZH, True),
        ("en", ZH, "zh-HK", "en", True),
        (ZH, "en", None, ZH, True),
        (None, "fr", "zh-TW", ZH, False),  # a stored tag no longer served
    ],
)
def test_lang_query_beats_the_stored_language_which_beats_accept_language(
    explicit: str | None,
    stored: str | None,
    accept: str | None,
    language: str,
    asked: bool,
) -> None:
    chosen = choose_language(explicit, stored, accept)
    assert (chosen.language, chosen.asked) == (language, asked)


def test_times_are_written_in_the_sites_zone_as_each_language_writes_them() -> None:
    t = datetime.fromtimestamp(T0, UTC)
    assert report_words("en", HK).when(t) == "18 Nov 2026 19:06:40"
    assert report_words(ZH, HK).when(t) == "2026年11月18日 19:06:40"
    assert report_words("en").when(t) == "18 Nov 2026 11:06:40"
    assert report_words("en", HK).zone_name == "HKT"
    assert report_words(ZH, HK).zone_name == "香港時間"
    assert report_words(ZH).zone_name == "UTC"
    assert report_words("fr", HK).language == "en"


def test_a_report_over_several_sites_uses_their_zone_only_when_they_share_it() -> None:
    assert zone_of("Asia/Hong_Kong") == HK
    assert zone_of("Nowhere/Atlantis") is UTC
    assert zone_of(None) is UTC
    assert sites_zone({}) is UTC


def _csv_column_sets() -> dict[str, tuple[str, ...]]:
    return {
        "positions": tuple(exports.CSV_COLUMNS),
        "conformance": tuple(conformance_report.CSV_COLUMNS),
        "campaign": tuple(campaign.CSV_COLUMNS),
        "flights": tuple(flights_csv([]).strip().split(",")),
    }


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_csv_column_has_a_name_in_both_languages(language: str) -> None:
    names = catalogue(language)
    missing = {
        export: [c for c in columns if f"column.{c}" not in names]
        for export, columns in _csv_column_sets().items()
    }
    assert missing == {export: [] for export in missing}


def test_relabelling_changes_the_header_row_only() -> None:
    text = "t_utc,state,no_such_code\n2026-11-18T11:06:40Z,inside,1\n"
    assert relabel_csv(text, ZH) == (
        BOM + "時間（UTC）,合規狀態,no_such_code\n2026-11-18T11:06:40Z,inside,1\n"
    )


_KEY = re.compile(r"""["'](report\.[a-z_.]+[a-z]|chart\.[a-z_]+)["']""")
_FAMILY = re.compile(r"""f["']report\.(fact|campaign)\.\{key\}["']""")
_LABEL = re.compile(r"""\blabel\(["']([a-z_]+)["']\)""")


def test_every_key_the_reports_use_is_in_both_catalogues() -> None:
    """``translate`` shows a missing key as the key itself: a typo would print."""
    used: set[str] = set()
    for source in REPORTS.glob("*.py"):
        text = source.read_text(encoding="utf-8")
        used |= {m.group(1) for m in _KEY.finditer(text)}
        families = {m.group(1) for m in _FAMILY.finditer(text)}
        for label in _LABEL.findall(text):
            used |= {f"report.{family}.{label}" for family in families}
    used -= {"report.event"}  # a family: term() falls back to the event's code
    assert len(used) > 100
    for language in LANGUAGES:
        assert used - set(catalogue(language)) == set(), language


def _replay() -> tuple[Replay, list[AuditLine]]:
    at = datetime.fromtimestamp(T0, UTC)
    ring = [[114.128, 22.26], [114.13, 22.26], [114.13, 22.262], [114.128, 22.26]]
    volume = VolumeSnapshot({"type": "Polygon", "coordinates": [ring]}, 20.0, 90.0)
    incident = Incident(
        IncidentId(7),
        SiteId("pier"),
        IncidentKind("corridor_exit_lateral"),
        Severity("breach"),
        IncidentState("closed"),
        at,
        at,
        at,
        "sysid:7",
        7,
        DroneId("d1"),
        OperatorId("acme"),
        BookingId(3),
        CorridorId("C1"),
        "left C1",
        {"near_edge_m": 5},
        volume,
        {"rssi": 90},
        2,
        at,
        "k",
        None,
        "weather",
        "Gust; recovered.",
    )
    samples = tuple(
        ReplaySample(
            T0 + i,
            22.2605 + i * 1e-4,
            114.129,
            40.0 + i,
            35.0,
            5.0,
            90.0,
            "inside" if i < 5 else "outside_lateral",
            "before" if i < 5 else "after",
        )
        for i in range(10)
    )
    events = (
        ReplayEvent(T0 + 5, "opened", 7, None, {"near_edge_m": 5}),
        ReplayEvent(T0 + 7, "note", 7, "safety", {"note": "wind"}),
    )
    audit = [
        AuditLine(
            at, "safety", "safety_officer", "incident.closed", "incident:7", "", "ab"
        )
    ]
    replay = Replay("incident", 7, "Incident 7", samples, events, volume, (incident,))
    return replay, audit


def _render(language: str, zone: ZoneInfo | None = None) -> str:
    replay, audit = _replay()
    words = report_words(language, zone or UTC)
    at = datetime.fromtimestamp(T0 + 60, UTC)
    return incident_report.render_report(
        replay, words=words, audit=audit, generated_at=at
    )


def test_english_report_keeps_its_words_and_reads_times_in_the_given_zone() -> None:
    page = _render("en")
    assert page.startswith('<!DOCTYPE html><html lang="en">')
    for text in (
        "<h1>Incident 7: corridor exit (lateral), drone d1</h1>",
        "All times UTC; altitudes in metres above mean sea level.",
        "<h2>Facts</h2>",
        "<th>Opened (UTC)</th><td>18 Nov 2026 11:06:40</td>",
        "<th>Assignee</th><td>unassigned</td>",
        "<th>Floor (m AMSL)</th><td>20</td>",
        "<h2>Rule and thresholds</h2>",
        "<h2>Audit trail (who did what)</h2>",
        "<th>Time (UTC)</th><th>Incident</th><th>Event</th>",
        "Evidence: 5 position(s) before the incident opened and 5 after.",
        "(safety officer)",
        "incident.closed",  # audit actions are records: as written
    ):
        assert text in page
    in_hong_kong = _render("en", HK)
    assert "<th>Opened (HKT)</th><td>18 Nov 2026 19:06:40</td>" in in_hong_kong


def test_chinese_report_has_chinese_headings_and_no_english_words() -> None:
    page = _render(ZH, HK)
    assert page.startswith('<!DOCTYPE html><html lang="zh-Hant-HK">')
    for text in (
        "<h1>事故 7：偏離飛行走廊（水平），無人機 d1</h1>",
        "<h2>基本資料</h2>",
        "<th>開立時間（香港時間）</th><td>2026年11月18日 19:06:40</td>",
        "<th>負責人</th><td>未指派</td>",
        "<h2>審計記錄（誰做了甚麼）</h2>",
        "證據：事故開立前 5 個位置，開立後 5 個。",
        "（安全主任）",
        'aria-label="軌跡及指定空域的地圖"',
    ):
        assert text in page
    visible = re.sub(r"<style>.*?</style>|<[^>]+>", " ", page, flags=re.S)
    # Left in Latin letters: data (ids, codes, the rule's figures, what people
    # wrote, the audit's records), the product's name and units.
    data = r"SkyBerth|MAVLink|sysid|pier|acme|near_edge_m|rssi|weather|left C1|Gust; "
    data += r"recovered\.|wind|safety|incident\.closed|incident:7|corridor:C1|\bkm\b"
    assert re.findall(r"[A-Za-z]{3,}", re.sub(data, " ", visible)) == []


def test_a_chinese_chart_without_a_cjk_font_is_drawn_without_warnings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(campaign_charts, "cjk_family", lambda: None)
    words = report_words(ZH)
    with campaign_charts._style(words):
        fig = Figure(figsize=(3, 2))
        fig.add_subplot().set_xlabel(words("chart.minutes_since_takeoff"))
        fig.tight_layout()  # pytest turns a missing-glyph warning into an error
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
    assert "起飛後分鐘" in buf.getvalue()
