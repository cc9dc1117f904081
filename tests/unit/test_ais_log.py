"""The raw AIS recording: tag-blocked lines our codec (and pyais) read back."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pyais import encode_dict
from pyais.stream import FileReaderStream

from telemetry.ais import AisLinkCodec, AisSentence, VesselPosition
from telemetry.recording.ais_log import AisLog, tag_block
from telemetry.reports.vessel_tracks import read_vessel_tracks

T0 = 1_800_000_000.0


def test_recorded_sentences_replay_through_the_codec_and_pyais(tmp_path: Path) -> None:
    lines = encode_dict(
        {"type": 1, "mmsi": 477000001, "lat": 22.2, "lon": 114.1, "speed": 9.0},
        sentence_type="VDM",
    )
    log = AisLog(tmp_path)
    log.start()
    log.record(
        "cyberport-pier", "udpin:0.0.0.0:10110", [AisSentence(T0, s) for s in lines]
    )
    log.close()
    [day] = list(tmp_path.glob("cyberport-pier/*.nmea"))
    text = day.read_bytes()
    assert text.startswith(b"\\c:1800000000,s:udpin-0.0.0.0-1")
    [msg] = AisLinkCodec("replay").feed(text, T0).messages
    assert isinstance(msg, VesselPosition)
    assert msg.mmsi == 477000001
    with FileReaderStream(str(day)) as stream:
        [again] = list(stream)
    assert again.decode().mmsi == 477000001
    assert log.written == 1


def test_tag_block_checksum_is_the_xor_of_its_body() -> None:
    block = tag_block(T0, "l")
    body, checksum = block.strip("\\").split("*")
    expected = 0
    for ch in body:
        expected ^= ord(ch)
    assert int(checksum, 16) == expected


def test_purge_removes_day_files_older_than_the_cutoff(tmp_path: Path) -> None:
    old, new = tmp_path / "2026-01-01.nmea", tmp_path / "2026-12-01.nmea"
    old.write_text("x\n")
    new.write_text("y\n")
    week_ago = time.time() - 7 * 86400
    os.utime(old, (week_ago, week_ago))
    assert AisLog(tmp_path).purge(time.time() - 86400) == 1
    assert [p.name for p in tmp_path.glob("*.nmea")] == [new.name]


def test_vessel_tracks_are_read_back_for_a_window_with_names(tmp_path: Path) -> None:
    log = AisLog(tmp_path)
    log.start()
    now = float(int(time.time()))  # the tag block stamps whole seconds
    static = encode_dict(
        {"type": 5, "mmsi": 477000009, "shipname": "TRACKED"}, sentence_type="VDM"
    )
    log.record("pier", "l", [AisSentence(now - 100, s) for s in static])
    for i in range(5):
        lines = encode_dict(
            {"type": 1, "mmsi": 477000009, "lat": 22.2 + i / 1000, "lon": 114.1},
            sentence_type="VDM",
        )
        log.record("pier", "l", [AisSentence(now - 50 + i * 10, s) for s in lines])
    log.close()
    [track] = read_vessel_tracks(tmp_path, "pier", now - 40, now)
    assert (track.mmsi, track.name) == (477000009, "TRACKED")
    assert [round(p[1], 3) for p in track.points] == [22.201, 22.202, 22.203, 22.204]
    assert read_vessel_tracks(tmp_path, "pier", now + 10, now + 20) == ()
    assert read_vessel_tracks(tmp_path, "other-site", now - 40, now) == ()
    assert read_vessel_tracks(None, "pier", now - 40, now) == ()


def test_a_recording_from_before_sites_is_still_read_for_every_site(
    tmp_path: Path,
) -> None:
    now = float(int(time.time()))
    lines = encode_dict(
        {"type": 1, "mmsi": 477000010, "lat": 22.2, "lon": 114.1},
        sentence_type="VDM",
    )
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    (tmp_path / f"{day}.nmea").write_text(
        "".join(f"{tag_block(now, 'l')}{s}\n" for s in lines)
    )
    [track] = read_vessel_tracks(tmp_path, "any-site", now - 1, now + 1)
    assert track.mmsi == 477000010


def test_purge_reaches_every_sites_files(tmp_path: Path) -> None:
    old = tmp_path / "pier" / "2026-01-01.nmea"
    old.parent.mkdir()
    old.write_text("x\n")
    week_ago = time.time() - 7 * 86400
    os.utime(old, (week_ago, week_ago))
    assert AisLog(tmp_path).purge(time.time() - 86400) == 1
    assert not old.exists()
