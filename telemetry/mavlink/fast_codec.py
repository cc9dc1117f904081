"""The codec's fast path: clean MAVLink 2 frames decoded with precompiled structs.

Nearly all of a fleet's traffic is seven messages (``HOT_MESSAGE_IDS``). pymavlink
spends about 7 µs of CPU on each (``parse_char``'s bookkeeping, ``decode``, a
message object) before the codec converts it, about 10 µs in all; this path
frames, checks the CRC and unpacks a clean MAVLink 2 frame in about a microsecond,
and the codec's whole cost per message drops to about 4 µs, most of it building
the event objects (``bench/codec.py``). It gives the codec what its pymavlink path
gives for the same bytes, value for value
(``tests/unit/test_fast_codec_differential.py`` proves it on a million frames).

``FastPath.run`` takes, from a frame boundary, a run of frames that are each
complete MAVLink 2 without incompat flags (so unsigned), of an id it has a table
entry for, with a valid CRC, from a sysid the signature verifier need not see. Of
those, the hot ids are unpacked and converted by the codec's own conversions
(``codec.CONVERTERS``), which read a tuple view laid out like pymavlink's message;
ids that no conversion reads are framed, counted and kept raw for the ``.tlog``,
never unpacked. It stops at the first frame that is anything else, so pymavlink
still takes MAVLink 1, signed frames, the ids converted but not hot (STATUSTEXT,
FENCE_STATUS, the test-condition messages), unknown ids, bad CRCs and every kind
of damage: the codec hands it that one frame when ``clean_frame_end`` shows it
whole and valid, else the rest of its input, and resumes here after it.

Everything about the dialect comes from pymavlink's generated classes at import
(``crc_extra``, ``unpacker``, ``fieldnames``, ``orders``, ``lengths``,
``fieldtypes``), never from numbers copied by hand. MAVLink 2 drops trailing zero
bytes of a payload; they are put back before unpacking, and bytes beyond the
dialect's payload are ignored, as pymavlink does.

The CRC (X.25, CRC-16/MCRF4XX) is CRC-CCITT with every bit reflected, and
``binascii.crc_hqx`` computes the unreflected CRC-CCITT in C: bit-reversing the
bytes (one ``bytes.translate`` per datagram) and the stored checksum turns one into
the other. It costs about 0.3 µs a frame, a 256-entry table in Python about 2 µs;
pymavlink's ``fastcrc`` (Rust) takes 0.15 µs, but the standard library's keeps
the fast path's check independent of the reference it is tested against
(``bench/codec.py`` measures all three).
"""

from __future__ import annotations

import collections
import struct
from binascii import crc_hqx
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any, Final, Protocol, TypeVar

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.mavlink.messages import RawFrame, Telemetry
from telemetry.mavlink.signing import SignatureVerifier

HOT_MESSAGE_IDS: Final = frozenset(
    {
        mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT,
        mavlink.MAVLINK_MSG_ID_HEARTBEAT,
        mavlink.MAVLINK_MSG_ID_SYS_STATUS,
        mavlink.MAVLINK_MSG_ID_GPS_RAW_INT,
        mavlink.MAVLINK_MSG_ID_ATTITUDE,
        mavlink.MAVLINK_MSG_ID_VFR_HUD,
        mavlink.MAVLINK_MSG_ID_BATTERY_STATUS,
    }
)
"""The ids unpacked here (when the codec converts them); the bulk of the traffic."""

SEQ_GAP_MAX: Final = 128
"""A seq jump this large is a reorder, a duplicate or a sender restart, not loss."""

_V2: Final[int] = mavlink.PROTOCOL_MARKER_V2
_V1: Final[int] = mavlink.PROTOCOL_MARKER_V1
_V2_HEADER: Final[int] = mavlink.HEADER_LEN_V2
_V1_HEADER: Final[int] = mavlink.HEADER_LEN_V1
_V2_MIN_FRAME: Final = _V2_HEADER + 2
_V2_HEADER_STRUCT: Final = struct.Struct("<BBBBBBBHB")
"""Marker, length, incompat and compat flags, seq, sysid, compid, msg id (24 bits)."""
_SIGNED: Final[int] = mavlink.MAVLINK_IFLAG_SIGNED
_SIGNATURE_LEN: Final[int] = mavlink.MAVLINK_SIGNATURE_BLOCK_LEN
_REVERSED: Final = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))
"""Each byte with its bits in reverse order: ``bytes.translate`` table."""
_ZEROS: Final = bytes(256)

Convert = Callable[[Any, int, int, float], Telemetry | None]
"""The codec's conversion of one message: (message, sysid, compid, t_s)."""

Unpacker = Callable[..., tuple[Any, ...]]

