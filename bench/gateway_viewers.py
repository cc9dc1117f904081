"""The benchmark's live-map viewers: K websocket clients in one process of their own.

Each viewer connects to ``/ws/live`` (token as subprotocol) like a browser, reads
its snapshot, then every frame. A ``vehicles`` frame is not parsed whole: its type
and frame-level ``t_s`` are read from the first bytes (the server writes them before
the vehicle list), so one process can follow 100 busy streams; ``event`` and
``dropped`` frames are parsed. Viewer frame latency is receive time minus the
frame's ``t_s`` (both ``time.time`` on the same machine). A loop-lag probe
measures how late this process itself ran, which bounds how much of that latency
is the viewers' own.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from web.routes.live import live_subprotocols

CONNECT_CONCURRENCY = 10
OPEN_TIMEOUT_S = 60.0
HEAD_BYTES = 200
LAG_PROBE_S = 0.01
RECONNECT_DELAY_S = 0.5
_TYPE = re.compile(rb'"type":"([a-z_]+)"')
_T_S = re.compile(rb'"t_s":(-?[0-9.eE+-]+)')


@dataclass(frozen=True)
class EventSeen:
    """One ``event`` frame as one viewer got it."""

    viewer: int
    received_s: float
    kind: str
    vehicle_key: str
    event_t_s: float
    incident_id: int | None


@dataclass
class ViewerResult:
    """Everything the viewers saw (times: Unix epoch seconds)."""

    connected: int = 0
    connect_errors: list[str] = field(default_factory=list)
    closed_early: list[tuple[float, str]] = field(default_factory=list)
    """Why the server closed viewers (each then reconnected)."""
    reconnects: int = 0
    frame_latency_s: list[float] = field(default_factory=list)
    """Per ``vehicles`` frame received inside the window, every viewer."""
    frames: Counter[str] = field(default_factory=Counter)
    bytes_received: int = 0
    events: list[EventSeen] = field(default_factory=list)
    event_kinds: Counter[str] = field(default_factory=Counter)
    dropped_reported: int = 0
    """Sum over viewers of the frames the server said it dropped for them."""
    seq_gaps: int = 0
    snapshot_bytes_max: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    loop_lag_ms_p99: float = 0.0
    loop_lag_ms_max: float = 0.0
    error: str | None = None


def frame_head(data: bytes) -> tuple[str, float | None]:
    """Return a frame's type and its frame-level ``t_s`` (None if not in the head).

    Only a ``t_s`` before the ``"vehicles"`` key belongs to the frame itself.
    """
    head = data[:HEAD_BYTES]
    kind_match = _TYPE.search(head)
    kind = kind_match.group(1).decode() if kind_match else "?"
    t_match = _T_S.search(head)
    if t_match is None:
        return kind, None
    list_at = head.find(b'"vehicles":')
    if 0 <= list_at < t_match.start():
        return kind, None
    return kind, float(t_match.group(1))


@dataclass
class Window:
    """When frame latencies count (epoch seconds)."""

    from_s: float = math.inf
    to_s: float = -math.inf


def run_viewers(url: str, token: str, n: int, deflate: bool, conn: Connection) -> None:
    """Process entry point: connect ``n`` viewers and say ``("ready", connected,
    errors)`` on ``conn``; read frames; after ``("go", from_s, to_s)`` from the
    parent count frame latencies in ``[from_s, to_s]``; on ``("stop",)`` close and
    send ``("result", ViewerResult)``."""
    result = ViewerResult()
    try:
        import uvloop

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        loop_factory = None
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(_watch(url, token, n, deflate, conn, result))
    except Exception as exc:  # report, never hang the parent waiting on the pipe
        result.error = f"{type(exc).__name__}: {exc}"
        if not result.connected:
            conn.send(("ready", 0, [*result.connect_errors, result.error]))
    conn.send(("result", result))
    conn.close()


async def _open(
    url: str, token: str, deflate: bool, result: ViewerResult
) -> ClientConnection:
    """Connect and read the snapshot (raises on failure)."""
    ws = await connect(
        url,
        subprotocols=[Subprotocol(p) for p in live_subprotocols(token)],
        compression="deflate" if deflate else None,
        max_size=None,
        open_timeout=OPEN_TIMEOUT_S,
        ping_interval=None,
    )
    snapshot = await asyncio.wait_for(ws.recv(decode=False), OPEN_TIMEOUT_S)
    result.snapshot_bytes_max = max(result.snapshot_bytes_max, len(snapshot))
    result.frames[frame_head(snapshot)[0]] += 1
    return ws


async def _watch(
    url: str,
    token: str,
    n: int,
    deflate: bool,
    conn: Connection,
    result: ViewerResult,
) -> None:
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
    wall0, cpu0 = time.time(), time.process_time()

    async def open_one(k: int) -> ClientConnection | None:
        async with limit:
            try:
                return await _open(url, token, deflate, result)
            except (OSError, TimeoutError, ConnectionClosed) as exc:
                result.connect_errors.append(f"viewer {k}: {type(exc).__name__}: {exc}")
                return None

    opened = await asyncio.gather(*(open_one(k) for k in range(n)))
    current = {k: ws for k, ws in enumerate(opened) if ws is not None}
    result.connected = len(current)
    conn.send(("ready", result.connected, list(result.connect_errors)))
    lags: list[float] = []
    window = Window()

    async def viewer(k: int) -> None:
        """Read until closed, then reconnect like a browser (fresh snapshot)."""
        while True:
            await _read(k, current[k], window, result)
            while True:
                await asyncio.sleep(RECONNECT_DELAY_S)
                try:
                    current[k] = await _open(url, token, deflate, result)
                    break
                except (OSError, TimeoutError, ConnectionClosed) as exc:
                    result.connect_errors.append(f"viewer {k} reconnecting: {exc}")
            result.reconnects += 1

    readers = [asyncio.create_task(viewer(k)) for k in list(current)]
    probe = asyncio.create_task(_probe_lag(window, lags))
    go = await asyncio.to_thread(conn.recv)
    if go[0] == "go":
        window.from_s, window.to_s = go[1], go[2]
        await asyncio.to_thread(conn.recv)  # ("stop",)
    for task in (*readers, probe):
        task.cancel()
    for task in (*readers, probe):
        with suppress(asyncio.CancelledError):
            await task
    with suppress(TimeoutError):
        async with asyncio.timeout(5):
            await asyncio.gather(
                *(ws.close() for ws in current.values()), return_exceptions=True
            )
    result.cpu_s = time.process_time() - cpu0
    result.wall_s = time.time() - wall0
    if lags:
        lags.sort()
        result.loop_lag_ms_p99 = 1000 * lags[min(len(lags) - 1, int(0.99 * len(lags)))]
        result.loop_lag_ms_max = 1000 * lags[-1]


async def _read(
    k: int, ws: ClientConnection, window: Window, result: ViewerResult
) -> None:
    latencies = result.frame_latency_s
    frames = result.frames
    last_seq: int | None = None
    try:
        while True:
            data = await ws.recv(decode=False)
            now = time.time()
            result.bytes_received += len(data)
            kind, t_s = frame_head(data)
            frames[kind] += 1
            if kind == "vehicles":
                if t_s is None:
                    parsed = orjson.loads(data)
                    t_s = float(parsed["t_s"])
                if window.from_s <= now <= window.to_s:
                    latencies.append(now - t_s)
                seq = _seq_of(data)
                if seq is not None:
                    if last_seq is not None and seq != last_seq + 1:
                        result.seq_gaps += 1
                    last_seq = seq
            elif kind == "event":
                event = orjson.loads(data)["event"]
                result.event_kinds[event["kind"]] += 1
                result.events.append(
                    EventSeen(
                        k,
                        now,
                        str(event["kind"]),
                        str(event.get("vehicle_key")),
                        float(event.get("t_s") or 0.0),
                        event.get("incident_id"),
                    )
                )
            elif kind == "dropped":
                result.dropped_reported += int(orjson.loads(data).get("frames", 0))
    except ConnectionClosed as exc:
        result.closed_early.append((time.time(), f"viewer {k}: {exc.rcvd}"))


_SEQ = re.compile(rb'"seq":([0-9]+)')


def _seq_of(data: bytes) -> int | None:
    head = data[:HEAD_BYTES]
    match = _SEQ.search(head)
    if match is None:
        return None
    list_at = head.find(b'"vehicles":')
    if 0 <= list_at < match.start():
        return None
    return int(match.group(1))


async def _probe_lag(window: Window, lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        t0 = loop.time()
        await asyncio.sleep(LAG_PROBE_S)
        if window.from_s <= time.time() <= window.to_s:
            lags.append(loop.time() - t0 - LAG_PROBE_S)
