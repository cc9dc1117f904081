"""The asyncio adapter: a fleet (or a tlog) on a clock, sent over real sockets.

``run_fleet`` ticks the fleet at ``speed`` times real time, sends every frame to
every link, records it when asked (stamped with the simulated clock, so a run at
``--speed 10`` records a flight that replays at its true pace), answers what comes
back, and prints a progress line every few seconds. ``run_replay`` sends the
frames of a tlog at their recorded pace divided by ``speed``. Both stop at the end
(duration reached, every drone landed, tlog exhausted) or as soon as ``stop`` is
set, always closing their sockets and the recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from simulator.fleet import Fleet
from simulator.links import Endpoint, Link, make_link
from simulator.recordings import Record, TlogWriter, open_recording

logger = logging.getLogger(__name__)

PROGRESS_EVERY_S = 5.0
LINGER_S = 3.0
"""Simulated seconds the run goes on after the last drone has landed (its
heartbeats then say landed and disarmed)."""
MAX_SPEED = 1000.0
_YIELD_EVERY_FRAMES = 10

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunOptions:
    """How to run: where to send, how fast, how long, what to record."""

    endpoints: tuple[Endpoint, ...]
    speed: float = 1.0
    duration_s: float | None = None
    """Simulated seconds (tlog seconds for a replay); None: until done."""
    record: Path | None = None
    progress_every_s: float = PROGRESS_EVERY_S
    linger_s: float = LINGER_S


@dataclass
class RunStats:
    """What a run did."""

    sim_s: float = 0.0
    wall_s: float = 0.0
    frames_sent: int = 0
    frames_dropped: int = 0
    frames_recorded: int = 0
    messages_received: int = 0
    stopped: bool = False
    """True when ``stop`` ended the run early."""


class _Inbound:
    """Decodes the bytes of each TCP peer with its own parser (streams differ), and
    each datagram on its own."""

    def __init__(self, handle: Callable[[Any, Link], None]) -> None:
        self._handle = handle
        self._parsers: dict[str, Any] = {}
        self.messages = 0

    def feeder(self, link: Link) -> Callable[[bytes, str], None]:
        def feed(data: bytes, peer: str) -> None:
            parser = None if link.datagrams else self._parsers.get(peer)
            if parser is None:
                # A datagram holds whole frames: a truncated one must not swallow
                # the next datagram, so each gets a fresh parser.
                parser = mavlink.MAVLink(None)
                parser.robust_parsing = True
                if not link.datagrams:
                    self._parsers[peer] = parser
            for msg in parser.parse_buffer(data) or ():
                if msg.get_type() == "BAD_DATA":
                    continue
                self.messages += 1
                self._handle(msg, link)

        return feed


async def _open_links(endpoints: Sequence[Endpoint], inbound: _Inbound) -> list[Link]:
    links: list[Link] = []
    try:
        for endpoint in endpoints:
            link = make_link(endpoint)
            await link.open(inbound.feeder(link))
            links.append(link)
    except BaseException:
        for link in links:
            await link.close()
        raise
    return links


def _check_speed(speed: float) -> None:
    if not 0 < speed <= MAX_SPEED:
        raise ValueError(f"speed must be > 0 and <= {MAX_SPEED:g}, got {speed}")


async def run_fleet(
    fleet: Fleet,
    options: RunOptions,
    *,
    stop: asyncio.Event | None = None,
    progress: Progress | None = None,
    on_ready: Callable[[list[Link]], None] | None = None,
) -> RunStats:
    """Fly ``fleet`` over ``options.endpoints`` until done or ``stop`` is set.

    ``on_ready`` is called with the open links before the first tick (a test reads
    a ``tcpin`` link's bound port there).
    """
    _check_speed(options.speed)
    stop = stop or asyncio.Event()
    stats = RunStats()
    epoch0 = time.time()
    recorder = open_recording(options.record) if options.record else None
    links: list[Link] = []

    def send(frames: list[bytes], to: Sequence[Link]) -> None:
        t_epoch = epoch0 + fleet.t_s
        for frame in frames:
            for link in to:
                link.send(frame)
            if recorder is not None:
                recorder.write(t_epoch, frame)
                stats.frames_recorded += 1

    def answer(msg: Any, link: Link) -> None:
        send(fleet.receive(msg, time.time()), [link])

    inbound = _Inbound(answer)
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        links = await _open_links(options.endpoints, inbound)
        if on_ready is not None:
            on_ready(links)
        start = loop.time()
        meter = _ProgressMeter(links, options.progress_every_s, start)
        done_at: float | None = None
        while not stop.is_set():
            if options.duration_s is not None and fleet.t_s >= options.duration_s:
                break
            if fleet.done:
                done_at = fleet.t_s if done_at is None else done_at
                if fleet.t_s - done_at >= options.linger_s:
                    break
            due = start + (fleet.tick + 1) * fleet.dt_s / options.speed
            delay = due - loop.time()
            # Sleep until the tick is due; when behind, still yield, so that
            # replies (and anything else on this loop) get their turn.
            await asyncio.sleep(max(delay, 0.0))
            send(fleet.step(time.time()), links)
            if progress is not None and meter.due(loop.time()):
                behind = loop.time() - due
                progress(meter.line(fleet, options.speed, behind, inbound.messages))
        stats.stopped = stop.is_set()
    finally:
        await _close(links, recorder, stats)
        stats.sim_s = fleet.t_s
        stats.wall_s = loop.time() - start
        stats.messages_received = inbound.messages
    return stats


async def run_replay(
    records: Sequence[Record],
    options: RunOptions,
    *,
    stop: asyncio.Event | None = None,
    progress: Progress | None = None,
    on_ready: Callable[[list[Link]], None] | None = None,
) -> RunStats:
    """Send the frames of ``records`` at their recorded pace / ``options.speed``."""
    _check_speed(options.speed)
    stop = stop or asyncio.Event()
    stats = RunStats()
    recorder = open_recording(options.record) if options.record else None
    inbound = _Inbound(lambda msg, link: None)
    loop = asyncio.get_running_loop()
    links: list[Link] = []
    start = loop.time()
    try:
        links = await _open_links(options.endpoints, inbound)
        if on_ready is not None:
            on_ready(links)
        start = loop.time()
        meter = _ProgressMeter(links, options.progress_every_s, start)
        t_first = records[0].t_s if records else 0.0
        epoch0 = time.time()
        for index, record in enumerate(records):
            elapsed = record.t_s - t_first
            if stop.is_set() or (
                options.duration_s is not None and elapsed > options.duration_s
            ):
                break
            delay = start + elapsed / options.speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif index % _YIELD_EVERY_FRAMES == 0:
                await asyncio.sleep(0)
            for link in links:
                link.send(record.frame)
            if recorder is not None:
                recorder.write(epoch0 + elapsed, record.frame)
                stats.frames_recorded += 1
            stats.sim_s = elapsed
            if progress is not None and meter.due(loop.time()):
                progress(meter.replay_line(elapsed, index + 1, len(records)))
        stats.stopped = stop.is_set()
    finally:
        await _close(links, recorder, stats)
        stats.wall_s = loop.time() - start
        stats.messages_received = inbound.messages
    return stats


async def _close(
    links: Sequence[Link], recorder: TlogWriter | None, stats: RunStats
) -> None:
    for link in links:
        stats.frames_sent += link.frames_sent
        stats.frames_dropped += link.frames_dropped
        with contextlib.suppress(Exception):
            await link.close()
    if recorder is not None:
        recorder.close()


class _ProgressMeter:
    """Message rates over the last progress interval."""

    def __init__(self, links: Sequence[Link], every_s: float, start: float) -> None:
        self.links = links
        self.every_s = every_s
        self.start = start
        self._last_t = start
        self._last_sent = 0

    def due(self, now: float) -> bool:
        return now - self._last_t >= self.every_s

    def _rate(self) -> tuple[int, float, int]:
        now = asyncio.get_running_loop().time()
        sent = sum(link.frames_sent for link in self.links)
        rate = (sent - self._last_sent) / max(now - self._last_t, 1e-9)
        self._last_t, self._last_sent = now, sent
        dropped = sum(link.frames_dropped for link in self.links)
        return sent, rate, dropped

    def line(self, fleet: Fleet, speed: float, behind_s: float, received: int) -> str:
        sent, rate, dropped = self._rate()
        late = f" | {behind_s:.1f} s behind" if behind_s > 0.5 else ""
        return (
            f"sim {fleet.t_s:7.1f} s (x{speed:g}) | flying {fleet.flying}/"
            f"{len(fleet.drones)} | {rate:,.0f} msg/s | sent {sent:,} | "
            f"dropped {dropped:,} | received {received:,}{late}"
        )

    def replay_line(self, elapsed_s: float, index: int, total: int) -> str:
        sent, rate, dropped = self._rate()
        return (
            f"replay {elapsed_s:7.1f} s | frame {index:,}/{total:,} | "
            f"{rate:,.0f} msg/s | sent {sent:,} | dropped {dropped:,}"
        )
