"""Sans-I/O MAVLink codec: the bytes of one link and ``now`` in, typed telemetry out.

One ``LinkCodec`` per link (a UDP socket, a TCP connection, a serial port), built on
pymavlink's generated parser (``MAVLink``, ``robust_parsing = True``) of the
ardupilotmega dialect, which reads MAVLink 1 and 2 from any number of sysids and
compids in one stream. The codec runs ``parse_buffer``'s loop (``parse_char`` until
it returns None) itself, so it can step in between two frames. It never reads a
clock or a socket; the transport passes the bytes and the UTC epoch seconds at which
they arrived.

``feed`` returns a ``Decoded``: typed messages in SI units (``messages.py``), every
CRC-valid accepted frame as received (for the ``.tlog``), and the frames refused by
signing (``signing.py``). Bad input is data, never an exception: garbage, bad-CRC,
malformed, truncated and unknown-id frames are counted in ``counters`` and logged at
most once per kind per ``LOG_INTERVAL_S`` with the count since the last line.

Two choices go beyond pymavlink's parser:

* A frame that fails (bad CRC, malformed, or an id the dialect lacks, whose CRC
  cannot be checked) is rescanned from its second byte. pymavlink skips the whole
  length a false 0xFD/0xFE in noise claims, up to 280 bytes, and with it the real
  frames that follow; the C library behaves the same way. Rescanning costs nothing
  on clean input. An unknown-id frame is therefore counted and not recorded.
* ``framing="datagram"`` (UDP) treats every ``feed`` as a whole datagram: a frame
  still incomplete at its end can never be completed (senders do not split frames
  across datagrams, and one socket mixes many senders), so its bytes are dropped
  and the rest of the datagram is rescanned. ``"stream"`` (TCP, serial) keeps the
  incomplete tail for the next ``feed``.

Speed: clean MAVLink 2 frames (unsigned, CRC-valid) of the hot ids are decoded by
``fast_codec.py`` without pymavlink, and those of ids no conversion reads are only
framed and recorded; pymavlink takes every other frame, from the first one the fast
path is unsure of (``fast_path=False`` sends everything through pymavlink, the
reference the fast path is tested against). On the pymavlink path, the per-frame
work is a handful of dict operations and two object builds; conversions are
looked up by message id; runs of garbage are skipped with one regex search instead
of pymavlink's byte-by-byte walk. Nothing per frame is logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.log_limits import RateLimitedLog
from telemetry.mavlink.condition_messages import CONDITION_CONVERTERS
from telemetry.mavlink.fast_codec import (
    Convert,
    FastPath,
    SeqMemory,
    build_specs,
    clean_frame_end,
    fast_constructor,
    note_seq,
)
from telemetry.mavlink.messages import (
    Attitude,
    BatteryStatus,
    FenceStatus,
    GlobalPosition,
    GpsRaw,
    Heartbeat,
    RawFrame,
    SignatureRejected,
    StatusText,
    SysStatus,
    Telemetry,
    VfrHud,
)
from telemetry.mavlink.signing import KeySets, SignatureVerifier
from telemetry.mavlink.tlog import frame_length

logger = logging.getLogger(__name__)

LOG_INTERVAL_S: Final = 10.0
"""At most one log line per link and kind of bad input in this many seconds."""

Framing = Literal["stream", "datagram"]

_UINT16_MAX: Final = 65535
_UNKNOWN: Final = mavlink.MAVLINK_MSG_ID_UNKNOWN
_MIN_FRAME_LEN: Final = mavlink.HEADER_LEN_V1 + 2
_V2: Final = mavlink.PROTOCOL_MARKER_V2
_V1: Final = mavlink.PROTOCOL_MARKER_V1
_MARKER: Final = re.compile(b"[\xfd\xfe]")


@dataclass(frozen=True, slots=True)
class Decoded:
    """What one ``feed`` produced, each list in arrival order."""

    messages: list[Telemetry]
    """Typed messages in SI units (only the kinds ``messages.py`` defines)."""
    frames: list[RawFrame]
    """Every CRC-valid accepted frame, typed or not, bytes as received."""
    rejected: list[SignatureRejected]
    """CRC-valid frames refused by signing; not in ``messages`` or ``frames``."""


@dataclass(slots=True)
class LinkCounters:
    """Running totals of one link since its codec was made; mutated in place."""

    bytes_in: int = 0
    frames_ok: int = 0
    """CRC-valid frames accepted (typed or not); signature rejects excluded."""
    msgs_by_id: dict[int, int] = field(default_factory=dict)
    bad_crc: int = 0
    malformed: int = 0
    """Framed but unusable otherwise: unknown incompat flags, undecodable payload."""
    garbage_bytes: int = 0
    """Every byte not in an accepted or signature-rejected frame (and not pending)."""
    truncated: int = 0
    """Datagrams that ended inside a frame (``framing="datagram"`` only)."""
    unknown_msg_id: int = 0
    signature_rejected: int = 0
    seq_lost: int = 0
    """Frames missing by MAVLink ``seq`` per (sysid, compid): lost before us."""
    seq_lost_by_sysid: dict[int, int] = field(default_factory=dict)
    internal_errors: int = 0
    """Parser failures that should not happen; the parser was reset each time."""

    def seq_lost_of(self, sysid: int) -> int:
        """Return the frames from ``sysid`` lost on the way (all its compids)."""
        return self.seq_lost_by_sysid.get(sysid, 0)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready copy (dict keys as strings)."""
        return {
            "bytes_in": self.bytes_in,
            "frames_ok": self.frames_ok,
            "msgs_by_id": {str(k): v for k, v in sorted(self.msgs_by_id.items())},
            "bad_crc": self.bad_crc,
            "malformed": self.malformed,
            "garbage_bytes": self.garbage_bytes,
            "truncated": self.truncated,
            "unknown_msg_id": self.unknown_msg_id,
            "signature_rejected": self.signature_rejected,
            "seq_lost": self.seq_lost,
            "seq_lost_by_sysid": {
                str(k): v for k, v in sorted(self.seq_lost_by_sysid.items())
            },
            "internal_errors": self.internal_errors,
        }


