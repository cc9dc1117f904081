"""What an overloaded reader keeps (``telemetry.mavlink.shedding``), on real frames."""

from __future__ import annotations

from pymavlink.dialects.v10 import common as mavlink1
from pymavlink.dialects.v20 import common as mavlink2

from telemetry.mavlink.shedding import ROUTINE_EVERY_S, Datagram, Shedder, routine_key

A, B = ("10.0.0.1", 14550), ("10.0.0.2", 14550)


def position(mav: mavlink2.MAVLink, t_ms: int) -> bytes:
    msg = mav.global_position_int_encode(
        t_ms, 222606000, 1141289000, 61200, 58900, 0, 0, 0, 0
    )
    return bytes(msg.pack(mav))


def attitude(mav: mavlink2.MAVLink, t_ms: int) -> bytes:
    return bytes(mav.attitude_encode(t_ms, 0.1, 0.2, 0.3, 0, 0, 0).pack(mav))


def test_only_a_single_unsigned_mavlink2_frame_of_a_hot_id_is_sheddable() -> None:
    mav = mavlink2.MAVLink(None, srcSystem=7, srcComponent=1)
    assert routine_key(position(mav, 1)) == (7, 33)
    assert routine_key(attitude(mav, 1)) == (7, 30)
    assert routine_key(position(mav, 1) + position(mav, 2)) is None, "two frames"
    assert routine_key(bytes(mav.mission_count_encode(245, 190, 3).pack(mav))) is None
    v1 = mavlink1.MAVLink(None, srcSystem=7, srcComponent=1)
    assert routine_key(bytes(v1.heartbeat_encode(2, 3, 128, 0, 4).pack(v1))) is None
    signed = mavlink2.MAVLink(None, srcSystem=7, srcComponent=1)
    signed.signing.secret_key = bytes(32)
    signed.signing.link_id = 1
    signed.signing.sign_outgoing = True
    assert routine_key(position(signed, 1)) is None
    assert routine_key(b"\xfd\x05garbage") is None


def drain(shedder: Shedder) -> list[Datagram]:
    out = []
    while (item := shedder.take()) is not None:
        out.append(item)
    return out


def test_the_newest_position_per_sender_and_sysid_waits_in_the_older_ones_place() -> (
    None
):
    seven = mavlink2.MAVLink(None, srcSystem=7, srcComponent=1)
    eight = mavlink2.MAVLink(None, srcSystem=8, srcComponent=1)
    batch = [
        (position(seven, 1), A, 0.0),
        (position(eight, 1), A, 0.0),
        (position(seven, 2), B, 0.0),  # same sysid from another sender: kept apart
        (position(seven, 3), A, 0.0),
        (position(eight, 2), A, 0.0),
    ]
    shedder = Shedder()
    shed = shedder.add(batch, 100.0)
    assert shed == [batch[0], batch[1]]
    assert drain(shedder) == [batch[3], batch[4], batch[2]]
    assert shedder.shed_datagrams == 2


def test_a_position_arriving_while_the_last_one_waits_replaces_it() -> None:
    seven = mavlink2.MAVLink(None, srcSystem=7, srcComponent=1)
    shedder = Shedder()
    older = (position(seven, 1), A, 0.0)
    newer = (position(seven, 2), A, 0.1)
    assert shedder.add([older], 100.0) == []
    assert shedder.add([newer], 100.1) == [older]
    assert len(shedder) == 1
    assert drain(shedder) == [newer]


def test_routine_messages_go_through_at_most_once_per_interval() -> None:
    mav = mavlink2.MAVLink(None, srcSystem=7, srcComponent=1)
    shedder = Shedder()
    first = [(attitude(mav, 1), A, 0.0), (attitude(mav, 2), A, 0.0)]
    assert shedder.add(first, 100.0) == [first[0]]
    assert drain(shedder) == [first[1]]
    again = [(attitude(mav, 3), A, 0.0)]
    assert shedder.add(again, 100.0 + ROUTINE_EVERY_S / 2) == again
    later = [(attitude(mav, 4), A, 0.0)]
    assert shedder.add(later, 100.0 + ROUTINE_EVERY_S) == []
    assert drain(shedder) == later
    assert shedder.shed_datagrams == 2


def test_garbage_and_rare_traffic_are_never_shed() -> None:
    mav = mavlink2.MAVLink(None, srcSystem=7, srcComponent=1)
    items = [bytes(mav.mission_count_encode(245, 190, 3).pack(mav)) for _ in range(3)]
    batch = [(b"\x00\x01junk", A, 0.0), *[(d, A, 0.0) for d in items]]
    shedder = Shedder()
    assert shedder.add(batch, 1.0) == []
    assert drain(shedder) == batch
