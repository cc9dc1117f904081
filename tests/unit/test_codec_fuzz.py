"""A million random and damaged MAVLink frames through ``LinkCodec``, in batches.

Frames come from pymavlink's encoder (MAVLink 1 and 2, many message kinds and
sysids, some signed), then are kept whole or damaged: bit flips, cuts, a wrong
length byte, a MAVLink 1 marker on a MAVLink 2 frame and back, or replaced by
random bytes. One to four pieces make a datagram. Every batch goes through a UDP
codec (datagram framing); every ``SIDE_EVERY``-th batch also through a keyed UDP
codec (sysid 7 must sign) and a TCP codec (the same bytes as one stream, cut at
random). After every batch:

* nothing raised and the parser never failed inside (``internal_errors == 0``);
* every byte is accounted for as the codec defines it: bytes in accepted and
  refused frames, garbage, and bytes held for a frame not yet complete, add up to
  ``bytes_in``; ``frames_ok`` is the frames returned and the sum of ``msgs_by_id``;
* every whole frame sent on UDP came out, except where a false frame the damage
  made (a signed frame's signature is outside the CRC) took its bytes.

``SKYBERTH_CODEC_FUZZ_FRAMES`` sets the number of frames (default 1,000,000: with
the side codecs 1.5 million frame decodes, about 25 s on a 2-core machine); the
figure (frames per second) is logged at INFO.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.mavlink.codec import LinkCodec
from telemetry.mavlink.signing import sign_outgoing

logger = logging.getLogger(__name__)

FRAMES = int(os.environ.get("SKYBERTH_CODEC_FUZZ_FRAMES", "1000000"))
BATCH_FRAMES = 25_000
SIDE_EVERY = 4
NOW_S = 1_750_000_000.0
KEY = bytes(range(32))
KEYED_SYSID = 7
SEED = 16_07


def _messages(mav: Any, i: int) -> list[Any]:
    return [
        mav.heartbeat_encode(2, 3, 209, 4, 4),
        mav.global_position_int_encode(
            i, 222606000 + i, 1141289000, 50000, 30000, 120, -230, -5, 9000
        ),
        mav.gps_raw_int_encode(i, 3, 222606000, 1141289000, 50000, 80, 120, 5, 90, 11),
        mav.sys_status_encode(0, 0, 0, 500, 12600, 1500, 80, 0, 0, 0, 0, 0, 0),
        mav.attitude_encode(i, 0.1, -0.2, 1.5, 0.0, 0.0, 0.0),
        mav.vfr_hud_encode(5.0, 5.2, 90, 40, 50.0, -0.3),
        mav.statustext_encode(4, b"PreArm: fence breached"),
        mav.param_value_encode(b"FENCE_ENABLE", 1.0, 9, 900, i),
        mav.command_long_encode(1, 1, 400, 0, 1, 0, 0, 0, 0, 0, 0),
    ]


def corpus() -> list[bytes]:
    """Whole frames from pymavlink: MAVLink 1 and 2, eight sysids, some signed."""
    frames = []
    for sysid in (1, 2, 3, 7, 42, 128, 200, 255):
        for v1 in (False, True):
            mav = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=1 + sysid % 3)
            if sysid == KEYED_SYSID and not v1:
                sign_outgoing(mav, KEY, NOW_S)
            for i in range(3):
                for msg in _messages(mav, i):
                    frames.append(msg.pack(mav, force_mavlink1=v1))
                    mav.seq = (mav.seq + 1) % 256
    return frames


def _flip(rng: random.Random, frame: bytes) -> bytes:
    data = bytearray(frame)
    # Distinct bits: flipping one bit twice would send the frame whole.
    for bit in rng.sample(range(len(data) * 8), rng.randrange(1, 4)):
        data[bit >> 3] ^= 1 << (bit & 7)
    return bytes(data)


def _cut(rng: random.Random, frame: bytes) -> bytes:
    return frame[: rng.randrange(1, len(frame))]


def _wrong_length(rng: random.Random, frame: bytes) -> bytes:
    length = (frame[1] + rng.randrange(1, 256)) % 256
    return frame[:1] + bytes((length,)) + frame[2:]


def _other_version(rng: random.Random, frame: bytes) -> bytes:
    marker = 0xFE if frame[0] == 0xFD else 0xFD
    return bytes((marker,)) + frame[1:]


def _random_bytes(rng: random.Random, frame: bytes) -> bytes:
    return rng.randbytes(rng.randrange(1, 64))


DAMAGE: list[Callable[[random.Random, bytes], bytes]] = [
    _flip,
    _cut,
    _wrong_length,
    _other_version,
    _random_bytes,
]


@dataclass
class Batch:
    """The datagrams of one batch and how many whole frames they carry."""

    datagrams: list[bytes]
    frames: int
    whole: int


def make_batch(rng: random.Random, good: list[bytes], frames: int) -> Batch:
    """About ``frames`` frames, half whole, half damaged, one to four per datagram."""
    datagrams = []
    whole = sent = 0
    choice, randrange, random_ = rng.choice, rng.randrange, rng.random
    while sent < frames:
        pieces = []
        for _ in range(randrange(1, 5)):
            frame = choice(good)
            if random_() < 0.5:
                pieces.append(frame)
                whole += 1
            else:
                pieces.append(choice(DAMAGE)(rng, frame))
            sent += 1
        datagrams.append(b"".join(pieces))
    return Batch(datagrams, sent, whole)


@dataclass
class Tally:
    """What a codec returned over the run."""

    accepted_bytes: int = 0
    rejected_bytes: int = 0
    frames: int = 0


def feed(codec: LinkCodec, chunks: list[bytes], tally: Tally) -> list[bytes]:
    """Feed ``chunks``; return the raw frames accepted, in order."""
    accepted: list[bytes] = []
    for chunk in chunks:
        decoded = codec.feed(chunk, NOW_S)
        accepted.extend(f.raw for f in decoded.frames)
        tally.rejected_bytes += sum(len(r.raw) for r in decoded.rejected)
    tally.accepted_bytes += sum(map(len, accepted))
    tally.frames += len(accepted)
    return accepted


def assert_accounted(codec: LinkCodec, tally: Tally, sent_bytes: int) -> None:
    c = codec.counters
    assert c.internal_errors == 0
    assert c.bytes_in == sent_bytes
    assert (
        tally.accepted_bytes + tally.rejected_bytes + c.garbage_bytes
        == c.bytes_in - codec.pending_bytes
    ), c.as_dict()
    assert c.frames_ok == tally.frames == sum(c.msgs_by_id.values())


def _stream_chunks(rng: random.Random, stream: bytes) -> list[bytes]:
    chunks, at = [], 0
    while at < len(stream):
        step = rng.randrange(1, 4096)
        chunks.append(stream[at : at + step])
        at += step
    return chunks


@pytest.mark.slow
@pytest.mark.timeout(max(120, FRAMES // 5_000))  # the larger runs take their time
def test_a_million_random_and_damaged_frames_are_all_accounted_for() -> None:
    rng = random.Random(SEED)
    good = corpus()
    good_set = set(good)
    udp = LinkCodec("udp", framing="datagram")
    keyed = LinkCodec("udp-keyed", {KEYED_SYSID: KEY}, framing="datagram")
    tcp = LinkCodec("tcp", framing="stream")
    tallies = {codec.link_id: Tally() for codec in (udp, keyed, tcp)}
    sent_frames = sent_bytes = side_bytes = datagrams = false_frames = 0
    decodes = 0
    started = time.perf_counter()
    for n in itertools.count():
        if sent_frames >= FRAMES:
            break
        batch = make_batch(rng, good, min(BATCH_FRAMES, FRAMES - sent_frames))
        sent_frames += batch.frames
        decodes += batch.frames
        datagrams += len(batch.datagrams)
        batch_bytes = sum(map(len, batch.datagrams))
        sent_bytes += batch_bytes
        accepted = feed(udp, batch.datagrams, tallies["udp"])
        originals = sum(1 for raw in accepted if raw in good_set)
        foreign = len(accepted) - originals
        # A whole frame is lost only to a false frame the damage made valid (a
        # flipped signature, outside the CRC) that took its bytes.
        assert batch.whole - 4 * foreign <= originals <= batch.whole, (
            batch.whole,
            originals,
            foreign,
        )
        false_frames += foreign
        assert_accounted(udp, tallies["udp"], sent_bytes)
        if n % SIDE_EVERY == 0:
            side_bytes += batch_bytes
            decodes += 2 * batch.frames
            feed(keyed, batch.datagrams, tallies["udp-keyed"])
            feed(tcp, _stream_chunks(rng, b"".join(batch.datagrams)), tallies["tcp"])
            assert_accounted(keyed, tallies["udp-keyed"], side_bytes)
            assert_accounted(tcp, tallies["tcp"], side_bytes)
    elapsed = time.perf_counter() - started
    assert keyed.counters.signature_rejected > 0
    assert udp.counters.bad_crc > 0
    assert udp.counters.truncated > 0
    logger.info(
        "codec fuzz: %d frames in %d datagrams (%d bytes), %d frame decodes over "
        "3 codecs in %.1f s: %.0f frames/s; %d false frames; udp counters %s",
        sent_frames,
        datagrams,
        sent_bytes,
        decodes,
        elapsed,
        decodes / elapsed,
        false_frames,
        {k: v for k, v in udp.counters.as_dict().items() if "by" not in k},
    )
