"""KML descriptions are text: viewers render them as HTML, so free text is escaped."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET

from telemetry.reports.exports import to_kml
from telemetry.reports.replay import Replay, ReplayEvent, ReplaySample

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
    root = ET.fromstring(to_kml(replay))
    descriptions = [d.text or "" for d in root.iter(f"{KML}description")]
    assert len(descriptions) == 1
    # What a viewer renders as HTML holds no tag, only the escaped text ...
    assert "<" not in descriptions[0]
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;" in descriptions[0]
    # ... which reads back as the note itself.
    assert note in html.unescape(descriptions[0])
