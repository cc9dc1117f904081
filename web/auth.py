"""Passwords (argon2) and bearer tokens (signed JWT with an expiry).

A token names its issuer and audience (``iss``/``aud``, checked on decode) and the
user's token version (``ver``): the server compares it with the user's current
version on every request, so bumping the version (a new password, a disabled
account) revokes every token issued before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from booking.model import User

TOKEN_ALGORITHM = "HS256"
TOKEN_ISSUER = "skyberth"
TOKEN_AUDIENCE = "skyberth-api"
VERIFIED_TOKENS_CACHED = 4096
"""How many distinct valid tokens keep their verified claims in memory."""
_hasher = PasswordHasher()


class TokenError(Exception):
    """The bearer token is missing, malformed, forged or expired.

    ``code`` says which (``token_invalid``, ``token_expired``, ``user_gone``,
    ``user_disabled``, ``token_revoked``): the 401's ``code``, whose words
    ``web.errors`` gives in the request's language.
    """

    def __init__(self, message: str, *, code: str = "token_invalid") -> None:
        self.code = code
        super().__init__(message)


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
    token_version: int = 0


def create_access_token(
    user_id: str,
    username: str,
    secret: str,
    now: datetime,
    ttl: timedelta,
    *,
    token_version: int = 0,
) -> str:
    """Return a signed token for the user that expires ``ttl`` after ``now`` (UTC).

    ``token_version`` is the user's current one; a later version revokes it.
    """
    payload = {
        "iss": TOKEN_ISSUER,
        "aud": TOKEN_AUDIENCE,
        "sub": user_id,
        "name": username,
        "ver": token_version,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=TOKEN_ALGORITHM)


@lru_cache(maxsize=VERIFIED_TOKENS_CACHED)
def _verified_claims(token: str, secret: str) -> tuple[str, str, int, int]:
    # Signature checks are pure and deterministic, so a client's repeated token is
    # verified once; failures raise and are never cached. Expiry is not checked here.
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            issuer=TOKEN_ISSUER,
            audience=TOKEN_AUDIENCE,
            options={
                "verify_exp": False,
                "require": ["iss", "aud", "sub", "exp", "ver"],
            },
        )
        expires_ts = int(payload["exp"])
        version = int(payload["ver"])
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise TokenError(f"invalid token: exp or ver is not a number: {exc}") from exc
    return str(payload["sub"]), str(payload.get("name", "")), expires_ts, version


def decode_access_token(token: str, secret: str, now: datetime) -> TokenClaims:
    """Return the claims of a valid token; raise ``TokenError`` saying why not."""
    user_id, username, expires_ts, version = _verified_claims(token, secret)
    # Expiry is checked against the caller's clock so tests and servers agree on now.
    try:
        expires_at = datetime.fromtimestamp(expires_ts, tz=now.tzinfo)
    except (OverflowError, OSError, ValueError) as exc:
        raise TokenError(f"invalid token: exp {expires_ts} is out of range") from exc
    if now >= expires_at:
        raise TokenError(
            f"token expired at {expires_at.isoformat()}", code="token_expired"
        )
    return TokenClaims(
        user_id=user_id,
        username=username,
        expires_at=expires_at,
        token_version=version,
    )


def check_token_holder(claims: TokenClaims, user: User | None) -> User:
    """Return ``user`` when the token's holder may still use it; else ``TokenError``.

    Refused: a user who no longer exists, a disabled user, and a token issued at
    an earlier token version (the password changed or the account was disabled
    since).
    """
    if user is None:
        raise TokenError(f"user {claims.user_id} no longer exists", code="user_gone")
    if user.disabled:
        raise TokenError(f"user {user.name} is disabled", code="user_disabled")
    if claims.token_version != user.token_version:
        raise TokenError(
            f"token revoked: user {user.name}'s password or status changed since "
            "it was issued; log in again",
            code="token_revoked",
        )
    return user
