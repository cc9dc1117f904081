"""``WS /ws/live``: the live stream of docs/live-stream.md.

Authentication happens after the handshake is accepted, so a refused client gets a
close frame whose code (4401 bad token, 4403 role) and reason say why, which a
browser can show; a handshake refused with HTTP 403 would tell it nothing. An open
socket is closed with 4401 when its token expires or is revoked (password changed,
user disabled), checked every ``SKYBERTH_SESSION_CHECK_S`` seconds.

The token travels in the ``Sec-WebSocket-Protocol`` header (offer ``skyberth.live``
and ``skyberth.bearer.<token>``; the server picks ``skyberth.live``) or, for
programs, in ``Authorization: Bearer``; never in the URL, which access logs and
proxies write down. A ``?token=`` is refused with a close reason that says so.

What a client sends is bounded: messages over ``MAX_WS_MESSAGE_BYTES`` close the
socket (1009), ``resync`` is answered at most once per ``RESYNC_INTERVAL_S``, error
replies never repeat the client's input and are sent at most once per second.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.engine import Engine
from sqlmodel import Session

from booking.model import BookingState, User
from booking.permissions import visible_operator
from telemetry.live.frames import utc_iso
from telemetry.live.hub import (
    Audience,
    Subscriber,
    SubscriberClosed,
    SubscriberOverflowed,
)
from web.auth import (
    TokenClaims,
    TokenError,
    check_token_holder,
    decode_access_token,
)
from web.holder_checks import HolderChecks, next_beat, read_user
from web.input_limits import MAX_WS_MESSAGE_BYTES
from web.queries import BookingFilter, list_bookings
from web.schemas import BookingPublic
from web.settings import Settings
from web.telemetry_runtime import TelemetryRuntime

logger = logging.getLogger(__name__)

router = APIRouter()

CLOSE_UNAUTHORISED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_TOO_BIG = 1009

SUBPROTOCOL = "skyberth.live"
BEARER_PROTOCOL_PREFIX = "skyberth.bearer."
RESYNC_INTERVAL_S = 1.0
"""A snapshot costs a database read: one per second per client at most."""
ERROR_INTERVAL_S = 1.0


def live_subprotocols(token: str) -> list[str]:
    """The ``Sec-WebSocket-Protocol`` offer that carries ``token`` to /ws/live."""
    return [SUBPROTOCOL, BEARER_PROTOCOL_PREFIX + token]


class _Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _bearer(websocket: WebSocket) -> str | None:
    if "token" in websocket.query_params:
        raise _Refused(
            CLOSE_UNAUTHORISED,
            "the token is not taken from the URL (logs keep URLs): offer it as "
            f"the subprotocol {BEARER_PROTOCOL_PREFIX}<token>",
        )
    for offered in websocket.scope.get("subprotocols", ()):
        if offered.startswith(BEARER_PROTOCOL_PREFIX):
            return str(offered[len(BEARER_PROTOCOL_PREFIX) :])
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value else None


def _authenticate(
    engine: Engine, settings: Settings, token: str | None
) -> tuple[User, TokenClaims]:
    if not token:
        raise _Refused(
            CLOSE_UNAUTHORISED,
            "not authenticated: offer the subprotocols "
            f"{SUBPROTOCOL}, {BEARER_PROTOCOL_PREFIX}<bearer token>",
        )
    try:
        claims = decode_access_token(token, settings.secret_key, datetime.now(UTC))
        return _holder(engine, claims), claims
    except TokenError as exc:
        raise _Refused(CLOSE_UNAUTHORISED, str(exc)) from exc


def _holder(engine: Engine, claims: TokenClaims) -> User:
    return check_token_holder(claims, read_user(engine, claims.user_id))


async def _guard_session(
    websocket: WebSocket,
    checks: HolderChecks,
    claims: TokenClaims,
    check_s: float,
    on_refused: Callable[[], None],
) -> None:
    """Close the socket (4401) when its token expires or is revoked.

    The user is read again at every beat of ``check_s`` seconds (one read per
    user and beat for all their sockets, ``web.holder_checks``), so a password
    change or a disabled account (made here, by the CLI or by another process)
    ends the stream within that time; ``on_refused`` then wakes the send loop.
    """
    while True:
        left_s = (claims.expires_at - datetime.now(UTC)).total_seconds()
        if left_s <= 0:
            reason = f"token expired at {claims.expires_at.isoformat()}"
            break
        beat = next_beat(check_s)
        await asyncio.sleep(min(beat - time.monotonic(), left_s))
        if beat > time.monotonic():
            continue  # woken for the expiry, which the loop's top reports
        try:
            check_token_holder(claims, await checks.user(claims.user_id, beat))
        except TokenError as exc:
            reason = str(exc)
            break
    with suppress(Exception):
        await websocket.close(code=CLOSE_UNAUTHORISED, reason=reason[:120])
    on_refused()


def audience_of(user: User) -> Audience:
    """Operators and pilots see their organisation; staff see everything."""
    only = visible_operator(user.as_actor())
    return Audience(sees_all=only is None, operator_id=only)


def _snapshot(
    runtime: TelemetryRuntime, engine: Engine, user: User, audience: Audience
) -> dict[str, Any]:
    now = datetime.now(UTC)
    actor = user.as_actor()
    with Session(engine) as session:
        bookings = [
            b
            for state in (BookingState.APPROVED, BookingState.ACTIVE)
            for b in list_bookings(
                session, actor, BookingFilter(state=state, start=now, end=now)
            )
        ]
    now_s = time.time()
    incidents: list[dict[str, Any]] = []
    repository = runtime.incidents
    if repository is not None:
        for incident in repository.open_incidents():
            if audience.sees(incident.operator_id):
                incidents.append(incident_summary(incident))
    return {
        "type": "snapshot",
        "t_s": round(now_s, 3),
        "t_utc": utc_iso(now_s),
        "sites": [
            {"id": s.id, "name": s.name, "url": f"/api/v1/sites/{s.id}"}
            for s in runtime.sites.values()
        ],
        "bookings": [BookingPublic.of(b).model_dump(mode="json") for b in bookings],
        "vehicles": [],  # filled on the event loop, which owns the gateway's state
        "incidents": incidents,
        "vessels": [],  # filled on the event loop with the vehicles
        "gateway": runtime.overload.frame(),
    }


def incident_summary(incident: Any) -> dict[str, Any]:
    """An incident as the live stream's ``incident`` frame carries it."""
    return {
        "id": incident.id,
        "site_id": incident.site_id,
        "kind": str(incident.kind),
        "state": str(incident.state),
        "severity": str(incident.severity),
        "opened_utc": utc_iso(incident.opened_at.timestamp()),
        "drone_id": incident.drone_id,
        "sysid": incident.sysid,
        "vehicle_key": incident.vehicle_key,
        "booking_id": incident.booking_id,
        "corridor_id": incident.corridor_id,
        "operator_id": incident.operator_id,
        "message": incident.message,
        "occurrences": incident.occurrences,
    }


