"""The live stream's overload feed: the ``gateway`` frame, and when it is sent.

A link that falls behind sheds load (``telemetry.mavlink.shedding``): it keeps each
drone's newest position and drops the stale ones. The map shows a banner while any
link of this process does. ``OverloadFeed.frame`` is the ``gateway`` frame a live
snapshot carries (``web.routes.live``); ``run`` publishes a fresh one to every
viewer when shedding starts and when it stops, checked every ``OVERLOAD_CHECK_S``.
Part of ``web.telemetry_runtime``, which owns the links and runs the task.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from telemetry.live.frames import utc_iso
from telemetry.mavlink.transports import Link

OVERLOAD_CHECK_S = 0.5
"""How often the links are asked whether they shed load, for the live stream."""

Publish = Callable[[Mapping[str, Any], str | None], None]
"""Announces a must-keep frame to every viewer (``TelemetryRuntime.publish``)."""


class OverloadFeed:
    """Whether the links of this process shed load, told to the live stream."""

    def __init__(self, links: Callable[[], Sequence[Link]], publish: Publish) -> None:
        self._links = links
        self._publish = publish

    @property
    def overloaded(self) -> bool:
        """Some link of this process sheds load (``telemetry.mavlink.shedding``)."""
        return any(link.overloaded for link in self._links())

    def frame(self) -> dict[str, Any]:
        """The live stream's ``gateway`` frame: whether positions are being shed."""
        links = self._links()
        return {
            "type": "gateway",
            "overloaded": self.overloaded,
            "links": [link.link_id for link in links if link.overloaded],
            "shed_datagrams": sum(link.counters.shed_datagrams for link in links),
            "t_utc": utc_iso(time.time()),
        }

    async def run(self) -> None:
        """Tell every viewer when shedding starts and stops (the map shows it)."""
        shown = False
        while True:
            await asyncio.sleep(OVERLOAD_CHECK_S)
            if self.overloaded != shown:
                shown = not shown
                self._publish(self.frame(), None)
