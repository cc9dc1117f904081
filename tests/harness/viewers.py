"""The viewer load generator: ``/ws/live`` clients that reconnect on any close and
measure how late each ``vehicles`` frame arrives, in one process or several."""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing as mp
import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from telemetry.live.frames import vehicle_entries
from web.routes.live import live_subprotocols

_HEAD_T_S = re.compile(rb'"t_s":(-?[0-9.eE+-]+)')
_HEAD_TYPE = re.compile(rb'"type":"([a-z_]+)"')


@dataclass
class Viewer:
    """One ``/ws/live`` client; reconnects (to the next URL) when the socket closes.

    ``full`` parses every frame and keeps each vehicle's latest ``state`` and every
    must-keep frame; otherwise only ``vehicles`` frames' heads are read (cheap).
    """

    urls: list[str]
    token: str
    full: bool = False
    connects: int = 0
    closes: list[str] = field(default_factory=list)
    frames: Counter[str] = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)
    received_s: list[float] = field(default_factory=list)
    """Receive time of each ``latencies_s`` entry."""
    states: dict[str, str] = field(default_factory=dict)
    heard_s: dict[str, float] = field(default_factory=dict)
    """When each vehicle was last in a frame (receive time)."""
    state_changed_s: dict[str, float] = field(default_factory=dict)
    must_keep: list[dict[str, Any]] = field(default_factory=list)
    last_frame_s: float = 0.0
    measuring: bool = True
    worst_recent_s: float = 0.0
    """Largest ``vehicles`` latency since the caller last reset it to 0."""

    async def run(self, stop: asyncio.Event) -> None:
        """Read frames until ``stop`` is set, reconnecting on any close."""
        attempt = 0
        while not stop.is_set():
            url = self.urls[attempt % len(self.urls)]
            attempt += 1
            try:
                async with connect(
                    url,
                    subprotocols=[
                        Subprotocol(p) for p in live_subprotocols(self.token)
                    ],
                    max_size=None,
                    compression=None,
                    open_timeout=20,
                    ping_interval=None,
                ) as ws:
                    self.connects += 1
                    await self._read(ws, stop)
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                self.closes.append(f"{url}: {type(exc).__name__}: {exc}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.3)

    async def _read(self, ws: Any, stop: asyncio.Event) -> None:
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while True:
                getter = asyncio.ensure_future(ws.recv(decode=False))
                done, _ = await asyncio.wait(
                    {getter, stopper}, return_when=asyncio.FIRST_COMPLETED
                )
                if getter not in done:
                    getter.cancel()
                    return
                self._take(getter.result(), time.time())
        finally:
            stopper.cancel()

    def _take(self, data: bytes, now_s: float) -> None:
        self.last_frame_s = now_s
        if not self.full:
            head = data[:120]
            kind = _HEAD_TYPE.search(head)
            name = kind.group(1).decode() if kind else "?"
            self.frames[name] += 1
            t_s = _HEAD_T_S.search(head) if name == "vehicles" else None
            if t_s:
                latency_s = now_s - float(t_s.group(1))
                self.worst_recent_s = max(self.worst_recent_s, latency_s)
                if self.measuring:
                    self.latencies_s.append(latency_s)
                    self.received_s.append(now_s)
            return
        frame = orjson.loads(data)
        name = frame.get("type", "?")
        self.frames[name] += 1
        if name in ("vehicles", "snapshot"):
            if name == "vehicles" and self.measuring:
                self.latencies_s.append(now_s - float(frame["t_s"]))
            # Full records and motion rows (most ticks carry only rows).
            for v in vehicle_entries(frame):
                self.heard_s[v["key"]] = now_s
                if self.states.get(v["key"]) != v["state"]:
                    self.states[v["key"]] = v["state"]
                    self.state_changed_s[v["key"]] = now_s
        elif name in ("event", "incident", "booking", "closure"):
            self.must_keep.append(frame)


STEADY_LATENCY_S = 0.5


def _viewers_main(
    urls: list[str],
    token: str,
    count: int,
    seconds: float,
    settle_max_s: float,
    conn: Connection,
) -> None:
    """Process entry: ``count`` viewers spread over ``urls``; once all are
    connected and every frame of a second arrived within ``STEADY_LATENCY_S``
    (or ``settle_max_s`` passed), report how long that took and, told to, measure
    for ``seconds``."""

    async def main() -> dict[str, Any]:
        stop = asyncio.Event()
        viewers = [
            Viewer(urls[i % len(urls) :] + urls[: i % len(urls)], token)
            for i in range(count)
        ]
        for v in viewers:
            v.measuring = False
        tasks = [asyncio.create_task(v.run(stop)) for v in viewers]
        deadline = time.monotonic() + 60
        while sum(v.connects > 0 for v in viewers) < count:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        connected_at = time.monotonic()
        calm = 0
        while calm < 2 and time.monotonic() - connected_at < settle_max_s:
            for v in viewers:
                v.worst_recent_s = 0.0
            await asyncio.sleep(0.5)
            worst_s = max((v.worst_recent_s for v in viewers), default=0.0)
            calm = calm + 1 if 0 < worst_s < STEADY_LATENCY_S else 0
        conn.send(time.monotonic() - connected_at)
        await asyncio.to_thread(conn.recv)  # "measure"; the loop reads on meanwhile
        cpu0, started_s = time.process_time(), time.time()
        for v in viewers:
            v.measuring = True
        await asyncio.sleep(seconds)
        for v in viewers:
            v.measuring = False
        cpu = time.process_time() - cpu0
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        lat = sorted(x for v in viewers for x in v.latencies_s)
        frames: Counter[str] = Counter()
        for v in viewers:
            frames.update(v.frames)
        worst: dict[int, float] = {}
        for v in viewers:
            for at_s, lat_s in zip(v.received_s, v.latencies_s, strict=True):
                second = int(at_s - started_s)
                worst[second] = max(worst.get(second, 0.0), lat_s * 1000)
        return {
            "connected": sum(v.connects > 0 for v in viewers),
            "latencies_ms": [x * 1000 for x in lat],
            "worst_ms_by_second": worst,
            "frames": dict(frames),
            "cpu_s": cpu,
        }

    conn.send(asyncio.run(main()))


class ViewerProcesses:
    """``count`` viewers in ``processes`` processes of their own (so the clients
    are not what limits the measurement), viewer ``i`` on ``urls[i % len]``."""

    def __init__(
        self,
        urls: list[str],
        token: str,
        count: int,
        seconds: float,
        processes: int,
        settle_max_s: float,
    ) -> None:
        ctx = mp.get_context("spawn")
        self.count, self.seconds = count, seconds
        self._conns: list[Connection] = []
        self._procs = []
        for k in range(processes):
            share = count // processes + (1 if k < count % processes else 0)
            rotated = urls[k % len(urls) :] + urls[: k % len(urls)]
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_viewers_main,
                args=(rotated, token, share, seconds, settle_max_s, child),
                daemon=True,
            )
            proc.start()
            self._conns.append(parent)
            self._procs.append(proc)

    def wait_steady(self, timeout_s: float) -> float:
        """Wait until every viewer is connected and keeping up; return the
        longest time that took after the last connected (seconds)."""
        took: list[float] = []
        for conn in self._conns:
            if not conn.poll(timeout_s):
                raise RuntimeError("viewers did not connect")
            took.append(conn.recv())
        return max(took)

    def measure(self) -> dict[str, Any]:
        """Measure for ``seconds`` in every process; the merged figures."""
        for conn in self._conns:
            conn.send("measure")
        parts = []
        for conn in self._conns:
            if not conn.poll(self.seconds + 60):
                raise RuntimeError("viewers did not report")
            parts.append(conn.recv())
        for proc in self._procs:
            proc.join(timeout=30)
        latencies = [x for part in parts for x in part["latencies_ms"]]
        worst: dict[int, float] = {}
        for part in parts:
            for second, ms in part["worst_ms_by_second"].items():
                worst[second] = max(worst.get(second, 0.0), ms)
        frames: Counter[str] = Counter()
        for part in parts:
            frames.update(part["frames"])
        return {
            "connected": sum(part["connected"] for part in parts),
            "latencies_ms": _percentiles(latencies),
            "frames": dict(frames),
            "vehicle_frames_per_viewer_s": len(latencies)
            / max(1, self.count)
            / self.seconds,
            "cpu_s": round(sum(part["cpu_s"] for part in parts), 2),
            "worst_ms_by_second": [
                round(worst.get(i, 0.0)) for i in range(math.ceil(self.seconds))
            ],
        }


def _percentiles(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {"p50": math.nan, "p99": math.nan, "max": math.nan, "n": 0}
    values_ms.sort()
    return {
        "p50": round(statistics.median(values_ms), 1),
        "p99": round(values_ms[min(len(values_ms) - 1, int(len(values_ms) * 0.99))], 1),
        "max": round(values_ms[-1], 1),
        "n": len(values_ms),
    }
