"""MAVLink 2 signing: drones registered with a key must sign, fresh, with that key.

Signed frames come from pymavlink's own encoder with its signing switched on
(``mav.signing``), so the verifier is checked against an independent signer.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.mavlink.codec import LinkCodec
from telemetry.mavlink.messages import GlobalPosition, SignatureRejected
from telemetry.mavlink.signing import (
    MAX_SKEW_S,
    SignatureVerifier,
    sign_frame,
    sign_outgoing,
    signing_timestamp,
    signing_timestamp_to_unix_s,
)

NOW_S = 1_750_000_000.0
KEY = hashlib.sha256(b"drone 7 passphrase").digest()
OTHER_KEY = hashlib.sha256(b"someone else").digest()


class Drone:
    """A MAVLink 2 sender; signs with pymavlink's own signing when given a key."""

    def __init__(
        self,
        sysid: int = 7,
        compid: int = 1,
        key: bytes | None = KEY,
        clock_s: float = NOW_S,
        link_id: int = 0,
    ) -> None:
        self.mav = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=compid)
        if key is not None:
            self.mav.signing.secret_key = key
            self.mav.signing.link_id = link_id
            self.mav.signing.timestamp = int((clock_s - 1_420_070_400) * 100_000)
            self.mav.signing.sign_outgoing = True

    def pack(self, msg: Any, v1: bool = False) -> bytes:
        frame: bytes = msg.pack(self.mav, force_mavlink1=v1)
        self.mav.seq = (self.mav.seq + 1) % 256
        return frame

    def position(self, v1: bool = False) -> bytes:
        msg = self.mav.global_position_int_encode(
            1, 222606000, 1141289000, 50000, 30000, 0, 0, 0, 9000
        )
        return self.pack(msg, v1)


def codec(keys: dict[int, bytes] | None = None) -> LinkCodec:
    return LinkCodec("udp", {7: KEY} if keys is None else keys)


def reasons(c: LinkCodec, *frames: bytes, now_s: float = NOW_S) -> list[str | None]:
    """Feed each frame alone; None where it was accepted, else the reject reason."""
    out: list[str | None] = []
    for frame in frames:
        d = c.feed(frame, now_s)
        out.append(d.rejected[0].reason if d.rejected else None)
    return out


def test_frames_signed_by_pymavlink_with_the_drones_key_are_accepted() -> None:
    drone = Drone()
    frame = drone.position()
    d = codec().feed(frame, NOW_S)
    assert d.rejected == []
    assert [(f.raw, f.signed) for f in d.frames] == [(frame, True)]
    assert isinstance(d.messages[0], GlobalPosition)
    assert d.messages[0].lat_deg == 22.2606


def test_unsigned_frames_from_a_keyed_sysid_are_rejected_and_reported() -> None:
    frame = Drone(key=None).position()
    c = codec()
    d = c.feed(frame, NOW_S)
    assert d.messages == []
    assert d.frames == []
    assert d.rejected == [
        SignatureRejected(
            sysid=7,
            compid=1,
            t_s=NOW_S,
            reason="unsigned",
            msg_id=mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT,
            raw=frame,
        )
    ]
    assert c.counters.signature_rejected == 1
    assert c.counters.frames_ok == 0


def test_mavlink1_frames_from_a_keyed_sysid_are_rejected_as_unsigned() -> None:
    assert reasons(codec(), Drone(key=None).position(v1=True)) == ["unsigned"]


def test_a_frame_signed_with_another_key_is_rejected() -> None:
    assert reasons(codec(), Drone(key=OTHER_KEY).position()) == ["bad_signature"]


def test_the_signature_covers_link_id_and_timestamp() -> None:
    frame = Drone().position()
    for offset in (-13, -12, -7):  # link id, first and last timestamp byte
        tampered = bytearray(frame)
        tampered[offset] ^= 0x01
        assert reasons(codec(), bytes(tampered)) == ["bad_signature"], offset


def test_a_replayed_frame_is_rejected() -> None:
    frame = Drone().position()
    assert reasons(codec(), frame, frame) == [None, "replayed"]


def test_frames_older_than_the_last_accepted_of_their_stream_are_rejected() -> None:
    drone = Drone()
    first, second = drone.position(), drone.position()
    assert reasons(codec(), second, first) == [None, "replayed"]


def test_timestamps_are_tracked_per_component_and_link_id() -> None:
    # Two components and two links of the same drone, each with the same clock.
    senders = [Drone(compid=1), Drone(compid=2), Drone(compid=1, link_id=1)]
    frames = [s.position() for s in senders]
    assert reasons(codec(), *frames) == [None, None, None]


def test_a_timestamp_far_in_the_future_is_rejected() -> None:
    ahead = Drone(clock_s=NOW_S + MAX_SKEW_S + 5).position()
    near = Drone(clock_s=NOW_S + MAX_SKEW_S - 5).position()
    assert reasons(codec(), ahead, near) == ["future_timestamp", None]


def test_a_new_stream_older_than_the_skew_is_a_replay_after_restart() -> None:
    stale = Drone(clock_s=NOW_S - MAX_SKEW_S - 5).position()
    assert reasons(codec(), stale) == ["stale_timestamp"]


