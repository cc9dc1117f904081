"""Prometheus metrics of one app: a collector that reads the live figures at scrape
time, registered in a registry of that app's own.

Nothing is counted twice: the gateway, hub, bus and recorder already keep their
counters, so ``SkyBerthCollector.collect`` only reads them and types them
(``counter`` with the ``_total`` suffix for totals since start, ``gauge`` for
figures that go up and down). One ``CollectorRegistry`` per app, never the client
library's global one, so several apps in one test process do not see each other.

Link metrics are labelled by link (``udpin:0.0.0.0:14550``, ``tcpin:0.0.0.0:5760``),
never by a TCP peer's address: a peer's ephemeral port would start a new series at
every reconnect. A link's figures are the sum over its streams, and the figures of
a stream that ended are kept (from the last scrape that saw it), so a link's
counters do not fall back when a connection closes.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from telemetry.mavlink.transports import link_key
from telemetry.recording.recorder import RecorderCounters
from web.telemetry_runtime import TelemetryRuntime

BAD_INPUT_KINDS = (
    "bad_crc",
    "malformed",
    "garbage_bytes",
    "truncated",
    "unknown_msg_id",
    "signature_rejected",
)
"""The codec's bad-input counters, exported as ``kind`` labels."""
REFUSED_REASONS = (
    "wrong_source",
    "unsigned_at_strict_site",
    "vehicles",
    "tlog_bytes",
    "track_rows",
    "incidents",
)
"""Reasons ``skyberth_refused`` always lists (at 0 until one happens)."""
_LINK_FIELDS = ("frames_ok", "seq_lost", *BAD_INPUT_KINDS)
_RECORDER_GAUGES = frozenset({"held", "must_keep_pending"})
"""Recorder figures that are a current amount, not a total since start."""


class LinkTotals:
    """Per-link sums of the codec's stream counters that never go down when a
    stream (a TCP connection) ends. Safe to call from concurrent scrapes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, dict[str, int]] = {}
        """Each open stream's counters at the last scrape."""
        self._ended: defaultdict[str, Counter[str]] = defaultdict(Counter)
        """Per link, the last-seen counters of its streams that have ended."""

    def update(self, streams: Iterable[Mapping[str, Any]]) -> dict[str, Counter[str]]:
        """Return per link id the counters of ``streams`` (``Gateway.links()`` rows,
        keyed by stream id) plus those of the link's ended streams."""
        current = {
            str(row["link_id"]): {f: int(row.get(f, 0)) for f in _LINK_FIELDS}
            for row in streams
        }
        with self._lock:
            for stream_id in self._last.keys() - current.keys():
                self._ended[link_key(stream_id)].update(self._last.pop(stream_id))
            self._last.update(current)
            totals: dict[str, Counter[str]] = {
                link: Counter(counts) for link, counts in self._ended.items()
            }
        for stream_id, counts in current.items():
            totals.setdefault(link_key(stream_id), Counter()).update(counts)
        return totals


