"""What only the NATS bus promises: a consumer resumes what it missed, a retried
publish is stored once, events outlive a NATS outage, and positions go by site
(motion rows to the site of their vehicle's full record). Against the real server on
127.0.0.1:4222, or a private ``nats-server`` for the tests that stop it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest
from nats.aio.msg import Msg

from telemetry.live.bus import VehicleRelay, nats_bus as bus_nats
from telemetry.live.bus.nats_bus import NatsBus
from telemetry.live.frames import MOTION_FIELDS
from telemetry.live.hub import Audience, LiveHub
from tests.conftest import ON_CI, require_service
from tests.harness.nats import NATS_BIN, NatsServer
from tests.integration.test_bus_contract import (
    RecordingSink,
    _event,
    _wait_bound,
    eventually,
    motion_row,
)

NATS_URL = "nats://127.0.0.1:4222"


@dataclass(frozen=True)
class Space:
    """A subject prefix and a stream of one test's own on the shared server."""

    prefix: str
    stream: str

    def bus(self, node_name: str, **options: Any) -> NatsBus:
        return NatsBus(
            NATS_URL, node_name, prefix=self.prefix, stream=self.stream, **options
        )


@pytest.fixture
async def space() -> AsyncIterator[Space]:
    require_service("NATS", 4222)
    tag = uuid.uuid4().hex[:10]
    yield Space(f"t{tag}", f"T{tag}")
    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().delete_stream(f"T{tag}")
    finally:
        await nc.close()


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of this test's own, which the test may stop and restart."""
    if not Path(NATS_BIN).exists():
        message = f"nats-server is not installed ({NATS_BIN})"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)
    server = NatsServer(tmp_path)
    server.start()
    yield server
    server.stop()


def _n(frame: tuple[Any, str | None]) -> int:
    n: int = frame[0]["event"]["n"]
    return n


async def test_a_consumer_back_under_its_name_gets_exactly_what_it_missed(
    space: Space,
) -> None:
    producer = space.bus("gw")
    await producer.start(None)
    first = RecordingSink()
    web = space.bus("web-a")
    await web.start(first)
    await _wait_bound(web)
    for i in range(3):
        producer.publish(_event(i), None)
    await first.until(lambda: len(first.frames) == 3)
    await web.close()

    for i in range(3, 8):
        producer.publish(_event(i), None)
    await asyncio.sleep(0.3)  # stored while web-a is away
    again = RecordingSink()
    web = space.bus("web-a")
    await web.start(again)
    try:
        await again.until(lambda: len(again.frames) == 5)
        await asyncio.sleep(0.2)
        assert [_n(f) for f in again.frames] == [3, 4, 5, 6, 7]
    finally:
        await web.close()
        await producer.close()


async def test_a_new_name_starts_with_events_published_after_it_bound(
    space: Space,
) -> None:
    producer = space.bus("gw")
    await producer.start(None)
    producer.publish(_event(0), None)
    await eventually(lambda: producer.stats().events_sent == 1)
    sink = RecordingSink()
    web = space.bus("web-new")
    await web.start(sink)
    await _wait_bound(web)
    try:
        producer.publish(_event(1), None)
        await sink.until(lambda: sink.frames)
        await asyncio.sleep(0.2)
        assert [_n(f) for f in sink.frames] == [1]
    finally:
        await web.close()
        await producer.close()


async def test_a_retried_publish_is_stored_and_delivered_once(
    space: Space,
) -> None:
    producer = space.bus("gw")
    await producer.start(None)
    sink = RecordingSink()
    web = space.bus("web")
    await web.start(sink)
    await _wait_bound(web)
    try:
        # The same frame again is what a retry after a lost acknowledgement sends.
        producer.publish(_event(7), "op-1")
        producer.publish(_event(7), "op-1")
        producer.publish(_event(8), "op-1")
        await sink.until(lambda: len(sink.frames) >= 2)
        await asyncio.sleep(0.3)
        assert [(_n(f), f[1]) for f in sink.frames] == [(7, "op-1"), (8, "op-1")]
        nc = await nats.connect(NATS_URL)
        info = await nc.jetstream().stream_info(space.stream)
        await nc.close()
        assert info.state.messages == 2
    finally:
        await web.close()
        await producer.close()


