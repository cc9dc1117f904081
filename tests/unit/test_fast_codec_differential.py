"""The codec's fast path gives what its pymavlink path gives, for every frame.

Two ``LinkCodec`` s see the same bytes in the same calls: one as the gateway runs
it (``telemetry/mavlink/fast_codec.py`` first), one with ``fast_path=False`` (every
frame through pymavlink's parser: the reference). After every call the two results
must be identical event for event and field for field: typed messages, raw frames
for the tlog and signature rejects, floats bit for bit (NaN, -0.0, infinities),
ints never floats, bytes and text as they are. After every batch, so must their
counters (frames, bytes, garbage, CRC errors, seq losses per sysid ...) and the
bytes each holds for a frame not yet complete. Each test also checks that the
fast path took its share, so agreement is not pymavlink agreeing with itself.

The inputs:

a. tlogs of the simulator: its fleet (``simulator.fleet.Fleet``, the frame encoder
   ``simulate`` runs) flies the demo site, one drone signing and one reporting
   degraded conditions, in MAVLink 2 and again in MAVLink 1; the frames go through
   the ``.tlog`` writer and reader the gateway's recorder uses, and each record is
   fed as the datagram it was.
b. frames as ArduPilot and PX4 send them, made with pymavlink's ``ardupilotmega``
   encoders by ``tests/harness/autopilot_streams.py`` (ArduCopter's stream groups
   and values, its SiK radio, MAVLink 1 and signed variants; a PX4 multicopter's
   default streams), bundled 1-4 frames a datagram, plus random values over every
   field's range (NaN, infinities, -0.0, denormals, each integer's ends) for the
   hot messages and every other message of the dialect. ArduCopter's SITL cannot
   be built here: its source is not in the package registries (nor PX4's), so no
   autopilot binary records a tlog in this test.
c. 10^6 fuzzed and mutated frames from a fixed seed: bad CRC (bit flips),
   truncation, a wrong length byte, MAVLink 1/2 markers swapped, random bytes,
   payloads cut (zero-extended by the receiver), padded with zeros or run past the
   dialect's length (re-checksummed, so valid), compat and incompat flags, random
   seq/sysid/compid, known and unknown ids, 1-4 pieces a datagram (concatenated
   streams); every eighth batch also as one TCP stream cut at random and through
   codecs where sysid 7 must sign (every sixteenth through a strict one).

Most of the time is the reference: on this input pymavlink's path costs about
15 µs a frame (damaged frames are rescanned), the fast path's codec about 11 (it
hands the damage to pymavlink), fuzzing and comparing about 4; some 40 s of CPU
for the million, one pass over the data per codec pair.

``SKYBERTH_FAST_CODEC_FUZZ_FRAMES`` changes the number of fuzzed frames.
"""

from __future__ import annotations

import dataclasses
import marshal
import operator
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from airspace.site_files import demo_site_path, load_site
from simulator.assignments import build_specs, site_entries
from simulator.fleet import Fleet
from simulator.scenarios import DegradedSignal
from telemetry.mavlink.codec import Decoded, LinkCodec
from telemetry.mavlink.fast_codec import HOT_MESSAGE_IDS
from telemetry.mavlink.shedding import routine_key
from telemetry.mavlink.tlog import TlogReader, TlogWriter
from tests.harness.autopilot_streams import (
    ardupilot_copter,
    bundle,
    px4_multicopter,
    random_frames,
)

FUZZ_FRAMES = int(os.environ.get("SKYBERTH_FAST_CODEC_FUZZ_FRAMES", "1000000"))
BATCH_FRAMES = 25_000
SIDE_EVERY = 8
NOW_S = 1_750_000_000.0
WALL_S = 1_800_000_000.0
KEY = bytes(range(32))
KEYED_SYSID = 7
SEED = 21_01

# -- comparing two results exactly ----------------------------------------------------

_GETTERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def _fields(event: Any) -> tuple[str, tuple[Any, ...]]:
    cls = type(event)
    get = _GETTERS.get(cls)
    if get is None:
        names = [f.name for f in dataclasses.fields(cls)]
        get = _GETTERS[cls] = operator.attrgetter(*names)
    return cls.__name__, get(event)


