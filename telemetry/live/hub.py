"""The live fan-out: frames from the gateway tick to every websocket client.

One :class:`LiveHub` per process; one :class:`Subscriber` (one bounded queue) per
connected client, drained by that client's own sender task (the websockets
``broadcast`` pattern), so a slow client never holds up the tick or anyone else.

What a client sees depends on its :class:`Audience`: staff (``sees_all``) see every
vehicle and event; an operator organisation sees its own plus every *unregistered*
vehicle (``operator_id`` None: an intruder is everyone's hazard), and only events
addressed to it or to everyone. Each frame is serialised once per audience with
orjson, as a ``str`` ready for a websocket text message, and the same object is
queued to every subscriber of that audience.

Flow control (docs/live-stream.md): must-keep frames are handed out before any queued
``vehicles`` frame, so an event never waits behind positions; a full queue drops its
oldest ``vehicles`` frame,
counts it, and reports ``{"type": "dropped", ...}`` before the next frame it yields.
Must-keep frames (event, incident, booking, closure) are never dropped; a client
that lets more than ``must_keep_frames`` of them pile up is *overflowed*: its queue
is freed, it leaves the hub, and ``next_frame`` raises :class:`SubscriberOverflowed`
(the route closes with 4408; the client reconnects and gets a fresh snapshot).

Every method is synchronous except ``next_frame``; call them all on the event loop
thread. Publishing never awaits and never blocks.

Errors::

    LiveStreamError           base
    ├── SubscriberOverflowed  too many must-keep frames pending; close with 4408
    └── SubscriberClosed      next_frame after disconnect
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from telemetry.live.frames import MOTION_FIELDS, MOTION_OPERATOR, MotionRow

logger = logging.getLogger(__name__)

OVERFLOW_CLOSE_CODE = 4408
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY  # conformance results arrive as numpy scalars


class LiveStreamError(Exception):
    """Base of the live stream's errors."""


class SubscriberOverflowed(LiveStreamError):
    """The client fell behind on must-keep frames; close with 4408 and let it resync."""

    close_code = OVERFLOW_CLOSE_CODE


class SubscriberClosed(LiveStreamError):
    """The subscriber was disconnected; it yields no more frames."""


@dataclass(frozen=True, slots=True)
class Audience:
    """Who is watching: staff see everything, an organisation its own and strays."""

    sees_all: bool
    operator_id: str | None = None

    def sees(self, operator_id: str | None) -> bool:
        """True when something owned by ``operator_id`` (None: no one) is visible."""
        return self.sees_all or operator_id is None or operator_id == self.operator_id


@dataclass(frozen=True, slots=True)
class HubStats:
    """Counters for ``/metrics``, totals since the hub started."""

    subscribers: int
    """Connected now."""
    frames_published: int
    """Frames serialised: one per audience per publish, not one per client."""
    frames_dropped_total: int
    """Vehicles frames dropped from slow clients' queues."""
    overflowed_total: int
    """Clients cut off for falling behind on must-keep frames."""


def _as_json_value(value: object) -> object:
    if isinstance(value, Mapping):  # e.g. a MappingProxyType from a frozen snapshot
        return dict(value)
    raise TypeError(f"cannot put {type(value).__name__} into a live frame")


def serialise(frame: Mapping[str, Any]) -> str:
    """Return ``frame`` as compact JSON text (numpy scalars and arrays allowed)."""
    return orjson.dumps(frame, default=_as_json_value, option=_OPTIONS).decode()


