"""The bus's control channel: what processes tell each other besides live frames.

Two core-NATS subjects beside the live traffic (docs/bus.md), fire and forget:

- ``<prefix>.control.full_records``: a web process that (re)starts asks every
  gateway for the full record of every vehicle at its next tick, so its first
  snapshot names every drone (motion rows alone carry no drone, booking or
  corridor) instead of waiting up to ``full_record_s`` for the next round;
- ``<prefix>.control.links``: each gateway's link figures (the payload of
  ``GET /api/v1/telemetry/links`` on one process, plus its node name), every
  ``LINK_REPORT_S``; web processes keep the latest per gateway and add them up.

:class:`ControlChannel` is handed the NATS connection by ``NatsBus`` once it is up;
until then (and on the in-process bus, which has none) requests and reports are
simply not sent: both are repeated or harmless to miss.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from telemetry.log_limits import RateLimitedLog

logger = logging.getLogger(__name__)

LINK_REPORT_S = 2.0
"""How often a gateway publishes its link figures."""
LINK_REPORT_FORGET_S = 30.0
"""A gateway not heard of for this long is left out of the sum (stopped, or gone)."""


@dataclass(frozen=True, slots=True)
class LinkReport:
    """One gateway's latest link figures, as received."""

    node: str
    received_s: float
    """Wall-clock time (s since the epoch) it arrived."""
    report: Mapping[str, Any]


class ControlChannel:
    """Full-record requests and link reports over one NATS connection.

    Producers (gateways) set ``on_full_records_wanted`` and call
    ``publish_links``; consumers (web processes) call ``request_full_records``
    and read ``link_reports``. Every method is for the event loop thread.
    """

    def __init__(
        self, prefix: str, node_name: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.prefix = prefix
        self.node_name = node_name
        self._clock = clock
        self._nc: Any = None
        """The connected ``nats.aio.client.Client``, once the bus has one."""
        self._reports: dict[str, LinkReport] = {}
        self.on_full_records_wanted: Callable[[], None] | None = None
        """Called when any web process asks for full records (a gateway sets it)."""
        self.full_records_requested = 0
        self.full_records_answered = 0
        self._log_limited = RateLimitedLog(logger, 10.0)

    @property
    def full_records_subject(self) -> str:
        return f"{self.prefix}.control.full_records"

    @property
    def links_subject(self) -> str:
        return f"{self.prefix}.control.links"

    async def attach(self, nc: Any, *, consuming: bool) -> None:
        """Start on the connection ``nc``: answer full-record requests; when
        ``consuming``, collect link reports and ask for full records now."""
        self._nc = nc
        await nc.subscribe(self.full_records_subject, cb=self._on_full_records)
        if consuming:
            await nc.subscribe(self.links_subject, cb=self._on_links)
            await self.request_full_records()

    async def request_full_records(self) -> None:
        """Ask every gateway for every vehicle's full record at its next tick."""
        if await self._send(self.full_records_subject, {"node": self.node_name}):
            self.full_records_requested += 1

    async def publish_links(self, report: Mapping[str, Any]) -> None:
        """Publish this gateway's link figures (``report``, JSON-able)."""
        await self._send(self.links_subject, {**report, "node": self.node_name})

    def link_reports(self) -> list[LinkReport]:
        """The latest report of each gateway heard within ``LINK_REPORT_FORGET_S``,
        by node name."""
        horizon = self._clock() - LINK_REPORT_FORGET_S
        for node in [n for n, r in self._reports.items() if r.received_s < horizon]:
            del self._reports[node]
        return sorted(self._reports.values(), key=lambda r: r.node)

    async def _send(self, subject: str, body: Mapping[str, Any]) -> bool:
        nc = self._nc
        if nc is None or not nc.is_connected:
            return False
        try:
            await nc.publish(subject, orjson.dumps(body))
        except Exception as exc:
            self._log_limited(
                logging.WARNING,
                subject,
                "control publish on %s failed: %s",
                subject,
                exc,
            )
            return False
        return True

    async def _on_full_records(self, msg: Any) -> None:
        callback = self.on_full_records_wanted
        if callback is None:
            return
        self.full_records_answered += 1
        try:
            callback()
        except Exception:
            logger.exception("full-record request not answered")

    async def _on_links(self, msg: Any) -> None:
        try:
            body = orjson.loads(msg.data)
            node = body["node"]
            if not isinstance(node, str) or not isinstance(body.get("links"), list):
                raise TypeError("no node or links")
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            self._log_limited(
                logging.WARNING,
                "links",
                "not a link report on %s: %s",
                msg.subject,
                exc,
            )
            return
        self._reports[node] = LinkReport(node, self._clock(), body)


def fleet_links(reports: list[LinkReport], now_s: float) -> dict[str, Any]:
    """The gateways' link reports added up, shaped as one process's
    ``GET /api/v1/telemetry/links`` answer: every link (tagged with its
    ``node``), the vehicles of all gateways, the slowest ticks, and per gateway
    its report's age."""
    links: list[dict[str, Any]] = []
    gateways: list[dict[str, Any]] = []
    for r in reports:
        body = r.report
        links += [{**row, "node": r.node} for row in body.get("links", [])]
        gateways.append(
            {
                "node": r.node,
                "age_s": round(max(0.0, now_s - r.received_s), 3),
                "vehicles": body.get("vehicles", 0),
                "tick_ms_last": body.get("tick_ms_last", 0.0),
                "tick_ms_max": body.get("tick_ms_max", 0.0),
            }
        )
    return {
        "links": links,
        "vehicles": sum(int(g["vehicles"] or 0) for g in gateways),
        "tick_ms_last": max((g["tick_ms_last"] for g in gateways), default=0.0),
        "tick_ms_max": max((g["tick_ms_max"] for g in gateways), default=0.0),
        "gateways": gateways,
    }