def snapshot(decoded: Decoded) -> bytes:
    """Every field of every event as bytes that differ whenever a value does.

    marshal's format 2 writes a float's eight bytes (NaN payloads, -0.0), tells an
    int from a float from a bool and bytes from text, and, unlike later formats,
    never depends on which objects are shared.
    """
    return marshal.dumps(
        (
            [_fields(m) for m in decoded.messages],
            [_fields(f) for f in decoded.frames],
            [_fields(r) for r in decoded.rejected],
        ),
        2,
    )


class Pair:
    """A codec with the fast path and its pymavlink-only twin, fed alike."""

    def __init__(
        self, link_id: str, keys: dict[int, bytes] | None = None, **options: Any
    ) -> None:
        self.fast = LinkCodec(link_id, keys, **options)
        self.reference = LinkCodec(link_id, keys, fast_path=False, **options)
        self.calls = 0
        self.singles = 0
        """Calls ``take_single`` took (the rest went through ``feed``)."""

    def feed(
        self, chunks: Sequence[bytes], times: Sequence[float] | None = None
    ) -> None:
        fast, reference = self.fast.feed, self.reference.feed
        # A datagram codec is tried first as the gateway tries it: one clean hot
        # frame in ``take_single``, everything else in ``feed``.
        single = self.fast.take_single if self.fast.framing == "datagram" else None
        for i, chunk in enumerate(chunks):
            now_s = NOW_S if times is None else times[i]
            b = reference(chunk, now_s)
            msg = None if single is None else single(chunk, now_s)
            if msg is None:
                a = fast(chunk, now_s)
            else:
                self.singles += 1
                a = Decoded([msg], b.frames, [])
                if len(b.frames) != 1 or b.frames[0].raw != chunk:
                    pytest.fail(f"take_single took {chunk.hex()}: {b!r}")
            if snapshot(a) != snapshot(b):
                pytest.fail(
                    f"{self.fast.link_id}: call {self.calls + i} differs\n"
                    f"input {chunk.hex()}\nfast      {a!r}\nreference {b!r}"
                )
        self.calls += len(chunks)
        self.check_state()

    def check_state(self) -> None:
        f, r = self.fast, self.reference
        assert f.counters.as_dict() == r.counters.as_dict()
        assert f.pending_bytes == r.pending_bytes
        assert f.counters.internal_errors == 0

    @property
    def fast_share(self) -> float:
        return self.fast.fast_path_frames / max(1, self.fast.counters.frames_ok)


def stream_chunks(rng: random.Random, stream: bytes, most: int = 1460) -> list[bytes]:
    """``stream`` cut at random into pieces of 1 to ``most`` bytes (a TCP segment's
    payload by default)."""
    chunks, at = [], 0
    while at < len(stream):
        step = rng.randint(1, most)
        chunks.append(stream[at : at + step])
        at += step
    return chunks


# -- a. the simulator's tlogs ---------------------------------------------------------


def simulator_tlog(path: Path, *, mavlink1: bool, seconds: float) -> None:
    """Record what the simulator's fleet sends over ``seconds`` into ``path``."""
    site = load_site(demo_site_path())
    keys = {} if mavlink1 else {3: KEY}  # MAVLink 1 cannot sign
    specs = build_specs(site, site_entries(site, 4), keys=keys)
    specs[0] = replace(
        specs[0], scenarios=(DegradedSignal(at_s=10.0, duration_s=20.0),)
    )
    fleet = Fleet(site, specs, seed=3, mavlink1=mavlink1, gcs_heartbeat=True)
    with TlogWriter(path) as tlog:
        while fleet.t_s < seconds:
            wall_s = WALL_S + fleet.t_s
            for frame in fleet.step(wall_s):
                tlog.write(wall_s, frame)


@pytest.mark.parametrize("mavlink1", [False, True], ids=["mavlink2", "mavlink1"])
def test_both_paths_agree_on_every_frame_of_a_simulator_tlog(
    tmp_path: Path, mavlink1: bool
) -> None:
    path = tmp_path / "fleet.tlog"
    simulator_tlog(path, mavlink1=mavlink1, seconds=90.0)
    records = list(TlogReader(path))
    datagrams = [r.frame for r in records]
    times = [r.t_s for r in records]
    udp = Pair("udp", framing="datagram")
    udp.feed(datagrams, times)
    keyed = Pair("udp-keyed", {3: KEY}, framing="datagram")
    keyed.feed(datagrams, times)
    tcp = Pair("tcp")
    tcp.feed(stream_chunks(random.Random(1), b"".join(datagrams)))
    assert udp.fast.counters.frames_ok == len(records) > 5_000
    assert udp.fast.counters.bad_crc == udp.fast.counters.garbage_bytes == 0
    if mavlink1:
        assert udp.fast_share == 0.0  # MAVLink 1 is pymavlink's
    else:
        assert udp.fast_share > 0.7  # all but the signing drone's frames
        assert udp.singles > 0.5 * len(records)
        assert keyed.fast.counters.signature_rejected == 0
        assert tcp.fast_share > 0.5


