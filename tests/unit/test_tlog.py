"""The .tlog recording: the project's one writer and reader (gateway and simulator),
checked against pymavlink's reader; the reader resynchronises past bad bytes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.mavlink.codec import LinkCodec
from telemetry.mavlink.signing import sign_outgoing
from telemetry.mavlink.tlog import (
    MAX_RECORD_LEN,
    Record,
    TlogFormatError,
    TlogReader,
    TlogStamp,
    TlogWriter,
    complete_length,
    encode_record,
    frame_length,
    read_tlog,
)

T0_S = 1_750_000_000.123456


@pytest.fixture
def mavutil() -> Iterator[Any]:
    """pymavlink's log reader; undoes the environment variables it sets."""
    before = dict(os.environ)
    from pymavlink import mavutil as module

    yield module
    for name in set(os.environ) - set(before):  # MAVLINK_DIALECT, MAVLINK20
        del os.environ[name]


def frames() -> list[bytes]:
    """Heartbeats and positions from three drones, MAVLink 1, 2 and 2 signed."""
    v2 = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
    v1 = mavlink.MAVLink(None, srcSystem=2, srcComponent=1)
    signed = mavlink.MAVLink(None, srcSystem=3, srcComponent=1)
    sign_outgoing(signed, bytes(32), T0_S)
    out = []
    for i in range(5):
        for mav, force_v1 in ((v2, False), (v1, True), (signed, False)):
            pos = mav.global_position_int_encode(
                i, 222606000 + i, 1141289000, 50000, 30000, 0, 0, 0, 9000
            )
            out.append(pos.pack(mav, force_mavlink1=force_v1))
            out.append(mav.heartbeat_encode(2, 3, 209, 4, 4).pack(mav, force_v1))
            mav.seq += 1
    return out


def write(path: Path, records: list[tuple[float, bytes]]) -> None:
    with TlogWriter(path) as writer:
        for t_s, raw in records:
            writer.write(t_s, raw)


def test_a_record_is_big_endian_microseconds_then_the_frame() -> None:
    raw = frames()[0]
    record = encode_record(T0_S, raw)
    assert record[:8] == (1_750_000_000_123_456).to_bytes(8, "big")
    assert record[8:] == raw


def test_records_round_trip_with_microsecond_times(tmp_path: Path) -> None:
    path = tmp_path / "booking-41.tlog"
    records = [(T0_S + i * 0.1, raw) for i, raw in enumerate(frames())]
    write(path, records)
    got = list(read_tlog(path))
    assert [raw for _, raw in got] == [raw for _, raw in records]
    assert [t for t, _ in got] == pytest.approx([t for t, _ in records], abs=1e-6)


def test_pymavlinks_own_reader_reads_our_tlog(tmp_path: Path, mavutil: Any) -> None:
    path = tmp_path / "booking-41.tlog"
    sent = frames()
    write(path, [(T0_S + i * 0.1, raw) for i, raw in enumerate(sent)])
    log = mavutil.mavlink_connection(str(path))
    got = []
    while (msg := log.recv_match(type="GLOBAL_POSITION_INT")) is not None:
        got.append(msg)
    log.close()
    assert len(got) == 15
    assert [m.get_srcSystem() for m in got[:3]] == [1, 2, 3]
    assert [m.lat for m in got[::3]] == [222606000 + i for i in range(5)]
    assert [m._timestamp for m in got[:2]] == pytest.approx([T0_S, T0_S + 0.2])
    assert got[2].get_signed() is False  # the reader has no key; it still decodes


def test_frames_from_the_codec_go_to_the_tlog_as_received(
    tmp_path: Path, mavutil: Any
) -> None:
    path = tmp_path / "link.tlog"
    sent = frames()
    decoded = LinkCodec("udp").feed(b"\x00junk" + b"".join(sent), T0_S)
    with TlogWriter(path) as writer:
        writer.write_frames(decoded.frames)
    assert [raw for _, raw in read_tlog(path)] == sent
    log = mavutil.mavlink_connection(str(path))
    try:
        heartbeat = log.recv_match(type="HEARTBEAT")
    finally:
        log.close()
    assert heartbeat.base_mode == 209
    assert heartbeat._timestamp == pytest.approx(T0_S)


