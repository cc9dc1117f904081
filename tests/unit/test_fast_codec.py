"""The codec's fast path (``telemetry/mavlink/fast_codec.py``): what it takes, what it
leaves to pymavlink, and its pieces checked against pymavlink's own.

Frames come from pymavlink's encoder; the whole-stream comparison with the
pymavlink path is ``test_fast_codec_differential.py``.
"""

from __future__ import annotations

import marshal
import random
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.mavlink.codec import CONVERTERS, LinkCodec
from telemetry.mavlink.fast_codec import (
    HOT_MESSAGE_IDS,
    build_specs,
    clean_frame_end,
    message_view,
)
from telemetry.mavlink.messages import GlobalPosition
from telemetry.mavlink.signing import sign_frame
from tests.harness.autopilot_streams import random_frames, random_message

NOW_S = 1_750_000_000.5
KEY = bytes(range(32))


def pack(mav: Any, msg: Any, *, v1: bool = False) -> bytes:
    frame: bytes = msg.pack(mav, force_mavlink1=v1)
    mav.seq = (mav.seq + 1) % 256
    return frame


def position(mav: Any, i: int = 0, *, v1: bool = False) -> bytes:
    msg = mav.global_position_int_encode(
        i, 222606000 + i, 1141289000, 50000, 30000, 120, -230, -5, 9000
    )
    return pack(mav, msg, v1=v1)


def exact(value: Any) -> bytes:
    """``value`` as bytes that differ whenever it differs: a float bit for bit
    (NaN, -0.0), an int apart from a float, a list apart from a tuple."""
    return marshal.dumps(value, 2)


