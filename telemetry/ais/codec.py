"""Sans-I/O AIS codec: the bytes of one link and ``now`` in, typed vessel messages out.

One ``AisLinkCodec`` per link (a UDP socket, a TCP connection). It splits the bytes
into NMEA 0183 lines, keeps the checksum-valid ``!AIVDM``/``!AIVDO`` sentences,
reassembles multi-sentence messages (a type 5 is two sentences) by their sequence id
and channel, whatever order the parts come in, and decodes each whole message with
pyais into the values of ``messages.py``. It never reads a clock or a socket; the
transport passes the bytes and the UTC epoch seconds at which they arrived.

Bad input is data, never an exception: lines that are not sentences, bad checksums,
undecodable payloads, and multi-part messages that never complete (a lost part; held
at most ``partial_timeout_s``) are counted per link in ``counters`` and logged at
most once per kind per ``LOG_INTERVAL_S``.

``framing="datagram"`` (UDP) treats every ``feed`` as whole lines (a sender never
splits a sentence across datagrams, and the last line may lack its newline);
``"stream"`` (TCP) keeps an incomplete last line for the next ``feed``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pyais.exceptions import AISBaseException
from pyais.messages import NMEAMessage

from telemetry.ais.messages import (
    AidToNavigation,
    AisMessage,
    AisSentence,
    VesselPosition,
    VesselStatic,
)
from telemetry.log_limits import RateLimitedLog

logger = logging.getLogger(__name__)

LOG_INTERVAL_S: Final = 10.0
"""At most one log line per link and kind of bad input in this many seconds."""
PARTIAL_TIMEOUT_S: Final = 5.0
"""A multi-part message's parts come back to back (same slot burst); older is lost."""
MAX_PENDING: Final = 64
"""Incomplete multi-part messages held per link; the oldest goes first beyond this."""
MAX_LINE_BYTES: Final = 1024
"""A stream line longer than this is garbage (NMEA's limit is 82 characters)."""

Framing = Literal["stream", "datagram"]

POSITION_TYPES: Final = frozenset({1, 2, 3, 18, 19})
STATIC_TYPES: Final = frozenset({5, 19, 24})
AID_TYPE: Final = 21
_SENTENCE_TYPES: Final = ("VDM", "VDO")


@dataclass(slots=True)
class AisCounters:
    """Running totals of one link since its codec was made; mutated in place."""

    bytes_in: int = 0
    sentences_ok: int = 0
    """Checksum-valid AIVDM/AIVDO sentences."""
    messages_by_type: dict[int, int] = field(default_factory=dict)
    """Whole messages decoded, by AIS message type (supported or not)."""
    bad_checksum: int = 0
    garbage_lines: int = 0
    """Non-empty lines that are not a well-formed AIVDM/AIVDO sentence."""
    decode_errors: int = 0
    """Whole messages whose payload pyais could not decode."""
    partial_dropped: int = 0
    """Multi-part messages given up incomplete (timed out, replaced or evicted)."""
    unsupported: int = 0
    """Decoded messages of a type we do not use (4 base station, 8 binary ...)."""

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready copy (dict keys as strings)."""
        return {
            "bytes_in": self.bytes_in,
            "sentences_ok": self.sentences_ok,
            "messages_by_type": {
                str(k): v for k, v in sorted(self.messages_by_type.items())
            },
            "bad_checksum": self.bad_checksum,
            "garbage_lines": self.garbage_lines,
            "decode_errors": self.decode_errors,
            "partial_dropped": self.partial_dropped,
            "unsupported": self.unsupported,
        }


@dataclass(frozen=True, slots=True)
class AisDecoded:
    """What one ``feed`` produced, each list in arrival order."""

    messages: list[AisMessage]
    sentences: list[AisSentence]
    """Every checksum-valid sentence, as received (for the raw recording), with
    the MMSI of its message: a multi-part message's sentences come together when
    it completes (or, without MMSI, when it is dropped as incomplete)."""


@dataclass(slots=True)
class _Pending:
    count: int
    first_t_s: float
    parts: dict[int, NMEAMessage]
    received: list[AisSentence]
    """The parts as received, held back until the message's MMSI is known."""


