"""The MAVLink codec turns bytes from pymavlink's own encoder into typed telemetry.

Every input frame is made by pymavlink's encoder (``msg.pack(mav)``); bad input is
made from such frames by cutting, flipping bits or adding random bytes.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import pytest
from hypothesis import given, settings, strategies as st
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.mavlink.codec import CONVERTERS, LOG_INTERVAL_S, Decoded, LinkCodec
from telemetry.mavlink.condition_messages import CONDITION_CONVERTERS
from telemetry.mavlink.messages import (
    Attitude,
    BatteryStatus,
    FenceStatus,
    GlobalPosition,
    GpsRaw,
    Heartbeat,
    StatusText,
    SysStatus,
    VfrHud,
)

NOW_S = 1_750_000_000.25
NO_CELL = 65535


class Sender:
    """One MAVLink component sending through pymavlink's encoder."""

    def __init__(self, sysid: int, compid: int = 1, *, v1: bool = False) -> None:
        self.mav = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=compid)
        self.v1 = v1

    def pack(self, msg: Any) -> bytes:
        frame: bytes = msg.pack(self.mav, force_mavlink1=self.v1)
        self.mav.seq = (self.mav.seq + 1) % 256
        return frame

    def position(self, i: int = 0) -> bytes:
        return self.pack(
            self.mav.global_position_int_encode(
                i, 222606000 + i, 1141289000, 50000, 30000, 120, -230, -5, 9000
            )
        )

    def heartbeat(self) -> bytes:
        return self.pack(self.mav.heartbeat_encode(2, 3, 209, 4, 4))


def feed_all(codec: LinkCodec, chunks: Sequence[bytes]) -> Decoded:
    """Feed every chunk; return everything decoded, concatenated."""
    out = Decoded([], [], [])
    for chunk in chunks:
        d = codec.feed(chunk, NOW_S)
        out.messages.extend(d.messages)
        out.frames.extend(d.frames)
        out.rejected.extend(d.rejected)
    return out


def accounted_bytes(codec: LinkCodec, decoded: Decoded) -> int:
    """Bytes in accepted and rejected frames, garbage, and held for later."""
    return (
        sum(len(f.raw) for f in decoded.frames)
        + sum(len(r.raw) for r in decoded.rejected)
        + codec.counters.garbage_bytes
        + codec.pending_bytes
    )


def flip_bit(frame: bytes, bit: int) -> bytes:
    data = bytearray(frame)
    data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


# -- conversions ---------------------------------------------------------------------

V1_AND_V2 = pytest.mark.parametrize("v1", [False, True], ids=["mavlink2", "mavlink1"])


@V1_AND_V2
def test_global_position_is_converted_to_degrees_metres_and_metres_per_second(
    v1: bool,
) -> None:
    s = Sender(42, 1, v1=v1)
    frame = s.pack(
        s.mav.global_position_int_encode(
            time_boot_ms=123456, lat=222606000, lon=1141289000, alt=50123,
            relative_alt=30250, vx=120, vy=-230, vz=-5, hdg=27050,
        )
    )  # fmt: skip
    d = LinkCodec("udp").feed(frame, NOW_S)
    assert d.messages == [
        GlobalPosition(
            sysid=42, compid=1, t_s=NOW_S, time_boot_ms=123456, lat_deg=22.2606,
            lon_deg=114.1289, alt_amsl_m=50.123, rel_alt_m=30.25, vn_mps=1.2,
            ve_mps=-2.3, vd_mps=-0.05, heading_deg=270.5,
        )
    ]  # fmt: skip


def test_unknown_heading_is_none() -> None:
    s = Sender(1)
    frame = s.pack(s.mav.global_position_int_encode(0, 0, 0, 0, 0, 0, 0, 0, 65535))
    (msg,) = LinkCodec("udp").feed(frame, NOW_S).messages
    assert isinstance(msg, GlobalPosition)
    assert msg.heading_deg is None


