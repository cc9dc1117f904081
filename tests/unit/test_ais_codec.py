"""The AIS codec: sentences written by pyais' own encoder, decoded back to values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pyais import encode_dict

from telemetry.ais import (
    AidToNavigation,
    AisLinkCodec,
    VesselPosition,
    VesselStatic,
)

T0 = 1_800_000_000.0
FERRY = 477553000


def sentences(data: Mapping[str, Any], seq_id: int | None = None) -> list[str]:
    return encode_dict(dict(data), sentence_type="VDM", seq_id=seq_id)


def datagram(lines: list[str]) -> bytes:
    return "".join(f"{line}\r\n" for line in lines).encode()


def position(**over: object) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": 1,
        "mmsi": FERRY,
        "lat": 22.2,
        "lon": 114.1,
        "speed": 12.3,
        "course": 250.5,
        "heading": 251,
        "status": 0,
    }
    data.update(over)
    return data


def static5() -> dict[str, Any]:
    return {
        "type": 5,
        "mmsi": FERRY,
        "shipname": "FERRY ONE",
        "callsign": "VRAB1",
        "ship_type": 60,
        "to_bow": 30,
        "to_stern": 10,
        "to_port": 5,
        "to_starboard": 4,
    }


@pytest.mark.parametrize("msg_type", [1, 2, 3])
def test_decodes_class_a_position_in_units(msg_type: int) -> None:
    codec = AisLinkCodec("udpin:0.0.0.0:10110")
    out = codec.feed(
        datagram(sentences(position(type=msg_type, msg_type=msg_type))), T0
    )
    [msg] = out.messages
    assert isinstance(msg, VesselPosition)
    assert msg.mmsi == FERRY
    assert msg.t_s == T0
    assert msg.lat_deg == pytest.approx(22.2, abs=1e-5)
    assert msg.lon_deg == pytest.approx(114.1, abs=1e-5)
    assert msg.sog_kn == pytest.approx(12.3)
    assert msg.sog_mps == pytest.approx(12.3 * 0.514444)
    assert msg.cog_deg == pytest.approx(250.5)
    assert msg.heading_deg == 251
    assert msg.nav_status == 0
    assert not msg.own_ship
    assert len(out.sentences) == 1
    assert codec.counters.messages_by_type == {msg_type: 1}


def test_turns_not_available_sentinels_into_none() -> None:
    data = position(lat=91, lon=181, speed=102.3, course=360, heading=511)
    [msg] = AisLinkCodec("l").feed(datagram(sentences(data)), T0).messages
    assert isinstance(msg, VesselPosition)
    assert (msg.lat_deg, msg.lon_deg, msg.sog_kn, msg.cog_deg, msg.heading_deg) == (
        None,
        None,
        None,
        None,
        None,
    )


def test_decodes_class_b_18_and_19_with_its_static_half() -> None:
    codec = AisLinkCodec("l")
    b18 = {"type": 18, "mmsi": 412000001, "lat": 22.25, "lon": 114.15, "speed": 3.1}
    b19 = {
        "type": 19,
        "mmsi": 412000002,
        "lat": 22.26,
        "lon": 114.16,
        "shipname": "SMALL CRAFT",
        "ship_type": 37,
        "to_bow": 6,
        "to_stern": 2,
        "to_port": 1,
        "to_starboard": 1,
    }
    out = codec.feed(datagram(sentences(b18) + sentences(b19)), T0)
    pos18, pos19, static19 = out.messages
    assert isinstance(pos18, VesselPosition)
    assert pos18.nav_status is None
    assert pos18.sog_kn == pytest.approx(3.1)
    assert isinstance(pos19, VesselPosition)
    assert isinstance(static19, VesselStatic)
    assert static19.name == "SMALL CRAFT"
    assert (static19.ship_type, static19.length_m, static19.beam_m) == (37, 8.0, 2.0)


def test_reassembles_two_part_type_5() -> None:
    codec = AisLinkCodec("l")
    parts = sentences(static5(), seq_id=3)
    assert len(parts) == 2
    first = codec.feed(datagram(parts[:1]), T0)
    assert first.messages == []
    [msg] = codec.feed(datagram(parts[1:]), T0 + 0.1).messages
    assert isinstance(msg, VesselStatic)
    assert (msg.name, msg.callsign, msg.ship_type) == ("FERRY ONE", "VRAB1", 60)
    assert (msg.length_m, msg.beam_m) == (40.0, 9.0)
    assert codec.counters.sentences_ok == 2


def test_reassembles_parts_that_arrive_out_of_order() -> None:
    codec = AisLinkCodec("l")
    parts = sentences(static5(), seq_id=7)
    [msg] = codec.feed(datagram(list(reversed(parts))), T0).messages
    assert isinstance(msg, VesselStatic)
    assert msg.name == "FERRY ONE"


def test_counts_a_lost_part_when_it_times_out_and_keeps_going() -> None:
    codec = AisLinkCodec("l", partial_timeout_s=5.0)
    parts = sentences(static5(), seq_id=1)
    codec.feed(datagram(parts[:1]), T0)
    out = codec.feed(datagram(sentences(position())), T0 + 6)
    assert len(out.messages) == 1
    assert codec.counters.partial_dropped == 1
    # the late second part alone cannot complete anything
    assert codec.feed(datagram(parts[1:]), T0 + 6.1).messages == []


def test_counts_a_reused_sequence_id_as_a_dropped_partial() -> None:
    codec = AisLinkCodec("l")
    a = sentences(static5(), seq_id=2)
    b = sentences(static5(), seq_id=2)
    out = codec.feed(datagram([a[0], b[0], b[1]]), T0)
    assert len(out.messages) == 1
    assert codec.counters.partial_dropped == 1


def test_decodes_static_24_parts_a_and_b() -> None:
    codec = AisLinkCodec("l")
    part_a = {"type": 24, "mmsi": 412000003, "partno": 0, "shipname": "SAMPAN"}
    part_b = {
        "type": 24,
        "mmsi": 412000003,
        "partno": 1,
        "callsign": "VR22",
        "ship_type": 30,
        "to_bow": 4,
        "to_stern": 3,
        "to_port": 1,
        "to_starboard": 1,
    }
    a, b = codec.feed(datagram(sentences(part_a) + sentences(part_b)), T0).messages
    assert isinstance(a, VesselStatic)
    assert isinstance(b, VesselStatic)
    assert (a.name, a.callsign, a.ship_type, a.length_m) == ("SAMPAN", None, None, None)
    assert (b.name, b.callsign, b.ship_type, b.length_m) == (None, "VR22", 30, 7.0)


def test_decodes_aid_to_navigation() -> None:
    data = {"type": 21, "mmsi": 993456001, "name": "WEST LAMMA BUOY", "aid_type": 22}
    data |= {"lat": 22.2, "lon": 114.05, "virtual_aid": True}
    [msg] = AisLinkCodec("l").feed(datagram(sentences(data)), T0).messages
    assert isinstance(msg, AidToNavigation)
    assert (msg.name, msg.aid_type, msg.virtual) == ("WEST LAMMA BUOY", 22, True)


def test_marks_aivdo_as_own_ship() -> None:
    lines = encode_dict(dict(position()), sentence_type="VDO")
    [msg] = AisLinkCodec("l").feed(datagram(lines), T0).messages
    assert isinstance(msg, VesselPosition)
    assert msg.own_ship


def test_counts_bad_checksum_and_garbage_without_raising() -> None:
    codec = AisLinkCodec("l")
    good = sentences(position())[0]
    bad = good[:-2] + ("00" if not good.endswith("00") else "01")
    junk = [bad, "hello world", "!AIVDM,bogus", "$GPGGA,1,2,3*00", "\x00\xff"]
    out = codec.feed(datagram([*junk, good]), T0)
    assert len(out.messages) == 1
    assert codec.counters.bad_checksum == 1
    assert codec.counters.garbage_lines == 4
    assert codec.counters.sentences_ok == 1


def test_stream_framing_joins_a_sentence_cut_across_chunks() -> None:
    codec = AisLinkCodec("tcp:127.0.0.1:10110", framing="stream")
    data = datagram(sentences(position()) + sentences(static5()))
    got = []
    for i in range(0, len(data), 7):
        got += codec.feed(data[i : i + 7], T0).messages
    assert [type(m) for m in got] == [VesselPosition, VesselStatic]
    assert codec.counters.bytes_in == len(data)


def test_accepts_a_tag_block_prefix() -> None:
    line = "\\s:rcv1,c:1800000000*5A\\" + sentences(position())[0]
    assert len(AisLinkCodec("l").feed(datagram([line]), T0).messages) == 1


def test_counts_unsupported_types() -> None:
    base = {"type": 4, "mmsi": 4770001, "lat": 22.2, "lon": 114.1}
    out = AisLinkCodec("l").feed(datagram(sentences(base)), T0)
    assert out.messages == []
    assert len(out.sentences) == 1


def test_each_sentence_carries_its_messages_mmsi_for_the_recording() -> None:
    codec = AisLinkCodec("l")
    parts = sentences(static5(), seq_id=5)
    first = codec.feed(datagram(parts[:1]), T0)
    # a part is held back until its message is whole (its MMSI is known then)
    assert first.sentences == []
    out = codec.feed(datagram(parts[1:] + sentences(position())), T0 + 0.1)
    assert [s.text for s in out.sentences[:2]] == parts
    assert [s.t_s for s in out.sentences[:2]] == [T0, T0 + 0.1]
    assert {s.mmsi for s in out.sentences} == {static5()["mmsi"], position()["mmsi"]}


def test_the_parts_of_a_message_that_never_completes_are_still_recorded() -> None:
    codec = AisLinkCodec("l", partial_timeout_s=5.0)
    parts = sentences(static5(), seq_id=1)
    codec.feed(datagram(parts[:1]), T0)
    out = codec.feed(datagram(sentences(position())), T0 + 6)
    assert [(s.text, s.mmsi) for s in out.sentences[:1]] == [(parts[0], None)]
    assert len(out.sentences) == 2
