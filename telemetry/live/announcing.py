"""Events and incidents out: turn state changes into ``event`` frames, open
incidents through the recorder and announce them once stored.

An incident is announced only after the recorder has persisted it (its ``on_done``
runs on the recorder's thread and is handed to the loop by ``call_in_loop``), so a
viewer never sees an incident id that is not in the database.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from airspace.monitor import ConformanceEvent, EventKind
from telemetry.incidents.model import EvidencePhase, NewIncident
from telemetry.live.frames import (
    INCIDENT_KINDS,
    conformance_details,
    conformance_message,
    event_frame,
    incident_frame,
    vertical_side,
)
from telemetry.live.incident_draft import draft_incident, evidence_builder
from telemetry.live.site_monitor import SiteMonitor
from telemetry.live.state import GatewayState, PendingEvidence
from telemetry.live.vehicles import VehicleState
from telemetry.mavlink.transports import link_key

logger = logging.getLogger(__name__)


def on_conformance_event(
    gw: GatewayState, monitor: SiteMonitor, event: ConformanceEvent, now_s: float
) -> None:
    """Raise the event of a conformance change (breach, escalation, return)."""
    v = gw.vehicles.get(str(event.drone_id))
    if v is None:
        return
    exclusion = monitor.exclusion_name(event.exclusion_index)
    message = conformance_message(v, event, exclusion)
    details = conformance_details(event)
    if exclusion is not None:
        details["exclusion"] = exclusion
    if event.kind is EventKind.CORRIDOR_EXIT_VERTICAL:
        details["side"] = vertical_side(v)
    kind = str(event.kind)
    if event.kind is EventKind.BREACH_ESCALATED and event.breach is not None:
        kind = str(event.breach)
    if event.kind is EventKind.RETURNED:
        close_occurrence(gw, v, str(event.breach), now_s, details)
    emit(gw, v, kind, event.t_s, message, details)


def emit(
    gw: GatewayState,
    v: VehicleState,
    kind: str,
    t_s: float,
    message: str,
    details: dict[str, Any],
) -> None:
    """Count and raise one event: an ``event`` frame, or an incident opened first."""
    gw.events_total[kind] += 1
    if kind not in INCIDENT_KINDS or (kind == "link_lost" and not v.flying):
        gw.hub.publish(event_frame(v, kind, t_s, message, details), v.operator_id)
        return
    if gw.recorder is None:
        announce(gw, v, kind, t_s, message, details, None, True)
        return
    if v.drone_id is None and not gw.quotas.take_incident(v.link_id, t_s):
        # Over the unregistered sysids' incident quota: still an event for viewers.
        gw.hub.publish(event_frame(v, kind, t_s, message, details), v.operator_id)
        return
    new = draft(gw, v, kind, t_s, message)
    # Copied now, built into evidence by the recorder's thread: a burst of
    # incidents (a whole fleet's link lost at once) must not stall the loop.
    snapshot = v.ring_snapshot(t_s - gw.settings.evidence_s, t_s)

    def done(incident_id: int, created: bool) -> None:
        call_in_loop(
            gw, announce, gw, v, kind, t_s, message, details, incident_id, created
        )

    gw.recorder.open_incident(
        new,
        done,
        later_evidence=evidence_builder(snapshot, EvidencePhase.BEFORE),
    )


def announce(
    gw: GatewayState,
    v: VehicleState,
    kind: str,
    t_s: float,
    message: str,
    details: dict[str, Any],
    incident_id: int | None,
    created: bool,
) -> None:
    """Publish a raised event (and its stored incident, if any) to viewers."""
    if incident_id is not None:
        gw._open_incident[(v.key, kind)] = incident_id
        logger.warning(
            "incident %d %s: %s",
            incident_id,
            "opened" if created else "repeated",
            message,
        )
        if created:
            gw._evidence.append(
                PendingEvidence(t_s + gw.settings.evidence_s, incident_id, v, t_s)
            )
        state = "open"
        gw.hub.publish(
            incident_frame(incident_id, v, kind, t_s, message, state), v.operator_id
        )
    gw.incidents_announced += 1
    gw.hub.publish(
        event_frame(v, kind, t_s, message, details, incident_id), v.operator_id
    )


def close_occurrence(
    gw: GatewayState, v: VehicleState, kind: str, t_s: float, details: dict[str, Any]
) -> None:
    """Add the ``returned`` step to the open incident of ``kind``, if stored."""
    incident_id = gw._open_incident.get((v.key, kind))
    if incident_id is not None and incident_id >= 0 and gw.recorder is not None:
        gw.recorder.add_incident_event(incident_id, t_s, "returned", details)


def draft(
    gw: GatewayState, v: VehicleState, kind: str, t_s: float, message: str
) -> NewIncident:
    """The incident to store for this event (with its link's lost frames)."""
    codec = next(
        (c for sid, c in gw.codecs.items() if link_key(sid) == v.link_id), None
    )
    seq_lost = None if codec is None else codec.counters.seq_lost_of(v.sysid)
    return draft_incident(
        v, kind, t_s, message, gw.sites.get(v.site_id or ""), seq_lost
    )


def call_in_loop(gw: GatewayState, fn: Callable[..., None], *args: Any) -> None:
    """Run ``fn(*args)`` on the event loop's thread, soon.

    Queued for the next ``ingest`` (every datagram) or ``tick``, whichever
    comes first, and the loop is woken for it too: behind a busy loop's other
    callbacks (a tick, readers with hundreds of datagrams each) a stored
    incident waited 25-35 ms to be announced.
    """
    loop = gw._loop
    if loop is None or loop.is_closed():
        fn(*args)
        return
    gw._from_threads.append(functools.partial(fn, *args))
    loop.call_soon_threadsafe(run_from_threads, gw)


def run_from_threads(gw: GatewayState) -> None:
    """Run the calls the recorder's thread handed over, in order."""
    calls = gw._from_threads
    while calls:
        try:
            calls.popleft()()
        except IndexError:  # taken meanwhile by another run on this thread
            return
        except Exception:
            logger.exception("a call handed over by the recorder failed")
