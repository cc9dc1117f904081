"""The gateway's tick: every ``tick_s`` on the event loop, the batched work.

Take the vehicles with a fresh position, bind them if due (``binding``), queue the
flying ones for their site's conformance check and check the due sites, apply the
pure vehicle checks (``checks``) and raise their events (``announcing``), then
publish, hand evidence and recordings over (``output``). Every ``link_check_s``
each vehicle's silence is checked, and whether its booking's flight is over.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Final

from airspace.conformance import ConformanceState
from telemetry.live import checks
from telemetry.live.announcing import emit, on_conformance_event, run_from_threads
from telemetry.live.binding import bind, bind_new
from telemetry.live.frames import vehicle_motion
from telemetry.live.output import (
    due_evidence,
    flush_tlog,
    forget_silent,
    publish_changed,
    sample_track,
)
from telemetry.live.state import GatewayState
from telemetry.live.vehicles import VehicleState

logger = logging.getLogger(__name__)

BREACHING: Final = int(ConformanceState.OUTSIDE_VERTICAL)
"""State codes from here up are breaches (confirmed after ``confirm_samples``)."""


async def run(gw: GatewayState) -> None:
    """Tick every ``tick_s`` until cancelled; a failing tick is logged."""
    gw._loop = asyncio.get_running_loop()
    period = gw.settings.tick_s
    next_at = time.monotonic()
    while True:
        try:
            tick(gw, gw.clock())
        except Exception:
            logger.exception("gateway tick failed; continuing")
        next_at += period
        delay = next_at - time.monotonic()
        if delay < 0:
            next_at = time.monotonic()
            delay = 0
        await asyncio.sleep(delay)


def tick(gw: GatewayState, now_s: float) -> None:
    """One batch: bind, evaluate, raise events, publish, record.

    Only vehicles with a new position are visited (``_fresh``, filled by
    ``ingest``); every vehicle's silence is checked each ``link_check_s``.
    """
    started = time.perf_counter()
    gw.ticks += 1
    if gw._from_threads:
        run_from_threads(gw)
    if now_s - gw._link_checked_s >= gw.settings.link_check_s:
        gw._link_checked_s = now_s
        for vehicle in list(gw.vehicles.values()):
            if not vehicle.is_gcs:
                check_link(gw, vehicle, now_s)
                check_landed(gw, vehicle, now_s)
    bind_new(gw, now_s)
    queue_fresh(gw, now_s)
    evaluate_due(gw, now_s)
    check_spoofing(gw, now_s)
    if now_s - gw._published_s >= gw.settings.live_interval_s:
        gw._published_s = now_s
        publish_changed(gw, now_s)
    due_evidence(gw, now_s)
    if now_s - gw._tlog_flushed_s >= gw.settings.tlog_flush_s:
        flush_tlog(gw, now_s)
    forget_silent(gw, now_s)
    gw.tick_seconds_last = time.perf_counter() - started
    gw.tick_seconds_max = max(gw.tick_seconds_max, gw.tick_seconds_last)


def request_tick(gw: GatewayState, site_id: str, key: str) -> None:
    """Tick as soon as the event loop is free if vehicle ``key`` has a breach
    awaiting confirmation (none open yet): the tick checks its site at once
    (``queue_fresh`` marks it urgent). Nothing without a running loop (tests and
    benchmarks drive ``tick`` themselves)."""
    loop = gw._loop
    monitor = gw.monitors.get(site_id)
    if loop is None or monitor is None or monitor.monitor.open_breach(key) is not None:
        return
    gw._prompt_tick = True
    loop.call_soon(_prompt_tick, gw)


def _prompt_tick(gw: GatewayState) -> None:
    gw._prompt_tick = False
    try:
        tick(gw, gw.clock())
    except Exception:
        logger.exception("gateway tick failed; continuing")


def queue_fresh(gw: GatewayState, now_s: float) -> None:
    """Take every vehicle with a new position: bind it if due, queue a flying
    one for its site's next check, and run the per-position checks."""
    fresh = gw._fresh
    gw._fresh = {}
    awaiting = gw._awaiting
    tracks = gw._tracks
    for vehicle in fresh.values():
        if vehicle.is_gcs or not vehicle.position_pending:
            continue
        if vehicle.link_lost:
            check_link(gw, vehicle, now_s)
        vehicle.position_pending = False
        if (
            vehicle.bound_version != gw._directory_version
            or now_s >= vehicle.bound_until_s
            # Its first position places it at once: bound before its first fix,
            # an unregistered vehicle had no site, and waiting for the rebind
            # would leave its first second of flight unchecked (and a strict
            # site could not refuse it yet).
            or not vehicle.bound_placed
        ) and not bind(gw, vehicle, now_s):
            continue
        if vehicle.site_id is None:
            gw._changed.add(vehicle.key)
            continue
        if vehicle.flying:
            # Published once checked (``evaluate_due``), so a position never
            # goes out with the state of the one before.
            site_waiting = awaiting.get(vehicle.site_id)
            if site_waiting is None:
                site_waiting = awaiting[vehicle.site_id] = {}
            site_waiting[vehicle.key] = vehicle
            if (
                vehicle.state_code >= BREACHING
                and gw.monitors[vehicle.site_id].monitor.open_breach(vehicle.key)
                is None
            ):
                gw._urgent.add(vehicle.site_id)
        else:
            gw._changed.add(vehicle.key)
            if vehicle.conformance != "on_ground":
                vehicle.conformance = "on_ground"
                vehicle.state_code = -1
                vehicle.seconds_to_exit = vehicle.lateral_margin_m = None
                gw.monitors[vehicle.site_id].forget(vehicle.key)
        check_battery(gw, vehicle, now_s)
        check_fence(gw, vehicle, now_s)
        sample_track(gw, vehicle, tracks)