@V1_AND_V2
def test_gps_raw_converts_units_and_keeps_fix_and_satellites(v1: bool) -> None:
    s = Sender(3, v1=v1)
    frame = s.pack(
        s.mav.gps_raw_int_encode(
            time_usec=1, fix_type=3, lat=-338688000, lon=1512093000, alt=-1500,
            eph=121, epv=250, vel=1234, cog=35999, satellites_visible=14,
        )
    )  # fmt: skip
    assert LinkCodec("udp").feed(frame, NOW_S).messages == [
        GpsRaw(
            sysid=3, compid=1, t_s=NOW_S, fix_type=3, lat_deg=-33.8688,
            lon_deg=151.2093, alt_amsl_m=-1.5, eph_m=1.21, epv_m=2.5,
            ground_speed_mps=12.34, course_deg=359.99, satellites=14,
        )
    ]  # fmt: skip


def test_gps_raw_unknowns_are_none() -> None:
    s = Sender(3)
    frame = s.pack(
        s.mav.gps_raw_int_encode(1, 1, 0, 0, 0, 65535, 65535, 65535, 65535, 255)
    )
    (msg,) = LinkCodec("udp").feed(frame, NOW_S).messages
    assert isinstance(msg, GpsRaw)
    assert (msg.eph_m, msg.epv_m, msg.ground_speed_mps, msg.course_deg) == (None,) * 4
    assert msg.satellites is None


@V1_AND_V2
def test_sys_status_converts_millivolts_centiamps_and_centipercent(v1: bool) -> None:
    s = Sender(5, v1=v1)
    frame = s.pack(
        s.mav.sys_status_encode(
            0, 0, 0, load=500, voltage_battery=15800, current_battery=1230,
            battery_remaining=77, drop_rate_comm=250, errors_comm=3, errors_count1=0,
            errors_count2=0, errors_count3=0, errors_count4=0,
        )
    )  # fmt: skip
    assert LinkCodec("udp").feed(frame, NOW_S).messages == [
        SysStatus(
            sysid=5, compid=1, t_s=NOW_S, battery_voltage_v=15.8,
            battery_current_a=12.3, battery_remaining_pct=77, drop_rate_comm_pct=2.5,
            errors_comm=3,
        )
    ]  # fmt: skip


def test_sys_status_unknown_battery_is_none() -> None:
    s = Sender(5)
    frame = s.pack(s.mav.sys_status_encode(0, 0, 0, 0, 65535, -1, -1, 0, 0, 0, 0, 0, 0))
    (msg,) = LinkCodec("udp").feed(frame, NOW_S).messages
    assert isinstance(msg, SysStatus)
    assert msg.battery_voltage_v is None
    assert msg.battery_current_a is None
    assert msg.battery_remaining_pct is None


def test_battery_status_sums_the_reported_cells_including_mavlink2_extension() -> None:
    s = Sender(6, 1)
    cells = [4000, 4010, 4020, 4030] + [NO_CELL] * 6
    frame = s.pack(
        s.mav.battery_status_encode(
            id=1, battery_function=0, type=0, temperature=2500, voltages=cells,
            current_battery=2150, current_consumed=1200, energy_consumed=-1,
            battery_remaining=64, voltages_ext=[3950, 0, 0, 0],
        )
    )  # fmt: skip
    assert LinkCodec("udp").feed(frame, NOW_S).messages == [
        BatteryStatus(
            sysid=6, compid=1, t_s=NOW_S, battery_id=1, remaining_pct=64,
            voltage_v=20.01, current_a=21.5, consumed_mah=1200,
        )
    ]  # fmt: skip


def test_battery_status_unknowns_are_none() -> None:
    s = Sender(6)
    frame = s.pack(
        s.mav.battery_status_encode(0, 0, 0, 0, [NO_CELL] * 10, -1, -1, -1, -1)
    )
    (msg,) = LinkCodec("udp").feed(frame, NOW_S).messages
    assert isinstance(msg, BatteryStatus)
    assert (msg.remaining_pct, msg.voltage_v, msg.current_a, msg.consumed_mah) == (
        None, None, None, None,
    )  # fmt: skip