class AisLinkCodec:
    """Decodes one link's AIS bytes; see the module docstring.

    ``feed`` must be called with non-decreasing ``now_s`` for the partial timeout
    to mean anything; it is never an error if it is not.
    """

    def __init__(
        self,
        link_id: str,
        *,
        framing: Framing = "datagram",
        partial_timeout_s: float = PARTIAL_TIMEOUT_S,
    ) -> None:
        self.link_id = link_id
        self.counters = AisCounters()
        self._framing = framing
        self._partial_timeout_s = partial_timeout_s
        self._tail = b""
        self._pending: dict[tuple[object, ...], _Pending] = {}
        self._log = RateLimitedLog(logger, LOG_INTERVAL_S)

    def feed(self, data: bytes, now_s: float) -> AisDecoded:
        """Decode ``data`` received at ``now_s`` (UTC epoch seconds)."""
        self.counters.bytes_in += len(data)
        out = AisDecoded([], [])
        if self._framing == "stream":
            data = self._tail + data
            data, _, tail = data.rpartition(b"\n")
            if len(tail) > MAX_LINE_BYTES:
                self._bad("garbage_lines", "over-long line", now_s)
                tail = b""
            self._tail = tail
        self._expire(now_s, out)
        for line in data.split(b"\n"):
            self._line(line.strip(), now_s, out)
        return out

    def flush_stream(self) -> None:
        """Forget a stream's partial line and parts (after a TCP reconnect); the
        parts are not recorded either (their message can never complete)."""
        self._tail = b""
        self.counters.partial_dropped += len(self._pending)
        self._pending.clear()

    # -- internals --------------------------------------------------------------------

    def _line(self, line: bytes, now_s: float, out: AisDecoded) -> None:
        if not line:
            return
        start = line.find(b"!")  # skips an NMEA 4.0 tag block or a logger's prefix
        if start < 0:
            self._bad("garbage_lines", "line without a sentence", now_s)
            return
        raw = line[start:]
        try:
            sentence = NMEAMessage(raw)
        except (AISBaseException, ValueError, IndexError):
            self._bad("garbage_lines", "malformed sentence", now_s)
            return
        if sentence.type not in _SENTENCE_TYPES:
            self._bad("garbage_lines", "not an AIVDM/AIVDO sentence", now_s)
            return
        if not sentence.is_valid:
            self._bad("bad_checksum", "bad checksum", now_s)
            return
        self.counters.sentences_ok += 1
        text = raw.decode("ascii", "replace")
        if sentence.frag_cnt <= 1:
            mmsi = self._decode([sentence], now_s, out)
            out.sentences.append(AisSentence(now_s, text, mmsi))
            return
        self._fragment(sentence, AisSentence(now_s, text), now_s, out)

    def _fragment(
        self,
        sentence: NMEAMessage,
        received: AisSentence,
        now_s: float,
        out: AisDecoded,
    ) -> None:
        key = (str(sentence.talker), sentence.type, sentence.seq_id, sentence.channel)
        pending = self._pending.get(key)
        if pending is not None and (
            pending.count != sentence.frag_cnt or sentence.frag_num in pending.parts
        ):
            # The same sequence id reused: the earlier message lost a part.
            self._drop(key, now_s, out)
            pending = None
        if pending is None:
            if len(self._pending) >= MAX_PENDING:
                self._drop(next(iter(self._pending)), now_s, out)
            pending = self._pending[key] = _Pending(sentence.frag_cnt, now_s, {}, [])
        pending.parts[sentence.frag_num] = sentence
        pending.received.append(received)
        if len(pending.parts) == pending.count:
            del self._pending[key]
            parts = [pending.parts[n] for n in sorted(pending.parts)]
            mmsi = self._decode(parts, now_s, out)
            out.sentences.extend(
                AisSentence(r.t_s, r.text, mmsi) for r in pending.received
            )

    def _decode(
        self, parts: list[NMEAMessage], now_s: float, out: AisDecoded
    ) -> int | None:
        """Decode a whole message into ``out``; return its MMSI (None: undecodable)."""
        try:
            whole = (
                parts[0]
                if len(parts) == 1
                else NMEAMessage.assemble_from_iterable(parts)
            )
            decoded = whole.decode()
            fields: dict[str, Any] = decoded.asdict()
        except (AISBaseException, ValueError, IndexError, KeyError, TypeError):
            self._bad("decode_errors", "undecodable payload", now_s)
            return None
        msg_type = int(fields.get("msg_type", 0))
        by_type = self.counters.messages_by_type
        by_type[msg_type] = by_type.get(msg_type, 0) + 1
        own = parts[0].type == "VDO"
        converted = to_messages(fields, now_s, own_ship=own)
        if not converted:
            self.counters.unsupported += 1
        out.messages.extend(converted)
        mmsi = fields.get("mmsi")
        return mmsi if isinstance(mmsi, int) else None

    def _expire(self, now_s: float, out: AisDecoded) -> None:
        limit = now_s - self._partial_timeout_s
        for key in [k for k, p in self._pending.items() if p.first_t_s < limit]:
            self._drop(key, now_s, out)

    def _drop(self, key: tuple[object, ...], now_s: float, out: AisDecoded) -> None:
        # Its sentences are still recorded as received (no MMSI: never decoded).
        out.sentences.extend(self._pending.pop(key).received)
        self._bad("partial_dropped", "incomplete multi-part message", now_s)

    def _bad(self, counter: str, what: str, now_s: float) -> None:
        setattr(self.counters, counter, getattr(self.counters, counter) + 1)
        self._log(
            logging.WARNING,
            counter,
            "AIS link %s: %s (%d so far)",
            self.link_id,
            what,
            getattr(self.counters, counter),
            now_s=now_s,
        )