def test_an_established_stream_may_lag_the_gateway_clock() -> None:
    drone = Drone(clock_s=NOW_S - 30)
    frames = [drone.position() for _ in range(3)]
    assert reasons(codec(), *frames, now_s=NOW_S + 120) == [
        "stale_timestamp",
        "stale_timestamp",
        "stale_timestamp",
    ]
    c = codec()
    assert reasons(c, frames[0]) == [None]
    assert reasons(c, *frames[1:], now_s=NOW_S + 120) == [None, None]


def test_a_forged_far_future_frame_does_not_lock_out_the_real_drone() -> None:
    forged = Drone(key=OTHER_KEY, clock_s=NOW_S + 30).position()
    real = Drone().position()
    assert reasons(codec(), forged, real) == ["bad_signature", None]


def test_sysids_without_a_key_pass_signed_or_not() -> None:
    c = codec()
    frames = [
        Drone(sysid=8, key=None).position(),
        Drone(sysid=8, key=OTHER_KEY).position(),
        Drone(sysid=9, key=None).position(v1=True),
    ]
    assert reasons(c, *frames) == [None, None, None]
    assert c.counters.frames_ok == 3


def test_one_stream_mixes_signing_and_other_drones() -> None:
    good, spoof, other = Drone(), Drone(key=None), Drone(sysid=8, key=None)
    stream = good.position() + spoof.position() + other.position() + good.position()
    d = codec().feed(stream, NOW_S)
    assert [m.sysid for m in d.messages] == [7, 8, 7]
    assert [(r.sysid, r.reason) for r in d.rejected] == [(7, "unsigned")]


def test_keys_can_be_set_changed_and_removed_at_run_time() -> None:
    c = codec({})
    unsigned = Drone(key=None)
    assert reasons(c, unsigned.position()) == [None]
    c.set_signing_keys({7: KEY})
    assert reasons(c, unsigned.position(), Drone().position()) == ["unsigned", None]
    c.set_signing_keys({7: OTHER_KEY})
    assert reasons(c, Drone(clock_s=NOW_S + 1).position()) == ["bad_signature"]
    c.set_signing_keys({})
    assert reasons(c, unsigned.position()) == [None]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({7: b"short"}, "sysid 7: must be 32 bytes, got 5"),
        ({7: "a" * 32}, "sysid 7: must be 32 bytes"),
        ({256: KEY}, "sysid 256: sysid must be 0-255"),
        ({-1: KEY}, "sysid -1"),
    ],
)
def test_bad_keys_are_refused_with_the_sysid_named(
    keys: dict[int, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LinkCodec("udp", keys)
    c = codec()
    with pytest.raises(ValueError, match=message):
        c.set_signing_keys(keys)
    assert reasons(c, Drone(key=None).position()) == ["unsigned"]  # old keys kept


def test_sign_frame_matches_pymavlinks_own_signing_byte_for_byte() -> None:
    signed = Drone(sysid=3, compid=190, link_id=5)
    plain = Drone(sysid=3, compid=190, key=None)
    timestamp = signed.mav.signing.timestamp
    for msg in (
        signed.mav.heartbeat_encode(2, 3, 209, 4, 4),
        signed.mav.statustext_encode(4, b"PreArm: check fence"),
        signed.mav.global_position_int_encode(9, 1, 2, 3, 4, 5, 6, 7, 8),
    ):
        expected = signed.pack(msg)
        assert sign_frame(plain.pack(msg), KEY, timestamp, link_id=5) == expected
        timestamp += 1


def test_sign_frame_refuses_what_it_cannot_sign() -> None:
    drone = Drone(key=None)
    with pytest.raises(ValueError, match="only MAVLink 2"):
        sign_frame(drone.position(v1=True), KEY, 1)
    with pytest.raises(ValueError, match="already signed"):
        sign_frame(Drone().position(), KEY, 1)
    with pytest.raises(ValueError, match="32 bytes"):
        sign_frame(drone.position(), b"k", 1)


def test_sign_outgoing_makes_a_pymavlink_encoder_sign_for_the_gateway() -> None:
    mav = mavlink.MAVLink(None, srcSystem=7, srcComponent=1)
    sign_outgoing(mav, KEY, NOW_S)
    frames = [mav.heartbeat_encode(2, 3, 0, 0, 3).pack(mav) for _ in range(3)]
    assert reasons(codec(), *frames) == [None, None, None]


def test_signing_timestamps_count_10_microseconds_since_2015() -> None:
    assert signing_timestamp(1_420_070_400.0) == 0
    assert signing_timestamp(1_420_070_401.5) == 150_000
    assert signing_timestamp_to_unix_s(150_000) == 1_420_070_401.5


def test_verifier_alone_passes_unkeyed_sysids_without_looking() -> None:
    verifier = SignatureVerifier({7: KEY})
    assert verifier.check(b"", 8, 1, NOW_S) is None
    assert verifier.check(Drone(key=None).position(), 7, 1, NOW_S) == "unsigned"