@V1_AND_V2
def test_heartbeat_attitude_vfr_hud_fence_and_text_keep_their_values(v1: bool) -> None:
    s = Sender(9, 1, v1=v1)
    frames = [
        s.pack(s.mav.heartbeat_encode(2, 3, 209, 4, 4)),
        s.pack(s.mav.attitude_encode(100, 0.5, -0.25, 1.5, 0.125, -0.0625, 2.0)),
        s.pack(s.mav.vfr_hud_encode(5.5, 5.25, 270, 45, 50.5, -0.75)),
        s.pack(s.mav.fence_status_encode(1, 3, 3, 987654)),
        s.pack(s.mav.statustext_encode(4, b"PreArm: GPS not healthy")),
        s.pack(s.mav.statustext_encode(2, b"x" * 50)),
    ]
    assert LinkCodec("tcp").feed(b"".join(frames), NOW_S).messages == [
        Heartbeat(9, 1, NOW_S, vehicle_type=2, autopilot=3, base_mode=209,
                  custom_mode=4, system_status=4),
        Attitude(9, 1, NOW_S, 0.5, -0.25, 1.5, 0.125, -0.0625, 2.0),
        VfrHud(9, 1, NOW_S, airspeed_mps=5.5, groundspeed_mps=5.25, heading_deg=270,
               throttle_pct=45, alt_m=50.5, climb_mps=-0.75),
        FenceStatus(9, 1, NOW_S, breach_status=1, breach_count=3, breach_type=3,
                    breach_time_ms=987654),
        StatusText(9, 1, NOW_S, severity=4, text="PreArm: GPS not healthy"),
        StatusText(9, 1, NOW_S, severity=2, text="x" * 50),
    ]  # fmt: skip


def test_armed_flag_comes_from_base_mode() -> None:
    s = Sender(9)
    armed = s.pack(s.mav.heartbeat_encode(2, 3, 128 | 81, 0, 4))
    disarmed = s.pack(s.mav.heartbeat_encode(2, 3, 81, 0, 3))
    messages = LinkCodec("udp").feed(armed + disarmed, NOW_S).messages
    assert [m.armed for m in messages if isinstance(m, Heartbeat)] == [True, False]


def test_every_handled_message_id_has_a_dialect_message() -> None:
    assert all(msg_id in mavlink.mavlink_map for msg_id in CONVERTERS)
    assert len(CONVERTERS) == 9 + len(CONDITION_CONVERTERS)  # issue 18: six more


# -- frames, many senders, reassembly ------------------------------------------------


def test_untyped_frames_are_recorded_raw_but_not_emitted() -> None:
    s = Sender(4, 1)
    param = s.pack(s.mav.param_value_encode(b"FENCE_ENABLE", 1.0, 9, 500, 20))
    position = s.position()
    d = LinkCodec("udp").feed(param + position, NOW_S)
    assert [f.raw for f in d.frames] == [param, position]
    assert [f.msg_id for f in d.frames] == [
        mavlink.MAVLINK_MSG_ID_PARAM_VALUE,
        mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT,
    ]
    assert len(d.messages) == 1


def test_raw_frames_say_version_sender_and_time() -> None:
    v2, v1 = Sender(7, 190), Sender(8, 1, v1=True)
    d = LinkCodec("udp").feed(v2.heartbeat() + v1.heartbeat(), NOW_S)
    assert [(f.sysid, f.compid, f.mavlink2, f.signed, f.t_s) for f in d.frames] == [
        (7, 190, True, False, NOW_S),
        (8, 1, False, False, NOW_S),
    ]


def test_many_senders_in_one_stream_come_out_in_arrival_order() -> None:
    senders = [
        Sender(sysid, compid, v1=(sysid + compid) % 3 == 0)
        for sysid in range(1, 256, 5)
        for compid in (1, 191)
    ]
    rng = random.Random(4)
    order = [rng.choice(senders) for _ in range(600)]
    stream = b"".join(s.position(i) for i, s in enumerate(order))
    codec = LinkCodec("tcp")
    d = feed_all(codec, [stream[i : i + 1400] for i in range(0, len(stream), 1400)])
    expected = [(s.mav.srcSystem, s.mav.srcComponent) for s in order]
    assert [(m.sysid, m.compid) for m in d.messages] == expected
    assert [
        m.time_boot_ms for m in d.messages if isinstance(m, GlobalPosition)
    ] == list(range(600))
    assert codec.counters.frames_ok == 600
    assert codec.counters.seq_lost == 0
    assert codec.counters.msgs_by_id == {
        mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: 600
    }