def evaluate_due(gw: GatewayState, now_s: float) -> None:
    """Check the waiting positions of every site that is due (see settings)."""
    every_s, batch = gw.settings.evaluate_every_s, gw.settings.evaluate_batch
    urgent = gw._urgent
    for site_id, waiting in gw._awaiting.items():
        if waiting and (
            len(waiting) >= batch
            or site_id in urgent
            or now_s - gw._evaluated_s.get(site_id, -math.inf) >= every_s
        ):
            evaluate_site(gw, site_id, now_s)
    urgent.clear()


def evaluate_site(gw: GatewayState, site_id: str, now_s: float) -> None:
    """Check the waiting positions of ``site_id`` now; raise what changed."""
    waiting = gw._awaiting.get(site_id)
    if not waiting:
        return
    gw._evaluated_s[site_id] = now_s
    # Landed or moved to another site since: no longer this site's to check.
    flying = [v for v in waiting.values() if v.flying and v.site_id == site_id]
    waiting.clear()
    if not flying:
        return
    gw._changed.update([v.key for v in flying])
    monitor = gw.monitors[site_id]
    _, events = monitor.evaluate(flying, now_s)
    checked = gw._checked
    if checked:
        for v in flying:
            early = checked.get(v.key)
            if early is not None:
                early.append(vehicle_motion(v, now_s))
    for event in events:
        on_conformance_event(gw, monitor, event, now_s)


def check_link(gw: GatewayState, v: VehicleState, now_s: float) -> None:
    """Apply :func:`checks.link_alert` to ``v`` and raise its event."""
    alert = checks.link_alert(
        v,
        now_s,
        gw.settings.link_lost_s,
        gw._behind_until.get(v.link_id, -math.inf),
    )
    if alert is not None:
        v.link_lost = alert.kind == "link_lost"
        gw._changed.add(v.key)
        emit(gw, v, alert.kind, now_s, alert.message, alert.details)


def check_landed(gw: GatewayState, v: VehicleState, now_s: float) -> None:
    """Complete ``v``'s active booking once it has been landed and disarmed for
    ``landed_end_s`` (:func:`checks.flight_over`), through ``finish_booking``.

    Only a booking this gateway activated or the directory shows active: a drone
    waiting disarmed on its pad before take-off must not end its booking.
    """
    v.landed_since_s = checks.landed_since(v, now_s)
    booking_id = v.booking_id
    if (
        booking_id is None
        or gw.finish_booking is None
        or booking_id in gw._finished
        or not checks.flight_over(v.landed_since_s, now_s, gw.settings.landed_end_s)
    ):
        return
    if booking_id not in gw._activated:
        entry = gw.directory.booking_for(v.drone_id or "", now_s)
        if entry is None or entry.booking_id != booking_id or entry.state != "active":
            return
    gw._finished.add(booking_id)
    landed_s = now_s - v.landed_since_s
    gw.finish_booking(booking_id, now_s, f"landed and disarmed for {landed_s:.0f} s")


def check_battery(gw: GatewayState, v: VehicleState, now_s: float) -> None:
    """Apply :func:`checks.battery_check` to ``v`` and raise its event."""
    v.low_battery, alert = checks.battery_check(v, gw.settings.low_battery_pct)
    if alert is not None:
        emit(gw, v, alert.kind, now_s, alert.message, alert.details)


def check_fence(gw: GatewayState, v: VehicleState, now_s: float) -> None:
    """Apply :func:`checks.fence_check` to ``v`` and raise its event."""
    if not v.fence_reported:
        # No FENCE_STATUS heard (most vehicles): no breach can be raised nor a
        # disagreement have started, so both checks would leave all as it is.
        return
    key = (v.key, "fence_breach")
    raised = key in gw._open_incident
    now_raised, alert = checks.fence_check(v, raised)
    if now_raised and not raised:
        gw._open_incident[key] = -1  # raised; the real id follows on_done
    elif raised and not now_raised:
        del gw._open_incident[key]
    if alert is not None:
        emit(gw, v, alert.kind, now_s, alert.message, alert.details)
    hold_s = gw.settings.fence_disagreement_s
    disagreement = checks.fence_disagreement_check(v, now_s, hold_s)
    if disagreement is not None:
        emit(
            gw, v, disagreement.kind, now_s, disagreement.message, disagreement.details
        )


def check_spoofing(gw: GatewayState, now_s: float) -> None:
    """Report rejected frames per (link, sysid): the first at once, then the
    count gathered at most every ``spoof_report_s`` (a spoofer sends many frames
    a second; one breach event each would flood every viewer)."""
    if not gw._spoofed:
        return
    due = [
        key
        for key in gw._spoofed
        if now_s - gw._spoof_reported.get(key, -math.inf) >= gw.settings.spoof_report_s
    ]
    for key in due:
        gw._spoof_reported[key] = now_s
        link_id, sysid = key
        count = gw._spoofed.pop(key)
        v = gw._by_link.get(link_id, {}).get(sysid)
        if v is None:
            v = VehicleState(link_id, sysid, now_s)
            v.site_id = next(iter(gw.sites), None)
        drones = gw.directory.drones_with_sysid(sysid)
        if drones:
            v.drone_id, v.drone_name = drones[0].drone_id, drones[0].name
            v.operator_id, v.site_id = drones[0].operator_id, drones[0].site_id
        alert = checks.spoof_alert(link_id, sysid, count)
        emit(gw, v, alert.kind, now_s, alert.message, alert.details)
