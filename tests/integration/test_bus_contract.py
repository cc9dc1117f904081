"""The contract every live bus keeps, run against the in-process bus and against
NATS (the real server on 127.0.0.1:4222; each test on subjects and a stream of its
own, deleted afterwards)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from telemetry.live.bus import InProcessBus, LiveBus, events_stream_name, open_bus
from telemetry.live.bus.nats_bus import NatsBus
from telemetry.live.frames import MOTION_FIELDS, MotionRow
from telemetry.live.hub import serialise
from tests.conftest import require_service

NATS_URL = "nats://127.0.0.1:4222"


class RecordingSink:
    """A sink that keeps what arrives and lets a test wait for it.

    ``vehicles[i]`` and ``motion[i]`` are the records and the rows of call ``i``;
    rows are kept as tuples (they arrive over NATS as JSON lists).
    """

    def __init__(self) -> None:
        self.vehicles: list[tuple[float, list[Mapping[str, Any]]]] = []
        self.motion: list[tuple[float, list[MotionRow]]] = []
        self.frames: list[tuple[Mapping[str, Any], str | None]] = []
        self._changed = asyncio.Event()

    def publish_vehicles(
        self,
        t_s: float,
        vehicles: Sequence[Mapping[str, Any]],
        motion: Sequence[MotionRow] = (),
    ) -> None:
        self.vehicles.append((t_s, list(vehicles)))
        self.motion.append((t_s, [tuple(row) for row in motion]))
        self._changed.set()

    def publish(self, frame: Mapping[str, Any], operator_id: str | None) -> None:
        self.frames.append((frame, operator_id))
        self._changed.set()

    def vehicle_keys(self) -> list[str]:
        return [v["key"] for _, batch in self.vehicles for v in batch]

    def rows(self) -> list[MotionRow]:
        """Every motion row received, in order."""
        return [row for _, rows in self.motion for row in rows]

    async def until(self, done: Any, timeout_s: float = 10.0) -> None:
        async def wait() -> None:
            while not done():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout_s)


@dataclass
class Pair:
    """A producer's bus and the sink its consumer delivers to."""

    producer: LiveBus
    sink: RecordingSink
    consumer: LiveBus


async def _delete_stream(stream: str) -> None:
    import nats

    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


@pytest.fixture(params=["in-process", "nats"])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    sink = RecordingSink()
    if request.param == "in-process":
        bus = InProcessBus()
        await bus.start(sink)
        yield Pair(bus, sink, bus)
        await bus.close()
        return
    require_service("NATS", 4222)
    tag = uuid.uuid4().hex[:10]
    prefix, stream = f"t{tag}", f"T{tag}"
    producer = NatsBus(NATS_URL, f"gw-{tag}", prefix=prefix, stream=stream)
    consumer = NatsBus(NATS_URL, f"web-{tag}", prefix=prefix, stream=stream)
    await producer.start(None)
    await consumer.start(sink)
    await _wait_bound(consumer)
    try:
        yield Pair(producer, sink, consumer)
    finally:
        await producer.close()
        await consumer.close()
        await _delete_stream(stream)


async def _wait_bound(bus: NatsBus) -> None:
    """The consumer takes a moment to bind; new events start after that."""
    await eventually(lambda: bus.consuming)