_new_decoded = fast_constructor(Decoded)
_new_raw_frame = fast_constructor(RawFrame)
_new_heartbeat = fast_constructor(Heartbeat)
_new_global_position = fast_constructor(GlobalPosition)
_new_gps_raw = fast_constructor(GpsRaw)
_new_sys_status = fast_constructor(SysStatus)
_new_battery_status = fast_constructor(BatteryStatus)
_new_attitude = fast_constructor(Attitude)
_new_vfr_hud = fast_constructor(VfrHud)
_new_fence_status = fast_constructor(FenceStatus)
_new_status_text = fast_constructor(StatusText)


# -- conversions: pymavlink message (raw ints) -> typed value (SI units) ---------------
# Each takes the pymavlink message, sysid, compid and t_s. Division rather than
# multiplication by 1e-7 keeps round values exact (222606000 / 1e7 == 22.2606).


def _heartbeat(m: Any, sysid: int, compid: int, t_s: float) -> Heartbeat:
    return _new_heartbeat(
        sysid,
        compid,
        t_s,
        m.type,
        m.autopilot,
        m.base_mode,
        m.custom_mode,
        m.system_status,
    )


def _global_position(m: Any, sysid: int, compid: int, t_s: float) -> GlobalPosition:
    hdg = m.hdg
    return _new_global_position(
        sysid,
        compid,
        t_s,
        m.time_boot_ms,
        m.lat / 1e7,
        m.lon / 1e7,
        m.alt / 1e3,
        m.relative_alt / 1e3,
        m.vx / 100,
        m.vy / 100,
        m.vz / 100,
        None if hdg == _UINT16_MAX else hdg / 100,
    )


def _gps_raw(m: Any, sysid: int, compid: int, t_s: float) -> GpsRaw:
    eph, epv, vel, cog, sats = m.eph, m.epv, m.vel, m.cog, m.satellites_visible
    return _new_gps_raw(
        sysid,
        compid,
        t_s,
        m.fix_type,
        m.lat / 1e7,
        m.lon / 1e7,
        m.alt / 1e3,
        None if eph == _UINT16_MAX else eph / 100,
        None if epv == _UINT16_MAX else epv / 100,
        None if vel == _UINT16_MAX else vel / 100,
        None if cog == _UINT16_MAX else cog / 100,
        None if sats == 255 else sats,
    )