async def test_garbage_on_the_subjects_is_counted_and_later_frames_still_arrive(
    space: Space,
) -> None:
    sink = RecordingSink()
    web = space.bus("web")
    await web.start(sink)
    await _wait_bound(web)
    producer = space.bus("gw")
    await producer.start(None)
    nc = await nats.connect(NATS_URL)
    try:
        prefix = space.prefix
        await nc.publish(f"{prefix}.s.vehicles", b"\xff not json")
        await nc.publish(f"{prefix}.s.vehicles", b'{"vehicles": 3, "t_s": 1}')
        await nc.publish(
            f"{prefix}.s.vehicles", b'{"vehicles": [], "motion": {}, "t_s": 1}'
        )
        await nc.jetstream().publish(f"{prefix}.s.events.event", b"[1, 2]")
        await nc.jetstream().publish(f"{prefix}.s.events.event", b"{truncated")
        await nc.flush()
        producer.publish(_event(1), None)
        producer.publish_vehicles(
            2.0, [{"key": "k", "site_id": "s", "operator_id": None}]
        )

        await sink.until(lambda: sink.frames and sink.vehicles)
        assert [_n(f) for f in sink.frames] == [1]
        assert web.stats().bad_messages == 5
    finally:
        await nc.close()
        await web.close()
        await producer.close()