class Subscriber:
    """One client's queue. Made by :meth:`LiveHub.connect`; drained by ``next_frame``.

    ``sent`` counts frames handed out (``dropped`` reports included);
    ``dropped_total`` counts ``vehicles`` frames this client lost.
    """

    def __init__(self, audience: Audience, queue_frames: int, must_keep_frames: int):
        self.audience = audience
        self.sent = 0
        self.dropped_total = 0
        self.overflowed = False
        self.closed = False
        self._queue_frames = queue_frames
        self._must_keep_frames = must_keep_frames
        # Two queues, so dropping the oldest vehicles frame is O(1) and must-keep
        # frames can jump ahead; each kind stays in publish order.
        self._vehicles: deque[str] = deque()
        self._keep: deque[str] = deque()
        self._unreported_drops = 0
        self._wakeup = asyncio.Event()

    def pending(self) -> int:
        """Frames ready to take (a due ``dropped`` report counts as one)."""
        report = 1 if self._unreported_drops else 0
        return len(self._vehicles) + len(self._keep) + report

    async def next_frame(self) -> str:
        """Wait for and return the next frame's JSON text.

        Raises :class:`SubscriberOverflowed` once the client is cut off and
        :class:`SubscriberClosed` after ``disconnect``.
        """
        while (frame := self.next_frame_nowait()) is None:
            self._wakeup.clear()
            await self._wakeup.wait()
        return frame

    def next_frame_nowait(self) -> str | None:
        """Return the next frame's text, or None when nothing is queued.

        Raises like :meth:`next_frame` once overflowed or disconnected.
        """
        if self.overflowed:
            raise SubscriberOverflowed(
                f"{self.audience}: more than {self._must_keep_frames} must-keep "
                "frames pending"
            )
        if self.closed:
            raise SubscriberClosed(f"{self.audience}: disconnected")
        if self._unreported_drops:
            report = {
                "type": "dropped",
                "frames": self._unreported_drops,
                "total": self.dropped_total,
            }
            self._unreported_drops = 0
            self.sent += 1
            return serialise(report)
        # Must-keep frames go first: an incident must not wait behind positions
        # (each carries its own time and place, so the order between the two kinds
        # tells a client nothing it needs).
        if self._keep:
            frame = self._keep.popleft()
        elif self._vehicles:
            frame = self._vehicles.popleft()
        else:
            return None
        self.sent += 1
        return frame

    def push(self, frame: Mapping[str, Any], *, snapshot: bool = False) -> None:
        """Queue a must-keep frame for this client alone (a pong, a resync snapshot).

        With ``snapshot=True`` the ``vehicles`` frames still queued are discarded
        first: the snapshot is newer than all of them (not counted as drops). Like
        a published one, this frame may overflow the subscriber.
        """
        if snapshot:
            self._vehicles.clear()
        self._offer_keep(serialise(frame))

    def _offer_vehicles(self, frame: str) -> int:
        """Queue a vehicles frame; return how many vehicles frames were dropped."""
        if self.closed or self.overflowed:
            return 0
        vehicles, keep = self._vehicles, self._keep
        dropped = 0
        # Must-keep frames count towards the bound too: positions make room for
        # them, so the client is never more than queue_frames frames behind on them.
        while vehicles and len(vehicles) + len(keep) >= self._queue_frames:
            vehicles.popleft()
            dropped += 1
        if len(keep) >= self._queue_frames:
            dropped += 1  # only must-keep frames queued: this one goes
        else:
            vehicles.append(frame)
            self._wakeup.set()
        self.dropped_total += dropped
        self._unreported_drops += dropped
        return dropped

    def _offer_keep(self, frame: str) -> bool:
        """Queue a must-keep frame; return False when that overflows this client."""
        if self.closed or self.overflowed:
            return True
        if len(self._keep) >= self._must_keep_frames:
            self.overflowed = True
            self._forget_queued()
            return False
        self._keep.append(frame)
        self._wakeup.set()
        return True

    def _close(self) -> None:
        self.closed = True
        self._forget_queued()

    def _forget_queued(self) -> None:
        self._vehicles.clear()
        self._keep.clear()
        self._unreported_drops = 0
        self._wakeup.set()  # a waiting next_frame wakes up to raise

    def __repr__(self) -> str:
        return (
            f"<Subscriber {self.audience} pending={self.pending()} sent={self.sent} "
            f"dropped_total={self.dropped_total} overflowed={self.overflowed}>"
        )


_E = TypeVar("_E")


class _ByOwner(Generic[_E]):
    """Entries grouped by owning organisation, for picking what an audience sees."""

    __slots__ = ("by_operator", "everything")

    def __init__(
        self, entries: Sequence[_E], owner: Callable[[_E], str | None]
    ) -> None:
        self.everything = list(entries)
        self.by_operator: dict[str | None, list[_E]] = {}
        for entry in self.everything:
            self.by_operator.setdefault(owner(entry), []).append(entry)

    def visible(self, audience: Audience) -> list[_E]:
        if audience.sees_all:
            return self.everything
        strays = self.by_operator.get(None, [])
        if audience.operator_id is None:
            return strays
        return strays + self.by_operator.get(audience.operator_id, [])