def _sys_status(m: Any, sysid: int, compid: int, t_s: float) -> SysStatus:
    mv, ca, pct = m.voltage_battery, m.current_battery, m.battery_remaining
    return _new_sys_status(
        sysid,
        compid,
        t_s,
        None if mv == _UINT16_MAX else mv / 1000,
        None if ca == -1 else ca / 100,
        None if pct == -1 else pct,
        m.drop_rate_comm / 100,
        m.errors_comm,
    )


def _battery_status(m: Any, sysid: int, compid: int, t_s: float) -> BatteryStatus:
    # Unused cells: UINT16_MAX in ``voltages``, 0 in the MAVLink 2 ``voltages_ext``.
    cells = [mv for mv in m.voltages if mv != _UINT16_MAX]
    cells += [mv for mv in m.voltages_ext if mv not in (0, _UINT16_MAX)]
    ca, mah, pct = m.current_battery, m.current_consumed, m.battery_remaining
    return _new_battery_status(
        sysid,
        compid,
        t_s,
        m.id,
        None if pct == -1 else pct,
        sum(cells) / 1000 if cells else None,
        None if ca == -1 else ca / 100,
        None if mah == -1 else mah,
    )


def _attitude(m: Any, sysid: int, compid: int, t_s: float) -> Attitude:
    return _new_attitude(
        sysid,
        compid,
        t_s,
        m.roll,
        m.pitch,
        m.yaw,
        m.rollspeed,
        m.pitchspeed,
        m.yawspeed,
    )


def _vfr_hud(m: Any, sysid: int, compid: int, t_s: float) -> VfrHud:
    return _new_vfr_hud(
        sysid,
        compid,
        t_s,
        m.airspeed,
        m.groundspeed,
        m.heading,
        m.throttle,
        m.alt,
        m.climb,
    )


def _fence_status(m: Any, sysid: int, compid: int, t_s: float) -> FenceStatus:
    return _new_fence_status(
        sysid,
        compid,
        t_s,
        m.breach_status,
        m.breach_count,
        m.breach_type,
        m.breach_time,
    )


def _status_text(m: Any, sysid: int, compid: int, t_s: float) -> StatusText:
    # pymavlink has cut the text at its NUL and decoded it (bad bytes -> U+FFFD).
    return _new_status_text(sysid, compid, t_s, m.severity, m.text)


CONVERTERS: Final[Mapping[int, Convert]] = {
    mavlink.MAVLINK_MSG_ID_HEARTBEAT: _heartbeat,
    mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: _global_position,
    mavlink.MAVLINK_MSG_ID_GPS_RAW_INT: _gps_raw,
    mavlink.MAVLINK_MSG_ID_SYS_STATUS: _sys_status,
    mavlink.MAVLINK_MSG_ID_BATTERY_STATUS: _battery_status,
    mavlink.MAVLINK_MSG_ID_ATTITUDE: _attitude,
    mavlink.MAVLINK_MSG_ID_VFR_HUD: _vfr_hud,
    mavlink.MAVLINK_MSG_ID_FENCE_STATUS: _fence_status,
    mavlink.MAVLINK_MSG_ID_STATUSTEXT: _status_text,
    **CONDITION_CONVERTERS,
}
"""Message id -> conversion; the ids the codec emits typed messages for (None:
the frame carried nothing usable; it is still recorded). Every other id is only
counted and recorded; on the fast path it is not even unpacked."""

_FAST_SPECS: Final = build_specs(CONVERTERS)