@router.websocket("/ws/live")
async def live(websocket: WebSocket) -> None:
    """Snapshot, then per-tick vehicle frames and events (docs/live-stream.md)."""
    app = websocket.app
    engine = cast(Engine, app.state.engine)
    settings = cast(Settings, app.state.settings)
    runtime = cast(TelemetryRuntime | None, getattr(app.state, "telemetry", None))
    offered = websocket.scope.get("subprotocols", ())
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    try:
        token = _bearer(websocket)
        user, claims = await asyncio.to_thread(_authenticate, engine, settings, token)
        if runtime is None:
            raise _Refused(1013, "live telemetry is not running on this server")
    except _Refused as refused:
        await websocket.close(code=refused.code, reason=refused.reason)
        return
    audience = audience_of(user)
    subscriber = runtime.hub.connect(audience)
    guard = asyncio.create_task(
        _guard_session(
            websocket,
            cast(HolderChecks, app.state.holder_checks),
            claims,
            settings.session_check_s,
            lambda: runtime.hub.disconnect(subscriber),
        )
    )
    try:
        await _send_snapshot(websocket, runtime, engine, user, audience)
        receiver = asyncio.create_task(
            _receive(websocket, subscriber, runtime, engine, user, audience)
        )
        # The client going away ends the receiver, which ends the subscriber: the
        # send loop then waits on the subscriber alone. Waiting on both (a task and
        # ``asyncio.wait`` per frame and client) cost more than the send.
        receiver.add_done_callback(lambda _: runtime.hub.disconnect(subscriber))
        try:
            while True:
                frame = subscriber.next_frame_nowait()
                if frame is None:
                    frame = await subscriber.next_frame()
                await websocket.send_text(frame)
        finally:
            receiver.cancel()
            with suppress(asyncio.CancelledError, WebSocketDisconnect):
                await receiver
    except SubscriberOverflowed:
        logger.warning("live client %s too slow; disconnecting", user.name)
        with suppress(Exception):
            await websocket.close(
                code=CLOSE_TOO_SLOW, reason="too slow: reconnect for a fresh snapshot"
            )
    except (WebSocketDisconnect, SubscriberClosed, RuntimeError):
        pass
    finally:
        guard.cancel()
        runtime.hub.disconnect(subscriber)


