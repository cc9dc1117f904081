"""The live bus over NATS: positions on core subjects, events through JetStream.

Subjects (docs/bus.md), with the default prefix ``skyberth``:

- ``skyberth.<site>.vehicles``: one message per batch of at most
  ``vehicles_per_message`` entries (full records and motion rows together) of one
  site, ``{"type": "vehicles", "t_s", "vehicles": [...], "motion": [...]}``; core
  NATS, fire and forget (latest wins). Rows carry no ``site_id``: the producer
  routes them by the site of the vehicle's last full record;
- ``skyberth.<site>.events.<type>`` (``event``, ``incident``, ``booking``,
  ``closure``): one live-stream frame per message, header ``Skyberth-Operator`` when
  it belongs to one organisation, ``Nats-Msg-Id`` a digest of the message so a
  retried publish is stored once; captured by the JetStream stream
  ``SKYBERTH_EVENTS`` (file storage, one day, two-minute duplicate window);
- ``skyberth.control.*``: full-record requests and gateways' link reports,
  handled by ``control.ControlChannel`` on this bus's connection.

The prefix and the stream's name come from the deployment name (``open_bus``), so
installations sharing a NATS server never see each other's traffic.

Publishing never awaits: ``publish_vehicles`` and ``publish`` queue and return.
One task sends positions (dropped, and counted, while NATS is away); another sends
events in order, in pipelined batches, waits for every JetStream acknowledgement
and retries what was not acknowledged with exponential back-off, for as long as
it takes (events wait in memory up to ``max_pending_events``).

A consuming process (``start(sink)``) subscribes to every site's positions and to
the stream through a durable push consumer named after the process
(``node_name``): a process that was away, or restarted under the same name,
resumes with the first event it had not acknowledged. A new name starts with
events published from then on. Redeliveries are recognised by their stream
sequence and delivered once.

The connection is kept by nats-py (reconnects forever); when NATS is down at
``start``, a background task keeps trying and sets everything up once it answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import nats
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NoStreamResponseError

from telemetry.live.bus.base import (
    MUST_KEEP_TYPES,
    BusStats,
    LiveSink,
    frame_site,
    subject_token,
)
from telemetry.live.bus.control import ControlChannel
from telemetry.live.frames import MOTION_KEY, MotionRow
from telemetry.log_limits import RateLimitedLog
from telemetry.retry_policy import jittered_waits

logger = logging.getLogger(__name__)

HEADER_OPERATOR = "Skyberth-Operator"
HEADER_NODE = "Skyberth-Node"
HEADER_MSG_ID = "Nats-Msg-Id"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_EVENT_BATCH = 256
_BACKOFF_FIRST_S = 0.05
_BACKOFF_MAX_S = 2.0
_LOG_EVERY_S = 10.0
_SEEN_SEQUENCES = 65536
_SITE_KEYS = 100_000
"""Vehicle keys whose site the producer remembers before it starts afresh."""
MAX_EVENT_BYTES = 512 * 1024
"""A must-keep frame bigger than this is refused (NATS's default limit is 1 MB,
and a frame at the head of the queue that can never be published would hold
back every later one)."""


def _event_waits() -> Iterator[float]:
    """Waits between retries of unacknowledged events (jittered, so gateways
    retrying after a NATS restart do not all hit it at once)."""
    return jittered_waits(_BACKOFF_FIRST_S, _BACKOFF_MAX_S)


def _json_default(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot put {type(value).__name__} into a live frame")


def dumps(frame: Mapping[str, Any]) -> bytes:
    """``frame`` as compact JSON bytes, as the hub serialises it (numpy allowed)."""
    return orjson.dumps(frame, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY)


@dataclass(frozen=True, slots=True)
class _Outgoing:
    subject: str
    payload: bytes
    headers: dict[str, str]


class NatsBus:
    """A :class:`telemetry.live.bus.base.LiveBus` on a NATS server with JetStream."""

    remote = True

    def __init__(
        self,
        url: str,
        node_name: str,
        *,
        prefix: str = "skyberth",
        stream: str = "SKYBERTH_EVENTS",
        ack_timeout_s: float = 2.0,
        connect_timeout_s: float = 2.0,
        reconnect_wait_s: float = 0.5,
        max_pending_events: int = 100_000,
        max_vehicle_messages: int = 512,
        vehicles_per_message: int = 256,
        events_max_age_s: float = 86_400.0,
        consumer_inactive_s: float = 86_400.0,
        close_timeout_s: float = 5.0,
    ) -> None:
        for what, value in (("node name", node_name), ("subject prefix", prefix)):
            if not _NAME.fullmatch(value):
                raise ValueError(
                    f"bus {what} {value!r}: use 1-64 letters, digits, '-' or '_'"
                )
        if not _NAME.fullmatch(stream):
            raise ValueError(f"JetStream stream name {stream!r} is not a valid name")
        if vehicles_per_message < 1 or max_pending_events < 1:
            raise ValueError("vehicles_per_message and max_pending_events must be >= 1")
        self.url = url
        self.node_name = node_name
        self.prefix = prefix
        self.stream = stream
        self.ack_timeout_s = ack_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.reconnect_wait_s = reconnect_wait_s
        self.max_pending_events = max_pending_events
        self.vehicles_per_message = vehicles_per_message
        self.events_max_age_s = events_max_age_s
        self.consumer_inactive_s = consumer_inactive_s
        self.close_timeout_s = close_timeout_s
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._sink: LiveSink | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subscriptions: list[Any] = []
        self._events: deque[_Outgoing] = deque()
        self._events_ready = asyncio.Event()
        self._vehicles: deque[tuple[str, bytes]] = deque(maxlen=max_vehicle_messages)
        self._vehicles_ready = asyncio.Event()
        self._vehicle_headers = {HEADER_NODE: node_name}
        self._seen: set[int] = set()
        self._seen_order: deque[int] = deque()
        self._site_of: dict[str, str] = {}
        """Subject token of each vehicle key's last full record, to route its rows."""
        self.control: ControlChannel | None = ControlChannel(prefix, node_name)
        """Full-record requests and link reports (``telemetry.live.bus.control``)."""
        self._control_attached = False
        self._closing = False
        self._started = False
        self._log_limited = RateLimitedLog(logger, _LOG_EVERY_S)
        self._c: dict[str, int] = dict.fromkeys(
            (
                "vehicle_batches_sent",
                "vehicle_batches_dropped",
                "events_sent",
                "events_retried",
                "events_dropped",
                "vehicle_batches_received",
                "events_received",
                "events_duplicate",
                "bad_messages",
            ),
            0,
        )

    # -- state -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        nc = self._nc
        return nc is not None and nc.is_connected

    @property
    def consuming(self) -> bool:
        """True once positions and the durable event consumer are subscribed."""
        return self.connected and len(self._subscriptions) == 2

    @property
    def events_subjects(self) -> str:
        """The stream's subject filter: every site's events."""
        return f"{self.prefix}.*.events.>"

    def stats(self) -> BusStats:
        """A snapshot of the counters."""
        return BusStats(
            kind="nats",
            connected=self.connected,
            events_pending=len(self._events),
            **self._c,
        )

    # -- lifecycle ---------------------------------------------------------------

    async def start(self, sink: LiveSink | None) -> None:
        """Connect (or keep trying in the background) and start the senders.

        With a ``sink``, this process also consumes: positions of every site and
        the event stream, through its durable consumer ``node_name``.
        """
        if self._started:
            raise RuntimeError("the bus is already started")
        self._started = True
        self._sink = sink
        self._tasks.append(asyncio.create_task(self._send_events(), name="bus-events"))
        self._tasks.append(
            asyncio.create_task(self._send_vehicles(), name="bus-vehicles")
        )
        # nats-py retries a first connection forever (reconnects are unlimited),
        # so connecting never fails: wait a little, then let it finish later.
        connecting = asyncio.create_task(self._connect_until_up(), name="bus-connect")
        self._tasks.append(connecting)
        await asyncio.wait({connecting}, timeout=self.connect_timeout_s)
        if not connecting.done():
            logger.warning(
                "NATS at %s not reachable yet; connecting in the background", self.url
            )

    async def _connect_until_up(self) -> None:
        waits = jittered_waits(
            self.reconnect_wait_s, max(self.reconnect_wait_s, _BACKOFF_MAX_S * 5)
        )
        while not self._closing:
            try:
                await self._connect_and_set_up()
                logger.info("NATS bus up at %s as %s", self.url, self.node_name)
                return
            except Exception as exc:
                # Connected, but JetStream said no (not enabled, no space...).
                self._log_limited(
                    logging.WARNING, "setup", "NATS bus not set up yet: %s", exc
                )
                await asyncio.sleep(next(waits))

    async def _connect_and_set_up(self) -> None:
        if self._nc is None:
            self._nc = await nats.connect(
                self.url,
                name=self.node_name,
                connect_timeout=max(1, round(self.connect_timeout_s)),
                reconnect_time_wait=self.reconnect_wait_s,
                max_reconnect_attempts=-1,
                allow_reconnect=True,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
            )
            self._js = self._nc.jetstream(timeout=self.ack_timeout_s)
        await self._ensure_stream()
        if self._sink is not None and not self._subscriptions:
            self._subscriptions.append(
                await self._nc.subscribe(
                    f"{self.prefix}.*.vehicles",
                    cb=self._on_vehicles,
                    pending_msgs_limit=4096,
                    pending_bytes_limit=256 * 1024 * 1024,
                )
            )
            self._tasks.append(
                asyncio.create_task(self._bind_consumer(), name="bus-consumer")
            )
        if self.control is not None and not self._control_attached:
            # After the positions subscription: the full records asked for here
            # must find it in place.
            await self.control.attach(self._nc, consuming=self._sink is not None)
            self._control_attached = True
        self._events_ready.set()

    async def _ensure_stream(self) -> None:
        js = self._js
        if js is None:
            return
        config = api.StreamConfig(
            name=self.stream,
            subjects=[self.events_subjects],
            retention=api.RetentionPolicy.LIMITS,
            storage=api.StorageType.FILE,
            discard=api.DiscardPolicy.OLD,
            max_age=self.events_max_age_s,
            duplicate_window=120.0,
        )
        try:
            await js.add_stream(config)
        except BadRequestError as exc:
            # Made earlier with other limits (by an operator, or another version):
            # use it as it is, as long as it captures our subjects.
            logger.warning(
                "JetStream stream %s kept as configured: %s", self.stream, exc
            )

    async def _bind_consumer(self) -> None:
        """Bind this process's durable consumer; retried while NATS says no."""
        waits = jittered_waits(_BACKOFF_FIRST_S, _BACKOFF_MAX_S)
        while not self._closing:
            js = self._js
            if js is None:
                return
            try:
                sub = await js.subscribe(
                    self.events_subjects,
                    durable=self.node_name,
                    stream=self.stream,
                    cb=self._on_event,
                    manual_ack=True,
                    config=api.ConsumerConfig(
                        deliver_policy=api.DeliverPolicy.NEW,
                        ack_policy=api.AckPolicy.EXPLICIT,
                        ack_wait=10.0,
                        max_ack_pending=20_000,
                    ),
                    flow_control=True,
                    idle_heartbeat=5.0,
                    inactive_threshold=self.consumer_inactive_s,
                    pending_msgs_limit=100_000,
                )
            except Exception as exc:
                # "already bound": the server has not yet noticed that this name's
                # previous process died (it will), or another live process has
                # the same name (it must not).
                self._log_limited(
                    logging.WARNING,
                    "bind",
                    "durable consumer %s not bound yet (%s); if another process "
                    "runs under this node name, give each its own",
                    self.node_name,
                    exc,
                )
                await asyncio.sleep(next(waits))
                continue
            self._subscriptions.append(sub)
            logger.info("bus consumer %s bound to %s", self.node_name, self.stream)
            return

    async def close(self) -> None:
        """Stop consuming, wait up to ``close_timeout_s`` for pending events to be
        acknowledged, then disconnect. Idempotent."""
        if self._closing:
            return
        self._closing = True
        self._sink = None  # nothing more reaches the hub
        for sub in self._subscriptions:
            with suppress(Exception):
                await sub.unsubscribe()
        self._subscriptions.clear()
        deadline = time.monotonic() + self.close_timeout_s
        while self._events and self.connected and time.monotonic() < deadline:
            self._events_ready.set()
            await asyncio.sleep(0.01)
        if self._events:
            logger.error(
                "bus closing with %d event(s) not acknowledged by JetStream "
                "(incidents among them are in the database)",
                len(self._events),
            )
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._nc is not None:
            with suppress(Exception):
                await self._nc.close()

    # -- publishing --------------------------------------------------------------

    def publish_vehicles(
        self,
        t_s: float,
        vehicles: Sequence[Mapping[str, Any]],
        motion: Sequence[MotionRow] = (),
    ) -> None:
        """Queue the batch, split by site and into messages NATS accepts.

        A motion row goes to the site of its vehicle's last full record (the
        gateway sends one before any row), ``_`` when none was seen.
        """
        if not vehicles and not motion:
            return
        by_site: dict[str, tuple[list[Mapping[str, Any]], list[MotionRow]]] = {}
        site_of = self._site_of
        for vehicle in vehicles:
            site = subject_token(vehicle.get("site_id"))
            key = vehicle.get("key")
            if isinstance(key, str) and site_of.get(key) != site:
                if len(site_of) >= _SITE_KEYS:
                    # Nothing says when a vehicle is gone (links and sysids come
                    # and go), so keys would only pile up. Starting afresh is
                    # simpler than tracking ages and costs little: each vehicle's
                    # full record comes again within the gateway's
                    # ``full_record_s``, and its rows meanwhile go to ``_``, which
                    # every consumer subscribes to as well.
                    site_of.clear()
                site_of[key] = site
            by_site.setdefault(site, ([], []))[0].append(vehicle)
        for row in motion:
            key = row[MOTION_KEY] if row else None
            site = site_of.get(key, "_") if isinstance(key, str) else "_"
            by_site.setdefault(site, ([], []))[1].append(row)
        step = self.vehicles_per_message
        for site, (records, rows) in by_site.items():
            subject = f"{self.prefix}.{site}.vehicles"
            # Records first, then rows, at most ``step`` entries a message.
            n = len(records)
            for i in range(0, n + len(rows), step):
                if not self.connected:
                    self._c["vehicle_batches_dropped"] += 1
                    continue
                frame = {
                    "type": "vehicles",
                    "t_s": t_s,
                    "vehicles": records[i : i + step],
                    "motion": rows[max(0, i - n) : max(0, i + step - n)],
                }
                if len(self._vehicles) == self._vehicles.maxlen:
                    self._c["vehicle_batches_dropped"] += 1  # the oldest goes
                self._vehicles.append((subject, dumps(frame)))
        self._vehicles_ready.set()

    def publish(self, frame: Mapping[str, Any], operator_id: str | None) -> None:
        """Queue a must-keep frame for JetStream; raises ``TypeError`` when the frame
        cannot be serialised (a caller's bug, as with the hub)."""
        kind = frame.get("type")
        token = kind if isinstance(kind, str) and kind in MUST_KEEP_TYPES else "other"
        subject = f"{self.prefix}.{subject_token(frame_site(frame))}.events.{token}"
        payload = dumps(frame)
        headers: dict[str, str] = {}
        if operator_id is not None:
            headers[HEADER_OPERATOR] = operator_id
        digest = hashlib.blake2b(digest_size=16)
        for part in (subject, operator_id or "", payload):
            digest.update(part if isinstance(part, bytes) else part.encode())
            digest.update(b"\0")
        headers[HEADER_MSG_ID] = digest.hexdigest()
        refused = None
        if self._closing:
            refused = "the bus is closed"
        elif len(payload) > MAX_EVENT_BYTES:
            refused = f"{len(payload)} bytes is over {MAX_EVENT_BYTES}"
        elif len(self._events) >= self.max_pending_events:
            refused = f"{len(self._events)} events wait for NATS already"
        if refused is not None:
            self._c["events_dropped"] += 1
            self._log_limited(
                logging.WARNING,
                f"drop-{refused[:8]}",
                "%s frame not published: %s (incidents are in the database)",
                token,
                refused,
            )
            return
        self._events.append(_Outgoing(subject, payload, headers))
        self._events_ready.set()

    async def _send_events(self) -> None:
        waits = _event_waits()
        while True:
            if not self._events or not self.connected:
                self._events_ready.clear()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._events_ready.wait(), 0.5)
                continue
            batch = [
                self._events[i] for i in range(min(_EVENT_BATCH, len(self._events)))
            ]
            acked = await self._publish_batch(batch)
            # Only this task removes from the left; publish() appends on the right.
            for _ in batch:
                self._events.popleft()
            failed = [out for out, ok in zip(batch, acked, strict=True) if not ok]
            self._c["events_sent"] += len(batch) - len(failed)
            if not failed:
                waits = _event_waits()  # a success starts the back-off afresh
                continue
            self._events.extendleft(reversed(failed))
            self._c["events_retried"] += len(failed)
            await asyncio.sleep(next(waits))

    async def _publish_batch(self, batch: list[_Outgoing]) -> list[bool]:
        """Publish in order without waiting in between; True where acknowledged."""
        js = self._js
        if js is None:
            return [False] * len(batch)
        futures: list[asyncio.Future[api.PubAck] | None] = []
        for out in batch:
            try:
                futures.append(
                    await js.publish_async(
                        out.subject,
                        out.payload,
                        headers=dict(out.headers),
                        wait_stall=self.ack_timeout_s,
                    )
                )
            except Exception as exc:
                self._log_limited(
                    logging.WARNING, "publish", "event publish failed: %s", exc
                )
                futures.append(None)
        waiting = [f for f in futures if f is not None]
        if waiting:
            _, late = await asyncio.wait(waiting, timeout=self.ack_timeout_s)
            for future in late:
                future.cancel()
        acked: list[bool] = []
        no_stream = False
        for pending in futures:
            if pending is None or not pending.done() or pending.cancelled():
                acked.append(False)
                continue
            refused = pending.exception()
            if refused is not None:
                no_stream = no_stream or isinstance(refused, NoStreamResponseError)
                self._log_limited(
                    logging.WARNING, "ack", "JetStream refused an event: %s", refused
                )
            acked.append(refused is None)
        if no_stream:
            # The server lost its stream (a fresh store): make it again.
            with suppress(Exception):
                await self._ensure_stream()
        return acked

    async def _send_vehicles(self) -> None:
        while True:
            if not self._vehicles:
                self._vehicles_ready.clear()
                await self._vehicles_ready.wait()
                continue
            subject, payload = self._vehicles.popleft()
            nc = self._nc
            if nc is None or not nc.is_connected:
                self._c["vehicle_batches_dropped"] += 1
                continue
            try:
                await nc.publish(subject, payload, headers=self._vehicle_headers)
                self._c["vehicle_batches_sent"] += 1
            except Exception as exc:
                self._c["vehicle_batches_dropped"] += 1
                self._log_limited(
                    logging.WARNING, "vehicles", "position publish failed: %s", exc
                )

    # -- consuming ---------------------------------------------------------------

    async def _on_vehicles(self, msg: Msg) -> None:
        sink = self._sink
        if sink is None:
            return
        try:
            frame = orjson.loads(msg.data)
            if not isinstance(frame, dict):
                raise TypeError("not a vehicles frame")
            vehicles = frame["vehicles"]
            motion = frame.get("motion", [])
            t_s = float(frame["t_s"])
            if not isinstance(vehicles, list) or not isinstance(motion, list):
                raise TypeError("vehicles or motion is not a list")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            self._bad(msg, exc)
            return
        self._c["vehicle_batches_received"] += 1
        try:
            # Each entry is checked by the sink (a VehicleRelay counts bad ones).
            sink.publish_vehicles(t_s, vehicles, motion)
        except Exception:
            logger.exception("live sink refused a vehicles batch from %s", msg.subject)

    async def _on_event(self, msg: Msg) -> None:
        try:
            sequence = msg.metadata.sequence.stream
        except Exception as exc:
            self._bad(msg, exc)
            return
        if sequence in self._seen:
            self._c["events_duplicate"] += 1
        else:
            self._remember(sequence)
            self._deliver(msg)
        with suppress(Exception):
            # A lost ack means a redelivery, which the sequence check absorbs.
            await msg.ack()

    def _deliver(self, msg: Msg) -> None:
        sink = self._sink
        if sink is None:
            return
        try:
            frame = orjson.loads(msg.data)
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise TypeError("not a live-stream frame")
        except (orjson.JSONDecodeError, TypeError) as exc:
            self._bad(msg, exc)
            return
        operator_id = (msg.headers or {}).get(HEADER_OPERATOR)
        self._c["events_received"] += 1
        try:
            sink.publish(frame, operator_id)
        except Exception:
            logger.exception("live sink refused a %s frame", frame["type"])

    def _remember(self, sequence: int) -> None:
        self._seen.add(sequence)
        self._seen_order.append(sequence)
        if len(self._seen_order) > _SEEN_SEQUENCES:
            self._seen.discard(self._seen_order.popleft())

    def _bad(self, msg: Msg, exc: BaseException) -> None:
        self._c["bad_messages"] += 1
        self._log_limited(
            logging.WARNING, "bad", "not a live frame on %s: %s", msg.subject, exc
        )

    # -- connection callbacks ----------------------------------------------------

    async def _on_error(self, exc: Exception) -> None:
        self._log_limited(
            logging.WARNING, f"error-{type(exc).__name__}", "NATS: %s", exc
        )

    async def _on_disconnected(self) -> None:
        if not self._closing:
            logger.warning("NATS %s disconnected; reconnecting", self.url)

    async def _on_reconnected(self) -> None:
        logger.info("NATS %s reconnected", self.url)
        self._events_ready.set()