# -- conversions: pyais fields (AIS conventions) -> typed values ----------------------


def to_messages(
    fields: dict[str, Any], t_s: float, *, own_ship: bool = False
) -> list[AisMessage]:
    """Return the typed messages one decoded AIS message holds (19 holds two)."""
    msg_type = int(fields.get("msg_type", 0))
    mmsi = int(fields["mmsi"])
    out: list[AisMessage] = []
    if msg_type in POSITION_TYPES:
        status = fields.get("status")
        out.append(
            VesselPosition(
                mmsi=mmsi,
                t_s=t_s,
                msg_type=msg_type,
                lat_deg=_lat(fields.get("lat")),
                lon_deg=_lon(fields.get("lon")),
                sog_kn=_speed(fields.get("speed")),
                cog_deg=_course(fields.get("course")),
                heading_deg=_heading(fields.get("heading")),
                nav_status=None if status is None else int(status),
                own_ship=own_ship,
            )
        )
    if msg_type in STATIC_TYPES:
        ship_type = fields.get("ship_type")
        has_dims = "to_bow" in fields
        out.append(
            VesselStatic(
                mmsi=mmsi,
                t_s=t_s,
                msg_type=msg_type,
                name=_text(fields.get("shipname")),
                callsign=_text(fields.get("callsign")),
                ship_type=None if ship_type is None else int(ship_type) or None,
                length_m=_dim(fields, "to_bow", "to_stern") if has_dims else None,
                beam_m=_dim(fields, "to_port", "to_starboard") if has_dims else None,
            )
        )
    if msg_type == AID_TYPE:
        out.append(
            AidToNavigation(
                mmsi=mmsi,
                t_s=t_s,
                aid_type=int(fields.get("aid_type", 0)),
                name=_text(fields.get("full_name") or fields.get("name")) or "",
                lat_deg=_lat(fields.get("lat")),
                lon_deg=_lon(fields.get("lon")),
                virtual=bool(fields.get("virtual_aid")),
                off_position=bool(fields.get("off_position")),
            )
        )
    return out


def _lat(v: Any) -> float | None:
    return None if v is None or abs(float(v)) > 90 else float(v)


def _lon(v: Any) -> float | None:
    return None if v is None or abs(float(v)) > 180 else float(v)


def _speed(v: Any) -> float | None:
    # 102.3 kn is "not available"; 102.2 means "102.2 kn or more" and is kept.
    return None if v is None or float(v) >= 102.25 else float(v)


def _course(v: Any) -> float | None:
    return None if v is None or float(v) >= 360 else float(v)


def _heading(v: Any) -> int | None:
    return None if v is None or int(v) >= 360 else int(v)


def _text(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    text = v.replace("@", " ").strip()
    return text or None


def _dim(fields: dict[str, Any], a: str, b: str) -> float | None:
    total = int(fields.get(a) or 0) + int(fields.get(b) or 0)
    return float(total) or None
