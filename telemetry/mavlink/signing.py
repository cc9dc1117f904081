"""MAVLink 2 message signing: per-sysid verification on receive, signing for tests.

A signed MAVLink 2 frame has bit 0 of ``incompat_flags`` set and 13 bytes after the
CRC: link id (1 byte), timestamp (6 bytes little-endian, 10 µs units since
2015-01-01 00:00 UTC), signature (6 bytes). The signature is the first 6 bytes of
``sha256(secret_key + frame[:-6])``: every byte from the 0xFD marker through the CRC,
the link id and the timestamp (as pymavlink's ``MAVLink_message.sign_packet`` and
``MAVLink.check_signature`` compute it, and the MAVLink signing guide states).

``SignatureVerifier`` holds the 32-byte keys registered for each sysid: one per site
that registered a drone with it (keys are kept per (site, sysid), so an operator at
one site cannot replace another site's key by registering the same sysid). A frame
from such a sysid is accepted only when it is signed with one of them, its
timestamp lies at most
``MAX_SKEW_S`` in the future of ``now`` and is newer than the last accepted one of
its stream (sysid, compid, link id). A stream not seen before must not be older than
``MAX_SKEW_S`` either, so frames recorded earlier cannot be replayed after a gateway
restart (the guide's "new stream" rule). Sysids without a key pass untouched, unless
the verifier is ``strict`` (a link of a site with ``require_signing``): then every
frame must be signed with a registered key (``no_key`` for a sysid without one).

Once a frame of a sysid has verified with one key, that sysid is held to that key on
this link (``wrong_key`` for a frame signed with another site's key): a second
site's registration cannot slip frames into a vehicle already tied to the first.
The held key is tried first, so a good frame costs one hash; a bad one costs one per
registered key (one per site using the sysid). A sysid with a key must always sign,
even if another site registered it without one.
Replay state advances only after the signature checks out, so a forged frame with a
far-future timestamp cannot lock the real drone out.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any, Final

from pymavlink.dialects.v20 import ardupilotmega as mavlink

KEY_LEN: Final = 32
SIGNATURE_BLOCK_LEN: Final = 13
MAVLINK_IFLAG_SIGNED: Final = 0x01
MAVLINK_EPOCH_UNIX_S: Final = 1_420_070_400
"""2015-01-01 00:00:00 UTC, the origin of signing timestamps."""
TIMESTAMP_UNITS_PER_S: Final = 100_000
MAX_SKEW_S: Final = 60.0
"""How far a timestamp may lie ahead of ``now`` (or, for a new stream, behind it)."""

REJECT_REASONS: Final = (
    "unsigned",
    "bad_signature",
    "future_timestamp",
    "replayed",
    "stale_timestamp",
    "wrong_key",
    "no_key",
)

_MAX_SKEW_UNITS: Final = int(MAX_SKEW_S * TIMESTAMP_UNITS_PER_S)
_V2_HEADER_LEN: Final = 10


def signing_timestamp(unix_s: float) -> int:
    """Return the signing timestamp (10 µs units since 2015-01-01 UTC) of ``unix_s``."""
    return int((unix_s - MAVLINK_EPOCH_UNIX_S) * TIMESTAMP_UNITS_PER_S)


def signing_timestamp_to_unix_s(timestamp: int) -> float:
    """Return the UTC epoch seconds of a signing timestamp."""
    return timestamp / TIMESTAMP_UNITS_PER_S + MAVLINK_EPOCH_UNIX_S


def check_keys(keys: Mapping[int, bytes]) -> dict[int, bytes]:
    """Return a copy of ``keys`` after checking every sysid and key.

    Raises ``ValueError`` naming the sysid when a sysid is not 0-255 or a key is not
    32 bytes.
    """
    checked: dict[int, bytes] = {}
    for sysid, key in keys.items():
        if not isinstance(sysid, int) or not 0 <= sysid <= 255:
            raise ValueError(f"signing key for sysid {sysid!r}: sysid must be 0-255")
        if not isinstance(key, bytes | bytearray) or len(key) != KEY_LEN:
            size = len(key) if isinstance(key, bytes | bytearray) else type(key)
            raise ValueError(
                f"signing key for sysid {sysid}: must be {KEY_LEN} bytes, got {size}"
            )
        checked[sysid] = bytes(key)
    return checked


KeySets = Mapping[int, "bytes | Iterable[bytes]"]
"""sysid -> its registered key, or the keys of every site that registered it."""


def check_key_sets(keys: KeySets) -> dict[int, tuple[bytes, ...]]:
    """Return ``keys`` as sysid -> tuple of distinct keys, after checking each.

    A bare ``bytes`` value is one key. Raises ``ValueError`` as ``check_keys``.
    """
    checked: dict[int, tuple[bytes, ...]] = {}
    for sysid, value in keys.items():
        group = [value] if isinstance(value, bytes | bytearray) else list(value)
        unique = dict.fromkeys(check_keys({sysid: k})[sysid] for k in group)
        if unique:
            checked[sysid] = tuple(unique)
    return checked


class SignatureVerifier:
    """Checks the frames of sysids registered with a key; see the module docstring."""

    __slots__ = ("_held", "_last_timestamp", "keys", "strict")

    def __init__(self, keys: KeySets | None = None, *, strict: bool = False) -> None:
        self.keys: dict[int, tuple[bytes, ...]] = check_key_sets(keys or {})
        """sysid -> its keys (one per site); read by the codec's hot path, replaced
        whole."""
        self.strict = strict
        """Every frame must be signed with a registered key (``require_signing``)."""
        self._held: dict[int, bytes] = {}
        """sysid -> the key its frames verified with on this link."""
        self._last_timestamp: dict[tuple[int, int, int], int] = {}

    def set_keys(self, keys: KeySets) -> None:
        """Replace every key at once (``ValueError`` on a bad one, keeping the old).

        Replay state is kept: a re-registered drone cannot be fed old frames. A
        held key that is no longer registered is let go.
        """
        self.keys = check_key_sets(keys)
        for sysid, key in list(self._held.items()):
            if key not in self.keys.get(sysid, ()):
                del self._held[sysid]

    def held_key(self, sysid: int) -> bytes | None:
        """The key ``sysid``'s frames verified with on this link, if any."""
        return self._held.get(sysid)

    def check(
        self, frame: bytes | bytearray, sysid: int, compid: int, now_s: float
    ) -> str | None:
        """Return why ``frame`` must be rejected, or None when it may pass.

        ``frame`` is one whole CRC-valid frame as received; ``now_s`` is UTC epoch
        seconds. Frames of sysids without a key pass unless the verifier is
        ``strict``.
        """
        keys = self.keys.get(sysid)
        held = self._held.get(sysid)
        if keys is None:
            return "no_key" if self.strict else None
        if (
            frame[0] != mavlink.PROTOCOL_MARKER_V2
            or not frame[2] & MAVLINK_IFLAG_SIGNED
            or len(frame) < _V2_HEADER_LEN + 2 + SIGNATURE_BLOCK_LEN
        ):
            return "unsigned"
        signed_part = bytes(frame[:-6])
        signature = bytes(frame[-6:])
        key = None
        if held is not None:
            if hmac.compare_digest(
                hashlib.sha256(held + signed_part).digest()[:6], signature
            ):
                key = held
            elif any(
                hmac.compare_digest(
                    hashlib.sha256(k + signed_part).digest()[:6], signature
                )
                for k in keys
                if k != held
            ):
                return "wrong_key"
            else:
                return "bad_signature"
        else:
            for candidate in keys:
                expected = hashlib.sha256(candidate + signed_part).digest()[:6]
                if hmac.compare_digest(expected, signature):
                    key = candidate
                    break
            if key is None:
                return "bad_signature"
        timestamp = int.from_bytes(frame[-12:-6], "little")
        now = signing_timestamp(now_s)
        if timestamp > now + _MAX_SKEW_UNITS:
            return "future_timestamp"
        stream = (sysid, compid, frame[-SIGNATURE_BLOCK_LEN])
        last = self._last_timestamp.get(stream)
        if last is None:
            if timestamp < now - _MAX_SKEW_UNITS:
                return "stale_timestamp"
        elif timestamp <= last:
            return "replayed"
        self._last_timestamp[stream] = timestamp
        self._held[sysid] = key
        return None