def test_a_frame_pymavlink_accepts_is_clean_and_a_damaged_one_is_not() -> None:
    rng = random.Random(3)
    frames = random_frames(rng, list(mavlink.mavlink_map), 3000)
    for frame in frames:
        assert clean_frame_end(frame + b"\xfd\x00", 0) == len(frame)
        # CRC-16 catches every error of one bit in what it covers.
        bit = rng.randrange(80, len(frame) * 8)
        damaged = bytearray(frame)
        damaged[bit // 8] ^= 1 << (bit % 8)
        assert clean_frame_end(bytes(damaged), 0) == -1
        assert clean_frame_end(frame[:-1], 0) == -1


def test_mavlink1_and_signed_frames_are_clean_when_whole() -> None:
    mav = mavlink.MAVLink(None, srcSystem=5, srcComponent=1)
    v1 = position(mav, v1=True)
    signed = sign_frame(position(mav), KEY, 123_456)
    assert clean_frame_end(v1, 0) == len(v1)
    assert clean_frame_end(b"x" + signed, 1) == 1 + len(signed)
    assert clean_frame_end(signed[:-1], 0) == -1


@pytest.mark.parametrize(
    "msg_id", sorted(HOT_MESSAGE_IDS), ids=lambda i: mavlink.mavlink_map[i].msgname
)
def test_the_view_of_a_hot_message_reads_as_pymavlink_decodes_it(msg_id: int) -> None:
    msg_type = mavlink.mavlink_map[msg_id]
    view = message_view(msg_type)
    rng = random.Random(msg_id)
    parser = mavlink.MAVLink(None)
    for frame in random_frames(rng, [msg_id], 200):
        (decoded,) = parser.parse_buffer(frame)
        payload = frame[10:-2].ljust(msg_type.unpacker.size, b"\x00")
        mine = tuple.__new__(view, msg_type.unpacker.unpack(payload))
        for name in msg_type.fieldnames:
            assert exact(getattr(mine, name)) == exact(getattr(decoded, name)), name


def test_the_view_refuses_text_fields() -> None:
    with pytest.raises(ValueError, match="character fields"):
        message_view(mavlink.MAVLink_statustext_message)


def test_only_the_hot_ids_are_unpacked_and_ids_nobody_reads_only_recorded() -> None:
    specs = build_specs(CONVERTERS)
    unpacked = {msg_id for msg_id, spec in specs.items() if spec[2] is not None}
    assert unpacked == HOT_MESSAGE_IDS
    recorded_only = set(mavlink.mavlink_map) - set(CONVERTERS)
    assert {msg_id for msg_id, spec in specs.items() if spec[2] is None} == (
        recorded_only
    )
    # Converted but not hot (STATUSTEXT, FENCE_STATUS ...): pymavlink's.
    assert not (set(CONVERTERS) - HOT_MESSAGE_IDS) & set(specs)


def test_a_datagram_mixing_every_kind_takes_the_fast_path_only_where_it_may() -> None:
    mav = mavlink.MAVLink(None, srcSystem=5, srcComponent=1)
    datagram = b"".join(
        [
            position(mav, 1),  # fast
            pack(mav, mav.statustext_encode(4, b"Fence breached")),  # converted
            position(mav, 2, v1=True),  # MAVLink 1
            sign_frame(position(mav, 3), KEY, 10),  # signed
            pack(mav, mav.param_value_encode(b"FENCE_ENABLE", 1.0, 9, 900, 3)),
            position(mav, 4),  # fast
        ]
    )
    fast = LinkCodec("udp", framing="datagram")
    reference = LinkCodec("udp", framing="datagram", fast_path=False)
    decoded = fast.feed(datagram, NOW_S)
    assert decoded == reference.feed(datagram, NOW_S)
    assert [f.msg_id for f in decoded.frames] == [33, 253, 33, 33, 22, 33]
    assert fast.fast_path_frames == 3  # two positions and the parameter
    assert reference.fast_path_frames == 0
    assert fast.counters.as_dict() == reference.counters.as_dict()


def test_a_zero_trimmed_position_is_zero_extended_before_unpacking() -> None:
    mav = mavlink.MAVLink(None, srcSystem=5, srcComponent=1)
    frame = pack(mav, mav.global_position_int_encode(7, 1, 2, 3, 0, 0, 0, 0, 0))
    assert frame[1] < mavlink.MAVLink_global_position_int_message.unpacker.size
    (msg,) = LinkCodec("udp", framing="datagram").feed(frame, NOW_S).messages
    assert isinstance(msg, GlobalPosition)
    assert (msg.lat_deg, msg.rel_alt_m, msg.heading_deg) == (1e-7, 0.0, 0.0)


def test_a_keyed_sysid_goes_to_the_verifier_not_the_fast_path() -> None:
    mav = mavlink.MAVLink(None, srcSystem=7, srcComponent=1)
    codec = LinkCodec("udp", {7: KEY}, framing="datagram")
    decoded = codec.feed(position(mav), NOW_S)
    assert [r.reason for r in decoded.rejected] == ["unsigned"]
    assert (decoded.messages, decoded.frames, codec.fast_path_frames) == ([], [], 0)


def test_a_stream_cut_inside_a_frame_returns_to_the_fast_path_after_it() -> None:
    mav = mavlink.MAVLink(None, srcSystem=5, srcComponent=1)
    stream = b"".join(position(mav, i) for i in range(6))
    cut = len(stream) // 3 + 5  # inside the third frame
    codec = LinkCodec("tcp")
    first = codec.feed(stream[:cut], NOW_S)
    rest = codec.feed(stream[cut:], NOW_S)
    assert len(first.frames) + len(rest.frames) == 6
    # The two whole frames, then the three after the one pymavlink completed.
    assert codec.fast_path_frames == 5
    assert codec.pending_bytes == 0


def test_random_values_of_every_hot_message_convert_alike_on_both_paths() -> None:
    rng = random.Random(11)
    mav = mavlink.MAVLink(None, srcSystem=9, srcComponent=1)
    fast = LinkCodec("udp", framing="datagram")
    reference = LinkCodec("udp", framing="datagram", fast_path=False)
    for _ in range(500):
        msg = random_message(
            rng, mavlink.mavlink_map[rng.choice(sorted(HOT_MESSAGE_IDS))]
        )
        frame = pack(mav, msg)
        a, b = fast.feed(frame, NOW_S), reference.feed(frame, NOW_S)
        assert repr(a) == repr(b)  # repr: NaN equals NaN, -0.0 is not 0.0
    assert fast.fast_path_frames == 500