def mixed_stream() -> list[bytes]:
    a, b = Sender(1, 1), Sender(2, 1, v1=True)
    return [
        a.heartbeat(),
        b.heartbeat(),
        a.position(1),
        b.position(2),
        a.pack(a.mav.statustext_encode(6, b"Mission: 1 Takeoff")),
        b.pack(b.mav.sys_status_encode(0, 0, 0, 1, 16000, 100, 90, 0, 0, 0, 0, 0, 0)),
    ]


def test_a_stream_split_at_every_byte_boundary_decodes_the_same() -> None:
    frames = mixed_stream()
    stream = b"".join(frames)
    whole = LinkCodec("tcp").feed(stream, NOW_S)
    assert [f.raw for f in whole.frames] == frames
    for cut in range(1, len(stream)):
        codec = LinkCodec("tcp")
        d = feed_all(codec, [stream[:cut], stream[cut:]])
        assert d == whole, cut
        assert codec.counters.garbage_bytes == 0
        assert codec.pending_bytes == 0


def test_a_stream_fed_byte_by_byte_decodes_the_same() -> None:
    frames = mixed_stream()
    stream = b"".join(frames)
    codec = LinkCodec("serial")
    d = feed_all(codec, [stream[i : i + 1] for i in range(len(stream))])
    assert [f.raw for f in d.frames] == frames
    assert codec.counters.bytes_in == len(stream)


# -- bad input -----------------------------------------------------------------------


def test_garbage_is_counted_and_the_next_frame_still_decodes() -> None:
    garbage = bytes(range(1, 200))  # no 0xFD/0xFE marker in it
    frame = Sender(1).position()
    codec = LinkCodec("tcp")
    d = codec.feed(garbage + frame, NOW_S)
    assert [f.raw for f in d.frames] == [frame]
    assert codec.counters.garbage_bytes == len(garbage)


@pytest.mark.parametrize("v1", [False, True], ids=["mavlink2", "mavlink1"])
def test_every_single_bit_flip_is_refused_or_changes_nothing_else(v1: bool) -> None:
    s = Sender(1, v1=v1)
    frame, after = s.position(1), s.position(2)
    more = [s.position(i) for i in range(3, 12)]  # enough to end any false frame
    for bit in range(len(frame) * 8):
        codec = LinkCodec("tcp")
        bad = flip_bit(frame, bit)
        d = feed_all(codec, [bad, after, *more])
        assert frame not in [f.raw for f in d.frames]
        assert bad not in [f.raw for f in d.frames], bit
        # A flipped length byte can make the parser wait for later frames, but it
        # rescans them once the false frame fails, so `after` is never lost.
        assert after in [f.raw for f in d.frames], bit
        assert accounted_bytes(codec, d) == codec.counters.bytes_in


def test_bad_crc_is_counted() -> None:
    frame = Sender(1).position()
    codec = LinkCodec("udp", framing="datagram")
    bad = flip_bit(frame, 8 * 14)  # a payload bit
    assert codec.feed(bad, NOW_S).frames == []
    assert codec.counters.bad_crc == 1
    assert codec.counters.frames_ok == 0


def test_a_truncated_frame_does_not_hide_the_frame_after_it_in_a_stream() -> None:
    s = Sender(1)
    cut, whole = s.position(1)[:-7], s.position(2)
    more = [s.position(i) for i in range(3, 12)]
    codec = LinkCodec("tcp")
    d = feed_all(codec, [cut, whole, *more])
    assert [f.raw for f in d.frames] == [whole, *more]
    assert accounted_bytes(codec, d) == codec.counters.bytes_in


def test_a_truncated_datagram_is_dropped_and_counted() -> None:
    s = Sender(1)
    good, cut = s.heartbeat(), s.position()[:20]
    codec = LinkCodec("udp", framing="datagram")
    d = codec.feed(good + cut, NOW_S)
    assert [f.raw for f in d.frames] == [good]
    assert codec.counters.truncated == 1
    assert codec.counters.garbage_bytes == len(cut)
    assert codec.pending_bytes == 0
    nxt = s.position()
    assert [f.raw for f in codec.feed(nxt, NOW_S).frames] == [nxt]


def test_a_datagram_frame_behind_a_false_marker_is_still_found() -> None:
    s = Sender(1)
    frame = s.position()
    false_start = frame[:3]  # a marker and a length that reach past the datagram
    codec = LinkCodec("udp", framing="datagram")
    d = codec.feed(false_start + frame, NOW_S)
    assert [f.raw for f in d.frames] == [frame]
    assert codec.counters.garbage_bytes == 3


