"""The web side's vehicle relay: latest frame per vehicle (motion rows merged into
full records), batches merged, silent vehicles shown ``link_lost`` (their gateway
died), in front of a real ``LiveHub``."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from telemetry.live.bus import VehicleRelay
from telemetry.live.frames import MOTION_FIELDS, vehicle_entries
from telemetry.live.hub import Audience, LiveHub
from tests.integration.test_bus_contract import RecordingSink, motion_row


class Clock:
    def __init__(self, now_s: float = 1000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def _v(key: str, state: str = "inside", operator: str | None = None) -> dict[str, Any]:
    return {"key": key, "operator_id": operator, "state": state, "link_age_s": 0.1}


def _record(key: str, drone_id: int, lat_deg: float) -> dict[str, Any]:
    """A full record as the gateway sends it, with the fields rows do not carry."""
    return {
        "key": key,
        "site_id": "cyberport-pier",
        "drone_id": drone_id,
        "drone_name": f"Drone {drone_id}",
        "operator_id": "acme",
        "lat_deg": lat_deg,
        "lon_deg": 114.13,
        "state": "inside",
        "link_age_s": 0.1,
    }


def _moved(key: str, lat_deg: float, state: str = "inside") -> tuple[Any, ...]:
    return motion_row(
        key, operator_id="acme", lat_deg=lat_deg, lon_deg=114.14, state=state
    )


def test_batches_from_two_gateways_reach_the_hub_as_one_frame_with_the_latest() -> None:
    hub = RecordingSink()
    relay = VehicleRelay(hub, clock=Clock())

    relay.publish_vehicles(10.0, [_v("gw1/1"), _v("gw1/2")])
    relay.publish_vehicles(10.02, [_v("gw2/1"), _v("gw1/1", "near_edge")])
    relay.flush()

    assert len(hub.vehicles) == 1
    t_s, batch = hub.vehicles[0]
    assert t_s == 10.02
    assert {v["key"]: v["state"] for v in batch} == {
        "gw1/1": "near_edge",
        "gw1/2": "inside",
        "gw2/1": "inside",
    }
    relay.flush()
    assert len(hub.vehicles) == 1  # nothing new, nothing sent


def test_the_snapshot_holds_every_vehicle_once_in_its_latest_state() -> None:
    relay = VehicleRelay(RecordingSink(), coalesce_s=0, clock=Clock())

    relay.publish_vehicles(1.0, [_v("a"), _v("b")])
    relay.publish_vehicles(2.0, [_v("a", "outside_lateral")])

    frames = {v["key"]: v["state"] for v in relay.vehicle_frames(2.0)}
    assert frames == {"a": "outside_lateral", "b": "inside"}


def test_a_vehicle_silent_for_stale_s_is_published_once_as_link_lost() -> None:
    hub, clock = RecordingSink(), Clock()
    relay = VehicleRelay(hub, stale_s=3.0, coalesce_s=0, clock=clock)
    relay.publish_vehicles(1.0, [_v("dead/1"), _v("alive/1")])

    clock.now_s += 2.0
    relay.publish_vehicles(3.0, [_v("alive/1")])
    clock.now_s += 1.5  # dead/1 silent 3.5 s, alive/1 1.5 s
    relay.expire(clock.now_s)
    relay.flush()
    relay.expire(clock.now_s + 0.5)
    relay.flush()

    lost = [v for _, batch in hub.vehicles for v in batch if v["state"] == "link_lost"]
    assert [v["key"] for v in lost] == ["dead/1"]
    assert lost[0]["link_age_s"] == pytest.approx(3.6)
    snapshot = {v["key"]: v["state"] for v in relay.vehicle_frames(clock.now_s)}
    assert snapshot == {"dead/1": "link_lost", "alive/1": "inside"}
    assert relay.marked_lost_total == 1


def test_a_lost_vehicle_heard_again_shows_what_its_gateway_says() -> None:
    clock = Clock()
    relay = VehicleRelay(RecordingSink(), stale_s=1.0, coalesce_s=0, clock=clock)
    relay.publish_vehicles(1.0, [_v("k")])
    clock.now_s += 2
    relay.expire(clock.now_s)

    relay.publish_vehicles(3.0, [_v("k", "inside")])
    clock.now_s += 0.5
    relay.expire(clock.now_s)

    assert [v["state"] for v in relay.vehicle_frames(clock.now_s)] == ["inside"]


def test_a_vehicle_silent_past_forget_after_s_leaves_the_picture() -> None:
    clock = Clock()
    relay = VehicleRelay(RecordingSink(), forget_after_s=60, coalesce_s=0, clock=clock)
    relay.publish_vehicles(1.0, [_v("k")])

    clock.now_s += 61
    relay.expire(clock.now_s)

    assert relay.vehicle_frames(clock.now_s) == []
    assert relay.vehicles == 0


def test_entries_without_key_or_owner_are_counted_and_kept_from_the_hub() -> None:
    hub = LiveHub()
    sub = hub.connect(Audience(sees_all=True))
    relay = VehicleRelay(hub, coalesce_s=0, clock=Clock())

    relay.publish_vehicles(
        1.0,
        [{"key": "no-owner"}, {"operator_id": None}, "junk", _v("ok")],  # type: ignore[list-item]
    )

    frame = orjson.loads(sub.next_frame_nowait() or "null")
    assert [v["key"] for v in frame["vehicles"]] == ["ok"]
    assert relay.bad_vehicles == 3


def test_each_audience_still_sees_only_its_own_and_unregistered_vehicles() -> None:
    hub = LiveHub()
    acme = hub.connect(Audience(sees_all=False, operator_id="acme"))
    relay = VehicleRelay(hub, coalesce_s=0, clock=Clock())

    relay.publish_vehicles(
        1.0, [_v("a", operator="acme"), _v("r", operator="rival"), _v("stray")]
    )

    frame = orjson.loads(acme.next_frame_nowait() or "null")
    assert sorted(v["key"] for v in frame["vehicles"]) == ["a", "stray"]


def test_must_keep_frames_pass_straight_through() -> None:
    hub = RecordingSink()
    relay = VehicleRelay(hub, clock=Clock())

    relay.publish({"type": "incident", "incident": {"id": 3}}, "acme")

    assert hub.frames == [({"type": "incident", "incident": {"id": 3}}, "acme")]


@pytest.mark.parametrize(("stale_s", "coalesce_s"), [(0.0, 0.01), (3.0, -1.0)])
def test_refuses_timings_that_cannot_work(stale_s: float, coalesce_s: float) -> None:
    with pytest.raises(ValueError, match="relay timings"):
        VehicleRelay(RecordingSink(), stale_s=stale_s, coalesce_s=coalesce_s)


async def test_running_it_sends_a_batch_within_the_coalescing_window() -> None:
    hub = RecordingSink()
    relay = VehicleRelay(hub, coalesce_s=0.02)
    task = asyncio.create_task(relay.run())
    try:
        relay.publish_vehicles(1.0, [_v("a")])
        relay.publish_vehicles(1.01, [_v("b")])
        assert hub.vehicles == []  # not before the window closes
        await hub.until(lambda: hub.vehicles, timeout_s=2)
        assert sorted(v["key"] for v in hub.vehicles[0][1]) == ["a", "b"]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_a_motion_row_moves_the_vehicle_and_keeps_its_full_record() -> None:
    relay = VehicleRelay(RecordingSink(), coalesce_s=0, clock=Clock())
    relay.publish_vehicles(1.0, [_record("gw/7", 42, 22.26)])

    relay.publish_vehicles(1.2, [], [_moved("gw/7", 22.2612, "near_edge")])

    [snapshot] = relay.vehicle_frames(1.2)
    assert snapshot["drone_id"] == 42
    assert snapshot["drone_name"] == "Drone 42"
    assert snapshot["site_id"] == "cyberport-pier"
    assert (snapshot["lat_deg"], snapshot["lon_deg"]) == (22.2612, 114.14)
    assert snapshot["state"] == "near_edge"


def test_a_motion_row_of_a_vehicle_without_a_full_record_still_shows_it() -> None:
    relay = VehicleRelay(RecordingSink(), coalesce_s=0, clock=Clock())

    relay.publish_vehicles(1.0, [], [_moved("gw/8", 22.25)])

    [snapshot] = relay.vehicle_frames(1.0)
    assert snapshot == dict(zip(MOTION_FIELDS, _moved("gw/8", 22.25), strict=True))


def test_rows_reach_viewers_as_rows_beside_the_full_records() -> None:
    hub = LiveHub()
    sub = hub.connect(Audience(sees_all=True))
    relay = VehicleRelay(hub, clock=Clock())
    relay.publish_vehicles(1.0, [_record("gw/1", 1, 22.26)])
    relay.flush()
    sub.next_frame_nowait()

    relay.publish_vehicles(2.0, [_record("gw/2", 2, 22.27)], [_moved("gw/1", 22.3)])
    relay.flush()

    frame = orjson.loads(sub.next_frame_nowait() or "null")
    assert frame["t_s"] == 2.0
    assert [v["key"] for v in frame["vehicles"]] == ["gw/2"]
    assert frame["motion_fields"] == list(MOTION_FIELDS)
    assert frame["motion"] == [list(_moved("gw/1", 22.3))]
    assert sub.next_frame_nowait() is None


def test_a_record_replaces_a_queued_row_and_a_later_row_joins_the_record() -> None:
    hub = RecordingSink()
    relay = VehicleRelay(hub, clock=Clock())

    relay.publish_vehicles(1.0, [], [_moved("a", 22.1)])
    relay.publish_vehicles(1.1, [_record("a", 1, 22.2), _record("b", 2, 22.3)])
    relay.publish_vehicles(1.2, [], [_moved("b", 22.4)])
    relay.flush()

    assert [v["key"] for v in hub.vehicles[0][1]] == ["a", "b"]
    assert hub.motion[0] == (1.2, [_moved("b", 22.4)])
    # What a client holds after applying the frame (records, then rows) is what
    # the relay holds.
    frame = {"vehicles": hub.vehicles[0][1], "motion": hub.motion[0][1]}
    applied: dict[str, dict[str, Any]] = {}
    for entry in vehicle_entries(frame):
        applied.setdefault(entry["key"], {}).update(entry)
    assert applied == {v["key"]: v for v in relay.vehicle_frames(1.2)}
    assert applied["b"]["lat_deg"] == 22.4


def test_malformed_rows_are_counted_and_the_rest_of_the_batch_goes_on() -> None:
    hub = LiveHub()
    sub = hub.connect(Audience(sees_all=True))
    relay = VehicleRelay(hub, coalesce_s=0, clock=Clock())
    good = _moved("gw/1", 22.3)

    relay.publish_vehicles(
        1.0,
        [],
        [
            good[:-1],  # one value short
            (*good, "extra"),
            (7, *good[1:]),  # key not a string
            ("gw/2", ["not", "an", "owner"], *good[2:]),
            "gw/3",  # type: ignore[list-item]
            None,  # type: ignore[list-item]
            good,
        ],
    )

    assert relay.bad_vehicles == 6
    frame = orjson.loads(sub.next_frame_nowait() or "null")
    assert frame["motion"] == [list(good)]
    assert [v["key"] for v in relay.vehicle_frames(1.0)] == ["gw/1"]


def test_a_lost_vehicle_heard_again_through_a_row_shows_the_rows_state() -> None:
    hub, clock = RecordingSink(), Clock()
    relay = VehicleRelay(hub, stale_s=1.0, coalesce_s=0, clock=clock)
    relay.publish_vehicles(1.0, [_record("k", 5, 22.26)])
    clock.now_s += 2
    relay.expire(clock.now_s)
    relay.flush()
    assert [v["state"] for _, batch in hub.vehicles for v in batch] == [
        "inside",
        "link_lost",
    ]

    relay.publish_vehicles(3.0, [], [_moved("k", 22.27, "near_edge")])
    clock.now_s += 0.5
    relay.expire(clock.now_s)

    [snapshot] = relay.vehicle_frames(clock.now_s)
    assert (snapshot["state"], snapshot["drone_id"]) == ("near_edge", 5)
    assert relay.marked_lost_total == 1


def _vessel(mmsi: int, lat_deg: float | None = 22.25) -> dict[str, Any]:
    return {"mmsi": mmsi, "name": f"V{mmsi}", "lat_deg": lat_deg, "lon_deg": 114.13}


def _vessels(records: list[Any], gone: list[Any] | None = None) -> dict[str, Any]:
    return {"type": "vessels", "t_s": 1.0, "vessels": records, "gone": gone or []}


def test_vessels_frames_build_the_snapshots_vessels_and_still_reach_the_hub() -> None:
    hub = RecordingSink()
    relay = VehicleRelay(hub, clock=Clock())

    relay.publish(_vessels([_vessel(1), _vessel(2), _vessel(3, lat_deg=None)]), None)
    relay.publish(_vessels([_vessel(1, lat_deg=22.26)], gone=[2]), None)

    # the vessel without a position is kept but not listed, as a gateway lists them
    assert relay.vessel_frames() == [_vessel(1, lat_deg=22.26)]
    assert relay.vessels == 2
    assert [f["type"] for f, _ in hub.frames] == ["vessels", "vessels"]


def test_a_vessel_nothing_was_said_of_is_forgotten_and_viewers_told() -> None:
    hub, clock = RecordingSink(), Clock()
    relay = VehicleRelay(hub, vessel_forget_s=60, clock=clock)
    relay.publish(_vessels([_vessel(1), _vessel(2)]), None)
    clock.now_s += 30
    relay.publish(_vessels([_vessel(2)]), None)

    clock.now_s += 40  # vessel 1 unheard of for 70 s, vessel 2 for 40 s
    relay.expire(clock.now_s)

    assert [v["mmsi"] for v in relay.vessel_frames()] == [2]
    assert hub.frames[-1][0]["gone"] == [1]


def test_malformed_vessel_records_are_counted_and_skipped() -> None:
    relay = VehicleRelay(RecordingSink(), clock=Clock())

    relay.publish(_vessels([{"name": "no mmsi"}, "junk", _vessel(7)], ["x"]), None)

    assert [v["mmsi"] for v in relay.vessel_frames()] == [7]
    assert relay.bad_vessels == 2