async def _send_snapshot(
    websocket: WebSocket,
    runtime: TelemetryRuntime,
    engine: Engine,
    user: User,
    audience: Audience,
) -> None:
    snapshot = await _snapshot_with_vehicles(runtime, engine, user, audience)
    await websocket.send_text(orjson.dumps(snapshot).decode())


async def _snapshot_with_vehicles(
    runtime: TelemetryRuntime, engine: Engine, user: User, audience: Audience
) -> dict[str, Any]:
    """The database part in a worker thread, the vehicles here on the loop (the
    gateway mutates them there; reading them from a thread would race)."""
    snapshot = await asyncio.to_thread(_snapshot, runtime, engine, user, audience)
    snapshot["vehicles"] = [
        v
        for v in runtime.vehicle_frames(time.time())
        if audience.sees(v["operator_id"])
    ]
    snapshot["vessels"] = runtime.vessel_frames()  # a hazard to all: every role
    return snapshot


async def _receive(
    websocket: WebSocket,
    subscriber: Subscriber,
    runtime: TelemetryRuntime,
    engine: Engine,
    user: User,
    audience: Audience,
) -> None:
    """Answer ``ping`` and ``resync`` through the client's own queue (one sender per
    socket); returns when the client goes away or sends too much."""
    last_resync_s = last_error_s = -math.inf

    def error(text: str, now_s: float) -> None:
        # Fixed texts only: nothing the client sent is queued back to it, and at
        # most one a second, so junk cannot fill the must-keep queue.
        nonlocal last_error_s
        if now_s - last_error_s >= ERROR_INTERVAL_S:
            last_error_s = now_s
            subscriber.push({"type": "error", "error": text})

    while True:
        try:
            text = await websocket.receive_text()
        except (WebSocketDisconnect, RuntimeError):
            return
        now_s = time.monotonic()
        if len(text) > MAX_WS_MESSAGE_BYTES:
            with suppress(Exception):
                await websocket.close(
                    code=CLOSE_TOO_BIG,
                    reason=f"messages are limited to {MAX_WS_MESSAGE_BYTES} bytes",
                )
            return
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            error("not JSON", now_s)
            continue
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ping":
            subscriber.push({"type": "pong", "t_s": round(time.time(), 3)})
        elif kind == "resync":
            if now_s - last_resync_s < RESYNC_INTERVAL_S:
                error(f"resync at most once per {RESYNC_INTERVAL_S:g} s", now_s)
                continue
            last_resync_s = now_s
            snapshot = await _snapshot_with_vehicles(runtime, engine, user, audience)
            subscriber.push(snapshot, snapshot=True)
        else:
            error("unknown message type: send ping or resync", now_s)
