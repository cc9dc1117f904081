"""Passwords (argon2) and bearer tokens (signed JWT with an expiry)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_ALGORITHM = "HS256"
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


def decode_access_token(token: str, secret: str, now: datetime) -> TokenClaims:
    """Return the claims of a valid token; raise ``TokenError`` saying why not."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            options={"verify_exp": False, "require": ["sub", "exp"]},
        )
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    # Expiry is checked against the caller's clock so tests and servers agree on now.
    expires_at = datetime.fromtimestamp(int(payload["exp"]), tz=now.tzinfo)
    if now >= expires_at:
        raise TokenError(f"token expired at {expires_at.isoformat()}")
    return TokenClaims(
        user_id=str(payload["sub"]),
        username=str(payload.get("name", "")),
        expires_at=expires_at,
    )
