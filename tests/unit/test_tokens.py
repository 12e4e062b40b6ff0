"""session_events/tokens.py: what a token says, and why one is refused."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from session_events.settings import SettingsError, load_settings
from session_events.tokens import (
    EXPIRED,
    FORGED,
    TokenRefused,
    TokenSigner,
    expiry,
    looks_like_token,
)

OLD, NEW, OTHER = "o" * 32, "n" * 32, "x" * 32
SESSION = uuid.UUID("6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b")
LATER = 2**33  # an expiry in the year 2242


def _soon() -> datetime:
    return expiry(60)


def test_a_token_grants_its_scope_on_its_session_until_its_expiry():
    expires_at = _soon()
    granted, token = TokenSigner([NEW]).sign(SESSION, "append", expires_at)
    assert TokenSigner([NEW]).verify(token) == granted
    assert (granted.access, granted.session_id, granted.expires_at) == (
        "append",
        SESSION,
        expires_at,
    )
    assert granted.limits() == f"This token may only read and append to session {SESSION}"


def test_the_first_secret_signs_and_every_one_verifies():
    _, by_old = TokenSigner([OLD]).sign(SESSION, "read", _soon())
    rotated = TokenSigner([NEW, OLD])
    assert rotated.verify(by_old).session_id == SESSION
    _, by_rotated = rotated.sign(SESSION, "read", _soon())
    assert TokenSigner([NEW]).verify(by_rotated).session_id == SESSION
    with pytest.raises(TokenRefused) as refused:
        TokenSigner([OLD]).verify(by_rotated)
    assert refused.value.detail == FORGED


def test_expired_is_told_apart_from_forged_and_only_once_the_signature_holds():
    past = datetime.now(UTC) - timedelta(seconds=5)
    _, token = TokenSigner([OLD]).sign(SESSION, "read", past)
    with pytest.raises(TokenRefused) as expired:
        TokenSigner([NEW, OLD]).verify(token)
    assert expired.value.detail == EXPIRED
    with pytest.raises(TokenRefused) as forged:
        TokenSigner([OTHER]).verify(token)
    assert forged.value.detail == FORGED


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-token",
        "a.b.c",
        jwt.encode({"sid": str(SESSION)}, NEW, algorithm="HS256"),  # claims missing
        # The claims below are all there, with an `exp` a datetime holds (2**40 seconds is past
        # year 9999, a refusal of its own that would hide the one each case is about).
        jwt.encode(
            {"jti": "x", "sid": str(SESSION), "scope": "read", "iat": 0, "exp": LATER},
            NEW,
            algorithm="HS256",
        ),  # a jti that is no uuid
        jwt.encode(
            {"jti": str(uuid.uuid4()), "sid": str(SESSION), "scope": "admin", "exp": LATER}
            | {"iat": 0},
            NEW,
            algorithm="HS256",
        ),
        jwt.encode(
            {"jti": str(uuid.uuid4()), "sid": 12, "scope": "read", "iat": 0, "exp": LATER},
            NEW,
            algorithm="HS256",
        ),  # a sid that is no string
        jwt.encode({"exp": 2**40}, NEW * 2, algorithm="HS512"),  # another algorithm
        jwt.encode({"exp": 2**40}, None, algorithm="none"),
    ],
)
def test_anything_else_is_forged(token):
    with pytest.raises(TokenRefused) as refused:
        TokenSigner([NEW]).verify(token)
    assert refused.value.detail == FORGED


def test_an_expiry_is_rounded_up_to_the_second():
    now = datetime(2026, 1, 13, 14, 30, 0, 250_000, tzinfo=UTC)
    assert expiry(10, now) == datetime(2026, 1, 13, 14, 30, 11, tzinfo=UTC)
    assert expiry(10, now.replace(microsecond=0)) == datetime(2026, 1, 13, 14, 30, 10, tzinfo=UTC)


def test_a_value_shaped_like_a_token_is_recognised():
    _, token = TokenSigner([NEW]).sign(SESSION, "read", _soon())
    assert looks_like_token(token)
    assert looks_like_token(f"Bearer {token}")
    assert not looks_like_token(str(SESSION))
    assert not looks_like_token("2026-01-13T14:30:00Z")
    assert not looks_like_token(None)


def test_secrets_keep_their_order_and_must_be_long_enough():
    settings = load_settings({"EVENTS_TOKEN_SECRETS": f" {NEW} ,{OLD},{NEW}"})
    assert settings.token_secrets == (NEW, OLD)
    with pytest.raises(SettingsError, match="shorter than 32 bytes \\(number 2\\)"):
        load_settings({"EVENTS_TOKEN_SECRETS": f"{NEW},short"})


def test_the_default_lifetime_may_not_exceed_the_longest():
    with pytest.raises(SettingsError, match="EVENTS_TOKEN_TTL_SECONDS \\(90\\) is longer"):
        load_settings({"EVENTS_TOKEN_TTL_SECONDS": "90", "EVENTS_TOKEN_MAX_TTL_SECONDS": "60"})


def test_a_verified_token_is_remembered_until_it_expires():
    signer = TokenSigner([NEW])
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    granted, token = signer.sign(SESSION, "read", expires_at)
    assert signer.verify(token) == granted
    assert signer.verify(token) == granted  # remembered
    head, body, signature = token.split(".")
    altered = f"{head}.{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    with pytest.raises(TokenRefused) as forged:
        signer.verify(altered)  # another string: not what was remembered
    assert forged.value.detail == FORGED
    time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.05)
    with pytest.raises(TokenRefused) as expired:
        signer.verify(token)
    assert expired.value.detail == EXPIRED


def test_a_token_minted_by_a_server_whose_clock_is_ahead_is_good_here():
    """`iat` only records the minting: a server a second behind the one that minted a token
    takes it at once (PyJWT refuses an `iat` in the future unless told not to check it)."""
    jti, now = uuid.uuid4(), int(datetime.now(UTC).timestamp())
    claims = {"jti": str(jti), "sid": str(SESSION), "scope": "read", "iat": now + 2}
    token = jwt.encode(claims | {"exp": now + 60}, NEW, algorithm="HS256")
    assert TokenSigner([NEW]).verify(token).token_id == jti
