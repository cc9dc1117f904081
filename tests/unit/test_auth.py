from datetime import UTC, datetime, timedelta

import jwt
import pytest

from web.auth import (
    TOKEN_AUDIENCE,
    TOKEN_ISSUER,
    TokenError,
    create_access_token,
    decode_access_token,
    hash_password,
    verify_password,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SECRET = "test-secret-with-enough-length-for-hs256"


def test_a_password_verifies_against_its_hash_and_nothing_else() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2")
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong horse")
    assert not verify_password("not-a-hash", "correct horse")


def test_a_token_carries_its_user_until_it_expires() -> None:
    token = create_access_token("u7", "ana", SECRET, NOW, timedelta(minutes=60))
    claims = decode_access_token(token, SECRET, NOW + timedelta(minutes=59))
    assert (claims.user_id, claims.username) == ("u7", "ana")
    assert claims.expires_at == NOW + timedelta(minutes=60)


def test_an_expired_token_is_refused_with_its_expiry_time() -> None:
    token = create_access_token("u7", "ana", SECRET, NOW, timedelta(minutes=60))
    with pytest.raises(TokenError, match="expired at 2026-11-23T11:00:00"):
        decode_access_token(token, SECRET, NOW + timedelta(minutes=60))


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        create_access_token(
            "u7", "ana", "another-secret-of-enough-length!!", NOW, timedelta(hours=1)
        ),
    ],
    ids=["malformed", "signed-with-another-key"],
)
def test_a_forged_or_malformed_token_is_refused(token: str) -> None:
    with pytest.raises(TokenError, match="invalid token"):
        decode_access_token(token, SECRET, NOW)


def test_a_token_carries_the_users_token_version() -> None:
    token = create_access_token(
        "u7", "ana", SECRET, NOW, timedelta(minutes=5), token_version=3
    )
    assert decode_access_token(token, SECRET, NOW).token_version == 3


@pytest.mark.parametrize("claim", ["iss", "aud"])
def test_a_token_for_another_issuer_or_audience_is_refused(claim: str) -> None:
    payload = {
        "iss": TOKEN_ISSUER,
        "aud": TOKEN_AUDIENCE,
        "sub": "u7",
        "ver": 0,
        "exp": int((NOW + timedelta(hours=1)).timestamp()),
        claim: "someone-else",
    }
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    with pytest.raises(TokenError, match="invalid token"):
        decode_access_token(token, SECRET, NOW)


def test_a_token_without_a_version_is_refused() -> None:
    payload = {
        "iss": TOKEN_ISSUER,
        "aud": TOKEN_AUDIENCE,
        "sub": "u7",
        "exp": int((NOW + timedelta(hours=1)).timestamp()),
    }
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    with pytest.raises(TokenError, match="ver"):
        decode_access_token(token, SECRET, NOW)