# -- b. ArduPilot and PX4 --------------------------------------------------------------


def test_both_paths_agree_on_ardupilot_and_px4_streams() -> None:
    rng = random.Random(SEED)
    frames = (
        ardupilot_copter(120.0, sysid=1, seed=1)
        + ardupilot_copter(30.0, sysid=2, seed=2, mavlink1=True)
        + ardupilot_copter(30.0, sysid=KEYED_SYSID, seed=3, signing_key=KEY)
        + px4_multicopter(120.0, sysid=4, seed=4)
        + random_frames(rng, sorted(HOT_MESSAGE_IDS), 12_000, sysid=9)
        + random_frames(rng, list(mavlink.mavlink_map), 6_000, sysid=10)
    )
    datagrams = bundle(frames, rng)
    udp = Pair("udp", framing="datagram")
    udp.feed(datagrams)
    keyed = Pair("udp-keyed", {KEYED_SYSID: KEY}, framing="datagram")
    keyed.feed(datagrams)
    tcp = Pair("tcp")
    tcp.feed(stream_chunks(rng, b"".join(datagrams)))
    assert udp.fast.counters.frames_ok == len(frames)
    assert udp.fast_share > 0.6
    assert udp.singles > 0.1 * len(datagrams)
    assert keyed.fast_share > 0.6
    assert tcp.fast_share > 0.5


# -- c. a million fuzzed and mutated frames --------------------------------------------


def frame_v2(
    msg_id: int,
    payload: bytes,
    *,
    seq: int = 0,
    sysid: int = 1,
    compid: int = 1,
    incompat: int = 0,
    compat: int = 0,
    crc_extra: int | None = None,
) -> bytes:
    """A MAVLink 2 frame with a valid CRC (pymavlink's x25crc and CRC extra)."""
    if crc_extra is None:
        crc_extra = mavlink.mavlink_map[msg_id].crc_extra
    header = bytes((0xFD, len(payload), incompat, compat, seq, sysid, compid))
    header += msg_id.to_bytes(3, "little")
    crc = mavlink.x25crc(header[1:] + payload)
    crc.accumulate(bytes((crc_extra,)))
    checksum: int = crc.crc
    return header + payload + checksum.to_bytes(2, "little")


def _parts(frame: bytes) -> tuple[int, bytes, int, int, int]:
    """msg id, payload, seq, sysid, compid of an unsigned MAVLink 2 frame."""
    msg_id = int.from_bytes(frame[7:10], "little")
    return msg_id, frame[10:-2], frame[4], frame[5], frame[6]


def _flip(rng: random.Random, frame: bytes) -> bytes:
    data = bytearray(frame)
    for bit in rng.sample(range(len(data) * 8), rng.randint(1, 3)):
        data[bit >> 3] ^= 1 << (bit & 7)
    return bytes(data)


def _cut(rng: random.Random, frame: bytes) -> bytes:
    return frame[: rng.randrange(1, len(frame))]


def _wrong_length(rng: random.Random, frame: bytes) -> bytes:
    return frame[:1] + bytes(((frame[1] + rng.randint(1, 255)) % 256,)) + frame[2:]


def _other_marker(rng: random.Random, frame: bytes) -> bytes:
    return bytes((0xFE if frame[0] == 0xFD else 0xFD,)) + frame[1:]


def _random_bytes(rng: random.Random, frame: bytes) -> bytes:
    data = rng.randbytes(rng.randint(1, 64))
    return bytes((rng.choice((0xFD, 0xFE)),)) + data if rng.random() < 0.3 else data


def _v2_unsigned(frame: bytes) -> bool:
    return frame[0] == 0xFD and not frame[2]


