"""The live fan-out: who sees what, serialise once, slow clients lose positions only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pytest

from telemetry.live.frames import MOTION_FIELDS, MOTION_KEY, vehicle_entries
from telemetry.live.hub import (
    Audience,
    HubStats,
    LiveHub,
    Subscriber,
    SubscriberClosed,
    SubscriberOverflowed,
)

STAFF = Audience(sees_all=True)
HARBOUR = Audience(sees_all=False, operator_id="op-harbour")
KITE = Audience(sees_all=False, operator_id="op-kite")
NO_ORG = Audience(sees_all=False, operator_id=None)


def vehicle(key: str, operator_id: str | None, **fields: Any) -> dict[str, Any]:
    return {"key": key, "operator_id": operator_id, "lat_deg": 22.2606, **fields}


def row(key: str, operator_id: str | None, **fields: Any) -> tuple[Any, ...]:
    """A motion row: ``fields`` in place, the rest zero or None."""
    values = {"key": key, "operator_id": operator_id, "t_s": 1.0, **fields}
    return tuple(values.get(name) for name in MOTION_FIELDS)


HARBOUR_DRONE = vehicle("udpin:0.0.0.0:14550/1", "op-harbour")
KITE_DRONE = vehicle("udpin:0.0.0.0:14550/2", "op-kite")
INTRUDER = vehicle("udpin:0.0.0.0:14550/99", None)


def event(n: int) -> dict[str, Any]:
    return {"type": "event", "event": {"kind": "near_edge", "n": n}}


def drain(sub: Subscriber) -> list[dict[str, Any]]:
    frames = []
    while (text := sub.next_frame_nowait()) is not None:
        frames.append(orjson.loads(text))
    return frames


def keys(frame: dict[str, Any]) -> set[str]:
    return {v["key"] for v in frame["vehicles"]}


class TestFanOut:
    def test_every_subscriber_gets_each_vehicles_frame_with_rising_seq(self) -> None:
        hub = LiveHub()
        subs = [hub.connect(STAFF) for _ in range(3)]
        hub.publish_vehicles(100.0, [HARBOUR_DRONE])
        hub.publish_vehicles(100.02, [HARBOUR_DRONE, INTRUDER])
        for sub in subs:
            frames = drain(sub)
            assert [(f["type"], f["seq"], f["t_s"]) for f in frames] == [
                ("vehicles", 1, 100.0),
                ("vehicles", 2, 100.02),
            ]
            assert frames[1]["vehicles"] == [HARBOUR_DRONE, INTRUDER]
            assert sub.sent == 2
        assert hub.stats() == HubStats(
            subscribers=3,
            frames_published=2,
            frames_dropped_total=0,
            overflowed_total=0,
        )

    def test_nothing_is_published_for_no_changes_or_no_subscribers(self) -> None:
        hub = LiveHub()
        hub.publish_vehicles(1.0, [HARBOUR_DRONE])
        hub.publish(event(1), None)
        sub = hub.connect(STAFF)
        hub.publish_vehicles(2.0, [])
        assert sub.pending() == 0
        assert hub.stats().frames_published == 0

    def test_a_subscriber_gets_only_frames_published_after_it_connected(self) -> None:
        hub = LiveHub()
        early = hub.connect(STAFF)
        hub.publish_vehicles(1.0, [HARBOUR_DRONE])
        late = hub.connect(STAFF)
        hub.publish_vehicles(2.0, [HARBOUR_DRONE])
        assert [f["seq"] for f in drain(early)] == [1, 2]
        assert [f["seq"] for f in drain(late)] == [2]


class TestWhoSeesWhat:
    def test_an_operator_sees_its_own_and_unregistered_drones_never_another_orgs(
        self,
    ) -> None:
        hub = LiveHub()
        staff, harbour, kite, no_org = (
            hub.connect(a) for a in (STAFF, HARBOUR, KITE, NO_ORG)
        )
        hub.publish_vehicles(1.0, [HARBOUR_DRONE, KITE_DRONE, INTRUDER])
        assert keys(drain(staff)[0]) == {
            "udpin:0.0.0.0:14550/1",
            "udpin:0.0.0.0:14550/2",
            "udpin:0.0.0.0:14550/99",
        }
        assert keys(drain(harbour)[0]) == {
            "udpin:0.0.0.0:14550/1",
            "udpin:0.0.0.0:14550/99",
        }
        assert keys(drain(kite)[0]) == {
            "udpin:0.0.0.0:14550/2",
            "udpin:0.0.0.0:14550/99",
        }
        assert keys(drain(no_org)[0]) == {"udpin:0.0.0.0:14550/99"}

    def test_an_org_with_nothing_visible_gets_no_frame_and_no_seq_gap(self) -> None:
        hub = LiveHub()
        harbour = hub.connect(HARBOUR)
        staff = hub.connect(STAFF)
        hub.publish_vehicles(1.0, [KITE_DRONE])
        assert harbour.pending() == 0
        hub.publish_vehicles(2.0, [KITE_DRONE, HARBOUR_DRONE])
        assert [(f["seq"], keys(f)) for f in drain(harbour)] == [
            (1, {"udpin:0.0.0.0:14550/1"})
        ]
        assert [f["seq"] for f in drain(staff)] == [1, 2]

    def test_motion_rows_are_filtered_by_owner_like_full_records(self) -> None:
        hub = LiveHub()
        staff, harbour, no_org = (hub.connect(a) for a in (STAFF, HARBOUR, NO_ORG))
        rows = [row("udpin:0.0.0.0:14550/1", "op-harbour"), row("k/2", "op-kite")]
        rows.append(row("udpin:0.0.0.0:14550/99", None))
        hub.publish_vehicles(1.0, [], rows)
        seen = {
            name: {r[MOTION_KEY] for r in drain(sub)[0]["motion"]}
            for name, sub in (("staff", staff), ("harbour", harbour))
        }
        assert seen == {
            "staff": {"udpin:0.0.0.0:14550/1", "k/2", "udpin:0.0.0.0:14550/99"},
            "harbour": {"udpin:0.0.0.0:14550/1", "udpin:0.0.0.0:14550/99"},
        }
        frame = drain(no_org)
        assert [r[MOTION_KEY] for r in frame[0]["motion"]] == ["udpin:0.0.0.0:14550/99"]
        assert frame[0]["motion_fields"] == list(MOTION_FIELDS)
        assert frame[0]["vehicles"] == []

    def test_a_frame_with_records_and_rows_reads_back_in_apply_order(self) -> None:
        hub = LiveHub()
        staff = hub.connect(STAFF)
        moved = row("udpin:0.0.0.0:14550/1", "op-harbour", lat_deg=22.3)
        hub.publish_vehicles(1.0, [HARBOUR_DRONE], [moved])
        entries = vehicle_entries(drain(staff)[0])
        assert [(e["key"], e["lat_deg"]) for e in entries] == [
            ("udpin:0.0.0.0:14550/1", 22.2606),
            ("udpin:0.0.0.0:14550/1", 22.3),
        ]

    def test_a_row_too_short_to_name_its_owner_is_refused(self) -> None:
        hub = LiveHub()
        staff = hub.connect(STAFF)
        with pytest.raises(IndexError):
            hub.publish_vehicles(1.0, [], [("k",)])
        assert staff.pending() == 0

    def test_events_reach_staff_and_their_org_or_everyone_when_unowned(self) -> None:
        hub = LiveHub()
        staff, harbour, kite = (hub.connect(a) for a in (STAFF, HARBOUR, KITE))
        hub.publish(event(1), "op-harbour")
        hub.publish(event(2), None)
        assert [f["event"]["n"] for f in drain(staff)] == [1, 2]
        assert [f["event"]["n"] for f in drain(harbour)] == [1, 2]
        assert [f["event"]["n"] for f in drain(kite)] == [2]

    def test_a_vehicle_without_operator_id_is_refused_not_shown_to_all(self) -> None:
        hub = LiveHub()
        sub = hub.connect(HARBOUR)
        with pytest.raises(KeyError, match="operator_id"):
            hub.publish_vehicles(1.0, [{"key": "k", "lat_deg": 1.0}])
        assert sub.pending() == 0


class TestSerialiseOnce:
    def test_one_orjson_call_per_audience_shared_by_its_subscribers(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls: list[object] = []
        real_dumps: Callable[..., bytes] = orjson.dumps

        def counting_dumps(obj: object, *args: Any, **kwargs: Any) -> bytes:
            calls.append(obj)
            return real_dumps(obj, *args, **kwargs)

        monkeypatch.setattr(orjson, "dumps", counting_dumps)
        hub = LiveHub()
        audiences = (STAFF, HARBOUR, KITE)
        subs = {a: [hub.connect(a) for _ in range(5)] for a in audiences}

        hub.publish_vehicles(1.0, [HARBOUR_DRONE, KITE_DRONE, INTRUDER])
        assert len(calls) == 3  # one per audience, not fifteen
        hub.publish(event(1), None)
        assert len(calls) == 4  # one for fifteen clients

        for group in subs.values():
            texts = [sub.next_frame_nowait() or "" for sub in group]
            assert all(text is texts[0] for text in texts)  # the very same str
            assert isinstance(texts[0], str)
        assert hub.stats().frames_published == 4

    def test_numpy_values_and_read_only_mappings_serialise(self) -> None:
        from types import MappingProxyType

        hub = LiveHub()
        sub = hub.connect(STAFF)
        v = vehicle("k", None, alt_amsl_m=np.float64(61.2), inside=np.bool_(True))
        v["details"] = MappingProxyType({"margin_m": np.float32(2.5)})
        hub.publish_vehicles(1.0, [v])
        assert drain(sub)[0]["vehicles"][0] == {
            "key": "k",
            "operator_id": None,
            "lat_deg": 22.2606,
            "alt_amsl_m": 61.2,
            "inside": True,
            "details": {"margin_m": 2.5},
        }

    def test_a_value_json_cannot_hold_is_refused_before_anyone_gets_a_frame(
        self,
    ) -> None:
        hub = LiveHub()
        staff, harbour = hub.connect(STAFF), hub.connect(HARBOUR)
        with pytest.raises(TypeError):
            hub.publish_vehicles(1.0, [vehicle("k", None, bad=object())])
        assert staff.pending() == harbour.pending() == 0
        hub.publish_vehicles(2.0, [INTRUDER])
        assert [f["seq"] for f in drain(staff)] == [1]  # no seq burnt


class TestSlowClients:
    def test_a_full_queue_drops_the_oldest_vehicles_frames_and_says_so(self) -> None:
        hub = LiveHub(queue_frames=4)
        slow = hub.connect(STAFF)
        for tick in range(1, 11):
            hub.publish_vehicles(float(tick), [INTRUDER])
        frames = drain(slow)
        assert frames[0] == {"type": "dropped", "frames": 6, "total": 6}
        assert [f["seq"] for f in frames[1:]] == [7, 8, 9, 10]
        assert slow.dropped_total == 6
        assert hub.stats().frames_dropped_total == 6

        hub.publish_vehicles(11.0, [INTRUDER])  # caught up: no further report
        assert [f["type"] for f in drain(slow)] == ["vehicles"]
        for tick in range(12, 18):
            hub.publish_vehicles(float(tick), [INTRUDER])
        assert drain(slow)[0] == {"type": "dropped", "frames": 2, "total": 8}

    def test_events_are_never_dropped_and_go_before_positions(self) -> None:
        hub = LiveHub(queue_frames=4)
        slow = hub.connect(STAFF)
        hub.publish(event(1), None)
        for tick in range(1, 9):
            hub.publish_vehicles(float(tick), [INTRUDER])
            if tick == 4:
                hub.publish(event(2), "op-harbour")
        hub.publish(event(3), None)
        frames = drain(slow)
        assert frames[0]["type"] == "dropped"
        rest = [(f["type"], f.get("seq") or f["event"]["n"]) for f in frames[1:]]
        assert rest == [
            ("event", 1),
            ("event", 2),
            ("event", 3),
            ("vehicles", 7),
            ("vehicles", 8),
        ]

    def test_events_beyond_the_queue_size_are_all_kept(self) -> None:
        hub = LiveHub(queue_frames=4, must_keep_frames=100)
        slow = hub.connect(HARBOUR)
        for n in range(30):
            hub.publish(event(n), "op-harbour")
        hub.publish_vehicles(1.0, [HARBOUR_DRONE])  # no room and no older position
        frames = drain(slow)
        assert frames[0] == {"type": "dropped", "frames": 1, "total": 1}
        assert [f["event"]["n"] for f in frames[1:]] == list(range(30))

    async def test_too_many_must_keep_frames_cut_the_client_off(self) -> None:
        hub = LiveHub(queue_frames=4, must_keep_frames=3)
        stuck = hub.connect(HARBOUR)
        reading = hub.connect(HARBOUR)
        for n in range(4):
            hub.publish(event(n), None)
            drain(reading)
        assert stuck.overflowed
        assert not reading.overflowed
        with pytest.raises(SubscriberOverflowed) as caught:
            await stuck.next_frame()
        assert caught.value.close_code == 4408
        assert hub.stats().subscribers == 1
        assert hub.stats().overflowed_total == 1
        hub.publish(event(5), None)  # the hub no longer feeds it
        assert stuck.pending() == 0
        hub.disconnect(stuck)  # the route's finally: harmless
        assert hub.subscribers == 1

    async def test_a_fast_subscriber_is_not_delayed_by_a_slow_one(self) -> None:
        hub = LiveHub(queue_frames=8)
        slow = hub.connect(STAFF)
        fast = hub.connect(STAFF)
        seen: list[int] = []

        async def read_fast() -> None:
            while True:
                seen.append(orjson.loads(await fast.next_frame())["seq"])

        reader = asyncio.create_task(read_fast())
        try:
            for tick in range(1, 201):
                hub.publish_vehicles(float(tick), [INTRUDER])
                await asyncio.sleep(0)  # one loop turn: the fast reader runs
                assert seen[-1] == tick  # it already has this very tick's frame
        finally:
            reader.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reader
        assert seen == list(range(1, 201))
        assert fast.dropped_total == 0
        assert slow.pending() == 8 + 1  # its full queue plus the due report
        assert slow.dropped_total == 192


class TestLifecycle:
    async def test_disconnect_wakes_a_waiting_reader_with_closed(self) -> None:
        hub = LiveHub()
        sub = hub.connect(STAFF)
        waiting = asyncio.create_task(sub.next_frame())
        await asyncio.sleep(0)
        assert not waiting.done()
        hub.disconnect(sub)
        with pytest.raises(SubscriberClosed):
            await waiting
        hub.disconnect(sub)  # idempotent
        assert hub.stats().subscribers == 0

    async def test_next_frame_waits_for_a_publish(self) -> None:
        hub = LiveHub()
        sub = hub.connect(KITE)
        waiting = asyncio.create_task(sub.next_frame())
        await asyncio.sleep(0)
        hub.publish_vehicles(1.0, [KITE_DRONE])
        text = await asyncio.wait_for(waiting, 1.0)
        assert orjson.loads(text)["vehicles"] == [KITE_DRONE]
        assert sub.next_frame_nowait() is None

    def test_a_pushed_snapshot_supersedes_queued_positions_but_not_events(
        self,
    ) -> None:
        hub = LiveHub()
        sub = hub.connect(STAFF)
        hub.publish_vehicles(1.0, [INTRUDER])
        hub.publish(event(1), None)
        hub.publish_vehicles(2.0, [INTRUDER])
        sub.push({"type": "snapshot", "vehicles": [INTRUDER]}, snapshot=True)
        hub.publish_vehicles(3.0, [INTRUDER])
        assert [f["type"] for f in drain(sub)] == ["event", "snapshot", "vehicles"]
        assert sub.dropped_total == 0

    def test_queue_sizes_below_one_are_refused(self) -> None:
        with pytest.raises(ValueError, match="queue_frames=0"):
            LiveHub(queue_frames=0)
        with pytest.raises(ValueError, match="must_keep_frames=0"):
            LiveHub(must_keep_frames=0)