class Tap:
    """Every vehicles message on a test's subjects, as sent."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], list[str]]] = []
        """Subject, keys of the records, keys of the rows."""

    async def take(self, msg: Msg) -> None:
        body = orjson.loads(msg.data)
        records = [v["key"] for v in body["vehicles"]]
        self.messages.append((msg.subject, records, [r[0] for r in body["motion"]]))


def _record(key: str, site: str | None) -> dict[str, Any]:
    return {"key": key, "site_id": site, "operator_id": None, "drone_id": 3}


async def test_records_and_rows_cross_nats_by_site_and_reach_viewers_merged(
    space: Space,
) -> None:
    hub = LiveHub()
    viewer = hub.connect(Audience(sees_all=True))
    relay = VehicleRelay(hub, coalesce_s=0)
    web = space.bus("web")
    await web.start(relay)
    producer = space.bus("gw", vehicles_per_message=2)
    await producer.start(None)
    tap, nc = Tap(), await nats.connect(NATS_URL)
    await nc.subscribe(f"{space.prefix}.*.vehicles", cb=tap.take)
    await nc.flush()
    try:
        producer.publish_vehicles(1.0, [_record("gw/1", "pier"), _record("gw/2", None)])
        await eventually(lambda: relay.vehicles == 2)
        records = [
            _record("gw/4", "pier"),
            _record("gw/3", "harbour.north"),
            _record("gw/5", "pier"),
            _record("gw/7", "pier"),
        ]
        rows = [
            motion_row("gw/1", lat_deg=22.31, state="near_edge"),
            motion_row("gw/2", lat_deg=22.32, state="inside"),
            motion_row("gw/6", lat_deg=22.33, state="inside"),  # no record yet
        ]

        producer.publish_vehicles(2.0, records, rows)

        await eventually(lambda: relay.vehicles == 7 and len(tap.messages) == 6)
        p = space.prefix
        assert sorted(tap.messages) == sorted(
            [
                (f"{p}.pier.vehicles", ["gw/1"], []),
                (f"{p}._.vehicles", ["gw/2"], []),
                # Rows go where their vehicle's record went; at most 2 entries
                # a message, records first.
                (f"{p}.pier.vehicles", ["gw/4", "gw/5"], []),
                (f"{p}.pier.vehicles", ["gw/7"], ["gw/1"]),
                (f"{p}.harbour_north.vehicles", ["gw/3"], []),
                (f"{p}._.vehicles", [], ["gw/2", "gw/6"]),
            ]
        )
        snapshot = {v["key"]: v for v in relay.vehicle_frames(2.0)}
        merged = snapshot["gw/1"]
        assert (merged["site_id"], merged["drone_id"]) == ("pier", 3)
        assert (merged["lat_deg"], merged["state"]) == (22.31, "near_edge")
        assert snapshot["gw/6"]["lat_deg"] == 22.33
        assert relay.bad_vehicles == 0
        got_rows = []
        while (text := viewer.next_frame_nowait()) is not None:
            frame = orjson.loads(text)
            assert frame["motion_fields"] == list(MOTION_FIELDS)
            got_rows += [tuple(row) for row in frame["motion"]]
        assert sorted(got_rows) == sorted(rows)
    finally:
        await nc.close()
        await web.close()
        await producer.close()


async def test_the_producer_forgets_sites_beyond_its_bound_and_rows_still_arrive(
    space: Space, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bus_nats, "_SITE_KEYS", 2)
    sink = RecordingSink()
    web = space.bus("web")
    await web.start(sink)
    producer = space.bus("gw")
    await producer.start(None)
    tap, nc = Tap(), await nats.connect(NATS_URL)
    await nc.subscribe(f"{space.prefix}.*.vehicles", cb=tap.take)
    await nc.flush()
    try:
        producer.publish_vehicles(1.0, [_record("a", "s1"), _record("b", "s1")])
        producer.publish_vehicles(2.0, [_record("c", "s2")])  # over 2: a, b forgotten

        producer.publish_vehicles(3.0, [], [motion_row("a"), motion_row("c")])

        await eventually(lambda: len(sink.rows()) == 2 and len(tap.messages) == 4)
        p = space.prefix
        assert tap.messages[2:] == [
            (f"{p}._.vehicles", [], ["a"]),
            (f"{p}.s2.vehicles", [], ["c"]),
        ]
        assert sorted(row[0] for row in sink.rows()) == ["a", "c"]
    finally:
        await nc.close()
        await web.close()
        await producer.close()


@pytest.mark.slow
async def test_events_published_while_nats_is_down_arrive_once_it_is_back(
    private_nats: NatsServer,
) -> None:
    producer = NatsBus(private_nats.url, "gw", ack_timeout_s=0.5)
    await producer.start(None)
    sink = RecordingSink()
    web = NatsBus(private_nats.url, "web", reconnect_wait_s=0.2)
    await web.start(sink)
    await _wait_bound(web)
    try:
        producer.publish(_event(0), None)
        await sink.until(lambda: len(sink.frames) == 1)

        private_nats.stop()
        await asyncio.sleep(0.3)
        for i in range(1, 6):
            producer.publish(_event(i), None)
        producer.publish_vehicles(
            1.0, [{"key": "k", "site_id": "s", "operator_id": None}]
        )
        await asyncio.sleep(1.0)
        assert producer.stats().events_pending == 5
        assert producer.stats().vehicle_batches_dropped == 1

        private_nats.start()  # same port, same store: the stream is still there
        await sink.until(lambda: len(sink.frames) == 6, timeout_s=15)
        await asyncio.sleep(0.5)
        assert [_n(f) for f in sink.frames] == [0, 1, 2, 3, 4, 5]
        await eventually(lambda: producer.stats().events_pending == 0)
    finally:
        await web.close()
        await producer.close()


@pytest.mark.slow
async def test_a_bus_started_before_nats_connects_when_nats_comes_up(
    private_nats: NatsServer,
) -> None:
    private_nats.stop()
    producer = NatsBus(private_nats.url, "gw", reconnect_wait_s=0.1)
    await producer.start(None)  # returns; keeps trying in the background
    try:
        assert not producer.connected
        producer.publish(_event(1), None)
        await asyncio.sleep(0.5)
        assert producer.stats().events_pending == 1

        private_nats.start()

        await eventually(lambda: producer.stats().events_sent == 1, timeout_s=10)
        nc = await nats.connect(private_nats.url)
        try:
            info = await nc.jetstream().stream_info(producer.stream)
        finally:
            await nc.close()
        assert info.state.messages == 1
    finally:
        await producer.close()


async def test_a_frame_too_big_for_nats_is_refused_and_holds_back_nothing(
    space: Space,
) -> None:
    producer = space.bus("gw")
    await producer.start(None)
    sink = RecordingSink()
    web = space.bus("web")
    await web.start(sink)
    await _wait_bound(web)
    try:
        huge = {"type": "event", "event": {"site_id": "s", "blob": "x" * 600_000}}
        producer.publish(huge, None)
        producer.publish(_event(1), None)

        await sink.until(lambda: sink.frames)
        assert [_n(f) for f in sink.frames] == [1]
        assert producer.stats().events_dropped == 1
    finally:
        await web.close()
        await producer.close()