class LiveHub:
    """Fan-out of live frames to subscribers, grouped by audience.

    ``queue_frames`` bounds each client's queue (vehicles frames are dropped, oldest
    first, beyond it); ``must_keep_frames`` is how many undelivered must-keep frames
    a client may have before it is cut off.

    A route should ``connect`` *before* it builds the client's snapshot, so nothing
    published meanwhile is missed (a frame older than the snapshot is harmless).
    """

    def __init__(self, queue_frames: int = 10, must_keep_frames: int = 1024) -> None:
        if queue_frames < 1 or must_keep_frames < 1:
            raise ValueError(
                f"queue sizes must be at least 1, got queue_frames={queue_frames}, "
                f"must_keep_frames={must_keep_frames}"
            )
        self._queue_frames = queue_frames
        self._must_keep_frames = must_keep_frames
        self._audiences: dict[Audience, dict[Subscriber, None]] = {}
        self._seq: dict[Audience, int] = {}
        self._frames_published = 0
        self._frames_dropped = 0
        self._overflowed = 0

    def connect(self, audience: Audience) -> Subscriber:
        """Return a new subscriber that receives every later frame ``audience`` sees."""
        sub = Subscriber(audience, self._queue_frames, self._must_keep_frames)
        self._audiences.setdefault(audience, {})[sub] = None
        return sub

    def disconnect(self, sub: Subscriber) -> None:
        """Stop feeding ``sub`` and free its queue; a waiting ``next_frame`` raises."""
        self._remove(sub)
        sub._close()

    def _remove(self, sub: Subscriber) -> None:
        subs = self._audiences.get(sub.audience)
        if subs is None or sub not in subs:
            return
        del subs[sub]
        if not subs:  # no one left to serialise this audience's frames for
            del self._audiences[sub.audience]

    def publish_vehicles(
        self,
        t_s: float,
        vehicles: Sequence[Mapping[str, Any]],
        motion: Sequence[MotionRow] = (),
    ) -> None:
        """Queue one ``vehicles`` frame per audience present, holding what it may see.

        ``vehicles`` are full records, ``motion`` rows of ``MOTION_FIELDS``
        (docs/live-stream.md). Every record must have an ``"operator_id"`` and every
        row one in its place (None when unregistered); a missing one raises
        ``KeyError`` or ``IndexError`` rather than show a drone to the wrong
        organisation. ``seq`` counts up by one per frame *within an audience*, so a
        gap a client sees is exactly a dropped frame. An audience that may see none
        of them gets no frame.
        """
        if not (vehicles or motion) or not self._audiences:
            return
        full = _ByOwner(vehicles, lambda v: v["operator_id"])
        rows = _ByOwner(motion, lambda row: row[MOTION_OPERATOR])
        # Serialise every audience's frame before queueing any, so a value orjson
        # refuses leaves no audience a frame ahead of another.
        ready: list[tuple[Audience, str]] = []
        for audience in self._audiences:
            visible, visible_rows = full.visible(audience), rows.visible(audience)
            if visible or visible_rows:
                seq = self._seq.get(audience, 0) + 1
                frame = {
                    "type": "vehicles",
                    "t_s": t_s,
                    "seq": seq,
                    "vehicles": visible,
                    "motion_fields": MOTION_FIELDS,
                    "motion": visible_rows,
                }
                ready.append((audience, serialise(frame)))
        for audience, text in ready:
            self._seq[audience] = self._seq.get(audience, 0) + 1
            self._frames_published += 1
            for sub in self._audiences[audience]:
                self._frames_dropped += sub._offer_vehicles(text)

    def publish(self, frame: Mapping[str, Any], operator_id: str | None) -> None:
        """Queue a must-keep frame (event, incident, booking, closure) to its viewers.

        Staff see every one; an organisation those whose ``operator_id`` is its own;
        ``operator_id`` None means everyone. Serialised once, if anyone sees it.
        """
        text: str | None = None
        cut_off: list[Subscriber] = []
        for audience, subs in self._audiences.items():
            if not audience.sees(operator_id):
                continue
            if text is None:
                text = serialise(frame)
                self._frames_published += 1
            cut_off.extend(sub for sub in subs if not sub._offer_keep(text))
        for sub in cut_off:
            self._remove(sub)
            self._overflowed += 1
            logger.warning(
                "live client %s cut off: over %d must-keep frames pending",
                sub.audience,
                self._must_keep_frames,
            )

    @property
    def subscribers(self) -> int:
        return sum(len(subs) for subs in self._audiences.values())

    def stats(self) -> HubStats:
        """Return the counters ``/metrics`` exports."""
        return HubStats(
            subscribers=self.subscribers,
            frames_published=self._frames_published,
            frames_dropped_total=self._frames_dropped,
            overflowed_total=self._overflowed,
        )