def test_opening_an_existing_tlog_appends(tmp_path: Path) -> None:
    path = tmp_path / "x.tlog"
    sent = frames()
    write(path, [(T0_S, raw) for raw in sent[:4]])
    write(path, [(T0_S + 1, raw) for raw in sent[4:]])
    assert [raw for _, raw in read_tlog(path)] == sent


def test_records_reach_the_file_on_flush(tmp_path: Path) -> None:
    path = tmp_path / "x.tlog"
    writer = TlogWriter(path)
    writer.write_records(b"".join(encode_record(T0_S, raw) for raw in frames()[:2]))
    writer.flush()
    assert len(list(read_tlog(path))) == 2
    writer.close()
    assert writer.closed
    with pytest.raises(ValueError, match="closed"):
        writer.write(T0_S, frames()[0])


def test_a_torn_last_record_is_skipped_and_cut_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "x.tlog"
    sent = frames()
    write(path, [(T0_S, raw) for raw in sent[:3]])
    whole = path.stat().st_size
    with path.open("ab") as file:  # a crash in the middle of the fourth record
        file.write(encode_record(T0_S, sent[3])[:-5])
    assert [raw for _, raw in read_tlog(path)] == sent[:3]
    assert complete_length(path) == whole
    write(path, [(T0_S, raw) for raw in sent[4:6]])
    assert [raw for _, raw in read_tlog(path)] == sent[:3] + sent[4:6]


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=0, max_value=2000))
def test_reading_a_tlog_cut_anywhere_yields_the_whole_records(
    tmp_path_factory: pytest.TempPathFactory, cut: int
) -> None:
    data = b"".join(encode_record(T0_S + i, raw) for i, raw in enumerate(frames()))
    path = tmp_path_factory.mktemp("cut") / "x.tlog"
    path.write_bytes(data[:cut])
    got = [raw for _, raw in read_tlog(path)]
    whole = 0
    for raw in frames():
        if whole + 8 + len(raw) > cut:
            break
        whole += 8 + len(raw)
    assert sum(8 + len(raw) for raw in got) == whole == complete_length(path)


def test_a_file_that_is_no_tlog_yields_no_record_and_is_refused_untouched(
    tmp_path: Path,
) -> None:
    path = tmp_path / "notes.tlog"
    text = b"not a tlog, just some text that someone saved here"
    path.write_bytes(text)
    reader = TlogReader(path)
    assert list(reader) == []
    assert reader.skipped_bytes == len(text)
    with pytest.raises(TlogFormatError, match=r"notes.tlog: no tlog: .* after byte 0"):
        TlogWriter(path)
    assert path.read_bytes() == text


