"""``--sysids`` and ``--shard``: which drones of a fleet one simulator run flies."""

from __future__ import annotations

import pytest

from simulator.assignments import DroneEntry
from simulator.errors import FleetError
from simulator.selection import Selection, parse_shard, parse_sysids


def test_shards_cover_every_sysid_exactly_once() -> None:
    for n in (1, 2, 3, 5):
        shards = [Selection(shard=(k, n)) for k in range(1, n + 1)]
        for sysid in range(1, 256):
            assert sum(s.takes(sysid) for s in shards) == 1


def test_sysids_and_shard_together_take_the_intersection() -> None:
    entries = [DroneEntry(sysid=s) for s in (1, 2, 3, 4, 5)] + [DroneEntry(sysid=None)]
    chosen = Selection(sysids=parse_sysids("1-4"), shard=(2, 2)).apply(entries)
    assert [e.sysid for e in chosen] == [2, 4, None]  # intruders always fly


def test_the_empty_selection_takes_everything() -> None:
    assert not Selection()
    assert Selection().takes(7)
    assert Selection().describe() == "every drone"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", {3}), ("1-3,7", {1, 2, 3, 7}), (" 4 - 5 ", {4, 5})],
)
def test_sysids_read_ranges_and_single_ids(text: str, expected: set[int]) -> None:
    assert parse_sysids(text) == expected


@pytest.mark.parametrize("text", ["", "a-b", "3-1", "0", "1-256"])
def test_bad_sysids_are_refused(text: str) -> None:
    with pytest.raises(FleetError, match="--sysids"):
        parse_sysids(text)


@pytest.mark.parametrize("text", ["1", "0/2", "3/2", "a/b", "1/0"])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(FleetError, match="--shard"):
        parse_shard(text)


def test_a_shard_reads_k_of_n() -> None:
    assert parse_shard("2/3") == (2, 3)