_Spec = tuple[bytes, int, Unpacker | None, Unpacker | None, type | None, Convert | None]
"""Per id: the bit-reversed CRC extra byte, then for the ids unpacked here the
payload size, ``unpack_from``, ``unpack``, the view class and the conversion."""

_T = TypeVar("_T")


def fast_constructor(cls: type[_T]) -> Callable[..., _T]:
    """Return a positional constructor for the frozen slots dataclass ``cls``.

    A frozen dataclass's ``__init__`` assigns each field through
    ``object.__setattr__``; calling the slot descriptors directly builds the same
    object in half the time; building the events is most of the fast path's cost
    per frame. Only for classes without ``__post_init__``; takes every field, in
    declaration order.
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]  # a dataclass
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has __post_init__; use its constructor")
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    lines = [f"def make({', '.join(names)}):", "    obj = _new(_cls)"]
    for i, name in enumerate(names):
        namespace[f"_set{i}"] = cls.__dict__[name].__set__
        lines.append(f"    _set{i}(obj, {name})")
    lines.append("    return obj")
    exec("\n".join(lines), namespace)  # the same technique dataclasses itself uses
    make: Callable[..., _T] = namespace["make"]
    return make


_new_raw_frame = fast_constructor(RawFrame)


def message_view(msg_type: Any) -> type[tuple[Any, ...]]:
    """Return a tuple class over ``msg_type``'s unpacked wire values that reads
    like its pymavlink message (``view.lat``, ``view.voltages``).

    ``msg_type`` is a pymavlink generated message class. pymavlink unpacks a
    payload in wire order (fields sorted by type size, extensions last) and
    reorders it with ``orders``; an array field is ``lengths`` values in a row,
    which it hands over as a list. The view keeps the wire tuple and maps each
    name to its place: a scalar through the C item getter ``namedtuple`` makes,
    an array as a new list on each read. Character fields are refused
    (``ValueError``): pymavlink's message classes cut and decode their text in
    their own ways, which a view would have to copy.
    """
    lengths: list[int] = list(msg_type.lengths)
    slots = sum(lengths)
    size = msg_type.unpacker.size
    if len(msg_type.unpacker.unpack(bytes(size))) != slots:
        raise ValueError(f"{msg_type.msgname}: wire format and lengths disagree")
    wire = collections.namedtuple(  # type: ignore[misc]  # names made at run time
        f"{msg_type.msgname}_wire", [f"w{i}" for i in range(slots)]
    )
    namespace: dict[str, Any] = {"__slots__": ()}
    for name, order, ftype in zip(
        msg_type.fieldnames, msg_type.orders, msg_type.fieldtypes, strict=True
    ):
        if ftype == "char":
            raise ValueError(f"{msg_type.msgname}.{name}: character fields unsupported")
        start = sum(lengths[:order])
        length = lengths[order]
        if length == 1:
            namespace[name] = wire.__dict__[f"w{start}"]
        else:
            namespace[name] = _array_field(start, start + length)
    return type(f"{msg_type.msgname}_view", (tuple,), namespace)


def _array_field(start: int, stop: int) -> property:
    def read(view: tuple[Any, ...]) -> list[Any]:
        return list(view[start:stop])

    return property(read)


def _crc_extra_byte(msg_type: Any) -> bytes:
    return bytes((_REVERSED[msg_type.crc_extra],))


_CRC_EXTRA: Final[Mapping[int, bytes]] = {
    msg_id: _crc_extra_byte(msg_type)
    for msg_id, msg_type in mavlink.mavlink_map.items()
}
"""Every id of the dialect -> its CRC extra, bit-reversed, as one byte."""


def build_specs(converters: Mapping[int, Convert]) -> dict[int, _Spec]:
    """Return the fast path's table for a codec whose conversions are ``converters``.

    Hot ids with a conversion are unpacked; ids of the dialect without one are
    only framed and recorded; the others are absent (left to pymavlink).
    """
    specs: dict[int, _Spec] = {}
    for msg_id, msg_type in mavlink.mavlink_map.items():
        extra = _CRC_EXTRA[msg_id]
        convert = converters.get(msg_id)
        if convert is None:
            specs[msg_id] = (extra, 0, None, None, None, None)
        elif msg_id in HOT_MESSAGE_IDS:
            unpacker = msg_type.unpacker
            specs[msg_id] = (
                extra,
                unpacker.size,
                unpacker.unpack_from,
                unpacker.unpack,
                message_view(msg_type),
                convert,
            )
    return specs


def clean_frame_end(data: bytes, pos: int) -> int:
    """Return where the frame at ``data[pos]`` ends if pymavlink will accept it
    whole (complete, flags it knows, an id of the dialect, a valid CRC), else -1.

    MAVLink 1 or 2, signed or not: a frame the fast path stopped at that pymavlink
    can take on its own, so the fast path may resume right after it.
    """
    marker = data[pos]
    if marker == _V2:
        if len(data) - pos < _V2_MIN_FRAME:
            return -1
        flags = data[pos + 2]
        if flags & ~_SIGNED:
            return -1  # pymavlink refuses unknown incompat flags (malformed)
        crc_at = pos + _V2_HEADER + data[pos + 1]
        end = crc_at + 2 + (_SIGNATURE_LEN if flags else 0)
        msg_id = data[pos + 7] | data[pos + 8] << 8 | data[pos + 9] << 16
    elif marker == _V1:
        if len(data) - pos < _V1_HEADER + 2:
            return -1
        crc_at = pos + _V1_HEADER + data[pos + 1]
        end = crc_at + 2
        msg_id = data[pos + 5]
    else:
        return -1
    extra = _CRC_EXTRA.get(msg_id)
    if end > len(data) or extra is None:
        return -1
    rev = data[pos + 1 : crc_at + 2].translate(_REVERSED)
    if crc_hqx(rev[:-2] + extra, 0xFFFF) != rev[-2] << 8 | rev[-1]:
        return -1
    return end


def _one_unsigned_v2_frame(data: bytes) -> bool:
    """Whether ``data`` is laid out as exactly one MAVLink 2 frame without
    incompat flags (unsigned); its id and CRC are not checked here."""
    n = len(data)
    return (
        n >= _V2_MIN_FRAME
        and data[0] == _V2
        and not data[2]
        and n == _V2_MIN_FRAME + data[1]
    )


class SeqCounters(Protocol):
    """The codec's counters this path adds to (``codec.LinkCounters``)."""

    msgs_by_id: dict[int, int]
    seq_lost: int
    seq_lost_by_sysid: dict[int, int]