def test_bad_bytes_in_the_middle_are_skipped_and_reading_resynchronises(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.tlog"
    sent = frames()
    good = [encode_record(T0_S + i, raw) for i, raw in enumerate(sent[:3])]
    # Eight zero bytes then no marker, a marker after an implausible time, and the
    # first bytes of a time with no frame: none may be taken for a record. (The
    # reader checks headers, not CRCs: a torn record followed by more records would
    # be read as one frame that swallows the next; our writer cuts torn tails.)
    junk = [b"\x00" * 8 + b"\x42garbage", b"\xff" * 8 + b"\xfd\x01\x00", good[2][:3]]
    path.write_bytes(good[0] + junk[0] + good[1] + junk[1] + junk[2] + good[2])
    reader = TlogReader(path)
    assert list(reader) == [(T0_S + i, raw) for i, raw in enumerate(sent[:3])]
    assert reader.skipped_bytes == sum(map(len, junk))


def test_a_tlog_with_bad_bytes_in_the_middle_is_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "x.tlog"
    sent = frames()
    path.write_bytes(
        encode_record(T0_S, sent[0]) + b"\x13garbage" + encode_record(T0_S, sent[1])
    )
    write(path, [(T0_S, sent[2])])
    assert [raw for _, raw in read_tlog(path)] == sent[:3]


def test_a_tail_longer_than_any_torn_record_is_refused_naming_its_offset(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.tlog"
    good = encode_record(T0_S, frames()[0])
    data = good + b"\x42" * MAX_RECORD_LEN
    path.write_bytes(data)
    with pytest.raises(TlogFormatError, match=f"after byte {len(good)} .*0x42"):
        TlogWriter(path)
    assert path.read_bytes() == data


def test_what_the_writer_writes_the_reader_reads_back_as_records(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.tlog"
    sent = [(T0_S + i * 0.25, raw) for i, raw in enumerate(frames())]
    with TlogWriter(path) as writer:
        for t_s, raw in sent:
            writer.write(t_s, raw)
    reader = TlogReader(path)
    got = list(reader)
    assert got == [Record(t_s, raw) for t_s, raw in sent]
    assert [frame_length(r.frame) for r in got] == [len(raw) for _, raw in sent]
    assert reader.skipped_bytes == 0
    assert reader.whole_length == path.stat().st_size


def test_a_fresh_writer_replaces_the_file_instead_of_appending(tmp_path: Path) -> None:
    path = tmp_path / "x.tlog"
    write(path, [(T0_S, raw) for raw in frames()[:4]])
    with TlogWriter(path, append=False) as writer:
        writer.write(T0_S, frames()[5])
    assert [raw for _, raw in read_tlog(path)] == [frames()[5]]


def test_reopening_with_the_stamp_from_close_appends_without_a_scan(
    tmp_path: Path, scans: list[Path]
) -> None:
    path = tmp_path / "x.tlog"
    sent = frames()
    writer = TlogWriter(path)
    writer.write_records(b"".join(encode_record(T0_S, raw) for raw in sent[:4]))
    stamp = writer.close_stamped()
    assert writer.closed
    assert stamp == TlogStamp.of(path.stat())
    assert stamp.size == sum(8 + len(raw) for raw in sent[:4])

    with TlogWriter(path, whole_at=stamp) as again:
        again.write_frames([])
        for raw in sent[4:]:
            again.write(T0_S + 1, raw)

    assert scans == []
    assert [raw for _, raw in read_tlog(path)] == sent


def test_a_file_changed_since_its_stamp_is_scanned_and_its_torn_tail_cut(
    tmp_path: Path, scans: list[Path]
) -> None:
    path = tmp_path / "x.tlog"
    sent = frames()
    writer = TlogWriter(path)
    writer.write(T0_S, sent[0])
    stamp = writer.close_stamped()
    with path.open("ab") as file:  # another program's write, torn by a crash
        file.write(encode_record(T0_S, sent[1])[:-4])

    with TlogWriter(path, whole_at=stamp) as again:
        again.write(T0_S, sent[2])

    assert scans == [path]
    assert [raw for _, raw in read_tlog(path)] == [sent[0], sent[2]]


def test_a_stamp_of_a_replaced_file_does_not_skip_the_scan(
    tmp_path: Path, scans: list[Path]
) -> None:
    path = tmp_path / "x.tlog"
    writer = TlogWriter(path)
    writer.write(T0_S, frames()[0])
    stamp = writer.close_stamped()
    replacement = tmp_path / "other"
    replacement.write_bytes(b"not a tlog" + bytes(stamp.size - 10))
    os.utime(replacement, ns=(stamp.mtime_ns, stamp.mtime_ns))
    replacement.replace(path)  # same size and time, another file

    with pytest.raises(TlogFormatError):
        TlogWriter(path, whole_at=stamp)
    assert scans == [path]
