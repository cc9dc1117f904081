"""Passwords (argon2) and bearer tokens (signed JWT with an expiry)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_ALGORITHM = "HS256"
VERIFIED_TOKENS_CACHED = 4096
"""How many distinct valid tokens keep their verified claims in memory."""
_hasher = PasswordHasher()


class TokenError(Exception):
    """The bearer token is missing, malformed, forged or expired."""


def hash_password(password: str) -> str:
    """Return an argon2 hash of ``password`` for storage."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Return True when ``password`` matches the stored ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says about its bearer."""

    user_id: str
    username: str
    expires_at: datetime


def create_access_token(
    user_id: str, username: str, secret: str, now: datetime, ttl: timedelta
) -> str:
    """Return a signed token for the user that expires ``ttl`` after ``now`` (UTC)."""
    payload = {
        "sub": user_id,
        "name": username,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=TOKEN_ALGORITHM)


@lru_cache(maxsize=VERIFIED_TOKENS_CACHED)
def _verified_claims(token: str, secret: str) -> tuple[str, str, int]:
    # Signature checks are pure and deterministic, so a client's repeated token is
    # verified once; failures raise and are never cached. Expiry is not checked here.
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            options={"verify_exp": False, "require": ["sub", "exp"]},
        )
        expires_ts = int(payload["exp"])
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise TokenError(f"invalid token: exp is not a time: {exc}") from exc
    return str(payload["sub"]), str(payload.get("name", "")), expires_ts


def decode_access_token(token: str, secret: str, now: datetime) -> TokenClaims:
    """Return the claims of a valid token; raise ``TokenError`` saying why not."""
    user_id, username, expires_ts = _verified_claims(token, secret)
    # Expiry is checked against the caller's clock so tests and servers agree on now.
    try:
        expires_at = datetime.fromtimestamp(expires_ts, tz=now.tzinfo)
    except (OverflowError, OSError, ValueError) as exc:
        raise TokenError(f"invalid token: exp {expires_ts} is out of range") from exc
    if now >= expires_at:
        raise TokenError(f"token expired at {expires_at.isoformat()}")
    return TokenClaims(user_id=user_id, username=username, expires_at=expires_at)
