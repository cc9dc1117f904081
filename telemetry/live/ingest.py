"""Bytes in: every datagram or stream chunk of every link, decoded and folded into
the vehicles' state (called by the transports; the hot path).

``ingest`` only decodes (``telemetry.mavlink.codec``) and applies messages; the
checks wait for the tick, except when a vehicle's unchecked position is about to
be replaced (then its site is checked at once, so that no position goes
unchecked).

Pinning (the trust model without signing, README): on a ``udpin`` link every
datagram comes with its sender's address. A vehicle is pinned to the first address
that spoke for it; frames with its sysid from another address are refused (not
merged into it), counted in ``refused_frames["wrong_source"]`` and reported as a
``spoofed_frames`` incident by the tick. The pin moves only once the vehicle has
been silent for ``link_lost_s`` (a new flight, or a radio that changed address),
when the ``link_lost`` alert has already told the operator.

Sites with ``require_signing`` in a process that also serves lenient ones: a
vehicle bound to one takes frames only once they verify with a registered key
(``telemetry.live.strict_sites``); nothing per frame where no site is strict.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from telemetry.live.announcing import run_from_threads
from telemetry.live.frames import vehicle_motion
from telemetry.live.state import GatewayState
from telemetry.live.strict_sites import verified
from telemetry.live.tick import BREACHING, evaluate_site, queue_fresh, request_tick
from telemetry.live.vehicles import VehicleState
from telemetry.mavlink.codec import Framing, LinkCodec
from telemetry.mavlink.messages import GlobalPosition, RawFrame
from telemetry.mavlink.mission_protocol import REPLY_MESSAGE_IDS
from telemetry.mavlink.transports import BEHIND_AFTER_S, link_key

logger = logging.getLogger(__name__)


def ingest(
    gw: GatewayState, stream_id: str, data: bytes, now_s: float, source: Any = None
) -> None:
    """Decode ``data`` from one stream of a link; never raises on bad bytes.

    A stream is a UDP link or one TCP/serial connection (``transports``): the
    codec keeps partial frames per stream, vehicles are keyed per link.
    ``source`` is the sender's address when the link has many (``udpin``): each
    vehicle is pinned to one (module docstring); None means one sender per stream.
    """
    stream = _stream(gw, stream_id, now_s)
    by_sysid = stream[2]
    # Nearly every datagram: one clean frame of a hot message from a vehicle
    # already pinned to its sender, whose site takes it unsigned. Taken here as
    # ``ingest_general`` takes it, without its lists and loops
    # (``tests/unit/test_ingest_single_frame.py`` holds the two to each other).
    if len(data) > 5:
        vehicle = by_sysid.get(data[5])
        if (
            vehicle is not None
            and (source is None or vehicle.source == source)
            and not (vehicle.signing_required and gw.mixed_signing)
        ):
            msg = stream[0].take_single(data, now_s)
            if msg is not None:
                if type(msg) is GlobalPosition:
                    _take_position(gw, vehicle, now_s)
                vehicle.apply(msg)
                vehicle.record_frame(now_s, data)
                return
    _ingest_frames(gw, stream, data, now_s, source)


def ingest_general(
    gw: GatewayState, stream_id: str, data: bytes, now_s: float, source: Any = None
) -> None:
    """``ingest`` without its shortcut for the usual datagram: what it does for
    any other input (several frames, MAVLink 1, signed, damaged, a new sender,
    a TCP chunk), and the reference the shortcut is tested against."""
    _ingest_frames(gw, _stream(gw, stream_id, now_s), data, now_s, source)


_Stream = tuple[LinkCodec, str, dict[int, VehicleState]]
"""A stream's codec, its link and the link's vehicles by sysid."""


def _stream(gw: GatewayState, stream_id: str, now_s: float) -> _Stream:
    """The stream ``stream_id`` (opened if new), with the gateway's pending
    work from other threads done first."""
    if gw._from_threads:
        run_from_threads(gw)
    stream = gw._streams.get(stream_id)
    if stream is None:
        stream = open_stream(gw, stream_id)
    codec, link_id, _ = stream
    if codec.seq_loss_paused and now_s >= gw._behind_until.get(link_id, -math.inf):
        codec.resume_seq_loss()  # caught up: no longer shedding on this link
    return stream


def _ingest_frames(
    gw: GatewayState, stream: _Stream, data: bytes, now_s: float, source: Any
) -> None:
    """Every frame of ``data``, decoded by the codec, each checked against its
    vehicle's pin and signing before it is applied and recorded."""
    codec, link_id, by_sysid = stream
    decoded = codec.feed(data, now_s)
    refused: set[int] | None = None
    # Per datagram: a process with no strict site pays nothing per frame.
    mixed = gw.mixed_signing
    if source is not None:
        refused = _refuse_foreign(gw, link_id, by_sysid, decoded.frames, source, now_s)
    for msg in decoded.messages:
        if refused and msg.sysid in refused:
            continue
        vehicle = by_sysid.get(msg.sysid)
        if vehicle is None:
            # Refused frames are counted once, by the frames loop below.
            vehicle = new_vehicle(gw, link_id, by_sysid, msg.sysid, now_s, 0)
            if vehicle is None:
                continue
        if mixed and vehicle.signing_required:
            vehicle = verified(gw, codec, by_sysid, vehicle, now_s, False)
            if vehicle is None:
                continue  # counted once per frame, below
        if type(msg) is GlobalPosition:
            _take_position(gw, vehicle, now_s)
        vehicle.apply(msg)
    for frame in decoded.frames:
        # Every frame, typed or not (parameters, mission items...): the raw record
        # must be complete from the vehicle's first frame.
        if refused and frame.sysid in refused:
            continue
        vehicle = by_sysid.get(frame.sysid)
        if vehicle is None:
            vehicle = new_vehicle(gw, link_id, by_sysid, frame.sysid, now_s)
            if vehicle is None:
                continue
        if mixed and vehicle.signing_required:
            vehicle = verified(gw, codec, by_sysid, vehicle, now_s, True)
            if vehicle is None:
                continue
        vehicle.record_frame(frame.t_s, frame.raw)
        if frame.msg_id in REPLY_MESSAGE_IDS:
            gw.exchanges.deliver(link_id, frame)
    for rejected in decoded.rejected:
        gw._spoofed[(link_id, rejected.sysid)] += 1