async def eventually(condition: Any, timeout_s: float = 15.0) -> None:
    """Wait until ``condition()`` is true; fail after ``timeout_s`` (generous: it
    only catches what never happens, also on a busy CI machine)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true after {timeout_s} s: {condition}")
        await asyncio.sleep(0.02)


def _event(i: int, site: str = "cyberport-pier") -> dict[str, Any]:
    return {
        "type": "event",
        "event": {"kind": "near_edge", "site_id": site, "t_s": 1.0 + i, "n": i},
    }


def _vehicle(key: str, site: str | None, operator: str | None) -> dict[str, Any]:
    return {"key": key, "site_id": site, "operator_id": operator, "lat_deg": 22.26}


def motion_row(key: str, **values: Any) -> MotionRow:
    """A motion row of ``key``: ``values`` by field name, None for the rest."""
    return tuple({"key": key, **values}.get(name) for name in MOTION_FIELDS)


async def test_delivers_every_must_keep_frame_once_in_order_with_its_audience(
    pair: Pair,
) -> None:
    sent = []
    for i in range(40):
        frame = _event(i) if i % 4 else {"type": "booking", "booking": {"id": i}}
        operator = None if i % 3 else f"op-{i % 2}"
        pair.producer.publish(frame, operator)
        sent.append((serialise(frame), operator))

    await pair.sink.until(lambda: len(pair.sink.frames) >= 40)
    await asyncio.sleep(0.1)  # anything extra would show up by now

    got = [(serialise(frame), op) for frame, op in pair.sink.frames]
    assert got == sent


async def test_delivers_every_vehicle_of_a_batch_of_several_sites(pair: Pair) -> None:
    batch = [
        _vehicle(f"udpin:0.0.0.0:14550/{i}", ("a", "b.c", None)[i % 3], None)
        for i in range(700)
    ]

    pair.producer.publish_vehicles(1795000000.25, batch)

    await pair.sink.until(lambda: len(pair.sink.vehicle_keys()) >= 700)
    received = {v["key"]: v for _, vs in pair.sink.vehicles for v in vs}
    assert {k: serialise(v) for k, v in received.items()} == {
        v["key"]: serialise(v) for v in batch
    }
    assert {t_s for t_s, _ in pair.sink.vehicles} == {1795000000.25}
    assert pair.sink.rows() == []


async def test_delivers_records_and_motion_rows_each_as_they_were_sent(
    pair: Pair,
) -> None:
    records = [_vehicle(f"gw/{i}", ("a", "b")[i % 2], "op-1") for i in range(4)]
    rows = [
        motion_row(f"gw/{i}", operator_id="op-1", lat_deg=22.3 + i, state="inside")
        for i in range(4)
    ] + [motion_row("never-seen/9", lat_deg=1.5, armed=True)]

    pair.producer.publish_vehicles(7.5, records, rows)

    await pair.sink.until(
        lambda: len(pair.sink.vehicle_keys()) >= 4 and len(pair.sink.rows()) >= 5
    )
    received = {v["key"]: v for _, vs in pair.sink.vehicles for v in vs}
    assert {k: serialise(v) for k, v in received.items()} == {
        v["key"]: serialise(v) for v in records
    }
    assert sorted(pair.sink.rows()) == sorted(rows)
    assert {t_s for t_s, _ in pair.sink.motion} == {7.5}


async def test_frames_with_numpy_numbers_arrive_as_the_hub_would_send_them(
    pair: Pair,
) -> None:
    frame = {"type": "event", "event": {"site_id": "s", "margin_m": np.float64(2.5)}}

    pair.producer.publish(frame, None)

    await pair.sink.until(lambda: len(pair.sink.frames) == 1)
    assert serialise(pair.sink.frames[0][0]) == serialise(frame)


async def test_counts_what_it_carried(pair: Pair) -> None:
    pair.producer.publish(_event(1), None)
    pair.producer.publish_vehicles(1.0, [_vehicle("k", "s", None)])

    await pair.sink.until(lambda: pair.sink.frames and pair.sink.vehicles)
    # The acknowledgement may reach the producer just after the frame the consumer.
    await eventually(lambda: pair.producer.stats().events_pending == 0)

    produced, consumed = pair.producer.stats(), pair.consumer.stats()
    assert produced.connected
    assert consumed.connected
    assert (produced.events_sent, consumed.events_received) == (1, 1)
    assert produced.vehicle_batches_sent == consumed.vehicle_batches_received == 1
    assert produced.events_pending == 0


async def test_close_is_idempotent_and_later_publishes_are_counted_not_raised(
    pair: Pair,
) -> None:
    await pair.producer.close()
    await pair.producer.close()
    before = pair.producer.stats()

    pair.producer.publish(_event(1), None)
    pair.producer.publish_vehicles(1.0, [_vehicle("k", "s", None)])

    after = pair.producer.stats()
    carried = (
        after.events_sent - before.events_sent,
        after.vehicle_batches_sent - before.vehicle_batches_sent,
    )
    dropped = (
        after.events_dropped - before.events_dropped,
        after.vehicle_batches_dropped - before.vehicle_batches_dropped,
    )
    if pair.producer.remote:
        # A closed NATS bus refuses both and says so in its counters.
        assert (carried, dropped) == ((0, 0), (1, 1))
    else:
        # In process, close has nothing to stop: the sink still gets both.
        assert (carried, dropped) == ((1, 1), (0, 0))
    assert after.events_pending == 0


def test_open_bus_refuses_an_unknown_scheme_and_names_the_forms() -> None:
    with pytest.raises(ValueError, match=r"nats://HOST:PORT"):
        open_bus("redis://127.0.0.1:6379", "web-1")


@pytest.mark.parametrize("name", ["", "web.1", "web 1", "a" * 65, "we*b"])
def test_nats_bus_refuses_a_node_name_nats_cannot_use(name: str) -> None:
    with pytest.raises(ValueError, match="letters, digits"):
        NatsBus(NATS_URL, name)


def test_open_bus_is_in_process_without_a_url() -> None:
    bus = open_bus("", "web-1")
    assert isinstance(bus, InProcessBus)
    assert not bus.remote


async def test_two_deployments_on_one_nats_stay_apart() -> None:
    require_service("NATS", 4222)
    tag = uuid.uuid4().hex[:8]
    names = (f"site-a-{tag}", f"site-b-{tag}")
    sinks = {name: RecordingSink() for name in names}
    buses: list[LiveBus] = []
    try:
        for name in names:
            # The same node names in both: each deployment's consumers are its own.
            producer = open_bus(NATS_URL, "gw-1", name)
            consumer = open_bus(NATS_URL, "web-1", name)
            await producer.start(None)
            await consumer.start(sinks[name])
            assert isinstance(consumer, NatsBus)
            assert consumer.prefix == name
            assert consumer.stream == f"{name.upper()}_EVENTS"
            await _wait_bound(consumer)
            buses += [producer, consumer]
        site_a = buses[0]
        site_a.publish_vehicles(1.0, [{"key": "gw/1", "operator_id": None}])
        site_a.publish(_event(1), None)
        a, b = sinks[names[0]], sinks[names[1]]
        await a.until(lambda: a.vehicle_keys() == ["gw/1"] and len(a.frames) == 1)
        await asyncio.sleep(0.3)  # time enough for anything to leak across
        assert (b.vehicles, b.frames) == ([], [])
    finally:
        for bus in buses:
            await bus.close()
        for name in names:
            await _delete_stream(events_stream_name(name))