def sign_frame(frame: bytes, key: bytes, timestamp: int, link_id: int = 0) -> bytes:
    """Return the unsigned MAVLink 2 ``frame`` signed with ``key``.

    Setting the signed flag changes the header, so the CRC is recomputed with the
    message's CRC_EXTRA from the ardupilotmega dialect. The result is byte for byte
    what pymavlink's encoder sends with the same key, timestamp and link id. Raises
    ``ValueError`` for a MAVLink 1 frame, a signed frame or an unknown message id.
    """
    check_keys({0: key})
    if len(frame) < _V2_HEADER_LEN + 2 or frame[0] != mavlink.PROTOCOL_MARKER_V2:
        raise ValueError("only MAVLink 2 frames can be signed")
    if frame[2] & MAVLINK_IFLAG_SIGNED:
        raise ValueError("frame is already signed")
    msg_id = int.from_bytes(frame[7:10], "little")
    msg_type = mavlink.mavlink_map.get(msg_id)
    if msg_type is None:
        raise ValueError(f"unknown message id {msg_id}: no CRC_EXTRA to re-sum with")
    header = bytearray(frame[: _V2_HEADER_LEN + frame[1]])
    header[2] |= MAVLINK_IFLAG_SIGNED
    crc = mavlink.x25crc(bytes(header[1:]))
    crc.accumulate(bytes([msg_type.crc_extra]))
    checksum: int = crc.crc
    body = bytes(header) + checksum.to_bytes(2, "little")
    body += bytes([link_id]) + timestamp.to_bytes(6, "little")
    return body + hashlib.sha256(key + body).digest()[:6]


def sign_outgoing(mav: Any, key: bytes, now_s: float, link_id: int = 0) -> None:
    """Make the pymavlink encoder ``mav`` sign every MAVLink 2 frame it packs.

    Its timestamps start at ``now_s`` and grow by one unit per frame, as pymavlink
    does.
    """
    check_keys({0: key})
    mav.signing.secret_key = bytes(key)
    mav.signing.link_id = link_id
    mav.signing.timestamp = signing_timestamp(now_s)
    mav.signing.sign_outgoing = True