def _payload_cut(rng: random.Random, frame: bytes) -> bytes:
    if not _v2_unsigned(frame):
        return _flip(rng, frame)
    msg_id, payload, seq, sysid, compid = _parts(frame)
    cut = payload[: rng.randint(0, len(payload))]  # non-zero bytes too
    return frame_v2(msg_id, cut, seq=seq, sysid=sysid, compid=compid)


def _payload_padded(rng: random.Random, frame: bytes) -> bytes:
    if not _v2_unsigned(frame):
        return _cut(rng, frame)
    msg_id, payload, seq, sysid, compid = _parts(frame)
    room = 255 - len(payload)
    tail = (
        bytes(rng.randint(0, room))
        if rng.random() < 0.5
        else rng.randbytes(rng.randint(0, room))
    )
    return frame_v2(msg_id, payload + tail, seq=seq, sysid=sysid, compid=compid)


def _flags(rng: random.Random, frame: bytes) -> bytes:
    if not _v2_unsigned(frame):
        return _wrong_length(rng, frame)
    msg_id, payload, seq, sysid, _ = _parts(frame)
    if rng.random() < 0.5:
        return frame_v2(
            msg_id, payload, seq=seq, sysid=sysid, compat=rng.randint(1, 255)
        )
    return frame_v2(msg_id, payload, seq=seq, sysid=sysid, incompat=rng.randint(1, 255))


def _header(rng: random.Random, frame: bytes) -> bytes:
    if not _v2_unsigned(frame):
        return _other_marker(rng, frame)
    msg_id, payload, _, _, _ = _parts(frame)
    return frame_v2(
        msg_id,
        payload,
        seq=rng.randrange(256),
        sysid=rng.choice((1, 2, 9, KEYED_SYSID, rng.randrange(256))),
        compid=rng.choice((1, rng.randrange(256))),
    )


_KNOWN_IDS = sorted(mavlink.mavlink_map)
_HOT_IDS = sorted(HOT_MESSAGE_IDS)


def _random_payload(rng: random.Random, frame: bytes) -> bytes:
    roll = rng.random()
    if roll < 0.6:
        msg_id = rng.choice(_HOT_IDS)  # random bytes: NaNs, extremes
    elif roll < 0.9:
        msg_id = rng.choice(_KNOWN_IDS)
    else:  # an id the dialect lacks, checksummed with a made-up CRC extra
        msg_id = rng.choice((rng.randrange(1 << 24), 0xFFFFFF, 43_000))
        if msg_id in mavlink.mavlink_map:
            msg_id = 0xFFFFFF
        payload = rng.randbytes(rng.randint(0, 255))
        return frame_v2(msg_id, payload, crc_extra=rng.randrange(256))
    size = mavlink.mavlink_map[msg_id].unpacker.size
    payload = rng.randbytes(rng.randint(0, min(255, size + 8)))
    return frame_v2(msg_id, payload, seq=rng.randrange(256), sysid=rng.randrange(256))


Mutation = Callable[[random.Random, bytes], bytes]
MUTATIONS: tuple[tuple[float, Mutation], ...] = (
    (0.08, _flip),
    (0.05, _cut),
    (0.04, _wrong_length),
    (0.04, _other_marker),
    (0.04, _random_bytes),
    (0.07, _payload_cut),
    (0.06, _payload_padded),
    (0.04, _flags),
    (0.06, _header),
    (0.08, _random_payload),
)
"""(probability, mutation); the rest of the frames go whole."""


def fuzz_corpus() -> list[bytes]:
    """Whole frames to start from: the autopilots' streams and random messages."""
    rng = random.Random(SEED)
    return (
        ardupilot_copter(20.0, sysid=1, seed=5)
        + ardupilot_copter(10.0, sysid=2, seed=6, mavlink1=True)
        + ardupilot_copter(10.0, sysid=KEYED_SYSID, seed=7, signing_key=KEY)
        + px4_multicopter(20.0, sysid=3, seed=8)
        + random_frames(rng, _HOT_IDS, 3_000, sysid=9)
        + random_frames(rng, _KNOWN_IDS, 1_000, sysid=10)
    )


