"""Every code the live stream and the incident API send has its words in the catalogue.

The pages say events, incidents, drone states and the workflow's values in the
page language from these codes (``web/static/js/event_sentences.js``,
``drone_layer.js``, ``incident_page.js``); a code added on the server without its
words would show as the English ``message`` or as the bare code.
"""

from __future__ import annotations

import pytest

from telemetry.incidents.model import IncidentKind, IncidentState, Severity
from telemetry.incidents.workflow import RootCause
from telemetry.live.frames import INCIDENT_KINDS, INFO_KINDS, WARNING_KINDS
from telemetry.live.site_monitor import STATE_NAMES
from web.i18n import LANGUAGES, catalogue

EVENT_KINDS = sorted(
    INCIDENT_KINDS | WARNING_KINDS | INFO_KINDS | {"vessel_in_corridor"}
)
"""What an ``event`` frame's ``kind`` can be (docs/live-stream.md); a vessel in a
corridor's water is raised by the vessel picture, outside these sets."""


def _has(key: str, language: str) -> bool:
    messages = catalogue(language)
    return key in messages or f"{key}.other" in messages


@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_every_event_kind_has_a_sentence_and_a_name(kind: str, language: str) -> None:
    assert _has(f"says.event.{kind}", language)
    assert _has(f"incident.kind.{kind}", language) or _has(
        f"says.kind.{kind}", language
    )


@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("kind", [str(k) for k in IncidentKind])
def test_every_incident_kind_has_a_sentence(kind: str, language: str) -> None:
    assert _has(f"says.incident.{kind}", language)


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_drone_state_and_workflow_value_has_its_words(language: str) -> None:
    wanted = [f"drone.state.{s}" for s in set(STATE_NAMES.values())]
    wanted += [f"incident.state.{s}" for s in IncidentState]
    wanted += [f"incident.severity.{s}" for s in Severity]
    wanted += [f"incident_page.root_cause.{c}" for c in RootCause]
    assert [key for key in wanted if not _has(key, language)] == []