class SkyBerthCollector(Collector):
    """Reads one app's gateway, hub, bus and recorder figures at each scrape."""

    def __init__(self, runtime: TelemetryRuntime) -> None:
        self.runtime = runtime
        self.links = LinkTotals()

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the registry must not scrape while registering."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Return every metric family with its current samples."""
        if self.runtime.role == "web":
            # No gateway here: what it knows is the relayed picture. The links are
            # the gateways' own metrics (and, added up, /api/v1/telemetry/links).
            yield from self._relay()
        else:
            yield from self._gateway()
            yield from self._links()
        yield from self._hub()
        yield from self._bus()
        yield from self._loop()
        if self.runtime.recorder is not None:
            yield from self._recorder(self.runtime.recorder.counters())

    def _loop(self) -> Iterator[Metric]:
        lag = self.runtime.loop_watch.lag()
        family = GaugeMetricFamily(
            "skyberth_event_loop_lag_seconds",
            "How late the event loop woke a 20 ms sleep, over the last 30 s.",
            labels=["quantile"],
        )
        family.add_metric(["0.5"], lag.p50_s)
        family.add_metric(["0.99"], lag.p99_s)
        family.add_metric(["max"], lag.max_s)
        yield family
        yield CounterMetricFamily(
            "skyberth_event_loop_stalls",
            "Times the event loop was stuck for over 0.5 s (each logged with where).",
            value=lag.stalls,
        )

    def _relay(self) -> Iterator[Metric]:
        relay = self.runtime.relay
        control = self.runtime.bus.control
        yield GaugeMetricFamily(
            "skyberth_vehicles",
            "Vehicles the bus brought, shown to viewers (link_lost ones included).",
            value=relay.vehicles if relay is not None else 0,
        )
        yield GaugeMetricFamily(
            "skyberth_vehicles_link_lost",
            "Vehicles shown link_lost (nothing heard for 3 s).",
            value=relay.link_lost if relay is not None else 0,
        )
        yield GaugeMetricFamily(
            "skyberth_bus_lag_seconds",
            "Receive time minus gateway tick of the latest vehicles batch.",
            value=relay.lag_s if relay is not None else 0.0,
        )
        yield GaugeMetricFamily(
            "skyberth_bus_gateways",
            "Gateways whose link report arrived in the last 30 s.",
            value=len(control.link_reports()) if control is not None else 0,
        )

    def _gateway(self) -> Iterator[Metric]:
        gateway = self.runtime.gateway
        yield GaugeMetricFamily(
            "skyberth_vehicles",
            "Vehicles heard in the last 10 minutes.",
            value=gateway.vehicle_count(),
        )
        yield CounterMetricFamily(
            "skyberth_gateway_ticks", "Gateway ticks run.", value=gateway.ticks
        )
        yield GaugeMetricFamily(
            "skyberth_gateway_tick_seconds_max",
            "Slowest tick so far.",
            value=gateway.tick_seconds_max,
        )
        events = CounterMetricFamily(
            "skyberth_events", "Gateway events raised, by kind.", labels=["kind"]
        )
        for kind, count in sorted(gateway.events_total.items()):
            events.add_metric([kind], count)
        yield events
        refused = CounterMetricFamily(
            "skyberth_refused",
            "MAVLink input refused by the trust model, by reason: a sender other "
            "than the pinned one or an unverified frame at a site that requires "
            "signing (frames), or an unregistered-sysid quota "
            "(vehicles, tlog_bytes: frames; track_rows: rows; incidents).",
            labels=["reason"],
        )
        reasons = Counter(gateway.refused_frames) + gateway.quotas.refused
        for reason in REFUSED_REASONS:
            reasons.setdefault(reason, 0)
        for reason, count in sorted(reasons.items()):
            refused.add_metric([reason], count)
        yield refused

    def _links(self) -> Iterator[Metric]:
        totals = sorted(self.links.update(self.runtime.gateway.links()).items())
        messages = CounterMetricFamily(
            "skyberth_link_messages",
            "MAVLink frames decoded, by link.",
            labels=["link"],
        )
        bad = CounterMetricFamily(
            "skyberth_link_bad_input",
            "Bad MAVLink input by link and kind.",
            labels=["link", "kind"],
        )
        lost = CounterMetricFamily(
            "skyberth_link_seq_lost",
            "Frames lost (sequence gaps), by link.",
            labels=["link"],
        )
        for link, counts in totals:
            messages.add_metric([link], counts["frames_ok"])
            for kind in BAD_INPUT_KINDS:
                bad.add_metric([link, kind], counts[kind])
            lost.add_metric([link], counts["seq_lost"])
        yield from (messages, bad, lost)
        overloaded = GaugeMetricFamily(
            "skyberth_link_overloaded",
            "1 while the link's reader is behind and sheds stale datagrams.",
            labels=["link"],
        )
        shed = CounterMetricFamily(
            "skyberth_link_shed_datagrams",
            "Datagrams read but not decoded while overloaded (superseded).",
            labels=["link"],
        )
        for open_link in self.runtime.links:
            overloaded.add_metric([open_link.link_id], int(open_link.overloaded))
            shed.add_metric([open_link.link_id], open_link.counters.shed_datagrams)
        yield from (overloaded, shed)

    def _hub(self) -> Iterator[Metric]:
        hub = self.runtime.hub.stats()
        yield GaugeMetricFamily(
            "skyberth_live_subscribers",
            "Connected live-stream clients.",
            value=hub.subscribers,
        )
        yield CounterMetricFamily(
            "skyberth_live_frames_dropped",
            "Position frames dropped for slow clients.",
            value=hub.frames_dropped_total,
        )
        yield CounterMetricFamily(
            "skyberth_live_clients_overflowed",
            "Clients cut off as too slow.",
            value=hub.overflowed_total,
        )

    def _bus(self) -> Iterator[Metric]:
        bus = self.runtime.bus.stats().as_dict()
        yield GaugeMetricFamily(
            "skyberth_bus_connected",
            "1 while the live bus carries frames.",
            value=bus.pop("connected"),
        )
        yield GaugeMetricFamily(
            "skyberth_bus_events_pending",
            "Must-keep frames waiting for the bus.",
            value=bus.pop("events_pending"),
        )
        traffic = CounterMetricFamily(
            "skyberth_bus", "Live bus traffic, by what happened.", labels=["what"]
        )
        for key, value in sorted(bus.items()):
            traffic.add_metric([key], value)
        yield traffic

    def _recorder(self, counters: RecorderCounters) -> Iterator[Metric]:
        stats = dataclasses.asdict(counters)
        yield GaugeMetricFamily(
            "skyberth_recorder_rows_held",
            "Rows held in memory after a failed write.",
            value=stats["held"],
        )
        yield GaugeMetricFamily(
            "skyberth_recorder_must_keep_pending",
            "Incidents, evidence and timeline events not yet written (never "
            "dropped; over the recorder's bound they are counted as "
            "must_keep_over_bound).",
            value=stats["must_keep_pending"],
        )
        rows = CounterMetricFamily(
            "skyberth_recorder_rows", "Recorder work, by outcome.", labels=["outcome"]
        )
        for key, value in sorted(stats.items()):
            if key not in _RECORDER_GAUGES:
                rows.add_metric([key], value)
        yield rows


def metrics_registry(runtime: TelemetryRuntime) -> CollectorRegistry:
    """Return a new registry holding only ``runtime``'s collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SkyBerthCollector(runtime))
    return registry