def test_unknown_message_ids_are_counted_not_recorded() -> None:
    s = Sender(1)
    frame = bytearray(s.heartbeat())
    frame[7:10] = (0xABCDE).to_bytes(3, "little")  # an id no dialect defines
    assert 0xABCDE not in mavlink.mavlink_map
    good = s.heartbeat()
    codec = LinkCodec("tcp")
    d = codec.feed(bytes(frame) + good, NOW_S)
    assert [f.raw for f in d.frames] == [good]
    assert codec.counters.unknown_msg_id == 1
    assert accounted_bytes(codec, d) == codec.counters.bytes_in


def test_unknown_incompat_flags_are_malformed() -> None:
    s = Sender(1)
    frame = bytearray(s.heartbeat())
    frame[2] = 0x80
    codec = LinkCodec("tcp")
    assert codec.feed(bytes(frame) + s.heartbeat(), NOW_S).frames[0].msg_id == 0
    assert codec.counters.malformed == 1


def test_a_parser_failure_resets_the_parser_instead_of_raising() -> None:
    codec = LinkCodec("tcp")

    def broken(data: bytes) -> None:
        raise RuntimeError("parser bug")

    codec._mav.parse_char = broken
    assert codec.feed(b"\xfd\x09", NOW_S) == Decoded([], [], [])
    assert codec.counters.internal_errors == 1
    frame = Sender(1).heartbeat()
    assert [f.raw for f in codec.feed(frame, NOW_S).frames] == [frame]


def chaos(rng: random.Random, good: Sequence[bytes]) -> bytes:
    """One datagram: random bytes, or good frames cut, bit-flipped or mixed."""
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 24))
    frame = rng.choice(good)
    if kind == 1:
        return frame[: rng.randrange(1, len(frame))]
    if kind == 2:
        return flip_bit(frame, rng.randrange(len(frame) * 8))
    return rng.randbytes(rng.randrange(4)) + frame + rng.randbytes(rng.randrange(4))


def bad_datagrams(count: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    good = [Sender(1).position(), Sender(1).heartbeat(), Sender(2, v1=True).position()]
    for _ in range(count):
        yield chaos(rng, good)


def assert_survived(codec: LinkCodec, sent_bytes: int) -> None:
    counters = codec.counters
    assert counters.bytes_in == sent_bytes
    assert counters.internal_errors == 0
    assert counters.garbage_bytes > 0
    assert counters.bad_crc > 0
    assert counters.unknown_msg_id > 0
    # Good frames after the chaos all decode (a stream may first have to finish a
    # false frame the chaos started, which the rescan then gives back).
    s = Sender(9)
    tail = [s.position(i) for i in range(10)]
    d = feed_all(codec, tail)
    assert [f.raw for f in d.frames][-len(tail) :] == tail


@pytest.mark.slow
def test_survives_a_million_random_datagrams_and_still_decodes() -> None:
    rng = random.Random(1_000_000)
    codec = LinkCodec("udp", framing="datagram")
    sent = 0
    for _ in range(1_000_000):
        datagram = rng.randbytes(rng.randrange(1, 48))
        sent += len(datagram)
        codec.feed(datagram, NOW_S)
    assert_survived(codec, sent)


def test_survives_cut_flipped_and_padded_frames_in_datagrams() -> None:
    codec = LinkCodec("udp", framing="datagram")
    sent = 0
    for datagram in bad_datagrams(100_000, seed=1):
        sent += len(datagram)
        codec.feed(datagram, NOW_S)
    assert_survived(codec, sent)
    assert codec.counters.frames_ok > 0


def test_survives_cut_flipped_and_padded_frames_in_a_stream() -> None:
    stream = b"".join(bad_datagrams(100_000, seed=2))
    codec = LinkCodec("tcp")
    for i in range(0, len(stream), 4096):
        codec.feed(stream[i : i + 4096], NOW_S)
    assert_survived(codec, len(stream))


@settings(max_examples=300, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=80), max_size=8),
    framing=st.sampled_from(["stream", "datagram"]),
)
def test_random_bytes_never_raise_and_every_byte_is_accounted_for(
    chunks: list[bytes], framing: str
) -> None:
    codec = LinkCodec("fuzz", framing=framing)  # type: ignore[arg-type]
    d = feed_all(codec, chunks)
    assert accounted_bytes(codec, d) == codec.counters.bytes_in == sum(map(len, chunks))
    assert codec.counters.internal_errors == 0


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, 10_000), st.binary(min_size=0, max_size=6), st.integers(0, 8)
        ),
        max_size=4,
    ),
    cuts=st.lists(st.integers(0, 10_000), max_size=4),
)
def test_damaged_streams_yield_only_frames_that_were_sent(
    edits: list[tuple[int, bytes, int]], cuts: list[int]
) -> None:
    sent = mixed_stream()
    data = bytearray(b"".join(sent))
    for at, insert, remove in edits:
        at %= len(data) + 1
        data[at : at + remove] = insert
    stream = bytes(data)
    bounds = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    codec = LinkCodec("tcp")
    d = feed_all(codec, [stream[a:b] for a, b in itertools.pairwise(bounds)])
    for frame in d.frames:  # the odds of random bytes passing a CRC are ~1/65536
        assert frame.raw in sent
    assert accounted_bytes(codec, d) == codec.counters.bytes_in