class LinkCodec:
    """Decodes the bytes of one link; see the module docstring.

    Not thread-safe: feed a codec from one thread (the event loop) only.
    """

    def __init__(
        self,
        link_id: str,
        signing_keys: KeySets | None = None,
        *,
        framing: Framing = "stream",
        require_signing: bool = False,
        fast_path: bool = True,
    ) -> None:
        if framing not in ("stream", "datagram"):
            raise ValueError(f"framing must be 'stream' or 'datagram', not {framing!r}")
        self.link_id = link_id
        self.framing: Framing = framing
        self.counters = LinkCounters()
        self._verifier = SignatureVerifier(signing_keys, strict=require_signing)
        self._log = RateLimitedLog(logger, LOG_INTERVAL_S)
        self._last_seq = SeqMemory()
        self._mav = self._new_parser()
        self._fast = (
            FastPath(_FAST_SPECS, self.counters, self._last_seq, self._verifier)
            if fast_path
            else None
        )

    @staticmethod
    def _new_parser() -> Any:
        mav = mavlink.MAVLink(None)
        mav.robust_parsing = True
        return mav

    def set_signing_keys(self, keys: KeySets) -> None:
        """Replace the signing keys (sysid -> one 32-byte key, or the keys of every
        site registering it); ``ValueError`` on a bad key."""
        self._verifier.set_keys(keys)

    def held_key(self, sysid: int) -> bytes | None:
        """The key ``sysid``'s frames verified with on this link (binding prefers
        the drone registered with it), or None."""
        return self._verifier.held_key(sysid)

    @property
    def require_signing(self) -> bool:
        """Whether every frame must be signed with a registered key."""
        return self._verifier.strict

    @require_signing.setter
    def require_signing(self, value: bool) -> None:
        self._verifier.strict = value

    @property
    def seq_loss_paused(self) -> bool:
        """Sequence gaps are not counted as loss (``SeqMemory.paused``): the link
        sheds, so frames are not taken in arrival order."""
        return self._last_seq.paused

    def pause_seq_loss(self) -> None:
        """Stop counting sequence gaps as loss while the link sheds."""
        self._last_seq.paused = True

    def resume_seq_loss(self) -> None:
        """Count sequence gaps again, from each stream's next frame: the ``seq``
        remembered while paused may be out of order."""
        self._last_seq.clear()
        self._last_seq.paused = False

    @property
    def fast_path_frames(self) -> int:
        """Frames decoded by the fast path so far (``frames_ok`` counts them too)."""
        return 0 if self._fast is None else self._fast.frames_taken

    @property
    def pending_bytes(self) -> int:
        """Bytes held for an incomplete frame (stream framing)."""
        return int(self._mav.buf_len())

    def shed_frames(
        self, datagrams: Sequence[tuple[bytes, Any, float]]
    ) -> list[tuple[bytes, Any, float]]:
        """Of datagrams shed under overload (``telemetry.mavlink.shedding``), each
        one unsigned MAVLink 2 frame, the clean ones: framed, CRC-checked and
        sequence-counted but not unpacked, nor counted as decoded, to be kept for
        the record. Anything the fast path would hand to pymavlink (signed, keyed,
        damaged) is left out."""
        fast = self._fast
        if fast is None or self.framing != "datagram":
            return []
        try:
            return fast.clean_singles(datagrams)
        except Exception:  # the record must never stop the link
            self._on_internal_error(datagrams[-1][2] if datagrams else 0.0)
            return []

    def take_single(self, data: bytes, now_s: float) -> Telemetry | None:
        """The message of a datagram that is one clean frame of a hot id, decoded
        and counted exactly as ``feed`` would (its one raw frame is ``data``
        itself, at ``now_s``). None for anything else, with nothing counted:
        then ``feed`` it. Datagram framing only; never raises."""
        fast = self._fast
        if fast is None or self.framing != "datagram" or type(data) is not bytes:
            return None
        try:
            msg = fast.single(data, now_s)
        except Exception:  # ``feed`` takes it through its own guard
            return None
        if msg is not None:
            counters = self.counters
            counters.bytes_in += len(data)
            counters.frames_ok += 1
        return msg

    def feed(self, data: bytes, now_s: float) -> Decoded:
        """Decode ``data`` received at ``now_s`` (UTC epoch seconds); never raises.

        With stream framing, a frame split across calls is decoded when its last
        byte arrives; with datagram framing, ``data`` is one whole datagram.
        """
        decoded: Decoded = _new_decoded([], [], [])
        counters = self.counters
        counters.bytes_in += len(data)
        fast = self._fast
        try:
            if fast is None or not data:
                self._feed_slow(data, now_s, decoded)
            else:
                if type(data) is not bytes:
                    data = bytes(data)  # raw frames are slices of it: never a view
                pos = self._finish_pending(data, now_s, decoded) if self._mav.buf else 0
                pos = fast.run(data, pos, now_s, decoded.messages, decoded.frames)
                if pos < len(data):
                    self._feed_rest(fast, data, pos, now_s, decoded)
        except Exception:  # a pymavlink failure must not stop the link
            self._on_internal_error(now_s)
        counters.frames_ok += len(decoded.frames)
        return decoded

    def _feed_rest(
        self, fast: FastPath, data: bytes, pos: int, now_s: float, out: Decoded
    ) -> None:
        """From where the fast path stopped: a frame pymavlink takes whole on its
        own, after which the fast path goes on, or else the rest for pymavlink."""
        n = len(data)
        while pos < n:
            end = clean_frame_end(data, pos)
            if end < 0:  # damage, unknown id, or a tail: pymavlink from here on
                self._feed_slow(data[pos:] if pos else data, now_s, out)
                return
            self._feed_slow(data[pos:end], now_s, out)
            pos = fast.run(data, end, now_s, out.messages, out.frames)

    def _finish_pending(self, data: bytes, now_s: float, out: Decoded) -> int:
        """Stream framing, a frame pending: give pymavlink only the bytes that
        complete it, so the fast path can go on from the next frame boundary.
        Return how much of ``data`` was fed."""
        mav = self._mav
        pos = 0
        for _ in range(2):  # a header cut short takes a second step
            held: int = len(mav.buf) - mav.buf_index
            length = frame_length(mav.buf, mav.buf_index)
            if length is None:
                if held >= 3:
                    break  # not a frame's start: cannot happen, but stay safe
                length = 3  # enough to read the frame's length
            need = length - held
            if need <= 0:
                break
            self._feed_slow(data[pos : pos + need], now_s, out)
            pos += need
            if pos >= len(data) or not mav.buf:
                return pos
        self._feed_slow(data[pos:], now_s, out)
        return len(data)

    def _feed_slow(self, data: bytes, now_s: float, out: Decoded) -> None:
        """pymavlink's path: frame, check and decode everything in ``data``."""
        mav = self._mav
        if data:
            mav.buf += data
            first = mav.buf[mav.buf_index]
            if first != _V2 and first != _V1:
                self._skip_garbage(now_s)
        self._run(mav.parse_char(b""), now_s, out)
        if mav.buf_index or mav.buf:  # something left (usually nothing)
            if self.framing == "datagram":
                self._drop_tail(now_s, out)
            else:
                self._compact()

    def _run(self, m: Any, now_s: float, out: Decoded) -> None:
        """Handle ``m`` and every further message the parser has ready."""
        mav = self._mav
        parse = mav.parse_char
        messages, frames = out.messages, out.frames
        counters = self.counters
        by_id = counters.msgs_by_id
        last_seq = self._last_seq
        verifier = self._verifier
        keys = verifier.keys
        strict = verifier.strict
        convert = CONVERTERS.get
        new_raw_frame = _new_raw_frame
        while m is not None:
            # pymavlink's public getters are method calls; the attributes they read
            # are the same and cost a third as much on the hot path.
            header = m._header
            msg_id = header.msgId
            if msg_id < 0:
                self._on_bad(m, msg_id, now_s)
                m = parse(b"")
                continue
            sysid = header.srcSystem
            compid = header.srcComponent
            raw = bytes(m._msgbuf)
            if strict or (keys and sysid in keys):
                reason = verifier.check(raw, sysid, compid, now_s)
                if reason is not None:
                    self._on_rejected(raw, sysid, compid, msg_id, reason, now_s, out)
                    m = parse(b"")
                    continue
            note_seq(counters, last_seq, sysid, compid, header.seq)
            by_id[msg_id] = by_id.get(msg_id, 0) + 1
            frames.append(
                new_raw_frame(
                    sysid,
                    compid,
                    msg_id,
                    now_s,
                    raw,
                    raw[0] == _V2,
                    bool(header.incompat_flags & 1),
                )
            )
            conversion = convert(msg_id)
            if conversion is not None:
                typed = conversion(m, sysid, compid, now_s)
                if typed is not None:
                    messages.append(typed)
            if not mav.buf:
                break  # parse_char empties its buffer once all is read: skip a call
            m = parse(b"")

    def _on_bad(self, m: Any, msg_id: int, now_s: float) -> None:
        """Count a pymavlink bad-data or unknown-id message; rescan framed ones."""
        counters = self.counters
        consumed = m._msgbuf
        if msg_id == _UNKNOWN:
            counters.unknown_msg_id += 1
            self._note("unknown_msg_id", now_s, m.get_type())
        else:
            reason = str(m.reason)
            if reason == "Bad prefix":
                counters.garbage_bytes += len(consumed)
                self._note("garbage", now_s, f"{len(consumed)} bytes")
                return
            if reason.startswith("invalid MAVLink CRC"):
                counters.bad_crc += 1
                self._note("bad_crc", now_s, reason)
            else:
                counters.malformed += 1
                self._note("malformed", now_s, reason)
        # The frame's marker byte is garbage; its other bytes go back to the parser.
        counters.garbage_bytes += 1
        self._rescan_after_first_byte(consumed, now_s)

    def _rescan_after_first_byte(self, consumed: bytearray, now_s: float) -> None:
        mav = self._mav
        if mav.buf_len() == 0:
            # parse_char dropped its emptied buffer; hand the bytes back in a new one.
            mav.buf = bytearray(consumed[1:])
            mav.buf_index = 0
        else:
            # The frame was the bytes just before buf_index: step back over them.
            mav.buf_index -= len(consumed) - 1
        mav.expected_length = _MIN_FRAME_LEN
        self._skip_garbage(now_s)

    def _skip_garbage(self, now_s: float) -> None:
        """Move the parser to the next byte that can start a frame, counting the rest.

        pymavlink walks garbage one byte at a time in Python; this searches in C,
        which keeps a flood of junk datagrams cheap.
        """
        mav = self._mav
        buf, start = mav.buf, mav.buf_index
        if start >= len(buf) or buf[start] == _V2 or buf[start] == _V1:
            return
        found = _MARKER.search(buf, start)
        end = len(buf) if found is None else found.start()
        self.counters.garbage_bytes += end - start
        self._note("garbage", now_s, f"{end - start} bytes")
        mav.buf_index = end
        mav.expected_length = _MIN_FRAME_LEN

    def _on_rejected(
        self,
        raw: bytes,
        sysid: int,
        compid: int,
        msg_id: int,
        reason: str,
        now_s: float,
        out: Decoded,
    ) -> None:
        self.counters.signature_rejected += 1
        out.rejected.append(
            SignatureRejected(sysid, compid, now_s, reason, msg_id, raw)
        )
        self._note(
            "signature_rejected", now_s, f"sysid {sysid} compid {compid}: {reason}"
        )

    def _drop_tail(self, now_s: float, out: Decoded) -> None:
        """End of a datagram: an incomplete frame's first byte is garbage; rescan."""
        mav = self._mav
        if mav.buf_len() == 0:
            return
        self.counters.truncated += 1
        self._note("truncated", now_s, f"{mav.buf_len()} bytes left in a datagram")
        while mav.buf_len() > 0:
            self.counters.garbage_bytes += 1
            mav.buf_index += 1
            mav.expected_length = _MIN_FRAME_LEN
            self._skip_garbage(now_s)
            self._run(mav.parse_char(b""), now_s, out)
        mav.buf = bytearray()
        mav.buf_index = 0
        mav.expected_length = _MIN_FRAME_LEN

    def _compact(self) -> None:
        # pymavlink frees its buffer only when it is empty; a stream whose chunks
        # keep ending inside frames would grow it without bound.
        mav = self._mav
        if mav.buf_index:
            del mav.buf[: mav.buf_index]
            mav.buf_index = 0

    def _on_internal_error(self, now_s: float) -> None:
        self.counters.internal_errors += 1
        pending = self._mav.buf_len()
        self.counters.garbage_bytes += max(pending, 0)
        self._mav = self._new_parser()
        self._note("internal_error", now_s, "parser reset", exc_info=True)

    def _note(
        self, kind: str, now_s: float, detail: str, *, exc_info: bool = False
    ) -> None:
        # The line states its own count (this one and those held back), so it goes
        # through ``due`` rather than the log's generic "more since" suffix.
        count = self._log.due(kind, now_s=now_s)
        if count:
            logger.warning(
                "link %s: %d %s since the last report (latest: %s)",
                self.link_id,
                count,
                kind,
                detail,
                exc_info=exc_info,
            )