def fuzz_batch(rng: random.Random, corpus: Sequence[bytes], frames: int) -> list[bytes]:
    """About ``frames`` pieces, whole or mutated, 1-4 to a datagram."""
    thresholds: list[tuple[float, Mutation]] = []
    total = 0.0
    for p, mutation in MUTATIONS:
        total += p
        thresholds.append((total, mutation))
    datagrams: list[bytes] = []
    sent = 0
    choice, randint, random_ = rng.choice, rng.randint, rng.random
    while sent < frames:
        pieces = []
        for _ in range(randint(1, 4)):
            frame = choice(corpus)
            roll = random_()
            for limit, mutation in thresholds:
                if roll < limit:
                    frame = mutation(rng, frame)
                    break
            pieces.append(frame)
        sent += len(pieces)
        datagrams.append(b"".join(pieces))
    return datagrams


@pytest.mark.slow
@pytest.mark.timeout(max(300, FUZZ_FRAMES // 3_000))
def test_both_paths_agree_on_a_million_fuzzed_and_mutated_frames() -> None:
    rng = random.Random(SEED)
    corpus = fuzz_corpus()
    udp = Pair("udp", framing="datagram")
    keyed = Pair("udp-keyed", {KEYED_SYSID: KEY}, framing="datagram")
    strict = Pair(
        "udp-strict", {KEYED_SYSID: KEY}, framing="datagram", require_signing=True
    )
    tcp = Pair("tcp")
    sent = batches = 0
    while sent < FUZZ_FRAMES:
        count = min(BATCH_FRAMES, FUZZ_FRAMES - sent)
        datagrams = fuzz_batch(rng, corpus, count)
        sent += count
        udp.feed(datagrams)
        if batches % SIDE_EVERY == 0:
            keyed.feed(datagrams)
            most = rng.choice((8, 64, 1460, 4096))  # 8: frames split most often
            tcp.feed(stream_chunks(rng, b"".join(datagrams), most))
        if batches % (2 * SIDE_EVERY) == 1:
            strict.feed(datagrams)
        batches += 1
    c = udp.fast.counters
    # Every kind of input arrived (the test cannot pass on a narrow corpus).
    assert min(c.bad_crc, c.malformed, c.truncated, c.unknown_msg_id, c.seq_lost) > 0
    assert keyed.fast.counters.signature_rejected > 0
    assert strict.fast.counters.signature_rejected > 0
    assert udp.fast_share > 0.3
    assert udp.singles > 0.02 * sent  # most datagrams are damaged or bundled
    assert tcp.fast_share > 0.02  # after damage, the rest of a chunk is pymavlink's


def test_shed_datagrams_are_filed_as_the_reference_frames_them() -> None:
    """What an overloaded link sheds is filed where pymavlink takes the datagram
    as one clean unsigned frame that no key covers, and nowhere else, with the
    sequence and per-id counts the reference gives for those datagrams."""
    rng = random.Random(SEED + 1)
    # What a shedder sheds: datagrams that look like one unsigned MAVLink 2
    # frame of a hot id, damaged or not.
    datagrams = [
        d for d in fuzz_batch(rng, fuzz_corpus(), 60_000) if routine_key(d) is not None
    ]
    sender = ("10.0.0.1", 14550)
    items = [(d, sender, NOW_S + i / 1e3) for i, d in enumerate(datagrams)]
    for keys, strict in (({}, False), ({KEYED_SYSID: KEY}, False), ({}, True)):
        fast = LinkCodec("udp", keys, framing="datagram", require_signing=strict)
        filed = fast.shed_frames(items)
        if strict:
            assert filed == [], "a strict link files nothing unverified"
            continue
        reference = LinkCodec("udp", keys, framing="datagram", fast_path=False)
        expected = []
        for item in items:
            frames = reference.feed(item[0], item[2]).frames
            if (
                len(frames) == 1
                and frames[0].raw == item[0]
                and frames[0].mavlink2
                and not frames[0].signed
                and frames[0].sysid not in keys
            ):
                expected.append(item)
        assert filed == expected
        assert len(items) // 2 < len(filed) < len(items), "clean and damaged both"
        counted = LinkCodec("udp", keys, framing="datagram", fast_path=False)
        for data, _, t_s in expected:
            counted.feed(data, t_s)
        f, r = fast.counters, counted.counters
        assert (f.seq_lost, f.seq_lost_by_sysid, f.msgs_by_id) == (
            r.seq_lost,
            r.seq_lost_by_sysid,
            r.msgs_by_id,
        )
        assert f.frames_ok == 0, "filed, not decoded"