class SeqMemory(dict[int, int]):
    """The last ``seq`` of each (sysid, compid) stream of a link, shared by both
    decoding paths.

    ``paused``: gaps are remembered but not counted as loss, because the frames
    are not being taken in arrival order: a link shedding under overload files the
    datagrams it sheds before it decodes older ones it kept, and every such
    reorder would read as radio loss in the link figures and in incidents.
    """

    __slots__ = ("paused",)

    def __init__(self) -> None:
        super().__init__()
        self.paused = False


def note_seq(
    counters: SeqCounters, last_seq: SeqMemory, sysid: int, compid: int, seq: int
) -> None:
    """Count the frames missing before ``seq`` of (sysid, compid), both paths'
    one rule: a jump of ``SEQ_GAP_MAX`` or more is not loss."""
    stream = sysid << 8 | compid
    previous = last_seq.get(stream)
    last_seq[stream] = seq
    if previous is not None and not last_seq.paused:
        gap = (seq - previous - 1) & 0xFF
        if 0 < gap < SEQ_GAP_MAX:
            counters.seq_lost += gap
            lost = counters.seq_lost_by_sysid
            lost[sysid] = lost.get(sysid, 0) + gap


class FastPath:
    """One link's fast decoder; it shares the codec's counters, its memory of
    each stream's last ``seq`` and its signature verifier, so frames taken here
    and by pymavlink are counted as one sequence."""

    __slots__ = ("_counters", "_last_seq", "_specs", "_verifier", "frames_taken")

    def __init__(
        self,
        specs: Mapping[int, _Spec],
        counters: SeqCounters,
        last_seq: SeqMemory,
        verifier: SignatureVerifier,
    ) -> None:
        self._specs = specs
        self._counters = counters
        self._last_seq = last_seq
        self._verifier = verifier
        self.frames_taken = 0
        """Frames decoded here since the codec was made (the rest: pymavlink)."""

    def run(
        self,
        data: bytes,
        pos: int,
        now_s: float,
        messages: list[Telemetry],
        frames: list[RawFrame],
        decode: bool = True,
    ) -> int:
        """Decode the clean frames from ``data[pos]`` on (a frame boundary) into
        ``messages`` and ``frames``; return where the first other frame starts
        (``len(data)`` when none). ``now_s``: UTC epoch seconds of arrival.
        ``decode=False`` frames, checks and counts them without unpacking."""
        n = len(data)
        if n - pos < _V2_MIN_FRAME:
            return pos
        rev = data.translate(_REVERSED)
        header = _V2_HEADER_STRUCT.unpack_from
        specs = self._specs
        keys = self._verifier.keys
        strict = self._verifier.strict
        counters = self._counters
        by_id = counters.msgs_by_id
        last_seq = self._last_seq
        new_raw_frame = _new_raw_frame
        new_tuple = tuple.__new__
        first = len(frames)
        while n - pos >= _V2_MIN_FRAME:
            marker, mlen, flags, _, seq, sysid, compid, id_low, id_high = header(
                data, pos
            )
            end = pos + _V2_MIN_FRAME + mlen
            if marker != _V2 or flags or end > n:
                break  # MAVLink 1, garbage, signed, unknown flags or cut short
            msg_id = id_low | id_high << 16
            spec = specs.get(msg_id)
            if spec is None:
                break
            extra, size, unpack_from, unpack, view, convert = spec
            if crc_hqx(rev[pos + 1 : end - 2] + extra, 0xFFFF) != (
                rev[end - 2] << 8 | rev[end - 1]
            ):
                break
            if strict or (keys and sysid in keys):
                break  # the verifier's: pymavlink's path runs it
            note_seq(counters, last_seq, sysid, compid, seq)
            by_id[msg_id] = by_id.get(msg_id, 0) + 1
            frames.append(
                new_raw_frame(sysid, compid, msg_id, now_s, data[pos:end], True, False)
            )
            if convert is not None and decode:
                if mlen >= size:
                    values = unpack_from(data, pos + _V2_HEADER)  # type: ignore[misc]
                else:  # MAVLink 2 cut the payload's trailing zeros: put them back
                    values = unpack(  # type: ignore[misc]
                        data[pos + _V2_HEADER : end - 2] + _ZEROS[: size - mlen]
                    )
                typed = convert(new_tuple(view, values), sysid, compid, now_s)  # type: ignore[arg-type]
                if typed is not None:
                    messages.append(typed)
            pos = end
        self.frames_taken += len(frames) - first
        return pos

    def single(self, data: bytes, now_s: float) -> Telemetry | None:
        """Decode ``data`` if it is exactly one clean frame of a hot id whose
        conversion gives a message (what almost every datagram of an autopilot
        is): the message, counted as ``run`` counts it. Else None, and nothing
        was counted or remembered, so the caller can hand ``data`` to ``run``.

        The same checks and conversion as ``run``, without its per-call set-up
        and lists: for a single frame the set-up was most of its cost."""
        if not _one_unsigned_v2_frame(data):
            return None
        n = len(data)
        msg_id = data[7] | data[8] << 8 | data[9] << 16
        spec = self._specs.get(msg_id)
        if spec is None or spec[5] is None:
            return None
        extra, size, unpack_from, unpack, view, convert = spec
        sysid = data[5]
        verifier = self._verifier
        if verifier.strict or sysid in verifier.keys:
            return None
        rev = data.translate(_REVERSED)
        if crc_hqx(rev[1 : n - 2] + extra, 0xFFFF) != rev[n - 2] << 8 | rev[n - 1]:
            return None
        mlen = data[1]
        if mlen >= size:
            values = unpack_from(data, _V2_HEADER)  # type: ignore[misc]
        else:  # MAVLink 2 cut the payload's trailing zeros: put them back
            values = unpack(data[_V2_HEADER : n - 2] + _ZEROS[: size - mlen])  # type: ignore[misc]
        typed = convert(tuple.__new__(view, values), sysid, data[6], now_s)  # type: ignore[arg-type, misc]
        if typed is None:
            return None
        note_seq(self._counters, self._last_seq, sysid, data[6], data[4])
        by_id = self._counters.msgs_by_id
        by_id[msg_id] = by_id.get(msg_id, 0) + 1
        self.frames_taken += 1
        return typed

    def clean_singles(
        self, datagrams: Sequence[tuple[bytes, Any, float]]
    ) -> list[tuple[bytes, Any, float]]:
        """Of ``datagrams`` (bytes, sender, arrival time), each meant to hold one
        unsigned MAVLink 2 frame (what an overloaded link sheds), the ones that do,
        of a dialect id, with a valid CRC, from a sysid the verifier need not see:
        framed and counted as ``run(decode=False)`` would, in one pass over the
        batch instead of one ``run`` call, with its set-up, per datagram."""
        verifier = self._verifier
        if verifier.strict:
            return []
        keys = verifier.keys
        counters = self._counters
        by_id = counters.msgs_by_id
        last_seq = self._last_seq
        specs = self._specs
        reversed_bits = _REVERSED
        clean: list[tuple[bytes, Any, float]] = []
        for item in datagrams:
            data = item[0]
            if not _one_unsigned_v2_frame(data):
                continue
            n = len(data)
            sysid = data[5]
            if keys and sysid in keys:
                continue
            msg_id = data[7] | data[8] << 8 | data[9] << 16
            spec = specs.get(msg_id)
            if spec is None:
                continue
            extra = spec[0]
            rev = data.translate(reversed_bits)
            if crc_hqx(rev[1 : n - 2] + extra, 0xFFFF) != rev[n - 2] << 8 | rev[n - 1]:
                continue
            note_seq(counters, last_seq, sysid, data[6], data[4])
            by_id[msg_id] = by_id.get(msg_id, 0) + 1
            clean.append(item)
        self.frames_taken += len(clean)
        return clean