def _take_position(gw: GatewayState, vehicle: VehicleState, now_s: float) -> None:
    """Before ``vehicle`` takes a new position: see that its last one is checked,
    and mark it fresh for the next tick."""
    if vehicle.position_pending and not vehicle.is_gcs:
        # Its last position came after the last tick (datagrams that waited
        # together in the kernel): queue every fresh vehicle for its check now,
        # as the tick would, so this one is checked below before it is replaced.
        queue_fresh(gw, now_s)
    site_id = vehicle.site_id
    if site_id is not None and vehicle.key in gw._awaiting.get(site_id, ()):
        # Its last position is still unchecked and about to be replaced: check
        # the site now, so that every position is checked, and keep that position
        # for the stream.
        evaluate_site(gw, site_id, now_s)
        if vehicle.key not in gw._checked:  # else the check added it
            gw._checked[vehicle.key] = [vehicle_motion(vehicle, now_s)]
    gw._fresh[vehicle.key] = vehicle
    if vehicle.state_code >= BREACHING and not gw._prompt_tick and site_id is not None:
        # Its last position breached: this one may confirm the breach. Tick as
        # soon as the loop is free rather than at the next regular tick.
        request_tick(gw, site_id, vehicle.key)


def record_shed(
    gw: GatewayState, stream_id: str, datagrams: Sequence[tuple[bytes, Any, float]]
) -> None:
    """Datagrams a link shed while overloaded: filed in their vehicles' tlogs at
    their kernel arrival times, framed and CRC-checked but never unpacked, so that
    overload costs the live picture stale positions and the record nothing.

    Only a vehicle's own frames (its pinned sender, a site that takes unsigned
    frames) are filed, as ``ingest`` would; the rest are dropped with the batch.
    The link's sequence-gap count pauses until it catches up: frames filed here
    and decoded later are out of order, which is not radio loss.
    """
    stream = gw._streams.get(stream_id)
    if stream is None:
        return
    codec, _, by_sysid = stream
    # Shed datagrams are filed before older kept ones are decoded: sequence
    # gaps mean nothing until the link catches up (``ingest`` resumes them).
    codec.pause_seq_loss()
    for data, source, arrived_s in codec.shed_frames(datagrams):
        vehicle = by_sysid.get(data[5])  # the sysid: one MAVLink 2 frame
        if (
            vehicle is None
            or vehicle.signing_required
            or (source is not None and vehicle.source != source)
        ):
            continue
        vehicle.record_shed(arrived_s, data)


