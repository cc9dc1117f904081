"""Per-site ``require_signing`` in a process that serves strict and lenient sites.

The links are shared by every site, so a link's codec can only be strict when all
the sites require signing (``GatewayState.require_signing``). In a mixed
deployment the rule is applied per vehicle instead, once binding knows its site:
a vehicle bound to a site with ``require_signing`` is taken only while its frames
verify with a registered key on their stream (the codec's ``held_key``; a keyed
sysid's unsigned or wrongly signed frames are already refused by the codec, so
what remains are sysids without a key and unsigned frames before one is held).

A vehicle that binds there without a verified key is taken off the live picture:
out of ``gw.vehicles`` (so off the map, the snapshot, conformance, tracks and
``.tlog`` recordings), its frames so far dropped, and kept only as a *refusing
marker* in its link's sysid map and ``gw._refusing``. Every later frame for it is
refused, counted (``refused_frames["unsigned_at_strict_site"]``) and reported as
``spoofed_frames`` by the tick. The marker is lifted when a frame of the sysid
verifies with a registered key (the vehicle starts afresh and is bound again),
when the fleet directory changes (the drone may have a key or another site now),
and forgotten like any vehicle after ``forget_after_s`` of silence.

Cost on the hot path: none where no site is strict (one flag read per datagram);
else one attribute read per frame (``signing_required``).
"""

from __future__ import annotations

import logging

from telemetry.live.state import GatewayState
from telemetry.live.vehicles import VehicleState
from telemetry.log_limits import RateLimitedLog
from telemetry.mavlink.codec import LinkCodec

logger = logging.getLogger(__name__)
_log = RateLimitedLog(logger, 60.0)

REFUSED_REASON = "unsigned_at_strict_site"
"""The ``refused_frames`` reason (``skyberth_refused_total{reason}``)."""


def refuse_unverified(gw: GatewayState, v: VehicleState, now_s: float) -> None:
    """Take ``v`` (just bound to a site with ``require_signing``, no verified key)
    off the live picture and keep it as a refusing marker (module docstring)."""
    key = v.key
    if gw._refusing.get(key) is v:
        return
    gw._refusing[key] = v
    gw.vehicles.pop(key, None)
    gw._unbound.pop(key, None)
    gw._fresh.pop(key, None)
    gw._changed.discard(key)
    gw._checked.pop(key, None)
    gw._track_s.pop(key, None)
    for waiting in gw._awaiting.values():
        waiting.pop(key, None)
    for monitor in gw.monitors.values():
        monitor.forget(key)
    v.take_tlog()  # its raw frames so far never verified: not recorded
    v.has_position = v.position_pending = False
    _log(
        logging.WARNING,
        key,
        "%s: sysid %d at site %s, which requires signing, sent frames that did not "
        "verify with a registered key; refused until they do",
        v.link_id,
        v.sysid,
        v.site_id,
        now_s=now_s,
    )


def verified(
    gw: GatewayState,
    codec: LinkCodec,
    by_sysid: dict[int, VehicleState],
    v: VehicleState,
    now_s: float,
    count: bool,
) -> VehicleState | None:
    """The vehicle to fold a frame of ``v``'s sysid into (``v``, or a fresh one
    when its marker is lifted), or None when the frame is refused (counted if
    ``count``: once per frame, not per decoded message).

    Only called for a vehicle with ``signing_required``."""
    sysid = v.sysid
    if codec.held_key(sysid) is not None:
        if gw._refusing.pop(v.key, None) is not v:
            return v
        # Its frames now verify: it starts afresh, bound again by the next tick.
        del by_sysid[sysid]
        fresh = VehicleState(v.link_id, sysid, now_s)
        fresh.source = v.source
        by_sysid[sysid] = gw.vehicles[fresh.key] = gw._unbound[fresh.key] = fresh
        return fresh
    if gw._refusing.get(v.key) is not v:
        # Bound and verified before, its key since withdrawn: off the map too.
        refuse_unverified(gw, v, now_s)
    v.last_message_s = now_s  # the marker is forgotten only once silent
    if count:
        gw.refused_frames[REFUSED_REASON] += 1
        gw._spoofed[(v.link_id, sysid)] += 1
    return None


def release_markers(gw: GatewayState) -> None:
    """Drop every refusing marker (the fleet directory changed): the next frame of
    each starts a fresh vehicle, bound under the new directory."""
    for key, v in gw._refusing.items():
        by_sysid = gw._by_link.get(v.link_id, {})
        if by_sysid.get(v.sysid) is v:
            del by_sysid[v.sysid]
        gw.quotas.forget(v.link_id, v.sysid, key)
    gw._refusing.clear()


def forget_silent_markers(gw: GatewayState, horizon_s: float) -> None:
    """Forget the markers silent since before ``horizon_s`` (as vehicles are)."""
    for key, v in list(gw._refusing.items()):
        if v.last_message_s < horizon_s:
            del gw._refusing[key]
            by_sysid = gw._by_link.get(v.link_id, {})
            if by_sysid.get(v.sysid) is v:
                del by_sysid[v.sysid]
            gw.quotas.forget(v.link_id, v.sysid, key)
