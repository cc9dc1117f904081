"""Vessel state: folding AIS messages, staleness and the bound."""

from __future__ import annotations

from telemetry.ais import VesselPosition, VesselStatic
from telemetry.live.vessels import VesselTable

T0 = 1_800_000_000.0


def pos(mmsi: int, t_s: float, lat: float = 22.2) -> VesselPosition:
    return VesselPosition(mmsi, t_s, 1, lat, 114.1, 12.0, 250.0, 251, 0, False)


def test_position_and_static_fold_into_one_vessel() -> None:
    table = VesselTable()
    table.apply(pos(1, T0))
    table.apply(VesselStatic(1, T0 + 1, 5, "FERRY", "VR1", 60, 40.0, 9.0))
    table.apply(VesselStatic(1, T0 + 2, 24, None, "VR2", None, None, None))
    v = table.get(1)
    assert v is not None
    assert (v.name, v.callsign, v.ship_type, v.length_m) == ("FERRY", "VR2", 60, 40.0)
    assert (v.lat_deg, v.sog_kn, v.heading_deg, v.last_seen_s) == (
        22.2,
        12.0,
        251,
        T0 + 2,
    )
    assert v.frame()["trail"] == [[114.1, 22.2]]
    assert table.changed == {1}


def test_a_vessel_not_heard_for_the_stale_time_is_dropped() -> None:
    table = VesselTable(stale_after_s=60)
    table.apply(pos(1, T0))
    table.apply(pos(2, T0 + 30))
    assert table.expire(T0 + 61) == [1]
    assert 1 not in table
    assert 2 in table


def test_the_table_is_bounded_and_evicts_the_longest_unheard() -> None:
    table = VesselTable(max_vessels=2)
    table.apply(pos(1, T0))
    table.apply(pos(2, T0 + 1))
    table.apply(pos(1, T0 + 2))
    table.apply(pos(3, T0 + 3))
    assert sorted(v.mmsi for v in table.vessels()) == [1, 3]
    assert table.evicted == 1


def test_a_position_without_coordinates_keeps_the_last_fix() -> None:
    table = VesselTable()
    table.apply(pos(1, T0))
    table.apply(VesselPosition(1, T0 + 10, 1, None, None, 0.0, None, None, 1, False))
    v = table.get(1)
    assert v is not None
    assert (v.lat_deg, v.position_s, v.sog_kn) == (22.2, T0, 0.0)