# -- sequence gaps, counters, logs ---------------------------------------------------


def test_seq_gaps_count_lost_frames_per_sysid() -> None:
    a, a2, b = Sender(1, 1), Sender(1, 2), Sender(2, 1)
    codec = LinkCodec("udp")
    stream = [a.heartbeat(), a2.heartbeat(), b.heartbeat()]
    a.mav.seq += 3  # three frames of (1, 1) lost on the way
    b.mav.seq += 1
    stream += [a.heartbeat(), a2.heartbeat(), b.heartbeat()]
    a2.mav.seq += 2
    stream += [a2.heartbeat()]
    feed_all(codec, stream)
    assert codec.counters.seq_lost_of(1) == 5
    assert codec.counters.seq_lost_of(2) == 1
    assert codec.counters.seq_lost_of(3) == 0
    assert codec.counters.seq_lost == 6


def test_seq_wraparound_duplicates_and_restarts_are_not_loss() -> None:
    a = Sender(1)
    a.mav.seq = 254
    frames = [a.heartbeat() for _ in range(4)]  # 254, 255, 0, 1
    frames.append(frames[-1])  # a duplicate
    a.mav.seq = 200  # the sender restarted
    frames.append(a.heartbeat())
    codec = LinkCodec("udp")
    feed_all(codec, frames)
    assert codec.counters.seq_lost == 0
    assert codec.counters.frames_ok == 6


def test_counters_are_json_ready() -> None:
    codec = LinkCodec("udp")
    feed_all(codec, [Sender(1).heartbeat(), b"\x00\x01"])
    counters = orjson.loads(orjson.dumps(codec.counters.as_dict()))
    assert counters["frames_ok"] == 1
    assert counters["garbage_bytes"] == 2
    assert counters["msgs_by_id"] == {"0": 1}


def test_bad_input_is_logged_at_most_once_per_kind_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    codec = LinkCodec("udp:0.0.0.0:14550", framing="datagram")
    bad = flip_bit(Sender(1).position(), 8 * 14)
    with caplog.at_level(logging.WARNING, logger="telemetry.mavlink.codec"):
        for i in range(100):
            codec.feed(b"\x01\x02", NOW_S + i * 0.01)
            codec.feed(bad, NOW_S + i * 0.01)
        first = [r.getMessage() for r in caplog.records]
        codec.feed(bad, NOW_S + LOG_INTERVAL_S + 0.5)
        later = [r.getMessage() for r in caplog.records][len(first) :]
    assert sorted(line.split()[3] for line in first) == ["bad_crc", "garbage"]
    assert all(line.startswith("link udp:0.0.0.0:14550: 1 ") for line in first)
    assert len(later) == len({line.split()[3] for line in later}) <= 2
    assert "link udp:0.0.0.0:14550: 100 bad_crc since the last report" in "".join(later)
    assert codec.counters.bad_crc == 101


def test_framing_must_be_stream_or_datagram() -> None:
    with pytest.raises(ValueError, match="framing"):
        LinkCodec("x", framing="packet")  # type: ignore[arg-type]
