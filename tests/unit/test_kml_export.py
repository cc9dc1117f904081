"""KML export: free text in descriptions is escaped (viewers render HTML); vessels
are a folder of tracks; names for people follow the reader's language."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET

from telemetry.live.frames import utc_iso
from telemetry.reports.exports import to_kml
from telemetry.reports.replay import Replay, ReplayEvent, ReplaySample
from telemetry.reports.vessel_tracks import VesselTrack
from web.i18n.report_words import report_words

ENGLISH = report_words("en")

KML = "{http://www.opengis.net/kml/2.2}"
T0 = 1_795_000_000.0


def sample(dt_s: float) -> ReplaySample:
    return ReplaySample(T0 + dt_s, 22.26, 114.13, 40.0, 35.0, 5.0, 90.0, "inside")


def test_event_details_go_into_the_description_html_escaped() -> None:
    note = "<img src=x onerror=alert(1)> & <b>drone</b>"
    replay = Replay(
        subject="incident",
        subject_id=7,
        title="Incident 7",
        samples=(sample(0), sample(1)),
        events=(ReplayEvent(T0 + 0.5, "opened", 7, None, {"drone_name": note}),),
        volume=None,
    )
    root = ET.fromstring(to_kml(replay, ENGLISH))
    descriptions = [d.text or "" for d in root.iter(f"{KML}description")]
    assert len(descriptions) == 1
    # What a viewer renders as HTML holds no tag, only the escaped text ...
    assert "<" not in descriptions[0]
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;" in descriptions[0]
    # ... which reads back as the note itself.
    assert note in html.unescape(descriptions[0])


def test_vessels_become_a_folder_of_time_spanned_tracks_at_sea_level() -> None:
    ferry = VesselTrack(
        477000001,
        "NEW WORLD FIRST FERR",
        ((T0, 22.25, 114.10, 15.0, 90.0), (T0 + 10, 22.25, 114.101, 15.0, 90.0)),
    )
    heard_once = VesselTrack(477000002, None, ((T0, 22.26, 114.12, 0.0, None),))
    replay = Replay(
        subject="incident",
        subject_id=8,
        title="Incident 8",
        samples=(sample(0), sample(1)),
        events=(),
        volume=None,
        vessels=(ferry, heard_once),
    )
    root = ET.fromstring(to_kml(replay, ENGLISH))
    [folder] = [
        f for f in root.iter(f"{KML}Folder") if f.findtext(f"{KML}name") == "Vessels"
    ]
    # one track per vessel with two positions or more, as in GeoJSON
    [mark] = folder.findall(f"{KML}Placemark")
    assert mark.findtext(f"{KML}name") == "NEW WORLD FIRST FERR"
    assert mark.findtext(f"{KML}styleUrl") == "#vessel"
    data = {d.get("name"): d.findtext(f"{KML}value") for d in mark.iter(f"{KML}Data")}
    assert data == {"mmsi": "477000001", "name": "NEW WORLD FIRST FERR"}
    assert mark.findtext(f"{KML}TimeSpan/{KML}begin") == utc_iso(T0)
    assert mark.findtext(f"{KML}TimeSpan/{KML}end") == utc_iso(T0 + 10)
    line = mark.find(f"{KML}LineString")
    assert line is not None
    assert line.findtext(f"{KML}altitudeMode") == "clampToGround"
    coords = [c.split(",") for c in (line.findtext(f"{KML}coordinates") or "").split()]
    assert [(float(x), float(y), float(z)) for x, y, z in coords] == [
        (114.10, 22.25, 0.0),
        (114.101, 22.25, 0.0),
    ]


def test_names_and_descriptions_follow_the_language_and_data_keys_stay_codes() -> None:
    ferry = VesselTrack(
        477000001,
        None,
        ((T0, 22.25, 114.10, 15.0, 90.0), (T0 + 10, 22.25, 114.1, 0, 0)),
    )
    replay = Replay(
        subject="incident",
        subject_id=9,
        title="Incident 9",
        samples=(sample(0), sample(1)),
        events=(ReplayEvent(T0 + 0.5, "opened", 9, None, {"near_edge_m": 5}),),
        volume=None,
        vessels=(ferry,),
    )
    chinese = report_words("zh-Hant-HK")
    root = ET.fromstring(to_kml(replay, chinese, title="事故 9"))
    assert root.findtext(f"{KML}Document/{KML}name") == "事故 9"
    folders = [f.findtext(f"{KML}name") for f in root.iter(f"{KML}Folder")]
    assert folders == ["軌跡", "事件", "船隻"]
    [event] = [
        m for m in root.iter(f"{KML}Placemark") if m.find(f"{KML}TimeStamp") is not None
    ]
    assert event.findtext(f"{KML}name") == "開立（事故 9）"
    description = html.unescape(event.findtext(f"{KML}description") or "")
    assert description.startswith(chinese.when(replay.events[0].t_utc))
    assert '"near_edge_m": 5' in description  # the details' keys are data
    data = {d.get("name") for d in root.iter(f"{KML}Data")}
    assert data == {"mmsi", "name"}
    english = ET.fromstring(to_kml(replay, ENGLISH))
    assert [f.findtext(f"{KML}name") for f in english.iter(f"{KML}Folder")] == [
        "Track",
        "Events",
        "Vessels",
    ]