def _refuse_foreign(
    gw: GatewayState,
    link_id: str,
    by_sysid: dict[int, VehicleState],
    frames: Sequence[RawFrame],
    source: Any,
    now_s: float,
) -> set[int] | None:
    """The sysids in this datagram that ``source`` may not speak for (pinned to
    another address), counted; pins the vehicles it may. None when it may speak
    for all (the usual case: one frame, its own vehicle; no allocation)."""
    refused: set[int] | None = None
    for frame in frames:
        sysid = frame.sysid
        vehicle = by_sysid.get(sysid)
        if vehicle is None:
            vehicle = new_vehicle(gw, link_id, by_sysid, sysid, now_s, 0)
            if vehicle is None:
                continue  # over the unregistered quota: refused in ``ingest``
        pinned = vehicle.source
        if pinned == source:
            continue
        if pinned is None or now_s - vehicle.last_message_s > gw.settings.link_lost_s:
            if pinned is not None:
                logger.warning(
                    "%s: sysid %d silent for over %.1f s; now pinned to %s (was %s)",
                    link_id,
                    sysid,
                    gw.settings.link_lost_s,
                    source,
                    pinned,
                )
            vehicle.source = source
            continue
        if refused is None:
            refused = set()
        refused.add(sysid)
        gw._spoofed[(link_id, sysid)] += 1
        gw.refused_frames["wrong_source"] += 1
    return refused


def new_vehicle(
    gw: GatewayState,
    link_id: str,
    by_sysid: dict[int, VehicleState],
    sysid: int,
    now_s: float,
    frames: int = 1,
) -> VehicleState | None:
    """A sender heard for the first time on the link; the next tick ties it.

    None (the frame is refused, counted in ``gw.quotas``) when no drone is
    registered with ``sysid`` and the link tracks its quota of such sysids
    (``frames`` refused frames counted)."""
    if not gw.directory.drones_with_sysid(sysid) and not gw.quotas.admit(
        link_id, sysid, frames
    ):
        return None
    vehicle = by_sysid[sysid] = VehicleState(link_id, sysid, now_s)
    gw.vehicles[vehicle.key] = vehicle
    gw._unbound[vehicle.key] = vehicle
    return vehicle


def open_stream(gw: GatewayState, stream_id: str) -> _Stream:
    """A new stream's codec (datagram framing for UDP), link and vehicles."""
    framing: Framing = "datagram" if stream_id.startswith("udp") else "stream"
    codec = gw.codecs[stream_id] = LinkCodec(
        stream_id,
        gw.directory.signing_keys(),
        framing=framing,
        require_signing=gw.require_signing,
    )
    link_id = link_key(stream_id)
    by_sysid = gw._by_link.setdefault(link_id, {})
    stream = gw._streams[stream_id] = (codec, link_id, by_sysid)
    return stream


def note_backlog(gw: GatewayState, link_id: str, now_s: float) -> None:
    """The link's reader is behind (datagrams waited in the kernel; some may be
    dropped there). Silence on it is then ours, not the drones': no vehicle of
    it is declared ``link_lost`` until it has been caught up for a while."""
    if now_s >= gw._behind_until.get(link_id, -math.inf):
        logger.warning(
            "%s: the gateway is behind on this link (datagrams waited over "
            "%.1f s in the kernel); link-loss checks paused on it",
            link_id,
            BEHIND_AFTER_S,
        )
    gw._behind_until[link_id] = now_s + gw.settings.link_lost_s


def end_stream(gw: GatewayState, stream_id: str) -> None:
    """A TCP connection or serial device went away: drop its partial frames."""
    gw._streams.pop(stream_id, None)
    codec = gw.codecs.pop(stream_id, None)
    if codec is not None:
        gw._retired.append(codec.counters)
